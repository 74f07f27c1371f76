/* Unit tests for the 16550A model: registers, FIFOs, loopback, interrupt
 * identification and receive flow control. */
#include "hw/serial.h"
#include "unit.h"

enum { RBR = 0, THR = 0, DLL = 0, IER = 1, DLM = 1, IIR = 2, FCR = 2, LCR = 3, MCR = 4, LSR = 5,
       MSR = 6, SCR = 7 };

struct fixture {
    struct serial *s;
    struct irq_rec irq;
    GByteArray *tx;
    unsigned rx_ready;
};

static void on_tx(void *opaque, const uint8_t *buf, size_t len)
{
    struct fixture *f = opaque;

    g_byte_array_append(f->tx, buf, (guint)len);
}

static void on_rx_ready(void *opaque)
{
    struct fixture *f = opaque;

    f->rx_ready++;
}

static void setup(struct fixture *f, gconstpointer data)
{
    memset(&f->irq, 0, sizeof(f->irq));
    f->s = serial_new(irq_rec_line(&f->irq, 4));
    g_assert_nonnull(f->s);
    f->tx = g_byte_array_new();
    f->rx_ready = 0;
    serial_set_tx(f->s, on_tx, f);
    serial_set_rx_ready(f->s, on_rx_ready, f);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    serial_free(f->s);
    g_byte_array_unref(f->tx);
}

static uint8_t in(struct fixture *f, unsigned reg)
{
    return dev_inb(&serial_bus_ops, f->s, reg);
}

static void out(struct fixture *f, unsigned reg, uint8_t v)
{
    dev_outb(&serial_bus_ops, f->s, reg, v);
}

static void test_reset_state(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(in(f, IER), ==, 0);
    g_assert_cmphex(in(f, IIR), ==, 0x01);
    g_assert_cmphex(in(f, LCR), ==, 0x03);
    g_assert_cmphex(in(f, LSR), ==, 0x60);
    g_assert_cmpint(f->irq.level, ==, 0);
}

static void test_scratch(struct fixture *f, gconstpointer data)
{
    out(f, SCR, 0x5a);
    g_assert_cmphex(in(f, SCR), ==, 0x5a);
    out(f, SCR, 0xa5);
    g_assert_cmphex(in(f, SCR), ==, 0xa5);
    /* Scratch is not another register's alias. */
    g_assert_cmphex(in(f, LCR), ==, 0x03);
}

static void test_divisor_latch(struct fixture *f, gconstpointer data)
{
    out(f, IER, 0x05);
    out(f, LCR, 0x83);
    out(f, DLL, 0x01);
    out(f, DLM, 0x02);
    g_assert_cmphex(in(f, DLL), ==, 0x01);
    g_assert_cmphex(in(f, DLM), ==, 0x02);
    g_assert_cmphex(in(f, LCR), ==, 0x83);
    /* With DLAB off the same offsets are RBR/THR and IER again. */
    out(f, LCR, 0x03);
    g_assert_cmphex(in(f, IER), ==, 0x05);
    g_assert_cmphex(in(f, RBR), ==, 0x00);
    out(f, THR, 'x');
    g_assert_cmpuint(f->tx->len, ==, 1);
    g_assert_cmphex(f->tx->data[0], ==, 'x');
    out(f, LCR, 0x83);
    g_assert_cmphex(in(f, DLL), ==, 0x01);
    g_assert_cmphex(in(f, DLM), ==, 0x02);
    /* Writing THR while DLAB is set changes the divisor, sends nothing. */
    out(f, THR, 0x0c);
    g_assert_cmpuint(f->tx->len, ==, 1);
    g_assert_cmphex(in(f, DLL), ==, 0x0c);
}

static void test_fifo_iir_bits(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(in(f, IIR) & 0xc0, ==, 0x00);
    out(f, FCR, 0x01);
    g_assert_cmphex(in(f, IIR), ==, 0xc1);
    out(f, FCR, 0xc7);
    g_assert_cmphex(in(f, IIR), ==, 0xc1);
    out(f, FCR, 0x00);
    g_assert_cmphex(in(f, IIR), ==, 0x01);
}

