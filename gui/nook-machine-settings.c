/* NookMachineSettings: every change is saved to machine.ini at once; one
 * that cannot be saved is taken back and said in a toast. While the machine
 * runs, changes are allowed and apply the next time it starts. */
#include "nook-machine-settings-private.h"

#include "nook-disk.h"
#include "nook-media.h"

#include <glib/gi18n.h>
#include <sys/stat.h>

/* A file that is no known image is still taken as a blank or unpartitioned
 * raw disk from this size up, in whole sectors: a text file is not one. */
#define BLANK_DISK_MIN (G_GUINT64_CONSTANT (1) << 20)

struct _NookMachineSettings
{
  AdwPreferencesWindow parent_instance;

  /* template widgets */
  AdwPreferencesGroup *notice_group;
  GtkWidget *resources_group;
  GtkWidget *disk_group;
  GtkWidget *cdrom_group;
  GtkWidget *screen_group;
  GtkWidget *sound_group;
  GtkSpinButton *memory_spin;
  GtkSpinButton *cpus_spin;
  AdwComboRow *firmware_row;
  AdwActionRow *disk_row;
  AdwActionRow *disk_format_row;
  AdwActionRow *disk_size_row;
  GtkWidget *disk_readonly_row;
  GtkSwitch *disk_readonly_switch;
  GtkButton *disk_choose_button;
  AdwActionRow *cdrom_row;
  GtkButton *cdrom_choose_button;
  GtkWidget *cdrom_eject_button;
  AdwComboRow *display_row;
  AdwComboRow *sound_row;

  /* owned */
  NookMachine *machine;
  GtkFileChooserNative *chooser;
  gboolean choosing_cdrom;      /* what chooser is for */
  char *last_message;
  gboolean refreshing;          /* widgets are being set from the machine */
};

G_DEFINE_FINAL_TYPE (NookMachineSettings, nook_machine_settings, ADW_TYPE_PREFERENCES_WINDOW)

/* In the order of firmware_row's, display_row's and sound_row's items. */
static const char *const firmwares[] = { "bios", "uefi" };
static const char *const displays[] = { "spice", "sdl", "none" };
static const char *const sounds[] = { "hda", "none" };

/* What a change may have to put back when it cannot be saved. */
typedef struct {
  guint memory;
  guint cpus;
  char *firmware;
  char *display;
  char *sound;
  char *disk_path;
  char *disk_format;
  gboolean disk_readonly;
  char *cdrom;
} Snapshot;

static void
snapshot_take (Snapshot    *s,
               NookMachine *m)
{
  s->memory = nook_machine_get_memory (m);
  s->cpus = nook_machine_get_cpus (m);
  s->firmware = g_strdup (nook_machine_get_firmware (m));
  s->display = g_strdup (nook_machine_get_display (m));
  s->sound = g_strdup (nook_machine_get_sound (m));
  s->disk_path = g_strdup (nook_machine_get_disk_path (m));
  s->disk_format = g_strdup (nook_machine_get_disk_format (m));
  s->disk_readonly = nook_machine_get_disk_readonly (m);
  s->cdrom = g_strdup (nook_machine_get_cdrom (m));
}

static void
snapshot_restore (Snapshot    *s,
                  NookMachine *m)
{
  nook_machine_set_memory (m, s->memory);
  nook_machine_set_cpus (m, s->cpus);
  nook_machine_set_firmware (m, s->firmware);
  nook_machine_set_display (m, s->display);
  nook_machine_set_sound (m, s->sound);
  nook_machine_set_disk (m, s->disk_path, s->disk_format, s->disk_readonly);
  nook_machine_set_cdrom (m, s->cdrom);
}

static void
snapshot_clear (Snapshot *s)
{
  g_free (s->firmware);
  g_free (s->display);
  g_free (s->sound);
  g_free (s->disk_path);
  g_free (s->disk_format);
  g_free (s->cdrom);
}

G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (Snapshot, snapshot_clear)

