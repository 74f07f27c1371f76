/* NookDisplay against a real nook-vmm: SeaBIOS's 720x400 text screen drawn
 * through the GL texture and through the memory texture equals nook-vmm's
 * own screendump; a key event given to the widget reaches the guest's
 * keyboard (tests/guest/input.c); the app's window showing a running
 * machine, captured from the X screen, reads "SeaBIOS" through OCR; and the
 * README's demo machine greets the same way. */
#include "gui-test.h"

#include "nook-display-private.h"
#include "nook-library.h"
#include "nook-machine-process.h"
#include "nook-window-private.h"

static char *root;

/* A tool the test needs; NULL and the test failed, naming the package. */
static char *
need_tool (const char *tool,
           const char *package)
{
  char *path = g_find_program_in_path (tool);

  if (!path)
    {
      g_test_message ("%s is missing: apt-get install %s", tool, package);
      g_test_fail ();
    }
  return path;
}

typedef struct {
  NookMachineProcess *process;
  char *dir;
  char *spice;
  char *control;
  char *serial;
} Vmm;

static gboolean
process_connected (gpointer data)
{
  return nook_machine_process_is_connected (data);
}

/* nook-vmm with a SPICE display, its control socket and its serial port in
 * a folder of its own; @extra: more arguments (NULL-terminated). */
static void
vmm_start (Vmm        *v,
           const char *name,
           const char *const *extra)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *log = NULL;
  g_autoptr(GError) error = NULL;

  v->dir = g_build_filename (root, name, NULL);
  g_assert_cmpint (g_mkdir_with_parents (v->dir, 0700), ==, 0);
  v->spice = g_build_filename (v->dir, "spice.sock", NULL);
  v->control = g_build_filename (v->dir, "control.sock", NULL);
  v->serial = g_build_filename (v->dir, "serial.log", NULL);
  log = g_build_filename (v->dir, "nook-vmm.log", NULL);
  g_ptr_array_add (argv, g_strdup (g_getenv ("NOOK_VMM")));
  g_ptr_array_add (argv, g_strdup ("--memory=64M"));
  g_ptr_array_add (argv, g_strdup ("--display=spice"));
  g_ptr_array_add (argv, g_strdup_printf ("--spice=unix:%s", v->spice));
  g_ptr_array_add (argv, g_strdup_printf ("--control=%s", v->control));
  g_ptr_array_add (argv, g_strdup_printf ("--serial=file:%s", v->serial));
  for (guint i = 0; extra && extra[i]; i++)
    g_ptr_array_add (argv, g_strdup (extra[i]));
  g_ptr_array_add (argv, NULL);
  v->process = nook_machine_process_new ((const char * const *) argv->pdata, v->control, log);
  g_assert_true (nook_machine_process_start (v->process, &error));
  g_assert_no_error (error);
  if (!gui_test_wait (process_connected, v->process, 30))
    g_error ("nook-vmm's control socket did not come up: %s", log);
}

static void
vmm_stop (Vmm *v)
{
  nook_machine_process_terminate (v->process);
  g_clear_object (&v->process);
  g_free (v->dir);
  g_free (v->spice);
  g_free (v->control);
  g_free (v->serial);
}

typedef struct {
  gboolean done;
  JsonNode *reply;
  char *error;
} Reply;

static void
on_reply (GObject      *source,
          GAsyncResult *result,
          gpointer      user_data)
{
  Reply *r = user_data;
  g_autoptr(GError) error = NULL;

  r->reply = nook_machine_process_execute_finish (NOOK_MACHINE_PROCESS (source), result, &error);
  r->error = error ? g_strdup (error->message) : NULL;
  r->done = TRUE;
}

static gboolean
reply_done (gpointer data)
{
  return ((Reply *) data)->done;
}

/* nook-vmm's own picture of its screen. */
static GdkTexture *
screendump (Vmm *v)
{
  g_autofree char *png = g_build_filename (v->dir, "screendump.png", NULL);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(JsonNode) args = NULL;
  g_autoptr(GError) error = NULL;
  GdkTexture *texture;
  Reply r = { 0 };

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "file");
  json_builder_add_string_value (b, png);
  json_builder_end_object (b);
  args = json_builder_get_root (b);
  nook_machine_process_execute (v->process, "screendump", args, NULL, on_reply, &r);
  g_assert_true (gui_test_wait (reply_done, &r, 10));
  if (!r.reply)
    g_error ("screendump: %s", r.error);
  json_node_unref (r.reply);
  texture = gdk_texture_new_from_filename (png, &error);
  g_assert_no_error (error);
  return texture;
}

