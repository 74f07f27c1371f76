/* Standard VGA: registers, planar memory, Bochs VBE, and the renderer that
 * turns video memory into a 32-bit console surface (text mode with the font
 * from plane 2, 16- and 256-colour modes, VBE modes of 4 to 32 bits). */
#include "vga.h"
#include "../core/log.h"
#include "edid.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define PAGE 4096u
#define VRAM_MASK (VGA_VRAM_SIZE - 1)
#define VRAM_PAGES (VGA_VRAM_SIZE / PAGE)
#define BITMAP_WORDS (VRAM_PAGES / 64)

/* Registers by index. */
#define SR_CLOCK        0x01
#define SR_PLANE_WRITE  0x02
#define SR_CHARMAP      0x03
#define SR_MEMORY       0x04
#define SR_MEMORY_CHAIN4 0x08
#define SR_CLOCK_8DOT   0x01
#define SR_CLOCK_HALF   0x08

#define GR_SR_VALUE     0x00
#define GR_SR_ENABLE    0x01
#define GR_COMPARE      0x02
#define GR_ROTATE       0x03
#define GR_READ_PLANE   0x04
#define GR_MODE         0x05
#define GR_MISC         0x06
#define GR_DONT_CARE    0x07
#define GR_BIT_MASK     0x08
#define GR_MODE_ODDEVEN 0x10
#define GR_MISC_GRAPHICS 0x01

#define AR_MODE         0x10
#define AR_PLANE_ENABLE 0x12
#define AR_COLOR_PAGE   0x14
#define AR_COUNT        0x15
#define AR_INDEX_PAS    0x20    /* palette address source: display on */

#define CR_H_DISP       0x01
#define CR_OVERFLOW     0x07
#define CR_MAX_SCAN     0x09
#define CR_CURSOR_START 0x0a
#define CR_CURSOR_END   0x0b
#define CR_START_HI     0x0c
#define CR_START_LO     0x0d
#define CR_CURSOR_HI    0x0e
#define CR_CURSOR_LO    0x0f
#define CR_V_SYNC_END   0x11
#define CR_V_DISP_END   0x12
#define CR_OFFSET       0x13
#define CR_MODE         0x17
#define CR_LINE_COMPARE 0x18

#define MISC_COLOR      0x01
#define ST01_RETRACE    0x09    /* vertical retrace and display enable */

#define TEXT_MAX_CELLS  (160 * 100)
#define MAX_SHADOW_BYTES (256u << 20)

/* A guest that keeps redrawing the whole of a VBE picture (a full-screen
 * video, a game, a redraw loop) pays for the dirty log: each fetch
 * write-protects its pages again, and its next write to each one faults
 * into KVM, which can cost it more time than the drawing. Once refreshes
 * in a row that each found some of the picture written (STREAM_BUSY_PERCENT
 * of its pages: a guest slowed down by those faults writes few pages per
 * refresh, the more so the higher the refresh rate) have together seen
 * STREAM_SEEN_PERCENT of its pages, they are left writable and the whole
 * picture is taken as changed for STREAM_MS; then the log is fetched twice
 * (the first fetch arms it) to see whether the guest still does. A guest
 * that keeps redrawing only part of the picture stays with the log. */
#define STREAM_BUSY_PERCENT 3
#define STREAM_SEEN_PERCENT 90
#define STREAM_MS 500

/* Masks of the bits each register keeps. */
static const uint8_t sr_mask[8] = { 0x03, 0x3d, 0x0f, 0x3f, 0x0e, 0x00, 0x00, 0xff };
static const uint8_t gr_mask[16] = { 0x0f, 0x0f, 0x0f, 0x1f, 0x03, 0x7b, 0x0f, 0x0f, 0xff };

enum shown {
    SHOWN_NONE,
    SHOWN_BLANK,
    SHOWN_TEXT,
    SHOWN_GRAPHICS,
};

/* How a graphics line is stored in video memory. */
enum line_kind {
    LINE_PLANAR4,   /* four planes, 8 pixels a dword, 16 colours */
    LINE_CGA2,      /* 2 bits a pixel from plane pairs */
    LINE_P8D2,      /* a byte a pixel, each drawn twice (mode 13h) */
    LINE_P8,
    LINE_RGB15,
    LINE_RGB16,
    LINE_RGB24,
    LINE_RGB32,
};

struct vga {
    pthread_mutex_t lock;       /* everything below */
    struct pci_dev pci;
    struct console *con;        /* owned */
    uint8_t edid[EDID_BLOCK];   /* BAR2 from 0: a monitor of the size a front end asked for */

    uint8_t *map;               /* owned: VRAM between two guard pages */
    size_t map_len;
    uint8_t *vram;
    uint8_t *rom;               /* owned copy of the VGA BIOS */
    size_t rom_len;

    struct vga_lfb_ops lfb;
    int lfb_handle;             /* -1: BAR0 not mapped in a memory slot */

    /* Legacy registers. */
    uint8_t misc, fcr, st01;
    uint8_t sr_index, sr[8];
    uint8_t gr_index, gr[16];
    uint8_t ar_index, ar[AR_COUNT];
    bool ar_flip;
    uint8_t cr_index, cr[256];
    uint8_t dac_read, dac_write, dac_sub, dac_state, pel_mask;
    uint8_t dac_cache[3];
    uint8_t palette[768];
    uint32_t latch;
    bool plane2_written;        /* the font may have changed */

    /* Bochs VBE. */
    uint16_t vbe_index;
    uint16_t vbe[VBE_DISPI_NREGS];
    uint32_t vbe_line_offset;   /* bytes */
    uint32_t vbe_start;         /* bytes */
    uint32_t bank_offset;
    bool dac_8bit;

    /* Writes seen by the device's own handlers since the last refresh. */
    uint64_t dirty[BITMAP_WORDS];
    uint64_t kvm_dirty[BITMAP_WORDS];
    unsigned refresh_hz;
    uint64_t stream_seen[BITMAP_WORDS]; /* pages written in the busy refreshes in a row */
    unsigned unlogged;          /* refreshes left that do without the dirty log */

    /* What the console shows. */
    enum shown shown;
    unsigned width, height;     /* of the surface */
    unsigned geom[8];           /* mode parameters the picture was drawn with */
    uint8_t *shared_at;         /* surface points into VRAM here, or NULL */
    uint32_t *shadow;           /* owned: the surface when not shared */
    size_t shadow_bytes;
    uint32_t pal[256];
    uint16_t *text_cache;       /* owned: char | attr << 8 as drawn */
    unsigned text_cells;
    unsigned cursor_cell;       /* where the cursor was drawn, or ~0 */
    unsigned cursor_shape;      /* its start and end lines then */
};

/* ---- helpers ---- */

/* Byte k of the result is 0xff when bit k of m is set: plane masks. */
static uint32_t expand_planes(unsigned m)
{
    uint32_t v = 0;

    for (unsigned k = 0; k < 4; k++)
        if (m & (1u << k))
            v |= 0xffu << (8 * k);
    return v;
}

static void mark_dirty(struct vga *v, uint32_t addr, uint32_t len)
{
    uint32_t first = (addr & VRAM_MASK) / PAGE, last = ((addr + len - 1) & VRAM_MASK) / PAGE;

    for (uint32_t p = first;; p = (p + 1) % VRAM_PAGES) {
        v->dirty[p / 64] |= 1ull << (p % 64);
        if (p == last)
            break;
    }
}

static bool is_dirty(const struct vga *v, uint32_t addr, uint32_t len)
{
    uint32_t first = (addr & VRAM_MASK) / PAGE, last = ((addr + (len ? len : 1) - 1) & VRAM_MASK) / PAGE;

    for (uint32_t p = first;; p = (p + 1) % VRAM_PAGES) {
        if (v->dirty[p / 64] & (1ull << (p % 64)))
            return true;
        if (p == last)
            return false;
    }
}

