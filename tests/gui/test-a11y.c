/* Accessibility of every window: each control a user can act on has a name
 * a screen reader can say (an accessible label, a labelled-by relation or
 * text of its own), and Tab alone reaches each visible, sensitive one. */
#include "gui-test.h"

#include "nook-creation-dialog-private.h"
#include "nook-library.h"
#include "nook-machine-settings.h"
#include "nook-window-private.h"

static char *root;

static gboolean
is_control (GtkWidget *w)
{
  return GTK_IS_BUTTON (w) ||         /* and GtkToggleButton, GtkLinkButton */
         GTK_IS_MENU_BUTTON (w) ||
         GTK_IS_SPIN_BUTTON (w) ||
         GTK_IS_ENTRY (w) ||
         GTK_IS_SEARCH_ENTRY (w) ||
         GTK_IS_PASSWORD_ENTRY (w) ||
         GTK_IS_TEXT_VIEW (w) ||
         GTK_IS_SWITCH (w) ||
         GTK_IS_CHECK_BUTTON (w) ||
         GTK_IS_DROP_DOWN (w) ||
         GTK_IS_SCALE (w) ||
         ADW_IS_SPLIT_BUTTON (w) ||
         ADW_IS_COMBO_ROW (w) ||
         ADW_IS_ENTRY_ROW (w) ||
         NOOK_IS_DISPLAY (w);
}

/* The id the widget has in its .ui file, or that of the nearest ancestor
 * that has one, to find it by. */
static char *
describe (GtkWidget *w)
{
  GString *s = g_string_new (G_OBJECT_TYPE_NAME (w));
  const char *id = gtk_buildable_get_buildable_id (GTK_BUILDABLE (w));

  if (id)
    {
      g_string_append_printf (s, " #%s", id);
      return g_string_free (s, FALSE);
    }
  for (GtkWidget *p = gtk_widget_get_parent (w); p; p = gtk_widget_get_parent (p))
    {
      id = gtk_buildable_get_buildable_id (GTK_BUILDABLE (p));
      if (id)
        {
          g_string_append_printf (s, " (no id, inside %s #%s)", G_OBJECT_TYPE_NAME (p), id);
          return g_string_free (s, FALSE);
        }
    }
  g_string_append (s, " (no id)");
  return g_string_free (s, FALSE);
}

static gboolean
has_label_text (GtkWidget *w)
{
  if (GTK_IS_LABEL (w) && gtk_widget_get_visible (w) && *gtk_label_get_text (GTK_LABEL (w)))
    return TRUE;
  for (GtkWidget *c = gtk_widget_get_first_child (w); c; c = gtk_widget_get_next_sibling (c))
    if (!GTK_IS_NATIVE (c) && has_label_text (c))
      return TRUE;
  return FALSE;
}

static void
collect_labels (GtkWidget *w,
                GPtrArray *out)
{
  if (GTK_IS_LABEL (w) && *gtk_label_get_text (GTK_LABEL (w)))
    g_ptr_array_add (out, w);
  for (GtkWidget *c = gtk_widget_get_first_child (w); c; c = gtk_widget_get_next_sibling (c))
    collect_labels (c, out);
}

static gboolean
has_label_property (GtkWidget *w)
{
  g_autofree char *differs = NULL;

  if (!gtk_test_accessible_has_property (GTK_ACCESSIBLE (w), GTK_ACCESSIBLE_PROPERTY_LABEL))
    return FALSE;
  differs = gtk_test_accessible_check_property (GTK_ACCESSIBLE (w), GTK_ACCESSIBLE_PROPERTY_LABEL, "");
  return differs != NULL;
}

/* GtkButton makes an icon button labelled by its own image, which has no
 * text: only a relation to a label with text names the control. */
