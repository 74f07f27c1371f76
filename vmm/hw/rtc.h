/* MC146818 RTC and CMOS memory. */
#pragma once

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "../core/bus.h"
#include "../core/irq.h"

struct rtc {
    pthread_mutex_t lock;
    struct irq_line irq;            /* ISA IRQ 8 */
    uint8_t index;
    uint8_t cmos[128];
    int64_t offset_ns;              /* guest time = host UTC + offset */
    bool frozen;                    /* SET bit: time registers hold written values */
    int64_t last_ns;                /* guest time of the last flag update */
    int timer_fd;                   /* owned timerfd for PF/AF/UF interrupts */
};

struct rtc_mem_layout {
    uint64_t below_4g;              /* bytes of RAM below 4 GiB */
    uint64_t above_4g;
    unsigned ncpus;
};

int rtc_init(struct rtc *rtc, struct irq_line irq, const struct rtc_mem_layout *mem);
void rtc_destroy(struct rtc *rtc);
/* The main loop watches this fd and calls rtc_timer_fired when it is readable. */
int rtc_timer_fd(struct rtc *rtc);
void rtc_timer_fired(struct rtc *rtc);

extern const struct bus_ops rtc_bus_ops;
