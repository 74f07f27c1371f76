/* The std VGA (Bochs VBE) as a driver without firmware sees it: the PCI
 * display 1234:1111 and its BARs, the DISPI registers through ports
 * 0x1ce/0x1cf (identification, video memory size, what out-of-range values
 * become), then 1024x768x32 with a linear framebuffer holding a known
 * picture: eight colour bars over the top 256 lines and below them a
 * pattern of x and y, each line a rotation of one computed line
 * (tests/guest/pictures.py draws the same). The guest prints 'ready for
 * screendump' and waits for a line on the serial port; the runner takes a
 * screendump from each VMM meanwhile and compares the pictures. Compared:
 * the IDs, BAR sizes and flags, every register value read back. Lines are
 * copied with rep movsl: the /dev/kvm of some hosts emulates this code an
 * instruction at a time (a string instruction moves a line). */
#include "rt/rt.h"

#define DISPI_INDEX 0x1ce
#define DISPI_DATA 0x1cf

#define ID 0
#define XRES 1
#define YRES 2
#define BPP 3
#define ENABLE 4
#define BANK 5
#define VIRT_WIDTH 6
#define VIRT_HEIGHT 7
#define X_OFFSET 8
#define Y_OFFSET 9
#define VIDEO_MEMORY_64K 10

#define ENABLED 0x01
#define LFB_ENABLED 0x40
#define NOCLEARMEM 0x80

#define WIDTH 1024
#define HEIGHT 768
/* Where the framebuffer goes when no firmware placed it. */
#define LFB_DEFAULT 0xfd000000u

static volatile uint32_t *lfb;
/* A line of bars, and the pattern's line twice over so that any rotation
 * of it is one contiguous copy. */
static uint32_t bar_line[WIDTH];
static uint32_t pattern[2 * WIDTH];

static void dispi_write(uint16_t index, uint16_t v)
{
    outw(DISPI_INDEX, index);
    outw(DISPI_DATA, v);
}

static uint16_t dispi_read(uint16_t index)
{
    outw(DISPI_INDEX, index);
    return inw(DISPI_DATA);
}

static uint32_t bar_size(uint8_t dev, uint16_t off)
{
    uint32_t old = rt_pci_read32(0, dev, 0, off), mask;

    rt_pci_write32(0, dev, 0, off, 0xffffffffu);
    mask = rt_pci_read32(0, dev, 0, off);
    rt_pci_write32(0, dev, 0, off, old);
    if (off == 0x30)
        mask &= ~0x7ffu;
    else
        mask &= (mask & 1) ? ~0x3u : ~0xfu;
    return mask ? ~mask + 1 : 0;
}

static uint32_t pattern_at(uint32_t i)
{
    return ((i * 7) & 0xff) << 16 | ((i * i >> 6) & 0xff) << 8 | (((i >> 2) ^ (i * 5)) & 0xff);
}

/* Line y >= 256 is the pattern rotated left by 37 * y pixels. */
static uint32_t picture(uint32_t x, uint32_t y)
{
    static const uint32_t bars[8] = { 0xffffff, 0xffff00, 0x00ffff, 0x00ff00,
                                      0xff00ff, 0xff0000, 0x0000ff, 0x000000 };

    if (y < 256)
        return bars[x / (WIDTH / 8)];
    return pattern_at((x + 37 * y) % WIDTH);
}

static void copy_line(uint32_t y, const uint32_t *src)
{
    void *d = (void *)(lfb + y * WIDTH);
    uint32_t n = WIDTH;

    __asm__ volatile("cld; rep movsl" : "+D"(d), "+S"(src), "+c"(n) : : "memory");
}

__attribute__((noreturn)) static void draw(void)
{
    uint32_t sum = 0;

    for (uint32_t x = 0; x < WIDTH; x++) {
        bar_line[x] = picture(x, 0);
        pattern[x] = pattern[x + WIDTH] = pattern_at(x);
    }
    for (uint32_t y = 0; y < HEIGHT; y++)
        copy_line(y, y < 256 ? bar_line : pattern + (37 * y) % WIDTH);
    /* Read back through the same window. */
    for (uint32_t i = 0; i < WIDTH * HEIGHT; i += 97)
        sum += lfb[i] == picture(i % WIDTH, i / WIDTH);
    rt_printf("= picture drawn, %u of %u samples read back\n", sum, (WIDTH * HEIGHT + 96) / 97);
    rt_printf("ready for screendump\n");
    while (!(inb(0x3fd) & 1))
        rt_pause();
    rt_printf("= screendump taken\n");
    rt_pass();
}

/* Writes v to reg with the mode enabled (so that the values are checked),
 * and prints what the registers read back. */
