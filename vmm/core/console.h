/* A console: what a display device shows (a surface, the parts of it that
 * changed, a hardware cursor) and the backends that listen to it. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

/*
 * Threads and locks.
 *
 * A device calls console_set_surface(), console_update() and the cursor
 * functions from whatever thread it runs on (a vCPU thread, or the refresh
 * thread inside console_refresh()). Each of those takes the console's lock
 * and calls the listeners with it held, so a listener sees one change at a
 * time and never runs at the same time as another listener of the same
 * console. A listener must not call into the console or the device from its
 * callbacks; it copies what it needs, or remembers the rectangle and reads the
 * pixels later between console_lock() and console_unlock().
 *
 * Pixels: the surface's buffer belongs to whoever set it (the device, which
 * may point it into guest-visible video memory). It stays valid until the
 * next console_set_surface() has returned, so a backend reads it only inside
 * a callback or under console_lock(). The guest may be writing the memory at
 * the same time: a backend may see a frame half drawn, never freed memory.
 *
 * Lock order: device lock, then console lock. The console never holds its
 * lock while it calls the device (refresh, size requests).
 */

enum console_format {
    /* 32 bits per pixel, a native-endian (little-endian) word 0xXXRRGGBB:
     * in memory B, G, R, then a byte that is ignored. */
    CONSOLE_FORMAT_XRGB8888,
};

struct console_surface {
    unsigned width, height;
    unsigned stride;            /* bytes from one line to the next */
    enum console_format format;
    uint8_t *pixels;            /* borrowed from the device; NULL: no picture */
};

struct console_rect {
    unsigned x, y, w, h;
};

#define CONSOLE_CURSOR_MAX 256

struct console_cursor {
    unsigned width, height;     /* 0: no cursor image */
    unsigned hot_x, hot_y;
    int x, y;                   /* where the hotspot is, in surface pixels */
    bool visible;
    uint32_t *argb;             /* owned by the console: width * height pixels, 0xAARRGGBB */
};

/* What a backend (a window, a remote display, a recorder) hears. Every
 * member may be NULL. Called with the console lock held: see above. */
struct console_listener_ops {
    /* A new surface (size, format or buffer); what was drawn before is gone. */
    void (*surface_changed)(void *opaque, const struct console_surface *s);
    /* Pixels in r changed; r lies inside the current surface. */
    void (*update)(void *opaque, const struct console_surface *s, const struct console_rect *r);
    /* The cursor's image or hotspot changed (c->width == 0: no image). */
    void (*cursor_changed)(void *opaque, const struct console_cursor *c);
    /* The cursor moved or was shown or hidden. */
    void (*cursor_moved)(void *opaque, int x, int y, bool visible);
};

struct console_listener {
    const struct console_listener_ops *ops;
    void *opaque;
    struct console_listener *next;      /* the console's list; do not touch */
};

/* What the console asks of the device that owns it. Called without the
 * console lock held, from the thread of whoever asked. */
struct console_hw_ops {
    /* Bring the surface up to date: look at what the guest changed since
     * the last call and report it with console_update(). full: report the
     * whole surface as changed. */
    void (*refresh)(void *opaque, bool full);
    /* A front end would like this size (a window was resized). 0 when the
     * device will try, -ENOTSUP when it cannot change size on request. */
    int (*request_size)(void *opaque, unsigned width, unsigned height);
};

struct console;

/* refresh_hz: how often the refresh thread runs while listeners are
 * subscribed (0: never; console_refresh() still works). NULL on failure. */
struct console *console_new(const char *name, const struct console_hw_ops *hw, void *hw_opaque,
                            unsigned refresh_hz);
/* The refresh thread is stopped and every listener must have gone. */
void console_free(struct console *c);
const char *console_name(const struct console *c);

/* ---- device side ---- */

/* Replaces the surface (copied; the pixels are borrowed). Listeners get
 * surface_changed. */
void console_set_surface(struct console *c, const struct console_surface *s);
/* Reports changed pixels; the rectangle is clipped to the surface. */
void console_update(struct console *c, unsigned x, unsigned y, unsigned w, unsigned h);
/* Sets the cursor image (copied, at most CONSOLE_CURSOR_MAX square; argb
 * NULL or a size of 0 removes it) and its hotspot. -EINVAL for a bad size. */
int console_set_cursor(struct console *c, const uint32_t *argb, unsigned width, unsigned height,
                       unsigned hot_x, unsigned hot_y);
void console_move_cursor(struct console *c, int x, int y, bool visible);

/* ---- backend side ---- */

/* Subscribes l (which must stay alive until removed): it gets
 * surface_changed and, if there is one, cursor_changed/cursor_moved for the
 * current state at once, then every change. The first listener starts the
 * periodic refresh. */
void console_add_listener(struct console *c, struct console_listener *l);
/* Unsubscribes l; once this returns no callback of l runs or will run.
 * The last listener stops the periodic refresh. */
void console_remove_listener(struct console *c, struct console_listener *l);
unsigned console_listener_count(struct console *c);
/* Asks the device to bring the surface up to date now (a screendump, a
 * backend that wants a frame). Serialised with the refresh thread. */
void console_refresh(struct console *c, bool full);
/* Passes a size request to the device: 0 or -errno (-ENOTSUP). */
int console_request_size(struct console *c, unsigned width, unsigned height);

/* For reading pixels outside a callback. */
void console_lock(struct console *c);
void console_unlock(struct console *c);
/* The current surface; only meaningful under console_lock(). */
const struct console_surface *console_surface_locked(struct console *c);
const struct console_cursor *console_cursor_locked(struct console *c);

/* Copies the current surface as packed 8-bit RGB rows (width * 3 bytes per
 * line) into a new buffer the caller frees. Returns NULL (errno set) when
 * there is no picture or no memory. */
uint8_t *console_snapshot_rgb(struct console *c, unsigned *width, unsigned *height);
