/* Modern virtio-pci transport. The driver's view of every register comes
 * from the spec's tables (4.1.4); anything out of range or out of order is
 * answered the way the spec says or logged and ignored, never trusted. */
#include "virtio-pci.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define CAP_MSIX   0x40
#define CAP_COMMON 0x50
#define CAP_NOTIFY 0x60
#define CAP_ISR    0x78
#define CAP_DEVICE 0x88

#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4

#define COMMON_LEN 0x38
#define DEVICE_LEN 0x1000
#define MSIX_BAR 1
#define CFG_BAR  4

static uint64_t offered(const struct virtio_pci *v)
{
    return v->ops->features | (1ull << VIRTIO_F_VERSION_1) | (1ull << VIRTIO_F_INDIRECT_DESC) |
           (1ull << VIRTIO_F_EVENT_IDX);
}

bool virtio_pci_feature(const struct virtio_pci *v, unsigned bit)
{
    return (v->driver_features >> bit) & 1;
}

static void add_cap(struct pci_dev *d, uint8_t at, uint8_t next, uint8_t len, uint8_t type,
                    uint32_t off, uint32_t length)
{
    d->cfg[at] = 0x09;          /* vendor specific */
    d->cfg[at + 1] = next;
    d->cfg[at + 2] = len;
    d->cfg[at + 3] = type;
    d->cfg[at + 4] = CFG_BAR;
    pci_set32(&d->cfg[at + 8], off);
    pci_set32(&d->cfg[at + 12], length);
}

/* Called with the lock held: INTx follows ISR, unless the OS disabled it in
 * COMMAND; the PCI status register shows it either way. */
static void intx_update(struct virtio_pci *v)
{
    bool pending = v->isr != 0, disabled = v->pci.cfg[PCI_COMMAND + 1] & 0x04;

    v->pci.cfg[PCI_STATUS] = (uint8_t)((v->pci.cfg[PCI_STATUS] & ~0x08) | (pending ? 0x08 : 0));
    irq_set(&v->intx, pending && !disabled);
}

/* Where the driver's notification for queue q lands while BAR 4 is mapped. */
static uint64_t notify_addr(const struct virtio_pci *v, unsigned q)
{
    const struct pci_bar *b = &v->pci.bar[CFG_BAR];

    return b->mapped ? b->mapped_at + VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * q : 0;
}

/* Called with the lock held, after anything that changes whether or where
 * a queue's notifications can skip the VMM: the status, a queue being
 * enabled, BAR 4 moving, a reset. Notifications before DRIVER_OK and after
 * NEEDS_RESET keep exiting to the VMM, which checks and logs them. */
static void update_routes(struct virtio_pci *v)
{
    bool live = (v->status & VIRTIO_STATUS_DRIVER_OK) && !(v->status & VIRTIO_STATUS_NEEDS_RESET);

    if (!v->router.add)
        return;
    for (unsigned i = 0; i < v->ops->num_queues; i++) {
        struct virtio_pci_queue *q = &v->queues[i];
        uint64_t want = live && q->enabled && q->kick_fd >= 0 ? notify_addr(v, i) : 0;

        if (q->routed_at == want)
            continue;
        if (q->routed_at)
            v->router.del(v->router.opaque, q->routed_at, 2, q->kick_fd);
        q->routed_at = 0;
        if (want) {
            int r = v->router.add(v->router.opaque, want, 2, q->kick_fd);

            if (r == 0) {
                q->routed_at = want;
                log_debug("%s: queue %u notifications at 0x%llx go to its I/O thread",
                          v->pci.name, i, (unsigned long long)want);
            }
            else if (!v->route_failed)
                log_warn("%s: cannot route queue notifications past the VMM (%s); "
                         "they cost a VM exit each", v->pci.name, strerror(-r));
            v->route_failed |= r != 0;
        }
    }
}

static void config_written(struct pci_dev *dev, unsigned off, unsigned size)
{
    struct virtio_pci *v = dev->opaque;

    msix_config_written(&v->msix, off, size);
    pthread_mutex_lock(&v->lock);
    if (off <= PCI_COMMAND + 1 && off + size > PCI_COMMAND + 1)
        intx_update(v);
    update_routes(v);
    pthread_mutex_unlock(&v->lock);
}

