/* Unit tests for the virtio-pci transport, driven the way a virtio 1.x
 * driver drives it: capabilities, feature negotiation, queue setup, MSI-X,
 * notifications, a broken ring, and reset. */
#include "virtio/virtio-pci.h"
#include "unit.h"

#include <unistd.h>

#define RAM_SIZE 0x10000
#define QSIZE 8
#define DESC  0x1000
#define AVAIL 0x2000
#define USED  0x3000
#define DATA  0x4000

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct virtio_pci v;
    struct virtq_req *req;
    unsigned notifies, resets, msis;     /* notifies: atomic, the I/O thread counts too */
    uint32_t last_msi_data;
    int intx;                           /* level of the INTx line */
    unsigned intx_gsi;
};

static void dev_notify(void *opaque, unsigned q)
{
    struct fixture *f = opaque;

    g_atomic_int_inc(&f->notifies);
    while (virtio_pci_pop(&f->v, q, f->req) == 1) {
        uint32_t n = (uint32_t)virtq_req_write(&f->v.queues[q].vq, f->req, 0, "ok", 3);

        virtio_pci_push(&f->v, q, f->req->head, n);
    }
}

static void dev_reset(void *opaque)
{
    struct fixture *f = opaque;

    f->resets++;
}

static void dev_config_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
    bus_put(data, size, 0x1234 + off);
}

static const struct virtio_dev_ops ops = {
    .device_id = 2, .pci_class = 0x018000, .num_queues = 2, .queue_max = 256,
    .features = 1ull << 6, .config_read = dev_config_read, .queue_notify = dev_notify,
    .reset = dev_reset,
};

static int msi(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    struct fixture *f = opaque;

    f->msis++;
    f->last_msi_data = data;
    return 0;
}

static void intx_set(void *opaque, unsigned gsi, int level)
{
    struct fixture *f = opaque;

    f->intx = level;
    f->intx_gsi = gsi;
}

static uint64_t rd(struct fixture *f, uint64_t off, unsigned size)
{
    return dev_read(&virtio_pci_bar4_ops, &f->v, off, size);
}

static void wr(struct fixture *f, uint64_t off, unsigned size, uint64_t v)
{
    dev_write(&virtio_pci_bar4_ops, &f->v, off, size, v);
}

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
    f->req = g_new0(struct virtq_req, 1);
    g_assert_cmpint(virtio_pci_init(&f->v, &ops, f, f->mem, (struct msi_sink){ msi, f },
                                    (struct irq_line){ intx_set, f, 19 }, "virtio-test"), ==, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    virtio_pci_destroy(&f->v);
    g_free(f->req);
    gmem_free(f->mem);
    g_free(f->ram);
}

static void test_identity_and_caps(struct fixture *f, gconstpointer data)
{
    const uint8_t *c = f->v.pci.cfg;
    unsigned found = 0;

    g_assert_cmphex(c[0] | c[1] << 8, ==, 0x1af4);
    g_assert_cmphex(c[2] | c[3] << 8, ==, 0x1042);
    g_assert_cmpuint(c[PCI_REVISION], ==, 1);
    g_assert_cmphex(c[PCI_STATUS] & 0x10, ==, 0x10);
    for (uint8_t p = c[0x34], n = 0; p && n < 16; p = c[p + 1], n++) {
        if (c[p] == 0x09) {
            g_assert_cmpuint(c[p + 4], ==, 4);          /* all in BAR 4 */
            found |= 1u << c[p + 3];
        }
    }
    g_assert_cmphex(found, ==, 0x1e);                   /* common, notify, ISR, device */
    g_assert_cmphex(rd(f, VIRTIO_PCI_DEVICE_OFF + 8, 4), ==, 0x123c);
}

