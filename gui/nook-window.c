/* NookWindow: lists the library's machines, takes dropped or chosen files
 * for new machines, shows a running machine's screen (NookMachineView) and
 * holds the per-machine dialogs (rename, settings, log, delete). A banner
 * above the library says when virtual machines cannot run here. */
#include "nook-window-private.h"

#include "nook-accel.h"
#include "nook-creation-dialog.h"
#include "nook-machine-process.h"
#include "nook-machine-row.h"
#include "nook-machine-settings.h"
#include "nook-machine-view.h"
#include "nook-media.h"
#include "nook-trace.h"

#include <glib/gi18n.h>

#define LOG_LINES 200

/* The accelerator banner: a strip between the header bar and the library,
 * as libadwaita 1.3's AdwBanner draws one, in the warning colour. */
static const char banner_css[] =
  ".nook-banner {"
  "  padding: 8px 12px;"
  "  background-color: mix(@warning_bg_color, @window_bg_color, 0.7);"
  "  color: @window_fg_color;"
  "}";

struct _NookWindow
{
  AdwApplicationWindow parent_instance;

  /* template widgets */
  AdwToastOverlay *toast_overlay;
  GtkStack *pages;
  GtkStack *stack;
  NookMachineView *machine_view;
  GtkListBox *list_box;
  GtkFlowBox *flow_box;
  GtkRevealer *accel_banner;
  GtkLabel *accel_problem_label;
  GtkLabel *accel_remedy_label;

  /* owned */
  NookLibrary *library;
  GSettings *settings;
  GtkDropTarget *drop_target;
  char *last_message;
  GtkWindow *last_dialog;       /* weak */
  GCancellable *accel_cancellable;      /* the check under way, else NULL */
};

G_DEFINE_FINAL_TYPE (NookWindow, nook_window, ADW_TYPE_APPLICATION_WINDOW)

void
nook_window_show_message (NookWindow *self,
                          const char *message)
{
  AdwToast *toast;

  g_return_if_fail (NOOK_IS_WINDOW (self));

  g_free (self->last_message);
  self->last_message = g_strdup (message);
  toast = adw_toast_new (message);
  adw_toast_set_timeout (toast, 8);
  adw_toast_overlay_add_toast (self->toast_overlay, toast);
}

static void
set_last_dialog (NookWindow *self,
                 GtkWindow  *dialog)
{
  g_set_weak_pointer (&self->last_dialog, dialog);
}

static void
update_view (NookWindow *self)
{
  guint n = g_list_model_get_n_items (nook_library_get_model (self->library));
  g_autofree char *mode = g_settings_get_string (self->settings, "library-view");

  gtk_stack_set_visible_child_name (self->stack, n == 0 ? "empty" : g_str_equal (mode, "grid") ? "grid" : "list");
}

static GtkWidget *
create_list_row (gpointer item,
                 gpointer user_data)
{
  return nook_machine_row_new (NOOK_MACHINE (item));
}

static GtkWidget *
create_card (gpointer item,
             gpointer user_data)
{
  GtkWidget *row = nook_machine_row_new (NOOK_MACHINE (item));

  gtk_widget_add_css_class (row, "card");
  return row;
}

static NookMachine *
lookup (NookWindow *self,
        GVariant   *param)
{
  NookMachine *machine = nook_library_find (self->library, g_variant_get_string (param, NULL));

  if (!machine)
    nook_window_show_message (self, _("That machine is no longer in the library"));
  return machine;
}

/* ---- new machines ---- */

static void
on_created (NookWindow  *self,
            NookMachine *machine)
{
  g_autofree char *msg = g_strdup_printf (_("“%s” is ready to start"), nook_machine_get_name (machine));

  nook_window_show_message (self, msg);
}

/**
 * nook_window_open_file:
 *
 * Checks @file and opens the creation dialog for it; a folder, an
 * unreadable file or anything that is not an image gives a message in the
 * window instead, and nothing is created.
 *
 * Returns: (transfer none) (nullable): the creation dialog
 */
