/* Unit tests for the i8042: controller commands, the keyboard and mouse
 * protocols behind it, the reset line and scancode translation. */
#include "hw/i8042.h"
#include "unit.h"

#define DATA 0      /* port 0x60 */
#define CMD 4       /* port 0x64 */

#define ST_OBF 0x01
#define ST_SYS 0x04
#define ST_AUX_OBF 0x20

struct fixture {
    struct i8042 k;
    struct irq_rec kbd_irq, aux_irq;
    struct power_rec power;
};

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    i8042_init(&f->k, irq_rec_line(&f->kbd_irq, 1), irq_rec_line(&f->aux_irq, 12),
               power_rec_power(&f->power));
}

static void teardown(struct fixture *f, gconstpointer data)
{
    pthread_mutex_destroy(&f->k.lock);
}

static uint8_t status(struct fixture *f)
{
    return dev_inb(&i8042_bus_ops, &f->k, CMD);
}

static void command(struct fixture *f, uint8_t v)
{
    dev_outb(&i8042_bus_ops, &f->k, CMD, v);
}

static void data_out(struct fixture *f, uint8_t v)
{
    dev_outb(&i8042_bus_ops, &f->k, DATA, v);
}

/* Reads the output buffer, which must be full. */
static uint8_t data_in(struct fixture *f)
{
    g_assert_cmphex(status(f) & ST_OBF, ==, ST_OBF);
    return dev_inb(&i8042_bus_ops, &f->k, DATA);
}

static void assert_empty(struct fixture *f)
{
    g_assert_cmphex(status(f) & ST_OBF, ==, 0);
}

static void test_self_test(struct fixture *f, gconstpointer data)
{
    assert_empty(f);
    g_assert_cmphex(status(f) & ST_SYS, ==, 0);
    command(f, 0xaa);
    g_assert_cmphex(data_in(f), ==, 0x55);
    g_assert_cmphex(status(f) & ST_SYS, ==, ST_SYS);
    assert_empty(f);
    /* Interface tests pass too. */
    command(f, 0xab);
    g_assert_cmphex(data_in(f), ==, 0x00);
    command(f, 0xa9);
    g_assert_cmphex(data_in(f), ==, 0x00);
}

static void test_command_byte(struct fixture *f, gconstpointer data)
{
    command(f, 0x20);
    g_assert_cmphex(data_in(f), ==, 0x43);
    command(f, 0x60);
    data_out(f, 0x47);
    assert_empty(f);
    command(f, 0x20);
    g_assert_cmphex(data_in(f), ==, 0x47);
    g_assert_cmphex(status(f) & ST_SYS, ==, ST_SYS);
    /* A8/A7 toggle the mouse-disable bit. */
    command(f, 0xa7);
    command(f, 0x20);
    g_assert_cmphex(data_in(f), ==, 0x67);
    command(f, 0xa8);
    command(f, 0x20);
    g_assert_cmphex(data_in(f), ==, 0x47);
}

/* A firmware that reads one byte per interrupt must get an interrupt per
 * byte: the PIC takes IRQ 1 on its rising edge. */
static void test_edge_per_byte(struct fixture *f, gconstpointer data)
{
    data_out(f, 0xff);      /* reset: fa, then aa */
    g_assert_cmpuint(f->kbd_irq.raises, ==, 1);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmpuint(f->kbd_irq.raises, ==, 2);
    g_assert_cmpint(f->kbd_irq.level, ==, 1);
    g_assert_cmphex(data_in(f), ==, 0xaa);
    g_assert_cmpuint(f->kbd_irq.raises, ==, 2);
    g_assert_cmpint(f->kbd_irq.level, ==, 0);
}

static void test_keyboard_reset(struct fixture *f, gconstpointer data)
{
    data_out(f, 0xff);
    g_assert_cmpint(f->kbd_irq.level, ==, 1);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmpint(f->kbd_irq.level, ==, 1);
    g_assert_cmphex(status(f) & ST_AUX_OBF, ==, 0);
    g_assert_cmphex(data_in(f), ==, 0xaa);
    assert_empty(f);
    g_assert_cmpint(f->kbd_irq.level, ==, 0);
    g_assert_cmpint(f->aux_irq.level, ==, 0);
    g_assert_cmpuint(f->power.resets, ==, 0);
}

