/* The SPICE display: see spice.h.
 *
 * spice-server runs a worker thread per display that pulls drawing commands
 * through the QXL interface. This display has no QXL device behind it, so it
 * makes the commands itself: the console's dirty rectangles are merged into
 * one box, and when the worker asks for a command the box's pixels are
 * copied into a bitmap drawn onto the primary surface. Copying when the
 * worker asks, not when the guest draws, means a slow client gets fewer,
 * newer frames instead of a queue of old ones.
 *
 * Threads: console callbacks (any thread, console lock held) only record
 * and poke the main loop through an eventfd. The main loop owns the primary
 * surface: creating and destroying it waits for the worker, which may be
 * waiting for the console lock in get_command, so that never happens inside
 * a console callback. The worker reads pixels under the console lock.
 * Lock order: console lock, then d->lock.
 *
 * Audio: the display is the sink of a clock backend (vmm/core/audio.h),
 * whose functions run on the audio clock's thread. spice-server's playback
 * and record functions keep no locks (a playback client's free frames, its
 * pipe and its socket are the main loop's), so they are called on the main
 * loop only: the sink hands samples over through two rings of its own and
 * an eventfd. */
#include "spice.h"

#include <errno.h>
#include <glib-unix.h>
#include <glib.h>
#include <pthread.h>
#include <spice-server/spice.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../vmm/core/audio.h"
#include "../vmm/core/console.h"
#include "../vmm/core/input.h"
#include "../vmm/core/keymap.h"
#include "../vmm/core/log.h"

#define MEMSLOT_GROUP 0
#define CURSOR_QUEUE_MAX 64
/* How often the main loop checks whether the guest's pointer turned
 * absolute (a tablet driver loaded) or relative. */
#define POINTER_MODE_POLL_MS 250
/* The rings between the audio clock and the main loop: about 340 ms of
 * 48 kHz stereo each way. */
#define AUDIO_RING_BYTES 65536
/* Frames the clock thread converts at a time. */
#define AUDIO_CHUNK 1024

struct draw {
    QXLCommandExt ext;
    QXLDrawable drawable;
    QXLImage image;
    uint8_t pixels[];
};

struct cursor_cmd {
    QXLCommandExt ext;
    QXLCursorCmd cmd;
    struct cursor_cmd *next;
    QXLCursor shape;            /* for QXL_CURSOR_SET, followed by its pixels */
};

/* Nearest-sample rate conversion of a stream: output frame n is input
 * frame n * from / to, counted from the stream's start. */
struct resampler {
    unsigned from, to;
    uint64_t in, out;           /* frames taken and made so far */
};

struct spice_display {
    SpiceServer *server;
    QXLInstance qxl;
    SpiceKbdInstance kbd;
    SpiceMouseInstance mouse;
    SpiceTabletInstance tablet;
    bool tablet_added;

    struct console *con;
    struct console_listener listener;
    struct input *in;
    char *socket_path;

    int wake_fd;
    guint wake_watch, mode_timer;

    /* Main loop only. */
    uint8_t *primary;
    unsigned prim_alloc_w, prim_alloc_h;

    pthread_mutex_t lock;       /* everything below */
    unsigned prim_w, prim_h;    /* the primary surface the worker may draw on; 0: none */
    unsigned want_w, want_h;    /* the console's surface */
    bool surface_pending;
    bool dirty;
    unsigned x0, y0, x1, y1;    /* dirty box, x1/y1 exclusive */
    struct cursor_cmd *cursor_head, *cursor_tail;
    unsigned cursor_count;

    /* Input state: main loop only. */
    bool e0;
    unsigned e1;                /* bytes of a Pause sequence still to come */
    int tablet_w, tablet_h;
    unsigned leds;              /* last told to clients */
    unsigned abs_x, abs_y, buttons;

    uint64_t image_unique;

    /* Audio: the clock backend's sink. The channels run at spice_rate
     * whatever the guest's rate, since a client's codec is chosen at its
     * connection from the channel's rate (Opus only at 48 kHz): the
     * clock's side converts. */
    struct audio_backend *_Atomic audio;    /* borrowed; NULL: none, or it went first */
    SpicePlaybackInstance playback;
    SpiceRecordInstance record;
    bool playback_added, record_added;
    unsigned spice_rate;
    int audio_fd;               /* eventfd: the clock thread pokes the main loop */
    guint audio_watch;
    /* Stereo S16LE at spice_rate. out: the clock's thread writes, the
     * main loop reads; in: the other way round. */
    struct audio_ring out_ring, in_ring;
    /* What the sink was told; the main loop starts and stops the channels
     * to match. */
    _Atomic bool want_play, want_record;
    /* Audio clock's side, under the backend's lock (every sink function
     * runs under it): the voices carried (one each way, as SPICE has one
     * channel each way) and their conversion. */
    struct audio_voice *out_voice, *in_voice;
    struct resampler out_rs, in_rs;
    int16_t in_last[2];         /* the input frame read last */
    int16_t conv[AUDIO_CHUNK * 2];
    bool warned_voices;
    /* Main loop only: the channels' state and the playback frame being
     * filled (spice-server's buffer, until put back). */
    bool playing, recording;
    uint32_t *frame;
    uint32_t frame_pos, frame_size;
};

/* The display that holds an interface instance as its member m. */
#define DISPLAY_OF(p, m) ((struct spice_display *)((char *)(p) - offsetof(struct spice_display, m)))

static struct spice_display *from_qxl(QXLInstance *q)
{
    return DISPLAY_OF(q, qxl);
}

