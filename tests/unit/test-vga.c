/* Unit tests for the std VGA and its console: DISPI register semantics and
 * clamping, planar write and read modes, the DAC, text mode drawn from a
 * font in plane 2, dirty rectangles, the framebuffer and ROM BARs on a PCI
 * host, and the console's listeners. */
#include <errno.h>

#include "core/console.h"
#include "hw/vga.h"
#include "pci/pci.h"
#include "unit.h"

struct rec {
    unsigned surfaces, updates;
    struct console_surface s;
    struct console_rect last, bound;    /* bound: union of updates */
};

static void rec_surface(void *opaque, const struct console_surface *s)
{
    struct rec *r = opaque;

    r->surfaces++;
    r->s = *s;
}

static void rec_update(void *opaque, const struct console_surface *s, const struct console_rect *rc)
{
    struct rec *r = opaque;

    g_assert_cmpuint(rc->x + rc->w, <=, s->width);
    g_assert_cmpuint(rc->y + rc->h, <=, s->height);
    if (!r->updates++) {
        r->bound = *rc;
    } else {
        unsigned x1 = MAX(r->bound.x + r->bound.w, rc->x + rc->w), y1 = MAX(r->bound.y + r->bound.h, rc->y + rc->h);

        r->bound.x = MIN(r->bound.x, rc->x);
        r->bound.y = MIN(r->bound.y, rc->y);
        r->bound.w = x1 - r->bound.x;
        r->bound.h = y1 - r->bound.y;
    }
    r->last = *rc;
}

static const struct console_listener_ops rec_ops = { .surface_changed = rec_surface, .update = rec_update };

struct fixture {
    struct vga *vga;
    struct console *con;
    struct rec rec;
    struct console_listener l;
};

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    f->vga = vga_new(NULL, 0, NULL, 0);
    g_assert_nonnull(f->vga);
    f->con = vga_console(f->vga);
    f->l = (struct console_listener){ .ops = &rec_ops, .opaque = &f->rec };
    console_add_listener(f->con, &f->l);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    console_remove_listener(f->con, &f->l);
    vga_free(f->vga);
}

static void refresh(struct fixture *f)
{
    f->rec.updates = 0;
    console_refresh(f->con, false);
}

static void dispi_w(struct fixture *f, uint16_t index, uint16_t v)
{
    dev_write(&vga_vbe_bus_ops, f->vga, 0, 2, index);
    dev_write(&vga_vbe_bus_ops, f->vga, 1, 2, v);
}

static uint16_t dispi_r(struct fixture *f, uint16_t index)
{
    dev_write(&vga_vbe_bus_ops, f->vga, 0, 2, index);
    return (uint16_t)dev_read(&vga_vbe_bus_ops, f->vga, 1, 2);
}

static void port_w(struct fixture *f, unsigned port, uint8_t v)
{
    dev_outb(&vga_io_bus_ops, f->vga, port - VGA_IO_BASE, v);
}

static uint8_t port_r(struct fixture *f, unsigned port)
{
    return dev_inb(&vga_io_bus_ops, f->vga, port - VGA_IO_BASE);
}

static void set_mode(struct fixture *f, unsigned w, unsigned h, unsigned bpp, uint16_t flags)
{
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, 0);
    dispi_w(f, VBE_DISPI_INDEX_XRES, (uint16_t)w);
    dispi_w(f, VBE_DISPI_INDEX_YRES, (uint16_t)h);
    dispi_w(f, VBE_DISPI_INDEX_BPP, (uint16_t)bpp);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | flags);
}

static uint32_t pixel(struct fixture *f, unsigned x, unsigned y)
{
    uint32_t v;

    g_assert_nonnull(f->rec.s.pixels);
    g_assert_cmpuint(x, <, f->rec.s.width);
    g_assert_cmpuint(y, <, f->rec.s.height);
    memcpy(&v, f->rec.s.pixels + (size_t)y * f->rec.s.stride + 4 * x, 4);
    return v & 0xffffff;
}

static void test_dispi_id(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(dispi_r(f, VBE_DISPI_INDEX_ID), ==, VBE_DISPI_ID5);
    dispi_w(f, VBE_DISPI_INDEX_ID, 0xb0c2);
    g_assert_cmphex(dispi_r(f, VBE_DISPI_INDEX_ID), ==, 0xb0c2);
    dispi_w(f, VBE_DISPI_INDEX_ID, 0xb0c6);
    g_assert_cmphex(dispi_r(f, VBE_DISPI_INDEX_ID), ==, 0xb0c2);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_VIDEO_MEMORY_64K), ==, 256);
    g_assert_cmpuint(dispi_r(f, 0x55), ==, 0);
    /* GETCAPS reports the limits instead of the mode. */
    dispi_w(f, VBE_DISPI_INDEX_XRES, 800);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_GETCAPS);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_XRES), ==, VBE_DISPI_MAX_XRES);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_YRES), ==, VBE_DISPI_MAX_YRES);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_BPP), ==, 32);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, 0);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_XRES), ==, 800);
    /* A dword at 0x1ce is an index and a value. */
    dev_write(&vga_vbe_bus_ops, f->vga, 0, 4, (uint32_t)1024 << 16 | VBE_DISPI_INDEX_XRES);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_XRES), ==, 1024);
}

