/* Modern virtio-pci transport (virtio 1.x, section 4.1): common, notify, ISR
 * and device configuration structures in BAR 4, MSI-X in BAR 1. A device
 * fills a virtio_dev_ops table; the transport does negotiation, queues and
 * interrupts. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/gmem.h"
#include "../core/irq.h"
#include "../core/log.h"
#include "../pci/msix.h"
#include "../pci/pci.h"
#include "virtqueue.h"

#define VIRTIO_PCI_MAX_QUEUES 16
#define VIRTIO_MSI_NO_VECTOR 0xffff

#define VIRTIO_STATUS_ACKNOWLEDGE  0x01
#define VIRTIO_STATUS_DRIVER       0x02
#define VIRTIO_STATUS_DRIVER_OK    0x04
#define VIRTIO_STATUS_FEATURES_OK  0x08
#define VIRTIO_STATUS_NEEDS_RESET  0x40
#define VIRTIO_STATUS_FAILED       0x80

#define VIRTIO_F_INDIRECT_DESC 28
#define VIRTIO_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1     32

/* BAR 4 layout. */
#define VIRTIO_PCI_COMMON_OFF 0x0000
#define VIRTIO_PCI_ISR_OFF    0x1000
#define VIRTIO_PCI_DEVICE_OFF 0x2000
#define VIRTIO_PCI_NOTIFY_OFF 0x3000
#define VIRTIO_PCI_BAR4_SIZE  0x4000
#define VIRTIO_PCI_NOTIFY_MULT 4

struct virtio_pci;

struct virtio_dev_ops {
    uint16_t device_id;         /* virtio device type, e.g. 2 for block */
    uint32_t pci_class;         /* class code, e.g. 0x018000 */
    unsigned num_queues;
    uint16_t queue_max;         /* largest queue size offered */
    uint64_t features;          /* device-specific feature bits */
    /* Device configuration space (offsets from its start). */
    void (*config_read)(void *opaque, uint64_t off, uint8_t *data, unsigned size);
    void (*config_write)(void *opaque, uint64_t off, const uint8_t *data, unsigned size);
    /* The driver notified queue q; the device pops with virtio_pci_pop. */
    void (*queue_notify)(void *opaque, unsigned q);
    void (*reset)(void *opaque);
};

struct virtio_pci_queue {
    struct virtq vq;
    uint16_t size;
    uint16_t msix_vector;
    bool enabled;
    uint64_t desc, driver, device;
    /* Held while the device works on the queue; a reset waits for it. */
    pthread_mutex_t busy;
    int kick_fd;                /* eventfd the I/O thread waits on, or -1 */
    uint64_t routed_at;         /* notify address routed to kick_fd, or 0 */
};

/* Routes guest writes of len bytes at a guest-physical address straight to
 * an eventfd, without a VM exit to the VMM (KVM ioeventfds). */
struct notify_router {
    int (*add)(void *opaque, uint64_t addr, unsigned len, int fd);
    int (*del)(void *opaque, uint64_t addr, unsigned len, int fd);
    void *opaque;
};

struct virtio_pci {
    pthread_mutex_t lock;       /* transport state; queues belong to the device */
    struct pci_dev pci;
    struct msix msix;
    const struct virtio_dev_ops *ops;
    void *opaque;
    const struct gmem *mem;     /* borrowed */
    struct irq_line intx;       /* used when MSI-X is off */

    uint32_t dfselect, gfselect;
    uint64_t driver_features;
    uint16_t msix_config;
    uint8_t status;
    uint8_t config_generation;
    uint16_t queue_select;
    uint8_t isr;
    struct virtio_pci_queue queues[VIRTIO_PCI_MAX_QUEUES];
    struct ratelimit rl;
    bool warned_early;          /* an early notification was logged since the last reset */

    /* I/O thread: without it, requests are handled on the notifying vCPU. */
    bool iothread_running;
    pthread_t iothread;
    int stop_fd;
    struct notify_router router;
    bool route_failed;          /* logged once; notifications then exit to the VMM */
};

int virtio_pci_init(struct virtio_pci *v, const struct virtio_dev_ops *ops, void *opaque,
                    const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                    const char *name);
/* Stops the I/O thread first, if there is one. */
void virtio_pci_destroy(struct virtio_pci *v);
/* Moves request handling to a thread of the device's own, woken through an
 * eventfd per queue; with a router, the driver's notifications reach that
 * eventfd without leaving the guest. 0 or -errno. */
int virtio_pci_start_iothread(struct virtio_pci *v, const struct notify_router *router);
void virtio_pci_stop_iothread(struct virtio_pci *v);
void virtio_pci_reset(struct virtio_pci *v);

/* For devices: the next request of queue q (1), none (0), or -EIO after the
 * driver broke the ring, in which case the device is marked NEEDS_RESET. */
int virtio_pci_pop(struct virtio_pci *v, unsigned q, struct virtq_req *req);
/* Returns a request and interrupts the driver if it wants that. */
void virtio_pci_push(struct virtio_pci *v, unsigned q, uint16_t head, uint32_t written);
void virtio_pci_config_changed(struct virtio_pci *v);
/* For a device with something new for the driver (an input event): runs
 * queue q as a notification would, on the I/O thread if there is one, and
 * only once the driver is ready. Any thread. */
void virtio_pci_kick(struct virtio_pci *v, unsigned q);
bool virtio_pci_feature(const struct virtio_pci *v, unsigned bit);

extern const struct bus_ops virtio_pci_bar4_ops;
extern const struct bus_ops virtio_pci_msix_bar_ops;
