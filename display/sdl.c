/* The SDL2 window: see sdl.h.
 *
 * Threads: every SDL call happens on the thread sdl_display_new() starts.
 * It initialises SDL, owns the window, renderer, texture and cursors, and
 * handles every event. Console callbacks run on whatever thread the device
 * draws from, with the console lock held: they only note what changed under
 * d->lock and wake the SDL thread with a user event. The SDL thread takes
 * those notes and reads the pixels under console_lock(), uploading only the
 * rectangles that changed. Lock order: console lock, then d->lock, then
 * SDL's own.
 *
 * Input goes straight from the SDL thread into the input router, which
 * takes its own lock. */
#include "sdl.h"

#include <SDL.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../vmm/core/console.h"
#include "../vmm/core/input.h"
#include "../vmm/core/keymap.h"
#include "../vmm/core/log.h"

/* Rectangles remembered one by one before they merge into their union. */
#define MAX_RECTS 16
/* A resized window asks the guest for its size once the user stops. */
#define RESIZE_DEBOUNCE_MS 200
/* A second close within this time quits instead of asking the guest. */
#define CLOSE_AGAIN_MS 3000
/* A window manager may not give a window exactly the size asked for: a
 * size change this soon after this file set one is taken as its answer,
 * not as the user's doing. */
#define OWN_RESIZE_MS 500
/* How often the loop looks whether the guest's pointer turned absolute
 * (a tablet driver started) or relative, when no event wakes it sooner. */
#define POINTER_POLL_MS 250
#define DEFAULT_WIDTH 640
#define DEFAULT_HEIGHT 480

enum start_state { START_WAITING, START_RUNNING, START_FAILED };

struct sdl_display {
    char *name;                         /* owned */
    struct console *con;                /* borrowed */
    struct input *in;                   /* borrowed */
    const struct sdl_display_ops *ops;  /* borrowed */
    void *opaque;
    struct console_listener listener;
    bool listening;

    pthread_t thread;
    /* The thread reports whether SDL came up before the creator goes on. */
    pthread_mutex_t start_lock;
    pthread_cond_t start_cond;
    enum start_state start;
    char start_err[256];

    Uint32 wake_event;                  /* a user event type from SDL_RegisterEvents */
    atomic_bool wake_pending;           /* the notes below changed since last taken */
    atomic_bool stop;

    /* Notes from the console callbacks; under lock. */
    pthread_mutex_t lock;
    bool sdl_gone;                      /* SDL_Quit is coming: push no more events */
    bool full;                          /* everything changed */
    struct console_rect rects[MAX_RECTS];
    unsigned nrects;
    bool cursor_changed;
    uint32_t *cursor_argb;              /* owned copy; NULL: no image */
    unsigned cursor_w, cursor_h, cursor_hot_x, cursor_hot_y;
    bool cursor_visible;

    /* The SDL thread's own. */
    SDL_Window *window;
    SDL_Renderer *renderer;
    SDL_Texture *texture;               /* the surface's size; NULL without a picture */
    unsigned tex_w, tex_h;
    SDL_Cursor *guest_cursor;           /* the console's cursor image, or NULL */
    bool guest_cursor_visible;
    bool redraw;
    bool absolute;                      /* the guest's pointer is a tablet */
    bool grabbed;
    bool fullscreen, fullscreen_changed;
    bool user_sized;                    /* the window no longer follows the surface */
    int set_w, set_h;                   /* the size this file last gave the window */
    Uint32 set_at;                      /* and when */
    bool resize_pending;
    Uint32 resize_at;
    bool close_armed;
    Uint32 closed_at;
    bool hidden;                        /* closed with ops->closed: waits to be freed */
    unsigned buttons;                   /* as the guest last heard them */
    unsigned swallowed_buttons;         /* pressed to grab: their release is ours too */
    int acc_dx, acc_dy;                 /* relative motion not sent yet */
    unsigned abs_x, abs_y;              /* the last absolute position sent */
    uint8_t swallowed_keys[SDL_NUM_SCANCODES / 8];
    bool texture_failed_logged;
};

/* ---- console callbacks: any thread, console lock held ---- */

static void wake(struct sdl_display *d)
{
    SDL_Event ev;

    if (atomic_exchange(&d->wake_pending, true))
        return;
    memset(&ev, 0, sizeof(ev));
    ev.type = d->wake_event;
    /* If the queue is full the loop still sees wake_pending on its next
     * timeout. */
    SDL_PushEvent(&ev);
}

