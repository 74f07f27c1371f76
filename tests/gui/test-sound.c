/* Sound in the app against a real nook-vmm (SeaBIOS only, no guest driver
 * needed): the machine view's mute button reaches nook-vmm, as its
 * query-status on a connection of its own says; the SPICE record channel
 * (the microphone) stays unlinked until the view's microphone button turns
 * it on, which machine.ini remembers, and is unlinked again when turned
 * off; a machine with card=none has no sound buttons. */
#include "gui-test.h"

#include "nook-display-private.h"
#include "nook-library.h"
#include "nook-window-private.h"

static char *root;

typedef struct {
  NookLibrary *library;
  NookWindow *window;
  NookMachine *machine;         /* borrowed from library */
  NookMachineView *view;        /* borrowed from window */
  NookDisplay *display;         /* borrowed from view */
} Fixture;

static void
fixture_setup (Fixture       *f,
               gconstpointer  data)
{
  g_autoptr(GError) error = NULL;

  f->library = gui_test_new_library (root);
  g_assert_true (nook_library_load (f->library, &error));
  f->machine = gui_test_create_machine (f->library, "Sound Test", NULL);
  f->window = nook_window_new (NULL, f->library);
  gtk_window_present (GTK_WINDOW (f->window));
  f->view = nook_window_get_machine_view (f->window);
  f->display = nook_machine_view_get_display (f->view);
}

static void
on_quit (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  nook_machine_execute_finish (NOOK_MACHINE (source), result, NULL);
}

static gboolean
machine_stopped (gpointer data)
{
  return !nook_machine_is_active (data);
}

static void
fixture_teardown (Fixture       *f,
                  gconstpointer  data)
{
  if (nook_machine_is_active (f->machine))
    {
      nook_machine_execute (f->machine, "quit", NULL, on_quit, NULL);
      g_assert_true (gui_test_wait (machine_stopped, f->machine, 15));
    }
  gtk_window_destroy (GTK_WINDOW (f->window));
  g_object_unref (f->library);
}

static char *
control_path (Fixture *f)
{
  g_autofree char *rt = nook_machine_get_runtime_dir (f->machine);

  return g_build_filename (rt, "control.sock", NULL);
}

/* query-status's "audio" on a connection of the test's own: NULL when it
 * is null; fails the test when there is no such member. */
static JsonObject *
query_audio (Fixture *f)
{
  g_autofree char *control = control_path (f);
  g_autoptr(JsonNode) status = gui_test_query_status (control);
  JsonObject *obj = json_node_get_object (status);
  JsonNode *audio = json_object_get_member (obj, "audio");

  g_assert_nonnull (audio);
  return JSON_NODE_HOLDS_OBJECT (audio) ? json_object_ref (json_node_get_object (audio)) : NULL;
}

/* Whether nook-vmm takes --sound, from its --help. */
static gboolean
vmm_has_sound (void)
{
  const char *argv[] = { g_getenv ("NOOK_VMM"), "--help", NULL };
  g_autofree char *out = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_nonnull (argv[0]);
  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_STDERR_TO_DEV_NULL, NULL, NULL, &out, NULL, NULL, &error);
  g_assert_no_error (error);
  return strstr (out, "--sound") != NULL;
}

/* Starts the machine in the view; FALSE, with the test skipped saying why,
 * when it cannot run here or its nook-vmm knows no sound card yet. */
static gboolean
start (Fixture *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *control = NULL;
  g_autoptr(JsonNode) status = NULL;

  if (gui_test_skip_without_kvm ())
    return FALSE;
  if (!vmm_has_sound ())
    {
      g_test_skip ("this nook-vmm has no --sound option: its sound card has not landed yet");
      return FALSE;
    }
  g_assert_true (nook_machine_start (f->machine, &error));
  g_assert_no_error (error);
  nook_window_show_machine (f->window, f->machine);
  gui_test_wait_state (f->machine, NOOK_MACHINE_STATE_RUNNING, 30);
  control = control_path (f);
  status = gui_test_query_status (control);
  if (!json_object_has_member (json_node_get_object (status), "audio"))
    {
      g_test_skip ("this nook-vmm's query-status has no \"audio\" member: it has no sound card yet");
      return FALSE;
    }
  return TRUE;
}

static gboolean
has_audio (gpointer data)
{
  return nook_machine_get_has_audio (data);
}

static gboolean
is_muted (gpointer data)
{
  return nook_machine_get_audio_muted (data);
}

static gboolean
is_unmuted (gpointer data)
{
  return !nook_machine_get_audio_muted (data);
}

static gboolean
playback_open (gpointer data)
{
  return nook_display_get_playback_open (data);
}

static gboolean
record_open (gpointer data)
{
  return nook_display_get_record_open (data);
}

static gboolean
record_closed (gpointer data)
{
  return !nook_display_get_record_open (data);
}

