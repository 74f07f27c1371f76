/* MC146818 RTC: time from the host's UTC clock plus whatever offset the guest
 * sets, BCD/binary and 12/24-hour formats, periodic, alarm and update-ended
 * interrupts on IRQ 8, and the CMOS bytes firmware reads for memory size. */
#include "rtc.h"

#include <errno.h>
#include <string.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#define REG_SEC       0x00
#define REG_SEC_ALARM 0x01
#define REG_MIN       0x02
#define REG_MIN_ALARM 0x03
#define REG_HOUR      0x04
#define REG_HOUR_ALARM 0x05
#define REG_WDAY      0x06
#define REG_MDAY      0x07
#define REG_MON       0x08
#define REG_YEAR      0x09
#define REG_A         0x0a
#define REG_B         0x0b
#define REG_C         0x0c
#define REG_D         0x0d
#define REG_CENTURY   0x32

#define A_UIP  0x80
#define B_SET  0x80
#define B_PIE  0x40
#define B_AIE  0x20
#define B_UIE  0x10
#define B_DM   0x04
#define B_24H  0x02
#define C_IRQF 0x80
#define C_PF   0x40
#define C_AF   0x20
#define C_UF   0x10

#define NS_PER_SEC 1000000000ll
/* The update cycle takes 244 us; UIP is set for that long before it. */
#define UIP_NS 244000ll

static int64_t host_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS_PER_SEC + ts.tv_nsec;
}

static int64_t guest_ns(const struct rtc *rtc)
{
    return host_ns() + rtc->offset_ns;
}

static uint8_t to_reg(const struct rtc *rtc, int v)
{
    if (rtc->cmos[REG_B] & B_DM)
        return (uint8_t)v;
    return (uint8_t)(((v / 10) << 4) | (v % 10));
}

static int from_reg(const struct rtc *rtc, uint8_t v)
{
    if (rtc->cmos[REG_B] & B_DM)
        return v;
    return ((v >> 4) & 0x0f) * 10 + (v & 0x0f);
}

static uint8_t hour_to_reg(const struct rtc *rtc, int hour)
{
    if (rtc->cmos[REG_B] & B_24H)
        return to_reg(rtc, hour);
    int h12 = hour % 12 == 0 ? 12 : hour % 12;
    return (uint8_t)(to_reg(rtc, h12) | (hour >= 12 ? 0x80 : 0));
}

static int hour_from_reg(const struct rtc *rtc, uint8_t v)
{
    if (rtc->cmos[REG_B] & B_24H)
        return from_reg(rtc, v);
    int h = from_reg(rtc, v & 0x7f) % 12;
    return (v & 0x80) ? h + 12 : h;
}

/* Writes the broken-down guest time into the time registers. */
static void store_time(struct rtc *rtc, int64_t t_ns)
{
    time_t secs = (time_t)(t_ns / NS_PER_SEC);
    struct tm tm;

    gmtime_r(&secs, &tm);
    rtc->cmos[REG_SEC] = to_reg(rtc, tm.tm_sec);
    rtc->cmos[REG_MIN] = to_reg(rtc, tm.tm_min);
    rtc->cmos[REG_HOUR] = hour_to_reg(rtc, tm.tm_hour);
    rtc->cmos[REG_WDAY] = to_reg(rtc, tm.tm_wday + 1);
    rtc->cmos[REG_MDAY] = to_reg(rtc, tm.tm_mday);
    rtc->cmos[REG_MON] = to_reg(rtc, tm.tm_mon + 1);
    rtc->cmos[REG_YEAR] = to_reg(rtc, tm.tm_year % 100);
    rtc->cmos[REG_CENTURY] = to_reg(rtc, (tm.tm_year + 1900) / 100);
}

/* Takes the time registers as the guest wrote them as the new time. */
static void load_time(struct rtc *rtc)
{
    struct tm tm = { 0 };
    int64_t t;

    tm.tm_sec = from_reg(rtc, rtc->cmos[REG_SEC]);
    tm.tm_min = from_reg(rtc, rtc->cmos[REG_MIN]);
    tm.tm_hour = hour_from_reg(rtc, rtc->cmos[REG_HOUR]);
    tm.tm_mday = from_reg(rtc, rtc->cmos[REG_MDAY]);
    tm.tm_mon = from_reg(rtc, rtc->cmos[REG_MON]) - 1;
    tm.tm_year = from_reg(rtc, rtc->cmos[REG_CENTURY]) * 100 + from_reg(rtc, rtc->cmos[REG_YEAR]) - 1900;
    if (tm.tm_year < 70)
        tm.tm_year += 100;
    t = (int64_t)timegm(&tm);
    if (t == -1)
        return;
    rtc->offset_ns = t * NS_PER_SEC - host_ns();
    rtc->last_ns = guest_ns(rtc);
}

