/* NookMachineRow: shows a NookMachine and drives it. Power actions go to
 * the machine; rename, settings, log and delete ask the window, which owns
 * the dialogs and the library. A machine that runs shows a small picture
 * of its screen instead of its icon. */
#include "nook-machine-row-private.h"

#include <glib/gi18n.h>

/* The picture's width in pixels; its height follows the guest's screen. */
#define THUMBNAIL_WIDTH       80
#define THUMBNAIL_INTERVAL_MS 2000

struct _NookMachineRow
{
  AdwBin parent_instance;

  /* template widgets */
  GtkWidget *icon;
  GtkPicture *screen_picture;
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
  GCancellable *thumbnail_cancellable;  /* the refresh under way, else NULL */
  guint thumbnail_source;
  guint thumbnail_count;                /* pictures shown so far */
};

G_DEFINE_FINAL_TYPE (NookMachineRow, nook_machine_row, ADW_TYPE_BIN)

static void refresh_thumbnail (NookMachineRow *self);

static void
stop_thumbnail (NookMachineRow *self)
{
  g_clear_handle_id (&self->thumbnail_source, g_source_remove);
  g_cancellable_cancel (self->thumbnail_cancellable);
  g_clear_object (&self->thumbnail_cancellable);
}

static void
on_thumbnail_tick (gpointer user_data)
{
  NookMachineRow *self = user_data;

  self->thumbnail_source = 0;
  refresh_thumbnail (self);
}

/* Decoding and scaling happen off the main thread. */
static void
load_thumbnail (GTask        *task,
                gpointer      source,
                gpointer      task_data,
                GCancellable *cancellable)
{
  GError *error = NULL;
  GdkPixbuf *pixbuf = gdk_pixbuf_new_from_file_at_scale (task_data, THUMBNAIL_WIDTH, -1, TRUE, &error);

  if (pixbuf)
    g_task_return_pointer (task, pixbuf, g_object_unref);
  else
    g_task_return_error (task, error);
}

/* The next refresh while the screen can change (running) and is seen
 * (mapped); a paused machine keeps its last picture. */
static void
schedule_thumbnail (NookMachineRow *self)
{
  if (nook_machine_get_state (self->machine) == NOOK_MACHINE_STATE_RUNNING &&
      gtk_widget_get_mapped (GTK_WIDGET (self)) && !self->thumbnail_source)
    self->thumbnail_source = g_timeout_add_once (THUMBNAIL_INTERVAL_MS, on_thumbnail_tick, self);
}

static void
on_thumbnail_loaded (GObject      *source,
                     GAsyncResult *result,
                     gpointer      user_data)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (source);
  GCancellable *cancellable = g_task_get_cancellable (G_TASK (result));
  g_autoptr(GdkPixbuf) pixbuf = NULL;
  g_autoptr(GdkTexture) texture = NULL;
  g_autoptr(GError) error = NULL;

  pixbuf = g_task_propagate_pointer (G_TASK (result), &error);
  /* Cancelled: whoever cancelled has moved on. */
  if (g_cancellable_is_cancelled (cancellable))
    return;
  g_clear_object (&self->thumbnail_cancellable);
  if (!pixbuf)
    g_debug ("%s: %s", nook_machine_get_id (self->machine), error->message);
  else
    {
      texture = gdk_texture_new_for_pixbuf (pixbuf);
      gtk_picture_set_paintable (self->screen_picture, GDK_PAINTABLE (texture));
      gtk_widget_set_visible (GTK_WIDGET (self->screen_picture), TRUE);
      gtk_widget_set_visible (self->icon, FALSE);
      self->thumbnail_count++;
    }
  schedule_thumbnail (self);
}

static void
on_screendump (GObject      *source,
               GAsyncResult *result,
               gpointer      user_data)
{
  g_autoptr(NookMachineRow) self = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GTask) task = NULL;

  if (!nook_machine_screendump_finish (NOOK_MACHINE (source), result, &error))
    {
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        return;
      /* No picture this time (no graphics card, the machine going away):
       * the icon or the last picture stays. */
      g_debug ("%s: %s", nook_machine_get_id (self->machine), error->message);
      g_clear_object (&self->thumbnail_cancellable);
      schedule_thumbnail (self);
      return;
    }
  task = g_task_new (self, self->thumbnail_cancellable, on_thumbnail_loaded, NULL);
  g_task_set_source_tag (task, on_screendump);
  g_task_set_task_data (task, nook_machine_get_thumbnail_path (self->machine), g_free);
  g_task_run_in_thread (task, load_thumbnail);
}

