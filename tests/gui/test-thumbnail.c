/* The library row's picture of a running machine's screen: the vga guest's
 * 1024x768 colour bars (tests/guest/vga.c) arrive scaled down, agree with
 * nook-vmm's own screendump, refresh while the row is seen and the machine
 * runs, and stop when the row is hidden, the machine paused or stopped. */
#include "gui-test.h"

#include "nook-library.h"
#include "nook-machine-row-private.h"

static char *root;

static void
on_dumped (GObject      *source,
           GAsyncResult *result,
           gpointer      user_data)
{
  GuiTestReply *r = user_data;
  g_autoptr(GError) error = NULL;

  r->ok = nook_machine_screendump_finish (NOOK_MACHINE (source), result, &error);
  r->error = error ? g_strdup (error->message) : NULL;
  r->done = TRUE;
}

/* nook-vmm's own full-size picture of the screen. */
static GdkTexture *
screendump (NookMachine *m)
{
  g_autofree char *png = g_build_filename (root, "full.png", NULL);
  g_autoptr(GError) error = NULL;
  GdkTexture *texture;
  GuiTestReply r = { 0 };

  nook_machine_screendump (m, png, NULL, on_dumped, &r);
  g_assert_true (gui_test_wait (gui_test_reply_done, &r, 10));
  if (!r.ok)
    g_error ("screendump: %s", r.error);
  texture = gdk_texture_new_from_filename (png, &error);
  g_assert_no_error (error);
  return texture;
}

static GdkTexture *
shown_texture (NookMachineRow *row)
{
  GdkPaintable *p = gtk_picture_get_paintable (nook_machine_row_get_screen_picture (row));

  return p && GDK_IS_TEXTURE (p) ? GDK_TEXTURE (p) : NULL;
}

/* The picture has the vga guest's mode: 1024x768, 80 pixels wide. */
static gboolean
shows_mode (gpointer data)
{
  GdkTexture *t = shown_texture (data);

  return t && gdk_texture_get_width (t) == 80 && gdk_texture_get_height (t) == 60;
}

typedef struct {
  NookMachineRow *row;
  guint count;
} CountWait;

static gboolean
count_grew (gpointer data)
{
  CountWait *w = data;

  return nook_machine_row_get_thumbnail_count (w->row) > w->count;
}

/* No new picture for @seconds. */
static void
assert_no_refresh (NookMachineRow *row,
                   double          seconds)
{
  CountWait w = { row, nook_machine_row_get_thumbnail_count (row) };

  g_assert_false (gui_test_wait (count_grew, &w, seconds));
  g_assert_false (nook_machine_row_get_refreshing (row));
}

static void
wait_refresh (NookMachineRow *row)
{
  CountWait w = { row, nook_machine_row_get_thumbnail_count (row) };

  if (!gui_test_wait (count_grew, &w, 6))
    g_error ("the row's picture was not refreshed");
}

static gboolean
not_refreshing (gpointer data)
{
  return !nook_machine_row_get_refreshing (data);
}

static guint32
pixel (const guint32 *px,
       int            stride,
       int            x,
       int            y)
{
  return px[y * stride + x];
}

