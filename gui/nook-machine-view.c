/* NookMachineView: shows the machine's screen while it runs and its state
 * (and why, when it crashed or could not start) once it has stopped. Power actions go to the
 * machine; back and settings ask the window. With a sound card, the header
 * mutes the guest (in nook-vmm, for every client) and turns the microphone
 * on or off (remembered in machine.ini). */
#include "nook-machine-view.h"

#include <glib/gi18n.h>

/* Set 1 scancodes: left Ctrl, left Alt, Delete (0xe0 0x53). */
static const guint ctrl_alt_del[] = { 0x1d, 0x38, 0x153 };

struct _NookMachineView
{
  AdwBin parent_instance;

  /* template widgets */
  AdwWindowTitle *title;
  GtkStack *stack;
  NookDisplay *display;
  AdwStatusPage *status_page;
  GtkWidget *pause_button;
  GtkWidget *resume_button;
  GtkWidget *fullscreen_button;
  GtkWidget *mute_button;
  GtkWidget *microphone_button;

  /* owned */
  NookMachine *machine;
  GtkWindow *window;            /* weak: whose fullscreen state we follow */
};

G_DEFINE_FINAL_TYPE (NookMachineView, nook_machine_view, ADW_TYPE_BIN)

static void
set_button (GtkWidget  *button,
            const char *icon,
            const char *label)
{
  gtk_button_set_icon_name (GTK_BUTTON (button), icon);
  gtk_widget_set_tooltip_text (button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

/* The sound buttons: only while nook-vmm says the machine has a sound card. */
static void
update_sound (NookMachineView *self,
              gboolean         active)
{
  gboolean sound = active && self->machine && nook_machine_get_has_audio (self->machine);
  gboolean muted = sound && nook_machine_get_audio_muted (self->machine);
  gboolean microphone = self->machine && nook_machine_get_microphone (self->machine);

  gtk_widget_set_visible (self->mute_button, sound);
  gtk_widget_set_visible (self->microphone_button, sound);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.toggle-mute", sound);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.toggle-microphone", sound);
  if (muted)
    set_button (self->mute_button, "audio-volume-muted-symbolic", _("Unmute"));
  else
    set_button (self->mute_button, "audio-volume-high-symbolic", _("Mute"));
  if (microphone)
    set_button (self->microphone_button, "audio-input-microphone-symbolic", _("Turn Microphone Off"));
  else
    set_button (self->microphone_button, "microphone-disabled-symbolic", _("Turn Microphone On"));
  /* Before the display links its channels: off until asked for. */
  nook_display_set_microphone (self->display, microphone);
}

static void
update (NookMachineView *self)
{
  NookMachineState state;
  gboolean running, paused, showing;
  const char *message;

  if (!self->machine)
    {
      nook_display_close (self->display);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.pause", FALSE);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.resume", FALSE);
      gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.open-window", FALSE);
      update_sound (self, FALSE);
      return;
    }
  state = nook_machine_get_state (self->machine);
  running = state == NOOK_MACHINE_STATE_RUNNING;
  paused = state == NOOK_MACHINE_STATE_PAUSED;
  message = nook_machine_get_message (self->machine);
  /* Starting and shutting down keep the screen: the guest is still there. */
  showing = (running || paused || state == NOOK_MACHINE_STATE_STARTING || state == NOOK_MACHINE_STATE_STOPPING) &&
            g_str_equal (nook_machine_get_display (self->machine), "spice");

  adw_window_title_set_title (self->title, nook_machine_get_name (self->machine));
  adw_window_title_set_subtitle (self->title, nook_machine_state_to_string (state));
  gtk_widget_set_visible (self->pause_button, !paused);
  gtk_widget_set_visible (self->resume_button, paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.pause", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.resume", paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.ctrl-alt-del", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.reset", running || paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.open-window", running || paused);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.power-off", running);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "view.force-off", nook_machine_is_active (self->machine));
  update_sound (self, nook_machine_is_active (self->machine));

  if (showing)
    {
      g_autofree char *spice = nook_machine_get_spice_path (self->machine);

      if (spice)
        nook_display_open (self->display, spice);
      gtk_stack_set_visible_child_name (self->stack, "display");
      return;
    }
  nook_display_close (self->display);
  if (nook_machine_is_active (self->machine))
    {
      g_autofree char *title = g_strdup_printf (_("“%s” Shows Its Screen Elsewhere"), nook_machine_get_name (self->machine));

      adw_status_page_set_title (self->status_page, title);
      adw_status_page_set_description (self->status_page,
                                       _("Its display setting is a separate window or none. "
                                         "Change it in the machine’s settings; it applies at the next start."));
    }
  else
    {
      g_autofree char *title = state == NOOK_MACHINE_STATE_FAILED_TO_START
        ? g_strdup_printf (_("“%s” Could Not Start"), nook_machine_get_name (self->machine))
        : g_strdup_printf (_("“%s” Is %s"), nook_machine_get_name (self->machine),
                           nook_machine_state_to_string (state));

      adw_status_page_set_title (self->status_page, title);
      adw_status_page_set_description (self->status_page, message);
    }
  gtk_stack_set_visible_child_name (self->stack, "status");
}