/* How many pages of [addr, addr + len), which lies inside VRAM, bm has. */
static unsigned pages_in(const uint64_t *bm, uint32_t addr, uint32_t len)
{
    unsigned n = 0;

    for (uint32_t p = addr / PAGE; p <= (addr + len - 1) / PAGE; p++)
        n += (bm[p / 64] >> (p % 64)) & 1;
    return n;
}

static inline uint8_t vram_at(const struct vga *v, uint32_t addr)
{
    return v->vram[addr & VRAM_MASK];
}

static bool vbe_enabled(const struct vga *v)
{
    return v->vbe[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_ENABLED;
}

/* In VBE modes above 4 bits the window is chained, whatever the sequencer
 * says, so that banked access reaches VRAM linearly. */
static bool chain4(const struct vga *v)
{
    if (vbe_enabled(v) && v->vbe[VBE_DISPI_INDEX_BPP] != 4)
        return true;
    return v->sr[SR_MEMORY] & SR_MEMORY_CHAIN4;
}

static uint8_t plane_write_mask(const struct vga *v)
{
    if (vbe_enabled(v) && v->vbe[VBE_DISPI_INDEX_BPP] != 4)
        return 0xf;
    return v->sr[SR_PLANE_WRITE] & 0xf;
}

/* ---- Bochs VBE ---- */

/* Brings the VBE registers to the nearest mode that fits in VRAM, as the
 * interface has no way to report an error. */
static void vbe_fixup(struct vga *v)
{
    uint16_t *r = v->vbe;
    uint32_t bits, line, maxy, offset;

    if (!vbe_enabled(v))
        return;
    switch (r[VBE_DISPI_INDEX_BPP]) {
    case 4: case 8: case 16: case 24: case 32:
        bits = r[VBE_DISPI_INDEX_BPP];
        break;
    case 15:
        bits = 16;
        break;
    default:
        bits = r[VBE_DISPI_INDEX_BPP] = 8;
        break;
    }
    r[VBE_DISPI_INDEX_XRES] &= ~7u;
    if (r[VBE_DISPI_INDEX_XRES] == 0)
        r[VBE_DISPI_INDEX_XRES] = 8;
    if (r[VBE_DISPI_INDEX_XRES] > VBE_DISPI_MAX_XRES)
        r[VBE_DISPI_INDEX_XRES] = VBE_DISPI_MAX_XRES;
    r[VBE_DISPI_INDEX_VIRT_WIDTH] &= ~7u;
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH] > VBE_DISPI_MAX_XRES)
        r[VBE_DISPI_INDEX_VIRT_WIDTH] = VBE_DISPI_MAX_XRES;
    if (r[VBE_DISPI_INDEX_VIRT_WIDTH] < r[VBE_DISPI_INDEX_XRES])
        r[VBE_DISPI_INDEX_VIRT_WIDTH] = r[VBE_DISPI_INDEX_XRES];

    line = r[VBE_DISPI_INDEX_VIRT_WIDTH] * bits / 8;
    maxy = VGA_VRAM_SIZE / line;
    if (r[VBE_DISPI_INDEX_YRES] == 0)
        r[VBE_DISPI_INDEX_YRES] = 1;
    if (r[VBE_DISPI_INDEX_YRES] > VBE_DISPI_MAX_YRES)
        r[VBE_DISPI_INDEX_YRES] = VBE_DISPI_MAX_YRES;
    if (r[VBE_DISPI_INDEX_YRES] > maxy)
        r[VBE_DISPI_INDEX_YRES] = (uint16_t)maxy;

    if (r[VBE_DISPI_INDEX_X_OFFSET] > VBE_DISPI_MAX_XRES)
        r[VBE_DISPI_INDEX_X_OFFSET] = VBE_DISPI_MAX_XRES;
    if (r[VBE_DISPI_INDEX_Y_OFFSET] > VBE_DISPI_MAX_YRES)
        r[VBE_DISPI_INDEX_Y_OFFSET] = VBE_DISPI_MAX_YRES;
    /* The visible picture must lie inside VRAM: drop the y offset first,
     * then the x offset. */
    offset = r[VBE_DISPI_INDEX_X_OFFSET] * bits / 8 + r[VBE_DISPI_INDEX_Y_OFFSET] * line;
    if (offset + r[VBE_DISPI_INDEX_YRES] * line > VGA_VRAM_SIZE) {
        r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
        offset = r[VBE_DISPI_INDEX_X_OFFSET] * bits / 8;
        if (offset + r[VBE_DISPI_INDEX_YRES] * line > VGA_VRAM_SIZE) {
            r[VBE_DISPI_INDEX_X_OFFSET] = 0;
            offset = 0;
        }
    }
    r[VBE_DISPI_INDEX_VIRT_HEIGHT] = (uint16_t)(maxy > 0xffff ? 0xffff : maxy);
    v->vbe_line_offset = line;
    /* The start is kept in dwords, as the CRTC's start address is. */
    v->vbe_start = offset & ~3u;
}

/* Makes the legacy registers describe the VBE mode, so that software that
 * reads them (and the banked window) sees a graphics mode. */
static void vbe_set_vga_regs(struct vga *v)
{
    unsigned h, shift;

    if (!vbe_enabled(v))
        return;
    v->gr[GR_MISC] = (uint8_t)((v->gr[GR_MISC] & ~0x0c) | 0x04 | GR_MISC_GRAPHICS);
    v->cr[CR_MODE] |= 3;
    v->cr[CR_OFFSET] = (uint8_t)(v->vbe_line_offset >> 3);
    v->cr[CR_H_DISP] = (uint8_t)((v->vbe[VBE_DISPI_INDEX_XRES] >> 3) - 1);
    h = v->vbe[VBE_DISPI_INDEX_YRES] - 1u;
    v->cr[CR_V_DISP_END] = (uint8_t)h;
    v->cr[CR_OVERFLOW] = (uint8_t)((v->cr[CR_OVERFLOW] & ~0x42) | ((h >> 7) & 0x02) | ((h >> 3) & 0x40));
    v->cr[CR_LINE_COMPARE] = 0xff;
    v->cr[CR_OVERFLOW] |= 0x10;
    v->cr[CR_MAX_SCAN] |= 0x40;
    shift = v->vbe[VBE_DISPI_INDEX_BPP] == 4 ? 0 : 2;
    if (shift == 0)
        v->sr[SR_CLOCK] &= (uint8_t)~SR_CLOCK_HALF;
    v->gr[GR_MODE] = (uint8_t)((v->gr[GR_MODE] & ~0x60) | (shift << 5));
    v->cr[CR_MAX_SCAN] &= (uint8_t)~0x9f;
}

static uint16_t vbe_read(struct vga *v)
{
    unsigned i = v->vbe_index;

    if (i < VBE_DISPI_NREGS) {
        if (v->vbe[VBE_DISPI_INDEX_ENABLE] & VBE_DISPI_GETCAPS) {
            if (i == VBE_DISPI_INDEX_XRES)
                return VBE_DISPI_MAX_XRES;
            if (i == VBE_DISPI_INDEX_YRES)
                return VBE_DISPI_MAX_YRES;
            if (i == VBE_DISPI_INDEX_BPP)
                return VBE_DISPI_MAX_BPP;
        }
        return v->vbe[i];
    }
    if (i == VBE_DISPI_INDEX_VIDEO_MEMORY_64K)
        return VGA_VRAM_SIZE >> 16;
    return 0;
}