static void test_dispi_clamp(struct fixture *f, gconstpointer data)
{
    set_mode(f, 0, 0, 7, VBE_DISPI_NOCLEARMEM);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_XRES), ==, 8);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_YRES), ==, 1);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_BPP), ==, 8);
    set_mode(f, 65535, 65535, 32, VBE_DISPI_NOCLEARMEM);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_XRES), ==, VBE_DISPI_MAX_XRES);
    /* 16 MiB hold 262 lines of 16000 32-bit pixels. */
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_YRES), ==, VGA_VRAM_SIZE / (16000 * 4));
    set_mode(f, 1001, 480, 16, VBE_DISPI_NOCLEARMEM);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_XRES), ==, 1000);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_VIRT_WIDTH), ==, 1000);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_VIRT_HEIGHT), ==, VGA_VRAM_SIZE / 2000);
    /* Offsets that would show memory past VRAM are dropped. */
    set_mode(f, 1024, 768, 32, VBE_DISPI_NOCLEARMEM);
    dispi_w(f, VBE_DISPI_INDEX_Y_OFFSET, 4000);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_Y_OFFSET), ==, 0);
    dispi_w(f, VBE_DISPI_INDEX_Y_OFFSET, 3000);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_Y_OFFSET), ==, 3000);
    dispi_w(f, VBE_DISPI_INDEX_X_OFFSET, 65535);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_X_OFFSET), ==, 16000);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_Y_OFFSET), ==, 3000);
    /* A virtual width below the width grows to it. */
    dispi_w(f, VBE_DISPI_INDEX_VIRT_WIDTH, 100);
    g_assert_cmpuint(dispi_r(f, VBE_DISPI_INDEX_VIRT_WIDTH), ==, 1024);
    /* The bank is masked to VRAM. */
    dispi_w(f, VBE_DISPI_INDEX_BANK, 0xffff);
    g_assert_cmphex(dispi_r(f, VBE_DISPI_INDEX_BANK), ==, 0xff);
    /* The picture never leaves VRAM, however it is panned. */
    refresh(f);
    g_assert_cmpuint(f->rec.s.width, ==, 1024);
    g_assert_true(f->rec.s.pixels >= vga_vram(f->vga));
    g_assert_cmpuint((size_t)(f->rec.s.pixels - vga_vram(f->vga)) + (size_t)f->rec.s.stride * f->rec.s.height,
                     <=, VGA_VRAM_SIZE);
}

static void test_dispi_clear(struct fixture *f, gconstpointer data)
{
    uint8_t *vram = vga_vram(f->vga);

    memset(vram, 0x5a, 640 * 480 * 4 + 16);
    set_mode(f, 640, 480, 32, VBE_DISPI_NOCLEARMEM);
    g_assert_cmpuint(vram[100], ==, 0x5a);
    set_mode(f, 640, 480, 32, 0);
    g_assert_cmpuint(vram[100], ==, 0);
    g_assert_cmpuint(vram[640 * 480 * 4 - 1], ==, 0);
    g_assert_cmpuint(vram[640 * 480 * 4], ==, 0x5a);
}

static void test_vbe_formats(struct fixture *f, gconstpointer data)
{
    uint8_t *vram = vga_vram(f->vga);

    /* 32 bpp is shown straight from VRAM. */
    set_mode(f, 64, 8, 32, 0);
    memcpy(vram + 4 * 3, (uint8_t[]){ 0x33, 0x22, 0x11, 0 }, 4);
    refresh(f);
    g_assert_true(f->rec.s.pixels == vram);
    g_assert_cmphex(pixel(f, 3, 0), ==, 0x112233);
    /* 16 bpp 5:6:5, 15 bpp 5:5:5, 24 bpp. */
    set_mode(f, 64, 8, 16, 0);
    memcpy(vram + 2 * 5, (uint8_t[]){ 0xe0, 0x07 }, 2);      /* green */
    refresh(f);
    g_assert_false(f->rec.s.pixels == vram);
    g_assert_cmphex(pixel(f, 5, 0), ==, 0x00fc00);
    set_mode(f, 64, 8, 15, 0);
    memcpy(vram + 128 + 2, (uint8_t[]){ 0x00, 0x7c }, 2);    /* red, line 1 */
    refresh(f);
    g_assert_cmphex(pixel(f, 1, 1), ==, 0xf80000);
    set_mode(f, 64, 8, 24, 0);
    memcpy(vram + 3 * 2, (uint8_t[]){ 0x01, 0x02, 0x03 }, 3);
    refresh(f);
    g_assert_cmphex(pixel(f, 2, 0), ==, 0x030201);
    /* 8 bpp goes through the DAC, 6 bits or 8 with VBE_DISPI_8BIT_DAC. */
    set_mode(f, 64, 8, 8, 0);
    vram[7] = 9;
    port_w(f, 0x3c8, 9);
    port_w(f, 0x3c9, 0x3f);
    port_w(f, 0x3c9, 0x20);
    port_w(f, 0x3c9, 0x01);
    refresh(f);
    g_assert_cmphex(pixel(f, 7, 0), ==, 0xff8007);
    dispi_w(f, VBE_DISPI_INDEX_ENABLE, VBE_DISPI_ENABLED | VBE_DISPI_8BIT_DAC | VBE_DISPI_NOCLEARMEM);
    refresh(f);
    g_assert_cmphex(pixel(f, 7, 0), ==, 0x3f2001);
}

