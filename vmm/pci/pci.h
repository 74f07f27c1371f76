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
};

struct pci_dev {
    uint8_t cfg[PCI_CFG_SIZE];
    uint8_t wmask[PCI_CFG_SIZE];
    const struct pci_dev_ops *ops;
    void *opaque;
    const char *name;
};

struct pm;

struct pci_host {
    pthread_mutex_t lock;       /* config space of every device */
    uint32_t cf8;
    struct pci_dev *devs[PCI_SLOTS];   /* function 0 of each slot; borrowed */
    struct pci_dev bridge;      /* 00:00.0 */
    struct bus *mmio;           /* borrowed: where ECAM is mapped */
    uint64_t ecam_mapped;       /* 0 when unmapped */
    struct pm *pm;              /* borrowed: 0xcf9 reset control */
};

int pci_host_init(struct pci_host *h, struct bus *mmio, struct pm *pm);
void pci_host_destroy(struct pci_host *h);
void pci_host_reset(struct pci_host *h);
int pci_add_device(struct pci_host *h, unsigned slot, struct pci_dev *dev);

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