static const struct pci_dev_ops pci_ops = { .config_written = config_written };

int virtio_pci_init(struct virtio_pci *v, const struct virtio_dev_ops *ops, void *opaque,
                    const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                    const char *name)
{
    struct pci_dev *d = &v->pci;
    unsigned nvec = ops->num_queues + 1;
    int r;

    memset(v, 0, sizeof(*v));
    v->stop_fd = -1;
    for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
        v->queues[i].kick_fd = -1;
    if (ops->num_queues == 0 || ops->num_queues > VIRTIO_PCI_MAX_QUEUES || !ops->queue_max ||
        (ops->queue_max & (ops->queue_max - 1)) || ops->queue_max > VIRTQ_MAX_SIZE)
        return -EINVAL;
    pthread_mutex_init(&v->lock, NULL);
    for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
        pthread_mutex_init(&v->queues[i].busy, NULL);
    v->ops = ops;
    v->opaque = opaque;
    v->mem = mem;
    v->intx = intx;
    v->rl = (struct ratelimit)RATELIMIT_INIT;
    d->name = name;
    d->ops = &pci_ops;
    d->opaque = v;
    pci_set16(&d->cfg[PCI_VENDOR_ID], 0x1af4);
    pci_set16(&d->cfg[PCI_DEVICE_ID], (uint16_t)(0x1040 + ops->device_id));
    d->cfg[PCI_REVISION] = 1;
    d->cfg[PCI_CLASS_PROG] = (uint8_t)ops->pci_class;
    d->cfg[PCI_CLASS_PROG + 1] = (uint8_t)(ops->pci_class >> 8);
    d->cfg[PCI_CLASS_PROG + 2] = (uint8_t)(ops->pci_class >> 16);
    pci_set16(&d->cfg[PCI_SUBSYS_VENDOR], 0x1af4);
    pci_set16(&d->cfg[PCI_SUBSYS_ID], 0x1100);
    pci_set16(&d->wmask[PCI_COMMAND], 0x0407);    /* I/O, memory, bus master, INTx off */
    d->cfg[0x3d] = 1;                               /* INTA */
    d->wmask[0x3c] = 0xff;                          /* interrupt line, for the OS */
    d->cfg[0x34] = CAP_MSIX;

    r = pci_dev_set_bar(d, MSIX_BAR, 0x1000, 0, &virtio_pci_msix_bar_ops, v);
    if (!r)
        r = pci_dev_set_bar(d, CFG_BAR, VIRTIO_PCI_BAR4_SIZE, PCI_BAR_MEM64, &virtio_pci_bar4_ops, v);
    if (!r)
        r = msix_init(&v->msix, d, nvec, CAP_MSIX, MSIX_BAR, 0, 0x800, msi);
    if (r < 0)
        return r;
    d->cfg[CAP_MSIX + 1] = CAP_COMMON;
    add_cap(d, CAP_COMMON, CAP_NOTIFY, 16, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF, COMMON_LEN);
    add_cap(d, CAP_NOTIFY, CAP_ISR, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF,
            VIRTIO_PCI_NOTIFY_MULT * ops->num_queues);
    pci_set32(&d->cfg[CAP_NOTIFY + 16], VIRTIO_PCI_NOTIFY_MULT);
    add_cap(d, CAP_ISR, CAP_DEVICE, 16, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF, 1);
    add_cap(d, CAP_DEVICE, 0, 16, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF, DEVICE_LEN);
    virtio_pci_reset(v);
    return 0;
}

void virtio_pci_destroy(struct virtio_pci *v)
{
    virtio_pci_stop_iothread(v);
    msix_destroy(&v->msix);
    for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++)
        pthread_mutex_destroy(&v->queues[i].busy);
    pthread_mutex_destroy(&v->lock);
}

/* The device works on one queue at a time per queue; a reset takes every
 * queue first, so it waits for requests in flight and none starts under it. */
static void queues_hold(struct virtio_pci *v, bool hold)
{
    for (unsigned i = 0; i < v->ops->num_queues; i++) {
        if (hold)
            pthread_mutex_lock(&v->queues[i].busy);
        else
            pthread_mutex_unlock(&v->queues[v->ops->num_queues - 1 - i].busy);
    }
}