static void test_dac(struct fixture *f, gconstpointer data)
{
    port_w(f, 0x3c8, 250);
    for (unsigned i = 0; i < 6; i++)
        port_w(f, 0x3c9, (uint8_t)(i + 1));
    g_assert_cmpuint(port_r(f, 0x3c8), ==, 252);
    g_assert_cmpuint(port_r(f, 0x3c7), ==, 0);
    port_w(f, 0x3c7, 251);
    g_assert_cmpuint(port_r(f, 0x3c7), ==, 3);
    g_assert_cmpuint(port_r(f, 0x3c9), ==, 4);
    g_assert_cmpuint(port_r(f, 0x3c9), ==, 5);
    g_assert_cmpuint(port_r(f, 0x3c9), ==, 6);
    /* The index wraps at 256. */
    port_w(f, 0x3c8, 255);
    for (unsigned i = 0; i < 6; i++)
        port_w(f, 0x3c9, 0x11);
    port_w(f, 0x3c7, 0);
    g_assert_cmpuint(port_r(f, 0x3c9), ==, 0x11);
}

/* Graphics controller and sequencer set up for planar access to 0xa0000. */
static void planar(struct fixture *f, uint8_t mode, uint8_t rotate, uint8_t bitmask)
{
    port_w(f, 0x3c4, 4);
    port_w(f, 0x3c5, 0x06);     /* no chain 4, no odd/even */
    port_w(f, 0x3c4, 2);
    port_w(f, 0x3c5, 0x0f);
    port_w(f, 0x3ce, 6);
    port_w(f, 0x3cf, 0x05);     /* graphics, a0000 64 KiB */
    port_w(f, 0x3ce, 5);
    port_w(f, 0x3cf, mode);
    port_w(f, 0x3ce, 3);
    port_w(f, 0x3cf, rotate);
    port_w(f, 0x3ce, 8);
    port_w(f, 0x3cf, bitmask);
}

static void gr(struct fixture *f, uint8_t idx, uint8_t v)
{
    port_w(f, 0x3ce, idx);
    port_w(f, 0x3cf, v);
}

static uint32_t planes(struct fixture *f, uint32_t a)
{
    uint32_t v;

    memcpy(&v, vga_vram(f->vga) + 4 * a, 4);
    return v;
}

static void test_write_modes(struct fixture *f, gconstpointer data)
{
    const struct bus_ops *w = &vga_window_bus_ops;

    /* Mode 0: the byte on every plane, set/reset where enabled, through
     * the bit mask with the latches elsewhere. */
    planar(f, 0x00, 0x00, 0xff);
    dev_outb(w, f->vga, 10, 0xa5);
    g_assert_cmphex(planes(f, 10), ==, 0xa5a5a5a5);
    gr(f, 0, 0x05);             /* set/reset value: planes 0 and 2 */
    gr(f, 1, 0x03);             /* enabled on planes 0 and 1 */
    dev_outb(w, f->vga, 11, 0x3c);
    g_assert_cmphex(planes(f, 11), ==, 0x3c3c00ff);
    /* Plane write mask. */
    gr(f, 1, 0);
    port_w(f, 0x3c4, 2);
    port_w(f, 0x3c5, 0x04);
    dev_outb(w, f->vga, 11, 0x77);
    g_assert_cmphex(planes(f, 11), ==, 0x3c7700ff);
    port_w(f, 0x3c5, 0x0f);
    /* Rotate by 4 and XOR with the latches loaded by a read. */
    (void)dev_inb(w, f->vga, 10);
    planar(f, 0x00, 0x18 | 4, 0xff);
    dev_outb(w, f->vga, 10, 0x0f);
    g_assert_cmphex(planes(f, 10), ==, 0x55555555);
    /* Bit mask keeps the latched bits. */
    (void)dev_inb(w, f->vga, 10);
    planar(f, 0x00, 0x00, 0xf0);
    dev_outb(w, f->vga, 10, 0x00);
    g_assert_cmphex(planes(f, 10), ==, 0x05050505);
    /* Mode 1 copies the latches. */
    (void)dev_inb(w, f->vga, 11);
    planar(f, 0x01, 0x00, 0xff);
    dev_outb(w, f->vga, 12, 0x00);
    g_assert_cmphex(planes(f, 12), ==, 0x3c7700ff);
    /* Mode 2: bit p of the byte fills plane p, through the bit mask. */
    (void)dev_inb(w, f->vga, 13);
    planar(f, 0x02, 0x00, 0x0f);
    dev_outb(w, f->vga, 13, 0x09);
    g_assert_cmphex(planes(f, 13), ==, 0x0f00000f);
    /* Mode 3: set/reset colour through the rotated byte ANDed with the mask. */
    (void)dev_inb(w, f->vga, 14);
    planar(f, 0x03, 0x00, 0xf0);
    gr(f, 0, 0x02);
    dev_outb(w, f->vga, 14, 0x3c);
    g_assert_cmphex(planes(f, 14), ==, 0x00003000);
}

