/* Split virtqueues (virtio 1.x, section 2.7): the device side. Every index,
 * address and length the driver gives is checked; a driver that breaks the
 * ring gets -EIO, and the device then sets DEVICE_NEEDS_RESET. */
#pragma once

#include <stdbool.h>
#include <stdint.h>

#include "../core/gmem.h"

#define VIRTQ_MAX_SIZE 32768
/* Longest chain a request may have, indirect tables included. */
#define VIRTQ_MAX_SEGS 1024

#define VIRTQ_DESC_F_NEXT     1
#define VIRTQ_DESC_F_WRITE    2
#define VIRTQ_DESC_F_INDIRECT 4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY 1

struct virtq_buf {
    uint64_t gpa;
    uint32_t len;
    bool write;         /* device-writable */
};

struct virtq_req {
    uint16_t head;
    unsigned nbufs;
    uint64_t out_len;   /* bytes the device reads */
    uint64_t in_len;    /* bytes the device may write */
    struct virtq_buf bufs[VIRTQ_MAX_SEGS];
};

struct virtq {
    const struct gmem *mem;     /* borrowed */
    uint16_t size;
    bool ready;
    bool indirect;              /* VIRTIO_F_INDIRECT_DESC negotiated */
    bool event_idx;             /* VIRTIO_F_EVENT_IDX negotiated */
    uint64_t desc, avail, used; /* guest addresses */
    uint16_t last_avail;
    uint16_t used_idx;
    uint16_t signalled_used;    /* used_idx when the driver was last notified */
    bool signalled_valid;
};

/* Checks sizes, alignment and that the three areas are RAM. 0 or -EINVAL. */
int virtq_setup(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc,
                uint64_t avail, uint64_t used, bool indirect, bool event_idx);
void virtq_reset(struct virtq *q);

/* 1 with the next request in req, 0 when there is none, -EIO when the
 * driver broke the ring (loops, bad indices, buffers outside RAM...). */
int virtq_pop(struct virtq *q, struct virtq_req *req);
/* Returns a used buffer: written is how many bytes the device wrote. */
int virtq_push(struct virtq *q, uint16_t head, uint32_t written);
/* Whether the driver wants an interrupt for what was pushed since the last
 * time this returned true. */
bool virtq_should_notify(struct virtq *q);
/* Copies between the request's buffers and host memory. */
uint64_t virtq_req_read(const struct virtq *q, const struct virtq_req *req, uint64_t off, void *dst,
                        uint64_t len);
uint64_t virtq_req_write(const struct virtq *q, const struct virtq_req *req, uint64_t off,
                         const void *src, uint64_t len);
