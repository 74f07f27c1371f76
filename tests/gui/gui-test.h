/* Helpers shared by the GTK app's tests: a private XDG tree, images made at
 * test time, and waiting on the main loop. */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* A fresh folder under /tmp with a short path (unix sockets live below it)
 * and XDG_DATA_HOME / XDG_RUNTIME_DIR inside it. Call before anything asks
 * GLib for those folders: GLib reads them once. */
static inline char *
gui_test_setup_xdg (void)
{
  g_autoptr(GError) error = NULL;
  char *root = g_dir_make_tmp ("nkg-XXXXXX", &error);
  g_autofree char *data = NULL;
  g_autofree char *run = NULL;

  g_assert_no_error (error);
  data = g_build_filename (root, "data", NULL);
  run = g_build_filename (root, "run", NULL);
  g_assert_cmpint (g_mkdir_with_parents (data, 0700), ==, 0);
  g_assert_cmpint (g_mkdir_with_parents (run, 0700), ==, 0);
  g_setenv ("XDG_DATA_HOME", data, TRUE);
  g_setenv ("XDG_RUNTIME_DIR", run, TRUE);
  return root;
}

static inline void
gui_test_rm_rf (const char *path)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", path);

  g_assert_cmpint (system (cmd), ==, 0);
}

static inline void
gui_test_write (const char *path,
                const void *data,
                gsize       len)
{
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, data, (gssize) len, &error);
  g_assert_no_error (error);
}

/* An ISO 9660 image with volume id @volid, made with xorriso. NULL (and the
 * test failed, naming the package) without xorriso. */
static inline char *
gui_test_make_iso (const char *dir,
                   const char *name,
                   const char *volid)
{
  g_autofree char *xorriso = g_find_program_in_path ("xorriso");
  g_autofree char *src = g_build_filename (dir, "iso-root", NULL);
  g_autofree char *readme = g_build_filename (src, "README.TXT", NULL);
  g_autofree char *out = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *err = NULL;
  int status = -1;
  g_autofree char *boot = g_build_filename (src, "boot.img", NULL);
  g_autofree guint8 *sector = g_malloc0 (2048);
  /* An El Torito boot entry: libosinfo only looks at bootable media. */
  const char *argv[] = { "xorriso", "-as", "mkisofs", "-quiet", "-V", volid, "-o", out,
                         "-b", "boot.img", "-no-emul-boot", "-boot-load-size", "4", src, NULL };

  if (!xorriso)
    {
      g_test_message ("xorriso is missing: apt-get install xorriso");
      g_test_fail ();
      return NULL;
    }
  g_mkdir_with_parents (src, 0755);
  gui_test_write (readme, "test image\n", 10);
  gui_test_write (boot, sector, 2048);
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH | G_SPAWN_STDOUT_TO_DEV_NULL,
                NULL, NULL, NULL, &err, &status, &error);
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("xorriso failed: %s", err);
  return g_steal_pointer (&out);
}

typedef gboolean (*GuiTestCondition) (gpointer data);

/* Runs the main loop until @cond holds or @seconds pass. */
static inline gboolean
gui_test_wait (GuiTestCondition cond,
               gpointer         data,
               double           seconds)
{
  gint64 end = g_get_monotonic_time () + (gint64) (seconds * G_USEC_PER_SEC);

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  return TRUE;
}

/* Makes writes beyond @bytes fail with EFBIG (RLIMIT_FSIZE) instead of
 * killing the process; gui_test_unlimit_files() undoes it. */
static inline void
gui_test_limit_files (rlim_t bytes)
{
  struct rlimit rl;

  signal (SIGXFSZ, SIG_IGN);
  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &rl), ==, 0);
  rl.rlim_cur = bytes;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
}

static inline void
gui_test_unlimit_files (void)
{
  struct rlimit rl;

  g_assert_cmpint (getrlimit (RLIMIT_FSIZE, &rl), ==, 0);
  rl.rlim_cur = rl.rlim_max;
  g_assert_cmpint (setrlimit (RLIMIT_FSIZE, &rl), ==, 0);
}

static inline int
gui_test_compare_names (gconstpointer a,
                        gconstpointer b)
{
  return strcmp (*(char * const *) a, *(char * const *) b);
}

/* Names in @dir, sorted and joined by spaces ("" when empty). */
static inline char *
gui_test_list_dir (const char *dir)
{
  g_autoptr(GDir) d = g_dir_open (dir, 0, NULL);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *e;

  while (d && (e = g_dir_read_name (d)))
    g_ptr_array_add (names, g_strdup (e));
  g_ptr_array_sort (names, gui_test_compare_names);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}