static void poke(struct spice_display *d)
{
    uint64_t one = 1;

    if (write(d->wake_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("spice: cannot wake the main loop: %s", strerror(errno));
}

/* ---- the core interface on the GLib main context ---- */

struct SpiceTimer {
    SpiceTimerFunc func;
    void *opaque;
    guint source;
};

static gboolean timer_fired(gpointer data)
{
    SpiceTimer *t = data;

    t->source = 0;
    t->func(t->opaque);
    return G_SOURCE_REMOVE;
}

static SpiceTimer *core_timer_add(SpiceTimerFunc func, void *opaque)
{
    SpiceTimer *t = g_new0(SpiceTimer, 1);

    t->func = func;
    t->opaque = opaque;
    return t;
}

static void core_timer_cancel(SpiceTimer *t)
{
    if (t->source)
        g_source_remove(t->source);
    t->source = 0;
}

static void core_timer_start(SpiceTimer *t, uint32_t ms)
{
    core_timer_cancel(t);
    t->source = g_timeout_add(ms, timer_fired, t);
}

static void core_timer_remove(SpiceTimer *t)
{
    core_timer_cancel(t);
    g_free(t);
}

struct SpiceWatch {
    int fd;
    SpiceWatchFunc func;
    void *opaque;
    guint source;
};

static gboolean watch_fired(gint fd, GIOCondition cond, gpointer data)
{
    SpiceWatch *w = data;
    int ev = 0;

    if (cond & (G_IO_IN | G_IO_HUP | G_IO_ERR))
        ev |= SPICE_WATCH_EVENT_READ;
    if (cond & G_IO_OUT)
        ev |= SPICE_WATCH_EVENT_WRITE;
    /* func may remove or change this watch: w is not touched after it. */
    w->func(fd, ev, w->opaque);
    return G_SOURCE_CONTINUE;
}

static void core_watch_update_mask(SpiceWatch *w, int mask)
{
    GIOCondition cond = 0;

    if (w->source)
        g_source_remove(w->source);
    w->source = 0;
    if (mask & SPICE_WATCH_EVENT_READ)
        cond |= G_IO_IN;
    if (mask & SPICE_WATCH_EVENT_WRITE)
        cond |= G_IO_OUT;
    if (cond)
        w->source = g_unix_fd_add(w->fd, cond, watch_fired, w);
}

static SpiceWatch *core_watch_add(int fd, int mask, SpiceWatchFunc func, void *opaque)
{
    SpiceWatch *w = g_new0(SpiceWatch, 1);

    w->fd = fd;
    w->func = func;
    w->opaque = opaque;
    core_watch_update_mask(w, mask);
    return w;
}

static void core_watch_remove(SpiceWatch *w)
{
    if (w->source)
        g_source_remove(w->source);
    g_free(w);
}

static void core_channel_event(int event, SpiceChannelEventInfo *info)
{
    static const char *const what[] = { "?", "connected", "initialized", "disconnected" };

    log_debug("spice: channel %d:%d %s%s", info->type, info->id, what[event >= 1 && event <= 3 ? event : 0],
              (info->flags & SPICE_CHANNEL_EVENT_FLAG_TLS) ? " (TLS)" : "");
}

static SpiceCoreInterface core = {
    .base = {
        .type = SPICE_INTERFACE_CORE,
        .description = "nook main loop",
        .major_version = SPICE_INTERFACE_CORE_MAJOR,
        .minor_version = SPICE_INTERFACE_CORE_MINOR,
    },
    .timer_add = core_timer_add,
    .timer_start = core_timer_start,
    .timer_cancel = core_timer_cancel,
    .timer_remove = core_timer_remove,
    .watch_add = core_watch_add,
    .watch_update_mask = core_watch_update_mask,
    .watch_remove = core_watch_remove,
    .channel_event = core_channel_event,
};

/* ---- the QXL interface: the worker's side ---- */

static void qxl_attached_worker(QXLInstance *q)
{
}

static void qxl_set_compression_level(QXLInstance *q, int level)
{
}

static void qxl_get_init_info(QXLInstance *q, QXLDevInitInfo *info)
{
    memset(info, 0, sizeof(*info));
    info->num_memslots_groups = 1;
    info->num_memslots = 1;
    info->memslot_gen_bits = 8;
    info->memslot_id_bits = 8;
    info->internal_groupslot_id = 0;
    info->qxl_ram_size = ~0u;
    info->n_surfaces = 1;
}

/* Copies the dirty box into a draw command; NULL when there is nothing to
 * draw (or no memory: the box stays dirty). */
static struct draw *make_draw(struct spice_display *d)
{
    const struct console_surface *s;
    unsigned x0, y0, w, h;
    struct draw *u = NULL;

    console_lock(d->con);
    s = console_surface_locked(d->con);
    pthread_mutex_lock(&d->lock);
    if (!d->dirty || !d->prim_w || !s->pixels || s->width != d->prim_w || s->height != d->prim_h)
        goto out;
    x0 = d->x0, y0 = d->y0;
    w = (d->x1 < d->prim_w ? d->x1 : d->prim_w) - x0;
    h = (d->y1 < d->prim_h ? d->y1 : d->prim_h) - y0;
    u = malloc(sizeof(*u) + (size_t)w * h * 4);
    if (!u)
        goto out;
    d->dirty = false;
    for (unsigned y = 0; y < h; y++)
        memcpy(u->pixels + (size_t)y * w * 4, s->pixels + (size_t)(y0 + y) * s->stride + x0 * 4, (size_t)w * 4);

    memset(&u->ext, 0, sizeof(u->ext));
    memset(&u->drawable, 0, sizeof(u->drawable));
    memset(&u->image, 0, sizeof(u->image));
    u->drawable.release_info.id = (uintptr_t)u;
    u->drawable.surface_id = 0;
    u->drawable.effect = QXL_EFFECT_OPAQUE;
    u->drawable.type = QXL_DRAW_COPY;
    u->drawable.bbox = (QXLRect){ .left = (int32_t)x0, .top = (int32_t)y0,
                                  .right = (int32_t)(x0 + w), .bottom = (int32_t)(y0 + h) };
    u->drawable.clip.type = SPICE_CLIP_TYPE_NONE;
    for (unsigned i = 0; i < 3; i++)
        u->drawable.surfaces_dest[i] = -1;
    u->drawable.u.copy.rop_descriptor = SPICE_ROPD_OP_PUT;
    u->drawable.u.copy.src_bitmap = (uintptr_t)&u->image;
    u->drawable.u.copy.src_area = (QXLRect){ .right = (int32_t)w, .bottom = (int32_t)h };

    QXL_SET_IMAGE_ID(&u->image, QXL_IMAGE_GROUP_DEVICE, ++d->image_unique);
    u->image.descriptor.type = SPICE_IMAGE_TYPE_BITMAP;
    u->image.descriptor.width = w;
    u->image.descriptor.height = h;
    u->image.bitmap.flags = QXL_BITMAP_DIRECT | QXL_BITMAP_TOP_DOWN;
    u->image.bitmap.format = SPICE_BITMAP_FMT_32BIT;
    u->image.bitmap.x = w;
    u->image.bitmap.y = h;
    u->image.bitmap.stride = w * 4;
    u->image.bitmap.data = (uintptr_t)u->pixels;

    u->ext.cmd.type = QXL_CMD_DRAW;
    u->ext.cmd.data = (uintptr_t)&u->drawable;
    u->ext.group_id = MEMSLOT_GROUP;
out:
    pthread_mutex_unlock(&d->lock);
    console_unlock(d->con);
    return u;
}

static int qxl_get_command(QXLInstance *q, QXLCommandExt *ext)
{
    struct spice_display *d = from_qxl(q);
    struct draw *u = make_draw(d);

    if (!u)
        return 0;
    *ext = u->ext;
    return 1;
}

static int qxl_req_cmd_notification(QXLInstance *q)
{
    struct spice_display *d = from_qxl(q);
    bool ready;

    pthread_mutex_lock(&d->lock);
    ready = d->dirty && d->prim_w;
    pthread_mutex_unlock(&d->lock);
    return !ready;
}

static void qxl_release_resource(QXLInstance *q, QXLReleaseInfoExt info)
{
    /* release_info.id is the draw or cursor command it came with, whose
     * first member is the QXLCommandExt. */
    free((void *)(uintptr_t)info.info->id);
}

static int qxl_get_cursor_command(QXLInstance *q, QXLCommandExt *ext)
{
    struct spice_display *d = from_qxl(q);
    struct cursor_cmd *c;

    pthread_mutex_lock(&d->lock);
    c = d->cursor_head;
    if (c) {
        d->cursor_head = c->next;
        if (!d->cursor_head)
            d->cursor_tail = NULL;
        d->cursor_count--;
    }
    pthread_mutex_unlock(&d->lock);
    if (!c)
        return 0;
    *ext = c->ext;
    return 1;
}

static int qxl_req_cursor_notification(QXLInstance *q)
{
    struct spice_display *d = from_qxl(q);
    bool empty;

    pthread_mutex_lock(&d->lock);
    empty = !d->cursor_head;
    pthread_mutex_unlock(&d->lock);
    return empty;
}

static void qxl_notify_update(QXLInstance *q, uint32_t update_id)
{
}

static int qxl_flush_resources(QXLInstance *q)
{
    return 0;
}

static void qxl_async_complete(QXLInstance *q, uint64_t cookie)
{
}

static void qxl_update_area_complete(QXLInstance *q, uint32_t surface_id, QXLRect *rects, uint32_t n)
{
}

static void qxl_set_client_capabilities(QXLInstance *q, uint8_t present, uint8_t caps[SPICE_CAPABILITIES_SIZE])
{
}

/* A client (through its agent) would like this size: pass it to the
 * device. NULL asks whether this is supported. */
static int qxl_client_monitors_config(QXLInstance *q, VDAgentMonitorsConfig *mc)
{
    struct spice_display *d = from_qxl(q);

    if (!mc)
        return 1;
    if (mc->num_of_monitors >= 1 && mc->monitors[0].width && mc->monitors[0].height)
        console_request_size(d->con, mc->monitors[0].width, mc->monitors[0].height);
    return 1;
}

static const QXLInterface qxl_iface = {
    .base = {
        .type = SPICE_INTERFACE_QXL,
        .description = "nook console",
        .major_version = SPICE_INTERFACE_QXL_MAJOR,
        .minor_version = SPICE_INTERFACE_QXL_MINOR,
    },
    .attached_worker = qxl_attached_worker,
    .set_compression_level = qxl_set_compression_level,
    .get_init_info = qxl_get_init_info,
    .get_command = qxl_get_command,
    .req_cmd_notification = qxl_req_cmd_notification,
    .release_resource = qxl_release_resource,
    .get_cursor_command = qxl_get_cursor_command,
    .req_cursor_notification = qxl_req_cursor_notification,
    .notify_update = qxl_notify_update,
    .flush_resources = qxl_flush_resources,
    .async_complete = qxl_async_complete,
    .update_area_complete = qxl_update_area_complete,
    .set_client_capabilities = qxl_set_client_capabilities,
    .client_monitors_config = qxl_client_monitors_config,
};

/* ---- console listener: any thread, console lock held ---- */

static void on_surface_changed(void *opaque, const struct console_surface *s)
{
    struct spice_display *d = opaque;

    pthread_mutex_lock(&d->lock);
    d->want_w = s->pixels ? s->width : 0;
    d->want_h = s->pixels ? s->height : 0;
    d->surface_pending = true;
    d->dirty = false;
    pthread_mutex_unlock(&d->lock);
    poke(d);
}

static void on_update(void *opaque, const struct console_surface *s, const struct console_rect *r)
{
    struct spice_display *d = opaque;
    bool was;

    if (!r->w || !r->h)
        return;
    pthread_mutex_lock(&d->lock);
    was = d->dirty;
    if (!d->dirty) {
        d->x0 = r->x, d->y0 = r->y, d->x1 = r->x + r->w, d->y1 = r->y + r->h;
        d->dirty = true;
    } else {
        d->x0 = r->x < d->x0 ? r->x : d->x0;
        d->y0 = r->y < d->y0 ? r->y : d->y0;
        d->x1 = r->x + r->w > d->x1 ? r->x + r->w : d->x1;
        d->y1 = r->y + r->h > d->y1 ? r->y + r->h : d->y1;
    }
    pthread_mutex_unlock(&d->lock);
    if (!was)
        poke(d);
}

static void queue_cursor(struct spice_display *d, struct cursor_cmd *c)
{
    c->ext.cmd.type = QXL_CMD_CURSOR;
    c->ext.cmd.data = (uintptr_t)&c->cmd;
    c->ext.group_id = MEMSLOT_GROUP;
    c->cmd.release_info.id = (uintptr_t)c;
    c->next = NULL;
    pthread_mutex_lock(&d->lock);
    /* A client that does not read keeps only the newest moves. */
    if (c->cmd.type == QXL_CURSOR_MOVE && d->cursor_count >= CURSOR_QUEUE_MAX) {
        pthread_mutex_unlock(&d->lock);
        free(c);
        return;
    }
    if (d->cursor_tail)
        d->cursor_tail->next = c;
    else
        d->cursor_head = c;
    d->cursor_tail = c;
    d->cursor_count++;
    pthread_mutex_unlock(&d->lock);
    poke(d);
}

static void on_cursor_changed(void *opaque, const struct console_cursor *cur)
{
    struct spice_display *d = opaque;
    size_t bytes = (size_t)cur->width * cur->height * 4;
    struct cursor_cmd *c = calloc(1, sizeof(*c) + bytes);

    if (!c)
        return;
    if (!cur->width || !cur->argb) {
        c->cmd.type = QXL_CURSOR_HIDE;
    } else {
        c->cmd.type = QXL_CURSOR_SET;
        c->cmd.u.set.position.x = (int16_t)cur->x;
        c->cmd.u.set.position.y = (int16_t)cur->y;
        c->cmd.u.set.visible = cur->visible;
        c->cmd.u.set.shape = (uintptr_t)&c->shape;
        c->shape.header.unique = 0;
        c->shape.header.type = SPICE_CURSOR_TYPE_ALPHA;
        c->shape.header.width = (uint16_t)cur->width;
        c->shape.header.height = (uint16_t)cur->height;
        c->shape.header.hot_spot_x = (uint16_t)cur->hot_x;
        c->shape.header.hot_spot_y = (uint16_t)cur->hot_y;
        c->shape.data_size = (uint32_t)bytes;
        c->shape.chunk.data_size = (uint32_t)bytes;
        memcpy(c->shape.chunk.data, cur->argb, bytes);
    }
    queue_cursor(d, c);
}

static void on_cursor_moved(void *opaque, int x, int y, bool visible)
{
    struct spice_display *d = opaque;
    struct cursor_cmd *c = calloc(1, sizeof(*c));

    if (!c)
        return;
    c->cmd.type = visible ? QXL_CURSOR_MOVE : QXL_CURSOR_HIDE;
    c->cmd.u.position.x = (int16_t)x;
    c->cmd.u.position.y = (int16_t)y;
    queue_cursor(d, c);
}

static const struct console_listener_ops listener_ops = {
    .surface_changed = on_surface_changed,
    .update = on_update,
    .cursor_changed = on_cursor_changed,
    .cursor_moved = on_cursor_moved,
};

/* ---- the main loop's side ---- */

/* Replaces the primary surface with one of the console's size. */
static void sync_primary(struct spice_display *d)
{
    unsigned w, h;

    pthread_mutex_lock(&d->lock);
    d->surface_pending = false;
    w = d->want_w, h = d->want_h;
    d->prim_w = d->prim_h = 0;
    d->dirty = false;
    pthread_mutex_unlock(&d->lock);

    if (d->primary) {
        spice_qxl_destroy_primary_surface(&d->qxl, 0);
        free(d->primary);
        d->primary = NULL;
    }
    if (!w || !h)
        return;
    d->primary = calloc((size_t)w * h, 4);
    if (!d->primary) {
        log_warn("spice: no memory for a %ux%u display", w, h);
        return;
    }
    QXLDevSurfaceCreate sc = {
        .width = w,
        .height = h,
        .stride = -(int32_t)(w * 4),
        .format = SPICE_SURFACE_FMT_32_xRGB,
        .mouse_mode = 1,
        .mem = (uintptr_t)d->primary,
        .group_id = MEMSLOT_GROUP,
    };
    spice_qxl_create_primary_surface(&d->qxl, 0, &sc);
    pthread_mutex_lock(&d->lock);
    d->prim_w = w, d->prim_h = h;
    /* A new surface starts black on the client: send all of it. */
    d->dirty = true;
    d->x0 = d->y0 = 0, d->x1 = w, d->y1 = h;
    pthread_mutex_unlock(&d->lock);
}

static gboolean on_wake(gint fd, GIOCondition cond, gpointer data)
{
    struct spice_display *d = data;
    uint64_t n;
    bool pending;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("spice: eventfd: %s", strerror(errno));
    pthread_mutex_lock(&d->lock);
    pending = d->surface_pending;
    pthread_mutex_unlock(&d->lock);
    if (pending)
        sync_primary(d);
    spice_qxl_wakeup(&d->qxl);
    return G_SOURCE_CONTINUE;
}

/* ---- inputs ---- */

static void kbd_push(SpiceKbdInstance *sin, uint8_t frag)
{
    struct spice_display *d = DISPLAY_OF(sin, kbd);
    unsigned code;

    if (frag == 0xe0) {
        d->e0 = true;
        return;
    }
    if (frag == 0xe1) {         /* Pause: e1 1d 45, then e1 9d c5 */
        d->e1 = 2;
        return;
    }
    if (d->e1) {
        if (--d->e1 == 0 && (frag & 0x7f) == 0x45)
            input_key(d->in, keymap_set1_to_linux(0x145), !(frag & 0x80));
        return;
    }
    code = keymap_set1_to_linux((frag & 0x7fu) | (d->e0 ? 0x100u : 0));
    d->e0 = false;
    if (code)
        input_key(d->in, code, !(frag & 0x80));
}

static uint8_t kbd_leds(SpiceKbdInstance *sin)
{
    struct spice_display *d = DISPLAY_OF(sin, kbd);

    /* INPUT_LED_* are SPICE's lock modifier bits. */
    return (uint8_t)input_leds(d->in);
}

static const SpiceKbdInterface kbd_iface = {
    .base = {
        .type = SPICE_INTERFACE_KEYBOARD,
        .description = "nook keyboard",
        .major_version = SPICE_INTERFACE_KEYBOARD_MAJOR,
        .minor_version = SPICE_INTERFACE_KEYBOARD_MINOR,
    },
    .push_scan_freg = kbd_push,
    .get_leds = kbd_leds,
};

/* spice-server hands the mouse and tablet interfaces a local button state:
 * bit 0 left, 1 right, 2 middle (it reorders the wire's mask), which is
 * the router's order. */
static unsigned buttons_from_spice(uint32_t bs)
{
    return bs & (INPUT_BUTTON_LEFT | INPUT_BUTTON_RIGHT | INPUT_BUTTON_MIDDLE);
}


static void mouse_motion(SpiceMouseInstance *sin, int dx, int dy, int dz, uint32_t bs)
{
    struct spice_display *d = DISPLAY_OF(sin, mouse);

    d->buttons = buttons_from_spice(bs);
    /* SPICE's dz counts towards the user; the router's wheel away. */
    input_rel(d->in, dx, dy, -dz, d->buttons);
}

static void mouse_buttons(SpiceMouseInstance *sin, uint32_t bs)
{
    struct spice_display *d = DISPLAY_OF(sin, mouse);

    d->buttons = buttons_from_spice(bs);
    input_rel(d->in, 0, 0, 0, d->buttons);
}

static const SpiceMouseInterface mouse_iface = {
    .base = {
        .type = SPICE_INTERFACE_MOUSE,
        .description = "nook mouse",
        .major_version = SPICE_INTERFACE_MOUSE_MAJOR,
        .minor_version = SPICE_INTERFACE_MOUSE_MINOR,
    },
    .motion = mouse_motion,
    .buttons = mouse_buttons,
};

static unsigned scale_abs(int v, int size)
{
    if (v <= 0 || size <= 1)
        return 0;
    if (v >= size - 1)
        return INPUT_ABS_MAX;
    return (unsigned)(((uint64_t)v * INPUT_ABS_MAX + (unsigned)(size - 1) / 2) / (unsigned)(size - 1));
}

static void tablet_set_logical_size(SpiceTabletInstance *sin, int width, int height)
{
    struct spice_display *d = DISPLAY_OF(sin, tablet);

    d->tablet_w = width;
    d->tablet_h = height;
}

static void tablet_position(SpiceTabletInstance *sin, int x, int y, uint32_t bs)
{
    struct spice_display *d = DISPLAY_OF(sin, tablet);

    d->abs_x = scale_abs(x, d->tablet_w);
    d->abs_y = scale_abs(y, d->tablet_h);
    d->buttons = buttons_from_spice(bs);
    input_abs(d->in, d->abs_x, d->abs_y, 0, d->buttons);
}

static void tablet_wheel(SpiceTabletInstance *sin, int motion, uint32_t bs)
{
    struct spice_display *d = DISPLAY_OF(sin, tablet);

    d->buttons = buttons_from_spice(bs);
    input_abs(d->in, d->abs_x, d->abs_y, -motion, d->buttons);
}

static void tablet_buttons(SpiceTabletInstance *sin, uint32_t bs)
{
    struct spice_display *d = DISPLAY_OF(sin, tablet);

    d->buttons = buttons_from_spice(bs);
    input_abs(d->in, d->abs_x, d->abs_y, 0, d->buttons);
}

static const SpiceTabletInterface tablet_iface = {
    .base = {
        .type = SPICE_INTERFACE_TABLET,
        .description = "nook tablet",
        .major_version = SPICE_INTERFACE_TABLET_MAJOR,
        .minor_version = SPICE_INTERFACE_TABLET_MINOR,
    },
    .set_logical_size = tablet_set_logical_size,
    .position = tablet_position,
    .wheel = tablet_wheel,
    .buttons = tablet_buttons,
};

/* The tablet interface is there while the guest has an absolute pointer,
 * so that clients switch between client mode (the host's pointer, absolute)
 * and server mode (grabbed, relative) as the guest does. */
static gboolean on_mode_poll(gpointer data)
{
    struct spice_display *d = data;
    bool abs = input_absolute(d->in);
    unsigned leds = input_leds(d->in);

    if (leds != d->leds) {
        d->leds = leds;
        spice_server_kbd_leds(&d->kbd, (int)leds);
    }

    if (abs && !d->tablet_added) {
        d->tablet.base.sif = &tablet_iface.base;
        if (spice_server_add_interface(d->server, &d->tablet.base) == 0)
            d->tablet_added = true;
    } else if (!abs && d->tablet_added) {
        spice_server_remove_interface(&d->tablet.base);
        d->tablet_added = false;
    }
    return G_SOURCE_CONTINUE;
}

/* ---- audio: the clock backend's sink (the audio clock's thread) ---- */

static const SpicePlaybackInterface playback_iface = {
    .base = {
        .type = SPICE_INTERFACE_PLAYBACK,
        .description = "nook audio output",
        .major_version = SPICE_INTERFACE_PLAYBACK_MAJOR,
        .minor_version = SPICE_INTERFACE_PLAYBACK_MINOR,
    },
};

static const SpiceRecordInterface record_iface = {
    .base = {
        .type = SPICE_INTERFACE_RECORD,
        .description = "nook audio input",
        .major_version = SPICE_INTERFACE_RECORD_MAJOR,
        .minor_version = SPICE_INTERFACE_RECORD_MINOR,
    },
};

static void audio_poke(struct spice_display *d)
{
    uint64_t one = 1;

    if (write(d->audio_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn("spice: cannot wake the main loop for audio: %s", strerror(errno));
}

static void resampler_reset(struct resampler *rs, unsigned from, unsigned to)
{
    *rs = (struct resampler){ .from = from, .to = to };
}

/* The input frame that the next output frame is made of. */
static uint64_t resampler_src(struct resampler *rs)
{
    /* Whole seconds of output are whole seconds of input: drop them, so
     * that out * from never overflows. */
    if (rs->out >= rs->to && rs->in >= rs->from) {
        rs->out -= rs->to;
        rs->in -= rs->from;
    }
    return rs->out * rs->from / rs->to;
}

/* Takes a voice for its direction's channel: the first voice started in
 * a direction has it until it stops. Also for a voice that started before
 * the display became the sink, whose first news is play or record. */
static bool audio_take_voice(struct spice_display *d, struct audio_voice *v)
{
    struct audio_voice **slot = v->dir == AUDIO_OUT ? &d->out_voice : &d->in_voice;

    if (*slot == v)
        return true;
    if (*slot) {
        if (!d->warned_voices)
            log_warn("spice: SPICE carries one stream each way: %s has it, %s goes without",
                     (*slot)->name, v->name);
        d->warned_voices = true;
        return false;
    }
    *slot = v;
    if (v->dir == AUDIO_OUT) {
        resampler_reset(&d->out_rs, v->fmt.rate, d->spice_rate);
        atomic_store(&d->want_play, true);
    } else {
        resampler_reset(&d->in_rs, d->spice_rate, v->fmt.rate);
        memset(d->in_last, 0, sizeof(d->in_last));
        /* The ring's consumer is this side; what is left is an old stream. */
        audio_ring_clear(&d->in_ring);
        atomic_store(&d->want_record, true);
    }
    audio_poke(d);
    return true;
}

static void sink_started(void *opaque, struct audio_voice *v)
{
    audio_take_voice(opaque, v);
}

static void sink_stopped(void *opaque, struct audio_voice *v)
{
    struct spice_display *d = opaque;

    if (v == d->out_voice) {
        d->out_voice = NULL;
        atomic_store(&d->want_play, false);
    } else if (v == d->in_voice) {
        d->in_voice = NULL;
        atomic_store(&d->want_record, false);
    } else {
        return;
    }
    audio_poke(d);
}

/* The guest's frames, converted to stereo at the channel's rate, into the
 * ring for the main loop. What does not fit is dropped: the main loop is
 * held up, and late sound is worse than a gap. */
static void sink_play(void *opaque, struct audio_voice *v, const void *samples, size_t len)
{
    struct spice_display *d = opaque;
    struct resampler *rs = &d->out_rs;
    const int16_t *in = samples;
    unsigned ch = v->fmt.channels;
    size_t n = len / audio_frame_bytes(&v->fmt), k = 0;

    if (!audio_take_voice(d, v))
        return;
    for (;;) {
        uint64_t src = resampler_src(rs);
        const int16_t *f;

        if (src >= rs->in + n)
            break;
        f = in + (size_t)(src - rs->in) * ch;
        d->conv[2 * k] = f[0];
        d->conv[2 * k + 1] = f[ch - 1];
        rs->out++;
        if (++k == AUDIO_CHUNK) {
            audio_ring_write(&d->out_ring, d->conv, k * 4);
            k = 0;
        }
    }
    rs->in += n;
    if (k)
        audio_ring_write(&d->out_ring, d->conv, k * 4);
    audio_poke(d);
}

/* Up to frames frames of the voice's format from what the client sent. */
static size_t sink_record(void *opaque, struct audio_voice *v, void *samples, size_t frames)
{
    struct spice_display *d = opaque;
    struct resampler *rs = &d->in_rs;
    int16_t *out = samples;
    unsigned ch = v->fmt.channels;
    size_t made = 0;

    if (!audio_take_voice(d, v))
        return 0;
    while (made < frames) {
        /* Read the input frames the remaining output needs and no more:
         * what is read is consumed. Raising the rate repeats a frame, which
         * may be the one read last time (in_last). */
        uint64_t src = resampler_src(rs);
        uint64_t last = (rs->out + (frames - made) - 1) * rs->from / rs->to;
        uint64_t want = last >= rs->in ? last + 1 - rs->in : 0;
        size_t got = want ? audio_ring_read(&d->in_ring, d->conv,
                                            (want < AUDIO_CHUNK ? want : AUDIO_CHUNK) * 4) / 4 : 0;

        for (; made < frames && src < rs->in + got; src = resampler_src(rs)) {
            const int16_t *f = src < rs->in ? d->in_last : d->conv + 2 * (size_t)(src - rs->in);

            if (ch == 2) {
                out[2 * made] = f[0];
                out[2 * made + 1] = f[1];
            } else {
                out[made] = (int16_t)(((int32_t)f[0] + f[1]) / 2);
            }
            made++;
            rs->out++;
        }
        if (!got)
            break;
        memcpy(d->in_last, d->conv + 2 * (got - 1), sizeof(d->in_last));
        rs->in += got;
    }
    /* The main loop fetches the client's next samples for the next tick. */
    audio_poke(d);
    return made;
}

/* The backend went before the display (its destroy): nothing to detach. */
static void sink_destroy(void *opaque)
{
    struct spice_display *d = opaque;

    atomic_store(&d->audio, NULL);
}

static const struct audio_clock_sink audio_sink = {
    .play = sink_play,
    .record = sink_record,
    .started = sink_started,
    .stopped = sink_stopped,
    .destroy = sink_destroy,
};

/* ---- audio: the channels (main loop) ---- */

/* Hands the frame being filled to spice-server, the rest silent. */
static void playback_flush(struct spice_display *d)
{
    if (!d->frame)
        return;
    memset(d->frame + d->frame_pos, 0, (size_t)(d->frame_size - d->frame_pos) * 4);
    spice_server_playback_put_samples(&d->playback, d->frame);
    d->frame = NULL;
}

/* Moves the ring into spice-server's frames; without a frame to fill (no
 * client, or one that has not taken the last ones yet) it drops. */
static void playback_pump(struct spice_display *d)
{
    size_t have;

    while ((have = audio_ring_used(&d->out_ring) / 4)) {
        uint32_t n;

        if (!d->frame) {
            spice_server_playback_get_buffer(&d->playback, &d->frame, &d->frame_size);
            d->frame_pos = 0;
            if (!d->frame || !d->frame_size) {
                d->frame = NULL;
                audio_ring_clear(&d->out_ring);
                return;
            }
        }
        n = d->frame_size - d->frame_pos;
        if (n > have)
            n = (uint32_t)have;
        audio_ring_read(&d->out_ring, d->frame + d->frame_pos, (size_t)n * 4);
        d->frame_pos += n;
        if (d->frame_pos == d->frame_size) {
            spice_server_playback_put_samples(&d->playback, d->frame);
            d->frame = NULL;
        }
    }
}

/* Moves what the client recorded into the ring, as far as it has room;
 * the rest waits in spice-server's buffer. (spice-server 0.15 garbles the
 * part of a client's packet that wraps that buffer, copying it from an
 * offset counted in bytes where it means samples: a click every 8192
 * frames that nothing this side can undo.) */
static void record_pump(struct spice_display *d)
{
    uint32_t buf[1024];

    for (;;) {
        size_t room = audio_ring_free(&d->in_ring) / 4;
        uint32_t n;

        if (!room)
            return;
        n = spice_server_record_get_samples(&d->record, buf,
                                            room < G_N_ELEMENTS(buf) ? (uint32_t)room : G_N_ELEMENTS(buf));
        if (!n)
            return;
        audio_ring_write(&d->in_ring, buf, (size_t)n * 4);
    }
}

static void playback_stop(struct spice_display *d)
{
    if (!d->playing)
        return;
    playback_flush(d);
    spice_server_playback_stop(&d->playback);
    d->playing = false;
}

static void record_stop(struct spice_display *d)
{
    if (!d->recording)
        return;
    spice_server_record_stop(&d->record);
    d->recording = false;
}

static gboolean on_audio(gint fd, GIOCondition cond, gpointer data)
{
    struct spice_display *d = data;
    uint64_t n;

    if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
        log_warn("spice: audio eventfd: %s", strerror(errno));

    if (atomic_load(&d->want_play) && !d->playing) {
        spice_server_playback_start(&d->playback);
        d->playing = true;
    }
    if (d->playing)
        playback_pump(d);
    if (!atomic_load(&d->want_play))
        playback_stop(d);
    if (!d->playing)
        audio_ring_clear(&d->out_ring);

    if (atomic_load(&d->want_record) && !d->recording) {
        spice_server_record_start(&d->record);
        d->recording = true;
    }
    if (!atomic_load(&d->want_record))
        record_stop(d);
    if (d->recording)
        record_pump(d);
    return G_SOURCE_CONTINUE;
}

static int audio_attach(struct spice_display *d, struct audio_backend *audio, char *err, size_t errlen)
{
    d->spice_rate = spice_server_get_best_playback_rate(NULL);
    if (audio_ring_init(&d->out_ring, AUDIO_RING_BYTES) < 0 ||
        audio_ring_init(&d->in_ring, AUDIO_RING_BYTES) < 0) {
        snprintf(err, errlen, "out of memory");
        return -ENOMEM;
    }
    d->audio_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (d->audio_fd < 0) {
        snprintf(err, errlen, "cannot make an eventfd for audio: %s", strerror(errno));
        return -errno;
    }
    d->playback.base.sif = &playback_iface.base;
    if (spice_server_add_interface(d->server, &d->playback.base) < 0) {
        snprintf(err, errlen, "spice-server refused the playback interface");
        return -EINVAL;
    }
    d->playback_added = true;
    d->record.base.sif = &record_iface.base;
    if (spice_server_add_interface(d->server, &d->record.base) < 0) {
        snprintf(err, errlen, "spice-server refused the record interface");
        return -EINVAL;
    }
    d->record_added = true;
    /* Before any client connects: the rate picks its codec. */
    spice_server_set_playback_rate(&d->playback, d->spice_rate);
    spice_server_set_record_rate(&d->record, spice_server_get_best_record_rate(NULL));
    d->audio_watch = g_unix_fd_add(d->audio_fd, G_IO_IN, on_audio, d);
    atomic_store(&d->audio, audio);
    audio_clock_set_sink(audio, &audio_sink, d);
    return 0;
}

static void audio_detach(struct spice_display *d)
{
    struct audio_backend *audio = atomic_exchange(&d->audio, NULL);

    /* Once this returns no sink function runs: they run under the lock
     * that audio_clock_set_sink takes. */
    if (audio)
        audio_clock_set_sink(audio, NULL, NULL);
    if (d->audio_watch)
        g_source_remove(d->audio_watch);
    d->audio_watch = 0;
    playback_stop(d);
    record_stop(d);
    if (d->playback_added)
        spice_server_remove_interface(&d->playback.base);
    if (d->record_added)
        spice_server_remove_interface(&d->record.base);
    d->playback_added = d->record_added = false;
    if (d->audio_fd >= 0)
        close(d->audio_fd);
    d->audio_fd = -1;
    audio_ring_destroy(&d->out_ring);
    audio_ring_destroy(&d->in_ring);
}

/* ---- setup ---- */

static bool parse_compression(const char *v, SpiceImageCompression *out)
{
    static const struct {
        const char *name;
        SpiceImageCompression c;
    } names[] = {
        { "off", SPICE_IMAGE_COMPRESSION_OFF },    { "auto_glz", SPICE_IMAGE_COMPRESSION_AUTO_GLZ },
        { "auto_lz", SPICE_IMAGE_COMPRESSION_AUTO_LZ }, { "quic", SPICE_IMAGE_COMPRESSION_QUIC },
        { "glz", SPICE_IMAGE_COMPRESSION_GLZ },    { "lz", SPICE_IMAGE_COMPRESSION_LZ },
    };

    for (size_t i = 0; i < G_N_ELEMENTS(names); i++) {
        if (strcmp(v, names[i].name) == 0) {
            *out = names[i].c;
            return true;
        }
    }
    return false;
}

static char *read_password(const char *file, char *err, size_t errlen)
{
    g_autoptr(GError) e = NULL;
    char *text = NULL;

    if (!g_file_get_contents(file, &text, NULL, &e)) {
        snprintf(err, errlen, "--spice password-file '%s': %s", file, e->message);
        return NULL;
    }
    text[strcspn(text, "\r\n")] = 0;
    if (!*text) {
        snprintf(err, errlen, "--spice password-file '%s' holds no password on its first line", file);
        g_free(text);
        return NULL;
    }
    return text;
}

static int parse_port(const char *s, const char *what, char *err, size_t errlen)
{
    char *end;
    long v = strtol(s, &end, 10);

    if (!*s || *end || v < 0 || v > 65535) {
        snprintf(err, errlen, "--spice: %s '%s' is not a port number", what, s);
        return -1;
    }
    return (int)v;
}

/* Applies the listener part of the spec to the server. */
static int configure(struct spice_display *d, const char *spec, char *err, size_t errlen)
{
    g_auto(GStrv) parts = g_strsplit(spec, ",", -1);
    const char *where = parts[0] ? parts[0] : "";
    const char *password_file = NULL, *x509 = NULL;
    SpiceImageCompression comp = SPICE_IMAGE_COMPRESSION_INVALID;
    bool comp_set = false;
    int tls_port = -1;

    for (unsigned i = 1; parts[i]; i++) {
        const char *eq = strchr(parts[i], '=');
        g_autofree char *key = eq ? g_strndup(parts[i], (gsize)(eq - parts[i])) : g_strdup(parts[i]);
        const char *val = eq ? eq + 1 : "";

        if (strcmp(key, "password-file") == 0 && *val) {
            password_file = val;
        } else if (strcmp(key, "tls-port") == 0) {
            tls_port = parse_port(val, "tls-port", err, errlen);
            if (tls_port < 0)
                return -EINVAL;
        } else if (strcmp(key, "x509-dir") == 0 && *val) {
            x509 = val;
        } else if (strcmp(key, "image-compression") == 0) {
            if (!parse_compression(val, &comp)) {
                snprintf(err, errlen, "--spice image-compression=%s: expected off, auto_glz, auto_lz, quic, glz or lz",
                         val);
                return -EINVAL;
            }
            comp_set = true;
        } else {
            snprintf(err, errlen,
                     "--spice: unknown option '%s' (password-file=, tls-port=, x509-dir=, image-compression=)",
                     parts[i]);
            return -EINVAL;
        }
    }

    if (g_str_has_prefix(where, "unix:")) {
        const char *path = where + 5;
        g_autofree char *dir = NULL;
        struct stat st;

        if (!*path || strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
            snprintf(err, errlen, "--spice '%s': the socket path is empty or too long", where);
            return -EINVAL;
        }
        if (password_file || tls_port >= 0 || x509) {
            snprintf(err, errlen, "--spice: password-file, tls-port and x509-dir are for tcp: listeners");
            return -EINVAL;
        }
        dir = g_path_get_dirname(path);
        if (g_mkdir_with_parents(dir, 0700) < 0) {
            snprintf(err, errlen, "--spice: cannot make '%s': %s", dir, strerror(errno));
            return -errno;
        }
        /* Only a socket left over by an earlier run is removed. */
        if (lstat(path, &st) == 0 && !S_ISSOCK(st.st_mode)) {
            snprintf(err, errlen, "--spice: '%s' exists and is not a socket", path);
            return -EEXIST;
        }
        unlink(path);
        d->socket_path = g_strdup(path);
        spice_server_set_addr(d->server, path, SPICE_ADDR_FLAG_UNIX_ONLY);
        spice_server_set_noauth(d->server);
        spice_server_set_image_compression(d->server, comp_set ? comp : SPICE_IMAGE_COMPRESSION_OFF);
        return 0;
    }
    if (g_str_has_prefix(where, "tcp:")) {
        const char *hostport = where + 4, *colon = strrchr(hostport, ':');
        g_autofree char *host = NULL, *password = NULL;
        int port;

        if (!colon) {
            snprintf(err, errlen, "--spice '%s': expected tcp:ADDR:PORT", where);
            return -EINVAL;
        }
        port = parse_port(colon + 1, "port", err, errlen);
        if (port < 0)
            return -EINVAL;
        host = g_strndup(hostport, (gsize)(colon - hostport));
        if (host[0] == '[' && host[strlen(host) - 1] == ']') {
            memmove(host, host + 1, strlen(host));
            host[strlen(host) - 1] = 0;
        }
        if (!password_file) {
            snprintf(err, errlen, "--spice '%s': a TCP listener needs password-file=FILE", where);
            return -EINVAL;
        }
        if (tls_port >= 0 && !x509) {
            snprintf(err, errlen, "--spice: tls-port needs x509-dir=DIR (ca-cert.pem, server-cert.pem, server-key.pem)");
            return -EINVAL;
        }
        password = read_password(password_file, err, errlen);
        if (!password)
            return -EINVAL;
        spice_server_set_addr(d->server, host, 0);
        if (port)
            spice_server_set_port(d->server, port);
        if (tls_port >= 0) {
            g_autofree char *ca = g_build_filename(x509, "ca-cert.pem", NULL);
            g_autofree char *cert = g_build_filename(x509, "server-cert.pem", NULL);
            g_autofree char *key = g_build_filename(x509, "server-key.pem", NULL);
            const char *files[] = { ca, cert, key };

            for (unsigned i = 0; i < G_N_ELEMENTS(files); i++) {
                if (access(files[i], R_OK) < 0) {
                    snprintf(err, errlen, "--spice x509-dir: cannot read '%s': %s", files[i], strerror(errno));
                    return -errno;
                }
            }
            if (spice_server_set_tls(d->server, tls_port, ca, cert, key, NULL, NULL, NULL) < 0) {
                snprintf(err, errlen, "--spice: spice-server refused the TLS settings");
                return -EINVAL;
            }
        }
        if (spice_server_set_ticket(d->server, password, 0, 0, 0) < 0) {
            snprintf(err, errlen, "--spice: spice-server refused the password");
            return -EINVAL;
        }
        spice_server_set_image_compression(d->server, comp_set ? comp : SPICE_IMAGE_COMPRESSION_AUTO_GLZ);
        return 0;
    }
    snprintf(err, errlen, "--spice '%s': expected unix:PATH or tcp:ADDR:PORT,password-file=FILE", where);
    return -EINVAL;
}

struct spice_display *spice_display_new(const char *spec, const char *name, struct console *con,
                                        struct input *in, struct audio_backend *audio,
                                        char *err, size_t errlen)
{
    struct spice_display *d = calloc(1, sizeof(*d));
    QXLDevMemSlot slot = {
        .slot_group_id = MEMSLOT_GROUP,
        .slot_id = 0,
        .generation = 0,
        .virt_start = 0,
        .virt_end = ~(uintptr_t)0,
        .addr_delta = 0,
        .qxl_ram_size = ~0u,
    };

    if (!d) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    pthread_mutex_init(&d->lock, NULL);
    d->audio_fd = -1;
    d->con = con;
    d->in = in;
    d->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    d->server = spice_server_new();
    if (d->wake_fd < 0 || !d->server) {
        snprintf(err, errlen, "cannot start the SPICE server: %s", strerror(errno));
        goto fail;
    }
    if (configure(d, spec, err, errlen) < 0)
        goto fail;
    spice_server_set_name(d->server, name);
    spice_server_set_streaming_video(d->server, SPICE_STREAM_VIDEO_OFF);
    spice_server_set_agent_mouse(d->server, 0);
    if (spice_server_init(d->server, &core) < 0) {
        snprintf(err, errlen, "cannot listen for SPICE clients on '%s': %s", spec, strerror(errno));
        spice_server_destroy(d->server);
        d->server = NULL;
        goto fail;
    }
    d->qxl.base.sif = &qxl_iface.base;
    d->qxl.id = 0;
    d->kbd.base.sif = &kbd_iface.base;
    d->mouse.base.sif = &mouse_iface.base;
    if (spice_server_add_interface(d->server, &d->qxl.base) < 0 ||
        spice_server_add_interface(d->server, &d->kbd.base) < 0 ||
        spice_server_add_interface(d->server, &d->mouse.base) < 0) {
        snprintf(err, errlen, "spice-server refused the display or input interfaces");
        goto fail;
    }
    if (audio && audio_attach(d, audio, err, errlen) < 0)
        goto fail;
    spice_qxl_add_memslot(&d->qxl, &slot);
    spice_server_vm_start(d->server);

    d->wake_watch = g_unix_fd_add(d->wake_fd, G_IO_IN, on_wake, d);
    d->mode_timer = g_timeout_add(POINTER_MODE_POLL_MS, on_mode_poll, d);
    on_mode_poll(d);
    d->listener.ops = &listener_ops;
    d->listener.opaque = d;
    console_add_listener(con, &d->listener);
    return d;

fail:
    spice_display_free(d);
    return NULL;
}

void spice_display_free(struct spice_display *d)
{
    if (!d)
        return;
    if (d->listener.ops)
        console_remove_listener(d->con, &d->listener);
    if (d->wake_watch)
        g_source_remove(d->wake_watch);
    if (d->mode_timer)
        g_source_remove(d->mode_timer);
    audio_detach(d);
    if (d->server) {
        spice_server_vm_stop(d->server);
        spice_server_destroy(d->server);
    }
    while (d->cursor_head) {
        struct cursor_cmd *c = d->cursor_head;

        d->cursor_head = c->next;
        free(c);
    }
    free(d->primary);
    if (d->socket_path) {
        unlink(d->socket_path);
        g_free(d->socket_path);
    }
    if (d->wake_fd >= 0)
        close(d->wake_fd);
    pthread_mutex_destroy(&d->lock);
    free(d);
}

const char *spice_display_socket(const struct spice_display *d)
{
    return d->socket_path;
}