static void
show_message (NookMachineSettings *self,
              const char          *message)
{
  AdwToast *toast = adw_toast_new (message);

  g_free (self->last_message);
  self->last_message = g_strdup (message);
  adw_toast_set_timeout (toast, 8);
  adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), toast);
}

/* ---- from the machine to the widgets ---- */

static void
update_notice (NookMachineSettings *self)
{
  gboolean broken = nook_machine_get_state (self->machine) == NOOK_MACHINE_STATE_BROKEN;
  GtkWidget *groups[] = { self->resources_group, self->disk_group, self->cdrom_group, self->screen_group,
                          self->sound_group };

  if (broken)
    {
      g_autofree char *description = g_strdup_printf (_("Fix the file by hand first. %s"),
                                                      nook_machine_get_message (self->machine));

      adw_preferences_group_set_title (self->notice_group, _("These Settings Cannot Be Changed"));
      adw_preferences_group_set_description (self->notice_group, description);
    }
  else if (nook_machine_is_active (self->machine))
    {
      adw_preferences_group_set_title (self->notice_group, _("The Machine Is Running"));
      adw_preferences_group_set_description (self->notice_group,
                                             _("Changes are saved at once and apply the next time it starts; a disc goes in its drive at once."));
    }
  gtk_widget_set_visible (GTK_WIDGET (self->notice_group), broken || nook_machine_is_active (self->machine));
  for (guint i = 0; i < G_N_ELEMENTS (groups); i++)
    gtk_widget_set_sensitive (groups[i], !broken);
}

static void
refresh_disk (NookMachineSettings *self)
{
  NookMachine *m = self->machine;
  const char *format = nook_machine_get_disk_format (m);
  g_autofree char *path = nook_machine_resolve_path (m, nook_machine_get_disk_path (m));
  g_autofree char *display = NULL;
  g_autoptr(GError) error = NULL;
  guint64 virtual_size, allocated;

  gtk_widget_set_visible (GTK_WIDGET (self->disk_format_row), path != NULL);
  gtk_widget_set_visible (GTK_WIDGET (self->disk_size_row), path != NULL);
  gtk_widget_set_visible (self->disk_readonly_row, path != NULL);
  if (!path)
    {
      adw_action_row_set_subtitle (self->disk_row, _("None"));
      return;
    }
  display = g_filename_display_name (path);
  adw_action_row_set_subtitle (self->disk_row, display);
  adw_action_row_set_subtitle (self->disk_format_row, g_str_equal (format, "qcow2") ? "QCOW2" : _("Raw"));
  gtk_switch_set_active (self->disk_readonly_switch, nook_machine_get_disk_readonly (m));
  if (nook_disk_get_size (path, format, &virtual_size, &allocated, &error))
    {
      g_autofree char *used = g_format_size_full (allocated, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *size = g_format_size_full (virtual_size, G_FORMAT_SIZE_IEC_UNITS);
      g_autofree char *text = g_strdup_printf (_("%s used of %s"), used, size);

      adw_action_row_set_subtitle (self->disk_size_row, text);
    }
  else
    adw_action_row_set_subtitle (self->disk_size_row, error->message);
}

static void
refresh (NookMachineSettings *self)
{
  NookMachine *m = self->machine;
  const char *cdrom = nook_machine_get_cdrom (m);

  self->refreshing = TRUE;
  gtk_spin_button_set_value (self->memory_spin, nook_machine_get_memory (m));
  gtk_spin_button_set_value (self->cpus_spin, nook_machine_get_cpus (m));

  for (guint i = 0; i < G_N_ELEMENTS (firmwares); i++)
    if (g_str_equal (nook_machine_get_firmware (m), firmwares[i]))
      adw_combo_row_set_selected (self->firmware_row, i);
  if (nook_machine_get_kernel (m))
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->firmware_row),
                                 _("Not used: the machine starts its Linux kernel directly"));
  else if (!nook_find_ovmf ())
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->firmware_row),
                                 _("UEFI firmware is not installed: install the ovmf package to use UEFI"));
  else
    adw_action_row_set_subtitle (ADW_ACTION_ROW (self->firmware_row), "");

  refresh_disk (self);

  if (cdrom)
    {
      g_autofree char *path = nook_machine_resolve_path (m, cdrom);
      g_autofree char *display = g_filename_display_name (path);

      adw_action_row_set_subtitle (self->cdrom_row, display);
    }
  else
    adw_action_row_set_subtitle (self->cdrom_row, _("Empty"));
  gtk_widget_set_sensitive (self->cdrom_eject_button, cdrom != NULL);

  for (guint i = 0; i < G_N_ELEMENTS (displays); i++)
    if (g_str_equal (nook_machine_get_display (m), displays[i]))
      adw_combo_row_set_selected (self->display_row, i);
  for (guint i = 0; i < G_N_ELEMENTS (sounds); i++)
    if (g_str_equal (nook_machine_get_sound (m), sounds[i]))
      adw_combo_row_set_selected (self->sound_row, i);
  self->refreshing = FALSE;
  update_notice (self);
}

