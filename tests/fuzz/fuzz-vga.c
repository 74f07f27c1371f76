/* Fuzz target for the std VGA: any sequence of VGA port, DISPI port, BAR2
 * register, legacy window and framebuffer accesses, PCI configuration
 * writes that move the BARs, and refreshes of the console with a listener
 * that reads every pixel it is told changed. Video memory sits between
 * guard pages and the picture buffer is on the heap, so that anything that
 * reads or writes outside them faults. */
#include <string.h>

#include "core/console.h"
#include "fuzz.h"
#include "hw/vga.h"
#include "pci/pci.h"

#define BAR0 0xe0000000u
#define BAR2 0xe1000000u

static void on_update(void *opaque, const struct console_surface *s, const struct console_rect *r)
{
    volatile uint8_t sum = 0;

    if (r->x + r->w > s->width || r->y + r->h > s->height)
        abort();
    for (unsigned y = r->y; y < r->y + r->h; y++)
        for (unsigned x = r->x; x < r->x + r->w; x++)
            sum ^= s->pixels[(size_t)y * s->stride + 4 * x + (x & 3)];
    (void)sum;
}

static const struct console_listener_ops listener_ops = { .update = on_update };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    struct bus *mmio = bus_new("mmio", 1ull << 40);
    struct pci_host host;
    struct vga *v = vga_new((const uint8_t[]){ 0x55, 0xaa, 1, 2 }, 4, NULL, 0);
    struct console_listener l = { &listener_ops, NULL, NULL };
    uint8_t buf[8];
    unsigned refreshes = 0;

    if (!mmio || !v)
        goto out;
    pci_host_init(&host, mmio, NULL);
    pci_add_device(&host, 2, vga_pci(v));
    pci_config_write(&host, 0, 16, 0x10, 4, BAR0);
    pci_config_write(&host, 0, 16, 0x18, 4, BAR2);
    pci_config_write(&host, 0, 16, PCI_ROM_ADDRESS, 4, 0xe2000001u);
    pci_config_write(&host, 0, 16, PCI_COMMAND, 2, 3);
    console_add_listener(vga_console(v), &l);

    while (fi_more(&in)) {
        uint8_t op = fi_u8(&in);
        unsigned sz = fi_size(&in);
        uint32_t off = fi_u32(&in);
        uint64_t val = fi_u64(&in);

        bus_put(buf, sz, val);
        switch (op & 15) {
        case 0:
        case 1:
            vga_io_bus_ops.write(v, off % VGA_IO_SIZE, buf, sz > 2 ? 2 : sz);
            break;
        case 2:
            vga_io_bus_ops.read(v, off % VGA_IO_SIZE, buf, 1);
            break;
        case 3:
        case 4:
            vga_vbe_bus_ops.write(v, off % VGA_VBE_IO_SIZE, buf, sz > 4 ? 4 : sz);
            break;
        case 5:
            vga_vbe_bus_ops.read(v, off % VGA_VBE_IO_SIZE, buf, sz > 4 ? 4 : sz);
            break;
        case 6:
        case 7:
            vga_window_bus_ops.write(v, off % VGA_WINDOW_SIZE, buf, sz);
            break;
        case 8:
            vga_window_bus_ops.read(v, off % VGA_WINDOW_SIZE, buf, sz);
            break;
        case 9:     /* the framebuffer, a little past its end too */
            bus_write(mmio, BAR0 + off % (VGA_VRAM_SIZE + 16), buf, sz);
            break;
        case 10:
            bus_read(mmio, BAR0 + off % (VGA_VRAM_SIZE + 16), buf, sz);
            break;
        case 11:    /* BAR2 and the ROM */
            bus_write(mmio, BAR2 + off % 0x1010, buf, sz);
            break;
        case 12:
            bus_read(mmio, (off & 1 ? BAR2 : 0xe2000000u) + off % 0x1010, buf, sz);
            break;
        case 13:    /* configuration space: COMMAND, BARs, ROM */
            pci_config_write(&host, 0, 16, (off % 0x34) & ~3u, 4, (uint32_t)val);
            break;
        case 14:
            if (refreshes++ < 16)
                console_refresh(vga_console(v), op & 0x10);
            break;
        default:
            if (op & 0x10)
                vga_reset(v);
            else
                pci_host_reset(&host);
            break;
        }
    }
    console_refresh(vga_console(v), true);
    console_remove_listener(vga_console(v), &l);
    pci_host_destroy(&host);
out:
    vga_free(v);
    bus_free(mmio);
    return 0;
}