static GtkWidget *
view_child (Fixture    *f,
            const char *id)
{
  GObject *obj = gtk_widget_get_template_child (GTK_WIDGET (f->view), NOOK_TYPE_MACHINE_VIEW, id);

  g_assert_nonnull (obj);
  return GTK_WIDGET (obj);
}

static void
test_mute (Fixture       *f,
           gconstpointer  data)
{
  GtkWidget *button;
  g_autoptr(JsonObject) audio = NULL;

  if (!start (f))
    return;
  button = view_child (f, "mute_button");
  g_assert_true (gui_test_wait (has_audio, f->machine, 10));
  g_assert_true (gtk_widget_get_visible (button));
  audio = query_audio (f);
  g_assert_nonnull (audio);
  g_assert_cmpstr (json_object_get_string_member (audio, "card"), ==, "hda");
  g_assert_false (json_object_get_boolean_member (audio, "muted"));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "Mute");
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "audio-volume-high-symbolic");
  g_clear_pointer (&audio, json_object_unref);

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "view.toggle-mute", NULL));
  g_assert_true (gui_test_wait (is_muted, f->machine, 10));
  audio = query_audio (f);
  g_assert_true (json_object_get_boolean_member (audio, "muted"));
  g_clear_pointer (&audio, json_object_unref);
  g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "Unmute");
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "audio-volume-muted-symbolic");

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "view.toggle-mute", NULL));
  g_assert_true (gui_test_wait (is_unmuted, f->machine, 10));
  audio = query_audio (f);
  g_assert_false (json_object_get_boolean_member (audio, "muted"));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "Mute");
}

static void
test_microphone (Fixture       *f,
                 gconstpointer  data)
{
  g_autofree char *ini = nook_machine_get_ini_path (f->machine);
  GtkWidget *button;

  if (!start (f))
    return;
  button = view_child (f, "microphone_button");
  g_assert_true (gui_test_wait (has_audio, f->machine, 10));
  g_assert_true (gtk_widget_get_visible (button));
  g_assert_false (nook_display_get_microphone (f->display));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "Turn Microphone On");

  /* The playback channel links (SpiceAudio), the record channel does not,
   * however long the display stays connected. */
  if (!gui_test_wait (playback_open, f->display, 20))
    g_error ("the SPICE playback channel never opened");
  g_assert_false (gui_test_wait (record_open, f->display, 2));

  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "view.toggle-microphone", NULL));
  g_assert_true (nook_machine_get_microphone (f->machine));
  g_assert_true (nook_display_get_microphone (f->display));
  g_assert_true (gui_test_wait_file (ini, "microphone=true", 1));
  g_assert_cmpstr (gtk_widget_get_tooltip_text (button), ==, "Turn Microphone Off");
  g_assert_cmpstr (gtk_button_get_icon_name (GTK_BUTTON (button)), ==, "audio-input-microphone-symbolic");
  if (!gui_test_wait (record_open, f->display, 10))
    g_error ("the SPICE record channel did not open with the microphone on");

  /* Off: unlinked; on again at once: linked again once it has closed. */
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "view.toggle-microphone", NULL));
  g_assert_true (gui_test_wait_file (ini, "microphone=false", 1));
  if (!gui_test_wait (record_closed, f->display, 10))
    g_error ("the SPICE record channel stayed open with the microphone off");
  g_assert_true (nook_display_get_playback_open (f->display));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "view.toggle-microphone", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "view.toggle-microphone", NULL));
  g_assert_true (gtk_widget_activate_action (GTK_WIDGET (f->view), "view.toggle-microphone", NULL));
  if (!gui_test_wait (record_open, f->display, 10))
    g_error ("the SPICE record channel did not open again");
  g_assert_true (gui_test_wait_file (ini, "microphone=true", 1));
}

/* card=none: nook-vmm gets --sound=none, says audio null, and the view
 * shows no sound buttons. */
static void
test_no_card (Fixture       *f,
              gconstpointer  data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(JsonObject) audio = NULL;

  nook_machine_set_sound (f->machine, "none");
  g_assert_true (nook_machine_save (f->machine, &error));
  g_assert_no_error (error);
  if (!start (f))
    return;
  audio = query_audio (f);
  g_assert_null (audio);
  /* Both the machine's own query-status and ours have been answered. */
  g_assert_false (nook_machine_get_has_audio (f->machine));
  g_assert_false (gtk_widget_get_visible (view_child (f, "mute_button")));
  g_assert_false (gtk_widget_get_visible (view_child (f, "microphone_button")));
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add ("/sound/mute", Fixture, NULL, fixture_setup, test_mute, fixture_teardown);
  g_test_add ("/sound/microphone", Fixture, NULL, fixture_setup, test_microphone, fixture_teardown);
  g_test_add ("/sound/no-card", Fixture, NULL, fixture_setup, test_no_card, fixture_teardown);
  return gui_test_run (root);
}