static void vbe_write(struct vga *v, uint16_t val)
{
    uint16_t *r = v->vbe;

    switch (v->vbe_index) {
    case VBE_DISPI_INDEX_ID:
        if (val >= VBE_DISPI_ID0 && val <= VBE_DISPI_ID5)
            r[VBE_DISPI_INDEX_ID] = val;
        break;
    case VBE_DISPI_INDEX_XRES:
    case VBE_DISPI_INDEX_YRES:
    case VBE_DISPI_INDEX_BPP:
    case VBE_DISPI_INDEX_VIRT_WIDTH:
    case VBE_DISPI_INDEX_X_OFFSET:
    case VBE_DISPI_INDEX_Y_OFFSET:
        r[v->vbe_index] = val;
        vbe_fixup(v);
        vbe_set_vga_regs(v);
        break;
    case VBE_DISPI_INDEX_BANK: {
        /* 64 KiB banks; a 4-bit mode addresses planes, a quarter as many. */
        uint32_t mask = (VGA_VRAM_SIZE >> 16) - 1;

        if (r[VBE_DISPI_INDEX_BPP] == 4)
            mask >>= 2;
        val &= (uint16_t)mask;
        r[VBE_DISPI_INDEX_BANK] = val;
        v->bank_offset = (uint32_t)val << 16;
        break;
    }
    case VBE_DISPI_INDEX_ENABLE:
        if ((val & VBE_DISPI_ENABLED) && !vbe_enabled(v)) {
            r[VBE_DISPI_INDEX_VIRT_WIDTH] = 0;
            r[VBE_DISPI_INDEX_X_OFFSET] = 0;
            r[VBE_DISPI_INDEX_Y_OFFSET] = 0;
            r[VBE_DISPI_INDEX_ENABLE] |= VBE_DISPI_ENABLED;
            vbe_fixup(v);
            if (!(val & VBE_DISPI_NOCLEARMEM)) {
                /* vbe_fixup keeps YRES lines of the mode inside VRAM. */
                size_t n = (size_t)r[VBE_DISPI_INDEX_YRES] * v->vbe_line_offset;

                memset(v->vram, 0, n);
                mark_dirty(v, 0, (uint32_t)n);
            }
            vbe_set_vga_regs(v);
        } else if (!(val & VBE_DISPI_ENABLED)) {
            v->bank_offset = 0;
        }
        v->dac_8bit = val & VBE_DISPI_8BIT_DAC;
        r[VBE_DISPI_INDEX_ENABLE] = val;
        break;
    default:
        break;
    }
}

/* ---- legacy registers ---- */

/* Ports of the other (mono or colour) set do not decode. */
static bool port_decodes(const struct vga *v, unsigned port)
{
    if (v->misc & MISC_COLOR)
        return !(port >= 0x3b0 && port <= 0x3bf);
    return !(port >= 0x3d0 && port <= 0x3df);
}

static uint8_t port_read(struct vga *v, unsigned port)
{
    uint8_t val;

    if (!port_decodes(v, port))
        return 0xff;
    switch (port) {
    case 0x3c0:
        return v->ar_flip ? 0 : v->ar_index;
    case 0x3c1:
        return (v->ar_index & 0x1f) < AR_COUNT ? v->ar[v->ar_index & 0x1f] : 0;
    case 0x3c2:
        return 0;   /* input status 0: no switch sense, no interrupt */
    case 0x3c4:
        return v->sr_index;
    case 0x3c5:
        return v->sr[v->sr_index];
    case 0x3c6:
        return v->pel_mask;
    case 0x3c7:
        return v->dac_state;
    case 0x3c8:
        return v->dac_write;
    case 0x3c9:
        val = v->palette[v->dac_read * 3 + v->dac_sub];
        if (++v->dac_sub == 3) {
            v->dac_sub = 0;
            v->dac_read++;
        }
        return val;
    case 0x3ca:
        return v->fcr;
    case 0x3cc:
        return v->misc;
    case 0x3ce:
        return v->gr_index;
    case 0x3cf:
        return v->gr[v->gr_index];
    case 0x3b4:
    case 0x3d4:
        return v->cr_index;
    case 0x3b5:
    case 0x3d5:
        return v->cr[v->cr_index];
    case 0x3ba:
    case 0x3da:
        /* Software polls for retrace: it comes and goes at every read. */
        v->st01 ^= ST01_RETRACE;
        v->ar_flip = false;
        return v->st01;
    default:
        return 0xff;
    }
}

static void port_write(struct vga *v, unsigned port, uint8_t val)
{
    unsigned i;

    if (!port_decodes(v, port))
        return;
    switch (port) {
    case 0x3c0:
        if (!v->ar_flip) {
            v->ar_index = val & 0x3f;
        } else {
            i = v->ar_index & 0x1f;
            if (i < 0x10)
                v->ar[i] = val & 0x3f;
            else if (i == AR_MODE)
                v->ar[i] = val & (uint8_t)~0x10;
            else if (i == 0x11)
                v->ar[i] = val;
            else if (i == AR_PLANE_ENABLE)
                v->ar[i] = val & 0x3f;
            else if (i == 0x13 || i == AR_COLOR_PAGE)
                v->ar[i] = val & 0x0f;
        }
        v->ar_flip = !v->ar_flip;
        break;
    case 0x3c2:
        v->misc = val & (uint8_t)~0x10;
        break;
    case 0x3c4:
        v->sr_index = val & 7;
        break;
    case 0x3c5:
        v->sr[v->sr_index] = val & sr_mask[v->sr_index];
        break;
    case 0x3c6:
        v->pel_mask = val;
        break;
    case 0x3c7:
        v->dac_read = val;
        v->dac_sub = 0;
        v->dac_state = 3;
        break;
    case 0x3c8:
        v->dac_write = val;
        v->dac_sub = 0;
        v->dac_state = 0;
        break;
    case 0x3c9:
        v->dac_cache[v->dac_sub] = val;
        if (++v->dac_sub == 3) {
            memcpy(&v->palette[v->dac_write * 3], v->dac_cache, 3);
            v->dac_sub = 0;
            v->dac_write++;
        }
        break;
    case 0x3ce:
        v->gr_index = val & 0x0f;
        break;
    case 0x3cf:
        v->gr[v->gr_index] = val & gr_mask[v->gr_index];
        break;
    case 0x3b4:
    case 0x3d4:
        v->cr_index = val;
        break;
    case 0x3b5:
    case 0x3d5:
        /* CR11 bit 7 write-protects CR0-CR7, except CR7's line compare bit. */
        if ((v->cr[CR_V_SYNC_END] & 0x80) && v->cr_index <= CR_OVERFLOW) {
            if (v->cr_index == CR_OVERFLOW)
                v->cr[CR_OVERFLOW] = (uint8_t)((v->cr[CR_OVERFLOW] & ~0x10) | (val & 0x10));
            break;
        }
        v->cr[v->cr_index] = val;
        break;
    case 0x3ba:
    case 0x3da:
        v->fcr = val & 0x10;
        break;
    default:
        break;
    }
    if (port == 0x3c5 || port == 0x3cf || port == 0x3b5 || port == 0x3d5)
        vbe_set_vga_regs(v);
}

/* ---- the window at 0xa0000 ---- */

/* The VRAM offset a window offset addresses, or false when the window
 * does not decode there (memory map select in GR06). */
static bool window_offset(const struct vga *v, uint32_t off, uint32_t *out)
{
    off &= VGA_WINDOW_SIZE - 1;
    switch ((v->gr[GR_MISC] >> 2) & 3) {
    case 0:
        break;
    case 1:
        if (off >= 0x10000)
            return false;
        off += v->bank_offset;
        break;
    case 2:
        if (off < 0x10000 || off >= 0x18000)
            return false;
        off -= 0x10000;
        break;
    default:
        if (off < 0x18000)
            return false;
        off -= 0x18000;
        break;
    }
    *out = off;
    return true;
}