static void test_read_modes(struct fixture *f, gconstpointer data)
{
    const struct bus_ops *w = &vga_window_bus_ops;
    uint32_t v = 0x0ff0f00f;

    memcpy(vga_vram(f->vga) + 4 * 20, &v, 4);
    planar(f, 0x00, 0x00, 0xff);
    for (unsigned p = 0; p < 4; p++) {
        gr(f, 4, (uint8_t)p);
        g_assert_cmphex(dev_inb(w, f->vga, 20), ==, (v >> (8 * p)) & 0xff);
    }
    /* Read mode 1: bits where the planes match the colour compare. */
    planar(f, 0x08, 0x00, 0xff);
    gr(f, 2, 0x05);             /* compare: planes 0 and 2 set */
    gr(f, 7, 0x0f);
    g_assert_cmphex(dev_inb(w, f->vga, 20), ==, (uint8_t)(0x0f & ~0xf0 & 0xf0) | 0x00);
    gr(f, 7, 0x01);             /* only plane 0 counts */
    g_assert_cmphex(dev_inb(w, f->vga, 20), ==, 0x0f);
    /* Outside the memory map select, reads are all ones. */
    gr(f, 6, 0x0d);             /* b8000 */
    g_assert_cmphex(dev_inb(w, f->vga, 0x100), ==, 0xff);
}

/* Mode 3 as a BIOS sets it up: 80x25 cells of 9x16 from plane 2. */
static void text_mode(struct fixture *f)
{
    static const struct { uint8_t idx, val; } crtc[] = {
        { 0x11, 0x0e }, { 0x01, 0x4f }, { 0x07, 0x1f }, { 0x09, 0x4f }, { 0x0a, 0x0d },
        { 0x0b, 0x0e }, { 0x0c, 0 }, { 0x0d, 0 }, { 0x0e, 0 }, { 0x0f, 0 }, { 0x12, 0x8f },
        { 0x13, 0x28 }, { 0x17, 0xa3 }, { 0x18, 0xff },
    };

    port_w(f, 0x3c2, 0x67);
    port_w(f, 0x3c4, 1);
    port_w(f, 0x3c5, 0x00);     /* 9-dot characters */
    port_w(f, 0x3c4, 3);
    port_w(f, 0x3c5, 0x00);
    for (unsigned i = 0; i < G_N_ELEMENTS(crtc); i++) {
        port_w(f, 0x3d4, crtc[i].idx);
        port_w(f, 0x3d5, crtc[i].val);
    }
    (void)port_r(f, 0x3da);
    for (unsigned i = 0; i < 16; i++) {
        port_w(f, 0x3c0, (uint8_t)i);
        port_w(f, 0x3c0, (uint8_t)i);
    }
    port_w(f, 0x3c0, 0x10);
    port_w(f, 0x3c0, 0x0c);     /* line graphics, blink off */
    port_w(f, 0x3c0, 0x20);     /* display on */
    /* DAC: colour 1 blue, colour 14 yellow. */
    port_w(f, 0x3c8, 1);
    port_w(f, 0x3c9, 0);
    port_w(f, 0x3c9, 0);
    port_w(f, 0x3c9, 0x2a);
    port_w(f, 0x3c8, 14);
    port_w(f, 0x3c9, 0x3f);
    port_w(f, 0x3c9, 0x3f);
    port_w(f, 0x3c9, 0x15);
    gr(f, 8, 0xff);
    gr(f, 5, 0x10);
    gr(f, 6, 0x0e);             /* text, b8000 */
}

