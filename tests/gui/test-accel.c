/* Without a usable KVM: the library's banner says what is wrong and what to
 * do, as nook-vmm --check-accel does, for a missing device, one the user may
 * not open and one that is no KVM (NOOK_ACCEL_DEVICE points nook-vmm there;
 * the real /dev/kvm is left alone), and is absent when KVM works. A machine
 * whose nook-vmm cannot open the device could not start: its row and view
 * say so with nook-vmm's reason, not "Crashed", and it can start again. */
#include "gui-test.h"

#include "nook-library.h"
#include "nook-machine-row.h"
#include "nook-window-private.h"

#include <grp.h>
#include <sys/stat.h>

#define DEVICE_ENV "NOOK_ACCEL_DEVICE"

static char *root;

static gboolean
accel_checked (gpointer window)
{
  return !nook_window_is_checking_accel (window);
}

static void
wait_check (NookWindow *window)
{
  g_assert_true (nook_window_is_checking_accel (window));
  if (!gui_test_wait (accel_checked, window, 20))
    g_error ("nook-vmm --check-accel did not answer in 20 s");
}

/* A library window, once its first check of the accelerator is done. */
static NookWindow *
open_window (NookLibrary *lib)
{
  NookWindow *window = nook_window_new (NULL, lib);

  gtk_window_present (GTK_WINDOW (window));
  wait_check (window);
  return window;
}

static void
check_again (NookWindow *window)
{
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.check-accel", NULL));
  wait_check (window);
}

static NookLibrary *
new_library (void)
{
  NookLibrary *lib = gui_test_new_library (root);
  g_autoptr(GError) error = NULL;

  g_assert_true (nook_library_load (lib, &error));
  g_assert_no_error (error);
  return lib;
}

/* What $NOOK_VMM --check-accel says, asked here directly. */
static void
vmm_answer (gboolean  *ok,
            char     **problem,
            char     **remedy)
{
  const char *argv[] = { g_getenv ("NOOK_VMM"), "--check-accel", NULL };
  g_autofree char *out = NULL;
  g_autofree char *err = NULL;
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonNode) node = NULL;
  JsonObject *obj;
  int status = -1;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err, &status, &error);
  g_assert_no_error (error);
  node = json_from_string (out, &error);
  if (!node || !JSON_NODE_HOLDS_OBJECT (node))
    g_error ("--check-accel printed '%s' (stderr '%s')", out, err);
  obj = json_node_get_object (node);
  *ok = json_object_get_boolean_member (obj, "ok");
  g_assert_cmpint (g_spawn_check_wait_status (status, NULL), ==, *ok);
  *problem = g_strdup (json_object_get_string_member_with_default (obj, "problem", NULL));
  *remedy = g_strdup (json_object_get_string_member_with_default (obj, "remedy", NULL));
}

/* The banner shows, with nook-vmm's words: @problem and @remedy in full, or
 * starting with them when @prefix. */
static void
assert_banner (NookWindow *window,
               const char *problem,
               const char *remedy,
               gboolean    prefix)
{
  const char *shown_problem = nook_window_get_accel_problem (window);
  const char *shown_remedy = nook_window_get_accel_remedy (window);
  g_autofree char *want_problem = NULL;
  g_autofree char *want_remedy = NULL;
  gboolean ok;

  g_test_message ("banner: %s | %s", shown_problem, shown_remedy);
  g_assert_true (nook_window_get_accel_banner_shown (window));
  if (prefix)
    {
      g_assert_true (g_str_has_prefix (shown_problem, problem));
      g_assert_true (!remedy || g_str_has_prefix (shown_remedy, remedy));
    }
  else
    {
      g_assert_cmpstr (shown_problem, ==, problem);
      g_assert_cmpstr (shown_remedy, ==, remedy);
    }
  vmm_answer (&ok, &want_problem, &want_remedy);
  g_assert_false (ok);
  g_assert_cmpstr (shown_problem, ==, want_problem);
  g_assert_cmpstr (shown_remedy, ==, want_remedy);
}

