/* NookCreationDialog: shows what the dropped file is, proposes memory,
 * processors, disk size and firmware, and creates the machine. */
#include "nook-creation-dialog-private.h"

#include <glib/gi18n.h>

struct _NookCreationDialog
{
  AdwWindow parent_instance;

  /* template widgets */
  AdwEntryRow *name_row;
  AdwActionRow *source_row;
  AdwActionRow *kind_row;
  AdwActionRow *os_row;
  GtkSpinner *os_spinner;
  GtkLabel *note_label;
  GtkSpinButton *memory_spin;
  GtkSpinButton *cpus_spin;
  GtkSpinButton *disk_spin;
  GtkWidget *disk_row;
  AdwComboRow *firmware_row;
  GtkLabel *error_label;

  /* owned */
  NookLibrary *library;
  NookMedia *media;
  GCancellable *cancellable;
  gboolean identifying;
};

G_DEFINE_FINAL_TYPE (NookCreationDialog, nook_creation_dialog, ADW_TYPE_WINDOW)

enum {
  SIGNAL_CREATED,
  SIGNAL_IDENTIFIED,
  N_SIGNALS
};

static guint signals[N_SIGNALS];

static void
show_error (NookCreationDialog *self,
            const char         *message)
{
  gtk_label_set_label (self->error_label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->error_label), message != NULL);
}

static void
update_actions (NookCreationDialog *self)
{
  const char *name = gtk_editable_get_text (GTK_EDITABLE (self->name_row));
  g_autofree char *trimmed = g_strstrip (g_strdup (name));

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "creation.create", !self->identifying && *trimmed != '\0');
}

static void
fill_from_media (NookCreationDialog *self)
{
  NookMedia *m = self->media;
  gboolean installer = nook_media_get_kind (m) == NOOK_MEDIA_KIND_INSTALLER;

  gtk_spin_button_set_value (self->memory_spin, nook_media_get_memory (m));
  gtk_spin_button_set_value (self->cpus_spin, nook_media_get_cpus (m));
  gtk_spin_button_set_value (self->disk_spin, (double) (nook_media_get_disk_size (m) >> 30));
  adw_combo_row_set_selected (self->firmware_row, g_str_equal (nook_media_get_firmware (m), "uefi") ? 1 : 0);
  gtk_widget_set_visible (self->disk_row, installer);

  if (nook_media_get_os_known (m))
    adw_action_row_set_subtitle (self->os_row, nook_media_get_os_name (m));
  else if (installer)
    adw_action_row_set_subtitle (self->os_row, _("Unknown"));
  else
    adw_action_row_set_subtitle (self->os_row, _("Not detected for this kind of file"));
  gtk_widget_set_visible (GTK_WIDGET (self->note_label), installer && !nook_media_get_os_known (m));
}

static void
on_identified (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  NookCreationDialog *self;
  g_autoptr(GError) error = NULL;

  if (!nook_media_identify_finish (NOOK_MEDIA (source), result, &error) &&
      g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = NOOK_CREATION_DIALOG (user_data);
  self->identifying = FALSE;
  gtk_spinner_stop (self->os_spinner);
  gtk_widget_set_visible (GTK_WIDGET (self->os_spinner), FALSE);
  fill_from_media (self);
  if (error)
    show_error (self, error->message);
  update_actions (self);
  g_signal_emit (self, signals[SIGNAL_IDENTIFIED], 0);
}

static guint64
disk_bytes (NookCreationDialog *self)
{
  return (guint64) gtk_spin_button_get_value_as_int (self->disk_spin) << 30;
}

NookMachine *
nook_creation_dialog_create (NookCreationDialog  *self,
                             GError             **error)
{
  g_autoptr(NookMachine) draft = NULL;
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (GTK_EDITABLE (self->name_row))));
  NookMedia *m = self->media;
  const char *path = nook_media_get_path (m);
  guint64 new_disk = 0;

  if (!*name)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT, _("The machine needs a name"));
      return NULL;
    }
  draft = nook_machine_new_draft (name);
  if (nook_media_get_os_known (m))
    nook_machine_set_os (draft, nook_media_get_os_id (m), nook_media_get_os_name (m));
  nook_machine_set_memory (draft, (guint) gtk_spin_button_get_value_as_int (self->memory_spin));
  nook_machine_set_cpus (draft, (guint) gtk_spin_button_get_value_as_int (self->cpus_spin));
  nook_machine_set_firmware (draft, adw_combo_row_get_selected (self->firmware_row) == 1 ? "uefi" : "bios");
  switch (nook_media_get_kind (m))
    {
    case NOOK_MEDIA_KIND_INSTALLER:
      nook_machine_set_cdrom (draft, path);
      new_disk = disk_bytes (self);
      break;
    case NOOK_MEDIA_KIND_DISK:
      nook_machine_set_disk (draft, path, nook_media_get_format (m), FALSE);
      break;
    case NOOK_MEDIA_KIND_KERNEL:
      nook_machine_set_kernel (draft, path, NULL, "console=ttyS0");
      break;
    default:
      g_assert_not_reached ();
    }
  if (!nook_library_create_machine (self->library, draft, new_disk, error))
    return NULL;
  return draft;
}

