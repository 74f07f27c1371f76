/* The SPICE display of nook-vmm: a spice-server with a display channel fed
 * from the console, keyboard, mouse and tablet inputs fed into the input
 * router, and the console's cursor. Runs on the GLib main context. */
#pragma once

#include <stddef.h>

struct audio_backend;
struct console;
struct input;
struct spice_display;

/* Where to listen, from --spice:
 *   unix:PATH
 *   tcp:ADDR:PORT,password-file=FILE[,tls-port=N,x509-dir=DIR]
 * with ,image-compression=off|auto_glz|auto_lz|quic|glz|lz accepted by
 * both. A TCP listener always needs a password: SPICE has no other
 * authentication here. audio, when not NULL, is a clock backend
 * (vmm/core/audio.h, audio_clock_new) whose sink the display becomes: the
 * guest's output goes to the playback channel and the record channel's
 * samples to its input. NULL with the reason in err. */
struct spice_display *spice_display_new(const char *spec, const char *name, struct console *con,
                                        struct input *in, struct audio_backend *audio,
                                        char *err, size_t errlen);
void spice_display_free(struct spice_display *d);
/* The unix socket's path, or NULL for TCP. */
const char *spice_display_socket(const struct spice_display *d);
