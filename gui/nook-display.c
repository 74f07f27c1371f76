/* NookDisplay: follows the primary surface of a SPICE display channel and
 * draws it scaled to the widget (letterboxed), uploading only the dirty
 * rectangles to a GL texture, or rebuilding a memory texture when GL is not
 * there; keys go to the guest as set 1 scancodes and the pointer as
 * absolute positions (client mouse mode) or, once grabbed, as motion. The
 * guest's sound plays through spice-client-glib's audio; its microphone
 * channel is linked only while the "microphone" property is TRUE. */
#include "nook-display-private.h"

#include "keymap.h"
#include "nook-trace.h"

#include <epoxy/gl.h>
#include <gsk/gl/gskglrenderer.h>
#include <glib/gi18n.h>
#include <spice-client.h>

/* A record channel turned off and on again links once the old link has
 * closed, which spice-client-glib does in an idle callback. */
#define RELINK_MS 100
#define RELINK_TRIES 50

/* How long to keep trying while a starting machine has no socket yet. */
#define CONNECT_RETRY_MS 250
#define CONNECT_RETRIES 80

#define SC_CTRL 0x1d
#define SC_ALT 0x38
#define SC_MAX 0x200

/* A GL texture shared by every GdkGLTexture made from it; deleted in its
 * own context when the last of them goes. */
typedef struct {
  gatomicrefcount ref;
  GdkGLContext *context;        /* owned */
  guint id;
  int width;
  int height;
} GlTex;

struct _NookDisplay
{
  GtkWidget parent_instance;

  /* owned */
  GtkWidget *hint;              /* child: how to release the grab */
  GtkEventController *key_controller;
  SpiceSession *session;
  char *spice_path;
  guint retry_id;
  guint retries;
  GdkTexture *texture;
  cairo_region_t *dirty;        /* not yet in the texture */
  GdkGLContext *gl;             /* NULL: memory textures */
  GlTex *gl_tex;
  guint8 *pixels;               /* memory path: the screen, alpha set */

  /* borrowed from the session; cleared when their channel goes */
  SpiceChannel *main;
  SpiceChannel *display;
  SpiceChannel *inputs;         /* once open: before, keys would be dropped */
  SpiceChannel *playback;
  SpiceChannel *record;

  gboolean microphone;
  /* SpiceAudio follows the record channel: it was let see it (it then
   * links it), and from then on we link and unlink it ourselves. */
  gboolean record_audio;
  guint relink_id;              /* turned on again, maybe while still unlinking */
  guint relink_tries;
  gboolean playback_open;
  gboolean record_open;

  gboolean gl_allowed;
  gboolean connected;
  gboolean session_ended;        /* the session's main channel failed or closed */
  /* Since the last close: 1 once the guest has drawn (a primary surface
   * alone is blank), 2 once that is on screen (nook-trace.h). */
  int trace_state;
  int width;
  int height;

  gboolean grabbed;
  gboolean client_mouse;
  guint buttons;                /* SPICE_MOUSE_BUTTON_MASK_* held */
  gboolean have_last;
  double last_x;
  double last_y;
  guint32 held[SC_MAX / 32];    /* scancodes pressed in the guest */
};

G_DEFINE_FINAL_TYPE (NookDisplay, nook_display, GTK_TYPE_WIDGET)

enum {
  PROP_0,
  PROP_CONNECTED,
  PROP_GRABBED,
  PROP_MICROPHONE,
  N_PROPS
};

static GParamSpec *properties[N_PROPS];

static void reconnect (NookDisplay *self);

/* ---- GL textures ---- */

static GlTex *
gl_tex_ref (GlTex *t)
{
  g_atomic_ref_count_inc (&t->ref);
  return t;
}

static void
gl_tex_unref (gpointer data)
{
  GlTex *t = data;

  if (!g_atomic_ref_count_dec (&t->ref))
    return;
  /* GTK makes its own context current again before it draws. */
  gdk_gl_context_make_current (t->context);
  glDeleteTextures (1, &t->id);
  gdk_gl_context_clear_current ();
  g_object_unref (t->context);
  g_free (t);
}

static void
set_held (NookDisplay *self,
          guint        sc,
          gboolean     held)
{
  if (held)
    self->held[sc / 32] |= 1u << (sc % 32);
  else
    self->held[sc / 32] &= ~(1u << (sc % 32));
}

static gboolean
is_held (NookDisplay *self,
         guint        sc)
{
  return (self->held[sc / 32] >> (sc % 32)) & 1;
}

static void
release_keys (NookDisplay *self)
{
  for (guint sc = 0; sc < SC_MAX; sc++)
    {
      if (!is_held (self, sc))
        continue;
      if (self->inputs)
        spice_inputs_channel_key_release (SPICE_INPUTS_CHANNEL (self->inputs), sc);
      set_held (self, sc, FALSE);
    }
}

/* ---- the picture ---- */

static void
mark_all_dirty (NookDisplay *self)
{
  cairo_rectangle_int_t all = { 0, 0, self->width, self->height };

  cairo_region_union_rectangle (self->dirty, &all);
}

