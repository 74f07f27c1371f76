/* Machines on the real nook-vmm: start, pause, resume, reset, power off,
 * force off; a nook-vmm killed with SIGKILL leaves the machine crashed with
 * its log and the window open; a nook-vmm that refuses to start leaves it
 * "could not start" with nook-vmm's reason. */
#include "gui-test.h"

#include "nook-library.h"
#include "nook-machine-process.h"
#include "nook-window-private.h"

#include <signal.h>

static char *root;

static void
test_lifecycle (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  g_autofree char *serial = NULL;
  g_autofree char *log = NULL;
  NookWindow *window;
  NookMachine *m, *other;
  pid_t pid;

  if (gui_test_skip_without_kvm ())
    return;
  g_assert_true (nook_library_load (lib, &error));
  m = gui_test_create_machine (lib, "Firmware Only", NULL);
  other = gui_test_create_machine (lib, "Bystander", NULL);
  window = nook_window_new (NULL, lib);
  gtk_window_present (GTK_WINDOW (window));
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &window);

  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STARTING);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);

  /* Running: a second start and a delete are refused. */
  g_assert_false (nook_machine_start (m, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_clear_error (&error);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.delete-machine", "s", nook_machine_get_id (m));
  g_assert_nonnull (strstr (nook_window_get_last_message (window), "power it off"));
  g_assert_true (g_file_test (nook_machine_get_dir (m), G_FILE_TEST_IS_DIR));

  gui_test_execute_ok (m, "pause");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_PAUSED, 10);
  gui_test_execute_ok (m, "resume");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);
  gui_test_execute_ok (m, "reset");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);
  /* SeaBIOS alone ignores the power button, but nook-vmm takes it. */
  gui_test_execute_ok (m, "powerdown");
  gui_test_execute_ok (m, "quit");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
  g_assert_null (nook_machine_get_message (m));
  serial = g_build_filename (nook_machine_get_dir (m), "serial.log", NULL);
  g_assert_true (g_file_test (serial, G_FILE_TEST_EXISTS));

  /* SIGKILL: crashed, with the log, and the rest carries on. */
  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  g_assert_true (nook_machine_start (other, &error));
  gui_test_wait_state (other, NOOK_MACHINE_STATE_RUNNING, 30);
  {
    g_autofree char *pids = NULL;
    g_autofree char *cmd = g_strdup_printf ("pgrep -f -- '--name %s '", nook_machine_get_id (m));

    g_assert_true (g_spawn_command_line_sync (cmd, &pids, NULL, NULL, NULL));
    pid = (pid_t) atoi (pids);
    g_assert_cmpint (pid, >, 0);
  }
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_CRASHED, 10);
  g_test_message ("crash message: %s", nook_machine_get_message (m));
  g_assert_nonnull (strstr (nook_machine_get_message (m), "signal 9"));
  g_assert_nonnull (window);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  g_assert_cmpint (nook_machine_get_state (other), ==, NOOK_MACHINE_STATE_RUNNING);
  log = g_build_filename (nook_machine_get_dir (m), "nook-vmm.log", NULL);
  g_assert_true (g_file_test (log, G_FILE_TEST_EXISTS));

  /* A crashed machine starts again. */
  g_assert_true (nook_machine_start (m, &error));
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  gui_test_execute_ok (m, "quit");
  gui_test_execute_ok (other, "quit");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
  gui_test_wait_state (other, NOOK_MACHINE_STATE_STOPPED, 15);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* nook-vmm exits with status 2 at once, before it opens /dev/kvm: the
 * machine could not start, and its message is nook-vmm's reason. */
static void
test_refused (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib-refused", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  NookMachine *m;

  m = gui_test_create_machine (lib, "Too Much Memory", NULL);
  /* 1 TiB: more than this host has. */
  nook_machine_set_memory (m, 1024 * 1024);
  g_assert_true (nook_machine_start (m, &error));
  gui_test_wait_state (m, NOOK_MACHINE_STATE_FAILED_TO_START, 15);
  g_test_message ("%s", nook_machine_get_message (m));
  g_assert_true (g_str_has_prefix (nook_machine_get_message (m), "--memory 1048576M is more than this host has"));
}

static void
test_missing_vmm (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib-missing", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("NOOK_VMM"));
  NookMachine *m = gui_test_create_machine (lib, "No VMM", NULL);

  g_setenv ("NOOK_VMM", "/nonexistent/nook-vmm", TRUE);
  g_assert_false (nook_machine_start (m, &error));
  g_setenv ("NOOK_VMM", saved, TRUE);
  g_assert_nonnull (error);
  g_test_message ("%s", error->message);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add_func ("/process/lifecycle", test_lifecycle);
  g_test_add_func ("/process/refused", test_refused);
  g_test_add_func ("/process/missing-vmm", test_missing_vmm);
  return gui_test_run (root);
}