static void test_text(struct fixture *f, gconstpointer data)
{
    uint8_t *vram = vga_vram(f->vga);
    /* Glyph 'A' (0x41): a box with a bar, lines 2-9. */
    static const uint8_t glyph[16] = { 0, 0, 0x18, 0x3c, 0x66, 0x66, 0x7e, 0x66, 0x66, 0x66, 0, 0, 0, 0, 0, 0 };
    const unsigned cell_x = 3 * 9, cell_y = 2 * 16;

    text_mode(f);
    /* The font through the window as a BIOS loads it: plane 2 alone. */
    port_w(f, 0x3c4, 2);
    port_w(f, 0x3c5, 0x04);
    port_w(f, 0x3c4, 4);
    port_w(f, 0x3c5, 0x06);
    gr(f, 4, 2);
    gr(f, 5, 0x00);
    gr(f, 6, 0x04);
    for (unsigned i = 0; i < 16; i++)
        dev_outb(&vga_window_bus_ops, f->vga, 0x41 * 32 + i, glyph[i]);
    g_assert_cmpuint(vram[4 * (0x41 * 32 + 3) + 2], ==, 0x3c);
    /* Back to odd/even text access at b8000: 'A' in yellow on blue at
     * row 2, column 3 (cell 163). */
    port_w(f, 0x3c4, 2);
    port_w(f, 0x3c5, 0x03);
    port_w(f, 0x3c4, 4);
    port_w(f, 0x3c5, 0x02);
    gr(f, 4, 0);
    gr(f, 5, 0x10);
    gr(f, 6, 0x0e);
    dev_outb(&vga_window_bus_ops, f->vga, 0x18000 + 2 * 163, 'A');
    dev_outb(&vga_window_bus_ops, f->vga, 0x18000 + 2 * 163 + 1, 0x1e);
    g_assert_cmpuint(vram[4 * 163], ==, 'A');
    g_assert_cmpuint(vram[4 * 163 + 1], ==, 0x1e);
    /* The cursor elsewhere. */
    port_w(f, 0x3d4, 0x0f);
    port_w(f, 0x3d5, 100);

    refresh(f);
    g_assert_cmpuint(f->rec.s.width, ==, 720);
    g_assert_cmpuint(f->rec.s.height, ==, 400);
    for (unsigned y = 0; y < 16; y++) {
        for (unsigned x = 0; x < 9; x++) {
            bool on = x < 8 && (glyph[y] & (0x80 >> x));

            g_assert_cmphex(pixel(f, cell_x + x, cell_y + y), ==, on ? 0xffff57 : 0x0000a8);
        }
    }
    /* A cell with attribute 0 is black. */
    g_assert_cmphex(pixel(f, 0, 0), ==, 0);

    /* Nothing changed: nothing reported. Then one character changes and
     * only its cell is. */
    refresh(f);
    g_assert_cmpuint(f->rec.updates, ==, 0);
    dev_outb(&vga_window_bus_ops, f->vga, 0x18000 + 2 * 170, 'A');
    refresh(f);
    g_assert_cmpuint(f->rec.updates, ==, 1);
    g_assert_cmpuint(f->rec.last.x, ==, 10 * 9);
    g_assert_cmpuint(f->rec.last.y, ==, 2 * 16);
    g_assert_cmpuint(f->rec.last.w, ==, 9);
    g_assert_cmpuint(f->rec.last.h, ==, 16);
    /* The cursor, lines 13-14, over cell 100 (row 1, column 20). */
    g_assert_cmphex(pixel(f, 20 * 9 + 4, 16 + 13), ==, 0);
    /* ... it has attribute 0 there: black on black; give the cell colour. */
    dev_outb(&vga_window_bus_ops, f->vga, 0x18000 + 2 * 100 + 1, 0x0e);
    refresh(f);
    g_assert_cmphex(pixel(f, 20 * 9 + 4, 16 + 13), ==, 0xffff57);
    g_assert_cmphex(pixel(f, 20 * 9 + 4, 16 + 12), ==, 0);
}

static void test_mode13(struct fixture *f, gconstpointer data)
{
    static const struct { uint8_t idx, val; } crtc[] = {
        { 0x11, 0x0e }, { 0x01, 0x4f }, { 0x07, 0x1f }, { 0x09, 0x41 }, { 0x0c, 0 }, { 0x0d, 0 },
        { 0x12, 0x8f }, { 0x13, 0x28 }, { 0x14, 0x40 }, { 0x17, 0xa3 }, { 0x18, 0xff },
    };

    port_w(f, 0x3c2, 0x63);
    port_w(f, 0x3c4, 4);
    port_w(f, 0x3c5, 0x0e);     /* chain 4 */
    port_w(f, 0x3c4, 2);
    port_w(f, 0x3c5, 0x0f);
    for (unsigned i = 0; i < G_N_ELEMENTS(crtc); i++) {
        port_w(f, 0x3d4, crtc[i].idx);
        port_w(f, 0x3d5, crtc[i].val);
    }
    gr(f, 5, 0x40);
    gr(f, 6, 0x05);
    (void)port_r(f, 0x3da);
    port_w(f, 0x3c0, 0x20);
    port_w(f, 0x3c8, 200);
    port_w(f, 0x3c9, 0x3f);
    port_w(f, 0x3c9, 0);
    port_w(f, 0x3c9, 0);
    /* Pixel (5, 7) of 320x200 is byte 7 * 320 + 5. */
    dev_outb(&vga_window_bus_ops, f->vga, 7 * 320 + 5, 200);
    refresh(f);
    g_assert_cmpuint(f->rec.s.width, ==, 640);
    g_assert_cmpuint(f->rec.s.height, ==, 400);
    /* Drawn twice across and twice down. */
    g_assert_cmphex(pixel(f, 10, 14), ==, 0xff0000);
    g_assert_cmphex(pixel(f, 11, 15), ==, 0xff0000);
    g_assert_cmphex(pixel(f, 12, 14), ==, 0);
    g_assert_cmphex(pixel(f, 10, 16), ==, 0);
}