static void
update_fullscreen (NookMachineView *self)
{
  gboolean full = self->window && gtk_window_is_fullscreen (self->window);
  const char *label = full ? _("Leave Fullscreen") : _("Fullscreen");

  gtk_button_set_icon_name (GTK_BUTTON (self->fullscreen_button),
                            full ? "view-restore-symbolic" : "view-fullscreen-symbolic");
  gtk_widget_set_tooltip_text (self->fullscreen_button, label);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self->fullscreen_button), GTK_ACCESSIBLE_PROPERTY_LABEL, label, -1);
}

static void
on_executed (GObject      *source,
             GAsyncResult *result,
             gpointer      user_data)
{
  g_autoptr(NookMachineView) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!nook_machine_execute_finish (NOOK_MACHINE (source), result, &error))
    {
      g_autofree char *msg = g_strdup_printf ("%s: %s", nook_machine_get_name (NOOK_MACHINE (source)), error->message);

      gtk_widget_activate_action (GTK_WIDGET (self), "win.toast", "s", msg);
    }
}

static void
command_action (GtkWidget  *widget,
                const char *name,
                GVariant   *param)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);
  const char *action = strchr (name, '.') + 1;
  const char *command = action;

  if (!self->machine)
    return;
  if (g_str_equal (action, "power-off"))
    command = "powerdown";
  else if (g_str_equal (action, "force-off"))
    command = "quit";
  nook_machine_execute (self->machine, command, NULL, on_executed, g_object_ref (self));
}

static void
toggle_mute_action (GtkWidget  *widget,
                    const char *name,
                    GVariant   *param)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);

  if (self->machine)
    nook_machine_set_audio_muted (self->machine, !nook_machine_get_audio_muted (self->machine),
                                  NULL, on_executed, g_object_ref (self));
}

/* Saved at once; the display follows from the machine's notify. */
static void
toggle_microphone_action (GtkWidget  *widget,
                          const char *name,
                          GVariant   *param)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);
  g_autoptr(GError) error = NULL;
  gboolean on;

  if (!self->machine)
    return;
  on = !nook_machine_get_microphone (self->machine);
  nook_machine_set_microphone (self->machine, on);
  if (!nook_machine_save (self->machine, &error))
    {
      g_autofree char *msg = g_strdup_printf (on ? _("The microphone stays off: %s") : _("The microphone stays on: %s"),
                                              error->message);

      nook_machine_set_microphone (self->machine, !on);
      gtk_widget_activate_action (widget, "win.toast", "s", msg);
    }
}

static void
ctrl_alt_del_action (GtkWidget  *widget,
                     const char *name,
                     GVariant   *param)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);

  if (!nook_display_send_keys (self->display, ctrl_alt_del, G_N_ELEMENTS (ctrl_alt_del)))
    gtk_widget_activate_action (widget, "win.toast", "s", _("The machine’s keyboard is not connected yet"));
  gtk_widget_grab_focus (GTK_WIDGET (self->display));
}

static void
fullscreen_action (GtkWidget  *widget,
                   const char *name,
                   GVariant   *param)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);

  if (!self->window)
    return;
  if (gtk_window_is_fullscreen (self->window))
    gtk_window_unfullscreen (self->window);
  else
    gtk_window_fullscreen (self->window);
}

static void
back_action (GtkWidget  *widget,
             const char *name,
             GVariant   *param)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);

  nook_display_release_grab (self->display);
  if (self->window && gtk_window_is_fullscreen (self->window))
    gtk_window_unfullscreen (self->window);
  gtk_widget_activate_action (widget, "win.show-library", NULL);
}