static void
test_missing (void)
{
  g_autoptr(NookLibrary) lib = new_library ();
  g_autofree char *device = g_build_filename (root, "no-kvm", NULL);
  g_autofree char *problem = g_strdup_printf ("%s does not exist.", device);
  NookWindow *window;

  g_setenv (DEVICE_ENV, device, TRUE);
  window = open_window (lib);
  assert_banner (window, problem, "NOOK_ACCEL_DEVICE names it: point it at the KVM device, or unset it.", FALSE);

  /* Check Again asks anew. */
  g_setenv (DEVICE_ENV, "/dev/null", TRUE);
  check_again (window);
  assert_banner (window, "/dev/null is not a KVM device", NULL, TRUE);

  g_unsetenv (DEVICE_ENV);
  gtk_window_destroy (GTK_WINDOW (window));
}

static void
test_not_kvm (void)
{
  g_autoptr(NookLibrary) lib = new_library ();
  NookWindow *window;

  g_setenv (DEVICE_ENV, "/dev/null", TRUE);
  window = open_window (lib);
  assert_banner (window, "/dev/null is not a KVM device: it does not answer KVM_GET_API_VERSION",
                 "NOOK_ACCEL_DEVICE names it", TRUE);
  g_unsetenv (DEVICE_ENV);
  gtk_window_destroy (GTK_WINDOW (window));
}

/* A group that nobody (65534) is not in, for a node nobody may not open. */
static struct group *
foreign_group (void)
{
  static const char *const names[] = { "kvm", "disk", "adm", "users" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      struct group *g = getgrnam (names[i]);
      gboolean listed = FALSE;

      if (!g || g->gr_gid == 0 || g->gr_gid == 65534)
        continue;
      for (char **m = g->gr_mem; *m; m++)
        listed |= g_str_equal (*m, "nobody");
      if (!listed)
        return g;
    }
  return NULL;
}

/* Root opens any file, so as root nook-vmm runs as nobody (setpriv) and
 * the node belongs, mode 0660, to a group nobody is not in: the usual
 * /dev/kvm of a user who has not joined the kvm group. */
static void
test_no_permission (void)
{
  g_autoptr(NookLibrary) lib = new_library ();
  g_autoptr(GError) error = NULL;
  g_autofree char *dir = g_dir_make_tmp ("nkg-dev-XXXXXX", &error);
  g_autofree char *device = NULL;
  g_autofree char *wrapper = NULL;
  g_autofree char *saved_vmm = g_strdup (g_getenv ("NOOK_VMM"));
  g_autofree char *problem = NULL;
  g_autofree char *remedy = NULL;
  NookWindow *window;

  g_assert_no_error (error);
  g_assert_cmpint (g_chmod (dir, 0755), ==, 0);
  device = g_build_filename (dir, "kvm", NULL);
  gui_test_write (device, "", 0);
  if (geteuid () == 0)
    {
      g_autofree char *setpriv = g_find_program_in_path ("setpriv");
      g_autofree char *script = NULL;
      g_autofree char *out = NULL;
      g_autofree char *err = NULL;
      struct group *g = foreign_group ();
      int status = -1;

      if (!setpriv || !g)
        {
          g_test_skip (!setpriv ? "as root this needs setpriv (util-linux) to run nook-vmm as nobody"
                                : "no group here that nobody is not in");
          gui_test_rm_rf (dir);
          return;
        }
      g_assert_cmpint (chown (device, 0, g->gr_gid), ==, 0);
      g_assert_cmpint (g_chmod (device, 0660), ==, 0);
      problem = g_strdup_printf ("You have no permission to open %s: it belongs to the group %s, which you are not in.",
                                 device, g->gr_name);
      remedy = g_strdup_printf ("Join the group: sudo usermod -aG %s $USER, then log out and log in again.", g->gr_name);

      wrapper = g_build_filename (dir, "nook-vmm-as-nobody", NULL);
      script = g_strdup_printf ("#!/bin/sh\nexec '%s' --reuid=65534 --regid=65534 --clear-groups -- '%s' \"$@\"\n",
                                setpriv, saved_vmm);
      gui_test_write (wrapper, script, strlen (script));
      g_assert_cmpint (g_chmod (wrapper, 0755), ==, 0);
      /* nobody must reach the build's nook-vmm. */
      g_spawn_sync (NULL, (char *[]) { wrapper, "--version", NULL }, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                    &out, &err, &status, &error);
      g_assert_no_error (error);
      if (!g_spawn_check_wait_status (status, NULL))
        {
          g_autofree char *why = g_strdup_printf ("nobody cannot run %s: %s", saved_vmm, err);

          g_test_skip (why);
          gui_test_rm_rf (dir);
          return;
        }
      g_setenv ("NOOK_VMM", wrapper, TRUE);
    }
  else
    {
      g_assert_cmpint (g_chmod (device, 0), ==, 0);
      problem = g_strdup_printf ("You have no permission to open %s", device);
    }

  g_setenv (DEVICE_ENV, device, TRUE);
  window = open_window (lib);
  assert_banner (window, problem, remedy, remedy == NULL);
  g_unsetenv (DEVICE_ENV);
  g_setenv ("NOOK_VMM", saved_vmm, TRUE);
  gtk_window_destroy (GTK_WINDOW (window));
  gui_test_rm_rf (dir);
}