static int64_t period_ns(const struct rtc *rtc)
{
    unsigned rate = rtc->cmos[REG_A] & 0x0f;

    if (rate == 0)
        return 0;
    if (rate < 3)
        rate += 7;      /* rates 1 and 2 repeat 8 and 9 */
    return (int64_t)(1u << (rate - 1)) * NS_PER_SEC / 32768;
}

static bool alarm_field_matches(uint8_t alarm, uint8_t now)
{
    return (alarm & 0xc0) == 0xc0 || alarm == now;
}

/* Sets PF/AF/UF for what happened between last_ns and now, and drives IRQ 8. */
static void update_flags(struct rtc *rtc)
{
    int64_t now = guest_ns(rtc), last = rtc->last_ns, p = period_ns(rtc);
    uint8_t c = rtc->cmos[REG_C];

    if (now < last) {
        rtc->last_ns = now;
        return;
    }
    if (p && now / p != last / p)
        c |= C_PF;
    if (!rtc->frozen && now / NS_PER_SEC != last / NS_PER_SEC) {
        c |= C_UF;
        store_time(rtc, now);
        if (alarm_field_matches(rtc->cmos[REG_SEC_ALARM], rtc->cmos[REG_SEC]) &&
            alarm_field_matches(rtc->cmos[REG_MIN_ALARM], rtc->cmos[REG_MIN]) &&
            alarm_field_matches(rtc->cmos[REG_HOUR_ALARM], rtc->cmos[REG_HOUR]))
            c |= C_AF;
    }
    rtc->last_ns = now;
    if (c & rtc->cmos[REG_B] & (B_PIE | B_AIE | B_UIE))
        c |= C_IRQF;
    if ((c & C_IRQF) && !(rtc->cmos[REG_C] & C_IRQF))
        irq_set(&rtc->irq, 1);
    rtc->cmos[REG_C] = c;
}

static void arm_timer(struct rtc *rtc)
{
    struct itimerspec its = { 0 };
    uint8_t b = rtc->cmos[REG_B];
    int64_t now = guest_ns(rtc), next = 0, p = period_ns(rtc);

    if (rtc->timer_fd < 0)
        return;
    if ((b & B_PIE) && p)
        next = (now / p + 1) * p - now;
    if (b & (B_AIE | B_UIE)) {
        int64_t s = (now / NS_PER_SEC + 1) * NS_PER_SEC - now;

        if (!next || s < next)
            next = s;
    }
    if (next) {
        its.it_value.tv_sec = next / NS_PER_SEC;
        its.it_value.tv_nsec = next % NS_PER_SEC;
        if (!its.it_value.tv_sec && !its.it_value.tv_nsec)
            its.it_value.tv_nsec = 1;
    }
    timerfd_settime(rtc->timer_fd, 0, &its, NULL);
}

static void set_mem(struct rtc *rtc, unsigned reg, uint64_t v, unsigned bytes)
{
    for (unsigned i = 0; i < bytes; i++)
        rtc->cmos[reg + i] = (uint8_t)(v >> (8 * i));
}

int rtc_init(struct rtc *rtc, struct irq_line irq, const struct rtc_mem_layout *mem)
{
    uint64_t v;

    memset(rtc, 0, sizeof(*rtc));
    pthread_mutex_init(&rtc->lock, NULL);
    rtc->irq = irq;
    rtc->timer_fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    if (rtc->timer_fd < 0)
        return -errno;
    rtc->cmos[REG_A] = 0x26;            /* 32.768 kHz divider, 1024 Hz rate */
    rtc->cmos[REG_B] = B_24H;           /* BCD, 24-hour */
    rtc->cmos[REG_D] = 0x80;            /* valid RAM and time */
    rtc->last_ns = guest_ns(rtc);
    store_time(rtc, rtc->last_ns);

    /* The layout PC firmware expects: equipment, then memory sizes. */
    rtc->cmos[0x14] = 0x06;             /* FPU, PS/2 mouse */
    v = mem->below_4g / 1024 < 640 ? mem->below_4g / 1024 : 640;
    set_mem(rtc, 0x15, v, 2);
    v = mem->below_4g > (1u << 20) ? (mem->below_4g - (1u << 20)) / 1024 : 0;
    if (v > 0xffff)
        v = 0xffff;
    set_mem(rtc, 0x17, v, 2);
    set_mem(rtc, 0x30, v, 2);
    v = mem->below_4g > (16u << 20) ? (mem->below_4g - (16u << 20)) / 65536 : 0;
    if (v > 0xffff)
        v = 0xffff;
    set_mem(rtc, 0x34, v, 2);
    set_mem(rtc, 0x5b, mem->above_4g / 65536, 3);
    rtc->cmos[0x5f] = (uint8_t)(mem->ncpus - 1);
    return 0;
}

