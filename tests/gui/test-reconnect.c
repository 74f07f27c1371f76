/* Machines outlive the app: a nook-vmm started through NookMachine keeps
 * running when the window, the library and the machine are gone, runs in a
 * session of its own with its output in the log, and a fresh library adopts
 * it (state, SPICE view, pause, power off). A control socket left by a dead
 * nook-vmm is cleaned up; a killed adopted nook-vmm is a crash; one that
 * never answers is not taken for a running machine. */
#include "gui-test.h"

#include "nook-display-private.h"
#include "nook-library.h"
#include "nook-window-private.h"

#include <fcntl.h>
#include <gio/gunixsocketaddress.h>
#include <json-glib/json-glib.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char *root;

/* The guest the machines boot: tests/guest/input.c prints to the serial
 * port and says 'power button' for each press. Fails the test without it. */
static NookMachine *
create (NookLibrary *lib,
        const char  *name)
{
  g_autofree char *image = gui_test_need_guest ("input.elf");

  return gui_test_create_machine (lib, name, image);
}

static char *
runtime_file (const char *id,
              const char *name)
{
  return g_build_filename (g_get_user_runtime_dir (), "nook", id, name, NULL);
}

/* The pid the app recorded, checked against the process's command line. */
static pid_t
read_pid (const char *id)
{
  g_autofree char *path = runtime_file (id, "nook-vmm.pid");
  g_autofree char *control = runtime_file (id, "control.sock");
  g_autofree char *text = NULL;
  g_autofree char *cmdline_path = NULL;
  g_autofree char *cmdline = NULL;
  gsize len = 0;
  gboolean names_socket = FALSE;
  pid_t pid;

  g_assert_true (g_file_get_contents (path, &text, NULL, NULL));
  pid = (pid_t) atoi (text);
  g_assert_cmpint (pid, >, 0);
  cmdline_path = g_strdup_printf ("/proc/%d/cmdline", (int) pid);
  g_assert_true (g_file_get_contents (cmdline_path, &cmdline, &len, NULL));
  for (gsize i = 0; i < len; i += strlen (cmdline + i) + 1)
    names_socket |= g_str_equal (cmdline + i, control);
  g_assert_true (names_socket);
  return pid;
}

/* Alive and not a zombie waiting to be reaped. */
static gboolean
process_alive (pid_t pid)
{
  g_autofree char *stat_path = g_strdup_printf ("/proc/%d/stat", (int) pid);
  g_autofree char *stat = NULL;
  const char *close_paren;

  if (kill (pid, 0) < 0 || !g_file_get_contents (stat_path, &stat, NULL, NULL))
    return FALSE;
  close_paren = strrchr (stat, ')');
  return close_paren && close_paren[1] == ' ' && close_paren[2] != 'Z';
}

static gboolean
process_gone (gpointer data)
{
  return !process_alive (GPOINTER_TO_INT (data));
}

static char *
fd_target (pid_t pid,
           int   fd)
{
  g_autofree char *link = g_strdup_printf ("/proc/%d/fd/%d", (int) pid, fd);

  return g_file_read_link (link, NULL);
}

static void
wait_serial (NookMachine *m,
             const char  *text)
{
  g_autofree char *serial = g_build_filename (nook_machine_get_dir (m), "serial.log", NULL);

  if (!gui_test_wait_file (serial, text, 20))
    g_error ("'%s' did not appear in %s", text, serial);
}

static char *
raw_status (const char *control)
{
  g_autoptr(JsonNode) ret = gui_test_query_status (control);

  return g_strdup (json_object_get_string_member (json_node_get_object (ret), "state"));
}

static void
spin (guint ms)
{
  gint64 end = g_get_monotonic_time () + ms * G_TIME_SPAN_MILLISECOND;

  while (g_get_monotonic_time () < end)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (2000);
    }
}

static gboolean
view_has_frame (gpointer data)
{
  NookDisplay *display = nook_machine_view_get_display (nook_window_get_machine_view (data));

  return nook_display_get_connected (display) && nook_display_get_texture (display) != NULL;
}

/* Starts a machine through a window and its library, drops them all as the
 * app's quit does, and checks that nook-vmm runs on and is its own. */
