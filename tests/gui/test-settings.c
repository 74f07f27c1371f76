/* The machine settings window: each setting changed through its widget is in
 * machine.ini at once; files that are no ISO (or no disk) are refused and
 * leave machine.ini as it was; a save that fails is taken back; Choose…
 * opens a chooser; the notes on firmware, running and broken machines. */
#include "gui-test.h"

#include "nook-disk.h"
#include "nook-library.h"
#include "nook-machine-settings-private.h"

#include <sys/stat.h>

static char *root;

typedef struct {
  NookLibrary *library;
  NookMachine *machine;         /* borrowed from library */
  NookMachineSettings *settings;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(NookMachine) draft = nook_machine_new_draft ("Settings Test");
  g_autoptr(GError) error = NULL;

  f->library = gui_test_new_library (root);
  f->machine = nook_library_create_machine (f->library, draft, G_GUINT64_CONSTANT (64) << 20, &error);
  g_assert_no_error (error);
  f->settings = nook_machine_settings_new (NULL, f->machine);
  gtk_window_present (GTK_WINDOW (f->settings));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->settings));
  g_object_unref (f->library);
}

static gpointer
child (Fixture    *f,
       const char *id)
{
  GObject *obj = gtk_widget_get_template_child (GTK_WIDGET (f->settings), NOOK_TYPE_MACHINE_SETTINGS, id);

  g_assert_nonnull (obj);
  return obj;
}

static const char *
subtitle (Fixture    *f,
          const char *row)
{
  return adw_action_row_get_subtitle (ADW_ACTION_ROW (child (f, row)));
}

/* The machine as machine.ini on disk has it now. */
static NookMachine *
reload (Fixture *f)
{
  NookMachine *m = nook_machine_load (nook_machine_get_dir (f->machine));

  if (nook_machine_get_state (m) == NOOK_MACHINE_STATE_BROKEN)
    g_error ("machine.ini: %s", nook_machine_get_message (m));
  return m;
}

