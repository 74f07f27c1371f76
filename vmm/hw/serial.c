/* 16550A UART: FIFOs, divisor latch, loopback, modem status and the interrupt
 * priorities of the datasheet. Transmission is instant. */
#include "serial.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

enum {
    REG_RBR_THR = 0, REG_IER = 1, REG_IIR_FCR = 2, REG_LCR = 3,
    REG_MCR = 4, REG_LSR = 5, REG_MSR = 6, REG_SCR = 7,
};

#define IER_RDA   0x01
#define IER_THRE  0x02
#define IER_RLS   0x04
#define IER_MS    0x08

#define IIR_NONE     0x01
#define IIR_MS       0x00
#define IIR_THRE     0x02
#define IIR_RDA      0x04
#define IIR_RLS      0x06
#define IIR_TIMEOUT  0x0c
#define IIR_FIFO     0xc0

#define FCR_ENABLE   0x01
#define FCR_CLR_RX   0x02
#define FCR_CLR_TX   0x04

#define LCR_DLAB     0x80

#define MCR_DTR      0x01
#define MCR_RTS      0x02
#define MCR_OUT1     0x04
#define MCR_OUT2     0x08
#define MCR_LOOP     0x10

#define LSR_DR       0x01
#define LSR_OE       0x02
#define LSR_THRE     0x20
#define LSR_TEMT     0x40

#define MSR_DCTS     0x01
#define MSR_DDSR     0x02
#define MSR_TERI     0x04
#define MSR_DDCD     0x08
#define MSR_CTS      0x10
#define MSR_DSR      0x20
#define MSR_RI       0x40
#define MSR_DCD      0x80

#define FIFO_SIZE 16

struct serial {
    pthread_mutex_t lock;
    struct irq_line irq;

    uint8_t ier, lcr, mcr, lsr, msr, scr, fcr;
    uint8_t dll, dlm;
    bool thr_ipending;      /* THRE interrupt latched until IIR read or THR write */
    bool rx_refused;        /* serial_receive() turned bytes away */
    uint8_t rx[FIFO_SIZE];
    unsigned rx_head, rx_count;

    serial_tx_fn tx;
    void *tx_opaque;
    serial_rx_ready_fn rx_ready;
    void *rx_ready_opaque;
};

static unsigned rx_capacity(const struct serial *s)
{
    return (s->fcr & FCR_ENABLE) ? FIFO_SIZE : 1;
}

static unsigned rx_trigger(const struct serial *s)
{
    static const unsigned levels[4] = { 1, 4, 8, 14 };

    return (s->fcr & FCR_ENABLE) ? levels[s->fcr >> 6] : 1;
}

static uint8_t compute_iir(const struct serial *s)
{
    if ((s->ier & IER_RLS) && (s->lsr & LSR_OE))
        return IIR_RLS;
    if ((s->ier & IER_RDA) && s->rx_count) {
        /* Data below the trigger level is reported as a character timeout
         * straight away, so that short input is not held back. */
        return s->rx_count >= rx_trigger(s) ? IIR_RDA : IIR_TIMEOUT;
    }
    if ((s->ier & IER_THRE) && s->thr_ipending)
        return IIR_THRE;
    if ((s->ier & IER_MS) && (s->msr & 0x0f))
        return IIR_MS;
    return IIR_NONE;
}

static void update_irq(struct serial *s)
{
    irq_set(&s->irq, compute_iir(s) != IIR_NONE);
}

static uint8_t modem_lines(const struct serial *s)
{
    if (s->mcr & MCR_LOOP) {
        uint8_t v = 0;

        if (s->mcr & MCR_RTS) v |= MSR_CTS;
        if (s->mcr & MCR_DTR) v |= MSR_DSR;
        if (s->mcr & MCR_OUT1) v |= MSR_RI;
        if (s->mcr & MCR_OUT2) v |= MSR_DCD;
        return v;
    }
    /* A terminal is always attached as far as the guest can tell. */
    return MSR_CTS | MSR_DSR | MSR_DCD;
}

