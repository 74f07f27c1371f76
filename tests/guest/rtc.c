/* MC146818 RTC/CMOS: wall clock, data formats, update-ended interrupt and
 * the memory size fields. Compared: status A (rate bits), B's 24h/binary bits,
 * D's VRT bit, the memory size bytes 0x15-0x18, 0x30/0x31, 0x34/0x35,
 * 0x5b-0x5d and 0x5f, and that the formats and update interrupts behave. The
 * runner checks the RTC line against host UTC. */
#include "rt/rt.h"

#define RTC_SEC 0x00
#define RTC_MIN 0x02
#define RTC_HOUR 0x04
#define RTC_MDAY 0x07
#define RTC_MON 0x08
#define RTC_YEAR 0x09
#define RTC_A 0x0a
#define RTC_B 0x0b
#define RTC_C 0x0c
#define RTC_D 0x0d
#define RTC_CENTURY 0x32

#define A_UIP 0x80
#define B_SET 0x80
#define B_UIE 0x10
#define B_DM_BINARY 0x04
#define B_24H 0x02
#define C_IRQF 0x80
#define C_UF 0x10

#define IRQ_PIT 0
#define IRQ_RTC 8

struct rtc_time {
    unsigned year, mon, mday, hour, min, sec;
};

static volatile unsigned pit_ticks;
static volatile unsigned update_irqs;
static volatile uint8_t last_c;

static void pit_handler(struct rt_frame *f)
{
    (void)f;
    pit_ticks++;
    rt_pic_eoi(IRQ_PIT);
}

static void rtc_handler(struct rt_frame *f)
{
    (void)f;
    /* Reading C acknowledges the interrupt; until then the RTC keeps its
     * line asserted and sends no further ones. */
    uint8_t c = rt_cmos_read(RTC_C);
    last_c = c;
    if (c & C_UF)
        update_irqs++;
    rt_pic_eoi(IRQ_RTC);
}

static unsigned from_bcd(uint8_t v)
{
    return (v >> 4) * 10 + (v & 15);
}

static bool wait_not_uip(void)
{
    /* UIP stays set for under 2 ms per second; each poll is a port exit,
     * so this bound is generous even on a fast host. */
    for (int i = 0; i < 200000; i++) {
        if (!(rt_cmos_read(RTC_A) & A_UIP))
            return true;
    }
    return false;
}

static void read_raw(uint8_t r[7])
{
    r[0] = rt_cmos_read(RTC_SEC);
    r[1] = rt_cmos_read(RTC_MIN);
    r[2] = rt_cmos_read(RTC_HOUR);
    r[3] = rt_cmos_read(RTC_MDAY);
    r[4] = rt_cmos_read(RTC_MON);
    r[5] = rt_cmos_read(RTC_YEAR);
    r[6] = rt_cmos_read(RTC_CENTURY);
}

/* Reads until two passes agree so an update between bytes cannot tear the
 * result, then decodes according to the format status B selects. */
static struct rtc_time read_time(void)
{
    uint8_t a[7], b[7];
    int tries = 0;
    do {
        if (!wait_not_uip())
            rt_fail("UIP never clears");
        read_raw(a);
        if (!wait_not_uip())
            rt_fail("UIP never clears");
        read_raw(b);
        if (++tries > 20)
            rt_fail("RTC never reads the same twice");
    } while (memcmp(a, b, sizeof(a)) != 0);

    uint8_t regb = rt_cmos_read(RTC_B);
    bool bcd = !(regb & B_DM_BINARY);
    bool pm = false;
    if (!(regb & B_24H)) {
        pm = a[2] & 0x80;
        a[2] &= 0x7f;
    }
    struct rtc_time t;
    t.sec = bcd ? from_bcd(a[0]) : a[0];
    t.min = bcd ? from_bcd(a[1]) : a[1];
    t.hour = bcd ? from_bcd(a[2]) : a[2];
    t.mday = bcd ? from_bcd(a[3]) : a[3];
    t.mon = bcd ? from_bcd(a[4]) : a[4];
    unsigned year = bcd ? from_bcd(a[5]) : a[5];
    unsigned century = bcd ? from_bcd(a[6]) : a[6];
    if (!(regb & B_24H)) {
        /* 12-hour mode: 12 AM is midnight, 12 PM is noon. */
        if (t.hour == 12)
            t.hour = 0;
        if (pm)
            t.hour += 12;
    }
    if (century < 19 || century > 30)
        century = 20;
    t.year = century * 100 + year;
    return t;
}

static unsigned day_seconds(const struct rtc_time *t)
{
    return t->hour * 3600 + t->min * 60 + t->sec;
}

static unsigned seconds_after(const struct rtc_time *from, const struct rtc_time *to)
{
    unsigned a = day_seconds(from), b = day_seconds(to);
    return b >= a ? b - a : b + 86400 - a;
}

static uint8_t cmos(uint8_t reg)
{
    return rt_cmos_read(reg);
}

