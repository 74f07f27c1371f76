/* The SDL2 window of nook-vmm --display sdl and of the open-window command:
 * shows a console, sends the keyboard and mouse to the input router. SDL
 * runs on a thread of its own; one window at a time. */
#pragma once

#include <stddef.h>

struct console;
struct input;
struct sdl_display;

/* What the window asks of the application. Called on the SDL thread. */
struct sdl_display_ops {
    /* The window was closed once: ask the guest to shut down. */
    void (*power_button)(void *opaque);
    /* The window was closed twice within a few seconds, or Ctrl+Alt+Q. */
    void (*quit)(void *opaque);
    /* When set, closing the window (or Ctrl+Alt+Q) hides it and calls this
     * once instead of the two above: the guest is not told. The display
     * lives on until sdl_display_free(), which must not be called from
     * here (it joins the SDL thread). */
    void (*closed)(void *opaque);
};

/* Opens the window titled "NAME - Nook" and subscribes it to con. The
 * console, the router and opaque must outlive the display. NULL with a
 * one-line reason in err when SDL cannot open a window (no display server,
 * no video driver). */
struct sdl_display *sdl_display_new(const char *name, struct console *con, struct input *in,
                                    const struct sdl_display_ops *ops, void *opaque,
                                    char *err, size_t errlen);
/* Unsubscribes from the console, closes the window and joins the thread. */
void sdl_display_free(struct sdl_display *d);