/* Only 32-bit surfaces: that is what SPICE servers create for a primary. */
static gboolean
get_primary (NookDisplay         *self,
             SpiceDisplayPrimary *p)
{
  if (!self->display || !spice_display_channel_get_primary (self->display, 0, p) || !p->data)
    return FALSE;
  return (p->format == SPICE_SURFACE_FMT_32_xRGB || p->format == SPICE_SURFACE_FMT_32_ARGB) &&
         p->width > 0 && p->height > 0 && p->stride >= p->width * 4;
}

static void
upload_gl (NookDisplay         *self,
           SpiceDisplayPrimary *p)
{
  int n = cairo_region_num_rectangles (self->dirty);

  gdk_gl_context_make_current (self->gl);
  if (!self->gl_tex || self->gl_tex->width != p->width || self->gl_tex->height != p->height)
    {
      GlTex *t = g_new0 (GlTex, 1);

      g_atomic_ref_count_init (&t->ref);
      t->context = g_object_ref (self->gl);
      t->width = p->width;
      t->height = p->height;
      glGenTextures (1, &t->id);
      glBindTexture (GL_TEXTURE_2D, t->id);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MIN_FILTER, GL_LINEAR);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_MAG_FILTER, GL_LINEAR);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_S, GL_CLAMP_TO_EDGE);
      glTexParameteri (GL_TEXTURE_2D, GL_TEXTURE_WRAP_T, GL_CLAMP_TO_EDGE);
      glPixelStorei (GL_UNPACK_ROW_LENGTH, p->stride / 4);
      /* RGB8 inside: the x byte of xRGB never becomes alpha. */
      glTexImage2D (GL_TEXTURE_2D, 0, GL_RGB8, p->width, p->height, 0, GL_BGRA, GL_UNSIGNED_BYTE, p->data);
      g_clear_pointer (&self->gl_tex, gl_tex_unref);
      self->gl_tex = t;
    }
  else
    {
      glBindTexture (GL_TEXTURE_2D, self->gl_tex->id);
      glPixelStorei (GL_UNPACK_ROW_LENGTH, p->stride / 4);
      for (int i = 0; i < n; i++)
        {
          cairo_rectangle_int_t r;

          cairo_region_get_rectangle (self->dirty, i, &r);
          glTexSubImage2D (GL_TEXTURE_2D, 0, r.x, r.y, r.width, r.height, GL_BGRA, GL_UNSIGNED_BYTE,
                           p->data + (gsize) r.y * p->stride + (gsize) r.x * 4);
        }
    }
  glPixelStorei (GL_UNPACK_ROW_LENGTH, 0);
  glBindTexture (GL_TEXTURE_2D, 0);
  /* GTK samples it from its own (shared) context. */
  glFlush ();
  g_clear_object (&self->texture);
  self->texture = gdk_gl_texture_new (self->gl, self->gl_tex->id, p->width, p->height,
                                      gl_tex_unref, gl_tex_ref (self->gl_tex));
  gdk_gl_context_clear_current ();
}

static void
upload_memory (NookDisplay         *self,
               SpiceDisplayPrimary *p)
{
  gsize stride = (gsize) p->width * 4;
  int n = cairo_region_num_rectangles (self->dirty);
  g_autoptr(GBytes) bytes = NULL;

  if (!self->pixels || !self->texture || gdk_texture_get_width (self->texture) != p->width ||
      gdk_texture_get_height (self->texture) != p->height)
    {
      g_free (self->pixels);
      self->pixels = g_malloc (stride * p->height);
      mark_all_dirty (self);
      n = cairo_region_num_rectangles (self->dirty);
    }
  for (int i = 0; i < n; i++)
    {
      cairo_rectangle_int_t r;

      cairo_region_get_rectangle (self->dirty, i, &r);
      for (int y = r.y; y < r.y + r.height; y++)
        {
          const guint32 *src = (const guint32 *) (p->data + (gsize) y * p->stride) + r.x;
          guint32 *dst = (guint32 *) (self->pixels + (gsize) y * stride) + r.x;

          /* xRGB to opaque BGRA in memory (little-endian words). */
          for (int x = 0; x < r.width; x++)
            dst[x] = GUINT32_TO_LE (GUINT32_FROM_LE (src[x]) | 0xff000000u);
        }
    }
  bytes = g_bytes_new (self->pixels, stride * p->height);
  g_clear_object (&self->texture);
  self->texture = gdk_memory_texture_new (p->width, p->height, GDK_MEMORY_B8G8R8A8_PREMULTIPLIED,
                                          bytes, stride);
}

static void
update_texture (NookDisplay *self)
{
  SpiceDisplayPrimary p;
  cairo_rectangle_int_t all;

  if (!get_primary (self, &p))
    return;
  if (p.width != self->width || p.height != self->height)
    {
      self->width = p.width;
      self->height = p.height;
      g_clear_object (&self->texture);
    }
  if (!self->texture)
    mark_all_dirty (self);
  all = (cairo_rectangle_int_t) { 0, 0, p.width, p.height };
  cairo_region_intersect_rectangle (self->dirty, &all);
  if (cairo_region_is_empty (self->dirty))
    return;
  if (self->gl)
    upload_gl (self, &p);
  else
    upload_memory (self, &p);
  cairo_region_destroy (self->dirty);
  self->dirty = cairo_region_create ();
}