static void on_surface_changed(void *opaque, const struct console_surface *s)
{
    struct sdl_display *d = opaque;

    pthread_mutex_lock(&d->lock);
    d->full = true;
    d->nrects = 0;
    pthread_mutex_unlock(&d->lock);
    wake(d);
}

static void on_update(void *opaque, const struct console_surface *s, const struct console_rect *r)
{
    struct sdl_display *d = opaque;

    pthread_mutex_lock(&d->lock);
    if (!d->full) {
        if (d->nrects == MAX_RECTS) {
            /* Too many to keep apart: their union stands for all. */
            unsigned x0 = r->x, y0 = r->y, x1 = r->x + r->w, y1 = r->y + r->h;

            for (unsigned i = 0; i < d->nrects; i++) {
                const struct console_rect *q = &d->rects[i];

                x0 = q->x < x0 ? q->x : x0;
                y0 = q->y < y0 ? q->y : y0;
                x1 = q->x + q->w > x1 ? q->x + q->w : x1;
                y1 = q->y + q->h > y1 ? q->y + q->h : y1;
            }
            d->rects[0] = (struct console_rect){ x0, y0, x1 - x0, y1 - y0 };
            d->nrects = 1;
        } else {
            d->rects[d->nrects++] = *r;
        }
    }
    pthread_mutex_unlock(&d->lock);
    wake(d);
}

static void on_cursor_changed(void *opaque, const struct console_cursor *c)
{
    struct sdl_display *d = opaque;
    uint32_t *copy = NULL;

    if (c->width && c->height && c->argb) {
        copy = malloc((size_t)c->width * c->height * sizeof(*copy));
        if (copy)
            memcpy(copy, c->argb, (size_t)c->width * c->height * sizeof(*copy));
    }
    pthread_mutex_lock(&d->lock);
    free(d->cursor_argb);
    d->cursor_argb = copy;
    d->cursor_w = copy ? c->width : 0;
    d->cursor_h = copy ? c->height : 0;
    d->cursor_hot_x = c->hot_x;
    d->cursor_hot_y = c->hot_y;
    d->cursor_changed = true;
    pthread_mutex_unlock(&d->lock);
    wake(d);
}

static void on_cursor_moved(void *opaque, int x, int y, bool visible)
{
    struct sdl_display *d = opaque;
    bool changed;

    pthread_mutex_lock(&d->lock);
    changed = d->cursor_visible != visible;
    d->cursor_visible = visible;
    pthread_mutex_unlock(&d->lock);
    /* The host draws the cursor where the host's pointer is: only showing
     * and hiding matter here. */
    if (changed)
        wake(d);
}

static const struct console_listener_ops listener_ops = {
    .surface_changed = on_surface_changed,
    .update = on_update,
    .cursor_changed = on_cursor_changed,
    .cursor_moved = on_cursor_moved,
};

/* ---- the SDL thread ---- */

/* Where a picture of sw x sh goes in an area of aw x ah: as large as fits
 * with its aspect ratio kept, centred, black bars around it. */
static SDL_Rect letterbox(unsigned sw, unsigned sh, int aw, int ah)
{
    SDL_Rect r = { 0, 0, aw, ah };

    if (!sw || !sh || aw <= 0 || ah <= 0)
        return r;
    if ((int64_t)aw * sh > (int64_t)ah * sw) {
        r.w = (int)((int64_t)ah * sw / sh);
        r.x = (aw - r.w) / 2;
    } else {
        r.h = (int)((int64_t)aw * sh / sw);
        r.y = (ah - r.h) / 2;
    }
    return r;
}

static void update_title(struct sdl_display *d)
{
    char title[256];

    snprintf(title, sizeof(title), "%s - Nook%s%s", d->name,
             d->close_armed ? " - Close again to quit" : "",
             d->grabbed ? " - Press Ctrl+Alt+G to release grab" : "");
    SDL_SetWindowTitle(d->window, title);
}

static void update_cursor(struct sdl_display *d)
{
    if (!d->absolute) {
        /* Relative mode hides the cursor while grabbed; without the grab
         * the host's own cursor says where a click would land. */
        SDL_SetCursor(SDL_GetDefaultCursor());
        SDL_ShowCursor(d->grabbed ? SDL_DISABLE : SDL_ENABLE);
    } else if (d->guest_cursor) {
        SDL_SetCursor(d->guest_cursor);
        SDL_ShowCursor(d->guest_cursor_visible ? SDL_ENABLE : SDL_DISABLE);
    } else {
        /* A guest that draws its own cursor (std VGA has none) still
         * gets a host cursor to aim with. */
        SDL_SetCursor(SDL_GetDefaultCursor());
        SDL_ShowCursor(SDL_ENABLE);
    }
}