static pid_t
start_and_drop (const char *libdir,
                const char *name,
                char      **id_out)
{
  NookLibrary *lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  g_autofree char *log_path = NULL;
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autofree char *in = NULL;
  NookWindow *window;
  NookMachine *m;
  pid_t pid;

  g_assert_true (nook_library_load (lib, &error));
  m = create (lib, name);
  window = nook_window_new (NULL, lib);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  wait_serial (m, "ready for input");
  *id_out = g_strdup (nook_machine_get_id (m));

  pid = read_pid (*id_out);
  g_assert_true (process_alive (pid));
  /* Detached: its own session, stdin /dev/null, its output in the log. */
  g_assert_cmpint (getsid (pid), ==, pid);
  g_assert_cmpint (getsid (pid), !=, getsid (0));
  log_path = g_strdup (nook_machine_get_log_path (m));
  in = fd_target (pid, 0);
  out = fd_target (pid, 1);
  err = fd_target (pid, 2);
  g_assert_cmpstr (in, ==, "/dev/null");
  g_assert_cmpstr (out, ==, log_path);
  g_assert_cmpstr (err, ==, log_path);
  {
    g_autofree char *flags_path = g_strdup_printf ("/proc/%d/fdinfo/1", (int) pid);
    g_autofree char *flags = NULL;
    const char *f;

    g_assert_true (g_file_get_contents (flags_path, &flags, NULL, NULL));
    f = strstr (flags, "flags:");
    g_assert_nonnull (f);
    g_assert_true (g_ascii_strtoull (f + strlen ("flags:"), NULL, 8) & O_APPEND);
  }

  /* The app quits: the window goes, then the library and its machines. */
  g_object_add_weak_pointer (G_OBJECT (m), (gpointer *) &m);
  gtk_window_destroy (GTK_WINDOW (window));
  g_object_unref (lib);
  spin (300);
  g_assert_null (m);
  g_assert_true (process_alive (pid));
  /* Still serving: the socket answers someone else. */
  {
    g_autofree char *control = runtime_file (*id_out, "control.sock");
    g_autofree char *state = raw_status (control);

    g_assert_cmpstr (state, ==, "running");
  }
  spin (500);
  g_assert_true (process_alive (pid));
  return pid;
}

static void
test_outlive (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib", NULL);
  g_autoptr(NookLibrary) lib = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *control = NULL;
  g_autofree char *pid_file = NULL;
  g_autofree char *state = NULL;
  g_autofree char *log_path = NULL;
  g_autofree char *log_text = NULL;
  g_auto(GStrv) runs = NULL;
  NookWindow *window;
  NookMachine *m;
  pid_t pid;

  if (gui_test_skip_without_kvm ())
    return;
  pid = start_and_drop (libdir, "Outlives", &id);
  control = runtime_file (id, "control.sock");
  pid_file = runtime_file (id, "nook-vmm.pid");

  /* The next run of the app. */
  lib = nook_library_new (libdir);
  g_assert_true (nook_library_load (lib, &error));
  g_assert_no_error (error);
  m = nook_library_find (lib, id);
  g_assert_nonnull (m);
  g_assert_true (nook_machine_is_active (m));
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);
  g_assert_null (nook_machine_get_message (m));

  /* The view shows it through its SPICE socket. */
  window = nook_window_new (NULL, lib);
  gtk_window_present (GTK_WINDOW (window));
  nook_window_show_machine (window, m);
  if (!gui_test_wait (view_has_frame, window, 30))
    g_error ("the view of the adopted machine shows no frame");

  gui_test_execute_ok (m, "pause");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_PAUSED, 10);
  state = raw_status (control);
  g_assert_cmpstr (state, ==, "paused");
  gui_test_execute_ok (m, "resume");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);
  g_clear_pointer (&state, g_free);
  state = raw_status (control);
  g_assert_cmpstr (state, ==, "running");

  /* The power button reaches the guest, which only reports it; quit ends
   * it, and that is a stop, not a crash. */
  gui_test_execute_ok (m, "powerdown");
  wait_serial (m, "power button");
  gui_test_execute_ok (m, "quit");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
  g_assert_null (nook_machine_get_message (m));
  if (!gui_test_wait (process_gone, GINT_TO_POINTER (pid), 10))
    g_error ("nook-vmm %d is still there after quit", (int) pid);
  g_assert_false (g_file_test (control, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (pid_file, G_FILE_TEST_EXISTS));

  /* A stopped adopted machine starts again like any other. */
  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  gui_test_execute_ok (m, "quit");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);

  /* The log is appended to: each run starts its own part. */
  log_path = g_strdup (nook_machine_get_log_path (m));
  g_assert_true (g_file_get_contents (log_path, &log_text, NULL, NULL));
  runs = g_strsplit (log_text, "== nook-vmm started ", -1);
  g_assert_cmpuint (g_strv_length (runs), ==, 3);

  gtk_window_destroy (GTK_WINDOW (window));
}