static uint8_t window_readb(struct vga *v, uint32_t off)
{
    uint32_t a, plane;

    if (!window_offset(v, off, &a))
        return 0xff;
    if (chain4(v))
        return a < VGA_VRAM_SIZE ? v->vram[a] : 0xff;
    if (v->gr[GR_MODE] & GR_MODE_ODDEVEN) {
        plane = (v->gr[GR_READ_PLANE] & 2) | (a & 1);
        a = ((a & ~1u) << 1) | plane;
        return a < VGA_VRAM_SIZE ? v->vram[a] : 0xff;
    }
    if (a >= VGA_VRAM_SIZE / 4)
        return 0xff;
    memcpy(&v->latch, v->vram + 4 * a, 4);
    if (!(v->gr[GR_MODE] & 0x08))
        return (uint8_t)(v->latch >> (8 * (v->gr[GR_READ_PLANE] & 3)));
    {
        /* Read mode 1: a bit is set where every plane that takes part
         * (colour don't care) matches the colour compare value. */
        uint32_t diff = (v->latch ^ expand_planes(v->gr[GR_COMPARE])) & expand_planes(v->gr[GR_DONT_CARE]);

        diff |= diff >> 16;
        diff |= diff >> 8;
        return (uint8_t)~diff;
    }
}

static void window_writeb(struct vga *v, uint32_t off, uint8_t val)
{
    uint32_t a, plane, data, bits, mask;
    unsigned rot;

    if (!window_offset(v, off, &a))
        return;
    if (chain4(v)) {
        if (a < VGA_VRAM_SIZE && (plane_write_mask(v) & (1u << (a & 3)))) {
            v->vram[a] = val;
            v->plane2_written |= (a & 3) == 2;
            mark_dirty(v, a, 1);
        }
        return;
    }
    if (v->gr[GR_MODE] & GR_MODE_ODDEVEN) {
        plane = (v->gr[GR_READ_PLANE] & 2) | (a & 1);
        a = ((a & ~1u) << 1) | plane;
        if ((plane_write_mask(v) & (1u << plane)) && a < VGA_VRAM_SIZE) {
            v->vram[a] = val;
            v->plane2_written |= plane == 2;
            mark_dirty(v, a, 1);
        }
        return;
    }
    if (a >= VGA_VRAM_SIZE / 4)
        return;
    rot = v->gr[GR_ROTATE] & 7;
    switch (v->gr[GR_MODE] & 3) {
    case 0:
        /* The rotated byte on each plane, or set/reset where enabled. */
        data = (uint8_t)((val >> rot) | (val << (8 - rot)));
        data *= 0x01010101u;
        mask = expand_planes(v->gr[GR_SR_ENABLE]);
        data = (data & ~mask) | (expand_planes(v->gr[GR_SR_VALUE]) & mask);
        bits = v->gr[GR_BIT_MASK];
        break;
    case 1:
        /* The latches, as they are. */
        data = v->latch;
        goto store;
    case 2:
        /* Bit p of the byte fills plane p. */
        data = expand_planes(val);
        bits = v->gr[GR_BIT_MASK];
        break;
    default:
        /* Set/reset colour, through the rotated byte ANDed with the mask. */
        bits = v->gr[GR_BIT_MASK] & (uint8_t)((val >> rot) | (val << (8 - rot)));
        data = expand_planes(v->gr[GR_SR_VALUE]);
        break;
    }
    switch (v->gr[GR_ROTATE] >> 3) {
    case 1: data &= v->latch; break;
    case 2: data |= v->latch; break;
    case 3: data ^= v->latch; break;
    default: break;
    }
    bits *= 0x01010101u;
    data = (data & bits) | (v->latch & ~bits);
store:
    mask = expand_planes(plane_write_mask(v));
    {
        uint32_t old;

        memcpy(&old, v->vram + 4 * a, 4);
        old = (old & ~mask) | (data & mask);
        memcpy(v->vram + 4 * a, &old, 4);
    }
    v->plane2_written |= (mask & 0x00ff0000u) != 0;
    mark_dirty(v, 4 * a, 4);
}

/* ---- bus handlers ---- */

static void io_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct vga *v = opaque;

    pthread_mutex_lock(&v->lock);
    for (unsigned i = 0; i < size; i++)
        data[i] = offset + i < VGA_IO_SIZE ? port_read(v, VGA_IO_BASE + (unsigned)offset + i) : 0xff;
    pthread_mutex_unlock(&v->lock);
}

static void io_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct vga *v = opaque;

    /* A word write to an index port is index then data, as on the ISA bus. */
    pthread_mutex_lock(&v->lock);
    for (unsigned i = 0; i < size; i++)
        if (offset + i < VGA_IO_SIZE)
            port_write(v, VGA_IO_BASE + (unsigned)offset + i, data[i]);
    pthread_mutex_unlock(&v->lock);
}

const struct bus_ops vga_io_bus_ops = { .read = io_read, .write = io_write };

/* 0x1ce is the index, 0x1cf and 0x1d0 the data; a dword at 0x1ce is an
 * index and a value. */
static void vbe_io_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct vga *v = opaque;
    uint32_t val;

    pthread_mutex_lock(&v->lock);
    if (offset == 0) {
        val = v->vbe_index;
        if (size >= 4)
            val |= (uint32_t)vbe_read(v) << 16;
    } else {
        val = vbe_read(v);
    }
    pthread_mutex_unlock(&v->lock);
    bus_put(data, size, val);
}

static void vbe_io_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct vga *v = opaque;
    uint32_t val = (uint32_t)bus_get(data, size);

    pthread_mutex_lock(&v->lock);
    if (offset == 0) {
        v->vbe_index = (uint16_t)val;
        if (size >= 4)
            vbe_write(v, (uint16_t)(val >> 16));
    } else {
        vbe_write(v, (uint16_t)val);
    }
    pthread_mutex_unlock(&v->lock);
}

const struct bus_ops vga_vbe_bus_ops = { .read = vbe_io_read, .write = vbe_io_write };

static void window_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct vga *v = opaque;

    pthread_mutex_lock(&v->lock);
    for (unsigned i = 0; i < size; i++)
        data[i] = window_readb(v, (uint32_t)(offset + i));
    pthread_mutex_unlock(&v->lock);
}

static void window_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct vga *v = opaque;

    pthread_mutex_lock(&v->lock);
    for (unsigned i = 0; i < size; i++)
        window_writeb(v, (uint32_t)(offset + i), data[i]);
    pthread_mutex_unlock(&v->lock);
}

const struct bus_ops vga_window_bus_ops = { .read = window_read, .write = window_write };

/* BAR0 when it is not in a memory slot: plain memory, writes tracked. */
static void lfb_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct vga *v = opaque;

    if (offset >= VGA_VRAM_SIZE || size > VGA_VRAM_SIZE - offset) {
        memset(data, 0xff, size);
        return;
    }
    memcpy(data, v->vram + offset, size);
}

static void lfb_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct vga *v = opaque;

    if (offset >= VGA_VRAM_SIZE || size > VGA_VRAM_SIZE - offset)
        return;
    pthread_mutex_lock(&v->lock);
    memcpy(v->vram + offset, data, size);
    mark_dirty(v, (uint32_t)offset, size);
    pthread_mutex_unlock(&v->lock);
}

static const struct bus_ops lfb_ops = { .read = lfb_read, .write = lfb_write };

/* BAR2: 0x000 the EDID (QEMU's edid=on), 0x400 the VGA ports from 0x3c0, 0x500 the DISPI registers as 16-bit
 * words, 0x600 QEMU's extended registers (their size; little endian). */
#define MMIO_EDID_END 0x400
#define MMIO_VGA    0x400
#define MMIO_DISPI  0x500
#define MMIO_DISPI_END (MMIO_DISPI + 2 * (VBE_DISPI_INDEX_VIDEO_MEMORY_64K + 1))
#define MMIO_QEXT   0x600
#define QEXT_SIZE   8
#define QEXT_LITTLE_ENDIAN 0x1e1e1e1e

