/* EDID 1.4 base block (VESA E-EDID standard, release A revision 2). */
#include "edid.h"

#include <string.h>

#define REFRESH_HZ 60
/* Reduced blanking in the spirit of CVT-RB: fixed horizontal blanking, and
 * vertical blanking of at least 460 us. */
#define H_BLANK 160
#define H_FRONT 48
#define H_SYNC 32
#define V_FRONT 3
#define V_SYNC 5
#define V_BACK_MIN 6
#define DPI 96

static void chroma(uint8_t *e)
{
    /* sRGB primaries and D65 white, as 10-bit binary fractions. */
    static const double xy[8] = { 0.640, 0.330, 0.300, 0.600, 0.150, 0.060, 0.3127, 0.3290 };
    unsigned v[8];

    for (unsigned i = 0; i < 8; i++)
        v[i] = (unsigned)(xy[i] * 1024 + 0.5);
    e[25] = (uint8_t)((v[0] & 3) << 6 | (v[1] & 3) << 4 | (v[2] & 3) << 2 | (v[3] & 3));
    e[26] = (uint8_t)((v[4] & 3) << 6 | (v[5] & 3) << 4 | (v[6] & 3) << 2 | (v[7] & 3));
    for (unsigned i = 0; i < 8; i++)
        e[27 + i] = (uint8_t)(v[i] >> 2);
}

static void detailed_timing(uint8_t *d, unsigned w, unsigned h)
{
    unsigned vblank = (unsigned)(0.0284 * h) + 1;
    unsigned long clock;            /* in 10 kHz */
    unsigned wmm = w * 254 / (DPI * 10), hmm = h * 254 / (DPI * 10);

    if (vblank < V_FRONT + V_SYNC + V_BACK_MIN)
        vblank = V_FRONT + V_SYNC + V_BACK_MIN;
    clock = ((unsigned long)(w + H_BLANK) * (h + vblank) * REFRESH_HZ + 5000) / 10000;
    if (clock > 0xffff)
        clock = 0xffff;
    d[0] = (uint8_t)clock;
    d[1] = (uint8_t)(clock >> 8);
    d[2] = (uint8_t)w;
    d[3] = (uint8_t)H_BLANK;
    d[4] = (uint8_t)((w >> 8) << 4 | (H_BLANK >> 8));
    d[5] = (uint8_t)h;
    d[6] = (uint8_t)vblank;
    d[7] = (uint8_t)((h >> 8) << 4 | (vblank >> 8));
    d[8] = (uint8_t)H_FRONT;
    d[9] = (uint8_t)H_SYNC;
    d[10] = (uint8_t)((V_FRONT & 0xf) << 4 | (V_SYNC & 0xf));
    d[11] = (uint8_t)((H_FRONT >> 8) << 6 | (H_SYNC >> 8) << 4 | (V_FRONT >> 4) << 2 | (V_SYNC >> 4));
    d[12] = (uint8_t)wmm;
    d[13] = (uint8_t)hmm;
    d[14] = (uint8_t)((wmm >> 8) << 4 | (hmm >> 8));
    d[17] = 0x1e;                   /* digital separate sync, both polarities positive */
}

static void text_descriptor(uint8_t *d, uint8_t tag, const char *text)
{
    size_t n = strlen(text);

    if (n > 13)
        n = 13;
    d[3] = tag;
    memset(d + 5, ' ', 13);
    memcpy(d + 5, text, n);
    if (n < 13)
        d[5 + n] = '\n';
}

size_t edid_generate(uint8_t *buf, size_t len, unsigned pref_w, unsigned pref_h, const char *name)
{
    static const uint8_t header[8] = { 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x00 };
    /* Manufacturer "NOK": three 5-bit letters, 'A' = 1, big endian. */
    const unsigned mfg = ('N' - '@') << 10 | ('O' - '@') << 5 | ('K' - '@');
    uint8_t *e = buf, sum = 0;
    unsigned w = pref_w < 640 ? 640 : pref_w > EDID_MAX_SIZE ? EDID_MAX_SIZE : pref_w;
    unsigned h = pref_h < 480 ? 480 : pref_h > EDID_MAX_SIZE ? EDID_MAX_SIZE : pref_h;
    unsigned wcm = (w * 254 / (DPI * 10) + 5) / 10, hcm = (h * 254 / (DPI * 10) + 5) / 10;

    if (!buf || len < EDID_BLOCK)
        return 0;
    memset(e, 0, EDID_BLOCK);
    memcpy(e, header, sizeof(header));
    e[8] = (uint8_t)(mfg >> 8);
    e[9] = (uint8_t)mfg;
    e[10] = 0x01;                   /* product 0x0001 */
    e[16] = 1;                      /* week 1 of */
    e[17] = 2026 - 1990;
    e[18] = 1;                      /* EDID 1.4 */
    e[19] = 4;
    e[20] = 0xa0;                   /* digital, 8 bits per colour */
    e[21] = (uint8_t)(wcm > 255 ? 255 : wcm);
    e[22] = (uint8_t)(hcm > 255 ? 255 : hcm);
    e[23] = 120;                    /* gamma 2.2 */
    e[24] = 0x07;                   /* RGB 4:4:4, sRGB, preferred timing is native, continuous */
    chroma(e);
    e[35] = 0x21;                   /* 640x480@60, 800x600@60 */
    e[36] = 0x08;                   /* 1024x768@60 */
    for (unsigned i = 38; i < 54; i++)
        e[i] = 0x01;                /* no standard timings */
    detailed_timing(e + 54, w, h);
    text_descriptor(e + 72, 0xfc, name ? name : "");
    /* Range limits: 50-125 Hz, 30-160 kHz, 660 MHz (the largest detailed
     * timing clock), no formula. */
    e[90 + 3] = 0xfd;
    e[90 + 5] = 50;
    e[90 + 6] = 125;
    e[90 + 7] = 30;
    e[90 + 8] = 160;
    e[90 + 9] = 66;
    e[90 + 10] = 0x01;
    e[90 + 11] = '\n';
    memset(e + 90 + 12, ' ', 6);
    e[108 + 3] = 0x10;              /* dummy descriptor */
    for (unsigned i = 0; i < EDID_BLOCK - 1; i++)
        sum = (uint8_t)(sum + e[i]);
    e[127] = (uint8_t)(0x100 - sum);
    return EDID_BLOCK;
}
