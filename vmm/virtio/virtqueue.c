/* Split virtqueue device side. Descriptors are copied out of guest memory
 * before they are used, so a driver changing them concurrently cannot make
 * the device act on a value it did not check. */
#include "virtqueue.h"

#include <errno.h>
#include <stdatomic.h>
#include <string.h>

struct vdesc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} __attribute__((packed));

static uint64_t avail_len(uint16_t size)
{
    return 6 + 2ull * size;
}

static uint64_t used_len(uint16_t size)
{
    return 6 + 8ull * size;
}

int virtq_setup(struct virtq *q, const struct gmem *mem, uint16_t size, uint64_t desc,
                uint64_t avail, uint64_t used, bool indirect, bool event_idx)
{
    memset(q, 0, sizeof(*q));
    q->mem = mem;
    if (size == 0 || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
        return -EINVAL;
    /* Alignment from the spec: 16 for descriptors, 2 and 4 for the rings. */
    if ((desc & 15) || (avail & 1) || (used & 3))
        return -EINVAL;
    if (!gmem_is_ram(mem, desc, 16ull * size) || !gmem_is_ram(mem, avail, avail_len(size)) ||
        !gmem_is_ram(mem, used, used_len(size)))
        return -EINVAL;
    q->size = size;
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->indirect = indirect;
    q->event_idx = event_idx;
    q->ready = true;
    return 0;
}

void virtq_reset(struct virtq *q)
{
    const struct gmem *mem = q->mem;

    memset(q, 0, sizeof(*q));
    q->mem = mem;
}

/* Ring fields are read and written in place: the areas were checked at
 * setup and stay RAM for the VM's life. */
static uint16_t load16(const struct virtq *q, uint64_t gpa)
{
    uint16_t v;

    memcpy(&v, gmem_ptr(q->mem, gpa, 2), 2);
    return v;
}

static void store16(const struct virtq *q, uint64_t gpa, uint16_t v)
{
    memcpy(gmem_ptr(q->mem, gpa, 2), &v, 2);
}

static int add_buf(struct virtq_req *req, const struct vdesc *d, const struct gmem *mem)
{
    if (req->nbufs == VIRTQ_MAX_SEGS)
        return -EIO;
    if (d->len && !gmem_is_ram(mem, d->addr, d->len))
        return -EIO;
    if (d->flags & VIRTQ_DESC_F_WRITE) {
        req->in_len += d->len;
    } else {
        /* Device-readable buffers come first (2.7.4.2). */
        if (req->in_len)
            return -EIO;
        req->out_len += d->len;
    }
    req->bufs[req->nbufs++] = (struct virtq_buf){ d->addr, d->len, !!(d->flags & VIRTQ_DESC_F_WRITE) };
    return 0;
}

static int walk_indirect(const struct virtq *q, const struct vdesc *ind, struct virtq_req *req)
{
    uint32_t n = ind->len / 16;
    uint16_t i = 0;

    if (!q->indirect || (ind->len % 16) || n == 0 || n > VIRTQ_MAX_SEGS ||
        (ind->flags & VIRTQ_DESC_F_NEXT) || !gmem_is_ram(q->mem, ind->addr, ind->len))
        return -EIO;
    for (uint32_t steps = 0;; steps++) {
        struct vdesc d;

        if (steps >= n || i >= n)
            return -EIO;        /* a loop, or a next beyond the table */
        if (gmem_read(q->mem, ind->addr + 16ull * i, &d, sizeof(d)) < 0)
            return -EIO;
        if (d.flags & VIRTQ_DESC_F_INDIRECT)
            return -EIO;        /* no nesting (2.7.5.3.1) */
        if (add_buf(req, &d, q->mem) < 0)
            return -EIO;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return 0;
        i = d.next;
    }
}

int virtq_pop(struct virtq *q, struct virtq_req *req)
{
    uint16_t avail_idx, head, i;

    if (!q->ready)
        return 0;
    avail_idx = load16(q, q->avail + 2);
    if ((uint16_t)(avail_idx - q->last_avail) > q->size)
        return -EIO;
    if (avail_idx == q->last_avail)
        return 0;
    /* The ring entry and descriptors are read after the index. */
    atomic_thread_fence(memory_order_acquire);
    head = load16(q, q->avail + 4 + 2ull * (q->last_avail % q->size));
    if (head >= q->size)
        return -EIO;

    req->head = head;
    req->nbufs = 0;
    req->out_len = req->in_len = 0;
    i = head;
    for (unsigned steps = 0;; steps++) {
        struct vdesc d;

        if (steps >= q->size || i >= q->size)
            return -EIO;
        if (gmem_read(q->mem, q->desc + 16ull * i, &d, sizeof(d)) < 0)
            return -EIO;
        if (d.flags & VIRTQ_DESC_F_INDIRECT) {
            if (walk_indirect(q, &d, req) < 0)
                return -EIO;
            break;
        }
        if (add_buf(req, &d, q->mem) < 0)
            return -EIO;
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            break;
        i = d.next;
    }
    q->last_avail++;
    if (q->event_idx) {
        /* avail_event: tell the driver which index to notify us at. */
        store16(q, q->used + 4 + 8ull * q->size, q->last_avail);
        /* Ordered before the next read of the driver's index, or both
         * sides could miss the other's update and a notification be lost. */
        atomic_thread_fence(memory_order_seq_cst);
    }
    return 1;
}

int virtq_push(struct virtq *q, uint16_t head, uint32_t written)
{
    uint64_t elem;
    uint32_t v[2] = { head, written };

    if (!q->ready || head >= q->size)
        return -EINVAL;
    elem = q->used + 4 + 8ull * (q->used_idx % q->size);
    memcpy(gmem_ptr(q->mem, elem, 8), v, 8);
    /* The element must be visible before the index that publishes it. */
    atomic_thread_fence(memory_order_release);
    q->used_idx++;
    store16(q, q->used + 2, q->used_idx);
    return 0;
}

bool virtq_should_notify(struct virtq *q)
{
    uint16_t old = q->signalled_used, now = q->used_idx;
    bool valid = q->signalled_valid;

    if (!q->ready)
        return false;
    /* The index store must be ordered before reading the driver's wishes. */
    atomic_thread_fence(memory_order_seq_cst);
    q->signalled_used = now;
    q->signalled_valid = true;
    if (!q->event_idx)
        return !(load16(q, q->avail) & VIRTQ_AVAIL_F_NO_INTERRUPT);
    if (!valid)
        return true;
    /* vring_need_event: did used_idx step past used_event since last time? */
    uint16_t event = load16(q, q->avail + 4 + 2ull * q->size);
    return (uint16_t)(now - event - 1) < (uint16_t)(now - old);
}

static uint64_t copy(const struct virtq *q, const struct virtq_req *req, uint64_t off, void *host,
                     uint64_t len, bool to_guest)
{
    uint64_t done = 0;

    for (unsigned i = 0; i < req->nbufs && done < len; i++) {
        const struct virtq_buf *b = &req->bufs[i];
        uint64_t n;

        if (b->write != to_guest)
            continue;
        if (off >= b->len) {
            off -= b->len;
            continue;
        }
        n = b->len - off;
        if (n > len - done)
            n = len - done;
        if (to_guest)
            gmem_write(q->mem, b->gpa + off, (const uint8_t *)host + done, n);
        else
            gmem_read(q->mem, b->gpa + off, (uint8_t *)host + done, n);
        done += n;
        off = 0;
    }
    return done;
}

uint64_t virtq_req_read(const struct virtq *q, const struct virtq_req *req, uint64_t off, void *dst,
                        uint64_t len)
{
    return copy(q, req, off, dst, len, false);
}

uint64_t virtq_req_write(const struct virtq *q, const struct virtq_req *req, uint64_t off,
                         const void *src, uint64_t len)
{
    return copy(q, req, off, (void *)src, len, true);
}