/* ---- from the widgets to machine.ini ---- */

/* Saves the change made since @before was taken, or puts it back. */
static gboolean
commit (NookMachineSettings *self,
        Snapshot            *before)
{
  g_autoptr(GError) error = NULL;
  gboolean saved = nook_machine_save (self->machine, &error);

  if (!saved)
    {
      g_autofree char *msg = g_strdup_printf (_("The change is not saved: %s"), error->message);

      snapshot_restore (before, self->machine);
      show_message (self, msg);
    }
  refresh (self);
  return saved;
}

/* A number or a choice set through its widget, saved at once; not while
 * refresh() sets the widgets from the machine. */
static void
change_number (NookMachineSettings *self,
               void               (*set) (NookMachine *, guint),
               GtkSpinButton       *spin)
{
  g_auto(Snapshot) before = { 0 };

  if (self->refreshing)
    return;
  snapshot_take (&before, self->machine);
  set (self->machine, (guint) gtk_spin_button_get_value_as_int (spin));
  commit (self, &before);
}

static void
change_choice (NookMachineSettings *self,
               void               (*set) (NookMachine *, const char *),
               AdwComboRow         *row,
               const char *const   *choices,
               guint                n_choices)
{
  g_auto(Snapshot) before = { 0 };
  guint i = adw_combo_row_get_selected (row);

  if (self->refreshing || i >= n_choices)
    return;
  snapshot_take (&before, self->machine);
  set (self->machine, choices[i]);
  commit (self, &before);
}

static void
on_memory_changed (NookMachineSettings *self)
{
  change_number (self, nook_machine_set_memory, self->memory_spin);
}

static void
on_cpus_changed (NookMachineSettings *self)
{
  change_number (self, nook_machine_set_cpus, self->cpus_spin);
}

static void
on_firmware_changed (NookMachineSettings *self)
{
  change_choice (self, nook_machine_set_firmware, self->firmware_row, firmwares, G_N_ELEMENTS (firmwares));
}

static void
on_display_changed (NookMachineSettings *self)
{
  change_choice (self, nook_machine_set_display, self->display_row, displays, G_N_ELEMENTS (displays));
}

static void
on_sound_changed (NookMachineSettings *self)
{
  change_choice (self, nook_machine_set_sound, self->sound_row, sounds, G_N_ELEMENTS (sounds));
}

static void
on_readonly_changed (NookMachineSettings *self)
{
  g_auto(Snapshot) before = { 0 };
  NookMachine *m = self->machine;

  if (self->refreshing || !nook_machine_get_disk_path (m))
    return;
  snapshot_take (&before, m);
  nook_machine_set_disk (m, nook_machine_get_disk_path (m), nook_machine_get_disk_format (m),
                         gtk_switch_get_active (self->disk_readonly_switch));
  commit (self, &before);
}

static void change_disc_now (NookMachineSettings *self);