static void test_keyboard_commands(struct fixture *f, gconstpointer data)
{
    data_out(f, 0xf2);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0xab);
    g_assert_cmphex(data_in(f), ==, 0x41);     /* translated: what set 1 hosts see */
    assert_empty(f);

    command(f, 0x60);
    data_out(f, 0x03);                          /* translation off */
    data_out(f, 0xf2);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0xab);
    g_assert_cmphex(data_in(f), ==, 0x83);

    data_out(f, 0xee);
    g_assert_cmphex(data_in(f), ==, 0xee);
    /* Scancode set: query, change, query. */
    data_out(f, 0xf0);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    data_out(f, 0x00);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0x02);
    data_out(f, 0xf0);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    data_out(f, 0x01);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    data_out(f, 0xf0);
    data_in(f);
    data_out(f, 0x00);
    data_in(f);
    g_assert_cmphex(data_in(f), ==, 0x01);
    /* LEDs take an argument, each byte acknowledged. */
    data_out(f, 0xed);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    data_out(f, 0x07);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    data_out(f, 0x12);
    g_assert_cmphex(data_in(f), ==, 0xfe);     /* unknown: resend */
    assert_empty(f);
}

static void test_mouse_commands(struct fixture *f, gconstpointer data)
{
    command(f, 0xd4);
    data_out(f, 0xf2);
    g_assert_cmpint(f->aux_irq.level, ==, 1);
    g_assert_cmpint(f->kbd_irq.level, ==, 0);
    g_assert_cmphex(status(f) & ST_AUX_OBF, ==, ST_AUX_OBF);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0x00);
    assert_empty(f);
    g_assert_cmpint(f->aux_irq.level, ==, 0);

    command(f, 0xd4);
    data_out(f, 0xff);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0xaa);
    g_assert_cmphex(data_in(f), ==, 0x00);

    /* Sample rate and resolution arguments also go through D4. */
    command(f, 0xd4);
    data_out(f, 0xf3);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    command(f, 0xd4);
    data_out(f, 40);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    command(f, 0xd4);
    data_out(f, 0xe8);
    data_in(f);
    command(f, 0xd4);
    data_out(f, 3);
    data_in(f);
    command(f, 0xd4);
    data_out(f, 0xf4);
    data_in(f);
    command(f, 0xd4);
    data_out(f, 0xe9);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0x20);     /* stream mode, enabled */
    g_assert_cmphex(data_in(f), ==, 3);
    g_assert_cmphex(data_in(f), ==, 40);
    assert_empty(f);

    /* Enabled and in stream mode, motion produces 3-byte packets. */
    i8042_mouse(&f->k, 5, 3, 0, 0x01);
    g_assert_cmpint(f->aux_irq.level, ==, 1);
    g_assert_cmphex(data_in(f), ==, 0x08 | 0x01 | 0x20);
    g_assert_cmphex(data_in(f), ==, 5);
    g_assert_cmphex(data_in(f), ==, (uint8_t)-3);
    assert_empty(f);

    /* Mouse data written back by D3 shows up as mouse output. */
    command(f, 0xd3);
    data_out(f, 0x5a);
    g_assert_cmphex(status(f) & ST_AUX_OBF, ==, ST_AUX_OBF);
    g_assert_cmphex(data_in(f), ==, 0x5a);
}

