/* virtio-input: the device describes itself through its configuration
 * space (the driver selects a question with select/subsel and reads the
 * answer) and sends 8-byte events in buffers the driver posts on the event
 * queue; the status queue carries the driver's LED changes back. Events go
 * out a whole report at a time, so the guest never sees half a key press. */
#include "input.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define CFG_UNSET     0x00
#define CFG_ID_NAME   0x01
#define CFG_ID_SERIAL 0x02
#define CFG_ID_DEVIDS 0x03
#define CFG_PROP_BITS 0x10
#define CFG_EV_BITS   0x11
#define CFG_ABS_INFO  0x12

#define CFG_DATA 8              /* the answer starts here */
#define CFG_DATA_MAX 128

#define EVENTQ 0
#define STATUSQ 1
#define QUEUE_SIZE 64

#define BUS_VIRTUAL 0x06
#define VENDOR 0x4e4b           /* "NK" */

#define KEY_MAX_CODE 0x2ff
#define LED_NUML 0
#define LED_CAPSL 1
#define LED_SCROLLL 2

static void set_bit(uint8_t *bitmap, unsigned bit)
{
    if (bit < CFG_DATA_MAX * 8)
        bitmap[bit / 8] |= (uint8_t)(1u << (bit % 8));
}

/* The answer to the driver's current question: its size, and its bytes in
 * out (CFG_DATA_MAX of them, zero past the size). Called with the lock. */
static uint8_t answer(const struct virtio_input *d, uint8_t *out)
{
    memset(out, 0, CFG_DATA_MAX);
    switch (d->select) {
    case CFG_ID_NAME: {
        size_t n = strlen(d->name);

        memcpy(out, d->name, n);
        return (uint8_t)n;
    }
    case CFG_ID_SERIAL:
        memcpy(out, "0", 1);
        return 1;
    case CFG_ID_DEVIDS: {
        uint16_t ids[4] = { BUS_VIRTUAL, VENDOR, (uint16_t)(d->kind + 1), 1 };

        memcpy(out, ids, sizeof(ids));
        return sizeof(ids);
    }
    case CFG_PROP_BITS:
        return 0;
    case CFG_EV_BITS: {
        uint8_t size = 0;

        switch (d->kind) {
        case VIRTIO_INPUT_KEYBOARD:
            if (d->subsel == INPUT_EV_KEY) {
                /* Every key of a PC keyboard and the multimedia ones. */
                for (unsigned k = 1; k < 256; k++)
                    set_bit(out, k);
                size = 32;
            } else if (d->subsel == INPUT_EV_LED) {
                set_bit(out, LED_NUML);
                set_bit(out, LED_CAPSL);
                set_bit(out, LED_SCROLLL);
                size = 1;
            } else if (d->subsel == INPUT_EV_REP) {
                size = 1;           /* the guest repeats keys itself */
            }
            break;
        case VIRTIO_INPUT_TABLET:
        case VIRTIO_INPUT_MOUSE:
            if (d->subsel == INPUT_EV_KEY) {
                /* Buttons are codes 0x110 and up: the bitmap covers them. */
                for (unsigned b = INPUT_BTN_LEFT; b <= INPUT_BTN_EXTRA; b++)
                    set_bit(out, b);
                size = (INPUT_BTN_EXTRA / 8) + 1;
            } else if (d->subsel == INPUT_EV_REL) {
                if (d->kind == VIRTIO_INPUT_MOUSE) {
                    set_bit(out, INPUT_REL_X);
                    set_bit(out, INPUT_REL_Y);
                }
                set_bit(out, INPUT_REL_HWHEEL);
                set_bit(out, INPUT_REL_WHEEL);
                size = 2;
            } else if (d->subsel == INPUT_EV_ABS && d->kind == VIRTIO_INPUT_TABLET) {
                set_bit(out, INPUT_ABS_X);
                set_bit(out, INPUT_ABS_Y);
                size = 1;
            }
            break;
        }
        return size;
    }
    case CFG_ABS_INFO:
        if (d->kind == VIRTIO_INPUT_TABLET && (d->subsel == INPUT_ABS_X || d->subsel == INPUT_ABS_Y)) {
            uint32_t info[5] = { 0, VIRTIO_INPUT_ABS_MAX, 0, 0, 0 };   /* min max fuzz flat res */

            memcpy(out, info, sizeof(info));
            return sizeof(info);
        }
        return 0;
    default:
        return 0;
    }
}

static void config_read(void *opaque, uint64_t off, uint8_t *data, unsigned size)
{
    struct virtio_input *d = opaque;
    uint8_t buf[CFG_DATA + CFG_DATA_MAX] = { 0 };

    pthread_mutex_lock(&d->lock);
    buf[0] = d->select;
    buf[1] = d->subsel;
    buf[2] = answer(d, buf + CFG_DATA);
    pthread_mutex_unlock(&d->lock);
    for (unsigned i = 0; i < size; i++)
        data[i] = off + i < sizeof(buf) ? buf[off + i] : 0;
}

static void config_write(void *opaque, uint64_t off, const uint8_t *data, unsigned size)
{
    struct virtio_input *d = opaque;

    /* Only select and subsel are the driver's to write. */
    pthread_mutex_lock(&d->lock);
    for (unsigned i = 0; i < size; i++) {
        if (off + i == 0)
            d->select = data[i];
        else if (off + i == 1)
            d->subsel = data[i];
    }
    pthread_mutex_unlock(&d->lock);
}

/* Hands ready events to the driver while it has buffers. Called with the
 * lock held and the event queue held by the transport. */