static void send_pointer(struct sdl_display *d, int wheel)
{
    if (d->absolute) {
        input_abs(d->in, d->abs_x, d->abs_y, wheel, d->buttons);
    } else {
        input_rel(d->in, d->acc_dx, d->acc_dy, wheel, d->buttons);
        d->acc_dx = d->acc_dy = 0;
    }
}

static void set_grab(struct sdl_display *d, bool on)
{
    if (on == d->grabbed)
        return;
    d->grabbed = on;
    SDL_SetWindowKeyboardGrab(d->window, on ? SDL_TRUE : SDL_FALSE);
    SDL_SetWindowMouseGrab(d->window, on && !d->absolute ? SDL_TRUE : SDL_FALSE);
    SDL_SetRelativeMouseMode(on && !d->absolute ? SDL_TRUE : SDL_FALSE);
    if (!on) {
        d->acc_dx = d->acc_dy = 0;
        if (d->buttons) {
            /* Buttons held while the grab ends would stay down in the guest. */
            d->buttons = 0;
            send_pointer(d, 0);
        }
    }
    update_cursor(d);
    update_title(d);
}

static void update_pointer_mode(struct sdl_display *d)
{
    bool absolute = input_absolute(d->in);

    if (absolute == d->absolute)
        return;
    /* A grab for a relative pointer has no use with a tablet. */
    set_grab(d, false);
    d->absolute = absolute;
    d->buttons = 0;
    update_cursor(d);
}

static bool usable_bounds(struct sdl_display *d, SDL_Rect *r)
{
    int idx = SDL_GetWindowDisplayIndex(d->window);

    return idx >= 0 && SDL_GetDisplayUsableBounds(idx, r) == 0 && r->w > 0 && r->h > 0;
}

/* Fits w x h on the window's screen, keeping the aspect ratio. */
static void fit_to_screen(struct sdl_display *d, int *w, int *h)
{
    SDL_Rect r;

    if (!usable_bounds(d, &r))
        return;
    if (*w <= r.w && *h <= r.h)
        return;
    if ((int64_t)*w * r.h > (int64_t)*h * r.w) {
        *h = (int)((int64_t)*h * r.w / *w);
        *w = r.w;
    } else {
        *w = (int)((int64_t)*w * r.h / *h);
        *h = r.h;
    }
}

/* A window that grew past the screen's edge moves back onto it. */
static void keep_on_screen(struct sdl_display *d, int w, int h)
{
    SDL_Rect r;
    int x, y, nx, ny;

    if (!usable_bounds(d, &r))
        return;
    SDL_GetWindowPosition(d->window, &x, &y);
    nx = x + w > r.x + r.w ? r.x + r.w - w : x;
    ny = y + h > r.y + r.h ? r.y + r.h - h : y;
    nx = nx < r.x ? r.x : nx;
    ny = ny < r.y ? r.y : ny;
    if (nx != x || ny != y)
        SDL_SetWindowPosition(d->window, nx, ny);
}

/* The window takes the surface's size until the user sizes it. */
static void follow_surface(struct sdl_display *d)
{
    int w = (int)d->tex_w, h = (int)d->tex_h, cw, ch;

    if (!w || !h || d->user_sized || d->fullscreen)
        return;
    fit_to_screen(d, &w, &h);
    SDL_GetWindowSize(d->window, &cw, &ch);
    if (cw == w && ch == h)
        return;
    d->set_w = w;
    d->set_h = h;
    d->set_at = SDL_GetTicks();
    SDL_SetWindowSize(d->window, w, h);
    keep_on_screen(d, w, h);
}

static void set_guest_cursor(struct sdl_display *d, uint32_t *argb, unsigned w, unsigned h,
                             unsigned hot_x, unsigned hot_y)
{
    SDL_Surface *s;

    if (d->guest_cursor) {
        SDL_SetCursor(SDL_GetDefaultCursor());
        SDL_FreeCursor(d->guest_cursor);
        d->guest_cursor = NULL;
    }
    if (argb) {
        /* 0xAARRGGBB words are SDL's packed ARGB8888. */
        s = SDL_CreateRGBSurfaceWithFormatFrom(argb, (int)w, (int)h, 32, (int)w * 4,
                                               SDL_PIXELFORMAT_ARGB8888);
        if (s) {
            d->guest_cursor = SDL_CreateColorCursor(s, (int)hot_x, (int)hot_y);
            SDL_FreeSurface(s);
        }
        if (!d->guest_cursor)
            log_debug("sdl: cannot make a %ux%u cursor: %s", w, h, SDL_GetError());
    }
    update_cursor(d);
}

