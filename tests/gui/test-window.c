/* The library window: empty page, list and grid, and files dropped on it
 * (a real GdkFileList through its GtkDropTarget): refusals leave a message
 * and nothing on disk; an ISO opens the creation dialog with the OS that
 * libosinfo found, and Create makes the machine. */
#include "gui-test.h"

#include "nook-creation-dialog-private.h"
#include "nook-library.h"
#include "nook-window-private.h"

#include <sys/stat.h>

static char *root;

static gboolean
drop (NookWindow *window,
      const char *path)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  GValue value = G_VALUE_INIT;
  gboolean handled = FALSE;

  g_value_init (&value, GDK_TYPE_FILE_LIST);
  g_value_take_boxed (&value, gdk_file_list_new_from_array (&file, 1));
  g_signal_emit_by_name (nook_window_get_drop_target (window), "drop", &value, 10.0, 10.0, &handled);
  g_value_unset (&value);
  return handled;
}

static NookWindow *
new_window (NookLibrary *lib)
{
  NookWindow *window = nook_window_new (NULL, lib);

  gtk_window_present (GTK_WINDOW (window));
  return window;
}

static void
test_pages (void)
{
  g_autofree char *libdir = g_build_filename (root, "pages", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(NookMachine) draft = nook_machine_new_draft ("Shown");
  g_autoptr(GSettings) settings = g_settings_new ("org.nook.Nook");
  g_autoptr(GError) error = NULL;
  NookWindow *window;

  g_assert_true (nook_library_load (lib, &error));
  window = new_window (lib);
  g_assert_cmpstr (nook_window_get_visible_page (window), ==, "empty");
  nook_library_create_machine (lib, draft, 0, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nook_window_get_visible_page (window), ==, "list");
  g_settings_set_string (settings, "library-view", "grid");
  g_assert_cmpstr (nook_window_get_visible_page (window), ==, "grid");
  g_settings_set_string (settings, "library-view", "list");
  g_assert_cmpstr (nook_window_get_visible_page (window), ==, "list");

  /* The last machine gone: the empty page again. */
  g_assert_true (nook_library_delete_machine (lib, draft, &error));
  g_assert_cmpstr (nook_window_get_visible_page (window), ==, "empty");
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
expect_refused (NookWindow  *window,
                const char  *path,
                const char  *words,
                NookLibrary *lib)
{
  g_autofree char *before = gui_test_list_dir (nook_library_get_dir (lib));
  g_autofree char *after = NULL;

  g_assert_true (drop (window, path));
  g_test_message ("%s", nook_window_get_last_message (window));
  g_assert_nonnull (strstr (nook_window_get_last_message (window), words));
  g_assert_null (nook_window_get_last_dialog (window));
  after = gui_test_list_dir (nook_library_get_dir (lib));
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpuint (g_list_model_get_n_items (nook_library_get_model (lib)), ==, 0);
}

static void
test_bad_drops (void)
{
  g_autofree char *libdir = g_build_filename (root, "bad-drops", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autofree char *folder = g_build_filename (root, "folder", NULL);
  g_autofree char *text = g_build_filename (root, "readme.txt", NULL);
  g_autofree char *missing = g_build_filename (root, "gone.iso", NULL);
  NookWindow *window;

  g_mkdir_with_parents (libdir, 0755);
  g_mkdir_with_parents (folder, 0755);
  gui_test_write (text, "just words\n", 11);
  window = new_window (lib);
  expect_refused (window, folder, "is a folder", lib);
  expect_refused (window, text, "is not an installer image", lib);
  expect_refused (window, missing, "Cannot read", lib);
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
identified (gpointer data)
{
  return !nook_creation_dialog_is_identifying (data);
}

static void
test_drop_iso (void)
{
  g_autofree char *libdir = g_build_filename (root, "iso", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autofree char *iso = gui_test_make_iso (root, "debian-11.7.0-amd64-netinst.iso", "Debian 11.7.0 amd64 n");
  g_autoptr(GError) error = NULL;
  g_autofree char *disk = NULL;
  NookCreationDialog *dialog;
  NookWindow *window;
  NookMachine *m;
  struct stat st;

  if (!iso)
    return;
  window = new_window (lib);
  g_assert_true (drop (window, iso));
  dialog = NOOK_CREATION_DIALOG (nook_window_get_last_dialog (window));
  g_assert_nonnull (dialog);
  g_assert_cmpstr (nook_creation_dialog_get_name (dialog), ==, "debian-11.7.0-amd64-netinst");
  g_assert_true (gui_test_wait (identified, dialog, 20));
  g_assert_cmpstr (nook_creation_dialog_get_os_text (dialog), ==, "Debian 11");
  g_assert_false (nook_creation_dialog_get_note_shown (dialog));
  g_assert_cmpuint (nook_creation_dialog_get_memory (dialog), ==, 1024);

  m = nook_creation_dialog_create (dialog, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (nook_machine_get_os_name (m), ==, "Debian 11");
  g_assert_cmpstr (nook_machine_get_cdrom (m), ==, iso);
  g_assert_cmpuint (nook_machine_get_memory (m), ==, 1024);
  disk = nook_machine_resolve_path (m, nook_machine_get_disk_path (m));
  g_assert_cmpint (g_stat (disk, &st), ==, 0);
  g_assert_cmpuint ((guint64) st.st_size, ==, G_GUINT64_CONSTANT (20) << 30);
  g_assert_cmpstr (nook_window_get_visible_page (window), ==, "list");
  gtk_window_destroy (GTK_WINDOW (dialog));
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_drop_unknown_iso (void)
{
  g_autofree char *libdir = g_build_filename (root, "unknown", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autofree char *iso = gui_test_make_iso (root, "homebrew.iso", "HOMEBREW OS 0.1");
  NookCreationDialog *dialog;
  NookWindow *window;

  if (!iso)
    return;
  window = new_window (lib);
  g_assert_true (drop (window, iso));
  dialog = NOOK_CREATION_DIALOG (nook_window_get_last_dialog (window));
  g_assert_nonnull (dialog);
  g_assert_true (gui_test_wait (identified, dialog, 20));
  g_assert_cmpstr (nook_creation_dialog_get_os_text (dialog), ==, "Unknown");
  g_assert_true (nook_creation_dialog_get_note_shown (dialog));
  g_assert_cmpuint (nook_creation_dialog_get_memory (dialog), ==, 2048);
  /* Closing the dialog creates nothing. */
  gtk_window_destroy (GTK_WINDOW (dialog));
  g_assert_false (g_file_test (libdir, G_FILE_TEST_EXISTS));
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add_func ("/window/pages", test_pages);
  g_test_add_func ("/window/bad-drops", test_bad_drops);
  g_test_add_func ("/window/drop-iso", test_drop_iso);
  g_test_add_func ("/window/drop-unknown-iso", test_drop_unknown_iso);
  return gui_test_run (root);
}