static void
settings_action (GtkWidget  *widget,
                 const char *name,
                 GVariant   *param)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);

  if (self->machine)
    gtk_widget_activate_action (widget, "win.settings-machine", "s", nook_machine_get_id (self->machine));
}

static void
nook_machine_view_root (GtkWidget *widget)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);
  GtkRoot *root;

  GTK_WIDGET_CLASS (nook_machine_view_parent_class)->root (widget);
  root = gtk_widget_get_root (widget);
  if (GTK_IS_WINDOW (root))
    {
      g_set_weak_pointer (&self->window, GTK_WINDOW (root));
      g_signal_connect_object (root, "notify::fullscreened", G_CALLBACK (update_fullscreen), self, G_CONNECT_SWAPPED);
    }
  update_fullscreen (self);
}

static void
nook_machine_view_unroot (GtkWidget *widget)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (widget);

  if (self->window)
    g_signal_handlers_disconnect_by_data (self->window, self);
  g_clear_weak_pointer (&self->window);
  GTK_WIDGET_CLASS (nook_machine_view_parent_class)->unroot (widget);
}

static void
nook_machine_view_dispose (GObject *object)
{
  NookMachineView *self = NOOK_MACHINE_VIEW (object);

  if (self->machine)
    g_signal_handlers_disconnect_by_data (self->machine, self);
  g_clear_object (&self->machine);
  gtk_widget_dispose_template (GTK_WIDGET (self), NOOK_TYPE_MACHINE_VIEW);
  G_OBJECT_CLASS (nook_machine_view_parent_class)->dispose (object);
}

static void
nook_machine_view_class_init (NookMachineViewClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = nook_machine_view_dispose;
  widget_class->root = nook_machine_view_root;
  widget_class->unroot = nook_machine_view_unroot;

  g_type_ensure (NOOK_TYPE_DISPLAY);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nook/Nook/ui/nook-machine-view.ui");
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, title);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, stack);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, display);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, status_page);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, pause_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, resume_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, fullscreen_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, mute_button);
  gtk_widget_class_bind_template_child (widget_class, NookMachineView, microphone_button);

  gtk_widget_class_install_action (widget_class, "view.back", NULL, back_action);
  gtk_widget_class_install_action (widget_class, "view.pause", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "view.resume", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "view.reset", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "view.power-off", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "view.force-off", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "view.open-window", NULL, command_action);
  gtk_widget_class_install_action (widget_class, "view.ctrl-alt-del", NULL, ctrl_alt_del_action);
  gtk_widget_class_install_action (widget_class, "view.toggle-mute", NULL, toggle_mute_action);
  gtk_widget_class_install_action (widget_class, "view.toggle-microphone", NULL, toggle_microphone_action);
  gtk_widget_class_install_action (widget_class, "view.fullscreen", NULL, fullscreen_action);
  gtk_widget_class_install_action (widget_class, "view.settings", NULL, settings_action);
}

static void
nook_machine_view_init (NookMachineView *self)
{
  gtk_widget_init_template (GTK_WIDGET (self));
  update (self);
}

/**
 * nook_machine_view_set_machine:
 *
 * Shows @machine (or nothing): its screen while it runs with display=spice,
 * its state otherwise.
 */
void
nook_machine_view_set_machine (NookMachineView *self,
                               NookMachine     *machine)
{
  g_return_if_fail (NOOK_IS_MACHINE_VIEW (self));
  g_return_if_fail (!machine || NOOK_IS_MACHINE (machine));

  if (self->machine == machine)
    {
      update (self);
      return;
    }
  if (self->machine)
    g_signal_handlers_disconnect_by_data (self->machine, self);
  nook_display_close (self->display);
  g_set_object (&self->machine, machine);
  if (machine)
    g_signal_connect_object (machine, "notify", G_CALLBACK (update), self, G_CONNECT_SWAPPED);
  update (self);
  if (machine)
    gtk_widget_grab_focus (GTK_WIDGET (self->display));
}

NookMachine *
nook_machine_view_get_machine (NookMachineView *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_VIEW (self), NULL);
  return self->machine;
}

NookDisplay *
nook_machine_view_get_display (NookMachineView *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_VIEW (self), NULL);
  return self->display;
}

const char *
nook_machine_view_get_page (NookMachineView *self)
{
  g_return_val_if_fail (NOOK_IS_MACHINE_VIEW (self), NULL);
  return gtk_stack_get_visible_child_name (self->stack);
}