static void negotiate(struct fixture *f)
{
    wr(f, 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
    wr(f, 0x00, 4, 1);
    g_assert_cmphex(rd(f, 0x04, 4) & 1, ==, 1);         /* VERSION_1 */
    wr(f, 0x00, 4, 0);
    g_assert_cmphex(rd(f, 0x04, 4) & (1u << 6), ==, 1u << 6);
    wr(f, 0x08, 4, 0);
    wr(f, 0x0c, 4, (1u << 6) | (1u << VIRTIO_F_INDIRECT_DESC));
    wr(f, 0x08, 4, 1);
    wr(f, 0x0c, 4, 1);
    wr(f, 0x14, 1, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | VIRTIO_STATUS_FEATURES_OK);
    g_assert_cmphex(rd(f, 0x14, 1) & VIRTIO_STATUS_FEATURES_OK, ==, VIRTIO_STATUS_FEATURES_OK);
}

static void setup_queue(struct fixture *f, uint16_t vector)
{
    wr(f, 0x16, 2, 0);
    g_assert_cmpuint(rd(f, 0x18, 2), ==, 256);
    wr(f, 0x18, 2, QSIZE);
    wr(f, 0x20, 4, DESC);
    wr(f, 0x24, 4, 0);
    wr(f, 0x28, 4, AVAIL);
    wr(f, 0x30, 4, USED);
    wr(f, 0x1a, 2, vector);
    wr(f, 0x1c, 2, 1);
    g_assert_cmpuint(rd(f, 0x1c, 2), ==, 1);
}

static void offer_one(struct fixture *f)
{
    uint64_t addr = DATA;
    uint32_t len = 16;
    uint16_t flags = VIRTQ_DESC_F_WRITE, idx;

    memcpy(f->ram + DESC, &addr, 8);
    memcpy(f->ram + DESC + 8, &len, 4);
    memcpy(f->ram + DESC + 12, &flags, 2);
    memcpy(&idx, f->ram + AVAIL + 2, 2);
    memset(f->ram + AVAIL + 4 + 2 * (idx % QSIZE), 0, 2);
    idx++;
    memcpy(f->ram + AVAIL + 2, &idx, 2);
}

static void test_features(struct fixture *f, gconstpointer data)
{
    negotiate(f);
    g_assert_true(virtio_pci_feature(&f->v, VIRTIO_F_VERSION_1));
    g_assert_false(virtio_pci_feature(&f->v, VIRTIO_F_EVENT_IDX));
    /* Without VERSION_1, FEATURES_OK does not stick. */
    wr(f, 0x14, 1, 0);
    wr(f, 0x08, 4, 1);
    wr(f, 0x0c, 4, 0);
    wr(f, 0x14, 1, VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER);
    g_assert_cmphex(rd(f, 0x14, 1) & VIRTIO_STATUS_FEATURES_OK, ==, 0);
    /* Nor with a feature the device never offered. */
    wr(f, 0x14, 1, 0);
    wr(f, 0x08, 4, 1);
    wr(f, 0x0c, 4, 1 | 0x80);
    wr(f, 0x14, 1, VIRTIO_STATUS_FEATURES_OK | VIRTIO_STATUS_DRIVER);
    g_assert_cmphex(rd(f, 0x14, 1) & VIRTIO_STATUS_FEATURES_OK, ==, 0);
}

static void test_request_with_msix(struct fixture *f, gconstpointer data)
{
    uint8_t entry[16] = { 0 };
    uint32_t addr = 0xfee00000, msg = 0x4055;
    uint16_t used;

    negotiate(f);
    setup_queue(f, 1);
    /* MSI-X on, vector 1 programmed and unmasked. */
    memcpy(entry, &addr, 4);
    memcpy(entry + 8, &msg, 4);
    dev_write(&virtio_pci_msix_bar_ops, &f->v, 16, 4, addr);
    dev_write(&virtio_pci_msix_bar_ops, &f->v, 24, 4, msg);
    dev_write(&virtio_pci_msix_bar_ops, &f->v, 28, 4, 0);
    pci_set16(&f->v.pci.cfg[0x42], (uint16_t)(0x8000 | (f->v.pci.cfg[0x42] & 0x7ff)));
    f->v.pci.ops->config_written(&f->v.pci, 0x42, 2);

    /* Before DRIVER_OK a notification is ignored. */
    offer_one(f);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    g_assert_cmpuint(f->notifies, ==, 0);
    wr(f, 0x14, 1, rd(f, 0x14, 1) | VIRTIO_STATUS_DRIVER_OK);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    g_assert_cmpuint(f->notifies, ==, 1);
    memcpy(&used, f->ram + USED + 2, 2);
    g_assert_cmpuint(used, ==, 1);
    g_assert_cmpstr((char *)f->ram + DATA, ==, "ok");
    g_assert_cmpuint(f->msis, ==, 1);
    g_assert_cmphex(f->last_msi_data, ==, 0x4055);
    /* A queue number beyond the device's is nothing. */
    wr(f, 0x16, 2, 7);
    g_assert_cmpuint(rd(f, 0x18, 2), ==, 0);
    /* A device reset is not a PCI reset: MSI-X stays on, the vector stays. */
    wr(f, 0x14, 1, 0);
    g_assert_cmphex(f->v.pci.cfg[0x43] & 0x80, ==, 0x80);
    g_assert_cmphex(dev_read(&virtio_pci_msix_bar_ops, &f->v, 24, 4), ==, 0x4055);
    /* The machine's reset clears both. */
    virtio_pci_reset(&f->v);
    g_assert_cmphex(f->v.pci.cfg[0x43] & 0x80, ==, 0);
    g_assert_cmphex(dev_read(&virtio_pci_msix_bar_ops, &f->v, 24, 4), ==, 0);
}

static void test_broken_ring(struct fixture *f, gconstpointer data)
{
    uint16_t idx = 100;

    negotiate(f);
    setup_queue(f, VIRTIO_MSI_NO_VECTOR);
    wr(f, 0x14, 1, rd(f, 0x14, 1) | VIRTIO_STATUS_DRIVER_OK);
    memcpy(f->ram + AVAIL + 2, &idx, 2);     /* jumps past the queue size */
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    g_assert_cmphex(rd(f, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, VIRTIO_STATUS_NEEDS_RESET);
    /* MSI-X is off: the config change shows in ISR, read-to-clear. */
    g_assert_cmphex(rd(f, VIRTIO_PCI_ISR_OFF, 1), ==, 2);
    g_assert_cmphex(rd(f, VIRTIO_PCI_ISR_OFF, 1), ==, 0);
    /* Reset clears it all and tells the device. */
    wr(f, 0x14, 1, 0);
    g_assert_cmphex(rd(f, 0x14, 1), ==, 0);
    g_assert_cmpuint(rd(f, 0x1c, 2), ==, 0);
    g_assert_cmpuint(f->resets, >=, 2);
}

static void test_bad_queue(struct fixture *f, gconstpointer data)
{
    negotiate(f);
    wr(f, 0x16, 2, 0);
    wr(f, 0x18, 2, 6);                       /* not a power of two */
    wr(f, 0x20, 4, DESC);
    wr(f, 0x28, 4, AVAIL);
    wr(f, 0x30, 4, USED);
    wr(f, 0x1c, 2, 1);
    g_assert_cmpuint(rd(f, 0x1c, 2), ==, 0);
    g_assert_cmphex(rd(f, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, VIRTIO_STATUS_NEEDS_RESET);
}

static void set_command(struct fixture *f, uint16_t cmd)
{
    pci_set16(&f->v.pci.cfg[PCI_COMMAND], cmd);
    f->v.pci.ops->config_written(&f->v.pci, PCI_COMMAND, 2);
}

static void test_intx(struct fixture *f, gconstpointer data)
{
    negotiate(f);
    setup_queue(f, VIRTIO_MSI_NO_VECTOR);
    wr(f, 0x14, 1, rd(f, 0x14, 1) | VIRTIO_STATUS_DRIVER_OK);
    /* MSI-X off: a used buffer raises INTA, level-triggered, until the
     * driver reads ISR. */
    offer_one(f);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    g_assert_cmpint(f->intx, ==, 1);
    g_assert_cmpuint(f->intx_gsi, ==, 19);
    g_assert_cmphex(f->v.pci.cfg[PCI_STATUS] & 0x08, ==, 0x08);
    /* The OS masks INTx in COMMAND: the line drops, the status stays. */
    set_command(f, 0x0406);
    g_assert_cmpint(f->intx, ==, 0);
    g_assert_cmphex(f->v.pci.cfg[PCI_STATUS] & 0x08, ==, 0x08);
    set_command(f, 0x0006);
    g_assert_cmpint(f->intx, ==, 1);
    g_assert_cmphex(rd(f, VIRTIO_PCI_ISR_OFF, 1), ==, 1);
    g_assert_cmpint(f->intx, ==, 0);
    g_assert_cmphex(f->v.pci.cfg[PCI_STATUS] & 0x08, ==, 0);
    /* A reset lowers it too. */
    offer_one(f);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    g_assert_cmpint(f->intx, ==, 1);
    wr(f, 0x14, 1, 0);
    g_assert_cmpint(f->intx, ==, 0);
    g_assert_cmpuint(f->msis, ==, 0);
}

/* A stand-in for KVM's ioeventfds: what is routed where. */
struct routes {
    uint64_t addr[8];
    int fd[8];
    unsigned n, adds, dels;
};

static int route_add(void *opaque, uint64_t addr, unsigned len, int fd)
{
    struct routes *r = opaque;

    g_assert_cmpuint(len, ==, 2);
    g_assert_cmpuint(r->n, <, 8);
    r->addr[r->n] = addr;
    r->fd[r->n++] = fd;
    r->adds++;
    return 0;
}

static int route_del(void *opaque, uint64_t addr, unsigned len, int fd)
{
    struct routes *r = opaque;

    for (unsigned i = 0; i < r->n; i++) {
        if (r->addr[i] == addr && r->fd[i] == fd) {
            r->addr[i] = r->addr[r->n - 1];
            r->fd[i] = r->fd[--r->n];
            r->dels++;
            return 0;
        }
    }
    g_assert_not_reached();
}

static void map_bar4(struct fixture *f, uint64_t at)
{
    f->v.pci.bar[4].mapped = true;
    f->v.pci.bar[4].mapped_at = at;
    f->v.pci.ops->config_written(&f->v.pci, PCI_COMMAND, 2);
}

static uint16_t used_idx(struct fixture *f)
{
    return __atomic_load_n((uint16_t *)(void *)(f->ram + USED + 2), __ATOMIC_ACQUIRE);
}

/* Waits for the I/O thread to answer; a test that hangs here failed. */
static void wait_used(struct fixture *f, uint16_t want)
{
    for (unsigned i = 0; i < 5000 && used_idx(f) != want; i++)
        g_usleep(1000);
    g_assert_cmpuint(used_idx(f), ==, want);
}

static void test_iothread(struct fixture *f, gconstpointer data)
{
    struct routes r = { 0 };
    const struct notify_router router = { route_add, route_del, &r };
    uint64_t one = 1;

    map_bar4(f, 0xfe000000);
    g_assert_cmpint(virtio_pci_start_iothread(&f->v, &router), ==, 0);
    negotiate(f);
    setup_queue(f, VIRTIO_MSI_NO_VECTOR);
    /* Nothing skips the VMM before DRIVER_OK: those notifications are
     * checked (and ignored) by the transport. */
    g_assert_cmpuint(r.n, ==, 0);
    wr(f, 0x14, 1, rd(f, 0x14, 1) | VIRTIO_STATUS_DRIVER_OK);
    /* Queue 0 is live, queue 1 never enabled. */
    g_assert_cmpuint(r.n, ==, 1);
    g_assert_cmphex(r.addr[0], ==, 0xfe000000 + VIRTIO_PCI_NOTIFY_OFF);

    /* What KVM does on the guest's write: the eventfd wakes the I/O thread. */
    offer_one(f);
    g_assert_cmpint(write(r.fd[0], &one, sizeof(one)), ==, sizeof(one));
    wait_used(f, 1);
    g_assert_cmpstr((char *)f->ram + DATA, ==, "ok");
    /* A notification that still exits (another width, say) goes there too. */
    offer_one(f);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    wait_used(f, 2);
    g_assert_cmpuint(g_atomic_int_get(&f->notifies), ==, 2);

    /* The firmware or OS moves BAR 4: the route follows. */
    map_bar4(f, 0xc0000000);
    g_assert_cmpuint(r.n, ==, 1);
    g_assert_cmphex(r.addr[0], ==, 0xc0000000 + VIRTIO_PCI_NOTIFY_OFF);
    f->v.pci.bar[4].mapped = false;
    f->v.pci.ops->config_written(&f->v.pci, PCI_COMMAND, 2);
    g_assert_cmpuint(r.n, ==, 0);
    map_bar4(f, 0xfe000000);
    g_assert_cmpuint(r.n, ==, 1);

    /* A broken ring: the device needs a reset, and the route goes. */
    {
        uint16_t idx = 100;

        memcpy(f->ram + AVAIL + 2, &idx, 2);
        g_assert_cmpint(write(r.fd[0], &one, sizeof(one)), ==, sizeof(one));
        for (unsigned i = 0; i < 5000 && !(rd(f, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET); i++)
            g_usleep(1000);
        g_assert_cmphex(rd(f, 0x14, 1) & VIRTIO_STATUS_NEEDS_RESET, ==, VIRTIO_STATUS_NEEDS_RESET);
        g_assert_cmpuint(r.n, ==, 0);
    }
    /* Reset, set up again, then stop: nothing stays routed. */
    wr(f, 0x14, 1, 0);
    memset(f->ram + AVAIL, 0, 4);
    memset(f->ram + USED, 0, 4);
    negotiate(f);
    setup_queue(f, VIRTIO_MSI_NO_VECTOR);
    wr(f, 0x14, 1, rd(f, 0x14, 1) | VIRTIO_STATUS_DRIVER_OK);
    g_assert_cmpuint(r.n, ==, 1);
    virtio_pci_stop_iothread(&f->v);
    g_assert_cmpuint(r.n, ==, 0);
    g_assert_cmpuint(r.adds, ==, r.dels);
    /* Handled on the notifying thread again. */
    offer_one(f);
    wr(f, VIRTIO_PCI_NOTIFY_OFF, 2, 0);
    g_assert_cmpuint(used_idx(f), ==, 1);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/virtio-pci/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("identity-and-caps", test_identity_and_caps);
    ADD("features", test_features);
    ADD("request-with-msix", test_request_with_msix);
    ADD("broken-ring", test_broken_ring);
    ADD("bad-queue", test_bad_queue);
    ADD("intx", test_intx);
    ADD("iothread", test_iothread);
#undef ADD
    return g_test_run();
}