static void deliver(struct virtio_input *d)
{
    const struct virtq *vq = &d->vpci.queues[EVENTQ].vq;

    while (d->ready) {
        const struct virtio_input_event *e = &d->ring[d->head];
        int r = virtio_pci_pop(&d->vpci, EVENTQ, d->req);

        if (r != 1)
            return;
        if (virtq_req_write(vq, d->req, 0, e, sizeof(*e)) != sizeof(*e)) {
            /* A buffer too small for an event: returned empty, the event
             * waits for the next one. */
            log_warn_rl(&d->rl, "%s: an event buffer of %llu bytes is too small", d->name,
                        (unsigned long long)d->req->in_len);
            virtio_pci_push(&d->vpci, EVENTQ, d->req->head, 0);
            continue;
        }
        virtio_pci_push(&d->vpci, EVENTQ, d->req->head, sizeof(*e));
        d->head = (d->head + 1) % VIRTIO_INPUT_PENDING;
        d->ready--;
    }
}

static void status_events(struct virtio_input *d)
{
    const struct virtq *vq = &d->vpci.queues[STATUSQ].vq;

    while (virtio_pci_pop(&d->vpci, STATUSQ, d->req) == 1) {
        struct virtio_input_event e;

        if (virtq_req_read(vq, d->req, 0, &e, sizeof(e)) == sizeof(e) && e.type == INPUT_EV_LED &&
            e.code <= LED_SCROLLL) {
            if (e.value)
                d->leds |= (uint8_t)(1u << e.code);
            else
                d->leds &= (uint8_t)~(1u << e.code);
        }
        virtio_pci_push(&d->vpci, STATUSQ, d->req->head, 0);
    }
}

static void queue_notify(void *opaque, unsigned q)
{
    struct virtio_input *d = opaque;

    pthread_mutex_lock(&d->lock);
    if (q == EVENTQ)
        deliver(d);
    else
        status_events(d);
    pthread_mutex_unlock(&d->lock);
}

static void reset(void *opaque)
{
    struct virtio_input *d = opaque;

    pthread_mutex_lock(&d->lock);
    d->select = d->subsel = 0;
    d->head = d->ready = d->building = 0;
    d->leds = 0;
    pthread_mutex_unlock(&d->lock);
}

int virtio_input_send(struct virtio_input *d, uint16_t type, uint16_t code, int32_t value)
{
    int r = 0;

    pthread_mutex_lock(&d->lock);
    if (d->ready + d->building < VIRTIO_INPUT_PENDING) {
        unsigned at = (d->head + d->ready + d->building) % VIRTIO_INPUT_PENDING;

        d->ring[at] = (struct virtio_input_event){ type, code, (uint32_t)value };
        d->building++;
    } else {
        /* No room for the rest of this report: all of it goes, so that the
         * guest never gets a key down without its report. */
        if (!d->dropped++)
            log_warn("%s: the guest is not reading its input events; dropping them", d->name);
        d->building = 0;
        r = -ENOSPC;
    }
    if (type == INPUT_EV_SYN && code == INPUT_SYN_REPORT && d->building) {
        d->ready += d->building;
        d->building = 0;
    }
    pthread_mutex_unlock(&d->lock);
    if (type == INPUT_EV_SYN && r == 0)
        virtio_pci_kick(&d->vpci, EVENTQ);
    return r;
}

bool virtio_input_active(struct virtio_input *d)
{
    uint8_t status;

    pthread_mutex_lock(&d->vpci.lock);
    status = d->vpci.status;
    pthread_mutex_unlock(&d->vpci.lock);
    return (status & VIRTIO_STATUS_DRIVER_OK) && !(status & VIRTIO_STATUS_NEEDS_RESET);
}

uint8_t virtio_input_leds(struct virtio_input *d)
{
    uint8_t v;

    pthread_mutex_lock(&d->lock);
    v = d->leds;
    pthread_mutex_unlock(&d->lock);
    return v;
}

struct virtio_input *virtio_input_new(enum virtio_input_kind kind, const struct gmem *mem,
                                      struct msi_sink msi, struct irq_line intx)
{
    static const char *const names[] = {
        [VIRTIO_INPUT_KEYBOARD] = "Nook virtio keyboard",
        [VIRTIO_INPUT_TABLET] = "Nook virtio tablet",
        [VIRTIO_INPUT_MOUSE] = "Nook virtio mouse",
    };
    struct virtio_input *d = calloc(1, sizeof(*d));

    if (!d)
        return NULL;
    d->req = calloc(1, sizeof(*d->req));
    if (!d->req) {
        free(d);
        return NULL;
    }
    d->kind = kind;
    d->name = names[kind];
    d->rl = (struct ratelimit)RATELIMIT_INIT;
    pthread_mutex_init(&d->lock, NULL);
    d->ops = (struct virtio_dev_ops){
        .device_id = 18,
        .pci_class = 0x098000,          /* input device, other */
        .num_queues = 2,
        .queue_max = QUEUE_SIZE,
        .config_read = config_read,
        .config_write = config_write,
        .queue_notify = queue_notify,
        .reset = reset,
    };
    if (virtio_pci_init(&d->vpci, &d->ops, d, mem, msi, intx, "virtio-input") < 0) {
        virtio_input_free(d);
        return NULL;
    }
    return d;
}

void virtio_input_free(struct virtio_input *d)
{
    if (!d)
        return;
    virtio_pci_destroy(&d->vpci);
    pthread_mutex_destroy(&d->lock);
    free(d->req);
    free(d);
}
