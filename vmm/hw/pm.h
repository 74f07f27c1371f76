/* Chipset power management: ACPI PM1 event/control registers and PM timer
 * (at 0x600, where firmware puts them on a q35 PC), reset control (0xcf9) and
 * port 0x92 fast reset. */
#pragma once

#include <pthread.h>
#include <stdint.h>

#include "../core/bus.h"
#include "../core/irq.h"
#include "../core/power.h"

#define PM_IO_BASE 0x600
#define PM_IO_LEN  0x80

/* SLP_TYP value for S5 (soft off) written to PM1a_CNT; the DSDT's \_S5. */
#define PM_SLP_TYP_S5 0

struct pm {
    pthread_mutex_t lock;
    struct power power;
    struct irq_line sci;        /* level triggered, active high */
    uint16_t pm1_sts, pm1_en, pm1_cnt;
    uint8_t rcr;        /* 0xcf9 */
    uint8_t port92;
};

void pm_init(struct pm *pm, struct power power, struct irq_line sci);
/* The ACPI fixed-feature power button was pressed. */
void pm_power_button(struct pm *pm);
void pm_reset(struct pm *pm);
/* 0xcf9 is decoded by the PCI host (it shares 0xcf8-0xcfb); it calls these. */
uint8_t pm_rcr_read(struct pm *pm);
void pm_rcr_write(struct pm *pm, uint8_t v);

extern const struct bus_ops pm_bus_ops;
extern const struct bus_ops pm_port92_bus_ops;