/* KVM works: no banner; a check after a failed one takes it away. */
static void
test_usable (void)
{
  g_autoptr(NookLibrary) lib = NULL;
  g_autofree char *device = g_build_filename (root, "no-kvm", NULL);
  NookWindow *window;

  if (gui_test_skip_without_kvm ())
    return;
  lib = new_library ();
  g_unsetenv (DEVICE_ENV);
  window = open_window (lib);
  g_assert_false (nook_window_get_accel_banner_shown (window));

  g_setenv (DEVICE_ENV, device, TRUE);
  check_again (window);
  g_assert_true (nook_window_get_accel_banner_shown (window));
  g_unsetenv (DEVICE_ENV);
  check_again (window);
  g_assert_false (nook_window_get_accel_banner_shown (window));
  gtk_window_destroy (GTK_WINDOW (window));
}

static GtkWidget *
find_widget (GtkWidget *w,
             GType      type)
{
  if (G_TYPE_CHECK_INSTANCE_TYPE (w, type))
    return w;
  for (GtkWidget *c = gtk_widget_get_first_child (w); c; c = gtk_widget_get_next_sibling (c))
    {
      GtkWidget *found = find_widget (c, type);

      if (found)
        return found;
    }
  return NULL;
}

/* The text of the labels shown in @w, one a line. */
static void
collect_text (GtkWidget *w,
              GString   *out)
{
  if (!gtk_widget_get_visible (w))
    return;
  if (GTK_IS_LABEL (w))
    g_string_append_printf (out, "%s\n", gtk_label_get_text (GTK_LABEL (w)));
  for (GtkWidget *c = gtk_widget_get_first_child (w); c; c = gtk_widget_get_next_sibling (c))
    collect_text (c, out);
}

static guint
count_runs (const char *log_path)
{
  g_autofree char *text = NULL;
  guint n = 0;

  g_assert_true (g_file_get_contents (log_path, &text, NULL, NULL));
  for (const char *p = text; (p = strstr (p, "== nook-vmm started ")); p++)
    n++;
  return n;
}