/* Where the guest's screen goes in the widget: as large as fits, centred. */
static gboolean
get_frame (NookDisplay     *self,
           graphene_rect_t *frame,
           double          *scale)
{
  int w = gtk_widget_get_width (GTK_WIDGET (self));
  int h = gtk_widget_get_height (GTK_WIDGET (self));
  double s;

  if (self->width <= 0 || self->height <= 0 || w <= 0 || h <= 0)
    return FALSE;
  s = MIN ((double) w / self->width, (double) h / self->height);
  frame->size.width = floor (self->width * s);
  frame->size.height = floor (self->height * s);
  frame->origin.x = floor ((w - frame->size.width) / 2);
  frame->origin.y = floor ((h - frame->size.height) / 2);
  *scale = s;
  return TRUE;
}

static void
on_first_frame_painted (GdkFrameClock *clock,
                        NookDisplay   *self)
{
  g_signal_handlers_disconnect_by_func (clock, on_first_frame_painted, self);
  nook_trace_mark ("first-guest-frame");
}

static void
nook_display_snapshot (GtkWidget   *widget,
                       GtkSnapshot *snapshot)
{
  NookDisplay *self = NOOK_DISPLAY (widget);
  graphene_rect_t frame;
  double scale;

  gtk_snapshot_append_color (snapshot, &(GdkRGBA) { 0, 0, 0, 1 },
                             &GRAPHENE_RECT_INIT (0, 0, gtk_widget_get_width (widget), gtk_widget_get_height (widget)));
  update_texture (self);
  if (self->texture && get_frame (self, &frame, &scale))
    {
      gtk_snapshot_append_texture (snapshot, self->texture, &frame);
      if (self->trace_state == 1)
        {
          self->trace_state = 2;
          g_signal_connect_object (gtk_widget_get_frame_clock (widget), "after-paint",
                                   G_CALLBACK (on_first_frame_painted), self, 0);
        }
    }
  gtk_widget_snapshot_child (widget, self->hint, snapshot);
}

static void
nook_display_realize (GtkWidget *widget)
{
  NookDisplay *self = NOOK_DISPLAY (widget);
  GtkNative *native;
  GskRenderer *renderer;
  g_autoptr(GdkGLContext) gl = NULL;
  g_autoptr(GError) error = NULL;

  GTK_WIDGET_CLASS (nook_display_parent_class)->realize (widget);

  /* A GL texture only helps a GL renderer; the others would read it back. */
  native = gtk_widget_get_native (widget);
  renderer = native ? gtk_native_get_renderer (native) : NULL;
  if (!self->gl_allowed || !renderer || !GSK_IS_GL_RENDERER (renderer))
    return;
  gl = gdk_surface_create_gl_context (gtk_native_get_surface (native), &error);
  if (!gl || !gdk_gl_context_realize (gl, &error))
    {
      g_debug ("display: no GL, memory textures: %s", error->message);
      return;
    }
  /* GL_BGRA uploads and GL_UNPACK_ROW_LENGTH: desktop GL. */
  if (gdk_gl_context_get_use_es (gl))
    {
      gdk_gl_context_clear_current ();
      return;
    }
  self->gl = g_steal_pointer (&gl);
  gdk_gl_context_clear_current ();
}

static void
nook_display_unrealize (GtkWidget *widget)
{
  NookDisplay *self = NOOK_DISPLAY (widget);

  g_clear_object (&self->texture);
  g_clear_pointer (&self->gl_tex, gl_tex_unref);
  g_clear_object (&self->gl);
  GTK_WIDGET_CLASS (nook_display_parent_class)->unrealize (widget);
}

/* ---- SPICE ---- */

static void
set_connected (NookDisplay *self,
               gboolean     connected)
{
  if (self->connected == connected)
    return;
  self->connected = connected;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_CONNECTED]);
}