static void test_loopback(struct fixture *f, gconstpointer data)
{
    uint8_t msr;

    out(f, MCR, 0x10);
    /* In loopback the modem inputs follow the outputs: all low now. */
    msr = in(f, MSR);
    g_assert_cmphex(msr & 0xf0, ==, 0x00);
    g_assert_cmphex(msr & 0x0f, ==, 0x0b);     /* CTS, DSR, DCD dropped */
    g_assert_cmphex(in(f, MSR), ==, 0x00);    /* deltas clear on read */

    out(f, THR, 'A');
    g_assert_cmpuint(f->tx->len, ==, 0);
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x01);
    g_assert_cmphex(in(f, RBR), ==, 'A');
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x00);

    out(f, MCR, 0x10 | 0x02);                   /* RTS -> CTS */
    g_assert_cmphex(in(f, MSR), ==, 0x10 | 0x01);
    out(f, MCR, 0x10 | 0x01);                   /* DTR -> DSR */
    g_assert_cmphex(in(f, MSR), ==, 0x20 | 0x02 | 0x01);
    out(f, MCR, 0x10 | 0x04);                   /* OUT1 -> RI */
    g_assert_cmphex(in(f, MSR), ==, 0x40 | 0x02);
    out(f, MCR, 0x10 | 0x08);                   /* OUT2 -> DCD; RI falling edge */
    g_assert_cmphex(in(f, MSR), ==, 0x80 | 0x08 | 0x04);
    out(f, MCR, 0x10 | 0x0f);
    g_assert_cmphex(in(f, MSR) & 0xf0, ==, 0xf0);

    /* Leaving loopback sends again and the line is "connected". */
    out(f, MCR, 0x0b);
    out(f, THR, 'B');
    g_assert_cmpuint(f->tx->len, ==, 1);
    g_assert_cmphex(in(f, MSR) & 0xf0, ==, 0xb0);
}

static void test_thre_interrupt(struct fixture *f, gconstpointer data)
{
    g_assert_cmpint(f->irq.level, ==, 0);
    out(f, IER, 0x02);
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmphex(in(f, IIR), ==, 0x02);
    /* Reading IIR acknowledged it. */
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmphex(in(f, IIR), ==, 0x01);

    out(f, THR, 'h');
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmpuint(f->irq.raises, ==, 2);
    g_assert_cmphex(in(f, IIR), ==, 0x02);
    g_assert_cmpint(f->irq.level, ==, 0);

    /* Disabling the source while pending lowers the line. */
    out(f, THR, 'i');
    g_assert_cmpint(f->irq.level, ==, 1);
    out(f, IER, 0x00);
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmpmem(f->tx->data, f->tx->len, "hi", 2);
}

static void test_receive_interrupt(struct fixture *f, gconstpointer data)
{
    out(f, IER, 0x01);
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmpuint(serial_receive(f->s, (const uint8_t *)"x", 1), ==, 1);
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmphex(in(f, IIR), ==, 0x04);
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x01);
    g_assert_cmphex(in(f, RBR), ==, 'x');
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x00);
    g_assert_cmphex(in(f, IIR), ==, 0x01);
}

