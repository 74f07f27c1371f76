/* Interrupt lines as devices see them: a device raises or lowers its line and
 * never learns how the line reaches the guest (KVM_IRQ_LINE, a test recorder). */
#pragma once

struct irq_line {
    void (*set)(void *opaque, unsigned gsi, int level);
    void *opaque;
    unsigned gsi;
};

static inline void irq_set(const struct irq_line *irq, int level)
{
    if (irq && irq->set)
        irq->set(irq->opaque, irq->gsi, level);
}

/* Edge-style helper for devices that pulse. */
static inline void irq_pulse(const struct irq_line *irq)
{
    irq_set(irq, 1);
    irq_set(irq, 0);
}
