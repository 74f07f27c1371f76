/* MSI-X for PCI devices: the capability, the vector table and the pending
 * bits, with masking as the PCI spec describes. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "pci.h"

#define MSIX_MAX_VECTORS 2048
#define MSIX_CAP_LEN 12

/* Where a message goes: the VM (through an irqfd per vector, or
 * KVM_SIGNAL_MSI) or a test recorder. vec is the table entry it came from. */
struct msi_sink {
    int (*signal)(void *opaque, unsigned vec, uint64_t addr, uint32_t data);
    void *opaque;
};

struct msix {
    pthread_mutex_t lock;
    struct pci_dev *dev;        /* borrowed */
    unsigned nvec;
    uint8_t cap;                /* configuration-space offset of the capability */
    uint8_t *table;             /* owned: nvec entries of 16 bytes */
    uint64_t pba[MSIX_MAX_VECTORS / 64];
    struct msi_sink sink;
};

/* Puts the capability at config offset cap (the caller links it into the
 * list) with the table and PBA at the given offsets of BAR bar. */
int msix_init(struct msix *m, struct pci_dev *dev, unsigned nvec, uint8_t cap, unsigned bar,
              uint32_t table_off, uint32_t pba_off, struct msi_sink sink);
void msix_destroy(struct msix *m);
void msix_reset(struct msix *m);
/* The device raises vector vec: delivered, or left pending while masked. */
void msix_notify(struct msix *m, unsigned vec);
bool msix_enabled(struct msix *m);
/* For the device's BAR handler: offsets relative to the table or PBA. */
void msix_table_read(struct msix *m, uint64_t off, uint8_t *data, unsigned size);
void msix_table_write(struct msix *m, uint64_t off, const uint8_t *data, unsigned size);
void msix_pba_read(struct msix *m, uint64_t off, uint8_t *data, unsigned size);
/* For the device's config_written hook: unmasking delivers what is pending. */
void msix_config_written(struct msix *m, unsigned off, unsigned size);
