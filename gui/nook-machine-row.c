/* NookMachineRow: shows a NookMachine and drives it. Power actions go to
 * the machine; rename, settings, log and delete ask the window, which owns
 * the dialogs and the library. */
#include "nook-machine-row.h"

#include <glib/gi18n.h>

struct _NookMachineRow
{
  AdwBin parent_instance;

  /* template widgets */
  GtkLabel *name_label;
  GtkLabel *os_label;
  GtkLabel *state_label;
  GtkLabel *message_label;
  GtkWidget *show_button;
  GtkWidget *start_button;
  GtkWidget *pause_button;
  GtkWidget *resume_button;

  /* owned */
  NookMachine *machine;
};

G_DEFINE_FINAL_TYPE (NookMachineRow, nook_machine_row, ADW_TYPE_BIN)

/* Enablement and visibility of every action, from the machine's state. */
static void
update (NookMachineRow *self)
{
  NookMachineState state = nook_machine_get_state (self->machine);
  gboolean running = state == NOOK_MACHINE_STATE_RUNNING;
  gboolean paused = state == NOOK_MACHINE_STATE_PAUSED;
  gboolean can_start = state == NOOK_MACHINE_STATE_STOPPED || state == NOOK_MACHINE_STATE_CRASHED;
  gboolean active = nook_machine_is_active (self->machine);
  gboolean broken = state == NOOK_MACHINE_STATE_BROKEN;
  const char *os = nook_machine_get_os_name (self->machine);
  const char *message = nook_machine_get_message (self->machine);
  g_autofree char *a11y = NULL;

  gtk_label_set_label (self->name_label, nook_machine_get_name (self->machine));
  gtk_label_set_label (self->os_label, os ? os : _("Unknown operating system"));
  gtk_label_set_label (self->state_label, nook_machine_state_to_string (state));
  gtk_label_set_label (self->message_label, message ? message : "");
  gtk_widget_set_visible (GTK_WIDGET (self->message_label), message != NULL);
  gtk_widget_set_tooltip_text (GTK_WIDGET (self->message_label), message);

  gtk_widget_set_visible (self->show_button, active && g_str_equal (nook_machine_get_display (self->machine), "spice"));
  gtk_widget_set_visible (self->start_button, !running && !paused);
  gtk_widget_set_visible (self->pause_button, running);
  gtk_widget_set_visible (self->resume_button, paused);

  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.start", can_start);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.pause", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.resume", paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.reset", running || paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.power-off", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.force-off", active);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.rename", !broken);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "machine.settings", !broken);

  a11y = g_strdup_printf ("%s, %s", nook_machine_get_name (self->machine), nook_machine_state_to_string (state));
  gtk_accessible_update_property (GTK_ACCESSIBLE (self), GTK_ACCESSIBLE_PROPERTY_LABEL, a11y, -1);
}

static void
report (NookMachineRow *self,
        const char     *message)
{
  gtk_widget_activate_action (GTK_WIDGET (self), "win.toast", "s", message);
}

static void
on_executed (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(NookMachineRow) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!nook_machine_execute_finish (NOOK_MACHINE (source), result, &error))
    {
      g_autofree char *msg = g_strdup_printf ("%s: %s", nook_machine_get_name (self->machine), error->message);

      report (self, msg);
    }
}

static void
execute (NookMachineRow *self,
         const char     *command)
{
  nook_machine_execute (self->machine, command, NULL, on_executed, g_object_ref (self));
}

static void window_action (GtkWidget  *widget,
                           const char *name,
                           GVariant   *param);

static void
start_action (GtkWidget  *widget,
              const char *name,
              GVariant   *param)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (widget);
  g_autoptr(GError) error = NULL;

  if (!nook_machine_start (self->machine, &error))
    report (self, error->message);
  else if (g_str_equal (nook_machine_get_display (self->machine), "spice"))
    window_action (widget, "machine.show", NULL);
}

static void
command_action (GtkWidget  *widget,
                const char *name,
                GVariant   *param)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (widget);
  const char *action = strchr (name, '.') + 1;

  if (g_str_equal (action, "power-off"))
    execute (self, "powerdown");
  else if (g_str_equal (action, "force-off"))
    execute (self, "quit");
  else
    execute (self, action);
}

/* machine.rename -> win.rename-machine(id), and so on. */
static void
window_action (GtkWidget  *widget,
               const char *name,
               GVariant   *param)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (widget);
  g_autofree char *win_action = g_strdup_printf ("win.%s-machine", strchr (name, '.') + 1);

  gtk_widget_activate_action (widget, win_action, "s", nook_machine_get_id (self->machine));
}

static void
nook_machine_row_dispose (GObject *object)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (object);

  gtk_widget_dispose_template (GTK_WIDGET (self), NOOK_TYPE_MACHINE_ROW);
  g_clear_object (&self->machine);
  G_OBJECT_CLASS (nook_machine_row_parent_class)->dispose (object);
}

static void
nook_machine_row_class_init (NookMachineRowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nook_machine_row_dispose;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/nook/Nook/ui/nook-machine-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, name_label);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, os_label);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, state_label);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, message_label);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, show_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, start_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, pause_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, resume_button);

  gtk_widget_class_install_action (widget_class, "machine.start", NULL, start_action);
  gtk_widget_class_install_action (widget_class, "machine.pause", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "machine.resume", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "machine.reset", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "machine.power-off", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "machine.force-off", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "machine.show", NULL, window_action);
  gtk_widget_class_install_action (widget_class, "machine.rename", NULL, window_action);
  gtk_widget_class_install_action (widget_class, "machine.settings", NULL, window_action);
  gtk_widget_class_install_action (widget_class, "machine.show-log", NULL, window_action);
  gtk_widget_class_install_action (widget_class, "machine.delete", NULL, window_action);

  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_GROUP);
}

static void
nook_machine_row_init (NookMachineRow *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
}

GtkWidget *
nook_machine_row_new (NookMachine *machine)
{
  NookMachineRow *self;

  g_return_val_if_fail (NOOK_IS_MACHINE (machine), NULL);

  self = g_object_new (NOOK_TYPE_MACHINE_ROW, NULL);
  self->machine = g_object_ref (machine);
  g_signal_connect_object (machine, "notify", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  update (self);
  return GTK_WIDGET (self);
}

NookMachine *
nook_machine_row_get_machine (NookMachineRow *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_ROW (self), NULL);
  return self->machine;
}