static void test_dirty(struct fixture *f, gconstpointer data)
{
    struct bus *mmio = bus_new("mmio", 1ull << 40);
    struct pci_host host;
    uint32_t white = 0xffffff;
    uint8_t b[4];

    /* BAR0 on a bus with no memory slot: the device sees every write. */
    g_assert_cmpint(pci_host_init(&host, mmio, NULL), ==, 0);
    g_assert_cmpint(pci_add_device(&host, 2, vga_pci(f->vga)), ==, 0);
    pci_config_write(&host, 0, 2 << 3, 0x10, 4, 0xe0000000u);
    pci_config_write(&host, 0, 2 << 3, 0x04, 2, 0x3);
    g_assert_cmphex(pci_config_read(&host, 0, 2 << 3, 0x10, 4), ==, 0xe0000008u);

    set_mode(f, 1024, 768, 32, 0);
    refresh(f);
    g_assert_cmpuint(f->rec.s.width, ==, 1024);
    refresh(f);
    g_assert_cmpuint(f->rec.updates, ==, 0);
    /* One pixel on line 500: a 4 KiB page is one line here. */
    g_assert_true(bus_write(mmio, 0xe0000000u + (500 * 1024 + 77) * 4, (uint8_t *)&white, 4));
    refresh(f);
    g_assert_cmpuint(f->rec.updates, ==, 1);
    g_assert_cmpuint(f->rec.bound.y, ==, 500);
    g_assert_cmpuint(f->rec.bound.h, ==, 1);
    g_assert_cmphex(pixel(f, 77, 500), ==, 0xffffff);
    /* Two places: two rectangles, nothing between them. */
    g_assert_true(bus_write(mmio, 0xe0000000u + 10 * 4096, (uint8_t *)&white, 4));
    g_assert_true(bus_write(mmio, 0xe0000000u + 700 * 4096 + 8, (uint8_t *)&white, 4));
    refresh(f);
    g_assert_cmpuint(f->rec.updates, ==, 2);
    g_assert_cmpuint(f->rec.bound.y, ==, 10);
    g_assert_cmpuint(f->rec.last.y, ==, 700);
    /* The last word of VRAM is the last the BAR takes. */
    g_assert_true(bus_write(mmio, 0xe0000000u + VGA_VRAM_SIZE - 4, (uint8_t *)&white, 4));
    g_assert_false(bus_write(mmio, 0xe0000000u + VGA_VRAM_SIZE - 2, (uint8_t *)&white, 4));
    /* BAR2 starts with the EDID; a size request changes its preferred mode. */
    pci_config_write(&host, 0, 2 << 3, 0x18, 4, 0xe1000000u);
    g_assert_true(bus_read(mmio, 0xe1000000u, b, 4));
    g_assert_cmphex(b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24, ==, 0xffffff00u);
    g_assert_true(bus_read(mmio, 0xe1000000u + 54 + 2, b, 1));
    g_assert_cmpuint(b[0], ==, 1024 & 0xff);
    g_assert_cmpint(console_request_size(vga_console(f->vga), 1280, 800), ==, 0);
    g_assert_true(bus_read(mmio, 0xe1000000u + 54 + 2, b, 4));
    g_assert_cmpuint(b[0] | (b[2] >> 4) << 8, ==, 1280);
    g_assert_true(bus_read(mmio, 0xe1000000u + 54 + 5, b, 4));
    g_assert_cmpuint(b[0] | (b[2] >> 4) << 8, ==, 800);
    g_assert_cmpint(console_request_size(vga_console(f->vga), 20000, 800), ==, -EINVAL);
    /* Moving the BAR moves the framebuffer. */
    pci_config_write(&host, 0, 2 << 3, 0x10, 4, 0xd0000000u);
    g_assert_false(bus_write(mmio, 0xe0000000u, (uint8_t *)&white, 4));
    g_assert_true(bus_write(mmio, 0xd0000000u, (uint8_t *)&white, 4));
    pci_host_destroy(&host);
    bus_free(mmio);
}

/* A framebuffer slot as the board gives one: the guest's writes are seen
 * only through the dirty log, whose fetches are counted. */
struct fake_slot {
    unsigned maps, fetches;
    unsigned first, count;      /* the pages the guest writes between fetches */
    unsigned step;              /* first moves on by this much at each fetch */
};

static int slot_map(void *opaque, uint64_t gpa, void *hva, uint64_t size)
{
    ((struct fake_slot *)opaque)->maps++;
    return 5;
}

static void slot_unmap(void *opaque, int handle)
{
}

