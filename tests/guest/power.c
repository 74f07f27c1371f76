/* ACPI S5 power-off through PM1a_CNT at 0x604 (PM base 0x600: fixed on
 * nook-vmm, programmed into QEMU's ICH9 by SeaBIOS). Compared: that the PM
 * timer at 0x608 runs, that PM1a_CNT keeps a SLP_TYP written without SLP_EN,
 * and, by the runner, that SLP_TYP 0 with SLP_EN ends the VMM with status 0
 * right after the last line. */
#include "rt/rt.h"

#define PM_BASE 0x600
#define PM1_CNT (PM_BASE + 0x04)
#define PM_TMR (PM_BASE + 0x08)

#define PM1_CNT_SCI_EN 0x0001u
#define PM1_CNT_SLP_TYP_SHIFT 10
#define PM1_CNT_SLP_TYP (7u << PM1_CNT_SLP_TYP_SHIFT)
#define PM1_CNT_SLP_EN 0x2000u

/* Sleep type 0 is S5 (soft off) in both machines' ACPI tables. */
#define SLP_TYP_S5 0
/* Some value no machine acts on while SLP_EN stays clear. */
#define SLP_TYP_PROBE 5

#define PM_TIMER_MASK 0xffffffu

static uint32_t pm_timer(void)
{
    return inl(PM_TMR) & PM_TIMER_MASK;
}

/* Busy-waits on the PM timer; false if it never moves. Needs no interrupts,
 * so nothing has to be set up for a bounded wait. */
static bool pm_wait_us(uint32_t us)
{
    /* 3580 ticks per ms, split so 32-bit code needs no 64-bit division. */
    uint32_t ticks = us / 1000 * 3580 + us % 1000 * 3580 / 1000;
    uint32_t start = pm_timer(), elapsed = 0;
    for (uint32_t polls = 0; elapsed < ticks; polls++) {
        elapsed = (pm_timer() - start) & PM_TIMER_MASK;
        if (elapsed == 0 && polls > 100000)
            return false;
    }
    return true;
}

int main(void)
{
    rt_serial_init();

    uint32_t t0 = pm_timer();
    bool runs = pm_wait_us(1000);
    uint32_t t1 = pm_timer();
    rt_printf("pm timer %06x then %06x\n", t0, t1);
    rt_printf("= pm timer at 0x608 runs: %s\n", runs ? "yes" : "no");
    RT_CHECK(runs, "PM timer at 0x608 stands still (%06x)", t0);

    uint16_t cnt = inw(PM1_CNT);
    rt_printf("pm1a_cnt at entry %04x\n", cnt);

    uint16_t keep = (uint16_t)(cnt & ~(PM1_CNT_SLP_TYP | PM1_CNT_SLP_EN));
    outw(PM1_CNT, (uint16_t)(keep | SLP_TYP_PROBE << PM1_CNT_SLP_TYP_SHIFT));
    uint16_t probe = inw(PM1_CNT);
    rt_printf("= pm1a_cnt slp_typ %u written without slp_en reads %u, slp_en %u\n",
              SLP_TYP_PROBE, (probe & PM1_CNT_SLP_TYP) >> PM1_CNT_SLP_TYP_SHIFT,
              !!(probe & PM1_CNT_SLP_EN));
    outw(PM1_CNT, keep);

    rt_printf("= powering off\n");
    outw(PM1_CNT, (uint16_t)(keep | SLP_TYP_S5 << PM1_CNT_SLP_TYP_SHIFT | PM1_CNT_SLP_EN));

    /* Both VMMs stop the guest within the port write; a guest still
     * running a second later was not powered off. */
    pm_wait_us(1000000);
    rt_fail("still running 1 s after S5 (pm1a_cnt %04x)", inw(PM1_CNT));
}