static void mmio_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct vga *v = opaque;
    uint32_t val = 0;

    if (size > 4) {
        memset(data, 0xff, size);
        return;
    }
    pthread_mutex_lock(&v->lock);
    if (offset < MMIO_EDID_END) {
        for (unsigned i = 0; i < size && offset + i < sizeof(v->edid); i++)
            val |= (uint32_t)v->edid[offset + i] << (8 * i);
    } else if (offset >= MMIO_VGA && offset < MMIO_VGA + 0x20) {
        for (unsigned i = 0; i < size && offset + i < MMIO_VGA + 0x20; i++)
            val |= (uint32_t)port_read(v, 0x3c0 + (unsigned)(offset - MMIO_VGA) + i) << (8 * i);
    } else if (offset >= MMIO_DISPI && offset < MMIO_DISPI_END) {
        v->vbe_index = (uint16_t)((offset - MMIO_DISPI) >> 1);
        val = vbe_read(v);
    } else if (offset == MMIO_QEXT) {
        val = QEXT_SIZE;
    } else if (offset == MMIO_QEXT + 4) {
        val = QEXT_LITTLE_ENDIAN;
    }
    pthread_mutex_unlock(&v->lock);
    bus_put(data, size, val);
}

static void mmio_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct vga *v = opaque;
    uint32_t val = (uint32_t)bus_get(data, size);

    if (size > 4)
        return;
    pthread_mutex_lock(&v->lock);
    if (offset >= MMIO_VGA && offset < MMIO_VGA + 0x20) {
        for (unsigned i = 0; i < size && offset + i < MMIO_VGA + 0x20; i++)
            port_write(v, 0x3c0 + (unsigned)(offset - MMIO_VGA) + i, (uint8_t)(val >> (8 * i)));
    } else if (offset >= MMIO_DISPI && offset < MMIO_DISPI_END) {
        v->vbe_index = (uint16_t)((offset - MMIO_DISPI) >> 1);
        vbe_write(v, (uint16_t)val);
    }
    /* The byte order register only takes little endian, which it is. */
    pthread_mutex_unlock(&v->lock);
}

static const struct bus_ops mmio_ops = { .read = mmio_read, .write = mmio_write };

/* ---- rendering ---- */

static uint8_t c6_to_8(uint8_t c)
{
    c &= 0x3f;
    return (uint8_t)((c << 2) | ((c & 1) << 1) | (c & 1));
}

static uint32_t rgb(uint8_t r, uint8_t g, uint8_t b)
{
    return (uint32_t)r << 16 | (uint32_t)g << 8 | b;
}

static uint32_t dac_color(const struct vga *v, unsigned idx)
{
    const uint8_t *p = &v->palette[3 * (idx & 0xff)];

    if (v->dac_8bit)
        return rgb(p[0], p[1], p[2]);
    return rgb(c6_to_8(p[0]), c6_to_8(p[1]), c6_to_8(p[2]));
}

/* The 16 colours of text and planar modes: attribute palette, colour page
 * select, then the DAC. Returns true when they changed. */
static bool update_palette16(struct vga *v)
{
    bool changed = false;

    for (unsigned i = 0; i < 16; i++) {
        unsigned idx = v->ar[i];
        const uint8_t *p;
        uint32_t col;

        if (v->ar[AR_MODE] & 0x80)
            idx = ((v->ar[AR_COLOR_PAGE] & 0xf) << 4) | (idx & 0xf);
        else
            idx = ((v->ar[AR_COLOR_PAGE] & 0xc) << 4) | (idx & 0x3f);
        /* These modes always take the DAC's 6-bit values. */
        p = &v->palette[3 * idx];
        col = rgb(c6_to_8(p[0]), c6_to_8(p[1]), c6_to_8(p[2]));
        changed |= col != v->pal[i];
        v->pal[i] = col;
    }
    return changed;
}

static bool update_palette256(struct vga *v)
{
    bool changed = false;

    for (unsigned i = 0; i < 256; i++) {
        uint32_t col = dac_color(v, i);

        changed |= col != v->pal[i];
        v->pal[i] = col;
    }
    return changed;
}

/* Points the console at a w x h picture: shared VRAM (shared != NULL, with
 * its stride) or the shadow buffer. Returns false when the picture is too
 * big for the shadow buffer. */
static bool set_surface(struct vga *v, unsigned w, unsigned h, uint8_t *shared, unsigned stride)
{
    struct console_surface s = { w, h, stride, CONSOLE_FORMAT_XRGB8888, shared };
    uint32_t *old = NULL;

    if (!shared) {
        size_t need = (size_t)w * h * 4;

        if (need > MAX_SHADOW_BYTES || need == 0)
            return false;
        if (need > v->shadow_bytes || need < v->shadow_bytes / 4) {
            uint32_t *p = malloc(need);

            if (!p)
                return false;
            old = v->shadow;
            v->shadow = p;
            v->shadow_bytes = need;
        }
        s.pixels = (uint8_t *)v->shadow;
        s.stride = w * 4;
    }
    console_set_surface(v->con, &s);
    free(old);  /* the console no longer points at it */
    v->width = w;
    v->height = h;
    v->shared_at = shared;
    return true;
}

static void draw_blank(struct vga *v, bool full)
{
    unsigned w = v->width ? v->width : 640, h = v->height ? v->height : 480;

    if (v->shown == SHOWN_BLANK) {
        if (full)
            console_update(v->con, 0, 0, v->width, v->height);
        return;
    }
    if (!set_surface(v, w, h, NULL, 0) && !set_surface(v, 640, 480, NULL, 0))
        return;
    memset(v->shadow, 0, (size_t)v->width * v->height * 4);
    v->shown = SHOWN_BLANK;
    console_update(v->con, 0, 0, v->width, v->height);
}

/* Draws one character cell: cheight lines of cw pixels (8, 9 or 16). */
static void draw_glyph(struct vga *v, uint32_t *dst, unsigned stride, uint32_t font, unsigned cheight,
                       unsigned cw, bool dup9, uint32_t fg, uint32_t bg, unsigned cur_from, unsigned cur_to)
{
    for (unsigned line = 0; line < cheight; line++, dst += stride) {
        uint8_t bits = vram_at(v, font + 4 * line);

        if (line >= cur_from && line <= cur_to)
            bits = 0xff;
        if (cw == 16) {
            for (unsigned x = 0; x < 8; x++)
                dst[2 * x] = dst[2 * x + 1] = (bits & (0x80 >> x)) ? fg : bg;
        } else {
            for (unsigned x = 0; x < 8; x++)
                dst[x] = (bits & (0x80 >> x)) ? fg : bg;
            if (cw == 9)
                dst[8] = ((dup9 || (line >= cur_from && line <= cur_to)) && (bits & 1)) ? fg : bg;
        }
    }
}

