/* Power management registers: S5 power-off, the 3.579545 MHz ACPI PM timer,
 * and the two reset ports PCs have. */
#include "pm.h"

#include "../core/log.h"

#define PM1_STS   0x00
#define PM1_EN    0x02
#define PM1_CNT   0x04
#define PM_TMR    0x08

#define PM1_CNT_SCI_EN  0x0001
#define PM1_PWRBTN      0x0100  /* status and enable bit */
#define PM1_CNT_SLP_EN  0x2000
#define PM_TIMER_HZ     3579545ull

void pm_init(struct pm *pm, struct power power, struct irq_line sci)
{
    pthread_mutex_init(&pm->lock, NULL);
    pm->power = power;
    pm->sci = sci;
    pm_reset(pm);
}

/* Called with the lock held. */
static void update_sci(struct pm *pm)
{
    irq_set(&pm->sci, (pm->pm1_sts & pm->pm1_en) != 0);
}

void pm_power_button(struct pm *pm)
{
    pthread_mutex_lock(&pm->lock);
    pm->pm1_sts |= PM1_PWRBTN;
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
}

void pm_reset(struct pm *pm)
{
    pthread_mutex_lock(&pm->lock);
    pm->pm1_sts = pm->pm1_en = 0;
    /* There is no SMM to switch modes: the board is always in ACPI mode. */
    pm->pm1_cnt = PM1_CNT_SCI_EN;
    pm->rcr = 0;
    pm->port92 = 0x02;      /* A20 enabled */
    update_sci(pm);
    pthread_mutex_unlock(&pm->lock);
}

static uint32_t pm_timer(void)
{
    uint64_t ns = clock_ns();

    /* 24-bit counter; split the product to stay within 64 bits. */
    return (uint32_t)(((ns / 1000000000ull) * PM_TIMER_HZ +
                       (ns % 1000000000ull) * PM_TIMER_HZ / 1000000000ull) & 0xffffff);
}

static void pm_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct pm *pm = opaque;
    uint8_t regs[12];

    pthread_mutex_lock(&pm->lock);
    regs[0] = (uint8_t)pm->pm1_sts;
    regs[1] = (uint8_t)(pm->pm1_sts >> 8);
    regs[2] = (uint8_t)pm->pm1_en;
    regs[3] = (uint8_t)(pm->pm1_en >> 8);
    regs[4] = (uint8_t)pm->pm1_cnt;
    regs[5] = (uint8_t)(pm->pm1_cnt >> 8);
    regs[6] = regs[7] = 0;
    pthread_mutex_unlock(&pm->lock);
    uint32_t t = pm_timer();
    regs[8] = (uint8_t)t;
    regs[9] = (uint8_t)(t >> 8);
    regs[10] = (uint8_t)(t >> 16);
    regs[11] = 0;
    for (unsigned i = 0; i < size; i++)
        data[i] = offset + i < sizeof(regs) ? regs[offset + i] : 0;
}

static void pm_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct pm *pm = opaque;
    bool off = false;

    pthread_mutex_lock(&pm->lock);
    for (unsigned i = 0; i < size; i++) {
        uint64_t o = offset + i;
        uint16_t b = data[i];

        switch (o) {
        case PM1_STS: case PM1_STS + 1:
            /* Status bits are cleared by writing ones. */
            pm->pm1_sts &= (uint16_t)~(b << (8 * (o - PM1_STS)));
            break;
        case PM1_EN: case PM1_EN + 1: {
            unsigned sh = 8 * (unsigned)(o - PM1_EN);
            pm->pm1_en = (uint16_t)((pm->pm1_en & ~(0xff << sh)) | (b << sh));
            break;
        }
        case PM1_CNT: case PM1_CNT + 1: {
            unsigned sh = 8 * (unsigned)(o - PM1_CNT);
            pm->pm1_cnt = (uint16_t)((pm->pm1_cnt & ~(0xff << sh)) | (b << sh));
            break;
        }
        default:
            break;
        }
    }
    pm->pm1_cnt |= PM1_CNT_SCI_EN;
    update_sci(pm);
    if (pm->pm1_cnt & PM1_CNT_SLP_EN) {
        unsigned typ = (pm->pm1_cnt >> 10) & 7;

        pm->pm1_cnt &= (uint16_t)~PM1_CNT_SLP_EN;
        if (typ == PM_SLP_TYP_S5)
            off = true;
        else
            log_info("guest asked for sleep type %u, which this machine does not have", typ);
    }
    pthread_mutex_unlock(&pm->lock);
    if (off)
        power_exit(&pm->power, 0, "poweroff");
}

const struct bus_ops pm_bus_ops = { .read = pm_read, .write = pm_write };

uint8_t pm_rcr_read(struct pm *pm)
{
    return pm->rcr;
}

void pm_rcr_write(struct pm *pm, uint8_t v)
{
    /* RST_CPU (bit 2) resets; SYS_RST (bit 1) and FULL_RST (bit 3) only
     * choose the kind, which makes no difference here. */
    pm->rcr = v & 0x0a;
    if (v & 0x04)
        power_reset(&pm->power, "reset-control");
}

static void port92_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct pm *pm = opaque;

    bus_put(data, size, pm->port92);
}

static void port92_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct pm *pm = opaque;
    uint8_t v = data[0];

    pm->port92 = v & 0x02;
    if (v & 0x01)
        power_reset(&pm->power, "port-92");
}

const struct bus_ops pm_port92_bus_ops = { .read = port92_read, .write = port92_write };