/* Pixels as 0xAARRGGBB words (GdkTexture's download format). */
static guint32 *
download (GdkTexture *texture)
{
  int w = gdk_texture_get_width (texture), h = gdk_texture_get_height (texture);
  guint32 *px = g_new (guint32, (gsize) w * h);

  gdk_texture_download (texture, (guchar *) px, (gsize) w * 4);
  return px;
}

static gboolean
display_has_frame (gpointer data)
{
  NookDisplay *display = data;
  GdkTexture *t = nook_display_get_texture (display);

  return nook_display_get_connected (display) && t && gdk_texture_get_width (t) == 720 &&
         gdk_texture_get_height (t) == 400;
}

/* Compares the widget's texture with the screendump until they agree (the
 * firmware may still be printing): returns the pixel they agree on that is
 * not black, or fails. */
static void
expect_same_picture (Vmm         *v,
                     NookDisplay *display)
{
  for (int attempt = 0; attempt < 20; attempt++)
    {
      g_autoptr(GdkTexture) dump = screendump (v);
      g_autofree guint32 *want = NULL;
      g_autofree guint32 *got = NULL;
      int w, h, lit = -1, diff = -1;

      /* Let the display catch up with what was dumped. */
      for (int i = 0; i < 20; i++)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (10000);
        }
      if (!display_has_frame (display))
        continue;
      w = gdk_texture_get_width (dump);
      h = gdk_texture_get_height (dump);
      g_assert_cmpint (w, ==, 720);
      g_assert_cmpint (h, ==, 400);
      want = download (dump);
      got = download (nook_display_get_texture (display));
      for (int i = 0; i < w * h; i++)
        {
          if (lit < 0 && (want[i] & 0xffffff) != 0)
            lit = i;
          if (diff < 0 && want[i] != got[i])
            diff = i;
        }
      if (diff < 0 && lit >= 0)
        {
          g_test_message ("same picture; first lit pixel (%d,%d) = %08x", lit % w, lit / w, got[lit]);
          g_assert_cmphex (got[lit], ==, want[lit]);
          return;
        }
      if (diff >= 0)
        g_test_message ("attempt %d: (%d,%d) is %08x, screendump has %08x", attempt, diff % w, diff / w,
                        got[diff], want[diff]);
      g_usleep (200000);
    }
  g_error ("the display never showed what nook-vmm's screendump shows");
}

static GtkWindow *
display_window (NookDisplay **display,
                gboolean      gl)
{
  GtkWindow *window = GTK_WINDOW (gtk_window_new ());

  *display = NOOK_DISPLAY (nook_display_new ());
  nook_display_set_gl_allowed (*display, gl);
  gtk_window_set_default_size (window, 800, 500);
  gtk_window_set_child (window, GTK_WIDGET (*display));
  gtk_window_present (window);
  return window;
}

static void
test_picture (gconstpointer data)
{
  gboolean gl = GPOINTER_TO_INT (data);
  NookDisplay *display;
  GtkWindow *window;
  Vmm v = { 0 };

  if (gui_test_skip_without_kvm ())
    return;
  vmm_start (&v, gl ? "bios-gl" : "bios-mem", NULL);
  window = display_window (&display, gl);
  nook_display_open (display, v.spice);
  if (!gui_test_wait (display_has_frame, display, 30))
    g_error ("no 720x400 frame from %s", v.spice);
  g_test_message ("drawn with %s", nook_display_get_uses_gl (display) ? "a GL texture" : "a memory texture");
  if (gl && !nook_display_get_uses_gl (display))
    g_test_message ("GL is not available here: the memory path was tested instead");
  if (gl && nook_display_get_uses_gl (display))
    g_assert_true (GDK_IS_GL_TEXTURE (nook_display_get_texture (display)));
  if (!gl)
    g_assert_true (GDK_IS_MEMORY_TEXTURE (nook_display_get_texture (display)));
  expect_same_picture (&v, display);

  nook_display_close (display);
  g_assert_false (nook_display_get_connected (display));
  gtk_window_destroy (window);
  vmm_stop (&v);
}

static void
wait_log (const char *path,
          const char *line)
{
  if (!gui_test_wait_file (path, line, 60))
    {
      g_autofree char *text = NULL;

      g_file_get_contents (path, &text, NULL, NULL);
      g_error ("no \"%s\" in %s:\n%s", line, path, text ? text : "(nothing)");
    }
}

static gboolean
inputs_ready (gpointer data)
{
  return nook_display_get_inputs_ready (data);
}