static void process(struct virtio_pci *v, unsigned q)
{
    pthread_mutex_lock(&v->queues[q].busy);
    v->ops->queue_notify(v->opaque, q);
    pthread_mutex_unlock(&v->queues[q].busy);
}

static void *iothread_main(void *opaque)
{
    struct virtio_pci *v = opaque;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };

    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, v->stop_fd, &ev) < 0) {
        log_error("%s: cannot start its I/O thread: %s", v->pci.name, strerror(errno));
        return NULL;
    }
    for (unsigned i = 0; i < v->ops->num_queues; i++) {
        ev.data.u32 = i;
        if (epoll_ctl(ep, EPOLL_CTL_ADD, v->queues[i].kick_fd, &ev) < 0)
            log_error("%s: queue %u cannot wait for notifications: %s", v->pci.name, i, strerror(errno));
    }
    for (;;) {
        struct epoll_event evs[VIRTIO_PCI_MAX_QUEUES + 1];
        int n = epoll_wait(ep, evs, VIRTIO_PCI_MAX_QUEUES + 1, -1);

        for (int i = 0; i < n; i++) {
            uint64_t count;
            unsigned q = evs[i].data.u32;

            if (q == UINT32_MAX) {
                close(ep);
                return NULL;
            }
            if (read(v->queues[q].kick_fd, &count, sizeof(count)) == sizeof(count))
                process(v, q);
        }
        if (n < 0 && errno != EINTR) {
            log_error("%s: its I/O thread stopped: %s", v->pci.name, strerror(errno));
            close(ep);
            return NULL;
        }
    }
}

int virtio_pci_start_iothread(struct virtio_pci *v, const struct notify_router *router)
{
    int r;

    if (v->iothread_running)
        return -EBUSY;
    v->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (v->stop_fd < 0)
        return -errno;
    for (unsigned i = 0; i < v->ops->num_queues; i++) {
        v->queues[i].kick_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        if (v->queues[i].kick_fd < 0) {
            r = -errno;
            goto fail;
        }
    }
    r = -pthread_create(&v->iothread, NULL, iothread_main, v);
    if (r < 0)
        goto fail;
    pthread_mutex_lock(&v->lock);
    v->iothread_running = true;
    if (router)
        v->router = *router;
    update_routes(v);
    pthread_mutex_unlock(&v->lock);
    return 0;
fail:
    for (unsigned i = 0; i < v->ops->num_queues; i++) {
        if (v->queues[i].kick_fd >= 0)
            close(v->queues[i].kick_fd);
        v->queues[i].kick_fd = -1;
    }
    close(v->stop_fd);
    v->stop_fd = -1;
    return r;
}

void virtio_pci_stop_iothread(struct virtio_pci *v)
{
    uint64_t one = 1;

    if (!v->iothread_running)
        return;
    /* Notifications exit to the VMM again, and are handled there. */
    pthread_mutex_lock(&v->lock);
    v->iothread_running = false;
    for (unsigned i = 0; i < v->ops->num_queues; i++) {
        struct virtio_pci_queue *q = &v->queues[i];

        if (q->routed_at)
            v->router.del(v->router.opaque, q->routed_at, 2, q->kick_fd);
        q->routed_at = 0;
    }
    v->router = (struct notify_router){ 0 };
    pthread_mutex_unlock(&v->lock);
    if (write(v->stop_fd, &one, sizeof(one)) != sizeof(one))
        log_error("%s: cannot stop its I/O thread: %s", v->pci.name, strerror(errno));
    pthread_join(v->iothread, NULL);
    for (unsigned i = 0; i < v->ops->num_queues; i++) {
        close(v->queues[i].kick_fd);
        v->queues[i].kick_fd = -1;
    }
    close(v->stop_fd);
    v->stop_fd = -1;
}

