/* Unit tests for the MC146818 RTC: the CMOS bytes firmware sizes memory from,
 * time formats, the guest setting the clock, and the interrupt flags. */
#include <poll.h>
#include <time.h>

#include "hw/rtc.h"
#include "unit.h"

#define REG_SEC 0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN 0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR 0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY 0x06
#define REG_MDAY 0x07
#define REG_MON 0x08
#define REG_YEAR 0x09
#define REG_A 0x0a
#define REG_B 0x0b
#define REG_C 0x0c
#define REG_D 0x0d
#define REG_CENTURY 0x32

#define B_SET 0x80
#define B_PIE 0x40
#define B_AIE 0x20
#define B_UIE 0x10
#define B_DM 0x04
#define B_24H 0x02

#define MIB (1ull << 20)
#define GIB (1ull << 30)

struct fixture {
    struct rtc rtc;
    struct irq_rec irq;
};

static void setup_layout(struct fixture *f, const struct rtc_mem_layout *layout)
{
    memset(&f->irq, 0, sizeof(f->irq));
    g_assert_cmpint(rtc_init(&f->rtc, irq_rec_line(&f->irq, 8), layout), ==, 0);
}

static void setup(struct fixture *f, gconstpointer data)
{
    struct rtc_mem_layout layout = { 512 * MIB, 0, 1 };

    setup_layout(f, &layout);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    rtc_destroy(&f->rtc);
}

static uint8_t cmos_read(struct fixture *f, uint8_t index)
{
    dev_outb(&rtc_bus_ops, &f->rtc, 0, index);
    return dev_inb(&rtc_bus_ops, &f->rtc, 1);
}

static void cmos_write(struct fixture *f, uint8_t index, uint8_t v)
{
    dev_outb(&rtc_bus_ops, &f->rtc, 0, index);
    dev_outb(&rtc_bus_ops, &f->rtc, 1, v);
}

static unsigned cmos_read16(struct fixture *f, uint8_t index)
{
    return cmos_read(f, index) | (unsigned)cmos_read(f, index + 1) << 8;
}

static int decode(uint8_t b, uint8_t v)
{
    return (b & B_DM) ? v : (v >> 4) * 10 + (v & 0x0f);
}

static bool is_bcd(uint8_t v)
{
    return (v >> 4) < 10 && (v & 0x0f) < 10;
}

struct rtc_time {
    uint8_t sec, min, hour, mday, mon, year, century;
};

static void read_time_once(struct fixture *f, struct rtc_time *t)
{
    t->sec = cmos_read(f, REG_SEC);
    t->min = cmos_read(f, REG_MIN);
    t->hour = cmos_read(f, REG_HOUR);
    t->mday = cmos_read(f, REG_MDAY);
    t->mon = cmos_read(f, REG_MON);
    t->year = cmos_read(f, REG_YEAR);
    t->century = cmos_read(f, REG_CENTURY);
}

/* Reads until two passes agree, as guests do, so that a second rolling
 * over between two registers does not produce a time a minute off. */
static void read_time(struct fixture *f, struct rtc_time *t)
{
    struct rtc_time again;

    read_time_once(f, t);
    for (int i = 0; i < 10; i++) {
        read_time_once(f, &again);
        if (memcmp(t, &again, sizeof(again)) == 0)
            return;
        *t = again;
    }
    g_assert_not_reached();
}

static time_t rtc_time_to_unix(const struct rtc_time *t, uint8_t b)
{
    struct tm tm = { 0 };
    int hour;

    if (b & B_24H) {
        hour = decode(b, t->hour);
    } else {
        hour = decode(b, t->hour & 0x7f) % 12;
        if (t->hour & 0x80)
            hour += 12;
    }
    tm.tm_sec = decode(b, t->sec);
    tm.tm_min = decode(b, t->min);
    tm.tm_hour = hour;
    tm.tm_mday = decode(b, t->mday);
    tm.tm_mon = decode(b, t->mon) - 1;
    tm.tm_year = decode(b, t->century) * 100 + decode(b, t->year) - 1900;
    return timegm(&tm);
}

static void assert_near_host(struct fixture *f)
{
    struct rtc_time t;
    time_t before = time(NULL), guest, after;
    uint8_t b = cmos_read(f, REG_B);

    read_time(f, &t);
    after = time(NULL);
    guest = rtc_time_to_unix(&t, b);
    g_assert_cmpint(guest, >=, before - 1);
    g_assert_cmpint(guest, <=, after + 1);
}

