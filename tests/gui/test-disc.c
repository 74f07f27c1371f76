/* Swapping discs: the settings window puts a chosen ISO in a running
 * machine's DVD-ROM drive at once, and Eject empties it, as nook-vmm's own
 * query-status confirms; machine.ini keeps the choice for the next start. */
#include "gui-test.h"

#include "nook-library.h"
#include "nook-machine-settings-private.h"

static char *root;

/* The disc nook-vmm says its drive holds: a path, "" for an empty drive. */
static char *
drive_holds (const char *control)
{
  g_autoptr(JsonNode) ret = gui_test_query_status (control);
  JsonObject *o = json_node_get_object (ret);

  g_assert_true (json_object_has_member (o, "cdrom"));
  if (json_object_get_null_member (o, "cdrom"))
    return g_strdup ("");
  return g_strdup (json_object_get_string_member (o, "cdrom"));
}

static void
wait_drive (const char *control,
            const char *want)
{
  gint64 end = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  for (;;)
    {
      g_autofree char *holds = drive_holds (control);

      if (g_str_equal (holds, want))
        return;
      if (g_get_monotonic_time () > end)
        g_error ("the drive holds '%s', not '%s'", holds, want);
      g_main_context_iteration (NULL, FALSE);
      g_usleep (20000);
    }
}

static void
test_swap (void)
{
  g_autofree char *image = NULL;
  g_autoptr(NookLibrary) lib = NULL;
  g_autofree char *first = NULL;
  g_autofree char *second = NULL;
  g_autoptr(GFile) second_file = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *rt = NULL;
  g_autofree char *control = NULL;
  g_autoptr(NookMachine) back = NULL;
  NookMachineSettings *settings;
  NookMachine *m;

  if (gui_test_skip_without_kvm ())
    return;
  image = gui_test_need_guest ("input.elf");
  lib = gui_test_new_library (root);
  first = gui_test_make_iso (root, "first.iso", "FIRST DISC");
  second = gui_test_make_iso (root, "second.iso", "SECOND DISC");
  second_file = g_file_new_for_path (second);
  m = gui_test_create_machine (lib, "Discs", image);
  nook_machine_set_display (m, "none");
  nook_machine_set_cdrom (m, first);
  g_assert_true (nook_machine_save (m, &error));
  g_assert_no_error (error);
  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  rt = nook_machine_get_runtime_dir (m);
  control = g_build_filename (rt, "control.sock", NULL);
  wait_drive (control, first);

  settings = nook_machine_settings_new (NULL, m);
  g_assert_true (nook_machine_settings_set_cdrom_file (settings, second_file));
  wait_drive (control, second);
  back = nook_machine_load (nook_machine_get_dir (m));
  g_assert_cmpstr (nook_machine_get_cdrom (back), ==, second);

  g_signal_emit_by_name (gtk_widget_get_template_child (GTK_WIDGET (settings), NOOK_TYPE_MACHINE_SETTINGS,
                                                        "cdrom_eject_button"), "clicked");
  wait_drive (control, "");
  g_clear_object (&back);
  back = nook_machine_load (nook_machine_get_dir (m));
  g_assert_null (nook_machine_get_cdrom (back));
  g_assert_null (nook_machine_settings_get_last_message (settings));

  gtk_window_destroy (GTK_WINDOW (settings));
  gui_test_execute_ok (m, "quit");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add_func ("/disc/swap", test_swap);
  return gui_test_run (root);
}