static int slot_dirty(void *opaque, int handle, uint64_t *bitmap)
{
    struct fake_slot *s = opaque;

    g_assert_cmpint(handle, ==, 5);
    s->fetches++;
    memset(bitmap, 0, VGA_VRAM_SIZE / 4096 / 8);
    for (unsigned p = s->first; p < s->first + s->count; p++)
        bitmap[p / 64] |= 1ull << (p % 64);
    s->first = s->step ? (s->first + s->step) % 768 : s->first;
    return 0;
}

/* A guest that keeps redrawing the whole picture gets its pages left
 * writable (no dirty log fetches, which would write-protect them again)
 * for half a second, then one look at the log (two fetches); once it
 * stops, the log decides again. One that keeps redrawing a quarter of it
 * is left to the log. Without listeners, so that the console's refresh
 * thread stays out of the count. */
static void test_streaming(void)
{
    struct fake_slot slot = { 0 };
    const struct vga_lfb_ops ops = { slot_map, slot_unmap, slot_dirty, &slot };
    struct vga *v = vga_new(NULL, 0, &ops, 30);
    struct bus *mmio = bus_new("mmio", 1ull << 40);
    struct fixture f = { .vga = v };
    struct pci_host host;
    unsigned before;

    g_assert_nonnull(v);
    f.con = vga_console(v);
    g_assert_cmpint(pci_host_init(&host, mmio, NULL), ==, 0);
    g_assert_cmpint(pci_add_device(&host, 2, vga_pci(v)), ==, 0);
    pci_config_write(&host, 0, 2 << 3, 0x10, 4, 0xe0000000u);
    pci_config_write(&host, 0, 2 << 3, 0x04, 2, 0x3);
    g_assert_cmpuint(slot.maps, ==, 1);
    /* 1024x768x32: 768 pages. */
    set_mode(&f, 1024, 768, 32, 0);
    refresh(&f);
    g_assert_cmpuint(slot.fetches, ==, 1);

    /* The same quarter over and over. */
    slot.count = 192;
    for (unsigned i = 0; i < 40; i++)
        refresh(&f);
    g_assert_cmpuint(slot.fetches, ==, 41);

    /* A quarter at each refresh, sweeping down: the fourth completes the
     * picture. At 30 Hz, 15 refreshes without the log follow, the last of
     * which arms it. */
    slot.step = 192;
    for (unsigned i = 0; i < 4; i++)
        refresh(&f);
    before = slot.fetches;
    for (unsigned i = 0; i < 14; i++)
        refresh(&f);
    g_assert_cmpuint(slot.fetches, ==, before);
    refresh(&f);
    g_assert_cmpuint(slot.fetches, ==, before + 1);

    /* Faster now: the whole picture between two fetches. Back without
     * the log after one look. */
    slot.first = slot.step = 0;
    slot.count = 768;
    refresh(&f);
    g_assert_cmpuint(slot.fetches, ==, before + 2);
    refresh(&f);
    g_assert_cmpuint(slot.fetches, ==, before + 2);

    /* It stops: at the end of the half second the log shows it, and from
     * then on every refresh fetches it. */
    slot.count = 0;
    for (unsigned i = 0; i < 14; i++)
        refresh(&f);
    g_assert_cmpuint(slot.fetches, ==, before + 3);
    for (unsigned i = 1; i <= 3; i++) {
        refresh(&f);
        g_assert_cmpuint(slot.fetches, ==, before + 3 + i);
    }
    pci_host_destroy(&host);
    bus_free(mmio);
    vga_free(v);
}

static void test_rom(void)
{
    uint8_t image[3000];
    struct bus *mmio = bus_new("mmio", 1ull << 40);
    struct pci_host host;
    struct vga *v;
    uint8_t b[4];

    for (unsigned i = 0; i < sizeof(image); i++)
        image[i] = (uint8_t)(i * 7);
    image[0] = 0x55;
    image[1] = 0xaa;
    v = vga_new(image, sizeof(image), NULL, 0);
    g_assert_nonnull(v);
    g_assert_cmpint(pci_host_init(&host, mmio, NULL), ==, 0);
    g_assert_cmpint(pci_add_device(&host, 2, vga_pci(v)), ==, 0);
    /* Sizing: 3000 bytes round up to 4 KiB. */
    pci_config_write(&host, 0, 16, PCI_ROM_ADDRESS, 4, 0xffffffffu);
    g_assert_cmphex(pci_config_read(&host, 0, 16, PCI_ROM_ADDRESS, 4), ==, 0xfffff001u);
    pci_config_write(&host, 0, 16, PCI_ROM_ADDRESS, 4, 0xfeb00000u);
    pci_config_write(&host, 0, 16, PCI_COMMAND, 2, 0x2);
    /* Not enabled yet. */
    g_assert_false(bus_read(mmio, 0xfeb00000u, b, 2));
    pci_config_write(&host, 0, 16, PCI_ROM_ADDRESS, 4, 0xfeb00001u);
    g_assert_true(bus_read(mmio, 0xfeb00000u, b, 2));
    g_assert_cmphex(b[0], ==, 0x55);
    g_assert_cmphex(b[1], ==, 0xaa);
    g_assert_true(bus_read(mmio, 0xfeb00000u + 2999, b, 4));
    g_assert_cmphex(b[0], ==, (uint8_t)(2999 * 7));
    g_assert_cmphex(b[1], ==, 0);
    /* Read-only. */
    b[0] = 0;
    g_assert_true(bus_write(mmio, 0xfeb00000u, b, 1));
    g_assert_true(bus_read(mmio, 0xfeb00000u, b, 1));
    g_assert_cmphex(b[0], ==, 0x55);
    /* COMMAND's memory bit switches it off too, and so does a reset. */
    pci_config_write(&host, 0, 16, PCI_COMMAND, 2, 0x0);
    g_assert_false(bus_read(mmio, 0xfeb00000u, b, 1));
    pci_config_write(&host, 0, 16, PCI_COMMAND, 2, 0x2);
    pci_host_reset(&host);
    g_assert_false(bus_read(mmio, 0xfeb00000u, b, 1));
    g_assert_cmphex(pci_config_read(&host, 0, 16, PCI_ROM_ADDRESS, 4), ==, 0);
    pci_host_destroy(&host);
    vga_free(v);
    bus_free(mmio);
}