static void
on_primary_create (SpiceChannel *channel,
                   int           format,
                   int           width,
                   int           height,
                   int           stride,
                   int           shmid,
                   gpointer      data,
                   NookDisplay  *self)
{
  g_clear_object (&self->texture);
  self->width = width;
  self->height = height;
  self->retries = 0;
  mark_all_dirty (self);
  set_connected (self, TRUE);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_invalidate (SpiceChannel *channel,
               int           x,
               int           y,
               int           width,
               int           height,
               NookDisplay  *self)
{
  cairo_rectangle_int_t r = { x, y, width, height };

  if (self->trace_state == 0)
    self->trace_state = 1;
  cairo_region_union_rectangle (self->dirty, &r);
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

static void
on_mouse_mode (NookDisplay *self)
{
  int mode = 0;

  if (self->main)
    g_object_get (self->main, "mouse-mode", &mode, NULL);
  self->client_mouse = mode == SPICE_MOUSE_MODE_CLIENT;
  if (self->client_mouse)
    nook_display_release_grab (self);
}

static gboolean
on_retry (gpointer data)
{
  NookDisplay *self = data;

  self->retry_id = 0;
  reconnect (self);
  return G_SOURCE_REMOVE;
}

static void
on_main_event (SpiceChannel      *channel,
               SpiceChannelEvent  event,
               NookDisplay       *self)
{
  switch (event)
    {
    case SPICE_CHANNEL_OPENED:
      spice_main_channel_request_mouse_mode (SPICE_MAIN_CHANNEL (channel), SPICE_MOUSE_MODE_CLIENT);
      break;
    case SPICE_CHANNEL_ERROR_CONNECT:
      self->session_ended = TRUE;
      /* A machine that is starting may not listen yet. */
      if (self->retries++ < CONNECT_RETRIES && !self->retry_id)
        self->retry_id = g_timeout_add (CONNECT_RETRY_MS, on_retry, self);
      break;
    case SPICE_CHANNEL_CLOSED:
    case SPICE_CHANNEL_ERROR_IO:
    case SPICE_CHANNEL_ERROR_LINK:
    case SPICE_CHANNEL_ERROR_AUTH:
    case SPICE_CHANNEL_ERROR_TLS:
      self->session_ended = TRUE;
      nook_display_release_grab (self);
      release_keys (self);
      set_connected (self, FALSE);
      break;
    default:
      break;
    }
}

static void
on_inputs_event (SpiceChannel      *channel,
                 SpiceChannelEvent  event,
                 NookDisplay       *self)
{
  if (event == SPICE_CHANNEL_OPENED)
    self->inputs = channel;
  else if (channel == self->inputs)
    {
      release_keys (self);
      self->inputs = NULL;
    }
}

static void
on_playback_event (SpiceChannel      *channel,
                   SpiceChannelEvent  event,
                   NookDisplay       *self)
{
  self->playback_open = event == SPICE_CHANNEL_OPENED;
}

static void
on_record_event (SpiceChannel      *channel,
                 SpiceChannelEvent  event,
                 NookDisplay       *self)
{
  self->record_open = event == SPICE_CHANNEL_OPENED;
  if (self->record_open)
    g_clear_handle_id (&self->relink_id, g_source_remove);
}

/* spice_channel_connect() does nothing to a channel whose last link has
 * not finished closing: it is asked again until the link is up. */
static gboolean
on_relink (gpointer data)
{
  NookDisplay *self = data;

  if (!self->record || !self->microphone || self->record_open || ++self->relink_tries > RELINK_TRIES)
    {
      self->relink_id = 0;
      return G_SOURCE_REMOVE;
    }
  spice_channel_connect (self->record);
  return G_SOURCE_CONTINUE;
}

/* SpiceAudio links every audio channel the session makes and keeps the
 * record channel's samples flowing while the guest records. With the
 * microphone off the record channel never reaches it (nor the server);
 * turned on, SpiceAudio is told to look at the session's channels again
 * (what it does when audio is enabled), and the first time it takes the
 * record channel and links it. After that SpiceAudio stays attached to it,
 * and turning the microphone off and on unlinks and relinks the channel:
 * the server then stops and restarts recording for this client (and
 * SpiceAudio its capture, on record-stop and record-start). */
static void
update_record (NookDisplay *self)
{
  if (!self->record)
    return;
  g_clear_handle_id (&self->relink_id, g_source_remove);
  if (!self->microphone)
    {
      /* record_open follows when the link has closed. */
      spice_channel_disconnect (self->record, SPICE_CHANNEL_NONE);
      return;
    }
  if (!self->record_audio)
    {
      self->record_audio = TRUE;
      g_object_set (self->session, "enable-audio", TRUE, NULL);
      return;
    }
  spice_channel_connect (self->record);
  self->relink_tries = 0;
  self->relink_id = g_timeout_add (RELINK_MS, on_relink, self);
}

static void
on_channel_new (SpiceSession *session,
                SpiceChannel *channel,
                NookDisplay  *self)
{
  int id = 0;

  g_object_get (channel, "channel-id", &id, NULL);
  if (SPICE_IS_MAIN_CHANNEL (channel))
    {
      self->main = channel;
      g_signal_connect_object (channel, "channel-event", G_CALLBACK (on_main_event), self, 0);
      g_signal_connect_object (channel, "notify::mouse-mode", G_CALLBACK (on_mouse_mode), self, G_CONNECT_SWAPPED);
      on_mouse_mode (self);
    }
  else if (SPICE_IS_DISPLAY_CHANNEL (channel) && id == 0 && !self->display)
    {
      self->display = channel;
      g_signal_connect_object (channel, "display-primary-create", G_CALLBACK (on_primary_create), self, 0);
      g_signal_connect_object (channel, "display-invalidate", G_CALLBACK (on_invalidate), self, 0);
      spice_channel_connect (channel);
    }
  else if (SPICE_IS_INPUTS_CHANNEL (channel))
    {
      g_signal_connect_object (channel, "channel-event", G_CALLBACK (on_inputs_event), self, 0);
      spice_channel_connect (channel);
    }
  /* SpiceAudio links the audio channels after us. */
  else if (SPICE_IS_PLAYBACK_CHANNEL (channel) && !self->playback)
    {
      self->playback = channel;
      g_signal_connect_object (channel, "channel-event", G_CALLBACK (on_playback_event), self, 0);
    }
  else if (SPICE_IS_RECORD_CHANNEL (channel) && !self->record)
    {
      self->record = channel;
      g_signal_connect_object (channel, "channel-event", G_CALLBACK (on_record_event), self, 0);
      self->record_audio = self->microphone;
      if (!self->microphone)
        g_signal_stop_emission_by_name (session, "channel-new");
    }
}

static void
on_channel_destroy (SpiceSession *session,
                    SpiceChannel *channel,
                    NookDisplay  *self)
{
  if (channel == self->main)
    self->main = NULL;
  if (channel == self->display)
    {
      self->display = NULL;
      set_connected (self, FALSE);
    }
  if (channel == self->inputs)
    self->inputs = NULL;
  if (channel == self->playback)
    {
      self->playback = NULL;
      self->playback_open = FALSE;
    }
  if (channel == self->record)
    {
      self->record = NULL;
      self->record_open = FALSE;
    }
}

static void
drop_session (NookDisplay *self)
{
  g_clear_handle_id (&self->retry_id, g_source_remove);
  g_clear_handle_id (&self->relink_id, g_source_remove);
  if (!self->session)
    return;
  g_signal_handlers_disconnect_by_data (self->session, self);
  if (self->main)
    g_signal_handlers_disconnect_by_data (self->main, self);
  if (self->display)
    g_signal_handlers_disconnect_by_data (self->display, self);
  if (self->inputs)
    g_signal_handlers_disconnect_by_data (self->inputs, self);
  if (self->playback)
    g_signal_handlers_disconnect_by_data (self->playback, self);
  if (self->record)
    g_signal_handlers_disconnect_by_data (self->record, self);
  spice_session_disconnect (self->session);
  g_clear_object (&self->session);
  self->main = self->display = self->inputs = self->playback = self->record = NULL;
  self->playback_open = self->record_open = self->record_audio = FALSE;
}

static void
reconnect (NookDisplay *self)
{
  g_autofree char *uri = NULL;

  drop_session (self);
  self->session_ended = FALSE;
  if (!self->spice_path)
    return;
  uri = g_strconcat ("spice+unix://", self->spice_path, NULL);
  self->session = spice_session_new ();
  g_object_set (self->session, "uri", uri, NULL);
  g_signal_connect_object (self->session, "channel-new", G_CALLBACK (on_channel_new), self, 0);
  g_signal_connect_object (self->session, "channel-destroy", G_CALLBACK (on_channel_destroy), self, 0);
  /* Owned by the session; plays the playback channel (GStreamer). */
  if (!spice_audio_get (self->session, NULL))
    g_debug ("display: no audio for %s", uri);
  if (!spice_session_connect (self->session))
    g_debug ("display: cannot connect to %s", uri);
}

/**
 * nook_display_open:
 *
 * Connects to the SPICE server listening on the unix socket @spice_path,
 * trying again for a while when nothing listens there yet.
 */
void
nook_display_open (NookDisplay *self,
                   const char  *spice_path)
{
  g_return_if_fail (NOOK_IS_DISPLAY (self));
  g_return_if_fail (spice_path != NULL);

  /* A session to the same server that is connected, or still linking its
   * channels, is kept: starting another one would drop it half-linked
   * (the machine's state changes while its display connects). */
  if (self->session && g_strcmp0 (self->spice_path, spice_path) == 0
      && (self->connected || !self->session_ended))
    return;
  g_free (self->spice_path);
  self->spice_path = g_strdup (spice_path);
  self->retries = 0;
  reconnect (self);
}

void
nook_display_close (NookDisplay *self)
{
  g_return_if_fail (NOOK_IS_DISPLAY (self));

  nook_display_release_grab (self);
  release_keys (self);
  drop_session (self);
  g_clear_pointer (&self->spice_path, g_free);
  set_connected (self, FALSE);
  self->trace_state = 0;
}

/* ---- keyboard ---- */

static void
set_grabbed (NookDisplay *self,
             gboolean     grabbed)
{
  GtkNative *native = gtk_widget_get_native (GTK_WIDGET (self));
  GdkSurface *surface = native ? gtk_native_get_surface (native) : NULL;

  if (self->grabbed == grabbed)
    return;
  self->grabbed = grabbed;
  self->have_last = FALSE;
  gtk_widget_set_cursor_from_name (GTK_WIDGET (self), grabbed ? "none" : NULL);
  gtk_widget_set_visible (self->hint, grabbed);
  if (GDK_IS_TOPLEVEL (surface))
    {
      if (grabbed)
        gdk_toplevel_inhibit_system_shortcuts (GDK_TOPLEVEL (surface), NULL);
      else
        gdk_toplevel_restore_system_shortcuts (GDK_TOPLEVEL (surface));
    }
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_GRABBED]);
}

