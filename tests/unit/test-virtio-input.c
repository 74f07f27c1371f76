/* Unit tests for virtio-input, driven as Linux's virtio_input driver drives
 * it: what the configuration space says about each kind of device, events
 * delivered a whole report at a time into the buffers the driver posts,
 * LED changes on the status queue, a guest that stops reading, and reset. */
#include "virtio/input.h"
#include "unit.h"
#include "virtio-driver.h"

#define RAM_SIZE 0x10000
#define QSIZE 8
#define EDESC  0x1000
#define EAVAIL 0x2000
#define EUSED  0x3000
#define SDESC  0x4000
#define SAVAIL 0x5000
#define SUSED  0x6000
#define BUFS   0x8000
#define SBUF   0x9000

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct virtio_input *d;
    uint16_t eavail, savail, eused_seen;
};

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    virtio_input_free(f->d);
    gmem_free(f->mem);
    g_free(f->ram);
}

static void start(struct fixture *f, enum virtio_input_kind kind)
{
    f->d = virtio_input_new(kind, f->mem, (struct msi_sink){ 0 }, (struct irq_line){ 0 });
    g_assert_nonnull(f->d);
    g_assert_cmphex(f->d->vpci.pci.cfg[2] | f->d->vpci.pci.cfg[3] << 8, ==, 0x1052);
    g_assert_cmphex(vdrv_negotiate(&f->d->vpci), ==, 11);
    vdrv_queue(&f->d->vpci, 0, QSIZE, EDESC, EAVAIL, EUSED);
    vdrv_queue(&f->d->vpci, 1, QSIZE, SDESC, SAVAIL, SUSED);
    g_assert_cmphex(vdrv_ready(&f->d->vpci), ==, 15);
}

/* The driver asks a question and reads the answer's size and bytes. */
static uint8_t ask(struct fixture *f, uint8_t select, uint8_t subsel, uint8_t *out)
{
    vdrv_write(&f->d->vpci, VIRTIO_PCI_DEVICE_OFF, 1, select);
    vdrv_write(&f->d->vpci, VIRTIO_PCI_DEVICE_OFF + 1, 1, subsel);
    for (unsigned i = 0; i < 128; i++)
        out[i] = (uint8_t)vdrv_read(&f->d->vpci, VIRTIO_PCI_DEVICE_OFF + 8 + i, 1);
    return (uint8_t)vdrv_read(&f->d->vpci, VIRTIO_PCI_DEVICE_OFF + 2, 1);
}

static bool bit(const uint8_t *bitmap, unsigned n)
{
    return (bitmap[n / 8] >> (n % 8)) & 1;
}

static void post_event_buffers(struct fixture *f, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint16_t slot = f->eavail % QSIZE, flags = VIRTQ_DESC_F_WRITE;
        uint64_t addr = BUFS + 8u * slot;
        uint32_t len = 8;

        memcpy(f->ram + EDESC + 16 * slot, &addr, 8);
        memcpy(f->ram + EDESC + 16 * slot + 8, &len, 4);
        memcpy(f->ram + EDESC + 16 * slot + 12, &flags, 2);
        memcpy(f->ram + EAVAIL + 4 + 2 * slot, &slot, 2);
        f->eavail++;
    }
    memcpy(f->ram + EAVAIL + 2, &f->eavail, 2);
    vdrv_notify(&f->d->vpci, 0);
}

static uint16_t eused(struct fixture *f)
{
    uint16_t u;

    memcpy(&u, f->ram + EUSED + 2, 2);
    return u;
}

/* The next event the device returned, in order. */
static struct virtio_input_event next_event(struct fixture *f)
{
    struct virtio_input_event e;
    uint32_t id, len;
    unsigned slot = f->eused_seen % QSIZE;

    g_assert_cmpuint(f->eused_seen, <, eused(f));
    memcpy(&id, f->ram + EUSED + 4 + 8 * slot, 4);
    memcpy(&len, f->ram + EUSED + 8 + 8 * slot, 4);
    g_assert_cmpuint(len, ==, 8);
    memcpy(&e, f->ram + BUFS + 8 * id, 8);
    f->eused_seen++;
    return e;
}