static gboolean
is_labelled_by_text (GtkWidget *w,
                     GPtrArray *labels)
{
  if (!gtk_test_accessible_has_relation (GTK_ACCESSIBLE (w), GTK_ACCESSIBLE_RELATION_LABELLED_BY))
    return FALSE;
  for (guint i = 0; i < labels->len; i++)
    {
      g_autofree char *differs =
        gtk_test_accessible_check_relation (GTK_ACCESSIBLE (w), GTK_ACCESSIBLE_RELATION_LABELLED_BY, labels->pdata[i], NULL);

      if (!differs)
        return TRUE;
    }
  return FALSE;
}

/* A row's title names the row, and the control the row activates. */
static gboolean
is_named_by_row (GtkWidget *w)
{
  GtkWidget *row = ADW_IS_PREFERENCES_ROW (w) ? w : gtk_widget_get_ancestor (w, ADW_TYPE_PREFERENCES_ROW);

  if (!row || !*adw_preferences_row_get_title (ADW_PREFERENCES_ROW (row)))
    return FALSE;
  return row == w || (ADW_IS_ACTION_ROW (row) && adw_action_row_get_activatable_widget (ADW_ACTION_ROW (row)) == w);
}

static gboolean
has_name (GtkWidget *w,
          GPtrArray *labels)
{
  return has_label_property (w) || is_labelled_by_text (w, labels) || has_label_text (w) || is_named_by_row (w);
}

/* Whether @w shows now, or would with another page of its stack. A
 * collapsed revealer or search bar hides its child without making it
 * invisible. */
static gboolean
can_show (GtkWidget *w)
{
  GtkWidget *parent = gtk_widget_get_parent (w);

  return gtk_widget_get_visible (w) &&
         (gtk_widget_get_child_visible (w) || (parent && GTK_IS_STACK (parent)));
}

/* AdwPreferencesWindow's own search entry, on a page of its title stack
 * that never shows while search is off, as it is in Nook's windows. */
static gboolean
is_disabled_search (GtkWidget *w)
{
  GtkWidget *top = GTK_WIDGET (gtk_widget_get_root (w));

  return ADW_IS_PREFERENCES_WINDOW (top) &&
         !adw_preferences_window_get_search_enabled (ADW_PREFERENCES_WINDOW (top)) &&
         G_OBJECT (w) == gtk_widget_get_template_child (top, ADW_TYPE_PREFERENCES_WINDOW, "search_entry");
}

/* The controls under @w that can show. A control's own parts (the buttons
 * of a spin button, the text of an entry) go with it; a row's suffixes are
 * controls of their own. Popovers are separate surfaces, looked at when
 * they open. */
static void
collect_controls (GtkWidget *w,
                  GPtrArray *out)
{
  if (!can_show (w) || is_disabled_search (w))
    return;
  if (is_control (w))
    {
      g_ptr_array_add (out, w);
      if (!ADW_IS_PREFERENCES_ROW (w))
        return;
    }
  for (GtkWidget *c = gtk_widget_get_first_child (w); c; c = gtk_widget_get_next_sibling (c))
    if (!GTK_IS_NATIVE (c))
      collect_controls (c, out);
}

static void
check_names (GtkWidget  *top,
             const char *what)
{
  g_autoptr(GPtrArray) controls = g_ptr_array_new ();
  g_autoptr(GPtrArray) labels = g_ptr_array_new ();
  g_autoptr(GString) missing = g_string_new ("");

  collect_controls (top, controls);
  collect_labels (GTK_WIDGET (gtk_widget_get_root (top)), labels);
  g_assert_cmpuint (controls->len, >, 0);
  for (guint i = 0; i < controls->len; i++)
    if (!has_name (controls->pdata[i], labels))
      {
        g_autofree char *d = describe (controls->pdata[i]);

        g_string_append_printf (missing, "%s%s", missing->len ? ", " : "", d);
      }
  g_test_message ("%s: %u controls", what, controls->len);
  if (missing->len)
    g_test_message ("%s: controls without an accessible name: %s", what, missing->str);
  g_assert_cmpstr (missing->str, ==, "");
}

