/* The display modules: nook-display-sdl.so and nook-display-spice.so, which
 * nook-vmm opens only when a VM asks for that display, so that a headless
 * VM maps none of SDL's or spice-server's libraries (X11, Wayland,
 * PulseAudio, GStreamer, OpenSSL, SASL, ...). The interface both sides build
 * against, and nook-vmm's loader (module.c). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#include "sdl.h"
#include "spice.h"

/*
 * The ABI between nook-vmm and a module is this file, sdl.h, spice.h, and
 * what a module calls in nook-vmm: the functions listed in
 * host-symbols.list (console, input, keymap, log and audio), with the
 * structures they take (vmm/core/console.h, input.h, log.h, audio.h).
 * Raise the number when any of that changes in a way a module built before
 * would get wrong; nook-vmm refuses a module built with another number.
 */
#define DISPLAY_MODULE_ABI 2

/* What the modules provide. Each fills the members of its own kind and
 * leaves the others alone. The functions are those of sdl.h, spice.h and
 * audio/pulse.h (nook-audio-pulse.so, which follows the same rules). */
struct display_backend {
    /* nook-display-sdl.so */
    struct sdl_display *(*sdl_new)(const char *name, struct console *con, struct input *in,
                                   const struct sdl_display_ops *ops, void *opaque,
                                   char *err, size_t errlen);
    void (*sdl_free)(struct sdl_display *d);
    /* nook-display-spice.so */
    struct spice_display *(*spice_new)(const char *spec, const char *name, struct console *con,
                                       struct input *in, struct audio_backend *audio,
                                       char *err, size_t errlen);
    void (*spice_free)(struct spice_display *d);
    const char *(*spice_socket)(const struct spice_display *d);
    /* nook-audio-pulse.so */
    struct audio_backend *(*pulse_new)(const char *name, bool probe, char *err, size_t errlen);
};

/* The one symbol a module exports (module.c finds it by this name). It
 * fills b only when abi is the DISPLAY_MODULE_ABI the module was built
 * with, and returns that number either way, so that nook-vmm can say which
 * ABI a stale module has. It does nothing else: opening a module starts
 * nothing. */
#define DISPLAY_MODULE_ENTRY "nook_display_module_init"
typedef unsigned (*display_module_init_fn)(unsigned abi, struct display_backend *b);
__attribute__((visibility("default")))
unsigned nook_display_module_init(unsigned abi, struct display_backend *b);

/* nook-vmm's side. Opens nook-display-KIND.so (KIND: "sdl" or "spice") or
 * nook-audio-pulse.so (KIND "pulse") from the first of these folders that
 * has the file:
 *   - $NOOK_MODULE_DIR, alone, when it is set (tests);
 *   - display/ and audio/ of the build tree, when nook-vmm runs from one
 *     (<folder of /proc/self/exe>/../display and ../audio);
 *   - the installed modules' folder, LIBDIR/nook.
 * and fills KIND's members of b. The module stays loaded until the process
 * exits. 0; -ENOENT when no folder has the file; -EINVAL when the file is
 * there but is not a display module of this build. The reason, naming the
 * file, in err. */
int display_module_load(const char *kind, struct display_backend *b, char *err, size_t errlen);