static char *
read_ini (Fixture *f)
{
  g_autofree char *path = nook_machine_get_ini_path (f->machine);
  g_autoptr(GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

static char *
make_file (const char *name,
           const void *data,
           gsize       len)
{
  char *path = g_build_filename (root, name, NULL);

  gui_test_write (path, data, len);
  return path;
}

/* A qcow2 header saying the guest sees @size bytes. */
static char *
make_qcow2 (const char *name,
            guint64     size)
{
  g_autofree guint8 *buf = g_malloc0 (65536);
  guint32 version = GUINT32_TO_BE (3);
  guint64 be = GUINT64_TO_BE (size);

  memcpy (buf, "QFI\xfb", 4);
  memcpy (buf + 4, &version, 4);
  memcpy (buf + 24, &be, 8);
  return make_file (name, buf, 65536);
}

static char *
make_mbr_disk (const char *name)
{
  g_autofree guint8 *buf = g_malloc0 (1 << 20);

  buf[510] = 0x55;
  buf[511] = 0xaa;
  return make_file (name, buf, 1 << 20);
}

static char *
make_iso (const char *name)
{
  char *iso = gui_test_make_iso (root, name, "NOOK TEST");

  g_assert_nonnull (iso);
  return iso;
}

static void
test_shown (Fixture       *f,
            gconstpointer  data)
{
  g_autofree char *disk = nook_machine_resolve_path (f->machine, nook_machine_get_disk_path (f->machine));
  g_autofree char *size = g_format_size_full (G_GUINT64_CONSTANT (64) << 20, G_FORMAT_SIZE_IEC_UNITS);
  struct stat st;
  g_autofree char *used = NULL;
  g_autofree char *expected = NULL;

  g_assert_cmpint (g_stat (disk, &st), ==, 0);
  used = g_format_size_full ((guint64) st.st_blocks * 512, G_FORMAT_SIZE_IEC_UNITS);
  expected = g_strdup_printf ("%s used of %s", used, size);
  /* Sparse: far less is taken than the guest sees. */
  g_assert_cmpuint ((guint64) st.st_blocks * 512, <, G_GUINT64_CONSTANT (64) << 20);

  g_assert_cmpint (gtk_spin_button_get_value_as_int (child (f, "memory_spin")), ==, 2048);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (child (f, "cpus_spin")), ==, 2);
  g_assert_cmpuint (adw_combo_row_get_selected (child (f, "firmware_row")), ==, 0);
  g_assert_cmpuint (adw_combo_row_get_selected (child (f, "display_row")), ==, 0);
  g_assert_cmpuint (adw_combo_row_get_selected (child (f, "sound_row")), ==, 0);
  g_assert_cmpstr (subtitle (f, "disk_row"), ==, disk);
  g_assert_cmpstr (subtitle (f, "disk_format_row"), ==, "Raw");
  g_assert_cmpstr (subtitle (f, "disk_size_row"), ==, expected);
  g_assert_false (gtk_switch_get_active (child (f, "disk_readonly_switch")));
  g_assert_cmpstr (subtitle (f, "cdrom_row"), ==, "Empty");
  g_assert_false (gtk_widget_get_sensitive (child (f, "cdrom_eject_button")));
  g_assert_false (gtk_widget_get_visible (child (f, "notice_group")));
}

static void
test_changes (Fixture       *f,
              gconstpointer  data)
{
  g_autofree char *iso = make_iso ("changes.iso");
  g_autofree char *qcow2 = make_qcow2 ("other.qcow2", G_GUINT64_CONSTANT (8) << 30);
  g_autofree char *blank = g_build_filename (root, "blank.img", NULL);
  g_autofree char *big = g_format_size_full (G_GUINT64_CONSTANT (8) << 30, G_FORMAT_SIZE_IEC_UNITS);
  g_autoptr(GFile) iso_file = g_file_new_for_path (iso);
  g_autoptr(GFile) qcow2_file = g_file_new_for_path (qcow2);
  g_autoptr(GFile) blank_file = g_file_new_for_path (blank);
  g_autoptr(GError) error = NULL;
  NookMachine *m;

  gtk_spin_button_set_value (child (f, "memory_spin"), 3072);
  m = reload (f);
  g_assert_cmpuint (nook_machine_get_memory (m), ==, 3072);
  g_object_unref (m);

  gtk_spin_button_set_value (child (f, "cpus_spin"), 4);
  m = reload (f);
  g_assert_cmpuint (nook_machine_get_cpus (m), ==, 4);
  g_assert_cmpuint (nook_machine_get_memory (m), ==, 3072);
  g_object_unref (m);

  adw_combo_row_set_selected (child (f, "firmware_row"), 1);
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_firmware (m), ==, "uefi");
  g_object_unref (m);

  adw_combo_row_set_selected (child (f, "display_row"), 2);
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_display (m), ==, "none");
  g_object_unref (m);
  adw_combo_row_set_selected (child (f, "display_row"), 1);
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_display (m), ==, "sdl");
  g_object_unref (m);

  adw_combo_row_set_selected (child (f, "sound_row"), 1);
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_sound (m), ==, "none");
  g_object_unref (m);
  adw_combo_row_set_selected (child (f, "sound_row"), 0);
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_sound (m), ==, "hda");
  g_object_unref (m);

  gtk_switch_set_active (child (f, "disk_readonly_switch"), TRUE);
  m = reload (f);
  g_assert_true (nook_machine_get_disk_readonly (m));
  g_object_unref (m);

  /* The CD-ROM: in, shown, then out again with Eject. */
  g_assert_true (nook_machine_settings_set_cdrom_file (f->settings, iso_file));
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_cdrom (m), ==, iso);
  g_object_unref (m);
  g_assert_cmpstr (subtitle (f, "cdrom_row"), ==, iso);
  g_assert_true (gtk_widget_get_sensitive (child (f, "cdrom_eject_button")));
  g_signal_emit_by_name (child (f, "cdrom_eject_button"), "clicked");
  m = reload (f);
  g_assert_null (nook_machine_get_cdrom (m));
  g_object_unref (m);
  g_assert_cmpstr (subtitle (f, "cdrom_row"), ==, "Empty");

  /* Another disk: its format and virtual size come from its header; the
   * read-only switch stays as it was. */
  g_assert_true (nook_machine_settings_set_disk_file (f->settings, qcow2_file));
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_disk_path (m), ==, qcow2);
  g_assert_cmpstr (nook_machine_get_disk_format (m), ==, "qcow2");
  g_assert_true (nook_machine_get_disk_readonly (m));
  g_object_unref (m);
  g_assert_cmpstr (subtitle (f, "disk_row"), ==, qcow2);
  g_assert_cmpstr (subtitle (f, "disk_format_row"), ==, "QCOW2");
  g_assert_true (g_str_has_suffix (subtitle (f, "disk_size_row"), big));

  /* A blank raw disk has no header to know it by, and is taken all the same. */
  g_assert_true (nook_disk_create_sparse (blank, 2 << 20, &error));
  g_assert_no_error (error);
  g_assert_true (nook_machine_settings_set_disk_file (f->settings, blank_file));
  m = reload (f);
  g_assert_cmpstr (nook_machine_get_disk_path (m), ==, blank);
  g_assert_cmpstr (nook_machine_get_disk_format (m), ==, "raw");
  g_object_unref (m);

  /* Everything before the disk is still there. */
  m = reload (f);
  g_assert_cmpuint (nook_machine_get_memory (m), ==, 3072);
  g_assert_cmpuint (nook_machine_get_cpus (m), ==, 4);
  g_assert_cmpstr (nook_machine_get_firmware (m), ==, "uefi");
  g_assert_cmpstr (nook_machine_get_display (m), ==, "sdl");
  g_object_unref (m);
  g_assert_null (nook_machine_settings_get_last_message (f->settings));
}

