/* Timer interrupts: PIT IRQ0 through the 8259 and through IOAPIC pin 2, and
 * the local APIC timer in periodic mode, waited for with sti; hlt. Compared:
 * that each path delivers, the IOAPIC pin count, and that the LAPIC timer and
 * PIT rates are plausibly related. Counts are not compared: timing under TCG
 * and under an instruction-emulating KVM is loose. */
#include "rt/rt.h"

#define VEC_PIT_PIC (RT_PIC_VECTOR_BASE + 0)
#define VEC_PIT_IOAPIC 0x32
#define VEC_LAPIC_TIMER 0x40
#define VEC_WATCHDOG 0x41

#define PIT_HZ 100
#define PIT_IOAPIC_PIN 2 /* ISA IRQ0 per the standard interrupt source override */
#define TICKS_WANTED 10

#define LVT_MASKED (1u << 16)
#define LVT_PERIODIC (1u << 17)
/* Divide configuration 0b0011 = divide by 16. With the usual 1 GHz APIC
 * bus of KVM and QEMU this gives 10 ms periods; nothing depends on it being
 * exact. */
#define LAPIC_DIV16 0x3
#define LAPIC_10MS 625000u

static volatile unsigned pit_pic_ticks;
static volatile unsigned pit_ioapic_ticks;
static volatile unsigned lapic_ticks;
static volatile bool watchdog_fired;

static void on_pit_pic(struct rt_frame *f)
{
    (void)f;
    pit_pic_ticks++;
    rt_pic_eoi(0);
}

static void on_pit_ioapic(struct rt_frame *f)
{
    (void)f;
    pit_ioapic_ticks++;
    rt_lapic_eoi();
}

static void on_lapic_timer(struct rt_frame *f)
{
    (void)f;
    lapic_ticks++;
    rt_lapic_eoi();
}

static void on_watchdog(struct rt_frame *f)
{
    (void)f;
    watchdog_fired = true;
    rt_lapic_eoi();
}

/* One-shot LAPIC timer that ends a wait whose own interrupt never comes. */
static void watchdog_arm(unsigned periods)
{
    watchdog_fired = false;
    rt_lapic_write(RT_LAPIC_TIMER_DIV, LAPIC_DIV16);
    rt_lapic_write(RT_LAPIC_LVT_TIMER, VEC_WATCHDOG);
    rt_lapic_write(RT_LAPIC_TIMER_INIT, LAPIC_10MS * periods);
}

static void watchdog_disarm(void)
{
    rt_lapic_write(RT_LAPIC_LVT_TIMER, LVT_MASKED);
    rt_lapic_write(RT_LAPIC_TIMER_INIT, 0);
}

static void wait_for(volatile unsigned *counter, unsigned target)
{
    while (*counter < target && !watchdog_fired)
        rt_sti_hlt();
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_lapic_init(true);
    rt_ioapic_mask_all();

    uint8_t bsp = rt_lapic_id();
    unsigned pins = rt_ioapic_pins();
    rt_printf("lapic id %u version %08x, ioapic version %08x\n", bsp,
              rt_lapic_read(RT_LAPIC_VERSION), rt_ioapic_read(0x01));
    rt_printf("= ioapic pins %u\n", pins);
    RT_CHECK(pins > PIT_IOAPIC_PIN, "IOAPIC has %u pins", pins);

    rt_set_handler(VEC_PIT_PIC, on_pit_pic);
    rt_set_handler(VEC_PIT_IOAPIC, on_pit_ioapic);
    rt_set_handler(VEC_LAPIC_TIMER, on_lapic_timer);
    rt_set_handler(VEC_WATCHDOG, on_watchdog);

    /* PIT through the 8259 (LAPIC LINT0 in ExtINT mode). */
    rt_pit_periodic(PIT_HZ);
    watchdog_arm(300);
    rt_pic_set_mask(0xfffe);
    wait_for(&pit_pic_ticks, TICKS_WANTED);
    rt_pic_set_mask(0xffff);
    watchdog_disarm();
    rt_printf("pit via pic: %u ticks\n", pit_pic_ticks);
    RT_CHECK(pit_pic_ticks >= TICKS_WANTED, "PIT via PIC: %u ticks in 3 s", pit_pic_ticks);
    rt_printf("= pit irq0 via pic: ok\n");

    /* PIT through the IOAPIC with the 8259 fully masked. */
    watchdog_arm(300);
    rt_ioapic_route(PIT_IOAPIC_PIN, VEC_PIT_IOAPIC, bsp, false);
    wait_for(&pit_ioapic_ticks, TICKS_WANTED);
    rt_ioapic_route(PIT_IOAPIC_PIN, VEC_PIT_IOAPIC, bsp, true);
    watchdog_disarm();
    rt_printf("pit via ioapic: %u ticks\n", pit_ioapic_ticks);
    RT_CHECK(pit_ioapic_ticks >= TICKS_WANTED, "PIT via IOAPIC pin %u: %u ticks in 3 s",
             PIT_IOAPIC_PIN, pit_ioapic_ticks);
    RT_CHECK(pit_pic_ticks >= TICKS_WANTED, "PIC delivered while masked");
    rt_printf("= pit irq0 via ioapic pin 2: ok\n");

    /* LAPIC timer, periodic, with the PIT running alongside through the 8259
     * as the clock to compare against and as the bound on the wait. */
    rt_lapic_write(RT_LAPIC_TIMER_DIV, LAPIC_DIV16);
    rt_lapic_write(RT_LAPIC_LVT_TIMER, VEC_LAPIC_TIMER | LVT_PERIODIC);
    rt_lapic_write(RT_LAPIC_TIMER_INIT, LAPIC_10MS);
    uint32_t cur1 = rt_lapic_read(RT_LAPIC_TIMER_CUR);
    unsigned pit_start = pit_pic_ticks;
    rt_pic_set_mask(0xfffe);
    while (lapic_ticks < 3 * TICKS_WANTED && pit_pic_ticks - pit_start < 300)
        rt_sti_hlt();
    rt_pic_set_mask(0xffff);
    uint32_t cur2 = rt_lapic_read(RT_LAPIC_TIMER_CUR);
    rt_lapic_write(RT_LAPIC_LVT_TIMER, LVT_MASKED);
    rt_lapic_write(RT_LAPIC_TIMER_INIT, 0);
    unsigned lapic = lapic_ticks, pit = pit_pic_ticks - pit_start;

    rt_printf("lapic timer: %u ticks while the pit ticked %u; current count %u, %u\n",
              lapic, pit, cur1, cur2);
    RT_CHECK(cur1 <= LAPIC_10MS && cur2 <= LAPIC_10MS, "current count above initial");
    RT_CHECK(lapic >= 3 * TICKS_WANTED, "LAPIC timer: %u ticks in %u PIT ticks", lapic, pit);
    rt_printf("= lapic timer periodic: ok\n");
    /* Both run at 100 Hz. A factor of three either way still catches a
     * wrong divider or a timer that runs in the wrong units. */
    RT_CHECK(lapic <= 3 * pit && pit <= 3 * lapic,
             "LAPIC/PIT ratio implausible: %u LAPIC ticks, %u PIT ticks", lapic, pit);
    rt_printf("= lapic/pit tick ratio plausible: ok\n");

    rt_pass();
}
