/* Shared by the unit tests: an interrupt line that records what the device
 * did with it, a power object that counts requests, and port accessors that
 * go through a device's bus_ops as a vCPU exit would. */
#pragma once

#include <glib.h>
#include <stdint.h>
#include <string.h>

#include "core/bus.h"
#include "core/irq.h"
#include "core/power.h"

struct irq_rec {
    int level;
    unsigned raises;        /* 0 -> 1 transitions */
    unsigned calls;
    unsigned gsi;
};

static inline void irq_rec_set(void *opaque, unsigned gsi, int level)
{
    struct irq_rec *r = opaque;

    g_assert_true(level == 0 || level == 1);
    if (level && !r->level)
        r->raises++;
    r->level = level;
    r->calls++;
    r->gsi = gsi;
}

static inline struct irq_line irq_rec_line(struct irq_rec *r, unsigned gsi)
{
    return (struct irq_line){ .set = irq_rec_set, .opaque = r, .gsi = gsi };
}

struct power_rec {
    unsigned exits, resets;
    int status;
    char reason[64];
};

static inline void power_rec_exit(void *opaque, int status, const char *reason)
{
    struct power_rec *p = opaque;

    p->exits++;
    p->status = status;
    g_strlcpy(p->reason, reason, sizeof(p->reason));
}

static inline void power_rec_reset(void *opaque, const char *reason)
{
    struct power_rec *p = opaque;

    p->resets++;
    g_strlcpy(p->reason, reason, sizeof(p->reason));
}

static inline struct power power_rec_power(struct power_rec *p)
{
    return (struct power){ .request_exit = power_rec_exit, .request_reset = power_rec_reset,
                           .opaque = p };
}

static inline uint64_t dev_read(const struct bus_ops *ops, void *dev, uint64_t offset, unsigned size)
{
    uint8_t data[8];

    memset(data, 0xcc, sizeof(data));
    ops->read(dev, offset, data, size);
    return bus_get(data, size);
}

static inline void dev_write(const struct bus_ops *ops, void *dev, uint64_t offset, unsigned size,
                             uint64_t v)
{
    uint8_t data[8];

    bus_put(data, size, v);
    ops->write(dev, offset, data, size);
}

static inline uint8_t dev_inb(const struct bus_ops *ops, void *dev, uint64_t offset)
{
    return (uint8_t)dev_read(ops, dev, offset, 1);
}

static inline void dev_outb(const struct bus_ops *ops, void *dev, uint64_t offset, uint8_t v)
{
    dev_write(ops, dev, offset, 1, v);
}
