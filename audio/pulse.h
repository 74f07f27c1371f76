/* The PulseAudio backend of nook-vmm (pulse.c), in nook-audio-pulse.so. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

struct audio_backend;

/* A backend whose streams are named after name (the VM's). With probe it
 * fails (NULL, the reason in err) when no server answers within a second,
 * for the default backend's choice; without, it starts anyway, warns once,
 * and connects whenever a server answers. */
struct audio_backend *pulse_audio_new(const char *name, bool probe, char *err, size_t errlen);