static void
expect_refused (Fixture    *f,
                gboolean    cdrom,
                const char *path,
                const char *words)
{
  g_autoptr(GFile) file = g_file_new_for_path (path);
  g_autofree char *before = read_ini (f);
  g_autofree char *after = NULL;
  g_autofree char *cdrom_before = g_strdup (nook_machine_get_cdrom (f->machine));
  g_autofree char *disk_before = g_strdup (nook_machine_get_disk_path (f->machine));
  gboolean taken;

  taken = cdrom ? nook_machine_settings_set_cdrom_file (f->settings, file)
                : nook_machine_settings_set_disk_file (f->settings, file);
  g_assert_false (taken);
  g_test_message ("%s", nook_machine_settings_get_last_message (f->settings));
  g_assert_nonnull (strstr (nook_machine_settings_get_last_message (f->settings), words));
  after = read_ini (f);
  g_assert_cmpstr (before, ==, after);
  g_assert_cmpstr (nook_machine_get_cdrom (f->machine), ==, cdrom_before);
  g_assert_cmpstr (nook_machine_get_disk_path (f->machine), ==, disk_before);
}

static void
test_refusals (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *iso = make_iso ("kept.iso");
  g_autofree char *folder = g_build_filename (root, "a-folder", NULL);
  g_autofree char *text = make_file ("notes.txt", "just words\n", 11);
  g_autofree char *missing = g_build_filename (root, "gone.iso", NULL);
  g_autofree char *mbr = make_mbr_disk ("mbr.img");
  g_autoptr(GFile) iso_file = g_file_new_for_path (iso);

  g_mkdir_with_parents (folder, 0755);
  /* An ISO in the drive first, so that a refusal is seen to keep it. */
  g_assert_true (nook_machine_settings_set_cdrom_file (f->settings, iso_file));

  expect_refused (f, TRUE, folder, "is a folder");
  expect_refused (f, TRUE, text, "is not an ISO image");
  expect_refused (f, TRUE, mbr, "is not an ISO image");
  expect_refused (f, TRUE, missing, "Cannot read");
  g_assert_cmpstr (subtitle (f, "cdrom_row"), ==, iso);

  expect_refused (f, FALSE, folder, "is a folder");
  expect_refused (f, FALSE, text, "is not a disk image");
  expect_refused (f, FALSE, iso, "is an installer image");
  expect_refused (f, FALSE, missing, "Cannot read");
}

/* A save that fails (the file size limit makes writing machine.ini fail
 * with EFBIG) leaves the old machine.ini, says why and shows the old value. */