void
nook_display_release_grab (NookDisplay *self)
{
  g_return_if_fail (NOOK_IS_DISPLAY (self));
  set_grabbed (self, FALSE);
}

/* X11 and Wayland (evdev) hardware key codes are Linux key codes plus 8. */
static guint
scancode_of (guint keycode)
{
  return keycode >= 8 && keycode - 8 <= KEYMAP_MAX_CODE ? keymap_linux_to_set1 (keycode - 8) : 0;
}

static gboolean
on_key_pressed (GtkEventControllerKey *controller,
                guint                  keyval,
                guint                  keycode,
                GdkModifierType        state,
                NookDisplay           *self)
{
  guint sc = scancode_of (keycode);

  if (!sc || sc >= SC_MAX || !self->inputs)
    return FALSE;
  /* Ctrl+Alt: the way out; the guest sees the first of them go up again.
   * The state is the one from before this key. */
  if (((sc & 0xff) == SC_CTRL && (state & GDK_ALT_MASK)) ||
      ((sc & 0xff) == SC_ALT && (state & GDK_CONTROL_MASK)))
    {
      release_keys (self);
      if (self->grabbed)
        set_grabbed (self, FALSE);
      else
        gtk_widget_child_focus (GTK_WIDGET (gtk_widget_get_root (GTK_WIDGET (self))), GTK_DIR_TAB_FORWARD);
      return TRUE;
    }
  set_held (self, sc, TRUE);
  spice_inputs_channel_key_press (SPICE_INPUTS_CHANNEL (self->inputs), sc);
  return TRUE;
}