static void try_mode(const char *what, uint16_t reg, uint16_t v)
{
    dispi_write(ENABLE, 0);
    dispi_write(XRES, 640);
    dispi_write(YRES, 480);
    dispi_write(BPP, 32);
    dispi_write(ENABLE, ENABLED | NOCLEARMEM);
    dispi_write(reg, v);
    rt_printf("= %s: xres %u yres %u bpp %u virt %ux%u offset %u,%u\n", what, dispi_read(XRES),
              dispi_read(YRES), dispi_read(BPP), dispi_read(VIRT_WIDTH), dispi_read(VIRT_HEIGHT),
              dispi_read(X_OFFSET), dispi_read(Y_OFFSET));
}

int main(void)
{
    uint8_t dev = 0xff;
    uint32_t bar0, cmd;

    rt_serial_init();
    for (uint8_t d = 0; d < 32; d++) {
        uint32_t id = rt_pci_read32(0, d, 0, 0);

        if ((rt_pci_read32(0, d, 0, 0x08) >> 16) == 0x0300 && id == 0x11111234u) {
            dev = d;
            break;
        }
    }
    RT_CHECK(dev != 0xff, "no std VGA (1234:1111, class 0300) on bus 0");
    rt_printf("vga at 00:%02x.0\n", dev);
    rt_printf("= vga 1234:1111 class %06x subsystem %08x\n", rt_pci_read32(0, dev, 0, 0x08) >> 8,
              rt_pci_read32(0, dev, 0, 0x2c));

    cmd = rt_pci_read32(0, dev, 0, 0x04);
    rt_pci_write32(0, dev, 0, 0x04, cmd & ~3u);
    rt_printf("= bar0 flags %x size %x, bar2 flags %x size %x, rom size %x\n",
              rt_pci_read32(0, dev, 0, 0x10) & 0xf, bar_size(dev, 0x10),
              rt_pci_read32(0, dev, 0, 0x18) & 0xf, bar_size(dev, 0x18), bar_size(dev, 0x30));
    bar0 = rt_pci_read32(0, dev, 0, 0x10) & ~0xfu;
    if (!bar0) {
        bar0 = LFB_DEFAULT;
        rt_pci_write32(0, dev, 0, 0x10, bar0);
    }
    rt_printf("framebuffer at %08x\n", bar0);
    rt_pci_write32(0, dev, 0, 0x04, cmd | 3);
    lfb = (volatile uint32_t *)(uintptr_t)bar0;

    dispi_write(ID, 0xb0c0);
    rt_printf("= id after writing b0c0: %x\n", dispi_read(ID));
    dispi_write(ID, 0x1234);
    rt_printf("= id after writing 1234: %x\n", dispi_read(ID));
    dispi_write(ID, 0xb0c5);
    rt_printf("= id %x, video memory %u x 64 KiB\n", dispi_read(ID), dispi_read(VIDEO_MEMORY_64K));
    outw(DISPI_INDEX, 0x77);
    rt_printf("= register 77 reads %x\n", inw(DISPI_DATA));

    /* What values out of range turn into. */
    try_mode("640x480x32", ID, 0xb0c5);
    try_mode("xres 0", XRES, 0);
    try_mode("xres 65535", XRES, 65535);
    try_mode("xres 1001", XRES, 1001);
    try_mode("yres 0", YRES, 0);
    try_mode("yres 20000", YRES, 20000);
    try_mode("bpp 7", BPP, 7);
    try_mode("bpp 15", BPP, 15);
    try_mode("virt width 100", VIRT_WIDTH, 100);
    try_mode("virt width 16384", VIRT_WIDTH, 16384);
    try_mode("y offset 10000", Y_OFFSET, 10000);
    try_mode("y offset 5000", Y_OFFSET, 5000);
    try_mode("x offset 65535", X_OFFSET, 65535);
    dispi_write(ENABLE, 0);
    dispi_write(BANK, 0xffff);
    rt_printf("= bank 0xffff reads %x\n", dispi_read(BANK));
    dispi_write(BANK, 0);

    dispi_write(ENABLE, 0);
    dispi_write(XRES, WIDTH);
    dispi_write(YRES, HEIGHT);
    dispi_write(BPP, 32);
    dispi_write(ENABLE, ENABLED | LFB_ENABLED);
    rt_printf("= mode %ux%ux%u virt %ux%u enable %x\n", dispi_read(XRES), dispi_read(YRES),
              dispi_read(BPP), dispi_read(VIRT_WIDTH), dispi_read(VIRT_HEIGHT), dispi_read(ENABLE));
    /* The attribute controller's palette source bit turns the picture on. */
    inb(0x3da);
    outb(0x3c0, 0x20);
    draw();
}
