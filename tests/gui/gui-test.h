/* Helpers shared by the GTK app's tests: a private XDG tree, images made at
 * test time, waiting on the main loop, and machines on the test guests. */
#pragma once

#include <adwaita.h>
#include <errno.h>
#include <fcntl.h>
#include <glib.h>
#include <glib/gstdio.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "nook-library.h"

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

/* gui_test_setup_xdg(), then GTK and libadwaita for a test program;
 * returns the folder. */
static inline char *
gui_test_init_gtk (int    *argc,
                   char ***argv)
{
  char *root = gui_test_setup_xdg ();

  gtk_test_init (argc, argv, NULL);
  adw_init ();
  return root;
}

/* Runs the tests, then removes @root and frees it. */
static inline int
gui_test_run (char *root)
{
  int r = g_test_run ();

  gui_test_rm_rf (root);
  g_free (root);
  return r;
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
  /* Inside an L1 (tests/l1) everything is slower: l1run.py sets
   * NOOK_TEST_TIME_SCALE there, and every limit grows by it. */
  const char *scale = g_getenv ("NOOK_TEST_TIME_SCALE");
  gint64 end = g_get_monotonic_time ()
               + (gint64) (seconds * (scale ? g_ascii_strtod (scale, NULL) : 1) * G_USEC_PER_SEC);

  while (!cond (data))
    {
      if (g_get_monotonic_time () > end)
        return FALSE;
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
  return TRUE;
}

typedef struct {
  const char *path;
  const char *text;
} GuiTestFileWait;

static inline gboolean
gui_test_file_has (gpointer data)
{
  GuiTestFileWait *w = data;
  g_autofree char *text = NULL;

  return g_file_get_contents (w->path, &text, NULL, NULL) && strstr (text, w->text);
}

/* Runs the main loop until the file at @path holds @text or @seconds pass. */
static inline gboolean
gui_test_wait_file (const char *path,
                    const char *text,
                    double      seconds)
{
  GuiTestFileWait w = { path, text };

  return gui_test_wait (gui_test_file_has, &w, seconds);
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

/* Whether /dev/kvm opens; errno says why when it does not. */
static inline gboolean
gui_test_have_kvm (void)
{
  int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

/* For a test that runs machines: TRUE, with the test skipped and the
 * reason in the TAP output, when /dev/kvm does not open. Return at once
 * then; the other tests of the program still run. */
static inline gboolean
gui_test_skip_without_kvm (void)
{
  g_autofree char *why = NULL;

  if (gui_test_have_kvm ())
    return FALSE;
  why = g_strdup_printf ("/dev/kvm cannot be opened: %s", g_strerror (errno));
  g_test_skip (why);
  return TRUE;
}

/* The test guest @name (tests/guest/), NULL when it is not built. */
static inline char *
gui_test_find_guest (const char *name)
{
  const char *guest_dir = g_getenv ("NOOK_TEST_GUEST_DIR");
  g_autofree char *image = guest_dir ? g_build_filename (guest_dir, name, NULL) : NULL;

  if (!image || !g_file_test (image, G_FILE_TEST_EXISTS))
    return NULL;
  return g_steal_pointer (&image);
}

/* As gui_test_find_guest(), for tests that cannot do without it. */
static inline char *
gui_test_need_guest (const char *name)
{
  char *image = gui_test_find_guest (name);

  if (!image)
    g_error ("tests/guest/%s is not built: configure with -Dguest_tests=true", name);
  return image;
}

/* A library in a folder of its own under @root, another each call. */
static inline NookLibrary *
gui_test_new_library (const char *root)
{
  static guint n;
  g_autofree char *name = g_strdup_printf ("lib-%u", n++);
  g_autofree char *dir = g_build_filename (root, name, NULL);

  return nook_library_new (dir);
}

/* A machine of 64 MiB and one CPU in @lib, booting @kernel when not NULL
 * and its firmware otherwise. */
static inline NookMachine *
gui_test_create_machine (NookLibrary *lib,
                         const char  *name,
                         const char  *kernel)
{
  g_autoptr(NookMachine) draft = nook_machine_new_draft (name);
  g_autoptr(GError) error = NULL;
  NookMachine *m;

  nook_machine_set_memory (draft, 64);
  nook_machine_set_cpus (draft, 1);
  if (kernel)
    nook_machine_set_kernel (draft, kernel, NULL, NULL);
  m = nook_library_create_machine (lib, draft, 0, &error);
  g_assert_no_error (error);
  return m;
}

typedef struct {
  NookMachine *machine;
  NookMachineState state;
} GuiTestStateWait;

static inline gboolean
gui_test_state_is (gpointer data)
{
  GuiTestStateWait *w = data;

  return nook_machine_get_state (w->machine) == w->state;
}

/* Runs the main loop until @m is in @state; fails the test after @seconds. */
static inline void
gui_test_wait_state (NookMachine      *m,
                     NookMachineState  state,
                     double            seconds)
{
  GuiTestStateWait w = { m, state };

  if (!gui_test_wait (gui_test_state_is, &w, seconds))
    g_error ("machine %s: waited for state %s, it is %s (%s)", nook_machine_get_id (m),
             nook_machine_state_to_string (state), nook_machine_state_to_string (nook_machine_get_state (m)),
             nook_machine_get_message (m) ? nook_machine_get_message (m) : "no message");
}

/* The outcome of one of NookMachine's asynchronous calls. */
typedef struct {
  gboolean done;
  gboolean ok;
  char *error;
} GuiTestReply;

static inline gboolean
gui_test_reply_done (gpointer data)
{
  return ((GuiTestReply *) data)->done;
}

static inline void
gui_test_on_executed (GObject      *source,
                      GAsyncResult *result,
                      gpointer      user_data)
{
  GuiTestReply *r = user_data;
  g_autoptr(GError) error = NULL;

  r->ok = nook_machine_execute_finish (NOOK_MACHINE (source), result, &error);
  r->error = error ? g_strdup (error->message) : NULL;
  r->done = TRUE;
}

/* Sends @command to @m's nook-vmm; fails the test unless it succeeds. */
static inline void
gui_test_execute_ok (NookMachine *m,
                     const char  *command)
{
  GuiTestReply r = { 0 };

  nook_machine_execute (m, command, NULL, gui_test_on_executed, &r);
  g_assert_true (gui_test_wait (gui_test_reply_done, &r, 10));
  if (!r.ok)
    g_error ("%s: %s", command, r.error);
}

/* query-status straight on the control socket, as nookctl asks it: the
 * reply's "return" object. */
static inline JsonNode *
gui_test_query_status (const char *control)
{
  g_autoptr(GSocketClient) client = g_socket_client_new ();
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (control);
  g_autoptr(GSocketConnection) connection = NULL;
  g_autoptr(GDataInputStream) input = NULL;
  g_autoptr(GError) error = NULL;
  static const char request[] = "{\"execute\":\"query-status\",\"id\":7}\n";
  char *line;

  connection = g_socket_client_connect (client, G_SOCKET_CONNECTABLE (address), NULL, &error);
  g_assert_no_error (error);
  input = g_data_input_stream_new (g_io_stream_get_input_stream (G_IO_STREAM (connection)));
  g_output_stream_write_all (g_io_stream_get_output_stream (G_IO_STREAM (connection)), request,
                             strlen (request), NULL, NULL, &error);
  g_assert_no_error (error);
  while ((line = g_data_input_stream_read_line_utf8 (input, NULL, NULL, &error)))
    {
      g_autofree char *owned = line;
      g_autoptr(JsonNode) node = json_from_string (line, NULL);
      JsonObject *obj = node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;

      if (obj && json_object_has_member (obj, "return") &&
          json_object_get_int_member_with_default (obj, "id", 0) == 7)
        return json_node_copy (json_object_get_member (obj, "return"));
    }
  g_error ("no answer to query-status on %s: %s", control, error ? error->message : "end of stream");
}
