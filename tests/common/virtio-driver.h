/* A minimal virtio 1.x driver for unit tests and fuzz targets: brings a
 * virtio-pci device up through its BAR 4 registers in the order of the
 * spec's initialization sequence (3.1.1), with split queues wherever the
 * caller puts them in fake guest RAM. */
#pragma once

#include <stdint.h>

#include "virtio/virtio-pci.h"

#define VDRV_STATUS  0x14
#define VDRV_DFSEL   0x00
#define VDRV_DF      0x04
#define VDRV_GFSEL   0x08
#define VDRV_GF      0x0c
#define VDRV_QSEL    0x16
#define VDRV_QSIZE   0x18
#define VDRV_QENABLE 0x1c
#define VDRV_QDESC   0x20
#define VDRV_QDRIVER 0x28
#define VDRV_QDEVICE 0x30

static inline void vdrv_write(struct virtio_pci *v, uint64_t off, unsigned size, uint64_t val)
{
    uint8_t d[8];

    bus_put(d, size, val);
    virtio_pci_bar4_ops.write(v, off, d, size);
}

static inline uint64_t vdrv_read(struct virtio_pci *v, uint64_t off, unsigned size)
{
    uint8_t d[8] = { 0 };

    virtio_pci_bar4_ops.read(v, off, d, size);
    return bus_get(d, size);
}

/* Reset, ACKNOWLEDGE and DRIVER, every feature the device offers, then
 * FEATURES_OK. Returns the status the device shows afterwards. */
static inline uint8_t vdrv_negotiate(struct virtio_pci *v)
{
    vdrv_write(v, VDRV_STATUS, 1, 0);
    vdrv_write(v, VDRV_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    for (unsigned i = 0; i < 2; i++) {
        vdrv_write(v, VDRV_DFSEL, 4, i);
        vdrv_write(v, VDRV_GFSEL, 4, i);
        vdrv_write(v, VDRV_GF, 4, vdrv_read(v, VDRV_DF, 4));
    }
    vdrv_write(v, VDRV_DFSEL, 4, 0);
    vdrv_write(v, VDRV_GFSEL, 4, 0);
    vdrv_write(v, VDRV_STATUS, 1,
               VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    return (uint8_t)vdrv_read(v, VDRV_STATUS, 1);
}

/* Queue q with size entries and its three areas at the given addresses. */
static inline void vdrv_queue(struct virtio_pci *v, unsigned q, uint16_t size, uint64_t desc,
                              uint64_t driver, uint64_t device)
{
    vdrv_write(v, VDRV_QSEL, 2, q);
    vdrv_write(v, VDRV_QSIZE, 2, size);
    vdrv_write(v, VDRV_QDESC, 4, (uint32_t)desc);
    vdrv_write(v, VDRV_QDESC + 4, 4, desc >> 32);
    vdrv_write(v, VDRV_QDRIVER, 4, (uint32_t)driver);
    vdrv_write(v, VDRV_QDRIVER + 4, 4, driver >> 32);
    vdrv_write(v, VDRV_QDEVICE, 4, (uint32_t)device);
    vdrv_write(v, VDRV_QDEVICE + 4, 4, device >> 32);
    vdrv_write(v, VDRV_QENABLE, 2, 1);
}

/* DRIVER_OK; returns the status. */
static inline uint8_t vdrv_ready(struct virtio_pci *v)
{
    vdrv_write(v, VDRV_STATUS, 1, vdrv_read(v, VDRV_STATUS, 1) | VIRTIO_STATUS_DRIVER_OK);
    return (uint8_t)vdrv_read(v, VDRV_STATUS, 1);
}

static inline void vdrv_notify(struct virtio_pci *v, unsigned q)
{
    vdrv_write(v, VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q, 2, q);
}