static void
on_key_released (GtkEventControllerKey *controller,
                 guint                  keyval,
                 guint                  keycode,
                 GdkModifierType        state,
                 NookDisplay           *self)
{
  guint sc = scancode_of (keycode);

  if (!sc || sc >= SC_MAX || !is_held (self, sc))
    return;
  set_held (self, sc, FALSE);
  if (self->inputs)
    spice_inputs_channel_key_release (SPICE_INPUTS_CHANNEL (self->inputs), sc);
}

static void
on_focus_leave (NookDisplay *self)
{
  release_keys (self);
  set_grabbed (self, FALSE);
}

/**
 * nook_display_send_keys:
 *
 * Presses the set 1 @scancodes (0x100 for an 0xe0 prefix) in order and
 * releases them the other way round: Ctrl+Alt+Del, say.
 *
 * Returns: FALSE when there is no input channel
 */
gboolean
nook_display_send_keys (NookDisplay *self,
                        const guint *scancodes,
                        guint        n_scancodes)
{
  g_return_val_if_fail (NOOK_IS_DISPLAY (self), FALSE);

  if (!self->inputs)
    return FALSE;
  for (guint i = 0; i < n_scancodes; i++)
    spice_inputs_channel_key_press (SPICE_INPUTS_CHANNEL (self->inputs), scancodes[i]);
  for (guint i = n_scancodes; i > 0; i--)
    spice_inputs_channel_key_release (SPICE_INPUTS_CHANNEL (self->inputs), scancodes[i - 1]);
  return TRUE;
}

/* ---- pointer ---- */

static gboolean
to_guest (NookDisplay *self,
          double       x,
          double       y,
          int         *gx,
          int         *gy)
{
  graphene_rect_t frame;
  double scale;

  if (!get_frame (self, &frame, &scale))
    return FALSE;
  *gx = CLAMP ((int) ((x - frame.origin.x) / scale), 0, self->width - 1);
  *gy = CLAMP ((int) ((y - frame.origin.y) / scale), 0, self->height - 1);
  return TRUE;
}

static void
on_motion (GtkEventControllerMotion *controller,
           double                    x,
           double                    y,
           NookDisplay              *self)
{
  int gx, gy;

  if (!self->inputs || !self->connected)
    return;
  if (self->client_mouse)
    {
      if (to_guest (self, x, y, &gx, &gy))
        spice_inputs_channel_position (SPICE_INPUTS_CHANNEL (self->inputs), gx, gy, 0, (int) self->buttons);
      return;
    }
  if (!self->grabbed)
    return;
  /* No pointer warping in GTK 4: deltas from the last position. */
  if (self->have_last)
    {
      int dx = (int) lround (x - self->last_x);
      int dy = (int) lround (y - self->last_y);

      if (dx || dy)
        spice_inputs_channel_motion (SPICE_INPUTS_CHANNEL (self->inputs), dx, dy, (int) self->buttons);
    }
  self->have_last = TRUE;
  self->last_x = x;
  self->last_y = y;
}