static void
test_thumbnail (void)
{
  g_autofree char *libdir = g_build_filename (root, "lib", NULL);
  g_autoptr(NookLibrary) lib = nook_library_new (libdir);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkTexture) full = NULL;
  g_autofree char *image = NULL;
  g_autofree char *serial = NULL;
  g_autofree guint32 *full_px = NULL;
  g_autofree guint32 *thumb_px = NULL;
  NookMachineRow *row;
  GtkPicture *picture;
  GtkWindow *window;
  GdkTexture *thumb;
  NookMachine *m;
  int fw, fh;

  if (gui_test_skip_without_kvm ())
    return;
  image = gui_test_need_guest ("vga.elf");
  g_assert_true (nook_library_load (lib, &error));
  m = gui_test_create_machine (lib, "Colour Bars", image);

  row = NOOK_MACHINE_ROW (nook_machine_row_new (m));
  picture = nook_machine_row_get_screen_picture (row);
  window = GTK_WINDOW (gtk_window_new ());
  gtk_window_set_child (window, GTK_WIDGET (row));
  gtk_window_present (window);
  g_assert_true (gui_test_wait ((GuiTestCondition) gtk_widget_get_mapped, row, 5));

  /* Stopped: the icon, no picture, nothing refreshing. */
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (picture)));
  g_assert_null (shown_texture (row));
  g_assert_false (nook_machine_row_get_refreshing (row));
  g_assert_cmpstr (gtk_picture_get_alternative_text (picture), ==, "Screen of Colour Bars");
  gtk_test_accessible_assert_property (picture, GTK_ACCESSIBLE_PROPERTY_DESCRIPTION, "Screen of Colour Bars");

  g_assert_true (nook_machine_start (m, &error));
  g_assert_no_error (error);
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 30);
  serial = g_build_filename (nook_machine_get_dir (m), "serial.log", NULL);
  if (!gui_test_wait_file (serial, "ready for screendump", 20))
    g_error ("the vga guest did not get ready: %s", serial);

  /* The guest's mode, scaled to the row: within a few seconds. */
  if (!gui_test_wait (shows_mode, row, 8))
    {
      GdkTexture *t = shown_texture (row);

      g_error ("the row shows %dx%d, not 80x60", t ? gdk_texture_get_width (t) : 0,
               t ? gdk_texture_get_height (t) : 0);
    }
  g_assert_true (gtk_widget_get_visible (GTK_WIDGET (picture)));
  g_assert_true (gtk_widget_get_mapped (GTK_WIDGET (picture)));
  /* A picture asked for after the guest drew: the second from now. */
  wait_refresh (row);
  wait_refresh (row);

  /* Its size is the guest display's, scaled; its bars are the guest's. */
  full = screendump (m);
  fw = gdk_texture_get_width (full);
  fh = gdk_texture_get_height (full);
  g_assert_cmpint (fw, ==, 1024);
  g_assert_cmpint (fh, ==, 768);
  thumb = shown_texture (row);
  g_assert_cmpint (gdk_texture_get_width (thumb), ==, 80);
  g_assert_cmpint (gdk_texture_get_height (thumb), ==, 80 * fh / fw);
  full_px = g_new (guint32, (gsize) fw * fh);
  gdk_texture_download (full, (guchar *) full_px, (gsize) fw * 4);
  thumb_px = g_new (guint32, 80 * 60);
  gdk_texture_download (thumb, (guchar *) thumb_px, 80 * 4);
  for (int bar = 0; bar < 8; bar++)
    {
      guint32 want = pixel (full_px, fw, bar * fw / 8 + fw / 16, 64);
      guint32 got = pixel (thumb_px, 80, bar * 10 + 5, 5);

      for (int shift = 0; shift < 24; shift += 8)
        {
          int a = (int) ((want >> shift) & 0xff);
          int b = (int) ((got >> shift) & 0xff);

          if (ABS (a - b) > 8)
            g_error ("bar %d: the row shows %06x where the screen is %06x", bar, got & 0xffffff, want & 0xffffff);
        }
      if (bar > 0)
        g_assert_cmpuint (pixel (full_px, fw, bar * fw / 8 + fw / 16, 64), !=,
                          pixel (full_px, fw, (bar - 1) * fw / 8 + fw / 16, 64));
    }

  /* Live: a new picture every couple of seconds. */
  wait_refresh (row);
  wait_refresh (row);

  /* Not seen: no refreshes; seen again: they come back. */
  gtk_widget_set_visible (GTK_WIDGET (window), FALSE);
  g_assert_false (gtk_widget_get_mapped (GTK_WIDGET (row)));
  assert_no_refresh (row, 3);
  gtk_window_present (window);
  g_assert_true (gui_test_wait ((GuiTestCondition) gtk_widget_get_mapped, row, 5));
  wait_refresh (row);

  /* Paused: the last picture stays, nothing refreshes. */
  gui_test_execute_ok (m, "pause");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_PAUSED, 10);
  g_assert_true (gui_test_wait (not_refreshing, row, 5));
  g_assert_nonnull (shown_texture (row));
  assert_no_refresh (row, 3);
  gui_test_execute_ok (m, "resume");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_RUNNING, 10);
  wait_refresh (row);

  /* Stopped: back to the icon, and no more pictures. */
  gui_test_execute_ok (m, "quit");
  gui_test_wait_state (m, NOOK_MACHINE_STATE_STOPPED, 15);
  g_assert_false (gtk_widget_get_visible (GTK_WIDGET (picture)));
  g_assert_null (shown_texture (row));
  assert_no_refresh (row, 4);
  g_assert_null (shown_texture (row));

  gtk_window_destroy (window);
}

int
main (int   argc,
      char *argv[])
{
  /* The accessible description is read back through GTK's test backend. */
  g_setenv ("GTK_A11Y", "test", TRUE);
  root = gui_test_init_gtk (&argc, &argv);
  g_test_add_func ("/thumbnail/live", test_thumbnail);
  return gui_test_run (root);
}