/* What Tab reaches from nothing focused, until it comes round again. */
static GPtrArray *
tab_through (GtkWindow *window)
{
  GPtrArray *reached = g_ptr_array_new ();
  GtkWidget *first = NULL;

  gtk_window_set_focus (window, NULL);
  for (guint i = 0; i < 500; i++)
    {
      GtkWidget *focus;

      gtk_widget_child_focus (GTK_WIDGET (window), GTK_DIR_TAB_FORWARD);
      focus = gtk_root_get_focus (GTK_ROOT (window));
      if (!focus)
        continue;
      if (focus == first)
        break;
      if (!first)
        first = focus;
      g_ptr_array_add (reached, focus);
    }
  return reached;
}

static gboolean
was_reached (GtkWidget *control,
             GPtrArray *reached)
{
  for (guint i = 0; i < reached->len; i++)
    if (reached->pdata[i] == control || gtk_widget_is_ancestor (reached->pdata[i], control))
      return TRUE;
  return FALSE;
}

static void
check_keyboard (GtkWindow  *window,
                const char *what)
{
  g_autoptr(GPtrArray) controls = g_ptr_array_new ();
  g_autoptr(GPtrArray) reached = tab_through (window);
  g_autoptr(GString) unreached = g_string_new ("");
  guint n = 0;

  collect_controls (GTK_WIDGET (window), controls);
  for (guint i = 0; i < controls->len; i++)
    {
      GtkWidget *c = controls->pdata[i];

      if (!gtk_widget_get_mapped (c) || !gtk_widget_is_sensitive (c))
        continue;
      /* The close button of the title bar: Escape and Ctrl+W do its work. */
      if (gtk_widget_get_ancestor (c, GTK_TYPE_WINDOW_CONTROLS))
        continue;
      n++;
      if (!was_reached (c, reached))
        {
          g_autofree char *d = describe (c);

          g_string_append_printf (unreached, "%s%s", unreached->len ? ", " : "", d);
        }
    }
  g_test_message ("%s: Tab reaches %u widgets; %u controls to reach", what, reached->len, n);
  g_assert_cmpuint (n, >, 0);
  if (unreached->len)
    g_test_message ("%s: controls Tab does not reach: %s", what, unreached->str);
  g_assert_cmpstr (unreached->str, ==, "");
}

static void
check_window (GtkWindow  *window,
              const char *what)
{
  check_names (GTK_WIDGET (window), what);
  check_keyboard (window, what);
}

static gboolean
mapped (gpointer data)
{
  return gtk_widget_get_mapped (data);
}

static void
present (GtkWindow *window)
{
  gtk_window_present (window);
  g_assert_true (gui_test_wait (mapped, window, 10));
}

typedef struct {
  NookLibrary *library;
  NookMachine *machine;         /* borrowed from library */
  NookWindow *window;
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(NookMachine) draft = nook_machine_new_draft ("Reachable");
  g_autoptr(GError) error = NULL;

  f->library = gui_test_new_library (root);
  nook_machine_set_os (draft, "http://debian.org/debian/12", "Debian 12");
  f->machine = nook_library_create_machine (f->library, draft, G_GUINT64_CONSTANT (16) << 20, &error);
  g_assert_no_error (error);
  f->window = nook_window_new (NULL, f->library);
  present (GTK_WINDOW (f->window));
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  gtk_window_destroy (GTK_WINDOW (f->window));
  g_object_unref (f->library);
}

static void
test_library (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GSettings) settings = g_settings_new ("org.nook.Nook");

  g_settings_set_string (settings, "library-view", "list");
  g_assert_cmpstr (nook_window_get_visible_page (f->window), ==, "list");
  check_window (GTK_WINDOW (f->window), "library list");
  g_settings_set_string (settings, "library-view", "grid");
  g_assert_cmpstr (nook_window_get_visible_page (f->window), ==, "grid");
  check_window (GTK_WINDOW (f->window), "library grid");
  g_settings_set_string (settings, "library-view", "list");
}