/* Takes the console callbacks' notes and uploads what changed. */
static void take_changes(struct sdl_display *d)
{
    const struct console_surface *s;
    struct console_rect rects[MAX_RECTS];
    unsigned nrects, cursor_w = 0, cursor_h = 0, hot_x = 0, hot_y = 0;
    uint32_t *cursor_argb = NULL;
    bool full, cursor_changed, cursor_visible, resized = false;

    console_lock(d->con);
    pthread_mutex_lock(&d->lock);
    full = d->full;
    nrects = d->nrects;
    memcpy(rects, d->rects, nrects * sizeof(rects[0]));
    d->full = false;
    d->nrects = 0;
    cursor_changed = d->cursor_changed;
    if (cursor_changed) {
        cursor_argb = d->cursor_argb;
        cursor_w = d->cursor_w;
        cursor_h = d->cursor_h;
        hot_x = d->cursor_hot_x;
        hot_y = d->cursor_hot_y;
        d->cursor_argb = NULL;
        d->cursor_changed = false;
    }
    cursor_visible = d->cursor_visible;
    pthread_mutex_unlock(&d->lock);

    s = console_surface_locked(d->con);
    if (!s->pixels || !s->width || !s->height || s->format != CONSOLE_FORMAT_XRGB8888) {
        if (d->texture) {
            SDL_DestroyTexture(d->texture);
            d->texture = NULL;
            d->tex_w = d->tex_h = 0;
            d->redraw = true;
        }
    } else {
        if (!d->texture || d->tex_w != s->width || d->tex_h != s->height) {
            if (d->texture)
                SDL_DestroyTexture(d->texture);
            /* SDL's RGB888 is the console's XRGB8888: 32-bit words whose
             * top byte is ignored. */
            d->texture = SDL_CreateTexture(d->renderer, SDL_PIXELFORMAT_RGB888,
                                           SDL_TEXTUREACCESS_STREAMING, (int)s->width, (int)s->height);
            d->tex_w = d->texture ? s->width : 0;
            d->tex_h = d->texture ? s->height : 0;
            if (!d->texture && !d->texture_failed_logged) {
                log_warn("sdl: cannot show a %ux%u picture: %s", s->width, s->height, SDL_GetError());
                d->texture_failed_logged = true;
            }
            full = true;
            resized = true;
        }
        if (d->texture && full) {
            SDL_UpdateTexture(d->texture, NULL, s->pixels, (int)s->stride);
        } else if (d->texture) {
            for (unsigned i = 0; i < nrects; i++) {
                const struct console_rect *r = &rects[i];
                SDL_Rect sr = { (int)r->x, (int)r->y, (int)r->w, (int)r->h };

                SDL_UpdateTexture(d->texture, &sr, s->pixels + (size_t)r->y * s->stride + (size_t)r->x * 4,
                                  (int)s->stride);
            }
        }
        if (full || nrects)
            d->redraw = true;
    }
    console_unlock(d->con);

    if (resized)
        follow_surface(d);
    if (cursor_changed)
        set_guest_cursor(d, cursor_argb, cursor_w, cursor_h, hot_x, hot_y);
    free(cursor_argb);
    if (cursor_visible != d->guest_cursor_visible) {
        d->guest_cursor_visible = cursor_visible;
        update_cursor(d);
    }
}

static void render(struct sdl_display *d)
{
    int ow, oh;

    SDL_SetRenderDrawColor(d->renderer, 0, 0, 0, 255);
    SDL_RenderClear(d->renderer);
    if (d->texture && SDL_GetRendererOutputSize(d->renderer, &ow, &oh) == 0) {
        SDL_Rect dst = letterbox(d->tex_w, d->tex_h, ow, oh);
        bool one_to_one = dst.w == (int)d->tex_w && dst.h == (int)d->tex_h;

        /* Unscaled, every pixel is the guest's own; scaled, smoothing
         * reads better than dropped lines. */
        SDL_SetTextureScaleMode(d->texture, one_to_one ? SDL_ScaleModeNearest : SDL_ScaleModeLinear);
        SDL_RenderCopy(d->renderer, d->texture, NULL, &dst);
    }
    SDL_RenderPresent(d->renderer);
}

/* A window position to 0..INPUT_ABS_MAX across the picture. */
static unsigned abs_axis(int v, int start, int len, unsigned size)
{
    int64_t p;

    if (len <= 0 || size <= 1)
        return 0;
    p = (int64_t)(v - start) * size / len;
    if (p < 0)
        p = 0;
    if (p > (int64_t)size - 1)
        p = (int64_t)size - 1;
    return (unsigned)(p * INPUT_ABS_MAX / (size - 1));
}

