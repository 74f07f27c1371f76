/* NookApplication: one library window; files given on the command line go
 * to the creation dialog as dropped files do. */
#include "nook-application.h"

#include "nook-library.h"
#include "nook-window.h"

#include <glib/gi18n.h>

struct _NookApplication
{
  AdwApplication parent_instance;

  /* owned */
  NookLibrary *library;
  char *load_error;
};

G_DEFINE_FINAL_TYPE (NookApplication, nook_application, ADW_TYPE_APPLICATION)

static NookWindow *
get_window (NookApplication *self)
{
  GtkWindow *window = gtk_application_get_active_window (GTK_APPLICATION (self));

  if (!window)
    {
      window = GTK_WINDOW (nook_window_new (GTK_APPLICATION (self), self->library));
      if (self->load_error)
        nook_window_show_message (NOOK_WINDOW (window), self->load_error);
    }
  return NOOK_WINDOW (window);
}

static void
nook_application_activate (GApplication *app)
{
  gtk_window_present (GTK_WINDOW (get_window (NOOK_APPLICATION (app))));
}

static void
nook_application_open (GApplication  *app,
                       GFile        **files,
                       int            n_files,
                       const char    *hint)
{
  NookWindow *window = get_window (NOOK_APPLICATION (app));

  gtk_window_present (GTK_WINDOW (window));
  if (n_files > 0)
    nook_window_open_file (window, files[0]);
}

static void
about_action (GSimpleAction *action,
              GVariant      *param,
              gpointer       user_data)
{
  static const char *developers[] = { "The Nook developers", NULL };
  GtkApplication *app = GTK_APPLICATION (user_data);

  adw_show_about_window (gtk_application_get_active_window (app),
                         "application-name", _("Nook"),
                         "application-icon", NOOK_APP_ID,
                         "developer-name", _("The Nook developers"),
                         "developers", developers,
                         "version", PACKAGE_VERSION,
                         "license-type", GTK_LICENSE_GPL_2_0,
                         "comments", _("Run Windows and Linux desktops on your computer"),
                         NULL);
}

static void
quit_action (GSimpleAction *action,
             GVariant      *param,
             gpointer       user_data)
{
  g_application_quit (G_APPLICATION (user_data));
}

static void
nook_application_startup (GApplication *app)
{
  NookApplication *self = NOOK_APPLICATION (app);
  static const GActionEntry actions[] = {
    { .name = "about", .activate = about_action },
    { .name = "quit", .activate = quit_action },
  };
  static const char *quit_accels[] = { "<Control>q", NULL };
  static const char *open_accels[] = { "<Control>o", NULL };
  static const char *close_accels[] = { "<Control>w", NULL };
  g_autofree char *dir = nook_library_default_dir ();
  g_autoptr(GError) error = NULL;

  G_APPLICATION_CLASS (nook_application_parent_class)->startup (app);

  g_action_map_add_action_entries (G_ACTION_MAP (app), actions, G_N_ELEMENTS (actions), app);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "app.quit", quit_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "win.open", open_accels);
  gtk_application_set_accels_for_action (GTK_APPLICATION (app), "window.close", close_accels);

  self->library = nook_library_new (dir);
  if (!nook_library_load (self->library, &error))
    self->load_error = g_strdup_printf (_("Cannot read the machine library %s: %s"), dir, error->message);
}

static void
nook_application_finalize (GObject *object)
{
  NookApplication *self = NOOK_APPLICATION (object);

  g_clear_object (&self->library);
  g_free (self->load_error);
  G_OBJECT_CLASS (nook_application_parent_class)->finalize (object);
}

static void
nook_application_class_init (NookApplicationClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GApplicationClass *app_class = G_APPLICATION_CLASS (klass);

  object_class->finalize = nook_application_finalize;
  app_class->startup = nook_application_startup;
  app_class->activate = nook_application_activate;
  app_class->open = nook_application_open;
}

static void
nook_application_init (NookApplication *self)
{
}

NookApplication *
nook_application_new (void)
{
  return g_object_new (NOOK_TYPE_APPLICATION,
                       "application-id", NOOK_APP_ID,
                       "flags", G_APPLICATION_HANDLES_OPEN,
                       "resource-base-path", "/org/nook/Nook",
                       NULL);
}