static void
press (NookDisplay *display,
       guint        keyval,
       guint        keycode)
{
  GtkEventController *keys = nook_display_get_key_controller (display);
  gboolean handled = FALSE;

  g_signal_emit_by_name (keys, "key-pressed", keyval, keycode, (GdkModifierType) 0, &handled);
  g_assert_true (handled);
  g_signal_emit_by_name (keys, "key-released", keyval, keycode, (GdkModifierType) 0);
}

/* X11 key codes: Linux key codes plus 8. */
#define XK_A (30 + 8)
#define XK_ESCAPE (1 + 8)
#define XK_RIGHT (106 + 8)

static void
test_keys (void)
{
  g_autofree char *image = gui_test_find_guest ("input.elf");
  g_autofree char *kernel = NULL;
  NookDisplay *display;
  GtkWindow *window;
  Vmm v = { 0 };

  if (gui_test_skip_without_kvm ())
    return;
  if (!image)
    {
      g_test_skip ("tests/guest/input.elf is not built (-Dguest_tests=false?)");
      return;
    }
  kernel = g_strdup_printf ("--kernel=%s", image);
  vmm_start (&v, "keys", (const char *const[]) { kernel, "--vga=std", NULL });
  wait_log (v.serial, "ready for input");
  window = display_window (&display, TRUE);
  nook_display_open (display, v.spice);
  if (!gui_test_wait (inputs_ready, display, 30))
    g_error ("the SPICE inputs channel did not open");

  /* A: make 1e, break 9e; Right: e0 4d, e0 cd; Escape ends the guest. */
  press (display, GDK_KEY_a, XK_A);
  wait_log (v.serial, "kbd 1e\n");
  wait_log (v.serial, "kbd 9e\n");
  press (display, GDK_KEY_Right, XK_RIGHT);
  wait_log (v.serial, "kbd e0\nkbd 4d\n");
  wait_log (v.serial, "kbd e0\nkbd cd\n");
  press (display, GDK_KEY_Escape, XK_ESCAPE);
  wait_log (v.serial, "kbd 01\n");

  gtk_window_destroy (window);
  vmm_stop (&v);
}

static void
on_quit (GObject      *source,
         GAsyncResult *result,
         gpointer      user_data)
{
  g_autoptr(GError) error = NULL;

  /* nook-vmm may go before it answers. */
  nook_machine_execute_finish (NOOK_MACHINE (source), result, &error);
}

static gboolean
view_has_frame (gpointer data)
{
  return display_has_frame (nook_machine_view_get_display (nook_window_get_machine_view (data)));
}

/* Captures the X screen into @png and reads it until @words appear
 * (about 10 s); returns what was read last. */
static char *
ocr_screen (const char *import,
            const char *tesseract,
            const char *png,
            const char *words)
{
  g_autoptr(GError) error = NULL;
  char *text = NULL;
  int status = -1;

  for (int attempt = 0; attempt < 10; attempt++)
    {
      g_autofree char *cmd = NULL;

      for (int i = 0; i < 100; i++)
        {
          g_main_context_iteration (NULL, FALSE);
          g_usleep (10000);
        }
      cmd = g_strdup_printf ("sh -c \"'%s' -window root '%s' && '%s' '%s' stdout 2>/dev/null\"", import, png,
                             tesseract, png);
      g_clear_pointer (&text, g_free);
      g_assert_true (g_spawn_command_line_sync (cmd, &text, NULL, &status, &error));
      g_assert_no_error (error);
      if (g_spawn_check_wait_status (status, NULL) && strstr (text, words))
        break;
    }
  g_test_message ("screenshot %s; OCR:\n%s", png, text);
  return text;
}

/* The whole app window: a machine started and shown, captured from the X
 * screen with ImageMagick's import and read by tesseract. */
