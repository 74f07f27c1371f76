/* virtio-blk (virtio 1.x, section 5.2) over the virtio-pci transport. */
#pragma once

#include <pthread.h>

#include "../block/raw.h"
#include "virtio-pci.h"

#define VIRTIO_BLK_MAX_QUEUES 4

struct virtio_blk {
    struct virtio_pci vpci;
    struct virtio_dev_ops ops;
    struct blk_backend disk;            /* owned */
    /* Owned scratch, one per queue: the transport runs a queue on one
     * thread at a time. */
    struct virtq_req *req[VIRTIO_BLK_MAX_QUEUES];
    struct iovec *iov[VIRTIO_BLK_MAX_QUEUES];       /* VIRTQ_MAX_SEGS each */
    char serial[20];
};

/* Opens the image (raw) and builds the device; NULL with a reason in err. */
struct virtio_blk *virtio_blk_new(const char *path, bool readonly, unsigned nqueues,
                                  const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                                  char *err, size_t errlen);
void virtio_blk_free(struct virtio_blk *b);
