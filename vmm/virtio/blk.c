/* virtio-blk: requests are a 16-byte header the device reads, data, and a
 * status byte the device writes last. Lengths and sectors come from the
 * guest and are checked against the chain and the image before any I/O; the
 * data moves straight between guest memory and the image. */
#include "blk.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define VIRTIO_BLK_F_SEG_MAX      2
#define VIRTIO_BLK_F_RO           5
#define VIRTIO_BLK_F_BLK_SIZE     6
#define VIRTIO_BLK_F_FLUSH        9
#define VIRTIO_BLK_F_MQ           12
#define VIRTIO_BLK_F_DISCARD      13
#define VIRTIO_BLK_F_WRITE_ZEROES 14

#define VIRTIO_BLK_T_IN           0
#define VIRTIO_BLK_T_OUT          1
#define VIRTIO_BLK_T_FLUSH        4
#define VIRTIO_BLK_T_GET_ID       8
#define VIRTIO_BLK_T_DISCARD      11
#define VIRTIO_BLK_T_WRITE_ZEROES 13

#define VIRTIO_BLK_S_OK     0
#define VIRTIO_BLK_S_IOERR  1
#define VIRTIO_BLK_S_UNSUPP 2

#define QUEUE_SIZE 256
#define SEG_MAX (QUEUE_SIZE - 2)
#define MAX_DISCARD_SECTORS (1u << 22)
#define MAX_DISCARD_SEGS 1

struct blk_config {
    uint64_t capacity;
    uint32_t size_max, seg_max;
    uint16_t cylinders;
    uint8_t heads, sectors;
    uint32_t blk_size;
    uint8_t physical_block_exp, alignment_offset;
    uint16_t min_io_size;
    uint32_t opt_io_size;
    uint8_t writeback, unused0;
    uint16_t num_queues;
    uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
    uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
    uint8_t write_zeroes_may_unmap, unused1[3];
} __attribute__((packed));

struct blk_discard_range {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags;
} __attribute__((packed));

static void config_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
    struct virtio_blk *b = opaque;
    struct blk_config c = {
        .capacity = b->disk.size / 512,
        .seg_max = SEG_MAX,
        .blk_size = 512,
        .num_queues = (uint16_t)b->ops.num_queues,
        .max_discard_sectors = MAX_DISCARD_SECTORS,
        .max_discard_seg = MAX_DISCARD_SEGS,
        .discard_sector_alignment = 1,
        .max_write_zeroes_sectors = MAX_DISCARD_SECTORS,
        .max_write_zeroes_seg = MAX_DISCARD_SEGS,
        .write_zeroes_may_unmap = 1,
    };

    for (unsigned i = 0; i < size; i++)
        data[i] = off + i < sizeof(c) ? ((const uint8_t *)&c)[off + i] : 0;
}

/* Moves the data part of a request: device-readable bytes after the header
 * (to the image) or device-writable bytes before the status (from it). */
static int transfer(struct virtio_blk *b, unsigned qn, const struct virtq_req *req, uint64_t pos,
                    uint64_t len, bool to_disk)
{
    const struct virtq *vq = &b->vpci.queues[qn].vq;
    struct iovec *iov = b->iov[qn];
    uint64_t skip = to_disk ? 16 : 0, done = 0;
    int n_iov = 0;

    /* The chain's buffers straight into one scatter list: a request is one
     * system call however many pages it spans. */
    for (unsigned i = 0; i < req->nbufs && done < len; i++) {
        const struct virtq_buf *s = &req->bufs[i];
        uint64_t n;
        void *p;

        if (s->write != !to_disk)
            continue;
        if (skip >= s->len) {
            skip -= s->len;
            continue;
        }
        n = s->len - skip;
        if (n > len - done)
            n = len - done;
        p = gmem_ptr(vq->mem, s->gpa + skip, n);
        if (!p || n_iov == VIRTQ_MAX_SEGS)
            return -EFAULT;
        iov[n_iov++] = (struct iovec){ p, (size_t)n };
        done += n;
        skip = 0;
    }
    return to_disk ? blk_pwritev(&b->disk, iov, n_iov, pos) : blk_preadv(&b->disk, iov, n_iov, pos);
}

