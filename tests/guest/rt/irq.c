/* Interrupt plumbing: IDT and dispatch, 8259 PIC, local APIC and IOAPIC. */
#include "rt.h"

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t zero;
    uint8_t type;
    uint16_t offset_hi;
} __attribute__((packed));

struct idt_desc {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

extern const uint8_t rt_isr_stubs[];

static struct idt_gate idt[256] __attribute__((aligned(8)));
static rt_irq_handler handlers[256];

void rt_idt_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint32_t addr = (uint32_t)(uintptr_t)(rt_isr_stubs + 16 * v);
        idt[v].offset_lo = (uint16_t)addr;
        idt[v].selector = RT_SEL_KCODE;
        idt[v].zero = 0;
        idt[v].type = 0x8e; /* present, DPL0, 32-bit interrupt gate */
        idt[v].offset_hi = (uint16_t)(addr >> 16);
    }
    rt_idt_load();
}

void rt_idt_load(void)
{
    struct idt_desc d = { sizeof(idt) - 1, (uint32_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" : : "m"(d));
}

void rt_set_handler(uint8_t vector, rt_irq_handler fn)
{
    handlers[vector] = fn;
}

/* Called by the stubs in entry.S. */
void rt_irq_dispatch(struct rt_frame *f);

void rt_irq_dispatch(struct rt_frame *f)
{
    rt_irq_handler fn = handlers[f->vector & 0xff];
    if (fn) {
        fn(f);
        return;
    }
    /* A spurious 8259 IRQ7/IRQ15 or APIC spurious vector needs no EOI and
     * means nothing; anything else unhandled is a bug worth stopping for. */
    if (f->vector == RT_PIC_VECTOR_BASE + 7 || f->vector == RT_PIC_VECTOR_BASE + 15 ||
        f->vector == RT_SPURIOUS_VECTOR)
        return;
    if (f->vector < 32)
        rt_fail("exception %u error %x at %x:%x", f->vector, f->error, f->cs, f->eip);
    rt_fail("unexpected interrupt vector 0x%x at %x", f->vector, f->eip);
}

/* ---- 8259 ---- */

#define PIC1_CMD 0x20
#define PIC1_DATA 0x21
#define PIC2_CMD 0xa0
#define PIC2_DATA 0xa1

void rt_pic_init(void)
{
    outb(PIC1_CMD, 0x11);                       /* ICW1: edge, cascade, ICW4 */
    outb(PIC2_CMD, 0x11);
    outb(PIC1_DATA, RT_PIC_VECTOR_BASE);        /* ICW2: vector base */
    outb(PIC2_DATA, RT_PIC_VECTOR_BASE + 8);
    outb(PIC1_DATA, 0x04);                      /* ICW3: slave on IRQ2 */
    outb(PIC2_DATA, 0x02);
    outb(PIC1_DATA, 0x01);                      /* ICW4: 8086 mode */
    outb(PIC2_DATA, 0x01);
    rt_pic_set_mask(0xffff);
}

void rt_pic_set_mask(uint16_t mask)
{
    outb(PIC1_DATA, (uint8_t)mask);
    outb(PIC2_DATA, (uint8_t)(mask >> 8));
}

void rt_pic_eoi(uint8_t irq)
{
    if (irq >= 8)
        outb(PIC2_CMD, 0x20);
    outb(PIC1_CMD, 0x20);
}

/* ---- local APIC ---- */

#define MSR_APIC_BASE 0x1b

void rt_lapic_init(bool bsp)
{
    uint64_t base = rt_rdmsr(MSR_APIC_BASE);
    if (!(base & (1u << 11)))
        rt_wrmsr(MSR_APIC_BASE, base | (1u << 11));

    rt_lapic_write(RT_LAPIC_SVR, 0x100 | RT_SPURIOUS_VECTOR);
    rt_lapic_write(RT_LAPIC_TPR, 0);
    rt_lapic_write(RT_LAPIC_LVT_TIMER, 1u << 16);
    rt_lapic_write(RT_LAPIC_LVT_ERROR, 1u << 16);
    if (bsp) {
        rt_lapic_write(RT_LAPIC_LVT_LINT0, 0x700);  /* ExtINT */
        rt_lapic_write(RT_LAPIC_LVT_LINT1, 0x400);  /* NMI */
    } else {
        rt_lapic_write(RT_LAPIC_LVT_LINT0, 1u << 16);
        rt_lapic_write(RT_LAPIC_LVT_LINT1, 1u << 16);
    }
    /* ESR latches on write; two writes clear whatever firmware left. */
    rt_lapic_write(RT_LAPIC_ESR, 0);
    rt_lapic_write(RT_LAPIC_ESR, 0);
}

void rt_lapic_eoi(void)
{
    rt_lapic_write(RT_LAPIC_EOI, 0);
}

bool rt_lapic_send_ipi(uint8_t dest, uint32_t icr_lo)
{
    rt_lapic_write(RT_LAPIC_ICR_HI, (uint32_t)dest << 24);
    rt_lapic_write(RT_LAPIC_ICR_LO, icr_lo);
    for (int i = 0; i < 10000; i++) {
        if (!(rt_lapic_read(RT_LAPIC_ICR_LO) & (1u << 12)))
            return true;
        rt_pause();
    }
    return false;
}

#define LAPIC_DIV16 0x3

static volatile bool sleep_done;

static void on_sleep_timer(struct rt_frame *f)
{
    (void)f;
    sleep_done = true;
    rt_lapic_eoi();
}

void rt_lapic_sleep_us(uint32_t us)
{
    /* 1 GHz APIC bus (KVM and QEMU) divided by 16: 62.5 counts per us. */
    uint32_t count = us * 62 + us / 2;
    if (count == 0)
        count = 1;
    rt_set_handler(RT_SLEEP_VECTOR, on_sleep_timer);
    sleep_done = false;
    rt_lapic_write(RT_LAPIC_TIMER_DIV, LAPIC_DIV16);
    rt_lapic_write(RT_LAPIC_LVT_TIMER, RT_SLEEP_VECTOR);
    rt_lapic_write(RT_LAPIC_TIMER_INIT, count);
    while (!sleep_done)
        rt_sti_hlt();
    rt_lapic_write(RT_LAPIC_LVT_TIMER, 1u << 16);
}

/* ---- IOAPIC ---- */

uint32_t rt_ioapic_read(uint32_t reg)
{
    mmio_write32(RT_IOAPIC_BASE, reg);
    return mmio_read32(RT_IOAPIC_BASE + 0x10);
}

void rt_ioapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(RT_IOAPIC_BASE, reg);
    mmio_write32(RT_IOAPIC_BASE + 0x10, v);
}

unsigned rt_ioapic_pins(void)
{
    return ((rt_ioapic_read(0x01) >> 16) & 0xff) + 1;
}

void rt_ioapic_mask_all(void)
{
    unsigned n = rt_ioapic_pins();
    for (unsigned pin = 0; pin < n; pin++)
        rt_ioapic_write(0x10 + 2 * pin, 1u << 16);
}

void rt_ioapic_route(unsigned pin, uint8_t vector, uint8_t dest, bool masked)
{
    /* Mask first so the entry is never live with a half-written target. */
    rt_ioapic_write(0x10 + 2 * pin, 1u << 16);
    rt_ioapic_write(0x11 + 2 * pin, (uint32_t)dest << 24);
    rt_ioapic_write(0x10 + 2 * pin, vector | (masked ? 1u << 16 : 0));
}