static void check_formats(uint8_t regb, const struct rtc_time *ref)
{
    /* Switch the data mode and hour format; the clock keeps running in the
     * chip, only the way the registers present it changes. */
    rt_cmos_write(RTC_B, (uint8_t)((regb & ~B_24H) | B_DM_BINARY));
    struct rtc_time bin12 = read_time();
    rt_cmos_write(RTC_B, (uint8_t)(regb & ~(B_24H | B_DM_BINARY)));
    struct rtc_time bcd12 = read_time();
    rt_cmos_write(RTC_B, regb);

    unsigned d1 = seconds_after(ref, &bin12);
    unsigned d2 = seconds_after(ref, &bcd12);
    bool ok = d1 <= 2 && d2 <= 2 && bin12.mday == ref->mday && bin12.mon == ref->mon &&
              bin12.year == ref->year;
    rt_printf("binary 12h %02u:%02u:%02u, bcd 12h %02u:%02u:%02u\n", bin12.hour,
              bin12.min, bin12.sec, bcd12.hour, bcd12.min, bcd12.sec);
    rt_printf("= binary and 12-hour formats consistent: %s\n", ok ? "yes" : "no");
    RT_CHECK(ok, "formats disagree (%u s, %u s apart)", d1, d2);
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_lapic_init(true);
    rt_ioapic_mask_all();

    uint8_t rega = cmos(RTC_A), regb = cmos(RTC_B), regd = cmos(RTC_D);
    rt_printf("status a %02x b %02x d %02x\n", rega, regb, regd);
    rt_printf("= status a rate bits %02x\n", rega & 0x7f);
    rt_printf("= status b 24h %u binary %u\n", !!(regb & B_24H), !!(regb & B_DM_BINARY));
    rt_printf("= status d vrt %u\n", regd >> 7);
    RT_CHECK(regd & 0x80, "status D reports invalid RAM/time (%02x)", regd);
    RT_CHECK(!(regb & B_SET), "status B has SET (%02x): clock halted", regb);

    unsigned base_kb = cmos(0x15) | cmos(0x16) << 8;
    unsigned ext_kb = cmos(0x17) | cmos(0x18) << 8;
    unsigned ext2_kb = cmos(0x30) | cmos(0x31) << 8;
    unsigned above16m = cmos(0x34) | cmos(0x35) << 8;
    unsigned above4g = cmos(0x5b) | cmos(0x5c) << 8 | (unsigned)cmos(0x5d) << 16;
    rt_printf("= cmos base memory %u KiB\n", base_kb);
    rt_printf("= cmos extended memory %u KiB (0x17) %u KiB (0x30)\n", ext_kb, ext2_kb);
    rt_printf("= cmos memory above 16M %u x 64 KiB\n", above16m);
    rt_printf("= cmos memory above 4G %u x 64 KiB\n", above4g);
    rt_printf("= cmos cpus - 1 (0x5f) %u\n", cmos(0x5f));
    RT_CHECK(base_kb == 640, "base memory %u KiB", base_kb);

    struct rtc_time t0 = read_time();
    rt_printf("RTC %04u-%02u-%02u %02u:%02u:%02u\n", t0.year, t0.mon, t0.mday, t0.hour,
              t0.min, t0.sec);
    RT_CHECK(t0.mon >= 1 && t0.mon <= 12 && t0.mday >= 1 && t0.mday <= 31 &&
                 t0.hour < 24 && t0.min < 60 && t0.sec < 60,
             "RTC fields out of range");

    check_formats(regb, &t0);

    /* Wait for two update-ended interrupts with hlt; the PIT on IRQ0 bounds
     * the wait at about 4 s if the RTC never interrupts. */
    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_PIT, pit_handler);
    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_RTC, rtc_handler);
    rt_pit_periodic(100);
    (void)cmos(RTC_C);
    rt_cmos_write(RTC_B, regb | B_UIE);
    rt_pic_set_mask((uint16_t)~((1u << IRQ_PIT) | (1u << 2) | (1u << IRQ_RTC)));
    while (update_irqs < 2 && pit_ticks < 400)
        rt_sti_hlt();
    rt_pic_set_mask(0xffff);
    rt_cmos_write(RTC_B, regb);
    unsigned ticks = pit_ticks;

    struct rtc_time t1 = read_time();
    unsigned elapsed = seconds_after(&t0, &t1);
    rt_printf("update interrupts %u after %u PIT ticks, last C %02x, %u s elapsed\n",
              update_irqs, ticks, last_c, elapsed);
    RT_CHECK(update_irqs >= 2, "%u update-ended interrupts in %u PIT ticks", update_irqs,
             ticks);
    RT_CHECK(last_c & C_IRQF, "register C without IRQF: %02x", last_c);
    rt_printf("= update-ended interrupts ok\n");
    RT_CHECK(elapsed >= 1 && elapsed <= 5, "seconds advanced by %u", elapsed);
    rt_printf("= seconds advance\n");

    rt_pass();
}