static void set_modem_lines(struct serial *s)
{
    uint8_t old = s->msr & 0xf0, now = modem_lines(s), delta = 0;

    if ((old ^ now) & MSR_CTS) delta |= MSR_DCTS;
    if ((old ^ now) & MSR_DSR) delta |= MSR_DDSR;
    if ((old & MSR_RI) && !(now & MSR_RI)) delta |= MSR_TERI;
    if ((old ^ now) & MSR_DCD) delta |= MSR_DDCD;
    s->msr = now | (s->msr & 0x0f) | delta;
}

static bool rx_push(struct serial *s, uint8_t c)
{
    if (s->rx_count >= rx_capacity(s)) {
        s->lsr |= LSR_OE;
        return false;
    }
    s->rx[(s->rx_head + s->rx_count) % FIFO_SIZE] = c;
    s->rx_count++;
    s->lsr |= LSR_DR;
    return true;
}

static void rx_clear(struct serial *s)
{
    s->rx_head = s->rx_count = 0;
    s->lsr &= (uint8_t)~LSR_DR;
}

/* True once when serial_receive() turned bytes away and would now take some:
 * besides reading RBR, the guest makes room by clearing or enabling the FIFO
 * or leaving loopback, and a reset empties it. */
static bool rx_room_after_refusal(struct serial *s)
{
    if (!s->rx_refused || (s->mcr & MCR_LOOP) || s->rx_count >= rx_capacity(s))
        return false;
    s->rx_refused = false;
    return true;
}

void serial_reset(struct serial *s)
{
    serial_rx_ready_fn cb;
    void *cb_opaque;
    bool notify;

    pthread_mutex_lock(&s->lock);
    s->ier = 0;
    s->lcr = 0x03;
    s->mcr = MCR_OUT2;
    s->lsr = LSR_THRE | LSR_TEMT;
    s->msr = 0;
    s->scr = 0;
    s->fcr = 0;
    s->dll = 0x0c;      /* 9600 baud */
    s->dlm = 0;
    s->thr_ipending = false;
    rx_clear(s);
    set_modem_lines(s);
    s->msr &= 0xf0;
    update_irq(s);
    notify = rx_room_after_refusal(s);
    cb = s->rx_ready;
    cb_opaque = s->rx_ready_opaque;
    pthread_mutex_unlock(&s->lock);
    if (notify && cb)
        cb(cb_opaque);
}

struct serial *serial_new(struct irq_line irq)
{
    struct serial *s = calloc(1, sizeof(*s));

    if (!s)
        return NULL;
    pthread_mutex_init(&s->lock, NULL);
    s->irq = irq;
    serial_reset(s);
    return s;
}

void serial_free(struct serial *s)
{
    if (!s)
        return;
    pthread_mutex_destroy(&s->lock);
    free(s);
}

void serial_set_tx(struct serial *s, serial_tx_fn fn, void *opaque)
{
    pthread_mutex_lock(&s->lock);
    s->tx = fn;
    s->tx_opaque = opaque;
    pthread_mutex_unlock(&s->lock);
}

void serial_set_rx_ready(struct serial *s, serial_rx_ready_fn fn, void *opaque)
{
    pthread_mutex_lock(&s->lock);
    s->rx_ready = fn;
    s->rx_ready_opaque = opaque;
    pthread_mutex_unlock(&s->lock);
}

size_t serial_receive(struct serial *s, const uint8_t *buf, size_t len)
{
    size_t n = 0;

    pthread_mutex_lock(&s->lock);
    /* In loopback the line is disconnected from the outside. */
    if (!(s->mcr & MCR_LOOP)) {
        while (n < len && s->rx_count < rx_capacity(s))
            rx_push(s, buf[n++]);
    }
    s->rx_refused = n < len;
    update_irq(s);
    pthread_mutex_unlock(&s->lock);
    return n;
}