static gboolean
spice_button (guint  gdk_button,
              int   *button,
              guint *mask)
{
  switch (gdk_button)
    {
    case GDK_BUTTON_PRIMARY:
      *button = SPICE_MOUSE_BUTTON_LEFT;
      *mask = SPICE_MOUSE_BUTTON_MASK_LEFT;
      return TRUE;
    case GDK_BUTTON_MIDDLE:
      *button = SPICE_MOUSE_BUTTON_MIDDLE;
      *mask = SPICE_MOUSE_BUTTON_MASK_MIDDLE;
      return TRUE;
    case GDK_BUTTON_SECONDARY:
      *button = SPICE_MOUSE_BUTTON_RIGHT;
      *mask = SPICE_MOUSE_BUTTON_MASK_RIGHT;
      return TRUE;
    default:
      return FALSE;
    }
}

static void
on_pressed (GtkGestureClick *gesture,
            int              n_press,
            double           x,
            double           y,
            NookDisplay     *self)
{
  guint gdk_button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  int button;
  guint mask;

  gtk_widget_grab_focus (GTK_WIDGET (self));
  if (!self->inputs || !self->connected || !spice_button (gdk_button, &button, &mask))
    return;
  if (!self->client_mouse && !self->grabbed)
    {
      set_grabbed (self, TRUE);
      return;
    }
  on_motion (NULL, x, y, self);
  self->buttons |= mask;
  spice_inputs_channel_button_press (SPICE_INPUTS_CHANNEL (self->inputs), button, (int) self->buttons);
}

static void
on_released (GtkGestureClick *gesture,
             int              n_press,
             double           x,
             double           y,
             NookDisplay     *self)
{
  guint gdk_button = gtk_gesture_single_get_current_button (GTK_GESTURE_SINGLE (gesture));
  int button;
  guint mask;

  if (!spice_button (gdk_button, &button, &mask) || !(self->buttons & mask))
    return;
  self->buttons &= ~mask;
  if (self->inputs)
    spice_inputs_channel_button_release (SPICE_INPUTS_CHANNEL (self->inputs), button, (int) self->buttons);
}

static gboolean
on_scroll (GtkEventControllerScroll *controller,
           double                    dx,
           double                    dy,
           NookDisplay              *self)
{
  int button = dy < 0 ? SPICE_MOUSE_BUTTON_UP : SPICE_MOUSE_BUTTON_DOWN;

  if (!self->inputs || !self->connected || dy == 0 || (!self->client_mouse && !self->grabbed))
    return FALSE;
  spice_inputs_channel_button_press (SPICE_INPUTS_CHANNEL (self->inputs), button, (int) self->buttons);
  spice_inputs_channel_button_release (SPICE_INPUTS_CHANNEL (self->inputs), button, (int) self->buttons);
  return TRUE;
}

/* ---- object ---- */

