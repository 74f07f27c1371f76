/* The console between a display device and its backends, and the thread
 * that refreshes it while anyone is watching. */
#include "console.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct console {
    const char *name;                   /* borrowed: a static string */
    const struct console_hw_ops *hw;    /* borrowed */
    void *hw_opaque;

    pthread_mutex_t lock;               /* surface, cursor, listeners */
    struct console_surface surface;
    struct console_cursor cursor;       /* argb owned */
    struct console_listener *listeners;
    unsigned nlisteners;

    pthread_mutex_t refresh_lock;       /* one refresh at a time */

    /* The refresh thread: started and stopped under ctl_lock; it sleeps on
     * cond under tlock. */
    pthread_mutex_t ctl_lock;
    pthread_mutex_t tlock;
    pthread_cond_t cond;
    pthread_t thread;
    bool thread_running;
    bool stop;
    unsigned refresh_hz;
};

struct console *console_new(const char *name, const struct console_hw_ops *hw, void *hw_opaque,
                            unsigned refresh_hz)
{
    struct console *c = calloc(1, sizeof(*c));
    pthread_condattr_t ca;

    if (!c)
        return NULL;
    c->name = name;
    c->hw = hw;
    c->hw_opaque = hw_opaque;
    c->refresh_hz = refresh_hz > 1000 ? 1000 : refresh_hz;
    c->surface.format = CONSOLE_FORMAT_XRGB8888;
    pthread_mutex_init(&c->lock, NULL);
    pthread_mutex_init(&c->refresh_lock, NULL);
    pthread_mutex_init(&c->ctl_lock, NULL);
    pthread_mutex_init(&c->tlock, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&c->cond, &ca);
    pthread_condattr_destroy(&ca);
    return c;
}

static void stop_thread(struct console *c)
{
    if (!c->thread_running)
        return;
    pthread_mutex_lock(&c->tlock);
    c->stop = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->tlock);
    pthread_join(c->thread, NULL);
    c->thread_running = false;
}

void console_free(struct console *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->ctl_lock);
    stop_thread(c);
    pthread_mutex_unlock(&c->ctl_lock);
    free(c->cursor.argb);
    pthread_cond_destroy(&c->cond);
    pthread_mutex_destroy(&c->tlock);
    pthread_mutex_destroy(&c->ctl_lock);
    pthread_mutex_destroy(&c->refresh_lock);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

const char *console_name(const struct console *c)
{
    return c->name;
}

void console_set_surface(struct console *c, const struct console_surface *s)
{
    pthread_mutex_lock(&c->lock);
    c->surface = *s;
    if (!c->surface.pixels)
        c->surface.width = c->surface.height = c->surface.stride = 0;
    for (struct console_listener *l = c->listeners; l; l = l->next)
        if (l->ops->surface_changed)
            l->ops->surface_changed(l->opaque, &c->surface);
    pthread_mutex_unlock(&c->lock);
}

void console_update(struct console *c, unsigned x, unsigned y, unsigned w, unsigned h)
{
    struct console_rect r;

    pthread_mutex_lock(&c->lock);
    if (x >= c->surface.width || y >= c->surface.height || !w || !h) {
        pthread_mutex_unlock(&c->lock);
        return;
    }
    if (w > c->surface.width - x)
        w = c->surface.width - x;
    if (h > c->surface.height - y)
        h = c->surface.height - y;
    r = (struct console_rect){ x, y, w, h };
    for (struct console_listener *l = c->listeners; l; l = l->next)
        if (l->ops->update)
            l->ops->update(l->opaque, &c->surface, &r);
    pthread_mutex_unlock(&c->lock);
}

int console_set_cursor(struct console *c, const uint32_t *argb, unsigned width, unsigned height,
                       unsigned hot_x, unsigned hot_y)
{
    uint32_t *copy = NULL;

    if (argb && width && height) {
        if (width > CONSOLE_CURSOR_MAX || height > CONSOLE_CURSOR_MAX || hot_x >= width ||
            hot_y >= height)
            return -EINVAL;
        copy = malloc((size_t)width * height * sizeof(*copy));
        if (!copy)
            return -ENOMEM;
        memcpy(copy, argb, (size_t)width * height * sizeof(*copy));
    } else {
        width = height = hot_x = hot_y = 0;
    }
    pthread_mutex_lock(&c->lock);
    free(c->cursor.argb);
    c->cursor.argb = copy;
    c->cursor.width = width;
    c->cursor.height = height;
    c->cursor.hot_x = hot_x;
    c->cursor.hot_y = hot_y;
    for (struct console_listener *l = c->listeners; l; l = l->next)
        if (l->ops->cursor_changed)
            l->ops->cursor_changed(l->opaque, &c->cursor);
    pthread_mutex_unlock(&c->lock);
    return 0;
}

void console_move_cursor(struct console *c, int x, int y, bool visible)
{
    pthread_mutex_lock(&c->lock);
    c->cursor.x = x;
    c->cursor.y = y;
    c->cursor.visible = visible;
    for (struct console_listener *l = c->listeners; l; l = l->next)
        if (l->ops->cursor_moved)
            l->ops->cursor_moved(l->opaque, x, y, visible);
    pthread_mutex_unlock(&c->lock);
}