/* An adopted nook-vmm that is killed: crashed, told with its log. */
static void
test_adopted_killed (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib-killed", NULL);
  g_autoptr(NookLibrary) lib = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *id = NULL;
  g_autofree char *control = NULL;
  NookMachine *m;
  pid_t pid;

  if (gui_test_skip_without_kvm ())
    return;
  pid = start_and_drop (libdir, "Killed", &id);
  control = runtime_file (id, "control.sock");
  lib = nook_library_new (libdir);
  g_assert_true (nook_library_load (lib, &error));
  m = nook_library_find (lib, id);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);

  g_assert_cmpint (kill (pid, SIGKILL), ==, 0);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_CRASHED, 10);
  g_test_message ("%s", nook_machine_get_message (m));
  g_assert_nonnull (strstr (nook_machine_get_message (m), "without saying why"));
  /* The socket it could not remove is gone. */
  g_assert_false (g_file_test (control, G_FILE_TEST_EXISTS));
}

/* A unix socket file at @path that nothing listens on. */
static void
make_stale_socket (const char *path)
{
  struct sockaddr_un sa = { .sun_family = AF_UNIX };
  int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpuint (strlen (path), <, sizeof sa.sun_path);
  strcpy (sa.sun_path, path);
  g_assert_cmpint (bind (fd, (struct sockaddr *) &sa, sizeof sa), ==, 0);
  close (fd);
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
}

static void
test_stale_socket (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib-stale", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(NookLibrary) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *rt = NULL;
  g_autofree char *control = NULL;
  g_autofree char *pid_file = NULL;
  NookMachine *m;

  g_assert_true (nook_library_load (lib, &error));
  m = create (lib, "Stale");
  rt = nook_machine_get_runtime_dir (m);
  control = g_build_filename (rt, "control.sock", NULL);
  pid_file = g_build_filename (rt, "nook-vmm.pid", NULL);
  g_assert_cmpint (g_mkdir_with_parents (rt, 0700), ==, 0);
  make_stale_socket (control);
  /* A pid that is surely not a nook-vmm: this test. */
  {
    g_autofree char *text = g_strdup_printf ("%d\n", (int) getpid ());

    gui_test_write (pid_file, text, strlen (text));
  }

  again = nook_library_new (libdir);
  g_assert_true (nook_library_load (again, &error));
  g_assert_no_error (error);
  m = nook_library_find (again, nook_machine_get_id (m));
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
  g_assert_null (nook_machine_get_message (m));
  g_assert_false (g_file_test (control, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (pid_file, G_FILE_TEST_EXISTS));
  /* Nothing is watching: it stays stopped. */
  spin (200);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
}

/* Something listens on the control socket but never greets: not taken for
 * a running machine, and its socket is left alone. */
static void
test_silent_socket (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib-silent", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(NookLibrary) again = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) listener = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autofree char *rt = NULL;
  g_autofree char *control = NULL;
  NookMachine *m;

  g_assert_true (nook_library_load (lib, &error));
  m = create (lib, "Silent");
  rt = nook_machine_get_runtime_dir (m);
  control = g_build_filename (rt, "control.sock", NULL);
  g_assert_cmpint (g_mkdir_with_parents (rt, 0700), ==, 0);
  listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT, &error);
  g_assert_no_error (error);
  address = g_unix_socket_address_new (control);
  g_assert_true (g_socket_bind (listener, address, FALSE, &error));
  g_assert_true (g_socket_listen (listener, &error));

  again = nook_library_new (libdir);
  g_assert_true (nook_library_load (again, &error));
  m = nook_library_find (again, nook_machine_get_id (m));
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STARTING);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_CRASHED, 20);
  g_assert_nonnull (strstr (nook_machine_get_message (m), "does not answer"));
  g_assert_true (g_file_test (control, G_FILE_TEST_EXISTS));
  g_socket_close (listener, NULL);
  g_unlink (control);
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add_func ("/reconnect/outlive", test_outlive);
  g_test_add_func ("/reconnect/adopted-killed", test_adopted_killed);
  g_test_add_func ("/reconnect/stale-socket", test_stale_socket);
  g_test_add_func ("/reconnect/silent-socket", test_silent_socket);
  return gui_test_run (root);
}