static void
on_eject (NookMachineSettings *self)
{
  g_auto(Snapshot) before = { 0 };

  snapshot_take (&before, self->machine);
  nook_machine_set_cdrom (self->machine, NULL);
  if (commit (self, &before))
    change_disc_now (self);
}

static void
on_disc_changed (GObject      *source,
                 GAsyncResult *result,
                 gpointer      user_data)
{
  g_autoptr(NookMachineSettings) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!nook_machine_execute_finish (NOOK_MACHINE (source), result, &error) &&
      !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      g_autofree char *msg = g_strdup_printf (_("The disc is changed from the next start: %s"), error->message);

      show_message (self, msg);
    }
}

/* A running machine gets the new disc, or none, in its drive at once. */
static void
change_disc_now (NookMachineSettings *self)
{
  NookMachineState state = nook_machine_get_state (self->machine);

  if (state == NOOK_MACHINE_STATE_RUNNING || state == NOOK_MACHINE_STATE_PAUSED)
    nook_machine_change_disc (self->machine, NULL, on_disc_changed, g_object_ref (self));
}

/* ---- chosen files ---- */

static char *
get_local_path (NookMachineSettings *self,
                GFile               *file)
{
  char *path = g_file_get_path (file);

  if (!path)
    {
      g_autofree char *uri = g_file_get_uri (file);
      g_autofree char *msg = g_strdup_printf (_("%s is not a local file: copy it to this computer first"), uri);

      show_message (self, msg);
    }
  return path;
}

static gboolean
is_blank_disk (const char *path)
{
  struct stat st;

  return stat (path, &st) == 0 && S_ISREG (st.st_mode) &&
         (guint64) st.st_size >= BLANK_DISK_MIN && st.st_size % 512 == 0;
}

/**
 * nook_machine_settings_set_disk_file:
 *
 * What choosing @file as the machine's disk does: a raw or qcow2 image (or
 * a blank raw one) becomes the disk and is saved; anything else is refused
 * with a message and machine.ini is left as it is.
 *
 * Returns: whether @file is the machine's disk now
 */
gboolean
nook_machine_settings_set_disk_file (NookMachineSettings *self,
                                     GFile               *file)
{
  g_autofree char *path = NULL;
  g_autofree char *display = NULL;
  g_autofree char *refusal = NULL;
  g_autoptr(NookMedia) media = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(Snapshot) before = { 0 };
  const char *format = "raw";

  g_return_val_if_fail (NOOK_IS_MACHINE_SETTINGS (self), FALSE);

  path = get_local_path (self, file);
  if (!path)
    return FALSE;
  display = g_filename_display_name (path);
  media = nook_media_probe (path, &error);
  if (g_error_matches (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_FOLDER))
    refusal = g_strdup_printf (_("%s is a folder: choose a disk image file"), display);
  else if (g_error_matches (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_NOT_AN_IMAGE) && !is_blank_disk (path))
    refusal = g_strdup_printf (_("%s is not a disk image that Nook knows (raw or qcow2)"), display);
  else if (error && !g_error_matches (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_NOT_AN_IMAGE))
    refusal = g_strdup (error->message);
  else if (media && nook_media_get_kind (media) == NOOK_MEDIA_KIND_INSTALLER)
    refusal = g_strdup_printf (_("%s is an installer image: choose it for the CD-ROM instead"), display);
  else if (media && nook_media_get_kind (media) == NOOK_MEDIA_KIND_KERNEL)
    refusal = g_strdup_printf (_("%s is a Linux kernel, not a disk image"), display);
  else if (media)
    format = nook_media_get_format (media);
  if (refusal)
    {
      show_message (self, refusal);
      return FALSE;
    }

  snapshot_take (&before, self->machine);
  nook_machine_set_disk (self->machine, path, format, nook_machine_get_disk_readonly (self->machine));
  return commit (self, &before);
}