static void
nook_display_get_property (GObject    *object,
                           guint       prop_id,
                           GValue     *value,
                           GParamSpec *pspec)
{
  NookDisplay *self = NOOK_DISPLAY (object);

  switch (prop_id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, self->connected);
      break;
    case PROP_GRABBED:
      g_value_set_boolean (value, self->grabbed);
      break;
    case PROP_MICROPHONE:
      g_value_set_boolean (value, self->microphone);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nook_display_set_property (GObject      *object,
                           guint         prop_id,
                           const GValue *value,
                           GParamSpec   *pspec)
{
  NookDisplay *self = NOOK_DISPLAY (object);

  switch (prop_id)
    {
    case PROP_MICROPHONE:
      nook_display_set_microphone (self, g_value_get_boolean (value));
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
nook_display_dispose (GObject *object)
{
  NookDisplay *self = NOOK_DISPLAY (object);

  drop_session (self);
  g_clear_pointer (&self->hint, gtk_widget_unparent);
  G_OBJECT_CLASS (nook_display_parent_class)->dispose (object);
}

static void
nook_display_finalize (GObject *object)
{
  NookDisplay *self = NOOK_DISPLAY (object);

  g_clear_object (&self->texture);
  g_clear_pointer (&self->gl_tex, gl_tex_unref);
  g_clear_object (&self->gl);
  g_clear_pointer (&self->dirty, cairo_region_destroy);
  g_free (self->pixels);
  g_free (self->spice_path);
  G_OBJECT_CLASS (nook_display_parent_class)->finalize (object);
}

static void
nook_display_class_init (NookDisplayClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->get_property = nook_display_get_property;
  object_class->set_property = nook_display_set_property;
  object_class->dispose = nook_display_dispose;
  object_class->finalize = nook_display_finalize;
  widget_class->snapshot = nook_display_snapshot;
  widget_class->realize = nook_display_realize;
  widget_class->unrealize = nook_display_unrealize;

  properties[PROP_CONNECTED] =
    g_param_spec_boolean ("connected", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  properties[PROP_GRABBED] =
    g_param_spec_boolean ("grabbed", NULL, NULL, FALSE, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /* Whether the guest hears this computer's microphone. */
  properties[PROP_MICROPHONE] =
    g_param_spec_boolean ("microphone", NULL, NULL, FALSE,
                          G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, properties);

  gtk_widget_class_set_layout_manager_type (widget_class, GTK_TYPE_BIN_LAYOUT);
  gtk_widget_class_set_css_name (widget_class, "nook-display");
  gtk_widget_class_set_accessible_role (widget_class, GTK_ACCESSIBLE_ROLE_IMG);
}

static void
nook_display_init (NookDisplay *self)
{
  GtkWidget *widget = GTK_WIDGET (self);
  GtkEventController *controller;
  GtkGesture *click;

  self->dirty = cairo_region_create ();
  self->gl_allowed = TRUE;

  gtk_widget_set_focusable (widget, TRUE);
  gtk_widget_set_focus_on_click (widget, TRUE);
  gtk_widget_set_overflow (widget, GTK_OVERFLOW_HIDDEN);
  gtk_widget_set_size_request (widget, 320, 200);
  gtk_accessible_update_property (GTK_ACCESSIBLE (self),
                                  GTK_ACCESSIBLE_PROPERTY_LABEL, _("Machine screen"),
                                  GTK_ACCESSIBLE_PROPERTY_DESCRIPTION,
                                  _("Keys and pointer go to the machine; Ctrl+Alt gives them back"),
                                  -1);

  self->hint = gtk_label_new (_("Press Ctrl+Alt to release"));
  gtk_widget_set_halign (self->hint, GTK_ALIGN_CENTER);
  gtk_widget_set_valign (self->hint, GTK_ALIGN_START);
  gtk_widget_set_margin_top (self->hint, 12);
  gtk_widget_add_css_class (self->hint, "osd");
  gtk_widget_add_css_class (self->hint, "toolbar");
  gtk_widget_set_can_target (self->hint, FALSE);
  gtk_widget_set_visible (self->hint, FALSE);
  gtk_widget_set_parent (self->hint, widget);

  self->key_controller = gtk_event_controller_key_new ();
  g_signal_connect (self->key_controller, "key-pressed", G_CALLBACK (on_key_pressed), self);
  g_signal_connect (self->key_controller, "key-released", G_CALLBACK (on_key_released), self);
  gtk_widget_add_controller (widget, self->key_controller);

  controller = gtk_event_controller_focus_new ();
  g_signal_connect_swapped (controller, "leave", G_CALLBACK (on_focus_leave), self);
  gtk_widget_add_controller (widget, controller);

  controller = gtk_event_controller_motion_new ();
  g_signal_connect (controller, "motion", G_CALLBACK (on_motion), self);
  gtk_widget_add_controller (widget, controller);

  click = gtk_gesture_click_new ();
  gtk_gesture_single_set_button (GTK_GESTURE_SINGLE (click), 0);
  g_signal_connect (click, "pressed", G_CALLBACK (on_pressed), self);
  g_signal_connect (click, "released", G_CALLBACK (on_released), self);
  gtk_widget_add_controller (widget, GTK_EVENT_CONTROLLER (click));

  controller = gtk_event_controller_scroll_new (GTK_EVENT_CONTROLLER_SCROLL_VERTICAL |
                                                GTK_EVENT_CONTROLLER_SCROLL_DISCRETE);
  g_signal_connect (controller, "scroll", G_CALLBACK (on_scroll), self);
  gtk_widget_add_controller (widget, controller);
}

GtkWidget *
nook_display_new (void)
{
  return g_object_new (NOOK_TYPE_DISPLAY, NULL);
}

gboolean
nook_display_get_connected (NookDisplay *self)
{
  g_return_val_if_fail (NOOK_IS_DISPLAY (self), FALSE);
  return self->connected;
}

gboolean
nook_display_get_microphone (NookDisplay *self)
{
  g_return_val_if_fail (NOOK_IS_DISPLAY (self), FALSE);
  return self->microphone;
}

/**
 * nook_display_set_microphone:
 *
 * Links the SPICE record channel, through which the guest hears this
 * computer's microphone, or unlinks it; off, nothing is recorded or sent.
 */
void
nook_display_set_microphone (NookDisplay *self,
                             gboolean     microphone)
{
  g_return_if_fail (NOOK_IS_DISPLAY (self));

  microphone = !!microphone;
  if (self->microphone == microphone)
    return;
  self->microphone = microphone;
  update_record (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_MICROPHONE]);
}

gboolean
nook_display_get_grabbed (NookDisplay *self)
{
  g_return_val_if_fail (NOOK_IS_DISPLAY (self), FALSE);
  return self->grabbed;
}

GdkTexture *
nook_display_get_texture (NookDisplay *self)
{
  return self->texture;
}

GtkEventController *
nook_display_get_key_controller (NookDisplay *self)
{
  return self->key_controller;
}

void
nook_display_set_gl_allowed (NookDisplay *self,
                             gboolean     allowed)
{
  self->gl_allowed = allowed;
}

gboolean
nook_display_get_uses_gl (NookDisplay *self)
{
  return self->gl != NULL;
}

gboolean
nook_display_get_inputs_ready (NookDisplay *self)
{
  return self->inputs != NULL;
}

gboolean
nook_display_get_playback_open (NookDisplay *self)
{
  return self->playback_open;
}

gboolean
nook_display_get_record_open (NookDisplay *self)
{
  return self->record_open;
}

gboolean
nook_display_get_client_mouse (NookDisplay *self)
{
  return self->client_mouse;
}
