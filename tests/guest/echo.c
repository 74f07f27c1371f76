/* Serial input: the runner writes a line to the VMM's standard input (--stdin)
 * once the guest says it is ready, and the guest takes it from the 16550 with
 * receive interrupts on IRQ 4 through the 8259, draining the FIFO in the
 * handler. The line is longer than the 16-byte FIFO, so the VMM has to refill
 * it as the guest reads. Compared: the text received and its length; the
 * runner also checks the text is what it sent. */
#include "rt/rt.h"

#define COM1 0x3f8
#define RBR 0
#define IER 1
#define IIR 2
#define FCR 2
#define MCR 4
#define LSR 5

#define IER_RDA 0x01
#define IIR_NONE 0x01
#define FCR_ENABLE 0x01
#define FCR_CLEAR_RX 0x02
#define FCR_TRIGGER_8 0x80
#define MCR_DTR 0x01
#define MCR_RTS 0x02
#define MCR_OUT2 0x08
#define LSR_DR 0x01
#define LSR_OE 0x02

#define IRQ_PIT 0
#define IRQ_COM1 4
#define PIT_HZ 100
/* Time allowed for the whole line once the guest is ready. */
#define WAIT_TICKS (10 * PIT_HZ)

#define MAX_LINE 256

static char line[MAX_LINE + 1];
static volatile unsigned len;
static volatile bool done;
static volatile unsigned ticks;
static volatile unsigned com1_irqs;
static volatile unsigned overruns;

static void on_pit(struct rt_frame *f)
{
    (void)f;
    ticks++;
    rt_pic_eoi(IRQ_PIT);
}

/* Drains the FIFO until it is empty: the VMM may refill it while the handler
 * runs, and data left behind would keep the UART's line high, so the
 * edge-triggered 8259 would never see another interrupt. The bound only
 * guards against a receiver that never runs dry. */
static void on_com1(struct rt_frame *f)
{
    (void)f;
    com1_irqs++;
    (void)inb(COM1 + IIR);
    for (int i = 0; i < 4 * MAX_LINE; i++) {
        uint8_t lsr = inb(COM1 + LSR);
        if (lsr & LSR_OE)
            overruns++;
        if (!(lsr & LSR_DR))
            break;
        char c = (char)inb(COM1 + RBR);
        if (done)
            continue;
        if (c == '\n')
            done = true;
        else if (len < MAX_LINE)
            line[len++] = c;
    }
    rt_pic_eoi(IRQ_COM1);
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_lapic_init(true);
    rt_ioapic_mask_all();

    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_PIT, on_pit);
    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_COM1, on_com1);
    rt_pit_periodic(PIT_HZ);

    /* Interrupt when 8 bytes are waiting, or when fewer have sat there a
     * while (the character timeout), which ends the line. */
    outb(COM1 + FCR, FCR_ENABLE | FCR_CLEAR_RX | FCR_TRIGGER_8);
    outb(COM1 + MCR, MCR_DTR | MCR_RTS | MCR_OUT2);
    outb(COM1 + IER, IER_RDA);
    uint8_t iir = inb(COM1 + IIR);
    rt_printf("= iir with an empty receiver: %x\n", iir & 0x0f);
    RT_CHECK((iir & 0x0f) == IIR_NONE, "IIR %02x before any input", iir);
    rt_pic_set_mask((uint16_t)~(1u << IRQ_PIT | 1u << IRQ_COM1));

    rt_printf("ready for input\n");
    while (!done && ticks < WAIT_TICKS)
        rt_sti_hlt();
    rt_pic_set_mask(0xffff);
    outb(COM1 + IER, 0);

    line[len] = '\0';
    rt_printf("%u bytes in %u interrupts after %u ticks, %u overruns\n", len, com1_irqs,
              ticks, overruns);
    rt_printf("= got %u bytes%s\n", len, done ? " and a newline" : "");
    rt_printf("= got: %s\n", line);
    RT_CHECK(done, "no complete line within %u s (%u bytes)", WAIT_TICKS / PIT_HZ, len);
    RT_CHECK(overruns == 0, "%u receiver overruns", overruns);
    RT_CHECK(len > 16, "a line of %u bytes does not need the FIFO refilled", len);
    rt_pass();
}