static void
test_save_fails (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *before = read_ini (f);
  g_autofree char *files_before = gui_test_list_dir (nook_machine_get_dir (f->machine));
  g_autofree char *after = NULL;
  g_autofree char *later = NULL;
  g_autofree char *files_after = NULL;
  const char *message;

  gui_test_limit_files (16);
  gtk_spin_button_set_value (child (f, "memory_spin"), 4096);
  gtk_switch_set_active (child (f, "disk_readonly_switch"), TRUE);
  gui_test_unlimit_files ();

  message = nook_machine_settings_get_last_message (f->settings);
  g_assert_nonnull (message);
  g_test_message ("%s", message);
  g_assert_nonnull (strstr (message, "machine.ini"));
  after = read_ini (f);
  g_assert_cmpstr (before, ==, after);
  files_after = gui_test_list_dir (nook_machine_get_dir (f->machine));
  g_assert_cmpstr (files_before, ==, files_after);
  g_assert_cmpuint (nook_machine_get_memory (f->machine), ==, 2048);
  g_assert_cmpint (gtk_spin_button_get_value_as_int (child (f, "memory_spin")), ==, 2048);
  g_assert_false (nook_machine_get_disk_readonly (f->machine));
  g_assert_false (gtk_switch_get_active (child (f, "disk_readonly_switch")));

  /* The next change is saved as usual. */
  gtk_spin_button_set_value (child (f, "memory_spin"), 1024);
  later = read_ini (f);
  g_assert_nonnull (strstr (later, "memory=1024"));
}

static gboolean
is_stopped (gpointer data)
{
  return !nook_machine_is_active (data);
}

/* While a machine runs (here a stand-in for nook-vmm that just waits),
 * changes are taken and the window says they apply at the next start. */
static void
test_running (Fixture       *f,
              gconstpointer  data)
{
  const char *script = "#!/bin/sh\nexec sleep 60\n";
  g_autofree char *vmm = make_file ("fake-vmm", script, strlen (script));
  g_autofree char *saved = g_strdup (g_getenv ("NOOK_VMM"));
  g_autoptr(GError) error = NULL;
  AdwPreferencesGroup *notice = child (f, "notice_group");
  NookMachine *m;

  g_assert_cmpint (g_chmod (vmm, 0755), ==, 0);
  g_setenv ("NOOK_VMM", vmm, TRUE);
  g_assert_true (nook_machine_start (f->machine, &error));
  g_assert_no_error (error);
  if (saved)
    g_setenv ("NOOK_VMM", saved, TRUE);
  else
    g_unsetenv ("NOOK_VMM");

  g_assert_true (nook_machine_is_active (f->machine));
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (notice)));
  g_assert_cmpstr (adw_preferences_group_get_title (notice), ==, "The Machine Is Running");
  g_assert_nonnull (strstr (adw_preferences_group_get_description (notice), "next time it starts"));
  g_assert_true (gtk_widget_is_sensitive (child (f, "memory_spin")));
  g_assert_true (gtk_widget_is_sensitive (child (f, "cdrom_choose_button")));

  gtk_spin_button_set_value (child (f, "cpus_spin"), 3);
  m = reload (f);
  g_assert_cmpuint (nook_machine_get_cpus (m), ==, 3);
  g_object_unref (m);

  gui_test_execute_ok (f->machine, "quit");
  g_assert_true (gui_test_wait (is_stopped, f->machine, 10));
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (notice)));
}

static void
test_firmware_note (Fixture       *f,
                    gconstpointer  data)
{
  g_autofree char *ovmf = make_file ("OVMF.fd", "firmware", 8);
  g_autofree char *missing = g_build_filename (root, "no-OVMF.fd", NULL);
  NookMachineSettings *other;
  const char *note;

  g_setenv ("NOOK_OVMF", missing, TRUE);
  other = nook_machine_settings_new (NULL, f->machine);
  note = adw_action_row_get_subtitle (ADW_ACTION_ROW (gtk_widget_get_template_child (
    GTK_WIDGET (other), NOOK_TYPE_MACHINE_SETTINGS, "firmware_row")));
  g_assert_nonnull (strstr (note, "UEFI firmware is not installed"));
  g_assert_nonnull (strstr (note, "ovmf"));
  gtk_window_destroy (GTK_WINDOW (other));

  g_setenv ("NOOK_OVMF", ovmf, TRUE);
  other = nook_machine_settings_new (NULL, f->machine);
  note = adw_action_row_get_subtitle (ADW_ACTION_ROW (gtk_widget_get_template_child (
    GTK_WIDGET (other), NOOK_TYPE_MACHINE_SETTINGS, "firmware_row")));
  g_assert_cmpstr (note, ==, "");
  gtk_window_destroy (GTK_WINDOW (other));

  /* A machine that boots a kernel directly has no use for firmware. */
  nook_machine_set_kernel (f->machine, "/boot/vmlinuz", NULL, NULL);
  other = nook_machine_settings_new (NULL, f->machine);
  note = adw_action_row_get_subtitle (ADW_ACTION_ROW (gtk_widget_get_template_child (
    GTK_WIDGET (other), NOOK_TYPE_MACHINE_SETTINGS, "firmware_row")));
  g_assert_nonnull (strstr (note, "Not used"));
  gtk_window_destroy (GTK_WINDOW (other));
  g_unsetenv ("NOOK_OVMF");
}

