/* NookMachineSettings: every change is saved to machine.ini at once. */
#include "nook-machine-settings.h"

#include <glib/gi18n.h>

struct _NookMachineSettings
{
  AdwPreferencesWindow parent_instance;

  /* template widgets */
  AdwPreferencesGroup *group;
  GtkSpinButton *memory_spin;
  GtkSpinButton *cpus_spin;
  AdwComboRow *display_row;

  /* owned */
  NookMachine *machine;
};

G_DEFINE_FINAL_TYPE (NookMachineSettings, nook_machine_settings, ADW_TYPE_PREFERENCES_WINDOW)

/* In the order of display_row's items. */
static const char *const displays[] = { "spice", "sdl", "none" };

static void
save (NookMachineSettings *self)
{
  g_autoptr(GError) error = NULL;

  nook_machine_set_memory (self->machine, (guint) gtk_spin_button_get_value_as_int (self->memory_spin));
  nook_machine_set_cpus (self->machine, (guint) gtk_spin_button_get_value_as_int (self->cpus_spin));
  nook_machine_set_display (self->machine,
                            displays[MIN (adw_combo_row_get_selected (self->display_row), G_N_ELEMENTS (displays) - 1)]);
  if (!nook_machine_save (self->machine, &error))
    adw_preferences_window_add_toast (ADW_PREFERENCES_WINDOW (self), adw_toast_new (error->message));
}

static void
nook_machine_settings_dispose (GObject *object)
{
  NookMachineSettings *self = NOOK_MACHINE_SETTINGS (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), NOOK_TYPE_MACHINE_SETTINGS);
  g_clear_object (&self->machine);
  G_OBJECT_CLASS (nook_machine_settings_parent_class)->dispose (object);
}

static void
nook_machine_settings_class_init (NookMachineSettingsClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nook_machine_settings_dispose;
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nook/Nook/ui/nook-machine-settings.ui");
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, group);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, memory_spin);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, cpus_spin);
  gtk_widget_class_bind_template_child (widget_class, NookMachineSettings, display_row);
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
  gtk_spin_button_set_value (self->memory_spin, nook_machine_get_memory (machine));
  gtk_spin_button_set_value (self->cpus_spin, nook_machine_get_cpus (machine));
  for (guint i = 0; i < G_N_ELEMENTS (displays); i++)
    if (g_str_equal (nook_machine_get_display (machine), displays[i]))
      adw_combo_row_set_selected (self->display_row, i);
  g_signal_connect_swapped (self->memory_spin, "value-changed", G_CALLBACK (save), self);
  g_signal_connect_swapped (self->display_row, "notify::selected", G_CALLBACK (save), self);
  g_signal_connect_swapped (self->cpus_spin, "value-changed", G_CALLBACK (save), self);
  return self;
}