static void
test_could_not_start (void)
{
  g_autoptr(NookLibrary) lib = new_library ();
  g_autofree char *device = g_build_filename (root, "gone-kvm", NULL);
  g_autofree char *problem = NULL;
  g_autofree char *remedy = NULL;
  g_autofree char *reason = NULL;
  g_autofree char *log_text = NULL;
  g_autofree char *log_line = NULL;
  g_autoptr(GString) row_text = g_string_new ("");
  NookMachineView *view;
  AdwStatusPage *status;
  NookWindow *window;
  GtkWidget *row;
  NookMachine *m;
  gboolean ok;

  m = gui_test_create_machine (lib, "Doomed", NULL);
  g_setenv (DEVICE_ENV, device, TRUE);
  vmm_answer (&ok, &problem, &remedy);
  g_assert_false (ok);
  /* nook-vmm's start-up error is the same diagnosis on one line. */
  reason = g_strdup_printf ("%s %s", problem, remedy);
  window = open_window (lib);
  g_assert_true (nook_window_get_accel_banner_shown (window));

  /* Start from the row, as a person would. */
  row = find_widget (GTK_WIDGET (window), NOOK_TYPE_MACHINE_ROW);
  g_assert_nonnull (row);
  g_assert_true (nook_machine_row_get_machine (NOOK_MACHINE_ROW (row)) == m);
  g_assert_true (gtk_widget_activate_action (row, "machine.start", NULL));
  gui_test_wait_state (m, NOOK_MACHINE_STATE_FAILED_TO_START, 15);
  g_assert_cmpstr (nook_machine_get_message (m), ==, reason);
  g_assert_cmpstr (nook_machine_state_to_string (nook_machine_get_state (m)), ==, "Could not start");
  log_text = NULL;
  g_assert_true (g_file_get_contents (nook_machine_get_log_path (m), &log_text, NULL, NULL));
  log_line = g_strdup_printf ("nook-vmm: %s\n", reason);
  g_assert_nonnull (strstr (log_text, log_line));

  /* The view it went to says so, with the reason. */
  g_assert_cmpstr (nook_window_get_visible_top_page (window), ==, "machine");
  view = nook_window_get_machine_view (window);
  g_assert_cmpstr (nook_machine_view_get_page (view), ==, "status");
  status = ADW_STATUS_PAGE (find_widget (GTK_WIDGET (view), ADW_TYPE_STATUS_PAGE));
  g_assert_cmpstr (adw_status_page_get_title (status), ==, "“Doomed” Could Not Start");
  g_assert_cmpstr (adw_status_page_get_description (status), ==, reason);

  /* And so does the row, back in the library. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (window), "win.show-library", NULL));
  collect_text (row, row_text);
  g_test_message ("row: %s", row_text->str);
  g_assert_nonnull (strstr (row_text->str, "\nCould not start\n"));
  g_assert_nonnull (strstr (row_text->str, reason));
  g_assert_null (strstr (row_text->str, "Crashed"));

  /* It can start again: once KVM is back, it runs. */
  g_assert_cmpuint (count_runs (nook_machine_get_log_path (m)), ==, 1);
  if (gui_test_have_kvm ())
    {
      g_unsetenv (DEVICE_ENV);
      g_assert_true (gtk_widget_activate_action (row, "machine.start", NULL));
      gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
      g_assert_null (nook_machine_get_message (m));
      gui_test_execute_ok (m, "quit");
      gui_test_wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
    }
  else
    {
      g_assert_true (gtk_widget_activate_action (row, "machine.start", NULL));
      gui_test_wait_state (m, NOOK_MACHINE_STATE_FAILED_TO_START, 15);
      g_assert_cmpstr (nook_machine_get_message (m), ==, reason);
    }
  g_assert_cmpuint (count_runs (nook_machine_get_log_path (m)), ==, 2);
  g_unsetenv (DEVICE_ENV);
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_unsetenv (DEVICE_ENV);
  g_test_add_func ("/accel/missing", test_missing);
  g_test_add_func ("/accel/not-kvm", test_not_kvm);
  g_test_add_func ("/accel/no-permission", test_no_permission);
  g_test_add_func ("/accel/usable", test_usable);
  g_test_add_func ("/accel/could-not-start", test_could_not_start);
  return gui_test_run (root);
}
