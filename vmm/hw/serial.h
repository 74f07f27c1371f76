/* 16550A UART model. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../core/bus.h"
#include "../core/irq.h"

struct serial;

/* Where transmitted bytes go; called with the UART's lock held, so it must
 * not call back into the UART. */
typedef void (*serial_tx_fn)(void *opaque, const uint8_t *buf, size_t len);
/* Called (without the lock) when the guest has made room in the receive
 * FIFO after serial_receive() had refused bytes. */
typedef void (*serial_rx_ready_fn)(void *opaque);

struct serial *serial_new(struct irq_line irq);
void serial_free(struct serial *s);
void serial_set_tx(struct serial *s, serial_tx_fn fn, void *opaque);
void serial_set_rx_ready(struct serial *s, serial_rx_ready_fn fn, void *opaque);
/* Feeds received bytes; returns how many fit in the FIFO. */
size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len);
void serial_reset(struct serial *s);

extern const struct bus_ops serial_bus_ops;