static void set_abs_position(struct sdl_display *d, int x, int y)
{
    int ww, wh;
    unsigned sw, sh;
    SDL_Rect r;

    SDL_GetWindowSize(d->window, &ww, &wh);
    sw = d->tex_w ? d->tex_w : (unsigned)ww;
    sh = d->tex_h ? d->tex_h : (unsigned)wh;
    r = letterbox(sw, sh, ww, wh);
    d->abs_x = abs_axis(x, r.x, r.w, sw);
    d->abs_y = abs_axis(y, r.y, r.h, sh);
}

static bool key_swallowed(struct sdl_display *d, SDL_Scancode sc)
{
    return d->swallowed_keys[sc / 8] & (1u << (sc % 8));
}

static void swallow_key(struct sdl_display *d, SDL_Scancode sc, bool on)
{
    if (on)
        d->swallowed_keys[sc / 8] |= (uint8_t)(1u << (sc % 8));
    else
        d->swallowed_keys[sc / 8] &= (uint8_t)~(1u << (sc % 8));
}

static void toggle_fullscreen(struct sdl_display *d)
{
    d->fullscreen = !d->fullscreen;
    d->fullscreen_changed = true;
    SDL_SetWindowFullscreen(d->window, d->fullscreen ? SDL_WINDOW_FULLSCREEN_DESKTOP : 0);
    d->redraw = true;
}

/* Keys and buttons held now would be released where the guest cannot see
 * it: the window lost the focus or went away. */
static void let_go(struct sdl_display *d)
{
    memset(d->swallowed_keys, 0, sizeof(d->swallowed_keys));
    input_release_keys(d->in);
    set_grab(d, false);
    if (d->buttons) {
        d->buttons = 0;
        send_pointer(d, 0);
    }
}

/* A window the application may close: it goes away at once, and the
 * application hears of it once; freeing it is the application's to do from
 * its own thread. The application hears first, so that whoever sees the
 * window gone can count on it knowing. */
static void close_once(struct sdl_display *d)
{
    if (d->hidden)
        return;
    d->hidden = true;
    d->ops->closed(d->opaque);
    let_go(d);
    SDL_HideWindow(d->window);
}

/* Ctrl+Alt+key: true when it is one of ours (and so not the guest's). */
static bool hotkey(struct sdl_display *d, SDL_Scancode sc)
{
    switch (sc) {
    case SDL_SCANCODE_G:
        set_grab(d, !d->grabbed);
        return true;
    case SDL_SCANCODE_F:
        toggle_fullscreen(d);
        return true;
    case SDL_SCANCODE_Q:
        if (d->ops->closed)
            close_once(d);
        else
            d->ops->quit(d->opaque);
        return true;
    default:
        return false;
    }
}

static void on_key(struct sdl_display *d, const SDL_KeyboardEvent *k)
{
    SDL_Scancode sc = k->keysym.scancode;
    bool down = k->type == SDL_KEYDOWN;
    unsigned code;

    if ((unsigned)sc == 0 || (unsigned)sc >= SDL_NUM_SCANCODES)
        return;
    if (key_swallowed(d, sc)) {
        if (!down)
            swallow_key(d, sc, false);
        return;
    }
    if (down && !k->repeat && (k->keysym.mod & KMOD_CTRL) && (k->keysym.mod & KMOD_ALT) &&
        hotkey(d, sc)) {
        swallow_key(d, sc, true);
        return;
    }
    /* Held keys repeat as presses: a PS/2 keyboard's typematic repeat is
     * the make code again, which is what guests with PS/2 drivers wait
     * for; Linux ignores a press of a key already down on an evdev device
     * (virtio) and repeats on its own. */
    code = keymap_hid_to_linux((unsigned)sc);
    if (code)
        input_key(d->in, code, down);
}

static unsigned button_bit(Uint8 b)
{
    switch (b) {
    case SDL_BUTTON_LEFT: return INPUT_BUTTON_LEFT;
    case SDL_BUTTON_RIGHT: return INPUT_BUTTON_RIGHT;
    case SDL_BUTTON_MIDDLE: return INPUT_BUTTON_MIDDLE;
    case SDL_BUTTON_X1: return INPUT_BUTTON_SIDE;
    case SDL_BUTTON_X2: return INPUT_BUTTON_EXTRA;
    default: return 0;
    }
}

