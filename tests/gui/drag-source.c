/* drag-source: a window that offers the files named on its command line as
 * a drag, as a file manager does. tests/gui/e2e.py drags from it onto Nook's
 * window with xdotool, so the drop goes through X11's XDND protocol. */
#include <gtk/gtk.h>

static GdkContentProvider *
on_prepare (GtkDragSource *source,
            double         x,
            double         y,
            gpointer       user_data)
{
  GSList *files = user_data;

  g_print ("drag-prepare at %.0f,%.0f\n", x, y);
  GdkFileList *list = gdk_file_list_new_from_list (files);
  GdkContentProvider *provider = gdk_content_provider_new_typed (GDK_TYPE_FILE_LIST, list);

  g_boxed_free (GDK_TYPE_FILE_LIST, list);
  return provider;
}

static void
on_drag_end (GtkDragSource *source,
             GdkDrag       *drag,
             gboolean       delete_data,
             gpointer       user_data)
{
  g_print ("drag-end\n");
}

static void
on_activate (GtkApplication *app,
             gpointer        user_data)
{
  GtkWidget *window = gtk_application_window_new (app);
  GtkWidget *label = gtk_label_new ("drag me");
  GtkDragSource *source = gtk_drag_source_new ();

  gtk_window_set_title (GTK_WINDOW (window), "nook-drag-source");
  gtk_window_set_default_size (GTK_WINDOW (window), 200, 150);
  gtk_drag_source_set_actions (source, GDK_ACTION_COPY);
  g_signal_connect (source, "prepare", G_CALLBACK (on_prepare), user_data);
  g_signal_connect (source, "drag-end", G_CALLBACK (on_drag_end), NULL);
  gtk_widget_add_controller (label, GTK_EVENT_CONTROLLER (source));
  gtk_window_set_child (GTK_WINDOW (window), label);
  gtk_window_present (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  g_autoptr(GtkApplication) app = NULL;
  GSList *files = NULL;

  if (argc < 2)
    {
      g_printerr ("usage: drag-source FILE...\n");
      return 2;
    }
  for (int i = argc - 1; i >= 1; i--)
    files = g_slist_prepend (files, g_file_new_for_commandline_arg (argv[i]));
  app = gtk_application_new (NULL, G_APPLICATION_NON_UNIQUE);
  g_signal_connect (app, "activate", G_CALLBACK (on_activate), files);
  /* The files are the drag's, not options. */
  argc = 1;
  return g_application_run (G_APPLICATION (app), argc, argv);
}
