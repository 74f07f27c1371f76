/* virtio-input (virtio 1.x, section 5.8) over the virtio-pci transport: a
 * keyboard, a tablet (absolute pointer) or a mouse that speaks Linux input
 * events, so a front end hands over events without translating them. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "virtio-pci.h"

/* Linux input event types and codes (linux/input-event-codes.h). */
#define INPUT_EV_SYN 0x00
#define INPUT_EV_KEY 0x01
#define INPUT_EV_REL 0x02
#define INPUT_EV_ABS 0x03
#define INPUT_EV_LED 0x11
#define INPUT_EV_REP 0x14
#define INPUT_SYN_REPORT 0
#define INPUT_BTN_LEFT   0x110
#define INPUT_BTN_RIGHT  0x111
#define INPUT_BTN_MIDDLE 0x112
#define INPUT_BTN_SIDE   0x113
#define INPUT_BTN_EXTRA  0x114
#define INPUT_REL_X      0x00
#define INPUT_REL_Y      0x01
#define INPUT_REL_HWHEEL 0x06
#define INPUT_REL_WHEEL  0x08
#define INPUT_ABS_X      0x00
#define INPUT_ABS_Y      0x01
/* The tablet's axes run from 0 to this, whatever the screen size. */
#define VIRTIO_INPUT_ABS_MAX 32767

enum virtio_input_kind { VIRTIO_INPUT_KEYBOARD, VIRTIO_INPUT_TABLET, VIRTIO_INPUT_MOUSE };

#define VIRTIO_INPUT_PENDING 256

struct virtio_input_event {
    uint16_t type, code;
    uint32_t value;
} __attribute__((packed));

struct virtio_input {
    struct virtio_pci vpci;
    struct virtio_dev_ops ops;
    enum virtio_input_kind kind;
    const char *name;

    pthread_mutex_t lock;       /* everything below */
    uint8_t select, subsel;
    /* Events of whole reports (up to a SYN_REPORT) waiting for the driver's
     * buffers, then the report being built. */
    struct virtio_input_event ring[VIRTIO_INPUT_PENDING];
    unsigned head, ready, building;
    uint8_t leds;               /* LED bits the driver last set (keyboard) */
    unsigned host_buttons;      /* buttons the machine last reported down (tablet) */
    unsigned dropped;           /* reports lost while the ring was full */
    struct virtq_req *req;      /* owned scratch */
    struct ratelimit rl;
};

struct virtio_input *virtio_input_new(enum virtio_input_kind kind, const struct gmem *mem,
                                      struct msi_sink msi, struct irq_line intx);
void virtio_input_free(struct virtio_input *d);
/* Queues one event; a SYN_REPORT ends a report and hands it to the driver as
 * soon as it has buffers for it. Any thread. 0, or -ENOSPC when the report
 * was dropped because the guest is not reading. */
int virtio_input_send(struct virtio_input *d, uint16_t type, uint16_t code, int32_t value);
/* Whether a driver has the device running (DRIVER_OK, no reset pending). */
bool virtio_input_active(struct virtio_input *d);
/* What the driver last set the keyboard's LEDs to (bit n: LED code n). */
uint8_t virtio_input_leds(struct virtio_input *d);