static uint8_t do_request(struct virtio_blk *b, unsigned qn, const struct virtq_req *req,
                          uint32_t *written)
{
    const struct virtq *vq = &b->vpci.queues[qn].vq;
    struct { uint32_t type, reserved; uint64_t sector; } __attribute__((packed)) hdr;
    uint64_t pos, len;

    *written = 0;
    if (virtq_req_read(vq, req, 0, &hdr, sizeof(hdr)) != sizeof(hdr))
        return VIRTIO_BLK_S_IOERR;
    if (hdr.sector > UINT64_MAX / 512)
        return VIRTIO_BLK_S_IOERR;
    pos = hdr.sector * 512;

    switch (hdr.type) {
    case VIRTIO_BLK_T_IN:
        len = req->in_len - 1;
        if (len % 512 || pos > b->disk.size || len > b->disk.size - pos)
            return VIRTIO_BLK_S_IOERR;
        if (transfer(b, qn, req, pos, len, false) < 0)
            return VIRTIO_BLK_S_IOERR;
        *written = (uint32_t)len;
        return VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_OUT:
        len = req->out_len - 16;
        if (b->disk.readonly || len % 512 || pos > b->disk.size || len > b->disk.size - pos)
            return VIRTIO_BLK_S_IOERR;
        return transfer(b, qn, req, pos, len, true) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_FLUSH:
        return blk_flush(&b->disk) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
    case VIRTIO_BLK_T_GET_ID: {
        uint64_t n = req->in_len - 1 < sizeof(b->serial) ? req->in_len - 1 : sizeof(b->serial);

        *written = (uint32_t)virtq_req_write(vq, req, 0, b->serial, n);
        return VIRTIO_BLK_S_OK;
    }
    case VIRTIO_BLK_T_DISCARD:
    case VIRTIO_BLK_T_WRITE_ZEROES: {
        struct blk_discard_range r;
        uint64_t off, bytes;

        if (b->disk.readonly || req->out_len - 16 != sizeof(r) ||
            virtq_req_read(vq, req, 16, &r, sizeof(r)) != sizeof(r) || r.num_sectors > MAX_DISCARD_SECTORS ||
            r.sector > UINT64_MAX / 512)
            return VIRTIO_BLK_S_IOERR;
        off = r.sector * 512;
        bytes = (uint64_t)r.num_sectors * 512;
        if (off > b->disk.size || bytes > b->disk.size - off)
            return VIRTIO_BLK_S_IOERR;
        if (hdr.type == VIRTIO_BLK_T_DISCARD)
            return blk_discard(&b->disk, off, bytes) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
        return blk_write_zeroes(&b->disk, off, bytes) < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK;
    }
    default:
        return VIRTIO_BLK_S_UNSUPP;
    }
}

static void queue_notify(void *opaque, unsigned qn)
{
    struct virtio_blk *b = opaque;
    struct virtq_req *req = b->req[qn];

    while (virtio_pci_pop(&b->vpci, qn, req) == 1) {
        const struct virtq *vq = &b->vpci.queues[qn].vq;
        uint32_t written = 0;
        uint8_t status;

        /* Header readable, status byte writable: anything else is not a
         * request this device can answer, not even with an error. */
        if (req->out_len < 16 || req->in_len < 1) {
            virtio_pci_push(&b->vpci, qn, req->head, 0);
            continue;
        }
        status = do_request(b, qn, req, &written);
        virtq_req_write(vq, req, req->in_len - 1, &status, 1);
        virtio_pci_push(&b->vpci, qn, req->head, written + 1);
    }
}

struct virtio_blk *virtio_blk_new(const char *path, bool readonly, unsigned nqueues,
                                  const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                                  char *err, size_t errlen)
{
    struct virtio_blk *b = calloc(1, sizeof(*b));
    const char *base;

    if (!b) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    if (nqueues < 1)
        nqueues = 1;
    if (nqueues > VIRTIO_BLK_MAX_QUEUES)
        nqueues = VIRTIO_BLK_MAX_QUEUES;
    b->disk.fd = -1;
    if (blk_open_raw(&b->disk, path, readonly, err, errlen) < 0) {
        free(b);
        return NULL;
    }
    /* The ID is 20 bytes, NUL-padded only when shorter. */
    base = strrchr(path, '/');
    base = base ? base + 1 : path;
    memcpy(b->serial, base, strlen(base) < sizeof(b->serial) ? strlen(base) : sizeof(b->serial));
    b->ops = (struct virtio_dev_ops){
        .device_id = 2,
        .pci_class = 0x018000,
        .num_queues = nqueues,
        .queue_max = QUEUE_SIZE,
        .features = (1ull << VIRTIO_BLK_F_SEG_MAX) | (1ull << VIRTIO_BLK_F_BLK_SIZE) |
                    (1ull << VIRTIO_BLK_F_FLUSH) | (1ull << VIRTIO_BLK_F_MQ) |
                    (1ull << VIRTIO_BLK_F_DISCARD) | (1ull << VIRTIO_BLK_F_WRITE_ZEROES) |
                    (readonly ? 1ull << VIRTIO_BLK_F_RO : 0),
        .config_read = config_read,
        .queue_notify = queue_notify,
    };
    for (unsigned i = 0; i < nqueues; i++) {
        b->req[i] = calloc(1, sizeof(*b->req[i]));
        b->iov[i] = calloc(VIRTQ_MAX_SEGS, sizeof(*b->iov[i]));
        if (!b->req[i] || !b->iov[i]) {
            snprintf(err, errlen, "out of memory");
            virtio_blk_free(b);
            return NULL;
        }
    }
    if (virtio_pci_init(&b->vpci, &b->ops, b, mem, msi, intx, "virtio-blk") < 0) {
        snprintf(err, errlen, "cannot set up the virtio-blk device");
        virtio_blk_free(b);
        return NULL;
    }
    return b;
}

void virtio_blk_free(struct virtio_blk *b)
{
    if (!b)
        return;
    virtio_pci_destroy(&b->vpci);
    for (unsigned i = 0; i < VIRTIO_BLK_MAX_QUEUES; i++) {
        free(b->req[i]);
        free(b->iov[i]);
    }
    blk_close(&b->disk);
    free(b);
}