GtkWindow *
nook_window_open_file (NookWindow *self,
                       GFile      *file)
{
  g_autofree char *path = g_file_get_path (file);
  g_autoptr(NookMedia) media = NULL;
  g_autoptr(GError) error = NULL;
  NookCreationDialog *dialog;

  g_return_val_if_fail (NOOK_IS_WINDOW (self), NULL);

  if (!path)
    {
      g_autofree char *uri = g_file_get_uri (file);
      g_autofree char *msg = g_strdup_printf (_("%s is not a local file: copy it to this computer first"), uri);

      nook_window_show_message (self, msg);
      return NULL;
    }
  media = nook_media_probe (path, &error);
  if (!media)
    {
      nook_window_show_message (self, error->message);
      return NULL;
    }
  dialog = nook_creation_dialog_new (GTK_WINDOW (self), self->library, media);
  g_signal_connect_object (dialog, "created", G_CALLBACK (on_created), self, G_CONNECT_SWAPPED);
  set_last_dialog (self, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
  return GTK_WINDOW (dialog);
}

static gboolean
on_drop (GtkDropTarget *target,
         const GValue  *value,
         double         x,
         double         y,
         NookWindow    *self)
{
  GSList *files;

  if (!G_VALUE_HOLDS (value, GDK_TYPE_FILE_LIST))
    return FALSE;
  files = gdk_file_list_get_files (g_value_get_boxed (value));
  if (!files)
    {
      g_slist_free (files);
      return FALSE;
    }
  if (files->next)
    nook_window_show_message (self, _("Drop one file at a time: only the first one is used"));
  nook_window_open_file (self, files->data);
  g_slist_free (files);
  return TRUE;
}

static void
on_chooser_response (GtkNativeDialog *chooser,
                     int              response,
                     NookWindow      *self)
{
  g_autoptr(GFile) file = NULL;
  g_autoptr(GFile) folder = NULL;

  if (response == GTK_RESPONSE_ACCEPT)
    {
      file = gtk_file_chooser_get_file (GTK_FILE_CHOOSER (chooser));
      folder = file ? g_file_get_parent (file) : NULL;
      if (folder)
        {
          g_autofree char *uri = g_file_get_uri (folder);

          g_settings_set_string (self->settings, "last-folder", uri);
        }
      if (file)
        nook_window_open_file (self, file);
    }
  gtk_native_dialog_destroy (chooser);
  g_object_unref (chooser);
}

static void
open_action (GtkWidget  *widget,
             const char *name,
             GVariant   *param)
{
  NookWindow *self = NOOK_WINDOW (widget);
  GtkFileChooserNative *chooser;
  g_autoptr(GtkFileFilter) images = gtk_file_filter_new ();
  g_autoptr(GtkFileFilter) all = gtk_file_filter_new ();
  g_autofree char *last = g_settings_get_string (self->settings, "last-folder");

  chooser = gtk_file_chooser_native_new (_("Choose an Installer, Disk Image or Kernel"), GTK_WINDOW (self),
                                         GTK_FILE_CHOOSER_ACTION_OPEN, _("_Open"), _("_Cancel"));
  gtk_native_dialog_set_modal (GTK_NATIVE_DIALOG (chooser), TRUE);
  gtk_file_filter_set_name (images, _("Images and kernels"));
  gtk_file_filter_add_mime_type (images, "application/x-cd-image");
  gtk_file_filter_add_mime_type (images, "application/x-raw-disk-image");
  gtk_file_filter_add_mime_type (images, "application/x-qemu-disk");
  gtk_file_filter_add_suffix (images, "iso");
  gtk_file_filter_add_suffix (images, "img");
  gtk_file_filter_add_suffix (images, "raw");
  gtk_file_filter_add_suffix (images, "qcow2");
  gtk_file_filter_add_pattern (images, "vmlinuz*");
  gtk_file_filter_add_pattern (images, "bzImage*");
  gtk_file_filter_set_name (all, _("All files"));
  gtk_file_filter_add_pattern (all, "*");
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), images);
  gtk_file_chooser_add_filter (GTK_FILE_CHOOSER (chooser), all);
  if (*last)
    {
      g_autoptr(GFile) folder = g_file_new_for_uri (last);

      gtk_file_chooser_set_current_folder (GTK_FILE_CHOOSER (chooser), folder, NULL);
    }
  g_signal_connect (chooser, "response", G_CALLBACK (on_chooser_response), self);
  gtk_native_dialog_show (GTK_NATIVE_DIALOG (chooser));
}