/* Called with the lock held. */
static void reset_locked(struct virtio_pci *v)
{
    v->dfselect = v->gfselect = 0;
    v->driver_features = 0;
    v->msix_config = VIRTIO_MSI_NO_VECTOR;
    v->status = 0;
    v->queue_select = 0;
    v->isr = 0;
    v->warned_early = false;
    intx_update(v);
    for (unsigned i = 0; i < VIRTIO_PCI_MAX_QUEUES; i++) {
        struct virtio_pci_queue *q = &v->queues[i];

        virtq_reset(&q->vq);
        q->vq.mem = v->mem;
        q->size = v->ops->queue_max;
        q->msix_vector = VIRTIO_MSI_NO_VECTOR;
        q->enabled = false;
        q->desc = q->driver = q->device = 0;
    }
    update_routes(v);
}

void virtio_pci_reset(struct virtio_pci *v)
{
    queues_hold(v, true);
    pthread_mutex_lock(&v->lock);
    reset_locked(v);
    pthread_mutex_unlock(&v->lock);
    msix_reset(&v->msix);
    if (v->ops->reset)
        v->ops->reset(v->opaque);
    queues_hold(v, false);
}

static void interrupt(struct virtio_pci *v, uint16_t vector, uint8_t isr_bit)
{
    if (msix_enabled(&v->msix)) {
        msix_notify(&v->msix, vector);
        return;
    }
    pthread_mutex_lock(&v->lock);
    v->isr |= isr_bit;
    intx_update(v);
    pthread_mutex_unlock(&v->lock);
}

/* Called with the lock held. */
static void needs_reset(struct virtio_pci *v, const char *why)
{
    log_warn_rl(&v->rl, "%s: %s; the device needs a reset", v->pci.name, why);
    v->status |= VIRTIO_STATUS_NEEDS_RESET;
    v->config_generation++;
}

void virtio_pci_config_changed(struct virtio_pci *v)
{
    uint16_t vec;

    pthread_mutex_lock(&v->lock);
    v->config_generation++;
    vec = v->msix_config;
    pthread_mutex_unlock(&v->lock);
    interrupt(v, vec, 2);
}

