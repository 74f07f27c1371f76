/* EDID 1.4 base blocks for the displays nook-vmm's graphics cards show: a
 * monitor whose preferred (native) mode is the size a front end asked for. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#define EDID_BLOCK 128
/* A detailed timing holds 12 bits per dimension. */
#define EDID_MAX_SIZE 4095

/* Writes one 128-byte block (no extensions) into buf (len >= EDID_BLOCK):
 * header, a manufacturer of our own, sRGB, the established VESA modes up to
 * 1024x768, a detailed timing of pref_w x pref_h at 60 Hz (reduced
 * blanking; sizes clamped to 640x480..EDID_MAX_SIZE), the monitor name
 * (at most 13 characters kept) and range limits. Returns EDID_BLOCK, or 0
 * when len is too small. */
size_t edid_generate(uint8_t *buf, size_t len, unsigned pref_w, unsigned pref_h, const char *name);