static void
toast_action (GtkWidget  *widget,
              const char *name,
              GVariant   *param)
{
  nook_window_show_message (NOOK_WINDOW (widget), g_variant_get_string (param, NULL));
}

/* ---- can machines run here ---- */

static void
on_accel_checked (GObject      *source,
                  GAsyncResult *result,
                  gpointer      user_data)
{
  NookWindow *self;
  g_autoptr(NookAccelStatus) status = NULL;
  g_autoptr(GError) error = NULL;

  status = nook_accel_check_finish (result, &error);
  /* Cancelled: the window is gone, or a new check replaced this one. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = user_data;
  g_clear_object (&self->accel_cancellable);
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.check-accel", TRUE);
  if (status && status->ok)
    {
      gtk_revealer_set_reveal_child (self->accel_banner, FALSE);
      return;
    }
  if (status)
    {
      gtk_label_set_label (self->accel_problem_label, status->problem);
      gtk_label_set_label (self->accel_remedy_label, status->remedy ? status->remedy : "");
    }
  else
    {
      gtk_label_set_label (self->accel_problem_label, _("Nook cannot tell whether virtual machines can run here"));
      gtk_label_set_label (self->accel_remedy_label, error->message);
    }
  gtk_widget_set_visible (GTK_WIDGET (self->accel_remedy_label),
                          *gtk_label_get_label (self->accel_remedy_label) != '\0');
  gtk_revealer_set_reveal_child (self->accel_banner, TRUE);
}

/* Asks nook-vmm whether machines can run (KVM is there, may be opened and
 * creates a VM); the banner shows what is wrong and what to do, until a
 * check finds nothing wrong. */
static void
check_accel (NookWindow *self)
{
  if (self->accel_cancellable)
    g_cancellable_cancel (self->accel_cancellable);
  g_clear_object (&self->accel_cancellable);
  self->accel_cancellable = g_cancellable_new ();
  gtk_widget_action_set_enabled (GTK_WIDGET (self), "win.check-accel", FALSE);
  nook_accel_check (self->accel_cancellable, on_accel_checked, self);
}

static void
check_accel_action (GtkWidget  *widget,
                    const char *name,
                    GVariant   *param)
{
  check_accel (NOOK_WINDOW (widget));
}

/* ---- the machine view ---- */

/**
 * nook_window_show_machine:
 *
 * Shows @machine's screen in the window (its state once it has stopped).
 */
void
nook_window_show_machine (NookWindow  *self,
                          NookMachine *machine)
{
  g_return_if_fail (NOOK_IS_WINDOW (self));
  g_return_if_fail (NOOK_IS_MACHINE (machine));

  nook_trace_mark ("show-machine");
  nook_machine_view_set_machine (self->machine_view, machine);
  gtk_stack_set_visible_child_name (self->pages, "machine");
}

static void
show_action (GtkWidget  *widget,
             const char *name,
             GVariant   *param)
{
  NookWindow *self = NOOK_WINDOW (widget);
  NookMachine *machine = lookup (self, param);

  if (machine)
    nook_window_show_machine (self, machine);
}

static void
show_library_action (GtkWidget  *widget,
                     const char *name,
                     GVariant   *param)
{
  NookWindow *self = NOOK_WINDOW (widget);

  gtk_stack_set_visible_child_name (self->pages, "library");
  nook_machine_view_set_machine (self->machine_view, NULL);
}

/* Activating a running machine's row or card shows its screen. */
static void
activate_machine (NookWindow *self,
                  GtkWidget  *child)
{
  NookMachine *machine;

  if (!NOOK_IS_MACHINE_ROW (child))
    return;
  machine = nook_machine_row_get_machine (NOOK_MACHINE_ROW (child));
  if (nook_machine_is_active (machine))
    nook_window_show_machine (self, machine);
}

static void
on_row_activated (GtkListBox    *box,
                  GtkListBoxRow *row,
                  NookWindow    *self)
{
  activate_machine (self, gtk_list_box_row_get_child (row));
}

static void
on_child_activated (GtkFlowBox      *box,
                    GtkFlowBoxChild *child,
                    NookWindow      *self)
{
  activate_machine (self, gtk_flow_box_child_get_child (child));
}

/* ---- per-machine dialogs ---- */

static void
on_rename_response (AdwMessageDialog *dialog,
                    const char       *response,
                    NookWindow       *self)
{
  NookMachine *machine = g_object_get_data (G_OBJECT (dialog), "machine");
  GtkEditable *entry = g_object_get_data (G_OBJECT (dialog), "entry");
  g_autofree char *name = g_strstrip (g_strdup (gtk_editable_get_text (entry)));
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (response, "rename") || !*name)
    return;
  nook_machine_set_name (machine, name);
  if (!nook_machine_save (machine, &error))
    nook_window_show_message (self, error->message);
}