static void
create_action (GtkWidget  *widget,
               const char *name,
               GVariant   *param)
{
  NookCreationDialog *self = NOOK_CREATION_DIALOG (widget);
  g_autoptr(GError) error = NULL;
  NookMachine *machine;

  show_error (self, NULL);
  machine = nook_creation_dialog_create (self, &error);
  if (!machine)
    {
      show_error (self, error->message);
      return;
    }
  g_signal_emit (self, signals[SIGNAL_CREATED], 0, machine);
  gtk_window_destroy (GTK_WINDOW (self));
}

static void
nook_creation_dialog_dispose (GObject *object)
{
  NookCreationDialog *self = NOOK_CREATION_DIALOG (object);

  g_cancellable_cancel (self->cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), NOOK_TYPE_CREATION_DIALOG);
  g_clear_object (&self->library);
  g_clear_object (&self->media);
  g_clear_object (&self->cancellable);
  G_OBJECT_CLASS (nook_creation_dialog_parent_class)->dispose (object);
}

static void
nook_creation_dialog_class_init (NookCreationDialogClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nook_creation_dialog_dispose;

  signals[SIGNAL_CREATED] =
    g_signal_new ("created", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 1, NOOK_TYPE_MACHINE);
  signals[SIGNAL_IDENTIFIED] =
    g_signal_new ("identified", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                  0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  gtk_widget_class_set_template_from_resource (widget_class, "/org/nook/Nook/ui/nook-creation-dialog.ui");
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, name_row);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, source_row);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, kind_row);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, os_row);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, os_spinner);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, note_label);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, memory_spin);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, cpus_spin);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, disk_spin);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, disk_row);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, firmware_row);
  gtk_widget_class_bind_template_child (widget_class, NookCreationDialog, error_label);

  gtk_widget_class_install_action (widget_class, "creation.create", NULL, create_action);
  gtk_widget_class_add_binding_action (widget_class, GDK_KEY_Escape, 0, "window.close", NULL);
}

static void
nook_creation_dialog_init (NookCreationDialog *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  self->cancellable = g_cancellable_new ();
  g_signal_connect_swapped (self->name_row, "changed", G_CALLBACK (update_actions), self);
}

NookCreationDialog *
nook_creation_dialog_new (GtkWindow   *parent,
                          NookLibrary *library,
                          NookMedia   *media)
{
  NookCreationDialog *self;
  g_autofree char *display = NULL;

  g_return_val_if_fail (NOOK_IS_LIBRARY (library), NULL);
  g_return_val_if_fail (NOOK_IS_MEDIA (media), NULL);

  self = g_object_new (NOOK_TYPE_CREATION_DIALOG, "transient-for", parent, NULL);
  self->library = g_object_ref (library);
  self->media = g_object_ref (media);

  display = g_filename_display_name (nook_media_get_path (media));
  gtk_editable_set_text (GTK_EDITABLE (self->name_row), nook_media_get_suggested_name (media));
  adw_action_row_set_subtitle (self->source_row, display);
  adw_action_row_set_subtitle (self->kind_row, nook_media_get_kind_label (media));
  fill_from_media (self);

  if (nook_media_get_kind (media) == NOOK_MEDIA_KIND_INSTALLER)
    {
      self->identifying = TRUE;
      adw_action_row_set_subtitle (self->os_row, _("Detecting…"));
      gtk_widget_set_visible (GTK_WIDGET (self->note_label), FALSE);
      gtk_spinner_start (self->os_spinner);
      nook_media_identify_async (media, self->cancellable, on_identified, self);
    }
  else
    gtk_widget_set_visible (GTK_WIDGET (self->os_spinner), FALSE);
  update_actions (self);
  return self;
}

gboolean
nook_creation_dialog_is_identifying (NookCreationDialog *self)
{
  return self->identifying;
}

const char *
nook_creation_dialog_get_name (NookCreationDialog *self)
{
  return gtk_editable_get_text (GTK_EDITABLE (self->name_row));
}

const char *
nook_creation_dialog_get_os_text (NookCreationDialog *self)
{
  return adw_action_row_get_subtitle (self->os_row);
}

gboolean
nook_creation_dialog_get_note_shown (NookCreationDialog *self)
{
  return gtk_widget_get_visible (GTK_WIDGET (self->note_label));
}

guint
nook_creation_dialog_get_memory (NookCreationDialog *self)
{
  return (guint) gtk_spin_button_get_value_as_int (self->memory_spin);
}
