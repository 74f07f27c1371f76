/* PCI bus 0, its configuration space and the q35-style host bridge that
 * decodes CF8/CFC and ECAM. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/bus.h"

#define PCI_CFG_SIZE 4096
#define PCI_SLOTS 32

#define PCI_VENDOR_ID     0x00
#define PCI_DEVICE_ID     0x02
#define PCI_COMMAND       0x04
#define PCI_STATUS        0x06
#define PCI_REVISION      0x08
#define PCI_CLASS_PROG    0x09
#define PCI_HEADER_TYPE   0x0e
#define PCI_SUBSYS_VENDOR 0x2c
#define PCI_SUBSYS_ID     0x2e

/* ECAM window of a q35 PC, enabled through PCIEXBAR. */
#define PCI_ECAM_BASE 0xb0000000ull
#define PCI_ECAM_SIZE 0x10000000ull

struct pci_dev;

struct pci_dev_ops {
    /* Called after the generic write (with wmask applied) has landed. */
    void (*config_written)(struct pci_dev *dev, unsigned offset, unsigned size);
    /* Optional: BAR idx (PCI_ROM_SLOT for the expansion ROM) now decodes
     * at addr, or no longer decodes (mapped false); called with the host
     * lock held, after the bus has been updated. */
    void (*bar_mapped)(struct pci_dev *dev, unsigned idx, uint64_t addr, bool mapped);
};

#define PCI_BAR0          0x10
#define PCI_NUM_BARS      6
#define PCI_COMMAND_IO    0x1
#define PCI_COMMAND_MEM   0x2
#define PCI_BAR_IO        0x1       /* flags for pci_dev_set_bar */
#define PCI_BAR_MEM64     0x4
#define PCI_BAR_PREFETCH  0x8
#define PCI_ROM_ADDRESS   0x30
#define PCI_ROM_SLOT      PCI_NUM_BARS  /* idx of the ROM for bar_mapped */

struct pci_bar {
    uint64_t size;              /* 0: unused */
    unsigned flags;
    const struct bus_ops *ops;
    void *opaque;
    uint64_t mapped_at;
    bool mapped;
};

struct pci_host;

struct pci_dev {
    uint8_t cfg[PCI_CFG_SIZE];
    uint8_t wmask[PCI_CFG_SIZE];
    const struct pci_dev_ops *ops;
    void *opaque;
    const char *name;
    struct pci_bar bar[PCI_NUM_BARS];
    struct pci_bar rom;         /* expansion ROM, read-only */
    const uint8_t *rom_data;    /* borrowed: outlives the device */
    uint64_t rom_len;
    struct pci_host *host;      /* borrowed, set when added */
};

/* Declares BAR idx (a 64-bit one also takes idx + 1): size is a power of two,
 * at least 16 (memory) or 4 (I/O). The BAR maps ops on the matching bus when
 * the guest programs an address and enables decoding in COMMAND. */
int pci_dev_set_bar(struct pci_dev *d, unsigned idx, uint64_t size, unsigned flags,
                    const struct bus_ops *ops, void *opaque);

/* Gives the device an expansion ROM (config 0x30) holding image: the BAR
 * is the image's size rounded up to a power of two (at least 2 KiB); it
 * decodes read-only when the guest sets its enable bit and COMMAND's memory
 * bit. image is borrowed. */
int pci_dev_set_rom(struct pci_dev *d, const uint8_t *image, uint64_t len);

struct pm;

struct pci_host {
    pthread_mutex_t lock;       /* config space of every device */
    uint32_t cf8;
    struct pci_dev *devs[PCI_SLOTS];   /* function 0 of each slot; borrowed */
    struct pci_dev bridge;      /* 00:00.0 */
    struct bus *mmio;           /* borrowed: where ECAM and memory BARs go */
    struct bus *pio;            /* borrowed: where I/O BARs go; may be NULL */
    uint64_t ecam_mapped;       /* 0 when unmapped */
    struct pm *pm;              /* borrowed: 0xcf9 reset control */
};

int pci_host_init(struct pci_host *h, struct bus *mmio, struct pm *pm);
void pci_host_destroy(struct pci_host *h);
void pci_host_reset(struct pci_host *h);
int pci_add_device(struct pci_host *h, unsigned slot, struct pci_dev *dev);
void pci_host_set_io_bus(struct pci_host *h, struct bus *pio);

uint32_t pci_config_read(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off, unsigned size);
void pci_config_write(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off, unsigned size,
                      uint32_t v);

static inline void pci_set16(uint8_t *p, uint16_t v) { p[0] = (uint8_t)v; p[1] = (uint8_t)(v >> 8); }
static inline void pci_set32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}
static inline uint32_t pci_get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

extern const struct bus_ops pci_cf8_bus_ops;   /* 0xcf8-0xcfb */
extern const struct bus_ops pci_cfc_bus_ops;   /* 0xcfc-0xcff */
extern const struct bus_ops pci_ecam_bus_ops;