static void draw_text(struct vga *v, bool full)
{
    unsigned cheight = (v->cr[CR_MAX_SCAN] & 0x1f) + 1u, cw = 8, cols, rows, lines;
    unsigned start = (unsigned)v->cr[CR_START_HI] << 8 | v->cr[CR_START_LO];
    unsigned line_offset = v->cr[CR_OFFSET] * 8u;
    unsigned line_compare = v->cr[CR_LINE_COMPARE] | (v->cr[CR_OVERFLOW] & 0x10u) << 4 |
                            (v->cr[CR_MAX_SCAN] & 0x40u) << 3;
    unsigned charmap = v->sr[SR_CHARMAP], cursor_cell = ~0u, cur_from = ~0u, cur_to = 0;
    uint32_t cursor_addr = ~0u;
    unsigned cursor_shape;
    uint32_t font_base[2], offset;
    unsigned geom[8];

    if (!(v->sr[SR_CLOCK] & SR_CLOCK_8DOT))
        cw = 9;
    if (v->sr[SR_CLOCK] & SR_CLOCK_HALF)
        cw = 16;
    cols = v->cr[CR_H_DISP] + 1u;
    lines = (v->cr[CR_V_DISP_END] | (v->cr[CR_OVERFLOW] & 0x02u) << 7 | (v->cr[CR_OVERFLOW] & 0x40u) << 3) + 1u;
    rows = lines / cheight;
    if (cols * rows == 0 || cols * rows > TEXT_MAX_CELLS) {
        draw_blank(v, full);
        return;
    }
    /* Plane 2 holds the fonts: 8 KiB apart, chosen by the character map
     * select register (bit 3 of the attribute picks between two). */
    font_base[0] = ((((charmap >> 4) & 1) | ((charmap << 1) & 6)) * 8192u) * 4 + 2;
    font_base[1] = ((((charmap >> 5) & 1) | ((charmap >> 1) & 6)) * 8192u) * 4 + 2;

    geom[0] = SHOWN_TEXT; geom[1] = cols; geom[2] = rows; geom[3] = cw; geom[4] = cheight;
    geom[5] = start; geom[6] = line_offset; geom[7] = charmap | line_compare << 8;
    if (v->shown != SHOWN_TEXT || memcmp(geom, v->geom, sizeof(geom)) != 0) {
        if (v->width != cols * cw || v->height != rows * cheight || v->shared_at || v->shown != SHOWN_TEXT) {
            if (!set_surface(v, cols * cw, rows * cheight, NULL, 0)) {
                draw_blank(v, full);
                return;
            }
        }
        memcpy(v->geom, geom, sizeof(geom));
        v->shown = SHOWN_TEXT;
        full = true;
    }
    if (v->text_cells != cols * rows) {
        uint16_t *c = calloc(cols * rows, sizeof(*c));

        if (!c)
            return;
        free(v->text_cache);
        v->text_cache = c;
        v->text_cells = cols * rows;
        full = true;
    }
    full |= update_palette16(v);
    if (v->plane2_written) {
        v->plane2_written = false;
        full = true;
    }

    /* The cursor is drawn steadily (no blinking) over the cell at its
     * address, lines cursor start to cursor end. */
    cursor_shape = (unsigned)v->cr[CR_CURSOR_START] << 8 | v->cr[CR_CURSOR_END];
    if (!(v->cr[CR_CURSOR_START] & 0x20)) {
        cur_from = v->cr[CR_CURSOR_START] & 0x1f;
        cur_to = v->cr[CR_CURSOR_END] & 0x1f;
        if (cur_to > cheight - 1)
            cur_to = cheight - 1;
        if (cur_from <= cur_to)
            cursor_addr = (((unsigned)v->cr[CR_CURSOR_HI] << 8 | v->cr[CR_CURSOR_LO]) * 4) & VRAM_MASK;
    }

    offset = start * 4;
    for (unsigned cy = 0, line = 0; cy < rows; cy++) {
        int cx_min = -1, cx_max = -1;
        uint32_t *row = v->shadow + (size_t)cy * cheight * v->width;

        for (unsigned cx = 0; cx < cols; cx++) {
            uint32_t a = offset + 4 * cx;
            uint8_t ch = vram_at(v, a), attr = vram_at(v, a + 1);
            uint16_t key = (uint16_t)(ch | attr << 8);
            unsigned cell = cy * cols + cx;
            bool is_cursor = (a & VRAM_MASK) == cursor_addr;

            if (is_cursor)
                cursor_cell = cell;

            /* Redrawn when it changed, or the cursor came or went. */
            if (!full && v->text_cache[cell] == key && is_cursor == (cell == v->cursor_cell) &&
                (!is_cursor || cursor_shape == v->cursor_shape))
                continue;
            v->text_cache[cell] = key;
            draw_glyph(v, row + cx * cw, v->width, font_base[(attr >> 3) & 1] + 32 * 4 * ch, cheight, cw,
                       cw == 9 && ch >= 0xb0 && ch <= 0xdf && (v->ar[AR_MODE] & 0x04),
                       v->pal[attr & 0xf], v->pal[attr >> 4],
                       is_cursor ? cur_from : ~0u, is_cursor ? cur_to : 0);
            if (cx_min < 0)
                cx_min = (int)cx;
            cx_max = (int)cx;
        }
        if (cx_min >= 0)
            console_update(v->con, (unsigned)cx_min * cw, cy * cheight, (unsigned)(cx_max - cx_min + 1) * cw,
                           cheight);
        offset += line_offset;
        /* The split screen starts again at address 0. */
        if (line < line_compare && line + cheight >= line_compare)
            offset = 0;
        line += cheight;
    }
    v->cursor_cell = cursor_cell;
    v->cursor_shape = cursor_shape;
}

/* Draws one line of width pixels from VRAM at addr. */
static void draw_line(struct vga *v, enum line_kind kind, uint32_t *d, uint32_t addr, unsigned width,
                      bool d2)
{
    uint32_t plane_mask = expand_planes(v->ar[AR_PLANE_ENABLE] & 0xf);
    unsigned x = 0;

    switch (kind) {
    case LINE_PLANAR4:
        while (x < width) {
            uint32_t w = (uint32_t)vram_at(v, addr) | (uint32_t)vram_at(v, addr + 1) << 8 |
                         (uint32_t)vram_at(v, addr + 2) << 16 | (uint32_t)vram_at(v, addr + 3) << 24;

            w &= plane_mask;
            for (int b = 7; b >= 0 && x < width; b--) {
                unsigned c = ((w >> b) & 1) | ((w >> (8 + b)) & 1) << 1 | ((w >> (16 + b)) & 1) << 2 |
                             ((w >> (24 + b)) & 1) << 3;

                d[x++] = v->pal[c];
                if (d2 && x < width)
                    d[x++] = v->pal[c];
            }
            addr += 4;
        }
        break;
    case LINE_CGA2:
        while (x < width) {
            uint32_t w = (uint32_t)vram_at(v, addr) | (uint32_t)vram_at(v, addr + 1) << 8 |
                         (uint32_t)vram_at(v, addr + 2) << 16 | (uint32_t)vram_at(v, addr + 3) << 24;

            w &= plane_mask;
            /* Four pixels from planes 0 and 2, then four from 1 and 3. */
            for (unsigned half = 0; half < 2; half++) {
                uint8_t lo = (uint8_t)(w >> (8 * half)), hi = (uint8_t)(w >> (8 * (half + 2)));

                for (int b = 6; b >= 0 && x < width; b -= 2) {
                    unsigned c = ((lo >> b) & 3) | ((hi >> b) & 3) << 2;

                    d[x++] = v->pal[c];
                    if (d2 && x < width)
                        d[x++] = v->pal[c];
                }
            }
            addr += 4;
        }
        break;
    case LINE_P8D2:
        for (; x + 1 < width; x += 2)
            d[x] = d[x + 1] = v->pal[vram_at(v, addr++)];
        if (x < width)
            d[x] = v->pal[vram_at(v, addr)];
        break;
    case LINE_P8:
        for (; x < width; x++)
            d[x] = v->pal[vram_at(v, addr++)];
        break;
    case LINE_RGB15:
        for (; x < width; x++, addr += 2) {
            unsigned p = vram_at(v, addr) | vram_at(v, addr + 1) << 8;

            d[x] = rgb((uint8_t)((p >> 7) & 0xf8), (uint8_t)((p >> 2) & 0xf8), (uint8_t)((p << 3) & 0xf8));
        }
        break;
    case LINE_RGB16:
        for (; x < width; x++, addr += 2) {
            unsigned p = vram_at(v, addr) | vram_at(v, addr + 1) << 8;

            d[x] = rgb((uint8_t)((p >> 8) & 0xf8), (uint8_t)((p >> 3) & 0xfc), (uint8_t)((p << 3) & 0xf8));
        }
        break;
    case LINE_RGB24:
        for (; x < width; x++, addr += 3)
            d[x] = rgb(vram_at(v, addr + 2), vram_at(v, addr + 1), vram_at(v, addr));
        break;
    case LINE_RGB32:
        for (; x < width; x++, addr += 4)
            d[x] = rgb(vram_at(v, addr + 2), vram_at(v, addr + 1), vram_at(v, addr));
        break;
    }
}