static void on_button(struct sdl_display *d, const SDL_MouseButtonEvent *b)
{
    unsigned bit = button_bit(b->button);
    bool down = b->type == SDL_MOUSEBUTTONDOWN;

    if (!bit)
        return;
    update_pointer_mode(d);
    if (!down && (d->swallowed_buttons & bit)) {
        d->swallowed_buttons &= ~bit;
        return;
    }
    if (!d->absolute && !d->grabbed) {
        /* The click that grabs is the host's, not the guest's. */
        if (down && b->button == SDL_BUTTON_LEFT) {
            d->swallowed_buttons |= bit;
            set_grab(d, true);
        }
        return;
    }
    if (down == !!(d->buttons & bit))
        return;
    if (d->absolute)
        set_abs_position(d, b->x, b->y);
    d->buttons ^= bit;
    send_pointer(d, 0);
}

static void on_motion(struct sdl_display *d, const SDL_MouseMotionEvent *m)
{
    if (d->absolute) {
        set_abs_position(d, m->x, m->y);
        input_abs(d->in, d->abs_x, d->abs_y, 0, d->buttons);
    } else if (d->grabbed) {
        /* Summed over a batch of events: one packet per batch keeps a
         * slow guest's PS/2 queue from overflowing. */
        d->acc_dx += m->xrel;
        d->acc_dy += m->yrel;
    }
}

static void on_wheel(struct sdl_display *d, const SDL_MouseWheelEvent *w)
{
    int y = w->direction == SDL_MOUSEWHEEL_FLIPPED ? -w->y : w->y;

    if (!y || (!d->absolute && !d->grabbed))
        return;
    send_pointer(d, y);
}

static void on_close(struct sdl_display *d)
{
    Uint32 now = SDL_GetTicks();

    if (d->ops->closed) {
        close_once(d);
        return;
    }

    if (d->close_armed && !SDL_TICKS_PASSED(now, d->closed_at + CLOSE_AGAIN_MS)) {
        d->ops->quit(d->opaque);
        return;
    }
    d->close_armed = true;
    d->closed_at = now;
    d->ops->power_button(d->opaque);
    update_title(d);
}

static void on_resized(struct sdl_display *d, int w, int h)
{
    bool ours = (w == d->set_w && h == d->set_h) ||
                !SDL_TICKS_PASSED(SDL_GetTicks(), d->set_at + OWN_RESIZE_MS);

    d->redraw = true;
    if (ours && !d->fullscreen_changed)
        return;
    /* Fullscreen is the user's choice too, but leaving it should let the
     * window follow the surface again. */
    if (!d->fullscreen && !d->fullscreen_changed)
        d->user_sized = true;
    d->fullscreen_changed = false;
    d->resize_pending = true;
    d->resize_at = SDL_GetTicks() + RESIZE_DEBOUNCE_MS;
}

static void request_size(struct sdl_display *d)
{
    int w, h, r;

    d->resize_pending = false;
    if (SDL_GetRendererOutputSize(d->renderer, &w, &h) < 0 || w <= 0 || h <= 0)
        return;
    if ((unsigned)w == d->tex_w && (unsigned)h == d->tex_h)
        return;
    r = console_request_size(d->con, (unsigned)w, (unsigned)h);
    if (r < 0)
        log_debug("sdl: the display keeps its size (%dx%d asked): %s", w, h, strerror(-r));
    else
        log_debug("sdl: asked the graphics card for %dx%d", w, h);
}

static void on_window_event(struct sdl_display *d, const SDL_WindowEvent *w)
{
    switch (w->event) {
    case SDL_WINDOWEVENT_CLOSE:
        on_close(d);
        break;
    case SDL_WINDOWEVENT_RESIZED:
        on_resized(d, w->data1, w->data2);
        break;
    case SDL_WINDOWEVENT_SIZE_CHANGED:
    case SDL_WINDOWEVENT_EXPOSED:
    case SDL_WINDOWEVENT_SHOWN:
    case SDL_WINDOWEVENT_RESTORED:
        d->redraw = true;
        break;
    case SDL_WINDOWEVENT_FOCUS_LOST:
        let_go(d);
        break;
    default:
        break;
    }
}

static void handle_event(struct sdl_display *d, const SDL_Event *ev)
{
    switch (ev->type) {
    case SDL_KEYDOWN:
    case SDL_KEYUP:
        on_key(d, &ev->key);
        break;
    case SDL_MOUSEMOTION:
        on_motion(d, &ev->motion);
        break;
    case SDL_MOUSEBUTTONDOWN:
    case SDL_MOUSEBUTTONUP:
        on_button(d, &ev->button);
        break;
    case SDL_MOUSEWHEEL:
        on_wheel(d, &ev->wheel);
        break;
    case SDL_WINDOWEVENT:
        on_window_event(d, &ev->window);
        break;
    default:
        /* SDL_QUIT follows the last window's close event, which has been
         * handled; the wake event needs nothing here: wake_pending is
         * looked at after every batch. */
        break;
    }
}

