/* The library: loading (a broken machine does not hide the others),
 * creating with a sparse disk, cleaning up after a failed creation, and
 * deleting. */
#include "gui-test.h"

#include "nook-library.h"

#include <sys/stat.h>
#include <time.h>
#include <utime.h>

static char *root;

static NookLibrary *
new_library (const char *name)
{
  g_autofree char *dir = g_build_filename (root, name, NULL);

  return nook_library_new (dir);
}

static void
test_empty (void)
{
  g_autoptr(NookLibrary) lib = new_library ("does-not-exist");
  g_autoptr(GError) error = NULL;

  g_assert_true (nook_library_load (lib, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (g_list_model_get_n_items (nook_library_get_model (lib)), ==, 0);
}

static void
add_ini (const char *libdir,
         const char *id,
         const char *text)
{
  g_autofree char *dir = g_build_filename (libdir, id, NULL);
  g_autofree char *ini = g_build_filename (dir, "machine.ini", NULL);

  g_mkdir_with_parents (dir, 0755);
  gui_test_write (ini, text, strlen (text));
}

/* A creation cut short leaves a ".new-" folder; once it is an hour old the
 * next load removes it, and nothing else. */
static void
test_abandoned_creation (void)
{
  g_autoptr(NookLibrary) lib = new_library ("abandoned");
  g_autoptr(GError) error = NULL;
  const char *dir = nook_library_get_dir (lib);
  g_autofree char *old = g_build_filename (dir, ".new-old123", NULL);
  g_autofree char *old_disk = g_build_filename (old, "disk0.img", NULL);
  g_autofree char *fresh = g_build_filename (dir, ".new-fresh1", NULL);
  g_autofree char *hidden = g_build_filename (dir, ".keep-old", NULL);
  g_autofree char *old_file = g_build_filename (dir, ".new-file", NULL);
  struct utimbuf two_hours_ago = { .actime = time (NULL) - 7200, .modtime = time (NULL) - 7200 };

  add_ini (dir, "alpha", "[machine]\nname=Alpha\n");
  g_mkdir_with_parents (old, 0755);
  gui_test_write (old_disk, "disk", 4);
  g_mkdir_with_parents (fresh, 0755);
  g_mkdir_with_parents (hidden, 0755);
  gui_test_write (old_file, "x", 1);
  g_assert_cmpint (utime (old, &two_hours_ago), ==, 0);
  g_assert_cmpint (utime (hidden, &two_hours_ago), ==, 0);
  g_assert_cmpint (utime (old_file, &two_hours_ago), ==, 0);

  g_assert_true (nook_library_load (lib, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (old, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (fresh, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (hidden, G_FILE_TEST_IS_DIR));
  g_assert_true (g_file_test (old_file, G_FILE_TEST_IS_REGULAR));
  g_assert_cmpuint (g_list_model_get_n_items (nook_library_get_model (lib)), ==, 1);
}

static void
test_load_with_broken (void)
{
  g_autoptr(NookLibrary) lib = new_library ("mixed");
  g_autoptr(GError) error = NULL;
  const char *dir = nook_library_get_dir (lib);
  g_autofree char *stray = g_build_filename (dir, ".new-abc123", NULL);
  g_autofree char *noini = g_build_filename (dir, "no-ini", NULL);
  GListModel *model;
  NookMachine *m;

  add_ini (dir, "beta", "[machine]\nname=Beta\nmemory=512\n");
  add_ini (dir, "alpha", "[machine]\nname=Alpha\nos-name=Debian 11\n");
  add_ini (dir, "gamma", "[machine]\nname=Gamma\nmemory=\n[disk0\n");
  g_mkdir_with_parents (stray, 0755);
  g_mkdir_with_parents (noini, 0755);

  g_assert_true (nook_library_load (lib, &error));
  g_assert_no_error (error);
  model = nook_library_get_model (lib);
  g_assert_cmpuint (g_list_model_get_n_items (model), ==, 3);
  m = nook_library_find (lib, "alpha");
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
  g_assert_cmpstr (nook_machine_get_os_name (m), ==, "Debian 11");
  m = nook_library_find (lib, "beta");
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
  g_assert_cmpuint (nook_machine_get_memory (m), ==, 512);
  m = nook_library_find (lib, "gamma");
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_BROKEN);
  g_assert_nonnull (strstr (nook_machine_get_message (m), "gamma/machine.ini:4:"));
  g_assert_null (nook_library_find (lib, "no-ini"));
  g_assert_null (nook_library_find (lib, ".new-abc123"));
  /* Sorted by name. */
  {
    g_autoptr(NookMachine) first = g_list_model_get_item (model, 0);

    g_assert_cmpstr (nook_machine_get_name (first), ==, "Alpha");
  }
}

static void
test_create (void)
{
  g_autoptr(NookLibrary) lib = new_library ("create");
  g_autoptr(NookMachine) draft = nook_machine_new_draft ("Debian 11 — Test!");
  g_autoptr(NookMachine) again = nook_machine_new_draft ("Debian 11 — Test!");
  g_autoptr(GError) error = NULL;
  g_autofree char *listing = NULL;
  g_autofree char *disk = NULL;
  g_autofree char *ini = NULL;
  g_autoptr(NookMachine) reloaded = NULL;
  guint64 size = G_GUINT64_CONSTANT (20) << 30;
  NookMachine *m;
  struct stat st;

  g_assert_true (nook_library_load (lib, &error));
  nook_machine_set_cdrom (draft, "/srv/debian.iso");
  m = nook_library_create_machine (lib, draft, size, &error);
  g_assert_no_error (error);
  g_assert_true (m == draft);
  g_assert_cmpstr (nook_machine_get_id (m), ==, "debian-11-test");
  g_assert_cmpuint (g_list_model_get_n_items (nook_library_get_model (lib)), ==, 1);

  listing = gui_test_list_dir (nook_library_get_dir (lib));
  g_assert_cmpstr (listing, ==, "debian-11-test");
  disk = g_build_filename (nook_machine_get_dir (m), "disk0.img", NULL);
  g_assert_cmpint (g_stat (disk, &st), ==, 0);
  g_assert_cmpuint ((guint64) st.st_size, ==, size);
  /* Sparse: almost nothing allocated. */
  g_assert_cmpuint ((guint64) st.st_blocks * 512, <, 1 << 20);

  ini = nook_machine_get_ini_path (m);
  reloaded = nook_machine_load (nook_machine_get_dir (m));
  g_assert_cmpstr (nook_machine_get_disk_path (reloaded), ==, "disk0.img");
  g_assert_cmpstr (nook_machine_get_cdrom (reloaded), ==, "/srv/debian.iso");
  g_assert_cmpstr (nook_machine_get_name (reloaded), ==, "Debian 11 — Test!");

  /* The same name again gets its own folder. */
  m = nook_library_create_machine (lib, again, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nook_machine_get_id (m), ==, "debian-11-test-2");
}

/* A disk that cannot be made (RLIMIT_FSIZE gives EFBIG, as a full disk
 * gives ENOSPC) leaves nothing behind. */
static void
test_create_fails_cleanly (void)
{
  g_autoptr(NookLibrary) lib = new_library ("full");
  g_autoptr(NookMachine) draft = nook_machine_new_draft ("Too Big");
  g_autoptr(GError) error = NULL;
  g_autofree char *listing = NULL;
  NookMachine *m;

  g_assert_true (nook_library_load (lib, &error));
  gui_test_limit_files (1 << 20);
  m = nook_library_create_machine (lib, draft, G_GUINT64_CONSTANT (1) << 30, &error);
  gui_test_unlimit_files ();
  g_assert_null (m);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_nonnull (strstr (error->message, "disk0.img"));
  g_assert_null (nook_machine_get_dir (draft));
  listing = gui_test_list_dir (nook_library_get_dir (lib));
  g_assert_cmpstr (listing, ==, "");
  g_assert_cmpuint (g_list_model_get_n_items (nook_library_get_model (lib)), ==, 0);

  /* A machine.ini that cannot be written: the same. */
  g_clear_error (&error);
  gui_test_limit_files (8);
  m = nook_library_create_machine (lib, draft, 0, &error);
  gui_test_unlimit_files ();
  g_assert_null (m);
  g_assert_nonnull (error);
  g_free (listing);
  listing = gui_test_list_dir (nook_library_get_dir (lib));
  g_assert_cmpstr (listing, ==, "");
}

static void
test_delete (void)
{
  g_autoptr(NookLibrary) lib = new_library ("delete");
  g_autoptr(NookMachine) draft = nook_machine_new_draft ("Doomed");
  g_autoptr(GError) error = NULL;
  g_autofree char *external = g_build_filename (root, "keep-me.img", NULL);
  g_autofree char *dir = NULL;
  NookMachine *m;

  gui_test_write (external, "data", 4);
  nook_machine_set_disk (draft, external, "raw", FALSE);
  m = nook_library_create_machine (lib, draft, 0, &error);
  g_assert_no_error (error);
  dir = g_strdup (nook_machine_get_dir (m));
  g_assert_true (nook_library_delete_machine (lib, m, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (dir, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (external, G_FILE_TEST_EXISTS));
  g_assert_cmpuint (g_list_model_get_n_items (nook_library_get_model (lib)), ==, 0);
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_setup_xdg ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/library/empty", test_empty);
  g_test_add_func ("/library/load-with-broken", test_load_with_broken);
  g_test_add_func ("/library/abandoned-creation", test_abandoned_creation);
  g_test_add_func ("/library/create", test_create);
  g_test_add_func ("/library/create-fails-cleanly", test_create_fails_cleanly);
  g_test_add_func ("/library/delete", test_delete);
  return gui_test_run (root);
}