static void expect(struct fixture *f, uint16_t type, uint16_t code, uint32_t value)
{
    struct virtio_input_event e = next_event(f);

    g_assert_cmphex(e.type, ==, type);
    g_assert_cmphex(e.code, ==, code);
    g_assert_cmphex(e.value, ==, value);
}

static void test_keyboard_config(struct fixture *f, gconstpointer data)
{
    uint8_t b[128];
    uint16_t ids[4];

    start(f, VIRTIO_INPUT_KEYBOARD);
    g_assert_cmpuint(ask(f, 0x01, 0, b), ==, strlen("Nook virtio keyboard"));
    g_assert_cmpmem(b, strlen("Nook virtio keyboard"), "Nook virtio keyboard", strlen("Nook virtio keyboard"));
    g_assert_cmpuint(ask(f, 0x03, 0, b), ==, 8);
    memcpy(ids, b, 8);
    g_assert_cmphex(ids[0], ==, 0x06);                       /* BUS_VIRTUAL */
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_KEY, b), >, 0);
    g_assert_true(bit(b, 30));                               /* KEY_A */
    g_assert_true(bit(b, 28));                               /* KEY_ENTER */
    g_assert_false(bit(b, 0));                               /* KEY_RESERVED */
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_LED, b), ==, 1);
    g_assert_cmphex(b[0], ==, 0x07);                         /* num, caps, scroll lock */
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_REP, b), ==, 1);  /* repeat, by the guest */
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_ABS, b), ==, 0);
    g_assert_cmpuint(ask(f, 0x12, INPUT_ABS_X, b), ==, 0);
    g_assert_cmpuint(ask(f, 0x77, 0, b), ==, 0);             /* an unknown question */
    /* The rest of the configuration is read-only. */
    vdrv_write(&f->d->vpci, VIRTIO_PCI_DEVICE_OFF + 2, 1, 99);
    vdrv_write(&f->d->vpci, VIRTIO_PCI_DEVICE_OFF + 8, 4, 0xffffffff);
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_LED, b), ==, 1);
    g_assert_cmphex(b[0], ==, 0x07);
}

static void test_tablet_config(struct fixture *f, gconstpointer data)
{
    uint8_t b[128];
    uint32_t info[5];

    start(f, VIRTIO_INPUT_TABLET);
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_ABS, b), ==, 1);
    g_assert_true(bit(b, INPUT_ABS_X) && bit(b, INPUT_ABS_Y));
    g_assert_cmpuint(ask(f, 0x12, INPUT_ABS_Y, b), ==, 20);
    memcpy(info, b, sizeof(info));
    g_assert_cmpuint(info[0], ==, 0);
    g_assert_cmpuint(info[1], ==, VIRTIO_INPUT_ABS_MAX);
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_KEY, b), >, 0);
    g_assert_true(bit(b, INPUT_BTN_LEFT) && bit(b, INPUT_BTN_RIGHT) && bit(b, INPUT_BTN_MIDDLE));
    g_assert_false(bit(b, 30));
    g_assert_cmpuint(ask(f, 0x11, INPUT_EV_REL, b), >, 0);
    g_assert_true(bit(b, INPUT_REL_WHEEL));
    g_assert_false(bit(b, INPUT_REL_X));                     /* absolute only */
}

