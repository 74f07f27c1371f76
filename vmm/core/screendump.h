/* Screendumps: a console's current picture written as a PNG file. */
#pragma once

#include <stddef.h>

struct console;

/* Brings the console up to date and writes what it shows to path (8-bit
 * RGB PNG). 0, or -errno with a one-line reason in err. */
int screendump_png(struct console *c, const char *path, char *err, size_t errlen);