static void test_blank(struct fixture *f, gconstpointer data)
{
    /* Power-on registers: no picture yet, a black 640x480 one. */
    refresh(f);
    g_assert_cmpuint(f->rec.s.width, ==, 640);
    g_assert_cmpuint(f->rec.s.height, ==, 480);
    g_assert_cmphex(pixel(f, 639, 479), ==, 0);
}

static void cursor_changed(void *opaque, const struct console_cursor *c)
{
    *(unsigned *)opaque = c->width;
}

static void test_console(void)
{
    struct console *c = console_new("test", NULL, NULL, 0);
    struct console_listener_ops ops = { .cursor_changed = cursor_changed };
    unsigned width = 0;
    struct console_listener l = { &ops, &width, NULL };
    uint32_t img[4] = { 1, 2, 3, 4 };
    uint8_t px[16] = { 0x30, 0x20, 0x10, 0, 0x31, 0x21, 0x11, 0 };
    struct console_surface s = { 2, 1, 8, CONSOLE_FORMAT_XRGB8888, px };
    unsigned w, h;
    uint8_t *rgb;

    g_assert_null(console_snapshot_rgb(c, &w, &h));
    g_assert_cmpint(errno, ==, ENODATA);
    console_set_surface(c, &s);
    rgb = console_snapshot_rgb(c, &w, &h);
    g_assert_nonnull(rgb);
    g_assert_cmpuint(w, ==, 2);
    g_assert_cmpmem(rgb, 6, ((uint8_t[]){ 0x10, 0x20, 0x30, 0x11, 0x21, 0x31 }), 6);
    free(rgb);
    g_assert_cmpint(console_set_cursor(c, img, 300, 1, 0, 0), ==, -EINVAL);
    g_assert_cmpint(console_set_cursor(c, img, 2, 2, 1, 1), ==, 0);
    /* A new listener hears about the cursor that is there. */
    console_add_listener(c, &l);
    g_assert_cmpuint(width, ==, 2);
    g_assert_cmpuint(console_listener_count(c), ==, 1);
    g_assert_cmpint(console_request_size(c, 800, 600), ==, -ENOTSUP);
    console_remove_listener(c, &l);
    g_assert_cmpuint(console_listener_count(c), ==, 0);
    console_free(c);
}

/* The refresh thread runs while someone listens. */
static void test_refresh_thread(void)
{
    struct vga *v = vga_new(NULL, 0, NULL, 200);
    struct rec r = { 0 };
    struct console_listener l = { &rec_ops, &r, NULL };

    console_add_listener(vga_console(v), &l);
    for (unsigned i = 0; i < 500 && !r.updates; i++)
        g_usleep(2000);
    g_assert_cmpuint(r.updates, >, 0);
    console_remove_listener(vga_console(v), &l);
    vga_free(v);
}

#define T(name, fn) g_test_add("/vga/" name, struct fixture, NULL, setup, fn, teardown)

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    T("dispi-id", test_dispi_id);
    T("dispi-clamp", test_dispi_clamp);
    T("dispi-clear", test_dispi_clear);
    T("vbe-formats", test_vbe_formats);
    T("dac", test_dac);
    T("write-modes", test_write_modes);
    T("read-modes", test_read_modes);
    T("text", test_text);
    T("mode13", test_mode13);
    T("dirty", test_dirty);
    T("blank", test_blank);
    g_test_add_func("/vga/rom", test_rom);
    g_test_add_func("/vga/streaming", test_streaming);
    g_test_add_func("/console/basics", test_console);
    g_test_add_func("/console/refresh-thread", test_refresh_thread);
    return g_test_run();
}