/* Sets 2021-06-15 hh:mm:ss (BCD, 24-hour) the way a guest does. */
static void set_time(struct fixture *f, uint8_t hour, uint8_t min, uint8_t sec)
{
    uint8_t b = cmos_read(f, REG_B);

    cmos_write(f, REG_B, b | B_SET);
    cmos_write(f, REG_SEC, sec);
    cmos_write(f, REG_MIN, min);
    cmos_write(f, REG_HOUR, hour);
    cmos_write(f, REG_MDAY, 0x15);
    cmos_write(f, REG_MON, 0x06);
    cmos_write(f, REG_YEAR, 0x21);
    cmos_write(f, REG_CENTURY, 0x20);
    cmos_write(f, REG_B, b & ~B_SET);
}

static void test_cmos_layout(void)
{
    static const struct {
        struct rtc_mem_layout layout;
        unsigned base_kb, ext_kb, ext16_64k, high_64k, cpus_minus_one;
    } cases[] = {
        /* Extended memory in KiB saturates at 0xffff. */
        { { 3 * GIB, 5 * GIB, 4 }, 640, 0xffff, (3 * 1024 - 16) * 16, 5 * GIB / 65536, 3 },
        { { 64 * MIB, 0, 1 }, 640, 63 * 1024, 48 * 16, 0, 0 },
        { { 2 * MIB, 0, 2 }, 640, 1024, 0, 0, 1 },
        { { 0xb0000000ull, 64 * GIB, 64 }, 640, 0xffff, (0xb00 - 0x10) * 16, 64 * GIB / 65536, 63 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct fixture f;

        setup_layout(&f, &cases[i].layout);
        g_assert_cmpuint(cmos_read16(&f, 0x15), ==, cases[i].base_kb);
        g_assert_cmpuint(cmos_read16(&f, 0x17), ==, cases[i].ext_kb);
        g_assert_cmpuint(cmos_read16(&f, 0x30), ==, cases[i].ext_kb);
        g_assert_cmpuint(cmos_read16(&f, 0x34), ==, cases[i].ext16_64k);
        g_assert_cmpuint(cmos_read16(&f, 0x5b) | (unsigned)cmos_read(&f, 0x5d) << 16, ==,
                         cases[i].high_64k);
        g_assert_cmpuint(cmos_read(&f, 0x5f), ==, cases[i].cpus_minus_one);
        g_assert_cmphex(cmos_read(&f, REG_D), ==, 0x80);
        teardown(&f, NULL);
    }
}

static void test_cmos_ram(struct fixture *f, gconstpointer data)
{
    /* Bit 7 of the index is the NMI mask, not part of the address. */
    cmos_write(f, 0x80 | 0x40, 0x99);
    g_assert_cmphex(cmos_read(f, 0x40), ==, 0x99);
    cmos_write(f, 0x7f, 0x12);
    g_assert_cmphex(cmos_read(f, 0xff), ==, 0x12);
    /* C and D are read-only, the index port reads as floating. */
    cmos_write(f, REG_D, 0x00);
    g_assert_cmphex(cmos_read(f, REG_D), ==, 0x80);
    g_assert_cmphex(dev_inb(&rtc_bus_ops, &f->rtc, 0), ==, 0xff);
}

static void test_bcd_and_binary(struct fixture *f, gconstpointer data)
{
    struct rtc_time t;

    g_assert_cmphex(cmos_read(f, REG_B) & (B_DM | B_24H), ==, B_24H);
    read_time(f, &t);
    g_assert_true(is_bcd(t.sec) && is_bcd(t.min) && is_bcd(t.hour) && is_bcd(t.mday) &&
                  is_bcd(t.mon) && is_bcd(t.year));
    g_assert_cmphex(t.century, ==, 0x20);
    assert_near_host(f);

    cmos_write(f, REG_B, B_24H | B_DM);
    read_time(f, &t);
    g_assert_cmphex(t.century, ==, 20);
    g_assert_cmpuint(t.sec, <, 60);
    g_assert_cmpuint(t.min, <, 60);
    g_assert_cmpuint(t.hour, <, 24);
    g_assert_cmpuint(t.mon, >=, 1);
    g_assert_cmpuint(t.mon, <=, 12);
    assert_near_host(f);

    /* A fixed time shows the encoding unambiguously. */
    cmos_write(f, REG_B, B_24H);
    set_time(f, 0x23, 0x59, 0x00);
    g_assert_cmphex(cmos_read(f, REG_HOUR), ==, 0x23);
    g_assert_cmphex(cmos_read(f, REG_MIN), ==, 0x59);
    cmos_write(f, REG_B, B_24H | B_DM);
    g_assert_cmpuint(cmos_read(f, REG_HOUR), ==, 23);
    g_assert_cmpuint(cmos_read(f, REG_MIN), ==, 59);
    g_assert_cmpuint(cmos_read(f, REG_YEAR), ==, 21);
    g_assert_cmpuint(cmos_read(f, REG_MON), ==, 6);
    g_assert_cmpuint(cmos_read(f, REG_MDAY), ==, 15);
    g_assert_cmpuint(cmos_read(f, REG_WDAY), ==, 3);     /* a Tuesday, Sunday being 1 */
}

static void test_twelve_hour(struct fixture *f, gconstpointer data)
{
    set_time(f, 0x15, 0x04, 0x05);
    cmos_write(f, REG_B, 0);
    g_assert_cmphex(cmos_read(f, REG_HOUR), ==, 0x80 | 0x03);
    cmos_write(f, REG_B, B_DM);
    g_assert_cmphex(cmos_read(f, REG_HOUR), ==, 0x80 | 3);

    cmos_write(f, REG_B, B_24H);
    set_time(f, 0x00, 0x30, 0x00);
    cmos_write(f, REG_B, 0);
    g_assert_cmphex(cmos_read(f, REG_HOUR), ==, 0x12);     /* 12 AM */
    cmos_write(f, REG_B, B_24H);
    set_time(f, 0x12, 0x30, 0x00);
    cmos_write(f, REG_B, 0);
    g_assert_cmphex(cmos_read(f, REG_HOUR), ==, 0x92);     /* 12 PM */
    cmos_write(f, REG_B, B_DM);
    g_assert_cmphex(cmos_read(f, REG_HOUR), ==, 0x8c);

    /* A guest in 12-hour mode sets 1 PM; 24-hour mode then reads 13. */
    cmos_write(f, REG_B, 0);
    cmos_write(f, REG_B, B_SET);
    cmos_write(f, REG_HOUR, 0x81);
    cmos_write(f, REG_B, 0);
    cmos_write(f, REG_B, B_24H);
    g_assert_cmphex(cmos_read(f, REG_HOUR), ==, 0x13);
    g_assert_cmphex(cmos_read(f, REG_MIN), ==, 0x30);
}

static void test_near_host(struct fixture *f, gconstpointer data)
{
    assert_near_host(f);
    g_assert_cmphex(cmos_read(f, REG_A) & 0x7f, ==, 0x26);
}

static void test_guest_sets_time(struct fixture *f, gconstpointer data)
{
    struct rtc_time t;
    struct tm want = { .tm_year = 121, .tm_mon = 5, .tm_mday = 15, .tm_hour = 10, .tm_min = 45,
                       .tm_sec = 30 };
    time_t guest;

    cmos_write(f, REG_B, B_SET | B_24H);
    cmos_write(f, REG_SEC, 0x30);
    cmos_write(f, REG_MIN, 0x45);
    cmos_write(f, REG_HOUR, 0x10);
    cmos_write(f, REG_MDAY, 0x15);
    cmos_write(f, REG_MON, 0x06);
    cmos_write(f, REG_YEAR, 0x21);
    cmos_write(f, REG_CENTURY, 0x20);
    /* While SET is on the registers hold what was written. */
    g_assert_cmphex(cmos_read(f, REG_SEC), ==, 0x30);
    g_assert_cmphex(cmos_read(f, REG_YEAR), ==, 0x21);
    cmos_write(f, REG_B, B_24H);

    read_time(f, &t);
    g_assert_cmphex(t.century, ==, 0x20);
    g_assert_cmphex(t.year, ==, 0x21);
    g_assert_cmphex(t.mon, ==, 0x06);
    g_assert_cmphex(t.mday, ==, 0x15);
    g_assert_cmphex(t.hour, ==, 0x10);
    g_assert_cmphex(t.min, ==, 0x45);
    guest = rtc_time_to_unix(&t, B_24H);
    g_assert_cmpint(guest, >=, timegm(&want));
    g_assert_cmpint(guest, <=, timegm(&want) + 2);

    /* A plain write without SET moves the clock too. */
    cmos_write(f, REG_YEAR, 0x30);
    g_assert_cmphex(cmos_read(f, REG_YEAR), ==, 0x30);
    g_assert_cmphex(cmos_read(f, REG_MON), ==, 0x06);
}

static void test_reg_c_clears(struct fixture *f, gconstpointer data)
{
    uint8_t c;

    /* Frozen and with no periodic rate, nothing can set a flag, so what
     * follows does not depend on timing. */
    cmos_write(f, REG_B, B_SET | B_24H);
    cmos_write(f, REG_A, 0x2f);         /* 500 ms */
    cmos_read(f, REG_C);
    g_usleep(600 * 1000);
    /* Any time register read brings the flags up to date. */
    cmos_read(f, REG_SEC);
    cmos_write(f, REG_A, 0x20);
    c = cmos_read(f, REG_C);
    g_assert_cmphex(c & 0x40, ==, 0x40);
    g_assert_cmphex(c & 0x80, ==, 0x00);       /* PIE off: no IRQF */
    g_assert_cmphex(cmos_read(f, REG_C), ==, 0x00);
    g_assert_cmpint(f->irq.level, ==, 0);
    g_assert_cmpuint(f->irq.raises, ==, 0);
}

static void test_set_clears_uie(struct fixture *f, gconstpointer data)
{
    cmos_write(f, REG_B, 0x10 | B_24H);                /* UIE */
    g_assert_cmphex(cmos_read(f, REG_B) & 0x10, ==, 0x10);
    cmos_write(f, REG_B, B_SET | 0x10 | B_24H);
    g_assert_cmphex(cmos_read(f, REG_B), ==, B_SET | B_24H);
}

static void test_periodic_flag(struct fixture *f, gconstpointer data)
{
    /* The default rate is 1024 Hz. */
    cmos_read(f, REG_C);
    g_usleep(5 * 1000);
    g_assert_cmphex(cmos_read(f, REG_C) & 0xc0, ==, 0x40);
}

/* Runs the RTC's timer as the main loop would until IRQ 8 is raised. The
 * timer runs on the monotonic clock and the RTC on the real-time clock, so a
 * wakeup may come a hair early and only re-arm the timer. */
static bool wait_irq(struct fixture *f, int ms)
{
    int64_t deadline = g_get_monotonic_time() + ms * 1000ll;

    while (!f->irq.level) {
        struct pollfd p = { .fd = rtc_timer_fd(&f->rtc), .events = POLLIN };
        int64_t left = deadline - g_get_monotonic_time();

        if (left <= 0 || poll(&p, 1, (int)(left / 1000) + 1) != 1)
            return false;
        rtc_timer_fired(&f->rtc);
    }
    return true;
}

static void test_periodic_interrupt(struct fixture *f, gconstpointer data)
{
    uint8_t c;

    cmos_write(f, REG_A, 0x2a);         /* 64 Hz */
    cmos_read(f, REG_C);
    cmos_write(f, REG_B, B_PIE | B_24H);
    g_assert_true(wait_irq(f, 2000));
    g_assert_cmpuint(f->irq.gsi, ==, 8);
    c = cmos_read(f, REG_C);
    g_assert_cmphex(c & 0xc0, ==, 0xc0);
    g_assert_cmpint(f->irq.level, ==, 0);

    /* It keeps coming while PIE is on. */
    g_assert_true(wait_irq(f, 2000));
    g_assert_cmpuint(f->irq.raises, ==, 2);
    cmos_read(f, REG_C);
}

static void test_update_and_alarm(struct fixture *f, gconstpointer data)
{
    uint8_t c;

    /* Don't-care alarm fields match every second. */
    cmos_write(f, REG_SEC_ALARM, 0xc0);
    cmos_write(f, REG_MIN_ALARM, 0xff);
    cmos_write(f, REG_HOUR_ALARM, 0xc0);
    cmos_write(f, REG_A, 0x20);
    cmos_read(f, REG_C);
    cmos_write(f, REG_B, B_UIE | B_AIE | B_24H);
    g_assert_true(wait_irq(f, 2000));
    c = cmos_read(f, REG_C);
    g_assert_cmphex(c, ==, 0x80 | 0x20 | 0x10);
    g_assert_cmpint(f->irq.level, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/rtc/cmos-layout", test_cmos_layout);
#define ADD(path, fn) g_test_add("/rtc/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("cmos-ram", test_cmos_ram);
    ADD("bcd-and-binary", test_bcd_and_binary);
    ADD("twelve-hour", test_twelve_hour);
    ADD("near-host", test_near_host);
    ADD("guest-sets-time", test_guest_sets_time);
    ADD("reg-c-clears", test_reg_c_clears);
    ADD("set-clears-uie", test_set_clears_uie);
    ADD("periodic-flag", test_periodic_flag);
    ADD("periodic-interrupt", test_periodic_interrupt);
    ADD("update-and-alarm", test_update_and_alarm);
#undef ADD
    return g_test_run();
}