static void
rename_action (GtkWidget  *widget,
               const char *name,
               GVariant   *param)
{
  NookWindow *self = NOOK_WINDOW (widget);
  NookMachine *machine = lookup (self, param);
  GtkWidget *dialog;
  GtkWidget *entry;

  if (!machine)
    return;
  dialog = adw_message_dialog_new (GTK_WINDOW (self), _("Rename Machine"), NULL);
  entry = gtk_entry_new ();
  gtk_editable_set_text (GTK_EDITABLE (entry), nook_machine_get_name (machine));
  gtk_entry_set_activates_default (GTK_ENTRY (entry), TRUE);
  gtk_accessible_update_property (GTK_ACCESSIBLE (entry), GTK_ACCESSIBLE_PROPERTY_LABEL, _("New name"), -1);
  adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), entry);
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "rename", _("_Rename"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "rename", ADW_RESPONSE_SUGGESTED);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "rename");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "machine", g_object_ref (machine), g_object_unref);
  g_object_set_data (G_OBJECT (dialog), "entry", entry);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_rename_response), self, 0);
  set_last_dialog (self, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
settings_action (GtkWidget  *widget,
                 const char *name,
                 GVariant   *param)
{
  NookWindow *self = NOOK_WINDOW (widget);
  NookMachine *machine = lookup (self, param);
  NookMachineSettings *settings;

  if (!machine)
    return;
  settings = nook_machine_settings_new (GTK_WINDOW (self), machine);
  set_last_dialog (self, GTK_WINDOW (settings));
  gtk_window_present (GTK_WINDOW (settings));
}

static void
show_log_action (GtkWidget  *widget,
                 const char *name,
                 GVariant   *param)
{
  NookWindow *self = NOOK_WINDOW (widget);
  NookMachine *machine = lookup (self, param);
  g_autofree char *tail = NULL;
  g_autofree char *body = NULL;
  const char *log_path;
  GtkWidget *dialog;

  if (!machine)
    return;
  log_path = nook_machine_get_log_path (machine);
  tail = log_path ? nook_read_log_tail (log_path, LOG_LINES) : NULL;
  body = nook_machine_get_message (machine)
           ? g_strdup (nook_machine_get_message (machine))
           : g_strdup_printf (_("The log of the machine’s last run is %s."), log_path ? log_path : "-");
  dialog = adw_message_dialog_new (GTK_WINDOW (self), nook_machine_get_name (machine), body);
  if (tail)
    {
      GtkWidget *scrolled = gtk_scrolled_window_new ();
      GtkWidget *view = gtk_text_view_new ();

      gtk_text_view_set_editable (GTK_TEXT_VIEW (view), FALSE);
      gtk_text_view_set_monospace (GTK_TEXT_VIEW (view), TRUE);
      gtk_text_view_set_wrap_mode (GTK_TEXT_VIEW (view), GTK_WRAP_WORD_CHAR);
      gtk_text_buffer_set_text (gtk_text_view_get_buffer (GTK_TEXT_VIEW (view)), tail, -1);
      gtk_accessible_update_property (GTK_ACCESSIBLE (view), GTK_ACCESSIBLE_PROPERTY_LABEL, _("Log"), -1);
      gtk_scrolled_window_set_child (GTK_SCROLLED_WINDOW (scrolled), view);
      gtk_scrolled_window_set_min_content_height (GTK_SCROLLED_WINDOW (scrolled), 240);
      adw_message_dialog_set_extra_child (ADW_MESSAGE_DIALOG (dialog), scrolled);
    }
  adw_message_dialog_add_response (ADW_MESSAGE_DIALOG (dialog), "close", _("_Close"));
  set_last_dialog (self, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

static void
on_delete_response (AdwMessageDialog *dialog,
                    const char       *response,
                    NookWindow       *self)
{
  NookMachine *machine = g_object_get_data (G_OBJECT (dialog), "machine");
  g_autoptr(GError) error = NULL;

  if (!g_str_equal (response, "delete"))
    return;
  if (!nook_library_delete_machine (self->library, machine, &error))
    nook_window_show_message (self, error->message);
}

static void
delete_action (GtkWidget  *widget,
               const char *name,
               GVariant   *param)
{
  NookWindow *self = NOOK_WINDOW (widget);
  NookMachine *machine = lookup (self, param);
  g_autofree char *heading = NULL;
  GtkWidget *dialog;

  if (!machine)
    return;
  if (nook_machine_is_active (machine))
    {
      g_autofree char *msg = g_strdup_printf (_("“%s” is running: power it off before deleting it"),
                                              nook_machine_get_name (machine));

      nook_window_show_message (self, msg);
      return;
    }
  heading = g_strdup_printf (_("Delete “%s”?"), nook_machine_get_name (machine));
  dialog = adw_message_dialog_new (GTK_WINDOW (self), heading,
                                   _("Its settings and the disk Nook made for it are removed for good. "
                                     "Images stored elsewhere stay where they are."));
  adw_message_dialog_add_responses (ADW_MESSAGE_DIALOG (dialog),
                                    "cancel", _("_Cancel"),
                                    "delete", _("_Delete"),
                                    NULL);
  adw_message_dialog_set_response_appearance (ADW_MESSAGE_DIALOG (dialog), "delete", ADW_RESPONSE_DESTRUCTIVE);
  adw_message_dialog_set_default_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  adw_message_dialog_set_close_response (ADW_MESSAGE_DIALOG (dialog), "cancel");
  g_object_set_data_full (G_OBJECT (dialog), "machine", g_object_ref (machine), g_object_unref);
  g_signal_connect_object (dialog, "response", G_CALLBACK (on_delete_response), self, 0);
  set_last_dialog (self, GTK_WINDOW (dialog));
  gtk_window_present (GTK_WINDOW (dialog));
}

/* ---- window ---- */

static gboolean
nook_window_close_request (GtkWindow *window)
{
  NookWindow *self = NOOK_WINDOW (window);
  int width, height;

  gtk_window_get_default_size (window, &width, &height);
  g_settings_set_boolean (self->settings, "window-maximized", gtk_window_is_maximized (window));
  if (!gtk_window_is_maximized (window))
    {
      g_settings_set_int (self->settings, "window-width", width);
      g_settings_set_int (self->settings, "window-height", height);
    }
  return GTK_WINDOW_CLASS (nook_window_parent_class)->close_request (window);
}

static void
nook_window_dispose (GObject *object)
{
  NookWindow *self = NOOK_WINDOW (object);

  if (self->accel_cancellable)
    g_cancellable_cancel (self->accel_cancellable);
  g_clear_object (&self->accel_cancellable);
  gtk_widget_dispose_template (GTK_WIDGET (self), NOOK_TYPE_WINDOW);
  g_clear_weak_pointer (&self->last_dialog);
  g_clear_object (&self->library);
  g_clear_object (&self->settings);
  G_OBJECT_CLASS (nook_window_parent_class)->dispose (object);
}

static void
nook_window_finalize (GObject *object)
{
  NookWindow *self = NOOK_WINDOW (object);

  g_free (self->last_message);
  G_OBJECT_CLASS (nook_window_parent_class)->finalize (object);
}

static void
nook_window_class_init (NookWindowClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);
  GtkWindowClass *window_class = GTK_WINDOW_CLASS (klass);

  object_class->dispose = nook_window_dispose;
  object_class->finalize = nook_window_finalize;
  window_class->close_request = nook_window_close_request;

  g_type_ensure (NOOK_TYPE_MACHINE_VIEW);
  gtk_widget_class_set_template_from_resource (widget_class, "/org/nook/Nook/ui/nook-window.ui");
  gtk_widget_class_bind_template_child (widget_class, NookWindow, toast_overlay);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, pages);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, stack);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, machine_view);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, list_box);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, flow_box);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, accel_banner);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, accel_problem_label);
  gtk_widget_class_bind_template_child (widget_class, NookWindow, accel_remedy_label);

  gtk_widget_class_install_action (widget_class, "win.open", NULL, open_action);
  gtk_widget_class_install_action (widget_class, "win.toast", "s", toast_action);
  gtk_widget_class_install_action (widget_class, "win.rename-machine", "s", rename_action);
  gtk_widget_class_install_action (widget_class, "win.settings-machine", "s", settings_action);
  gtk_widget_class_install_action (widget_class, "win.show-log-machine", "s", show_log_action);
  gtk_widget_class_install_action (widget_class, "win.delete-machine", "s", delete_action);
  gtk_widget_class_install_action (widget_class, "win.show-machine", "s", show_action);
  gtk_widget_class_install_action (widget_class, "win.show-library", NULL, show_library_action);
  gtk_widget_class_install_action (widget_class, "win.check-accel", NULL, check_accel_action);
}