static void
test_empty_library (void)
{
  g_autofree char *dir = g_build_filename (root, "empty", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (dir);
  NookWindow *window = nook_window_new (NULL, lib);

  present (GTK_WINDOW (window));
  g_assert_cmpstr (nook_window_get_visible_page (window), ==, "empty");
  check_window (GTK_WINDOW (window), "empty library");
  gtk_window_destroy (GTK_WINDOW (window));
}

static gboolean
identified (gpointer data)
{
  return !nook_creation_dialog_is_identifying (data);
}

static void
test_creation_dialog (Fixture       *f,
                      gconstpointer  data)
{
  g_autofree char *iso = gui_test_make_iso (root, "a11y.iso", "A11Y TEST");
  g_autoptr(GFile) file = NULL;
  GtkWindow *dialog;

  g_assert_nonnull (iso);
  file = g_file_new_for_path (iso);
  dialog = nook_window_open_file (f->window, file);
  g_assert_nonnull (dialog);
  g_assert_true (gui_test_wait (mapped, dialog, 10));
  g_assert_true (gui_test_wait (identified, dialog, 20));
  check_window (dialog, "creation dialog");
  gtk_window_destroy (dialog);
}

static void
test_settings (Fixture       *f,
               gconstpointer  data)
{
  g_autofree char *iso = gui_test_make_iso (root, "inserted.iso", "INSERTED");
  g_autoptr(GError) error = NULL;
  GtkWindow *dialog;

  /* With a CD-ROM in, so that Eject is there to reach. */
  nook_machine_set_cdrom (f->machine, iso);
  g_assert_true (nook_machine_save (f->machine, &error));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), "win.settings-machine", "s",
                                             nook_machine_get_id (f->machine)));
  dialog = nook_window_get_last_dialog (f->window);
  g_assert_true (NOOK_IS_MACHINE_SETTINGS (dialog));
  g_assert_true (gui_test_wait (mapped, dialog, 10));
  check_window (dialog, "settings");
  gtk_window_destroy (dialog);
}

static void
test_machine_dialogs (Fixture       *f,
                      gconstpointer  data)
{
  const char *actions[] = { "win.rename-machine", "win.show-log-machine", "win.delete-machine" };

  for (guint i = 0; i < G_N_ELEMENTS (actions); i++)
    {
      GtkWindow *dialog;

      g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->window), actions[i], "s",
                                                 nook_machine_get_id (f->machine)));
      dialog = nook_window_get_last_dialog (f->window);
      g_assert_nonnull (dialog);
      g_assert_true (gui_test_wait (mapped, dialog, 10));
      check_window (dialog, actions[i]);
      gtk_window_destroy (dialog);
    }
}

static void
test_machine_view (Fixture       *f,
                   gconstpointer  data)
{
  NookMachineView *view = nook_window_get_machine_view (f->window);

  nook_window_show_machine (f->window, f->machine);
  g_assert_cmpstr (nook_window_get_visible_top_page (f->window), ==, "machine");
  g_assert_cmpstr (nook_machine_view_get_page (view), ==, "status");
  check_names (GTK_WIDGET (view), "machine view");
  check_keyboard (GTK_WINDOW (f->window), "machine view");
}

int
main (int   argc,
      char *argv[])
{
  /* The test backend keeps the accessible properties this looks at; with
   * none, GTK drops them. Read once, before any widget exists. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  root = gui_test_init_gtk (&argc, &argv);
  /* Stack pages change at once: nothing half-shown is looked at. */
  g_object_set (gtk_settings_get_default (), "gtk-enable-animations", FALSE, NULL);
  g_test_add ("/a11y/library", Fixture, NULL, fixture_setup, test_library, fixture_teardown);
  g_test_add_func ("/a11y/empty-library", test_empty_library);
  g_test_add ("/a11y/creation-dialog", Fixture, NULL, fixture_setup, test_creation_dialog, fixture_teardown);
  g_test_add ("/a11y/settings", Fixture, NULL, fixture_setup, test_settings, fixture_teardown);
  g_test_add ("/a11y/machine-dialogs", Fixture, NULL, fixture_setup, test_machine_dialogs, fixture_teardown);
  g_test_add ("/a11y/machine-view", Fixture, NULL, fixture_setup, test_machine_view, fixture_teardown);
  return gui_test_run (root);
}