static void test_events(struct fixture *f, gconstpointer data)
{
    start(f, VIRTIO_INPUT_TABLET);
    /* A report waits for buffers, then arrives whole and in order. */
    g_assert_cmpint(virtio_input_send(f->d, INPUT_EV_ABS, INPUT_ABS_X, 100), ==, 0);
    g_assert_cmpint(virtio_input_send(f->d, INPUT_EV_ABS, INPUT_ABS_Y, 32000), ==, 0);
    g_assert_cmpint(virtio_input_send(f->d, INPUT_EV_SYN, INPUT_SYN_REPORT, 0), ==, 0);
    g_assert_cmpuint(eused(f), ==, 0);
    post_event_buffers(f, 2);
    /* Two buffers for a report of three: two go now, the third when the
     * driver posts more. */
    g_assert_cmpuint(eused(f), ==, 2);
    expect(f, INPUT_EV_ABS, INPUT_ABS_X, 100);
    expect(f, INPUT_EV_ABS, INPUT_ABS_Y, 32000);
    post_event_buffers(f, 6);
    expect(f, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);
    /* With buffers waiting, a report goes at once at its SYN_REPORT, and a
     * report still being built does not go at all. */
    virtio_input_send(f->d, INPUT_EV_KEY, INPUT_BTN_LEFT, 1);
    g_assert_cmpuint(eused(f), ==, 3);
    virtio_input_send(f->d, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);
    g_assert_cmpuint(eused(f), ==, 5);
    expect(f, INPUT_EV_KEY, INPUT_BTN_LEFT, 1);
    expect(f, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);
}

static void test_leds(struct fixture *f, gconstpointer data)
{
    struct virtio_input_event e = { INPUT_EV_LED, 1, 1 };     /* caps lock on */
    uint64_t addr = SBUF;
    uint32_t len = 8;
    uint16_t flags = 0, idx = 1, used;

    start(f, VIRTIO_INPUT_KEYBOARD);
    memcpy(f->ram + SBUF, &e, 8);
    memcpy(f->ram + SDESC, &addr, 8);
    memcpy(f->ram + SDESC + 8, &len, 4);
    memcpy(f->ram + SDESC + 12, &flags, 2);
    memcpy(f->ram + SAVAIL + 2, &idx, 2);
    vdrv_notify(&f->d->vpci, 1);
    memcpy(&used, f->ram + SUSED + 2, 2);
    g_assert_cmpuint(used, ==, 1);
    g_assert_cmphex(virtio_input_leds(f->d), ==, 0x02);
}

static void test_guest_not_reading(struct fixture *f, gconstpointer data)
{
    unsigned ok = 0, dropped = 0;

    start(f, VIRTIO_INPUT_KEYBOARD);
    /* 200 key presses of 2 events each into a ring of 256: the reports that
     * do not fit are dropped whole, never cut. */
    for (unsigned i = 0; i < 200; i++) {
        int a = virtio_input_send(f->d, INPUT_EV_KEY, 30, 1);
        int b = virtio_input_send(f->d, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);

        if (a == 0 && b == 0)
            ok++;
        else
            dropped++;
    }
    g_assert_cmpuint(ok, ==, VIRTIO_INPUT_PENDING / 2);
    g_assert_cmpuint(dropped, ==, 200 - VIRTIO_INPUT_PENDING / 2);
    /* Reset throws the backlog away. */
    vdrv_write(&f->d->vpci, VDRV_STATUS, 1, 0);
    vdrv_negotiate(&f->d->vpci);
    memset(f->ram + EAVAIL, 0, 4);
    memset(f->ram + EUSED, 0, 4);
    f->eavail = 0;
    vdrv_queue(&f->d->vpci, 0, QSIZE, EDESC, EAVAIL, EUSED);
    vdrv_ready(&f->d->vpci);
    post_event_buffers(f, 4);
    g_assert_cmpuint(eused(f), ==, 0);
    /* Before DRIVER_OK nothing is delivered, even with buffers. */
    vdrv_write(&f->d->vpci, VDRV_STATUS, 1, 0);
    virtio_input_send(f->d, INPUT_EV_KEY, 30, 1);
    virtio_input_send(f->d, INPUT_EV_SYN, INPUT_SYN_REPORT, 0);
    g_assert_cmpuint(eused(f), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/virtio-input/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("keyboard-config", test_keyboard_config);
    ADD("tablet-config", test_tablet_config);
    ADD("events", test_events);
    ADD("leds", test_leds);
    ADD("guest-not-reading", test_guest_not_reading);
#undef ADD
    return g_test_run();
}