static void
test_window_screenshot (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  g_autofree char *import = NULL;
  g_autofree char *tesseract = NULL;
  const char *artifacts = g_getenv ("NOOK_TEST_ARTIFACTS");
  g_autofree char *png = NULL;
  g_autofree char *text = NULL;
  NookWindow *window;
  NookMachine *m;

  if (gui_test_skip_without_kvm ())
    return;
  import = need_tool ("import", "imagemagick");
  tesseract = need_tool ("tesseract", "tesseract-ocr");
  if (!import || !tesseract)
    return;
  png = g_build_filename (artifacts ? artifacts : root, "display-window.png", NULL);

  g_assert_true (nook_library_load (lib, &error));
  m = gui_test_create_machine (lib, "Firmware Screen", NULL);
  window = nook_window_new (NULL, lib);
  gtk_window_set_default_size (GTK_WINDOW (window), 1024, 640);
  gtk_window_present (GTK_WINDOW (window));

  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  nook_window_show_machine (window, m);
  g_assert_cmpstr (nook_window_get_visible_top_page (window), ==, "machine");
  if (!gui_test_wait (view_has_frame, window, 30))
    g_error ("the view shows no frame; machine is %s", nook_machine_state_to_string (nook_machine_get_state (m)));
  g_assert_cmpstr (nook_machine_view_get_page (nook_window_get_machine_view (window)), ==, "display");

  /* Once SeaBIOS has printed its banner, and the window has drawn it. */
  text = ocr_screen (import, tesseract, png, "SeaBIOS");
  g_assert_nonnull (strstr (text, "SeaBIOS"));

  /* Stopped: the view says so. */
  nook_machine_execute (m, "quit", NULL, on_quit, NULL);
  for (int i = 0; i < 1500 && nook_machine_is_active (m); i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
    }
  g_assert_false (nook_machine_is_active (m));
  g_assert_cmpstr (nook_machine_view_get_page (nook_window_get_machine_view (window)), ==, "status");
  gtk_widget_activate_action (GTK_WIDGET (window), "win.show-library", NULL);
  g_assert_cmpstr (nook_window_get_visible_top_page (window), ==, "library");
  gtk_window_destroy (GTK_WINDOW (window));
}

/* The README's demo machine: data/make-demo.sh makes it, the library loads
 * it, and started from its row it greets on screen. */
static void
test_demo (void)
{
  g_autofree char *data = g_build_filename (root, "demo-data", NULL);
  g_autofree char *libdir = g_build_filename (data, "nook", "machines", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  g_autofree char *import = NULL;
  g_autofree char *tesseract = NULL;
  g_autofree char *cmd = NULL;
  g_autofree char *text = NULL;
  g_autofree char *png = NULL;
  const char *artifacts = g_getenv ("NOOK_TEST_ARTIFACTS");
  NookWindow *window;
  NookMachine *m;
  int status = -1;

  if (gui_test_skip_without_kvm ())
    return;
  import = need_tool ("import", "imagemagick");
  tesseract = need_tool ("tesseract", "tesseract-ocr");
  if (!import || !tesseract)
    return;
  png = g_build_filename (artifacts ? artifacts : root, "demo-window.png", NULL);
  cmd = g_strdup_printf ("env XDG_DATA_HOME='%s' sh '%s'", data, g_getenv ("NOOK_MAKE_DEMO"));
  /* Twice: the second run leaves the machine alone. */
  for (int run = 0; run < 2; run++)
    {
      g_autofree char *out = NULL;

      g_assert_true (g_spawn_command_line_sync (cmd, &out, NULL, &status, &error));
      g_assert_no_error (error);
      g_test_message ("%s", out);
      g_assert_true (g_spawn_check_wait_status (status, NULL));
    }

  g_assert_true (nook_library_load (lib, &error));
  g_assert_no_error (error);
  m = nook_library_find (lib, "demo");
  g_assert_nonnull (m);
  g_assert_cmpint (nook_machine_get_state (m), ==, NOOK_MACHINE_STATE_STOPPED);
  g_assert_cmpstr (nook_machine_get_disk_path (m), ==, "disk0.img");

  window = nook_window_new (NULL, lib);
  gtk_window_set_default_size (GTK_WINDOW (window), 1024, 640);
  gtk_window_present (GTK_WINDOW (window));
  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  nook_window_show_machine (window, m);
  if (!gui_test_wait (view_has_frame, window, 30))
    g_error ("the demo shows no frame");
  text = ocr_screen (import, tesseract, png, "Nook demo machine");
  g_assert_nonnull (strstr (text, "Nook demo machine"));
  nook_machine_execute (m, "quit", NULL, on_quit, NULL);
  for (int i = 0; i < 1500 && nook_machine_is_active (m); i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (10000);
    }
  gtk_window_destroy (GTK_WINDOW (window));
}

int
main (int   argc,
      char *argv[])
{
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add_data_func ("/display/picture-gl", GINT_TO_POINTER (TRUE), test_picture);
  g_test_add_data_func ("/display/picture-memory", GINT_TO_POINTER (FALSE), test_picture);
  g_test_add_func ("/display/keys", test_keys);
  g_test_add_func ("/display/window-screenshot", test_window_screenshot);
  g_test_add_func ("/display/demo", test_demo);
  return gui_test_run (root);
}