void console_refresh(struct console *c, bool full)
{
    if (!c->hw || !c->hw->refresh)
        return;
    pthread_mutex_lock(&c->refresh_lock);
    c->hw->refresh(c->hw_opaque, full);
    pthread_mutex_unlock(&c->refresh_lock);
}

static void *refresh_thread(void *opaque)
{
    struct console *c = opaque;
    long period_ns = 1000000000L / c->refresh_hz;
    struct timespec next;
    bool first = true;

    clock_gettime(CLOCK_MONOTONIC, &next);
    pthread_mutex_lock(&c->tlock);
    while (!c->stop) {
        pthread_mutex_unlock(&c->tlock);
        /* A new listener has a surface but nothing drawn on it yet. */
        console_refresh(c, first);
        first = false;
        pthread_mutex_lock(&c->tlock);
        next.tv_nsec += period_ns;
        if (next.tv_nsec >= 1000000000L) {
            next.tv_sec++;
            next.tv_nsec -= 1000000000L;
        }
        while (!c->stop && pthread_cond_timedwait(&c->cond, &c->tlock, &next) != ETIMEDOUT)
            ;
        /* Late (a slow refresh, a stopped process): start counting anew. */
        {
            struct timespec now;

            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec > next.tv_sec + 1)
                next = now;
        }
    }
    pthread_mutex_unlock(&c->tlock);
    return NULL;
}

void console_add_listener(struct console *c, struct console_listener *l)
{
    unsigned n;

    pthread_mutex_lock(&c->ctl_lock);
    pthread_mutex_lock(&c->lock);
    l->next = c->listeners;
    c->listeners = l;
    n = ++c->nlisteners;
    if (l->ops->surface_changed)
        l->ops->surface_changed(l->opaque, &c->surface);
    if (c->cursor.width && l->ops->cursor_changed)
        l->ops->cursor_changed(l->opaque, &c->cursor);
    if (c->cursor.width && l->ops->cursor_moved)
        l->ops->cursor_moved(l->opaque, c->cursor.x, c->cursor.y, c->cursor.visible);
    pthread_mutex_unlock(&c->lock);
    if (n == 1 && c->refresh_hz && !c->thread_running) {
        c->stop = false;
        c->thread_running = pthread_create(&c->thread, NULL, refresh_thread, c) == 0;
    }
    pthread_mutex_unlock(&c->ctl_lock);
}

void console_remove_listener(struct console *c, struct console_listener *l)
{
    unsigned n;

    pthread_mutex_lock(&c->ctl_lock);
    pthread_mutex_lock(&c->lock);
    for (struct console_listener **p = &c->listeners; *p; p = &(*p)->next) {
        if (*p == l) {
            *p = l->next;
            c->nlisteners--;
            break;
        }
    }
    l->next = NULL;
    n = c->nlisteners;
    pthread_mutex_unlock(&c->lock);
    if (n == 0)
        stop_thread(c);
    pthread_mutex_unlock(&c->ctl_lock);
}

unsigned console_listener_count(struct console *c)
{
    unsigned n;

    pthread_mutex_lock(&c->lock);
    n = c->nlisteners;
    pthread_mutex_unlock(&c->lock);
    return n;
}

int console_request_size(struct console *c, unsigned width, unsigned height)
{
    if (!c->hw || !c->hw->request_size)
        return -ENOTSUP;
    return c->hw->request_size(c->hw_opaque, width, height);
}

void console_lock(struct console *c)
{
    pthread_mutex_lock(&c->lock);
}

void console_unlock(struct console *c)
{
    pthread_mutex_unlock(&c->lock);
}

const struct console_surface *console_surface_locked(struct console *c)
{
    return &c->surface;
}

const struct console_cursor *console_cursor_locked(struct console *c)
{
    return &c->cursor;
}

uint8_t *console_snapshot_rgb(struct console *c, unsigned *width, unsigned *height)
{
    const struct console_surface *s = &c->surface;
    uint8_t *out = NULL;

    pthread_mutex_lock(&c->lock);
    if (!s->pixels || !s->width || !s->height || s->format != CONSOLE_FORMAT_XRGB8888) {
        errno = ENODATA;
        goto out;
    }
    out = malloc((size_t)s->width * s->height * 3);
    if (!out) {
        errno = ENOMEM;
        goto out;
    }
    for (unsigned y = 0; y < s->height; y++) {
        const uint8_t *src = s->pixels + (size_t)y * s->stride;
        uint8_t *dst = out + (size_t)y * s->width * 3;

        for (unsigned x = 0; x < s->width; x++, src += 4, dst += 3) {
            dst[0] = src[2];
            dst[1] = src[1];
            dst[2] = src[0];
        }
    }
    *width = s->width;
    *height = s->height;
out:
    pthread_mutex_unlock(&c->lock);
    return out;
}
