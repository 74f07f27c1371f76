/* Machines on the real nook-vmm: start, pause, resume, reset, power off,
 * force off; a nook-vmm killed with SIGKILL leaves the machine crashed with
 * its log and the window open; a nook-vmm that refuses to start says why. */
#include "gui-test.h"

#include "nook-library.h"
#include "nook-machine-process.h"
#include "nook-window-private.h"

#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

static char *root;

typedef struct {
  NookMachine *machine;
  NookMachineState state;
} StateWait;

static gboolean
state_is (gpointer data)
{
  StateWait *w = data;

  return nook_machine_get_state (w->machine) == w->state;
}

static void
wait_state (NookMachine      *m,
            NookMachineState  state,
            double            seconds)
{
  StateWait w = { m, state };

  if (!gui_test_wait (state_is, &w, seconds))
    g_error ("machine %s: waited for state %s, it is %s (%s)", nook_machine_get_id (m),
             nook_machine_state_to_string (state), nook_machine_state_to_string (nook_machine_get_state (m)),
             nook_machine_get_message (m) ? nook_machine_get_message (m) : "no message");
}

typedef struct {
  gboolean done;
  gboolean ok;
  char *error;
} Reply;

static void
on_reply (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Reply *r = user_data;
  g_autoptr(GError) error = NULL;

  r->ok = nook_machine_execute_finish (NOOK_MACHINE (source), result, &error);
  r->error = error ? g_strdup (error->message) : NULL;
  r->done = TRUE;
}

static gboolean
reply_done (gpointer data)
{
  return ((Reply *) data)->done;
}

static void
execute_ok (NookMachine *m,
            const char  *command)
{
  Reply r = { 0 };

  nook_machine_execute (m, command, NULL, on_reply, &r);
  g_assert_true (gui_test_wait (reply_done, &r, 10));
  if (!r.ok)
    g_error ("%s: %s", command, r.error);
}

static gboolean
have_kvm (void)
{
  int fd = open ("/dev/kvm", O_RDWR | O_CLOEXEC);

  if (fd < 0)
    return FALSE;
  close (fd);
  return TRUE;
}

static NookMachine *
create (NookLibrary *lib,
        const char  *name)
{
  g_autoptr(NookMachine) draft = nook_machine_new_draft (name);
  g_autoptr(GError) error = NULL;
  NookMachine *m;

  nook_machine_set_memory (draft, 64);
  nook_machine_set_cpus (draft, 1);
  m = nook_library_create_machine (lib, draft, 0, &error);
  g_assert_no_error (error);
  return m;
}

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

  if (!have_kvm ())
    {
      g_test_skip ("/dev/kvm cannot be opened");
      return;
    }
  g_assert_true (nook_library_load (lib, &error));
  m = create (lib, "Firmware Only");
  other = create (lib, "Bystander");
  window = nook_window_new (NULL, lib);
  gtk_window_present (GTK_WINDOW (window));
  g_object_add_weak_pointer (G_OBJECT (window), (gpointer *) &window);

  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STARTING);
  wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);

  /* Running: a second start and a delete are refused. */
  g_assert_false (nook_machine_start (m, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_clear_error (&error);
  gtk_widget_activate_action (GTK_WIDGET (window), "win.delete-machine", "s", nook_machine_get_id (m));
  g_assert_nonnull (strstr (nook_window_get_last_message (window), "power it off"));
  g_assert_true (g_file_test (nook_machine_get_dir (m), G_FILE_TEST_IS_DIR));

  execute_ok (m, "pause");
  wait_state (m, NOOK_MACHINE_STATE_PAUSED, 10);
  execute_ok (m, "resume");
  wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);
  execute_ok (m, "reset");
  wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);
  /* SeaBIOS alone ignores the power button, but nook-vmm takes it. */
  execute_ok (m, "powerdown");
  execute_ok (m, "quit");
  wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
  g_assert_null (nook_machine_get_message (m));
  serial = g_build_filename (nook_machine_get_dir (m), "serial.log", NULL);
  g_assert_true (g_file_test (serial, G_FILE_TEST_EXISTS));

  /* SIGKILL: crashed, with the log, and the rest carries on. */
  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  g_assert_true (nook_machine_start (other, &error));
  wait_state (other, NOOK_MACHINE_STATE_RUNNING, 30);
  {
    g_autofree char *pids = NULL;
    g_autofree char *cmd = g_strdup_printf ("pgrep -f -- '--name %s '", nook_machine_get_id (m));

    g_assert_true (g_spawn_command_line_sync (cmd, &pids, NULL, NULL, NULL));
    pid = (pid_t) atoi (pids);
    g_assert_cmpint (pid, >, 0);
  }
  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  wait_state (m, NOOK_MACHINE_STATE_CRASHED, 10);
  g_test_message ("crash message: %s", nook_machine_get_message (m));
  g_assert_nonnull (strstr (nook_machine_get_message (m), "signal 9"));
  g_assert_nonnull (window);
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (window)));
  g_assert_cmpint (nook_machine_get_state (other), ==, NOOK_MACHINE_STATE_RUNNING);
  log = g_build_filename (nook_machine_get_dir (m), "nook-vmm.log", NULL);
  g_assert_true (g_file_test (log, G_FILE_TEST_EXISTS));

  /* A crashed machine starts again. */
  g_assert_true (nook_machine_start (m, &error));
  wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  execute_ok (m, "quit");
  execute_ok (other, "quit");
  wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
  wait_state (other, NOOK_MACHINE_STATE_STOPPED, 15);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* nook-vmm exits with status 2 at once: the machine says why. */
static void
test_refused (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib-refused", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  NookMachine *m;

  if (!have_kvm ())
    {
      g_test_skip ("/dev/kvm cannot be opened");
      return;
    }
  m = create (lib, "Too Much Memory");
  /* 1 TiB: more than this host has. */
  nook_machine_set_memory (m, 1024 * 1024);
  g_assert_true (nook_machine_start (m, &error));
  wait_state (m, NOOK_MACHINE_STATE_CRASHED, 15);
  g_test_message ("%s", nook_machine_get_message (m));
  g_assert_nonnull (strstr (nook_machine_get_message (m), "refused"));
  g_assert_nonnull (strstr (nook_machine_get_message (m), "--memory"));
}

static void
test_missing_vmm (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib-missing", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  g_autofree char *saved = g_strdup (g_getenv ("NOOK_VMM"));
  NookMachine *m = create (lib, "No VMM");

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
  int r;

  root = gui_test_setup_xdg ();
  gtk_test_init (&argc, &argv, NULL);
  adw_init ();
  g_test_add_func ("/process/lifecycle", test_lifecycle);
  g_test_add_func ("/process/refused", test_refused);
  g_test_add_func ("/process/missing-vmm", test_missing_vmm);
  r = g_test_run ();
  gui_test_rm_rf (root);
  g_free (root);
  return r;
}