void virtio_pci_kick(struct virtio_pci *v, unsigned q)
{
    bool ready, thread;
    uint64_t one = 1;

    if (q >= v->ops->num_queues)
        return;
    pthread_mutex_lock(&v->lock);
    ready = (v->status & VIRTIO_STATUS_DRIVER_OK) && !(v->status & VIRTIO_STATUS_NEEDS_RESET) &&
            v->queues[q].enabled;
    thread = v->iothread_running;
    pthread_mutex_unlock(&v->lock);
    if (!ready)
        return;
    if (!thread)
        process(v, q);
    else if (write(v->queues[q].kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
        log_warn_rl(&v->rl, "%s: cannot wake its I/O thread: %s", v->pci.name, strerror(errno));
}

int virtio_pci_pop(struct virtio_pci *v, unsigned q, struct virtq_req *req)
{
    int r;

    if (q >= v->ops->num_queues || !v->queues[q].enabled ||
        (v->status & VIRTIO_STATUS_NEEDS_RESET))
        return 0;
    r = virtq_pop(&v->queues[q].vq, req);
    if (r == -EIO) {
        pthread_mutex_lock(&v->lock);
        needs_reset(v, "the driver broke a virtqueue");
        update_routes(v);
        pthread_mutex_unlock(&v->lock);
        virtio_pci_config_changed(v);
    }
    return r;
}

void virtio_pci_push(struct virtio_pci *v, unsigned q, uint16_t head, uint32_t written)
{
    struct virtio_pci_queue *vq = &v->queues[q];

    if (q >= v->ops->num_queues || virtq_push(&vq->vq, head, written) < 0)
        return;
    if (virtq_should_notify(&vq->vq))
        interrupt(v, vq->msix_vector, 1);
}

/* ---- BAR 4 ---- */

static uint64_t common_read(struct virtio_pci *v, uint64_t off)
{
    struct virtio_pci_queue *q = v->queue_select < v->ops->num_queues ? &v->queues[v->queue_select] : NULL;

    switch (off) {
    case 0x00: return v->dfselect;
    case 0x04: return v->dfselect < 2 ? (uint32_t)(offered(v) >> (32 * v->dfselect)) : 0;
    case 0x08: return v->gfselect;
    case 0x0c: return v->gfselect < 2 ? (uint32_t)(v->driver_features >> (32 * v->gfselect)) : 0;
    case 0x10: return v->msix_config;
    case 0x12: return v->ops->num_queues;
    case 0x14: return v->status;
    case 0x15: return v->config_generation;
    case 0x16: return v->queue_select;
    /* A queue that does not exist reads as size 0 (4.1.4.3.1). */
    case 0x18: return q ? q->size : 0;
    case 0x1a: return q ? q->msix_vector : VIRTIO_MSI_NO_VECTOR;
    case 0x1c: return q ? q->enabled : 0;
    case 0x1e: return q ? v->queue_select : 0;
    case 0x20: return q ? (uint32_t)q->desc : 0;
    case 0x24: return q ? q->desc >> 32 : 0;
    case 0x28: return q ? (uint32_t)q->driver : 0;
    case 0x2c: return q ? q->driver >> 32 : 0;
    case 0x30: return q ? (uint32_t)q->device : 0;
    case 0x34: return q ? q->device >> 32 : 0;
    default: return 0;
    }
}

static void set_status(struct virtio_pci *v, uint8_t s)
{
    if (s == 0) {
        reset_locked(v);
        return;
    }
    if ((s & VIRTIO_STATUS_FEATURES_OK) && !(v->status & VIRTIO_STATUS_FEATURES_OK)) {
        /* Refused by leaving the bit clear, which the driver reads back. */
        if ((v->driver_features & ~offered(v)) || !virtio_pci_feature(v, VIRTIO_F_VERSION_1)) {
            log_warn_rl(&v->rl, "%s: the driver asked for features the device does not offer "
                        "or without VERSION_1", v->pci.name);
            s &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
        }
    }
    v->status = (uint8_t)(s | (v->status & VIRTIO_STATUS_NEEDS_RESET));
}

static void enable_queue(struct virtio_pci *v, struct virtio_pci_queue *q)
{
    if (virtq_setup(&q->vq, v->mem, q->size, q->desc, q->driver, q->device,
                    virtio_pci_feature(v, VIRTIO_F_INDIRECT_DESC),
                    virtio_pci_feature(v, VIRTIO_F_EVENT_IDX)) < 0) {
        needs_reset(v, "a queue was enabled with a bad size or address");
        return;
    }
    q->enabled = true;
}

static void set64(uint64_t *r, uint64_t off, uint32_t v)
{
    if (off & 4)
        *r = (*r & 0xffffffffull) | (uint64_t)v << 32;
    else
        *r = (*r & ~0xffffffffull) | v;
}

/* Returns true when a config-change interrupt must follow. */
static bool common_write(struct virtio_pci *v, uint64_t off, uint32_t val)
{
    struct virtio_pci_queue *q = v->queue_select < v->ops->num_queues ? &v->queues[v->queue_select] : NULL;
    bool live = v->status & VIRTIO_STATUS_DRIVER_OK;
    uint8_t before = v->status;

    switch (off) {
    case 0x00: v->dfselect = val; break;
    case 0x08: v->gfselect = val; break;
    case 0x0c:
        if (v->gfselect < 2 && !(v->status & VIRTIO_STATUS_FEATURES_OK))
            set64(&v->driver_features, 4 * v->gfselect, val);
        break;
    case 0x10: v->msix_config = (uint16_t)val; break;
    case 0x14: set_status(v, (uint8_t)val); break;
    case 0x16: v->queue_select = (uint16_t)val; break;
    case 0x18:
        if (q && !q->enabled && !live)
            q->size = (uint16_t)(val > v->ops->queue_max ? v->ops->queue_max : val);
        break;
    case 0x1a:
        if (q)
            q->msix_vector = (uint16_t)val;
        break;
    case 0x1c:
        /* Queues are enabled once and only by writing 1 (4.1.4.3.2). */
        if (q && val == 1 && !q->enabled)
            enable_queue(v, q);
        break;
    case 0x20: case 0x24: if (q && !q->enabled) set64(&q->desc, off, val); break;
    case 0x28: case 0x2c: if (q && !q->enabled) set64(&q->driver, off, val); break;
    case 0x30: case 0x34: if (q && !q->enabled) set64(&q->device, off, val); break;
    default: break;
    }
    return !(before & VIRTIO_STATUS_NEEDS_RESET) && (v->status & VIRTIO_STATUS_NEEDS_RESET);
}

static void bar4_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct virtio_pci *v = opaque;

    if (offset >= VIRTIO_PCI_DEVICE_OFF && offset < VIRTIO_PCI_DEVICE_OFF + DEVICE_LEN) {
        if (v->ops->config_read)
            v->ops->config_read(v->opaque, offset - VIRTIO_PCI_DEVICE_OFF, data, size);
        else
            memset(data, 0, size);
        return;
    }
    pthread_mutex_lock(&v->lock);
    if (offset < COMMON_LEN) {
        /* Registers are read at their natural width; a narrower or
         * unaligned read gets the matching bytes of the register. */
        uint64_t reg = offset & ~3ull, val;

        if (offset >= 0x10 && offset < 0x20)
            reg = offset & ~1ull;
        if (offset == 0x14 || offset == 0x15)
            reg = offset;
        val = common_read(v, reg);
        bus_put(data, size, val >> (8 * (offset - reg)));
    } else if (offset == VIRTIO_PCI_ISR_OFF) {
        /* Reading ISR acknowledges the interrupt. */
        bus_put(data, size, v->isr);
        v->isr = 0;
        intx_update(v);
    } else {
        memset(data, 0, size);
    }
    pthread_mutex_unlock(&v->lock);
}

static void bar4_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct virtio_pci *v = opaque;
    bool changed = false, reset = offset == 0x14 && data[0] == 0, notify = false, kick = false;
    unsigned qn = 0;

    if (offset >= VIRTIO_PCI_DEVICE_OFF && offset < VIRTIO_PCI_DEVICE_OFF + DEVICE_LEN) {
        if (v->ops->config_write)
            v->ops->config_write(v->opaque, offset - VIRTIO_PCI_DEVICE_OFF, data, size);
        return;
    }
    if (reset)
        queues_hold(v, true);
    pthread_mutex_lock(&v->lock);
    if (offset < COMMON_LEN) {
        changed = common_write(v, offset, (uint32_t)bus_get(data, size));
        update_routes(v);
    } else if (offset >= VIRTIO_PCI_NOTIFY_OFF &&
               offset < VIRTIO_PCI_NOTIFY_OFF + VIRTIO_PCI_NOTIFY_MULT * v->ops->num_queues) {
        qn = (unsigned)(offset - VIRTIO_PCI_NOTIFY_OFF) / VIRTIO_PCI_NOTIFY_MULT;
        if (!(v->status & VIRTIO_STATUS_DRIVER_OK) || !v->queues[qn].enabled) {
            /* Once per driver: a driver that does it does it a lot. */
            if (!v->warned_early)
                log_warn_rl(&v->rl, "%s: notification of queue %u before the driver is ready; ignored",
                            v->pci.name, qn);
            v->warned_early = true;
        } else if (v->iothread_running)
            kick = true;
        else
            notify = true;
    }
    pthread_mutex_unlock(&v->lock);
    if (reset) {
        /* A device reset leaves PCI state alone: MSI-X enable, mask and
         * vectors belong to configuration space and the table, which only a
         * PCI reset clears (virtio_pci_reset). */
        if (v->ops->reset)
            v->ops->reset(v->opaque);
        queues_hold(v, false);
    }
    if (changed)
        virtio_pci_config_changed(v);
    if (kick) {
        uint64_t one = 1;

        /* A full counter means a wakeup is pending anyway. */
        if (write(v->queues[qn].kick_fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            log_warn_rl(&v->rl, "%s: cannot wake its I/O thread: %s", v->pci.name, strerror(errno));
    }
    if (notify)
        process(v, qn);
}

const struct bus_ops virtio_pci_bar4_ops = { .read = bar4_read, .write = bar4_write };

static void msix_bar_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct virtio_pci *v = opaque;

    if (offset < 0x800)
        msix_table_read(&v->msix, offset, data, size);
    else
        msix_pba_read(&v->msix, offset - 0x800, data, size);
}

static void msix_bar_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct virtio_pci *v = opaque;

    if (offset < 0x800)
        msix_table_write(&v->msix, offset, data, size);
}

const struct bus_ops virtio_pci_msix_bar_ops = { .read = msix_bar_read, .write = msix_bar_write };