static void test_reset_line(struct fixture *f, gconstpointer data)
{
    command(f, 0xfe);
    g_assert_cmpuint(f->power.resets, ==, 1);
    g_assert_cmpuint(f->power.exits, ==, 0);
    /* Pulsing other lines with bit 0 left high is not a reset. */
    command(f, 0xff);
    g_assert_cmpuint(f->power.resets, ==, 1);

    /* Writing the output port with bit 0 set (A20 on) is harmless ... */
    command(f, 0xd1);
    data_out(f, 0x03);
    g_assert_cmpuint(f->power.resets, ==, 1);
    command(f, 0xd0);
    g_assert_cmphex(data_in(f), ==, 0x03);
    /* ... with bit 0 clear it resets the machine. */
    command(f, 0xd1);
    data_out(f, 0x02);
    g_assert_cmpuint(f->power.resets, ==, 2);
    g_assert_cmpstr(f->power.reason, ==, "keyboard-controller");
}

static void test_translation(struct fixture *f, gconstpointer data)
{
    static const uint8_t a_make[] = { 0x1c }, a_break[] = { 0xf0, 0x1c };
    static const uint8_t up_make[] = { 0xe0, 0x75 }, up_break[] = { 0xe0, 0xf0, 0x75 };
    static const uint8_t f7[] = { 0x83 }, esc[] = { 0x76 };

    i8042_key(&f->k, a_make, sizeof(a_make));
    g_assert_cmpint(f->kbd_irq.level, ==, 1);
    g_assert_cmphex(data_in(f), ==, 0x1e);
    i8042_key(&f->k, a_break, sizeof(a_break));
    g_assert_cmphex(data_in(f), ==, 0x9e);
    i8042_key(&f->k, up_make, sizeof(up_make));
    g_assert_cmphex(data_in(f), ==, 0xe0);
    g_assert_cmphex(data_in(f), ==, 0x48);
    i8042_key(&f->k, up_break, sizeof(up_break));
    g_assert_cmphex(data_in(f), ==, 0xe0);
    g_assert_cmphex(data_in(f), ==, 0xc8);
    i8042_key(&f->k, f7, sizeof(f7));
    g_assert_cmphex(data_in(f), ==, 0x41);
    i8042_key(&f->k, esc, sizeof(esc));
    g_assert_cmphex(data_in(f), ==, 0x01);
    assert_empty(f);
    g_assert_cmpint(f->kbd_irq.level, ==, 0);

    /* With translation off the guest gets set 2 as is. */
    command(f, 0x60);
    data_out(f, 0x01);
    i8042_key(&f->k, a_break, sizeof(a_break));
    g_assert_cmphex(data_in(f), ==, 0xf0);
    g_assert_cmphex(data_in(f), ==, 0x1c);

    /* A disabled keyboard sends nothing. */
    data_out(f, 0xf5);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    i8042_key(&f->k, a_make, sizeof(a_make));
    assert_empty(f);
}

static void test_disabled_interrupts(struct fixture *f, gconstpointer data)
{
    static const uint8_t a_make[] = { 0x1c };

    command(f, 0x60);
    data_out(f, 0x40);          /* translation on, both interrupts off */
    i8042_key(&f->k, a_make, sizeof(a_make));
    g_assert_cmphex(status(f) & ST_OBF, ==, ST_OBF);
    g_assert_cmpint(f->kbd_irq.level, ==, 0);
    g_assert_cmphex(data_in(f), ==, 0x1e);
}

static void aux_cmd(struct fixture *f, uint8_t v)
{
    command(f, 0xd4);
    data_out(f, v);
    g_assert_cmphex(data_in(f), ==, 0xfa);
}

/* Sample rates 200, 100, 80 make the mouse an IntelliMouse: ID 3 and a
 * fourth byte with the wheel, which counts towards the user. A reset
 * makes it a plain mouse again. */
