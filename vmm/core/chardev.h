/* Host side of a serial port: stdio, a file, a unix socket or nothing. */
#pragma once

#include <stdbool.h>

#include "../hw/serial.h"

struct chardev;

/* spec: "stdio", "none", "file:PATH" or "unix:PATH". Returns NULL with a
 * one-line reason in err. quit is called when the user types Ctrl-a x. */
struct chardev *chardev_new(const char *spec, struct serial *serial, void (*quit)(void *),
                            void *quit_opaque, char *err, size_t errlen);
void chardev_free(struct chardev *chr);
/* Starts watching input on the default GLib main context. */
void chardev_start(struct chardev *chr);
bool chardev_is_interactive(const struct chardev *chr);