void rtc_destroy(struct rtc *rtc)
{
    if (rtc->timer_fd >= 0)
        close(rtc->timer_fd);
    rtc->timer_fd = -1;
    pthread_mutex_destroy(&rtc->lock);
}

int rtc_timer_fd(struct rtc *rtc)
{
    return rtc->timer_fd;
}

void rtc_timer_fired(struct rtc *rtc)
{
    uint64_t expirations;

    if (read(rtc->timer_fd, &expirations, sizeof(expirations)) < 0 && errno != EAGAIN)
        return;
    pthread_mutex_lock(&rtc->lock);
    update_flags(rtc);
    arm_timer(rtc);
    pthread_mutex_unlock(&rtc->lock);
}

static uint8_t rtc_read_reg(struct rtc *rtc, unsigned reg)
{
    uint8_t v;

    if (reg <= REG_YEAR || reg == REG_CENTURY || reg == REG_C)
        update_flags(rtc);
    switch (reg) {
    case REG_A: {
        int64_t frac = guest_ns(rtc) % NS_PER_SEC;

        v = rtc->cmos[REG_A] & 0x7f;
        if (!rtc->frozen && frac >= NS_PER_SEC - UIP_NS)
            v |= A_UIP;
        return v;
    }
    case REG_C:
        v = rtc->cmos[REG_C];
        rtc->cmos[REG_C] = 0;
        if (v & C_IRQF)
            irq_set(&rtc->irq, 0);
        return v;
    default:
        return rtc->cmos[reg];
    }
}

static void rtc_write_reg(struct rtc *rtc, unsigned reg, uint8_t v)
{
    switch (reg) {
    case REG_SEC: case REG_MIN: case REG_HOUR: case REG_WDAY:
    case REG_MDAY: case REG_MON: case REG_YEAR: case REG_CENTURY:
        rtc->cmos[reg] = v;
        if (!rtc->frozen)
            load_time(rtc);
        break;
    case REG_A:
        rtc->cmos[REG_A] = v & 0x7f;
        arm_timer(rtc);
        break;
    case REG_B:
        /* Setting SET also clears UIE (MC146818 datasheet, register B). */
        if (v & B_SET)
            v &= (uint8_t)~B_UIE;
        if ((v & B_SET) && !rtc->frozen) {
            update_flags(rtc);
            rtc->frozen = true;
        } else if (!(v & B_SET) && rtc->frozen) {
            rtc->frozen = false;
            rtc->cmos[REG_B] = v;
            load_time(rtc);
        }
        if ((v ^ rtc->cmos[REG_B]) & (B_DM | B_24H)) {
            /* A format change re-encodes the registers in the new format. */
            rtc->cmos[REG_B] = v;
            if (!rtc->frozen)
                store_time(rtc, guest_ns(rtc));
        }
        rtc->cmos[REG_B] = v;
        update_flags(rtc);
        arm_timer(rtc);
        break;
    case REG_C:
    case REG_D:
        break;
    default:
        rtc->cmos[reg] = v;
        break;
    }
}

static void rtc_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct rtc *rtc = opaque;

    pthread_mutex_lock(&rtc->lock);
    if (offset == 1)
        data[0] = rtc_read_reg(rtc, rtc->index & 0x7f);
    else
        data[0] = 0xff;     /* the index port is write-only */
    for (unsigned i = 1; i < size; i++)
        data[i] = 0xff;
    pthread_mutex_unlock(&rtc->lock);
}

static void rtc_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct rtc *rtc = opaque;

    pthread_mutex_lock(&rtc->lock);
    if (offset == 0)
        rtc->index = data[0];   /* bit 7 is the NMI mask, kept with the index */
    else
        rtc_write_reg(rtc, rtc->index & 0x7f, data[0]);
    pthread_mutex_unlock(&rtc->lock);
}

const struct bus_ops rtc_bus_ops = { .read = rtc_read, .write = rtc_write };