/* nook-vmm writes its screen to a file in the runtime folder, which a
 * thread reads: the main loop never waits on either. */
static void
refresh_thumbnail (NookMachineRow *self)
{
  g_autofree char *path = NULL;

  if (self->thumbnail_cancellable)
    return;
  self->thumbnail_cancellable = g_cancellable_new ();
  path = nook_machine_get_thumbnail_path (self->machine);
  nook_machine_screendump (self->machine, path, self->thumbnail_cancellable, on_screendump, g_object_ref (self));
}

/* Picture or icon, and whether to refresh the picture, from the state and
 * whether the row is seen. */
static void
update_thumbnail (NookMachineRow *self)
{
  NookMachineState state = nook_machine_get_state (self->machine);
  gboolean has_screen = state == NOOK_MACHINE_STATE_RUNNING || state == NOOK_MACHINE_STATE_PAUSED;
  g_autofree char *description = NULL;

  description = g_strdup_printf (_("Screen of %s"), nook_machine_get_name (self->machine));
  gtk_picture_set_alternative_text (self->screen_picture, description);

  if (!has_screen)
    {
      stop_thumbnail (self);
      gtk_picture_set_paintable (self->screen_picture, NULL);
      gtk_widget_set_visible (GTK_WIDGET (self->screen_picture), FALSE);
      gtk_widget_set_visible (self->icon, TRUE);
      return;
    }
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    {
      stop_thumbnail (self);
      return;
    }
  if (state == NOOK_MACHINE_STATE_RUNNING)
    {
      if (!self->thumbnail_source && !self->thumbnail_cancellable)
        refresh_thumbnail (self);
    }
  else
    {
      g_clear_handle_id (&self->thumbnail_source, g_source_remove);
      /* Paused before any picture came (an adopted machine): one. */
      if (!gtk_picture_get_paintable (self->screen_picture))
        refresh_thumbnail (self);
    }
}

/* Enablement and visibility of every action, from the machine's state. */
static void
update (NookMachineRow *self)
{
  NookMachineState state = nook_machine_get_state (self->machine);
  gboolean running = state == NOOK_MACHINE_STATE_RUNNING;
  gboolean paused = state == NOOK_MACHINE_STATE_PAUSED;
  gboolean can_start = state == NOOK_MACHINE_STATE_STOPPED || state == NOOK_MACHINE_STATE_CRASHED ||
                       state == NOOK_MACHINE_STATE_FAILED_TO_START;
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

  update_thumbnail (self);
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
nook_machine_row_map (GtkWidget *widget)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (widget);

  GTK_WIDGET_CLASS (nook_machine_row_parent_class)->map (widget);
  if (self->machine)
    update_thumbnail (self);
}

static void
nook_machine_row_unmap (GtkWidget *widget)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (widget);

  stop_thumbnail (self);
  GTK_WIDGET_CLASS (nook_machine_row_parent_class)->unmap (widget);
}

static void
nook_machine_row_dispose (GObject *object)
{
  NookMachineRow *self = NOOK_MACHINE_ROW (object);

  stop_thumbnail (self);
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
  widget_class->map = nook_machine_row_map;
  widget_class->unmap = nook_machine_row_unmap;

  gtk_widget_class_set_template_from_resource (widget_class, "/org/nook/Nook/ui/nook-machine-row.ui");
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, icon);
  gtk_widget_class_bind_template_child (widget_class, NookMachineRow, screen_picture);
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

GtkPicture *
nook_machine_row_get_screen_picture (NookMachineRow *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_ROW (self), NULL);
  return self->screen_picture;
}

guint
nook_machine_row_get_thumbnail_count (NookMachineRow *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_ROW (self), 0);
  return self->thumbnail_count;
}

gboolean
nook_machine_row_get_refreshing (NookMachineRow *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_ROW (self), FALSE);
  return self->thumbnail_source != 0 || self->thumbnail_cancellable != NULL;
}