/**
 * nook_machine_settings_set_cdrom_file:
 *
 * What choosing @file for the CD-ROM does: an ISO installer image goes in
 * and is saved; a folder, an unreadable file or anything else is refused
 * with a message and machine.ini is left as it is.
 *
 * Returns: whether @file is in the CD-ROM drive now
 */
gboolean
nook_machine_settings_set_cdrom_file (NookMachineSettings *self,
                                      GFile               *file)
{
  g_autofree char *path = NULL;
  g_autofree char *display = NULL;
  g_autofree char *refusal = NULL;
  g_autoptr(NookMedia) media = NULL;
  g_autoptr(GError) error = NULL;
  g_auto(Snapshot) before = { 0 };

  g_return_val_if_fail (NOOK_IS_MACHINE_SETTINGS (self), FALSE);

  path = get_local_path (self, file);
  if (!path)
    return FALSE;
  display = g_filename_display_name (path);
  media = nook_media_probe (path, &error);
  if (g_error_matches (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_FOLDER))
    refusal = g_strdup_printf (_("%s is a folder: choose an ISO image"), display);
  else if (g_error_matches (error, NOOK_MEDIA_ERROR, NOOK_MEDIA_ERROR_UNREADABLE))
    refusal = g_strdup (error->message);
  else if (!media || nook_media_get_kind (media) != NOOK_MEDIA_KIND_INSTALLER)
    refusal = g_strdup_printf (_("%s is not an ISO image: only installer images go in the CD-ROM drive"), display);
  if (refusal)
    {
      show_message (self, refusal);
      return FALSE;
    }

  snapshot_take (&before, self->machine);
  nook_machine_set_cdrom (self->machine, path);
  if (!commit (self, &before))
    return FALSE;
  change_disc_now (self);
  return TRUE;
}

static void
close_chooser (NookMachineSettings *self)
{
  if (!self->chooser)
    return;
  gtk_native_dialog_destroy (GTK_NATIVE_DIALOG (self->chooser));
  g_clear_object (&self->chooser);
}

static void
on_chooser_response (NookMachineSettings *self,
                     int                  response)
{
  g_autoptr(GFile) file = NULL;

  /* The chooser hides itself; it is dropped at the next choice or with the
   * window, not while it emits. */
  if (response == GTK_RESPONSE_ACCEPT)
    file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (self->chooser));
  if (file && self->choosing_cdrom)
    nook_machine_settings_set_cdrom_file (self, file);
  else if (file)
    nook_machine_settings_set_disk_file (self, file);
}

static void
open_chooser (NookMachineSettings *self,
              gboolean             cdrom)
{
  g_autoptr(GtkFileFilter) images = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) all = gtk_file_filter_new ();
  const char *current = cdrom ? nook_machine_get_cdrom (self->machine) : nook_machine_get_disk_path (self->machine);
  g_autofree char *current_path = nook_machine_resolve_path (self->machine, current);

  close_chooser (self);
  self->choosing_cdrom = cdrom;
  self->chooser = gtk_file_chooser_native_new (cdrom ? _("Choose an ISO Image") : _("Choose a Disk Image"),
                                               GTK_WINDOW (self), GTK_FILE_CHOOSER_ACTION_OPEN,
                                               _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (self->chooser), TRUE);
  if (cdrom)
    {
      gtk_file_filter_set_name (images, _("ISO images"));
      gtk_file_filter_add_mime_type (images, "application/x-cd-image");
      gtk_file_filter_add_suffix (images, "iso");
    }
  else
    {
      gtk_file_filter_set_name (images, _("Disk images"));
      gtk_file_filter_add_mime_type (images, "application/x-raw-disk-image");
      gtk_file_filter_add_mime_type (images, "application/x-qemu-disk");
      gtk_file_filter_add_suffix (images, "img");
      gtk_file_filter_add_suffix (images, "raw");
      gtk_file_filter_add_suffix (images, "qcow2");
    }
  gtk_file_filter_set_name (all, _("All files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), images);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (self->chooser), all);
  if (current_path)
    {
      g_autoptr(GFile) file = g_file_new_for_path (current_path);
      g_autoptr(GFile) folder = g_file_get_parent (file);

      if (folder)
        gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (self->chooser), folder, NULL);
    }
  g_signal_connect_swapped (self->chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (self->chooser));
}

