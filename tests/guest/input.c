/* PS/2 input as a guest driver sees it: the i8042 with the keyboard in scan
 * code set 2, translated to set 1 by the controller as a BIOS leaves it, and
 * the mouse reset, at 100 samples/s and 4 counts/mm, streaming after F4.
 * The guest prints 'ready for input', then a line per byte the keyboard
 * sends ('kbd 1e'), a line per complete mouse packet ('aux 08 05 fb') and
 * 'power button' for each press of the ACPI power button (nook-vmm's PM1a
 * block at 0x600, SCI on IRQ 9), and passes when Escape's make code (01)
 * arrives. The host side types and
 * moves the mouse (tests/vmm/test-input.py through the control socket,
 * tests/vmm/test-sdl.py through an SDL window) and checks the lines; no
 * QEMU run compares them. IRQs 1 and 12 through the 8259 only wake the
 * guest from hlt: it reads the controller by polling its status, and drains
 * it each time so that the next byte raises the edge-triggered line again.
 * Compared (setup only): the self test, the mouse's status after setup and
 * the command byte read back. */
#include "rt/rt.h"

#define DATA 0x60
#define STATUS 0x64
#define CMD 0x64

#define ST_OBF 0x01
#define ST_IBF 0x02
#define ST_AUX 0x20

#define CCB_KBD_INT 0x01
#define CCB_AUX_INT 0x02
#define CCB_SYS 0x04
#define CCB_KBD_DIS 0x10
#define CCB_AUX_DIS 0x20
#define CCB_XLATE 0x40

#define ACK 0xfa
#define ESCAPE 0x01

#define PM1A_STS 0x600
#define PM1A_EN 0x602
#define PM1_PWRBTN 0x0100

#define IRQ_PIT 0
#define IRQ_KBD 1
#define IRQ_CASCADE 2
#define IRQ_SCI 9
#define IRQ_AUX 12
/* The slowest the PIT goes; only the timeout counts ticks. */
#define PIT_HZ 20
#define WAIT_TICKS (300 * PIT_HZ)
/* Status reads before a byte that should be there counts as missing. */
#define POLL_LIMIT 100000

static volatile unsigned ticks;
static bool done;
static uint8_t packet[3];
static unsigned packet_len;

static void on_pit(struct rt_frame *f)
{
    (void)f;
    ticks++;
    rt_pic_eoi(IRQ_PIT);
}

static void on_kbd(struct rt_frame *f)
{
    (void)f;
    rt_pic_eoi(IRQ_KBD);
}

static void on_aux(struct rt_frame *f)
{
    (void)f;
    rt_pic_eoi(IRQ_AUX);
}

static void on_sci(struct rt_frame *f)
{
    (void)f;
    rt_pic_eoi(IRQ_SCI);
}

static void wait_writable(void)
{
    for (int i = 0; i < POLL_LIMIT; i++)
        if (!(inb(STATUS) & ST_IBF))
            return;
    rt_fail("the controller's input buffer stays full");
}

static void command(uint8_t c)
{
    wait_writable();
    outb(CMD, c);
}

static void write_data(uint8_t v)
{
    wait_writable();
    outb(DATA, v);
}

/* The next byte from the controller and whether the mouse sent it. */
static uint8_t read_byte(bool *aux, const char *what)
{
    for (int i = 0; i < POLL_LIMIT; i++) {
        uint8_t st = inb(STATUS);

        if (st & ST_OBF) {
            *aux = st & ST_AUX;
            return inb(DATA);
        }
    }
    rt_fail("no answer to %s", what);
}

static void expect(const char *what, uint8_t want, bool want_aux)
{
    bool aux;
    uint8_t b = read_byte(&aux, what);

    RT_CHECK(b == want && aux == want_aux, "%s: got %02x from the %s, wanted %02x from the %s", what,
             b, aux ? "mouse" : "keyboard", want, want_aux ? "mouse" : "keyboard");
}

static void keyboard(uint8_t v, const char *what)
{
    write_data(v);
    expect(what, ACK, false);
}