static int wait_ms(struct sdl_display *d)
{
    Uint32 now = SDL_GetTicks();
    int ms = POINTER_POLL_MS;

    if (d->resize_pending) {
        int left = SDL_TICKS_PASSED(now, d->resize_at) ? 0 : (int)(d->resize_at - now);

        ms = left < ms ? left : ms;
    }
    if (d->close_armed) {
        Uint32 end = d->closed_at + CLOSE_AGAIN_MS;
        int left = SDL_TICKS_PASSED(now, end) ? 0 : (int)(end - now);

        ms = left < ms ? left : ms;
    }
    return ms;
}

static void run(struct sdl_display *d)
{
    while (!atomic_load(&d->stop)) {
        SDL_Event ev;
        Uint32 now;

        if (SDL_WaitEventTimeout(&ev, wait_ms(d))) {
            do
                handle_event(d, &ev);
            while (SDL_PollEvent(&ev));
        }
        if (d->acc_dx || d->acc_dy)
            send_pointer(d, 0);
        if (atomic_exchange(&d->wake_pending, false))
            take_changes(d);
        now = SDL_GetTicks();
        if (d->resize_pending && SDL_TICKS_PASSED(now, d->resize_at))
            request_size(d);
        if (d->close_armed && SDL_TICKS_PASSED(now, d->closed_at + CLOSE_AGAIN_MS)) {
            d->close_armed = false;
            update_title(d);
        }
        update_pointer_mode(d);
        if (d->redraw) {
            d->redraw = false;
            render(d);
        }
    }
}

/* Left to itself, SDL falls back to drivers that show nothing (offscreen,
 * dummy) when no display server answers, or takes over the console's
 * screen (kmsdrm): here only a window on the desktop will do, and no
 * desktop is an error. SDL_VIDEODRIVER in the environment still picks any
 * driver. */
static void choose_drivers(void)
{
    /* Without WAYLAND_DISPLAY there is no compositor to find, and
     * libwayland would say so on stderr. */
    SDL_SetHint(SDL_HINT_VIDEODRIVER, getenv("WAYLAND_DISPLAY") ? "x11,wayland" : "x11");
}

static int open_window(struct sdl_display *d)
{
    const struct console_surface *s;
    SDL_RendererInfo info;
    int w = DEFAULT_WIDTH, h = DEFAULT_HEIGHT;

    /* GLib's main loop handles SIGINT and SIGTERM; the window closing is
     * handled here, not by SDL turning it into SDL_QUIT for us. A VM's
     * window is no game: the desktop keeps compositing it. */
    SDL_SetHint(SDL_HINT_NO_SIGNAL_HANDLERS, "1");
    SDL_SetHint(SDL_HINT_VIDEO_X11_NET_WM_BYPASS_COMPOSITOR, "0");
    choose_drivers();
    if (SDL_Init(SDL_INIT_VIDEO) < 0) {
        const char *hint = "";

        if (!getenv("DISPLAY") && !getenv("WAYLAND_DISPLAY") && !getenv("SDL_VIDEODRIVER"))
            hint = " (neither DISPLAY nor WAYLAND_DISPLAY is set)";
        snprintf(d->start_err, sizeof(d->start_err), "cannot open an SDL window: %s%s",
                 SDL_GetError(), hint);
        SDL_Quit();     /* frees the hints */
        return -ENODEV;
    }
    d->wake_event = SDL_RegisterEvents(1);
    if (d->wake_event == (Uint32)-1) {
        snprintf(d->start_err, sizeof(d->start_err), "cannot open an SDL window: no user event left");
        goto fail_quit;
    }

    console_lock(d->con);
    s = console_surface_locked(d->con);
    if (s->pixels && s->width && s->height) {
        w = (int)s->width;
        h = (int)s->height;
    }
    console_unlock(d->con);

    d->window = SDL_CreateWindow("Nook", SDL_WINDOWPOS_UNDEFINED, SDL_WINDOWPOS_UNDEFINED, w, h,
                                 SDL_WINDOW_RESIZABLE);
    if (!d->window) {
        snprintf(d->start_err, sizeof(d->start_err), "cannot open an SDL window: %s", SDL_GetError());
        goto fail_quit;
    }
    fit_to_screen(d, &w, &h);
    SDL_SetWindowSize(d->window, w, h);
    d->set_w = w;
    d->set_h = h;
    d->set_at = SDL_GetTicks();
    d->renderer = SDL_CreateRenderer(d->window, -1, 0);
    if (!d->renderer) {
        snprintf(d->start_err, sizeof(d->start_err), "cannot draw in an SDL window: %s", SDL_GetError());
        goto fail_window;
    }
    /* Keys go to the guest as key codes, never through an input method. */
    SDL_StopTextInput();
    update_title(d);
    update_cursor(d);
    d->redraw = true;
    if (SDL_GetRendererInfo(d->renderer, &info) == 0)
        log_debug("sdl: window on %s, %s renderer", SDL_GetCurrentVideoDriver(), info.name);
    return 0;

fail_window:
    SDL_DestroyWindow(d->window);
    d->window = NULL;
fail_quit:
    SDL_Quit();
    return -ENODEV;
}

