/* 16550A UART at 0x3f8: register read-back, FIFO and interrupt identification,
 * loopback. Compared: LSR/IIR before the guest touches the UART, scratch, IER,
 * LCR and divisor latch read-back, IIR with FIFOs off/on and with a THRE
 * interrupt, idle LSR, loopback data and the MSR bits loopback derives from MCR. */
#include "rt/rt.h"

#define COM1 0x3f8
#define RBR 0
#define THR 0
#define DLL 0
#define IER 1
#define DLM 1
#define IIR 2
#define FCR 2
#define LCR 3
#define MCR 4
#define LSR 5
#define MSR 6
#define SCR 7

#define LSR_DR 0x01
#define LSR_THRE 0x20
#define LSR_TEMT 0x40

#define MCR_LOOP 0x10

static uint8_t rd(unsigned reg)
{
    return inb(COM1 + reg);
}

static void wr(unsigned reg, uint8_t v)
{
    outb(COM1 + reg, v);
}

static bool wait_lsr(uint8_t bits)
{
    for (int i = 0; i < 10000; i++) {
        if ((rd(LSR) & bits) == bits)
            return true;
    }
    return false;
}

static void drain_rx(void)
{
    for (int i = 0; i < 64 && (rd(LSR) & LSR_DR); i++)
        (void)rd(RBR);
}

/* Runs with MCR loopback on, so nothing may be printed until it returns. */
static const char *loopback(uint8_t *msr_nibbles)
{
    static const char msg[] = "nook1655";
    const size_t n = sizeof(msg) - 1;
    static const uint8_t mcr_bits[5] = { 0x0f, 0x01, 0x02, 0x04, 0x08 };
    const char *err = NULL;

    wr(MCR, MCR_LOOP);
    drain_rx();
    for (size_t i = 0; i < n && !err; i++) {
        if (!wait_lsr(LSR_THRE))
            err = "THRE never set in loopback";
        wr(THR, (uint8_t)msg[i]);
    }
    for (size_t i = 0; i < n && !err; i++) {
        if (!wait_lsr(LSR_DR))
            err = "loopback byte never arrived";
        else if (rd(RBR) != (uint8_t)msg[i])
            err = "loopback byte differs";
    }
    if (!err && (rd(LSR) & LSR_DR))
        err = "extra data after loopback bytes";

    for (int i = 0; i < 5; i++) {
        wr(MCR, MCR_LOOP | mcr_bits[i]);
        msr_nibbles[i] = rd(MSR) >> 4;
    }
    wr(MCR, 0x03);
    drain_rx();
    return err;
}

int main(void)
{
    /* Read before any initialisation: the VMM's reset state (on QEMU, what
     * SeaBIOS's port probe left, which is the same). */
    uint8_t lsr_entry = rd(LSR);
    uint8_t iir_entry = rd(IIR);

    rt_serial_init();
    rt_pic_init();
    rt_printf("serial: 16550A checks\n");
    rt_printf("= lsr at entry %02x\n", lsr_entry);
    rt_printf("= iir at entry %02x\n", iir_entry);

    wr(SCR, 0x5a);
    uint8_t s1 = rd(SCR);
    wr(SCR, 0xa5);
    uint8_t s2 = rd(SCR);
    rt_printf("= scratch %02x %02x\n", s1, s2);
    RT_CHECK(s1 == 0x5a && s2 == 0xa5, "scratch read back %02x %02x", s1, s2);

    wr(IER, 0xff);
    uint8_t ier = rd(IER);
    wr(IER, 0x00);
    rt_printf("= ier ff reads %02x\n", ier);
    RT_CHECK((ier & 0x0f) == 0x0f, "IER read back %02x", ier);

    wr(LCR, 0x1b);
    uint8_t lcr = rd(LCR);
    wr(LCR, 0x03);
    rt_printf("= lcr 1b reads %02x\n", lcr);
    RT_CHECK(lcr == 0x1b, "LCR read back %02x", lcr);

    wr(LCR, 0x83);
    wr(DLL, 0x34);
    wr(DLM, 0x12);
    wr(LCR, 0x03);
    wr(LCR, 0x83);
    uint16_t div = (uint16_t)(rd(DLL) | rd(DLM) << 8);
    wr(DLL, 0x01);
    wr(DLM, 0x00);
    wr(LCR, 0x03);
    rt_printf("= divisor latch %04x\n", div);
    RT_CHECK(div == 0x1234, "divisor latch read back %04x", div);

    if (!wait_lsr(LSR_THRE | LSR_TEMT))
        rt_fail("transmitter never drained, LSR %02x", rd(LSR));
    wr(FCR, 0x00);
    uint8_t iir_off = rd(IIR);
    wr(FCR, 0x07);
    uint8_t iir_on = rd(IIR);
    rt_printf("= iir fifo off %02x on %02x\n", iir_off, iir_on);
    RT_CHECK((iir_off & 0xc0) == 0x00, "IIR with FIFOs off %02x", iir_off);
    RT_CHECK((iir_on & 0xc0) == 0xc0, "IIR with FIFOs on %02x", iir_on);

    /* Enabling the THRE interrupt with an empty holding register raises it at
     * once; reading IIR while it is the highest source clears it. */
    if (!wait_lsr(LSR_THRE | LSR_TEMT))
        rt_fail("transmitter never drained, LSR %02x", rd(LSR));
    wr(IER, 0x02);
    uint8_t iir_thri = rd(IIR);
    uint8_t iir_after = rd(IIR);
    wr(IER, 0x00);
    rt_printf("= iir thre %02x then %02x\n", iir_thri, iir_after);
    RT_CHECK((iir_thri & 0x0f) == 0x02, "IIR with THRE interrupt %02x", iir_thri);
    RT_CHECK((iir_after & 0x0f) == 0x01, "IIR after reading THRE %02x", iir_after);

    if (!wait_lsr(LSR_THRE | LSR_TEMT))
        rt_fail("transmitter never drained, LSR %02x", rd(LSR));
    drain_rx();
    uint8_t lsr_idle = rd(LSR);
    rt_printf("= lsr idle %02x\n", lsr_idle);
    RT_CHECK(lsr_idle == 0x60, "idle LSR %02x", lsr_idle);

    if (!wait_lsr(LSR_THRE | LSR_TEMT))
        rt_fail("transmitter never drained, LSR %02x", rd(LSR));
    uint8_t msr[5];
    const char *err = loopback(msr);
    if (err)
        rt_fail("%s", err);
    rt_printf("= loopback 8 bytes ok\n");
    rt_printf("= msr loopback %x %x %x %x %x\n", msr[0], msr[1], msr[2], msr[3], msr[4]);
    RT_CHECK(msr[0] == 0xf && msr[1] == 0x2 && msr[2] == 0x1 && msr[3] == 0x4 &&
                 msr[4] == 0x8,
             "MSR in loopback %x %x %x %x %x", msr[0], msr[1], msr[2], msr[3], msr[4]);

    rt_pass();
}