static unsigned line_bytes(enum line_kind kind, unsigned width, bool d2)
{
    switch (kind) {
    case LINE_PLANAR4:
    case LINE_CGA2:
        return (d2 ? (width + 15) / 16 : (width + 7) / 8) * 4;
    case LINE_P8D2: return (width + 1) / 2;
    case LINE_P8: return width;
    case LINE_RGB15:
    case LINE_RGB16: return width * 2;
    case LINE_RGB24: return width * 3;
    default: return width * 4;
    }
}

struct gfx_mode {
    enum line_kind kind;
    bool d2;                    /* pixels drawn twice */
    unsigned width, height;
    uint32_t start, line_offset;
    unsigned multi_scan;        /* each line shown 1 + this many times */
    unsigned line_compare;
    unsigned cga_mask;          /* CRTC mode bits that interleave lines (CGA) */
    unsigned cga_shift;
};

static bool gfx_mode_vbe(const struct vga *v, struct gfx_mode *m)
{
    memset(m, 0, sizeof(*m));
    m->width = v->vbe[VBE_DISPI_INDEX_XRES];
    m->height = v->vbe[VBE_DISPI_INDEX_YRES];
    m->start = v->vbe_start;
    m->line_offset = v->vbe_line_offset;
    m->line_compare = ~0u;
    switch (v->vbe[VBE_DISPI_INDEX_BPP]) {
    case 4: m->kind = LINE_PLANAR4; break;
    case 8: m->kind = LINE_P8; break;
    case 15: m->kind = LINE_RGB15; break;
    case 16: m->kind = LINE_RGB16; break;
    case 24: m->kind = LINE_RGB24; break;
    case 32: m->kind = LINE_RGB32; break;
    default: return false;
    }
    return m->width && m->height;
}

static bool gfx_mode_vga(const struct vga *v, struct gfx_mode *m)
{
    unsigned shift = (v->gr[GR_MODE] >> 5) & 3, dscan = v->cr[CR_MAX_SCAN] >> 7;

    memset(m, 0, sizeof(*m));
    m->width = (v->cr[CR_H_DISP] + 1u) * 8;
    m->height = (v->cr[CR_V_DISP_END] | (v->cr[CR_OVERFLOW] & 0x02u) << 7 | (v->cr[CR_OVERFLOW] & 0x40u) << 3) + 1u;
    m->start = ((uint32_t)v->cr[CR_START_HI] << 8 | v->cr[CR_START_LO]) * 4;
    m->line_offset = v->cr[CR_OFFSET] * 8u;
    m->line_compare = v->cr[CR_LINE_COMPARE] | (v->cr[CR_OVERFLOW] & 0x10u) << 4 | (v->cr[CR_MAX_SCAN] & 0x40u) << 3;
    if (shift == 1)
        m->multi_scan = dscan;  /* CGA modes ignore the scan line count */
    else
        m->multi_scan = (((v->cr[CR_MAX_SCAN] & 0x1fu) + 1) << dscan) - 1;
    m->cga_mask = (v->cr[CR_MODE] & 3) ^ 3;
    m->cga_shift = 14 + ((v->cr[CR_MODE] >> 6) & 1);
    if (shift == 0 || shift == 1) {
        m->kind = shift == 0 ? LINE_PLANAR4 : LINE_CGA2;
        m->d2 = v->sr[SR_CLOCK] & SR_CLOCK_HALF;
        if (m->d2)
            m->width *= 2;
    } else {
        m->kind = LINE_P8D2;
    }
    return true;
}

static void draw_graphics(struct vga *v, bool full)
{
    struct gfx_mode m;
    bool ok = vbe_enabled(v) ? gfx_mode_vbe(v, &m) : gfx_mode_vga(v, &m);
    bool share;
    unsigned geom[8], bytes, y1 = 0, run = 0, dirty_from = 0;
    int first_dirty = -1;
    uint32_t addr1;

    if (!ok || m.width > 16384 || m.height > 16384) {
        draw_blank(v, full);
        return;
    }
    /* 32-bit pixels are what the console takes: shown straight from VRAM
     * (vbe_fixup keeps the picture inside it). */
    share = vbe_enabled(v) && m.kind == LINE_RGB32 && m.start + (uint64_t)m.line_offset * m.height <= VGA_VRAM_SIZE;
    geom[0] = SHOWN_GRAPHICS; geom[1] = m.kind | (unsigned)m.d2 << 8 | (unsigned)share << 9;
    geom[2] = m.width; geom[3] = m.height; geom[4] = m.start; geom[5] = m.line_offset;
    geom[6] = m.multi_scan | m.cga_mask << 8 | m.cga_shift << 16; geom[7] = m.line_compare;
    if (v->shown != SHOWN_GRAPHICS || memcmp(geom, v->geom, sizeof(geom)) != 0) {
        if (!set_surface(v, m.width, m.height, share ? v->vram + m.start : NULL, m.line_offset)) {
            draw_blank(v, full);
            return;
        }
        memcpy(v->geom, geom, sizeof(geom));
        v->shown = SHOWN_GRAPHICS;
        full = true;
    }
    if (m.kind == LINE_PLANAR4 || m.kind == LINE_CGA2)
        full |= update_palette16(v);
    else if (m.kind == LINE_P8 || m.kind == LINE_P8D2)
        full |= update_palette256(v);

    bytes = line_bytes(m.kind, m.width, m.d2);
    addr1 = m.start;
    run = m.multi_scan;
    for (unsigned y = 0; y < m.height; y++) {
        uint32_t addr = addr1;
        bool update;

        if (m.cga_mask & 1)
            addr = (addr & ~(1u << m.cga_shift)) | (y1 & 1) << m.cga_shift;
        if (m.cga_mask & 2)
            addr = (addr & ~0x8000u) | (y1 & 2) << 14;
        update = full || is_dirty(v, addr, bytes);
        if (update && !share)
            draw_line(v, m.kind, v->shadow + (size_t)y * m.width, addr, m.width, m.d2);
        if (update && first_dirty < 0) {
            first_dirty = 1;
            dirty_from = y;
        } else if (!update && first_dirty > 0) {
            console_update(v->con, 0, dirty_from, m.width, y - dirty_from);
            first_dirty = -1;
        }
        if (run == 0) {
            if ((y1 & m.cga_mask) == m.cga_mask)
                addr1 += m.line_offset;
            y1++;
            run = m.multi_scan;
        } else {
            run--;
        }
        if (y == m.line_compare)
            addr1 = 0;
    }
    if (first_dirty > 0)
        console_update(v->con, 0, dirty_from, m.width, m.height - dirty_from);
}

/* Adds the pages the guest wrote through the framebuffer slot since the
 * last fetch to v->dirty (and leaves them in v->kvm_dirty). */
static bool fetch_dirty_log(struct vga *v)
{
    bool any = false;

    if (v->lfb.dirty(v->lfb.opaque, v->lfb_handle, v->kvm_dirty) != 0)
        return false;
    for (unsigned i = 0; i < BITMAP_WORDS; i++) {
        v->dirty[i] |= v->kvm_dirty[i];
        any |= v->kvm_dirty[i] != 0;
    }
    /* A guest may draw a font through the framebuffer. */
    v->plane2_written |= any && !vbe_enabled(v);
    return true;
}

