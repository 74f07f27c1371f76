/* i8042 PS/2 controller with a keyboard and a mouse. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/bus.h"
#include "../core/irq.h"
#include "../core/power.h"

#define I8042_QUEUE 64

struct ps2_queue {
    uint8_t data[I8042_QUEUE];
    unsigned head, count;
};

struct i8042 {
    pthread_mutex_t lock;
    struct irq_line kbd_irq;    /* ISA IRQ 1 */
    struct irq_line aux_irq;    /* ISA IRQ 12 */
    struct power power;         /* the reset line */

    uint8_t status;
    uint8_t ccb;                /* controller command byte */
    uint8_t outport;
    uint8_t pending_cmd;        /* controller command waiting for its data byte */
    uint8_t out;                /* byte in the output buffer */
    bool out_aux;

    struct ps2_queue kbd_q, aux_q;
    uint8_t kbd_cmd;            /* keyboard command waiting for an argument */
    bool kbd_enabled;
    uint8_t kbd_set;
    uint8_t aux_cmd;
    bool aux_enabled, aux_remote, aux_wrap;
    uint8_t aux_rate, aux_res, aux_scaling;
    uint8_t aux_buttons;
    uint8_t aux_id;             /* 0 a standard mouse, 3 IntelliMouse (wheel) */
    uint8_t aux_rates[3];       /* the last sample rates set: 200, 100, 80 turns the wheel on */
    uint8_t kbd_leds;           /* what the guest last set with 0xed: bit 0 scroll, 1 num, 2 caps */
};

void i8042_init(struct i8042 *k, struct irq_line kbd, struct irq_line aux, struct power power);
void i8042_reset(struct i8042 *k);
/* Host input: set 2 scancode bytes (translated by the controller when the
 * guest asks for set 1), and relative mouse motion. */
void i8042_key(struct i8042 *k, const uint8_t *set2, unsigned len);
void i8042_mouse(struct i8042 *k, int dx, int dy, int dz, uint8_t buttons);
/* The keyboard LEDs the guest set: bit 0 Scroll Lock, 1 Num Lock, 2 Caps
 * Lock. */
uint8_t i8042_leds(struct i8042 *k);

extern const struct bus_ops i8042_bus_ops;
