/* Standard VGA as QEMU's "-vga std" has it: a PCI display (1234:1111) with
 * a linear framebuffer (BAR0), Bochs VBE DISPI registers, legacy VGA
 * registers and the planar window at 0xa0000, and the VGA BIOS as its
 * expansion ROM. It draws on a console. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../core/bus.h"
#include "../core/console.h"
#include "../pci/pci.h"

#define VGA_VRAM_SIZE (16u << 20)
#define VGA_MMIO_SIZE 0x1000
#define VGA_WINDOW_BASE 0xa0000
#define VGA_WINDOW_SIZE 0x20000
#define VGA_IO_BASE 0x3b0           /* vga_io_bus_ops covers 0x3b0-0x3df */
#define VGA_IO_SIZE 0x30
#define VGA_VBE_IO_BASE 0x1ce       /* vga_vbe_bus_ops: index, data, data */
#define VGA_VBE_IO_SIZE 3

/* Bochs VBE DISPI register indexes (port 0x1ce) and values. */
#define VBE_DISPI_INDEX_ID          0x0
#define VBE_DISPI_INDEX_XRES        0x1
#define VBE_DISPI_INDEX_YRES        0x2
#define VBE_DISPI_INDEX_BPP         0x3
#define VBE_DISPI_INDEX_ENABLE      0x4
#define VBE_DISPI_INDEX_BANK        0x5
#define VBE_DISPI_INDEX_VIRT_WIDTH  0x6
#define VBE_DISPI_INDEX_VIRT_HEIGHT 0x7
#define VBE_DISPI_INDEX_X_OFFSET    0x8
#define VBE_DISPI_INDEX_Y_OFFSET    0x9
#define VBE_DISPI_INDEX_VIDEO_MEMORY_64K 0xa
#define VBE_DISPI_NREGS             0xa

#define VBE_DISPI_ID0               0xb0c0
#define VBE_DISPI_ID5               0xb0c5
#define VBE_DISPI_MAX_XRES          16000
#define VBE_DISPI_MAX_YRES          12000
#define VBE_DISPI_MAX_BPP           32

#define VBE_DISPI_ENABLED           0x01
#define VBE_DISPI_GETCAPS           0x02
#define VBE_DISPI_8BIT_DAC          0x20
#define VBE_DISPI_LFB_ENABLED       0x40
#define VBE_DISPI_NOCLEARMEM        0x80

/* How the board lets the guest reach video memory without exits: map puts
 * VRAM (host memory hva, size bytes) at guest address gpa and returns a
 * handle; dirty fills a bitmap (one bit per 4 KiB page of VRAM, 64-bit
 * words) with the pages the guest wrote since the last call. With no map,
 * or when it fails, the framebuffer BAR is served by vga_new's bus ops and
 * the device tracks writes itself. Called with the device's lock held. */
struct vga_lfb_ops {
    int (*map)(void *opaque, uint64_t gpa, void *hva, uint64_t size);
    void (*unmap)(void *opaque, int handle);
    int (*dirty)(void *opaque, int handle, uint64_t *bitmap);
    void *opaque;
};

struct vga;

/* rom: the VGA BIOS (copied; NULL for none). lfb may be NULL. The console
 * refreshes at refresh_hz while a backend listens. NULL on failure. */
struct vga *vga_new(const uint8_t *rom, size_t rom_len, const struct vga_lfb_ops *lfb,
                    unsigned refresh_hz);
void vga_free(struct vga *v);
/* Registers back to their power-on values (video memory is kept). */
void vga_reset(struct vga *v);

struct pci_dev *vga_pci(struct vga *v);
struct console *vga_console(struct vga *v);
/* Video memory, VGA_VRAM_SIZE bytes: planes interleave byte by byte (plane
 * p of planar address a is byte 4 * a + p). For tests. */
uint8_t *vga_vram(struct vga *v);

extern const struct bus_ops vga_io_bus_ops;      /* ports 0x3b0-0x3df */
extern const struct bus_ops vga_vbe_bus_ops;     /* ports 0x1ce-0x1d0 */
extern const struct bus_ops vga_window_bus_ops;  /* 0xa0000-0xbffff */