static void hw_refresh(void *opaque, bool full)
{
    struct vga *v = opaque;

    pthread_mutex_lock(&v->lock);
    if (v->lfb_handle >= 0 && v->lfb.dirty) {
        /* The VBE picture, which vbe_fixup keeps inside VRAM. */
        uint32_t start = v->vbe_start;
        uint32_t len = vbe_enabled(v) ? v->vbe_line_offset * v->vbe[VBE_DISPI_INDEX_YRES] : 0;

        if (!len) {
            v->unlogged = 0;
            memset(v->stream_seen, 0, sizeof(v->stream_seen));
            fetch_dirty_log(v);
        } else if (v->unlogged) {
            mark_dirty(v, start, len);
            if (--v->unlogged == 0)
                fetch_dirty_log(v);
        } else {
            unsigned pages = (start + len - 1) / PAGE - start / PAGE + 1;

            if (!fetch_dirty_log(v)) {
                memset(v->stream_seen, 0, sizeof(v->stream_seen));
            } else if (pages_in(v->kvm_dirty, start, len) * 100 >= pages * STREAM_BUSY_PERCENT) {
                for (unsigned i = 0; i < BITMAP_WORDS; i++)
                    v->stream_seen[i] |= v->kvm_dirty[i];
            } else {
                memset(v->stream_seen, 0, sizeof(v->stream_seen));
            }
            if (pages_in(v->stream_seen, start, len) * 100 >= pages * STREAM_SEEN_PERCENT) {
                memset(v->stream_seen, 0, sizeof(v->stream_seen));
                v->unlogged = v->refresh_hz * STREAM_MS / 1000;
                if (!v->unlogged)
                    v->unlogged = 1;
            }
        }
    }
    if (!vbe_enabled(v) && !(v->ar_index & AR_INDEX_PAS))
        draw_blank(v, full);
    else if (vbe_enabled(v) || (v->gr[GR_MISC] & GR_MISC_GRAPHICS))
        draw_graphics(v, full);
    else
        draw_text(v, full);
    memset(v->dirty, 0, sizeof(v->dirty));
    pthread_mutex_unlock(&v->lock);
}

/* A front end's size becomes the EDID's preferred mode, which a driver
 * reads when it probes the monitor (bochs-drm reads it when it loads);
 * the mode itself stays the guest's to set. */
static int hw_request_size(void *opaque, unsigned width, unsigned height)
{
    struct vga *v = opaque;

    if (width > VBE_DISPI_MAX_XRES || height > VBE_DISPI_MAX_YRES)
        return -EINVAL;
    pthread_mutex_lock(&v->lock);
    edid_generate(v->edid, sizeof(v->edid), width, height, "Nook VGA");
    pthread_mutex_unlock(&v->lock);
    return 0;
}

static const struct console_hw_ops hw_ops = { .refresh = hw_refresh, .request_size = hw_request_size };

/* ---- PCI ---- */

static void bar_mapped(struct pci_dev *dev, unsigned idx, uint64_t addr, bool mapped)
{
    struct vga *v = dev->opaque;
    int h;

    if (idx != 0 || !v->lfb.map)
        return;
    pthread_mutex_lock(&v->lock);
    if (v->lfb_handle >= 0) {
        v->lfb.unmap(v->lfb.opaque, v->lfb_handle);
        v->lfb_handle = -1;
    }
    if (mapped) {
        h = v->lfb.map(v->lfb.opaque, addr, v->vram, VGA_VRAM_SIZE);
        if (h < 0)
            log_warn("vga: cannot map the framebuffer at 0x%llx (%s); it will be slow",
                     (unsigned long long)addr, strerror(-h));
        else
            v->lfb_handle = h;
        /* Whatever the guest wrote while it was elsewhere was seen by
         * lfb_write; from now on KVM's log tells. */
    }
    pthread_mutex_unlock(&v->lock);
}

static const struct pci_dev_ops pci_ops = { .bar_mapped = bar_mapped };

static void regs_reset(struct vga *v)
{
    v->misc = v->fcr = v->st01 = 0;
    v->sr_index = v->gr_index = v->ar_index = v->cr_index = 0;
    memset(v->sr, 0, sizeof(v->sr));
    memset(v->gr, 0, sizeof(v->gr));
    memset(v->ar, 0, sizeof(v->ar));
    memset(v->cr, 0, sizeof(v->cr));
    v->ar_flip = false;
    v->dac_read = v->dac_write = v->dac_sub = v->dac_state = 0;
    v->pel_mask = 0xff;
    memset(v->palette, 0, sizeof(v->palette));
    v->latch = 0;
    v->vbe_index = 0;
    memset(v->vbe, 0, sizeof(v->vbe));
    v->vbe[VBE_DISPI_INDEX_ID] = VBE_DISPI_ID5;
    v->vbe_line_offset = v->vbe_start = v->bank_offset = 0;
    v->dac_8bit = false;
    v->plane2_written = true;
}

void vga_reset(struct vga *v)
{
    pthread_mutex_lock(&v->lock);
    regs_reset(v);
    pthread_mutex_unlock(&v->lock);
}

struct vga *vga_new(const uint8_t *rom, size_t rom_len, const struct vga_lfb_ops *lfb, unsigned refresh_hz)
{
    struct vga *v = calloc(1, sizeof(*v));
    struct pci_dev *d;

    if (!v)
        return NULL;
    pthread_mutex_init(&v->lock, NULL);
    v->lfb_handle = -1;
    v->cursor_cell = ~0u;
    edid_generate(v->edid, sizeof(v->edid), 1024, 768, "Nook VGA");
    if (lfb)
        v->lfb = *lfb;
    /* Guard pages on both sides: a renderer or handler bug faults instead
     * of touching other memory. */
    v->map_len = VGA_VRAM_SIZE + 2 * PAGE;
    v->map = mmap(NULL, v->map_len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (v->map == MAP_FAILED) {
        v->map = NULL;
        goto fail;
    }
    v->vram = v->map + PAGE;
    if (mprotect(v->vram, VGA_VRAM_SIZE, PROT_READ | PROT_WRITE) < 0)
        goto fail;
    madvise(v->vram, VGA_VRAM_SIZE, MADV_DONTFORK);
    if (rom && rom_len) {
        v->rom = malloc(rom_len);
        if (!v->rom)
            goto fail;
        memcpy(v->rom, rom, rom_len);
        v->rom_len = rom_len;
    }
    v->refresh_hz = refresh_hz;
    v->con = console_new("vga", &hw_ops, v, refresh_hz);
    if (!v->con)
        goto fail;

    d = &v->pci;
    pci_set16(&d->cfg[PCI_VENDOR_ID], 0x1234);
    pci_set16(&d->cfg[PCI_DEVICE_ID], 0x1111);
    d->cfg[PCI_REVISION] = 0x02;
    d->cfg[PCI_CLASS_PROG + 2] = 0x03;      /* display */
    d->cfg[PCI_CLASS_PROG + 1] = 0x00;      /* VGA compatible */
    pci_set16(&d->cfg[PCI_SUBSYS_VENDOR], 0x1af4);
    pci_set16(&d->cfg[PCI_SUBSYS_ID], 0x1100);
    pci_set16(&d->wmask[PCI_COMMAND], 0x0403);  /* I/O, memory, INTx off */
    d->wmask[0x3c] = 0xff;
    d->ops = &pci_ops;
    d->opaque = v;
    d->name = "vga";
    if (pci_dev_set_bar(d, 0, VGA_VRAM_SIZE, PCI_BAR_PREFETCH, &lfb_ops, v) < 0 ||
        pci_dev_set_bar(d, 2, VGA_MMIO_SIZE, 0, &mmio_ops, v) < 0 ||
        (v->rom && pci_dev_set_rom(d, v->rom, v->rom_len) < 0))
        goto fail;
    regs_reset(v);
    return v;

fail:
    vga_free(v);
    return NULL;
}

void vga_free(struct vga *v)
{
    if (!v)
        return;
    console_free(v->con);
    if (v->lfb_handle >= 0 && v->lfb.unmap)
        v->lfb.unmap(v->lfb.opaque, v->lfb_handle);
    if (v->map)
        munmap(v->map, v->map_len);
    free(v->rom);
    free(v->shadow);
    free(v->text_cache);
    pthread_mutex_destroy(&v->lock);
    free(v);
}

struct pci_dev *vga_pci(struct vga *v)
{
    return &v->pci;
}

struct console *vga_console(struct vga *v)
{
    return v->con;
}

uint8_t *vga_vram(struct vga *v)
{
    return v->vram;
}