static void
on_choose_disk (NookMachineSettings *self)
{
  open_chooser (self, FALSE);
}

static void
on_choose_cdrom (NookMachineSettings *self)
{
  open_chooser (self, TRUE);
}

/* ---- window ---- */

static void
nook_machine_settings_dispose (GObject *object)
{
  NookMachineSettings *self = NOOK_MACHINE_SETTINGS (object);

  close_chooser (self);
  if (self->machine)
    g_signal_handlers_disconnect_by_data (self->machine, self);
  gtk_widget_dispose_template (GTK_WIDGET (self), NOOK_TYPE_MACHINE_SETTINGS);
  g_clear_object (&self->machine);
  G_OBJECT_CLASS (nook_machine_settings_parent_class)->dispose (object);
}

static void
nook_machine_settings_finalize (GObject *object)
{
  NookMachineSettings *self = NOOK_MACHINE_SETTINGS (object);

  g_free (self->last_message);
  G_OBJECT_CLASS (nook_machine_settings_parent_class)->finalize (object);
}

static void
nook_machine_settings_class_init (NookMachineSettingsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nook_machine_settings_dispose;
  object_class->finalize = nook_machine_settings_finalize;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nook/Nook/ui/nook-machine-settings.ui");
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, notice_group);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, resources_group);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, disk_group);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, cdrom_group);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, screen_group);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, memory_spin);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, cpus_spin);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, firmware_row);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, disk_row);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, disk_format_row);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, disk_size_row);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, disk_readonly_row);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, disk_readonly_switch);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, disk_choose_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, cdrom_row);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, cdrom_choose_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, cdrom_eject_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, display_row);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, sound_group);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, sound_row);
}

static void
nook_machine_settings_init (NookMachineSettings *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

NookMachineSettings *
nook_machine_settings_new (GtkWindow   *parent,
                           NookMachine *machine)
{
  NookMachineSettings *self;
  g_autofree char *title = NULL;

  g_return_val_if_fail (NOOK_IS_MACHINE (machine), NULL);

  title = g_strdup_printf (_("%s Settings"), nook_machine_get_name (machine));
  self = g_object_new (NOOK_TYPE_MACHINE_SETTINGS, "transient-for", parent, "title", title, NULL);
  self->machine = g_object_ref (machine);
  refresh (self);
  g_signal_connect_swapped (self->memory_spin, "value-changed", G_CALLBACK (on_memory_changed), self);
  g_signal_connect_swapped (self->cpus_spin, "value-changed", G_CALLBACK (on_cpus_changed), self);
  g_signal_connect_swapped (self->firmware_row, "notify::selected", G_CALLBACK (on_firmware_changed), self);
  g_signal_connect_swapped (self->display_row, "notify::selected", G_CALLBACK (on_display_changed), self);
  g_signal_connect_swapped (self->sound_row, "notify::selected", G_CALLBACK (on_sound_changed), self);
  g_signal_connect_swapped (self->disk_readonly_switch, "notify::active", G_CALLBACK (on_readonly_changed), self);
  g_signal_connect_swapped (self->disk_choose_button, "clicked", G_CALLBACK (on_choose_disk), self);
  g_signal_connect_swapped (self->cdrom_choose_button, "clicked", G_CALLBACK (on_choose_cdrom), self);
  g_signal_connect_swapped (self->cdrom_eject_button, "clicked", G_CALLBACK (on_eject), self);
  /* The disk grows while the machine runs: its size is shown anew too. */
  g_signal_connect_object (machine, "notify::state", G_CALLBACK (refresh), self, G_CONNECT_SWAPPED);
  return self;
}

const char *
nook_machine_settings_get_last_message (NookMachineSettings *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_SETTINGS (self), NULL);

  return self->last_message;
}