static void close_window(struct sdl_display *d)
{
    if (d->texture)
        SDL_DestroyTexture(d->texture);
    if (d->guest_cursor) {
        SDL_SetCursor(SDL_GetDefaultCursor());
        SDL_FreeCursor(d->guest_cursor);
    }
    SDL_DestroyRenderer(d->renderer);
    SDL_DestroyWindow(d->window);
    SDL_Quit();
}

static void report_start(struct sdl_display *d, enum start_state state)
{
    pthread_mutex_lock(&d->start_lock);
    d->start = state;
    pthread_cond_signal(&d->start_cond);
    pthread_mutex_unlock(&d->start_lock);
}

static void *sdl_thread(void *opaque)
{
    struct sdl_display *d = opaque;

    if (open_window(d) < 0) {
        report_start(d, START_FAILED);
        return NULL;
    }
    report_start(d, START_RUNNING);
    run(d);
    /* SDL_Quit frees the event queue's lock, which another thread's
     * SDL_PushEvent would be using. */
    pthread_mutex_lock(&d->lock);
    d->sdl_gone = true;
    pthread_mutex_unlock(&d->lock);
    close_window(d);
    return NULL;
}

struct sdl_display *sdl_display_new(const char *name, struct console *con, struct input *in,
                                    const struct sdl_display_ops *ops, void *opaque,
                                    char *err, size_t errlen)
{
    struct sdl_display *d = calloc(1, sizeof(*d));
    int r;

    if (!d || !(d->name = strdup(name))) {
        snprintf(err, errlen, "cannot open an SDL window: out of memory");
        free(d);
        return NULL;
    }
    d->con = con;
    d->in = in;
    d->ops = ops;
    d->opaque = opaque;
    d->listener = (struct console_listener){ .ops = &listener_ops, .opaque = d };
    pthread_mutex_init(&d->lock, NULL);
    pthread_mutex_init(&d->start_lock, NULL);
    pthread_cond_init(&d->start_cond, NULL);

    r = pthread_create(&d->thread, NULL, sdl_thread, d);
    if (r) {
        snprintf(err, errlen, "cannot start the SDL thread: %s", strerror(r));
        goto fail;
    }
    pthread_mutex_lock(&d->start_lock);
    while (d->start == START_WAITING)
        pthread_cond_wait(&d->start_cond, &d->start_lock);
    pthread_mutex_unlock(&d->start_lock);
    if (d->start == START_FAILED) {
        pthread_join(d->thread, NULL);
        snprintf(err, errlen, "%s", d->start_err);
        goto fail;
    }
    /* Replays the current surface and cursor, which wakes the thread. */
    console_add_listener(con, &d->listener);
    d->listening = true;
    return d;

fail:
    pthread_cond_destroy(&d->start_cond);
    pthread_mutex_destroy(&d->start_lock);
    pthread_mutex_destroy(&d->lock);
    free(d->name);
    free(d);
    return NULL;
}

void sdl_display_free(struct sdl_display *d)
{
    SDL_Event ev;

    if (!d)
        return;
    /* No callback runs once this returns, so the thread's notes are
     * final and nothing pushes events any more. */
    if (d->listening)
        console_remove_listener(d->con, &d->listener);
    atomic_store(&d->stop, true);
    memset(&ev, 0, sizeof(ev));
    ev.type = d->wake_event;
    pthread_mutex_lock(&d->lock);
    if (!d->sdl_gone)
        SDL_PushEvent(&ev);
    pthread_mutex_unlock(&d->lock);
    pthread_join(d->thread, NULL);
    free(d->cursor_argb);
    pthread_cond_destroy(&d->start_cond);
    pthread_mutex_destroy(&d->start_lock);
    pthread_mutex_destroy(&d->lock);
    free(d->name);
    free(d);
}