static void test_trigger_levels(struct fixture *f, gconstpointer data)
{
    static const struct { uint8_t fcr; unsigned level; } cases[] = {
        { 0x01, 1 }, { 0x41, 4 }, { 0x81, 8 }, { 0xc1, 14 },
    };
    uint8_t buf[16];

    memset(buf, 'r', sizeof(buf));
    out(f, IER, 0x01);
    for (unsigned c = 0; c < G_N_ELEMENTS(cases); c++) {
        out(f, FCR, cases[c].fcr | 0x02);
        g_assert_cmpint(f->irq.level, ==, 0);
        if (cases[c].level > 1) {
            /* Below the trigger level: reported as a character timeout. */
            g_assert_cmpuint(serial_receive(f->s, buf, cases[c].level - 1), ==, cases[c].level - 1);
            g_assert_cmpint(f->irq.level, ==, 1);
            g_assert_cmphex(in(f, IIR), ==, 0xc0 | 0x0c);
            g_assert_cmpuint(serial_receive(f->s, buf, 1), ==, 1);
        } else {
            g_assert_cmpuint(serial_receive(f->s, buf, 1), ==, 1);
        }
        g_assert_cmphex(in(f, IIR), ==, 0xc0 | 0x04);
        /* Draining the FIFO takes the interrupt away again. */
        for (unsigned i = 0; i < cases[c].level; i++) {
            g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x01);
            g_assert_cmphex(in(f, RBR), ==, 'r');
        }
        g_assert_cmphex(in(f, IIR), ==, 0xc1);
        g_assert_cmpint(f->irq.level, ==, 0);
    }
}

static void test_fifo_order_and_clear(struct fixture *f, gconstpointer data)
{
    out(f, FCR, 0x01);
    g_assert_cmpuint(serial_receive(f->s, (const uint8_t *)"abc", 3), ==, 3);
    g_assert_cmphex(in(f, RBR), ==, 'a');
    g_assert_cmphex(in(f, RBR), ==, 'b');
    /* FCR bit 1 empties the receive FIFO. */
    out(f, FCR, 0x03);
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x00);
    g_assert_cmpuint(serial_receive(f->s, (const uint8_t *)"de", 2), ==, 2);
    g_assert_cmphex(in(f, RBR), ==, 'd');
    g_assert_cmphex(in(f, RBR), ==, 'e');
}

static void test_overrun(struct fixture *f, gconstpointer data)
{
    /* Without FIFOs the receiver holds one byte; loopback makes a second
     * one arrive before the guest read the first. */
    out(f, IER, 0x04);
    out(f, MCR, 0x10);
    out(f, THR, '1');
    g_assert_cmphex(in(f, LSR) & 0x03, ==, 0x01);
    g_assert_cmpint(f->irq.level, ==, 0);
    out(f, THR, '2');
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmphex(in(f, IIR), ==, 0x06);
    g_assert_cmphex(in(f, LSR) & 0x03, ==, 0x03);
    /* Reading LSR cleared OE and the line status interrupt. */
    g_assert_cmphex(in(f, LSR) & 0x03, ==, 0x01);
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmphex(in(f, RBR), ==, '1');
    g_assert_cmphex(in(f, LSR) & 0x03, ==, 0x00);
}

static void test_receive_flow_control(struct fixture *f, gconstpointer data)
{
    uint8_t buf[20];

    for (unsigned i = 0; i < sizeof(buf); i++)
        buf[i] = (uint8_t)i;
    out(f, FCR, 0x01);
    g_assert_cmpuint(serial_receive(f->s, buf, sizeof(buf)), ==, 16);
    /* Refused bytes are the backend's to keep: no overrun. */
    g_assert_cmphex(in(f, LSR) & 0x02, ==, 0x00);
    g_assert_cmpuint(serial_receive(f->s, buf + 16, 4), ==, 0);
    g_assert_cmpuint(f->rx_ready, ==, 0);
    g_assert_cmphex(in(f, RBR), ==, 0);
    g_assert_cmpuint(f->rx_ready, ==, 1);
    g_assert_cmphex(in(f, RBR), ==, 1);
    g_assert_cmpuint(f->rx_ready, ==, 1);       /* once per refusal */
    g_assert_cmpuint(serial_receive(f->s, buf + 16, 4), ==, 2);
    for (unsigned i = 2; i < 18; i++)
        g_assert_cmphex(in(f, RBR), ==, i);
    g_assert_cmpuint(f->rx_ready, ==, 2);
    g_assert_cmphex(in(f, LSR) & 0x01, ==, 0x00);

    /* Without FIFOs there is room for one byte only. */
    out(f, FCR, 0x00);
    g_assert_cmpuint(serial_receive(f->s, buf, 2), ==, 1);
    g_assert_cmphex(in(f, RBR), ==, 0);
    g_assert_cmpuint(f->rx_ready, ==, 3);

    /* In loopback the outside line is cut off. */
    out(f, MCR, 0x10);
    g_assert_cmpuint(serial_receive(f->s, buf, 1), ==, 0);
}