static void mouse(uint8_t v, const char *what)
{
    command(0xd4);
    write_data(v);
    expect(what, ACK, true);
}

static void flush(void)
{
    for (int i = 0; i < 64 && (inb(STATUS) & ST_OBF); i++)
        (void)inb(DATA);
}

static void setup(void)
{
    bool aux;
    uint8_t ccb, st[3];

    /* Both ports off and nothing left over from whoever ran before. */
    command(0xad);
    command(0xa7);
    flush();
    command(0x20);
    ccb = read_byte(&aux, "read command byte");
    rt_printf("command byte at start %02x\n", ccb);
    command(0x60);
    write_data(CCB_SYS | CCB_XLATE | CCB_KBD_DIS | CCB_AUX_DIS);
    command(0xaa);
    expect("controller self test", 0x55, false);
    rt_printf("= controller self test 55\n");

    command(0xae);
    keyboard(0xf5, "keyboard disable");
    keyboard(0xf0, "keyboard select set");
    keyboard(0x02, "keyboard set 2");
    keyboard(0xf4, "keyboard enable");

    command(0xa8);
    mouse(0xf6, "mouse defaults");
    mouse(0xf3, "mouse sample rate");
    mouse(100, "mouse sample rate 100");
    mouse(0xe8, "mouse resolution");
    mouse(0x02, "mouse resolution 4/mm");
    mouse(0xe9, "mouse status request");
    for (int i = 0; i < 3; i++) {
        st[i] = read_byte(&aux, "mouse status");
        RT_CHECK(aux, "the mouse's status came from the keyboard");
    }
    rt_printf("= mouse status %02x %02x %02x\n", st[0], st[1], st[2]);
    mouse(0xf4, "mouse enable");

    command(0x60);
    write_data(CCB_SYS | CCB_XLATE | CCB_KBD_INT | CCB_AUX_INT);
    command(0x20);
    ccb = read_byte(&aux, "read command byte");
    rt_printf("= command byte %02x\n", ccb);
}

static void aux_byte(uint8_t b)
{
    /* Bit 3 of a packet's first byte is always set: a byte without it
     * cannot start one. */
    if (packet_len == 0 && !(b & 0x08)) {
        rt_printf("aux out of sync %02x\n", b);
        return;
    }
    packet[packet_len++] = b;
    if (packet_len == 3) {
        rt_printf("aux %02x %02x %02x\n", packet[0], packet[1], packet[2]);
        packet_len = 0;
    }
}

static void drain(void)
{
    /* Writing the status bit back clears it and lowers the SCI. */
    if (inw(PM1A_STS) & PM1_PWRBTN) {
        outw(PM1A_STS, PM1_PWRBTN);
        rt_printf("power button\n");
    }
    for (;;) {
        uint8_t st = inb(STATUS), b;

        if (!(st & ST_OBF))
            return;
        b = inb(DATA);
        if (st & ST_AUX) {
            aux_byte(b);
        } else {
            rt_printf("kbd %02x\n", b);
            if (b == ESCAPE)
                done = true;
        }
    }
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_lapic_init(true);
    rt_ioapic_mask_all();
    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_PIT, on_pit);
    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_KBD, on_kbd);
    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_AUX, on_aux);
    rt_set_handler(RT_PIC_VECTOR_BASE + IRQ_SCI, on_sci);

    setup();
    outw(PM1A_STS, PM1_PWRBTN);
    outw(PM1A_EN, PM1_PWRBTN);
    rt_pit_periodic(PIT_HZ);
    rt_pic_set_mask((uint16_t)~(1u << IRQ_PIT | 1u << IRQ_KBD | 1u << IRQ_CASCADE | 1u << IRQ_SCI |
                                1u << IRQ_AUX));

    rt_printf("ready for input\n");
    while (!done && ticks < WAIT_TICKS) {
        drain();
        if (!done)
            rt_sti_hlt();
    }
    rt_pic_set_mask(0xffff);
    RT_CHECK(done, "no Escape within %u s", WAIT_TICKS / PIT_HZ);
    rt_pass();
}