static gboolean
has_other_window (gpointer data)
{
  GListModel *toplevels = gtk_window_get_toplevels ();

  for (guint i = 0; i < g_list_model_get_n_items (toplevels); i++)
    {
      g_autoptr(GtkWindow) w = g_list_model_get_item (toplevels, i);

      if (gtk_window_get_transient_for (w) == data && gtk_widget_get_mapped (GTK_WIDGET (w)))
        return TRUE;
    }
  return FALSE;
}

/* Choose… opens a file chooser over the window (GTK's own without a
 * portal); another Choose… replaces it and closing the window takes it
 * along, without a warning. */
static void
test_chooser_opens (Fixture       *f,
                    gconstpointer  data)
{
  g_assert_false (has_other_window (f->settings));
  g_signal_emit_by_name (child (f, "cdrom_choose_button"), "clicked");
  g_assert_true (gui_test_wait (has_other_window, f->settings, 10));
  g_signal_emit_by_name (child (f, "disk_choose_button"), "clicked");
  g_assert_true (gui_test_wait (has_other_window, f->settings, 10));
}

static void
test_broken (void)
{
  g_autofree char *dir = g_build_filename (root, "broken", NULL);
  g_autofree char *ini = g_build_filename (dir, "machine.ini", NULL);
  const char *text = "[machine]\nname=Broken\nmemory=lots\n";
  g_autoptr(NookMachine) m = NULL;
  NookMachineSettings *settings;
  GtkWidget *notice;

  g_mkdir_with_parents (dir, 0755);
  gui_test_write (ini, text, strlen (text));
  m = nook_machine_load (dir);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_BROKEN);
  settings = nook_machine_settings_new (NULL, m);
  gtk_window_present (GTK_WINDOW (settings));
  notice = GTK_WIDGET (gtk_widget_get_template_child (GTK_WIDGET (settings), NOOK_TYPE_MACHINE_SETTINGS, "notice_group"));
  g_assert_true (gtk_widget_get_visible (notice));
  g_assert_nonnull (strstr (adw_preferences_group_get_description (ADW_PREFERENCES_GROUP (notice)), "memory"));
  g_assert_false (gtk_widget_is_sensitive (GTK_WIDGET (gtk_widget_get_template_child (
    GTK_WIDGET (settings), NOOK_TYPE_MACHINE_SETTINGS, "memory_spin"))));
  gtk_window_destroy (GTK_WINDOW (settings));
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add ("/settings/shown", Fixture, NULL, fixture_setup, test_shown, fixture_teardown);
  g_test_add ("/settings/changes", Fixture, NULL, fixture_setup, test_changes, fixture_teardown);
  g_test_add ("/settings/refusals", Fixture, NULL, fixture_setup, test_refusals, fixture_teardown);
  g_test_add ("/settings/save-fails", Fixture, NULL, fixture_setup, test_save_fails, fixture_teardown);
  g_test_add ("/settings/running", Fixture, NULL, fixture_setup, test_running, fixture_teardown);
  g_test_add ("/settings/firmware-note", Fixture, NULL, fixture_setup, test_firmware_note, fixture_teardown);
  g_test_add ("/settings/chooser-opens", Fixture, NULL, fixture_setup, test_chooser_opens, fixture_teardown);
  g_test_add_func ("/settings/broken", test_broken);
  return gui_test_run (root);
}