/* The backend stops reading after a refusal and waits for rx_ready, so every
 * way the guest can make room must produce one, or input stalls for good. */
static void test_rx_ready_other_ways(struct fixture *f, gconstpointer data)
{
    static const uint8_t two[2] = { 'a', 'b' };

    /* Linux's 8250 driver clears the FIFOs while starting the port. */
    g_assert_cmpuint(serial_receive(f->s, two, 2), ==, 1);
    out(f, FCR, 0x07);
    g_assert_cmpuint(f->rx_ready, ==, 1);
    out(f, FCR, 0x07);
    g_assert_cmpuint(f->rx_ready, ==, 1);       /* nothing refused since */
    g_assert_cmpuint(serial_receive(f->s, two, 2), ==, 2);

    /* Turning the FIFO off empties it too. */
    g_assert_cmpuint(serial_receive(f->s, two, 2), ==, 2);
    g_assert_cmpuint(serial_receive(f->s, two, 2), ==, 2);
    out(f, FCR, 0x00);
    g_assert_cmpuint(f->rx_ready, ==, 1);
    g_assert_cmpuint(serial_receive(f->s, two, 2), ==, 1);
    out(f, FCR, 0x01);
    g_assert_cmpuint(f->rx_ready, ==, 2);

    /* Input refused during a loopback test comes back after it. */
    out(f, MCR, 0x1b);
    g_assert_cmpuint(serial_receive(f->s, two, 2), ==, 0);
    out(f, SCR, 0x00);
    g_assert_cmpuint(f->rx_ready, ==, 2);
    out(f, MCR, 0x0b);
    g_assert_cmpuint(f->rx_ready, ==, 3);

    /* A machine reset empties the receiver. */
    out(f, FCR, 0x00);
    g_assert_cmpuint(serial_receive(f->s, two, 2), ==, 1);
    serial_reset(f->s);
    g_assert_cmpuint(f->rx_ready, ==, 4);
    g_assert_cmpuint(serial_receive(f->s, two + 1, 1), ==, 1);
    g_assert_cmphex(in(f, RBR), ==, 'b');
}

static void test_wide_access(struct fixture *f, gconstpointer data)
{
    /* A word access covers consecutive registers, and beyond the eighth
     * register reads float high. */
    out(f, SCR, 0x42);
    g_assert_cmphex(dev_read(&serial_bus_ops, f->s, 6, 2) >> 8, ==, 0x42);
    g_assert_cmphex(dev_read(&serial_bus_ops, f->s, 7, 2), ==, 0xff42);
    dev_write(&serial_bus_ops, f->s, 3, 2, 0x0b83);     /* LCR, MCR */
    g_assert_cmphex(in(f, LCR), ==, 0x83);
    g_assert_cmphex(in(f, MCR), ==, 0x0b);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/serial/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("reset-state", test_reset_state);
    ADD("scratch", test_scratch);
    ADD("divisor-latch", test_divisor_latch);
    ADD("fifo-iir-bits", test_fifo_iir_bits);
    ADD("loopback", test_loopback);
    ADD("thre-interrupt", test_thre_interrupt);
    ADD("receive-interrupt", test_receive_interrupt);
    ADD("trigger-levels", test_trigger_levels);
    ADD("fifo-order-and-clear", test_fifo_order_and_clear);
    ADD("overrun", test_overrun);
    ADD("receive-flow-control", test_receive_flow_control);
    ADD("rx-ready-other-ways", test_rx_ready_other_ways);
    ADD("wide-access", test_wide_access);
#undef ADD
    return g_test_run();
}