static uint8_t serial_read_reg(struct serial *s, unsigned reg, bool *notify)
{
    uint8_t v;

    switch (reg) {
    case REG_RBR_THR:
        if (s->lcr & LCR_DLAB)
            return s->dll;
        v = 0;
        if (s->rx_count) {
            v = s->rx[s->rx_head];
            s->rx_head = (s->rx_head + 1) % FIFO_SIZE;
            s->rx_count--;
            if (!s->rx_count)
                s->lsr &= (uint8_t)~LSR_DR;
            if (s->rx_refused) {
                s->rx_refused = false;
                *notify = true;
            }
        }
        return v;
    case REG_IER:
        return (s->lcr & LCR_DLAB) ? s->dlm : s->ier;
    case REG_IIR_FCR:
        v = compute_iir(s);
        /* Reading IIR acknowledges a THRE interrupt it reports. */
        if (v == IIR_THRE)
            s->thr_ipending = false;
        return v | ((s->fcr & FCR_ENABLE) ? IIR_FIFO : 0);
    case REG_LCR:
        return s->lcr;
    case REG_MCR:
        return s->mcr;
    case REG_LSR:
        v = s->lsr;
        s->lsr &= (uint8_t)~LSR_OE;
        return v;
    case REG_MSR:
        v = s->msr;
        s->msr &= 0xf0;
        return v;
    default:
        return s->scr;
    }
}

static void serial_write_reg(struct serial *s, unsigned reg, uint8_t v)
{
    switch (reg) {
    case REG_RBR_THR:
        if (s->lcr & LCR_DLAB) {
            s->dll = v;
            break;
        }
        if (s->mcr & MCR_LOOP)
            rx_push(s, v);
        else if (s->tx)
            s->tx(s->tx_opaque, &v, 1);
        s->lsr |= LSR_THRE | LSR_TEMT;
        s->thr_ipending = true;
        break;
    case REG_IER:
        if (s->lcr & LCR_DLAB) {
            s->dlm = v;
            break;
        }
        /* Enabling THRE with an empty holding register raises it at once. */
        if (!(s->ier & IER_THRE) && (v & IER_THRE) && (s->lsr & LSR_THRE))
            s->thr_ipending = true;
        s->ier = v & 0x0f;
        break;
    case REG_IIR_FCR:
        if ((v ^ s->fcr) & FCR_ENABLE)
            rx_clear(s);
        if (v & FCR_CLR_RX)
            rx_clear(s);
        s->fcr = v & 0xc9;
        if (!(s->fcr & FCR_ENABLE))
            s->fcr = 0;
        break;
    case REG_LCR:
        s->lcr = v;
        break;
    case REG_MCR:
        s->mcr = v & 0x1f;
        set_modem_lines(s);
        break;
    case REG_LSR:
    case REG_MSR:
        break;
    default:
        s->scr = v;
        break;
    }
}

static void serial_bus_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct serial *s = opaque;
    bool notify = false;
    serial_rx_ready_fn cb;
    void *cb_opaque;

    pthread_mutex_lock(&s->lock);
    /* Wider accesses read consecutive registers, like byte lanes on ISA. */
    for (unsigned i = 0; i < size; i++)
        data[i] = offset + i < 8 ? serial_read_reg(s, (unsigned)offset + i, &notify) : 0xff;
    update_irq(s);
    cb = s->rx_ready;
    cb_opaque = s->rx_ready_opaque;
    pthread_mutex_unlock(&s->lock);
    if (notify && cb)
        cb(cb_opaque);
}

static void serial_bus_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct serial *s = opaque;
    serial_rx_ready_fn cb;
    void *cb_opaque;
    bool notify;

    pthread_mutex_lock(&s->lock);
    for (unsigned i = 0; i < size && offset + i < 8; i++)
        serial_write_reg(s, (unsigned)offset + i, data[i]);
    update_irq(s);
    notify = rx_room_after_refusal(s);
    cb = s->rx_ready;
    cb_opaque = s->rx_ready_opaque;
    pthread_mutex_unlock(&s->lock);
    if (notify && cb)
        cb(cb_opaque);
}

const struct bus_ops serial_bus_ops = {
    .read = serial_bus_read,
    .write = serial_bus_write,
};