static void test_intellimouse(struct fixture *f, gconstpointer data)
{
    static const uint8_t knock[] = { 200, 100, 80 };

    i8042_mouse(&f->k, 1, 1, 1, 0);
    assert_empty(f);            /* not enabled yet: nothing */
    for (unsigned i = 0; i < 3; i++) {
        aux_cmd(f, 0xf3);
        aux_cmd(f, knock[i]);
    }
    aux_cmd(f, 0xf2);
    g_assert_cmphex(data_in(f), ==, 3);
    aux_cmd(f, 0xf4);
    i8042_mouse(&f->k, -2, 0, 1, 0x04);
    g_assert_cmphex(data_in(f), ==, 0x08 | 0x04 | 0x10);
    g_assert_cmphex(data_in(f), ==, (uint8_t)-2);
    g_assert_cmphex(data_in(f), ==, 0);
    g_assert_cmphex(data_in(f), ==, (uint8_t)-1);
    i8042_mouse(&f->k, 0, 0, -20, 0);
    data_in(f), data_in(f), data_in(f);
    g_assert_cmphex(data_in(f), ==, 7);         /* clamped to 4 bits */
    assert_empty(f);

    command(f, 0xd4);
    data_out(f, 0xff);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0xaa);
    g_assert_cmphex(data_in(f), ==, 0x00);
    aux_cmd(f, 0xf2);
    g_assert_cmphex(data_in(f), ==, 0);
    /* The rates out of order do nothing. */
    for (unsigned i = 3; i-- > 0;) {
        aux_cmd(f, 0xf3);
        aux_cmd(f, knock[i]);
    }
    aux_cmd(f, 0xf2);
    g_assert_cmphex(data_in(f), ==, 0);
}

/* A full queue takes whole packets and key sequences or nothing. */
static void test_whole_packets(struct fixture *f, gconstpointer data)
{
    static const uint8_t up[] = { 0xe0, 0x75 };
    unsigned n = 0;

    aux_cmd(f, 0xf4);
    for (unsigned i = 0; i < 40; i++)
        i8042_mouse(&f->k, 1, 1, 0, 0);
    while (status(f) & ST_OBF) {
        data_in(f);
        n++;
    }
    g_assert_cmpuint(n, >, 0);
    g_assert_cmpuint(n % 3, ==, 0);

    n = 0;
    for (unsigned i = 0; i < 40; i++)
        i8042_key(&f->k, up, sizeof(up));
    while (status(f) & ST_OBF) {
        g_assert_cmphex(data_in(f), ==, n % 2 ? 0x48 : 0xe0);
        n++;
    }
    g_assert_cmpuint(n % 2, ==, 0);
}

/* The scancode set, read back through a translating controller. */
static void test_set_query(struct fixture *f, gconstpointer data)
{
    data_out(f, 0xf0);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    data_out(f, 0x00);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(data_in(f), ==, 0x41);
    command(f, 0x60);
    data_out(f, 0x01);          /* translation off */
    data_out(f, 0xf0);
    data_in(f);
    data_out(f, 0x00);
    data_in(f);
    g_assert_cmphex(data_in(f), ==, 0x02);
}

static void test_leds(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(i8042_leds(&f->k), ==, 0);
    data_out(f, 0xed);
    g_assert_cmphex(data_in(f), ==, 0xfa);
    data_out(f, 0xff);          /* only the three lock LEDs exist */
    g_assert_cmphex(data_in(f), ==, 0xfa);
    g_assert_cmphex(i8042_leds(&f->k), ==, 7);
    data_out(f, 0xed);
    data_in(f);
    data_out(f, 0x04);
    data_in(f);
    g_assert_cmphex(i8042_leds(&f->k), ==, 4);
    data_out(f, 0xff);          /* keyboard reset */
    data_in(f), data_in(f);
    g_assert_cmphex(i8042_leds(&f->k), ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/i8042/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("self-test", test_self_test);
    ADD("command-byte", test_command_byte);
    ADD("edge-per-byte", test_edge_per_byte);
    ADD("keyboard-reset", test_keyboard_reset);
    ADD("keyboard-commands", test_keyboard_commands);
    ADD("mouse-commands", test_mouse_commands);
    ADD("reset-line", test_reset_line);
    ADD("translation", test_translation);
    ADD("disabled-interrupts", test_disabled_interrupts);
    ADD("intellimouse", test_intellimouse);
    ADD("leds", test_leds);
    ADD("whole-packets", test_whole_packets);
    ADD("set-query", test_set_query);
#undef ADD
    return g_test_run();
}
