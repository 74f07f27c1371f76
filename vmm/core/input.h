/* Input: what front ends (a window, a remote display, the control socket)
 * send to the guest, and the devices that deliver it. Keys are Linux key
 * codes (keymap.h); pointer positions are scaled to 0..INPUT_ABS_MAX over
 * the guest's screen whatever its size.
 *
 * A machine has several devices that can take the same kind of event (the
 * PS/2 keyboard and a virtio keyboard, say). Each event goes to the most
 * recently added device of its kind that the guest is using (ops->active),
 * so a guest with a virtio driver gets virtio events and a guest without one
 * (a BIOS, an installer) still gets PS/2. */
#pragma once

#include <pthread.h>
#include <stdbool.h>

#define INPUT_ABS_MAX 32767

enum input_button {
    INPUT_BUTTON_LEFT = 1u << 0,
    INPUT_BUTTON_RIGHT = 1u << 1,
    INPUT_BUTTON_MIDDLE = 1u << 2,
    INPUT_BUTTON_SIDE = 1u << 3,
    INPUT_BUTTON_EXTRA = 1u << 4,
};

enum input_caps {
    INPUT_CAP_KEYBOARD = 1u << 0,
    INPUT_CAP_REL = 1u << 1,    /* a mouse */
    INPUT_CAP_ABS = 1u << 2,    /* a tablet */
};

/* A device's side. Called with the router's lock held, from the thread of
 * the front end that sent the event; each device takes its own lock. */
struct input_device_ops {
    void (*key)(void *opaque, unsigned code, bool down);
    /* wheel: clicks, positive away from the user. buttons: the whole state. */
    void (*rel)(void *opaque, int dx, int dy, int wheel, unsigned buttons);
    void (*abs)(void *opaque, unsigned x, unsigned y, int wheel, unsigned buttons);
    /* Whether the guest drives the device now; NULL: always. */
    bool (*active)(void *opaque);
    /* The lock LEDs the guest set (INPUT_LED_*); NULL: none. */
    unsigned (*leds)(void *opaque);
};

/* As a PS/2 keyboard numbers its LEDs (and SPICE its lock modifiers). */
enum input_led {
    INPUT_LED_SCROLL = 1u << 0,
    INPUT_LED_NUM = 1u << 1,
    INPUT_LED_CAPS = 1u << 2,
};

#define INPUT_MAX_DEVICES 8

struct input {
    pthread_mutex_t lock;
    struct {
        const char *name;
        unsigned caps;
        const struct input_device_ops *ops;
        void *opaque;
    } dev[INPUT_MAX_DEVICES];
    unsigned ndev;
    unsigned buttons;
    unsigned long pressed[(255 + 1) / (8 * sizeof(unsigned long))];   /* keys down */
    unsigned long events;       /* delivered, for tests and status */
};

void input_init(struct input *in);
void input_destroy(struct input *in);
/* -ENOSPC when full. Devices live as long as the router does. */
int input_add_device(struct input *in, const char *name, unsigned caps,
                     const struct input_device_ops *ops, void *opaque);

/* Front end side; any thread. Codes outside 1..255 are ignored. */
void input_key(struct input *in, unsigned code, bool down);
/* Lets go of every key still down (a window lost focus or its grab). */
void input_release_keys(struct input *in);
void input_rel(struct input *in, int dx, int dy, int wheel, unsigned buttons);
/* x, y in 0..INPUT_ABS_MAX (clamped). Without an active tablet the event
 * is dropped: a front end asks input_absolute() to know which to send. */
void input_abs(struct input *in, unsigned x, unsigned y, int wheel, unsigned buttons);
/* Whether the guest uses an absolute pointer now. */
bool input_absolute(struct input *in);
/* The LEDs of the keyboard that gets keys now. */
unsigned input_leds(struct input *in);
/* The name of the device that gets events of this capability now, or NULL. */
const char *input_target(struct input *in, unsigned cap);