/* The app's own style, once per display. */
static void
add_style (GtkWidget *widget)
{
  GdkDisplay *display = gtk_widget_get_display (widget);
  g_autoptr(GtkCssProvider) provider = NULL;

  if (g_object_get_data (G_OBJECT (display), "nook-style"))
    return;
  provider = gtk_css_provider_new ();
  gtk_css_provider_load_from_data (provider, banner_css, -1);
  gtk_style_context_add_provider_for_display (display, GTK_STYLE_PROVIDER (provider),
                                              GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  g_object_set_data (G_OBJECT (display), "nook-style", GINT_TO_POINTER (1));
}

/* The app's settings. Run from its build folder, as the README's first
 * command does, the schema is not installed: it is then read from the
 * build's data folder beside the program's. */
static GSettings *
new_settings (void)
{
  GSettingsSchemaSource *installed = g_settings_schema_source_get_default ();
  g_autoptr(GSettingsSchema) schema = NULL;
  g_autoptr(GSettingsSchemaSource) built = NULL;
  g_autofree char *exe = NULL;
  g_autofree char *exe_dir = NULL;
  g_autofree char *data_dir = NULL;

  if (installed)
    schema = g_settings_schema_source_lookup (installed, "org.nook.Nook", TRUE);
  if (!schema)
    {
      exe = g_file_read_link ("/proc/self/exe", NULL);
      exe_dir = exe ? g_path_get_dirname (exe) : NULL;
      data_dir = exe_dir ? g_build_filename (exe_dir, "..", "data", NULL) : NULL;
      if (data_dir)
        built = g_settings_schema_source_new_from_directory (data_dir, installed, FALSE, NULL);
      if (built)
        schema = g_settings_schema_source_lookup (built, "org.nook.Nook", FALSE);
    }
  if (!schema)
    g_error ("the settings schema org.nook.Nook is neither installed nor built beside %s", exe ? exe : "nook");
  return g_settings_new_full (schema, NULL, NULL);
}

static void
nook_window_init (NookWindow *self)
{
  g_autoptr(GAction) view_action = NULL;

  gtk_widget_init_template (GTK_WIDGET (self));
  add_style (GTK_WIDGET (self));
  g_signal_connect (self->list_box, "row-activated", G_CALLBACK (on_row_activated), self);
  g_signal_connect (self->flow_box, "child-activated", G_CALLBACK (on_child_activated), self);

  self->settings = new_settings ();
  gtk_window_set_default_size (GTK_WINDOW (self),
                               g_settings_get_int (self->settings, "window-width"),
                               g_settings_get_int (self->settings, "window-height"));
  if (g_settings_get_boolean (self->settings, "window-maximized"))
    gtk_window_maximize (GTK_WINDOW (self));
  view_action = g_settings_create_action (self->settings, "library-view");
  g_action_map_add_action (G_ACTION_MAP (self), view_action);

  self->drop_target = gtk_drop_target_new (GDK_TYPE_FILE_LIST, GDK_ACTION_COPY);
  g_signal_connect (self->drop_target, "drop", G_CALLBACK (on_drop), self);
  gtk_widget_add_controller (GTK_WIDGET (self), GTK_EVENT_CONTROLLER (self->drop_target));
}

static void
on_library_painted (GdkFrameClock *clock,
                    GtkWidget     *window)
{
  g_signal_handlers_disconnect_by_func (clock, on_library_painted, window);
  nook_trace_mark ("library-shown");
}

static void
trace_first_paint (GtkWidget *window)
{
  g_signal_connect_object (gtk_widget_get_frame_clock (window), "after-paint",
                           G_CALLBACK (on_library_painted), window, 0);
}

NookWindow *
nook_window_new (GtkApplication *application,
                 NookLibrary    *library)
{
  NookWindow *self;
  GListModel *model;

  g_return_val_if_fail (NOOK_IS_LIBRARY (library), NULL);

  self = g_object_new (NOOK_TYPE_WINDOW, "application", application, NULL);
  self->library = g_object_ref (library);
  model = nook_library_get_model (library);
  gtk_list_box_bind_model (self->list_box, model, create_list_row, self, NULL);
  gtk_flow_box_bind_model (self->flow_box, model, create_card, self, NULL);
  g_signal_connect_object (model, "items-changed", G_CALLBACK (update_view), self, G_CONNECT_SWAPPED);
  g_signal_connect_object (self->settings, "changed::library-view", G_CALLBACK (update_view), self, G_CONNECT_SWAPPED);
  update_view (self);
  check_accel (self);
  /* The model is bound and filled by now: the first frame shows the list. */
  g_signal_connect (self, "realize", G_CALLBACK (trace_first_paint), NULL);
  return self;
}

const char *
nook_window_get_last_message (NookWindow *self)
{
  return self->last_message;
}

const char *
nook_window_get_visible_page (NookWindow *self)
{
  return gtk_stack_get_visible_child_name (self->stack);
}

NookMachineView *
nook_window_get_machine_view (NookWindow *self)
{
  return self->machine_view;
}

const char *
nook_window_get_visible_top_page (NookWindow *self)
{
  return gtk_stack_get_visible_child_name (self->pages);
}

GtkDropTarget *
nook_window_get_drop_target (NookWindow *self)
{
  return self->drop_target;
}

GtkWindow *
nook_window_get_last_dialog (NookWindow *self)
{
  return self->last_dialog;
}

gboolean
nook_window_is_checking_accel (NookWindow *self)
{
  return self->accel_cancellable != NULL;
}

gboolean
nook_window_get_accel_banner_shown (NookWindow *self)
{
  return gtk_revealer_get_reveal_child (self->accel_banner);
}

const char *
nook_window_get_accel_problem (NookWindow *self)
{
  return gtk_label_get_label (self->accel_problem_label);
}

const char *
nook_window_get_accel_remedy (NookWindow *self)
{
  return gtk_label_get_label (self->accel_remedy_label);
}
