/* Intel HD Audio: the ICH9 controller (8086:293e) and its codec, as QEMU's
 * ich9-intel-hda with hda-duplex presents them. Compared: the controller's
 * capability registers, the reset handshake, and the codec's answer to every
 * GET verb that Linux's generic parser and Windows' class driver send, node
 * by node, over the immediate command interface and over CORB/RIRB. Then an
 * output stream plays a known pattern from a two-entry buffer descriptor
 * list at 48 kHz, 16-bit stereo, until its position has wrapped three times;
 * the runner checks nook-vmm's wav backend received that pattern sample for
 * sample (--vmm-wav-pattern).
 *
 * With "play=N" on the command line (tests/bench/audio-bench.py) it then
 * plays a 1 kHz square wave for N seconds; one second in, it writes a click
 * (48 frames near full scale) just ahead of the stream's position and prints
 * "click written", so that the time from that line to the click reaching a
 * sound server can be measured; a wrap later the click is gone again. */
#include "rt/rt.h"

#define HDA_VENDOR 0x8086
#define HDA_DEVICE 0x293e

#define GCAP 0x00
#define VMIN 0x02
#define VMAJ 0x03
#define OUTPAY 0x04
#define INPAY 0x06
#define GCTL 0x08
#define STATESTS 0x0e
#define CORBLBASE 0x40
#define CORBUBASE 0x44
#define CORBWP 0x48
#define CORBRP 0x4a
#define CORBCTL 0x4c
#define CORBSIZE 0x4e
#define RIRBLBASE 0x50
#define RIRBUBASE 0x54
#define RIRBWP 0x58
#define RINTCNT 0x5a
#define RIRBCTL 0x5c
#define RIRBSTS 0x5d
#define ICOI 0x60
#define ICII 0x64
#define ICIS 0x68
#define SD(n) (0x80 + 0x20 * (n))
#define SD_CTL 0x00
#define SD_STS 0x03
#define SD_LPIB 0x04
#define SD_CBL 0x08
#define SD_LVI 0x0c
#define SD_FMT 0x12
#define SD_BDPL 0x18
#define SD_BDPU 0x1c

#define BAR_ADDR 0xfebf0000u

/* The stream's buffer: 4096 frames of 48 kHz stereo (85 ms), in two BDL
 * entries; frame k holds (k, ~k). run-guest.py knows this pattern. */
#define FRAMES 4096
#define STREAM_TAG 1
#define FMT_48K_16_STEREO 0x0011

static uintptr_t base;
static uint32_t corb[256] __attribute__((aligned(128)));
static uint64_t rirb[256] __attribute__((aligned(128)));
static int16_t pcm[FRAMES * 2] __attribute__((aligned(128)));
static uint32_t bdl[2 * 4] __attribute__((aligned(128)));

static uint8_t rd8(unsigned r) { return *(volatile uint8_t *)(base + r); }
static uint16_t rd16(unsigned r) { return *(volatile uint16_t *)(base + r); }
static uint32_t rd32(unsigned r) { return *(volatile uint32_t *)(base + r); }
static void wr8(unsigned r, uint8_t v) { *(volatile uint8_t *)(base + r) = v; }
static void wr16(unsigned r, uint16_t v) { *(volatile uint16_t *)(base + r) = v; }
static void wr32(unsigned r, uint32_t v) { *(volatile uint32_t *)(base + r) = v; }

static bool wait8(unsigned r, uint8_t mask, uint8_t want)
{
    for (unsigned i = 0; i < 1000000; i++) {
        if ((rd8(r) & mask) == want)
            return true;
        rt_pause();
    }
    return false;
}

/* One verb through the immediate command interface. */
static uint32_t icmd(uint32_t verb)
{
    for (unsigned i = 0; i < 100000 && (rd16(ICIS) & 1); i++)
        rt_pause();
    wr32(ICOI, verb);
    wr16(ICIS, 2);              /* clear IRV (write one) */
    wr16(ICIS, 1);              /* ICB: send */
    for (unsigned i = 0; i < 1000000; i++) {
        uint16_t s = rd16(ICIS);

        if (!(s & 1) && (s & 2)) {
            uint32_t r = rd32(ICII);

            wr16(ICIS, 2);
            return r;
        }
        rt_pause();
    }
    rt_fail("immediate command %08x got no response (ICIS %04x)", verb, rd16(ICIS));
}

static uint32_t verb(unsigned nid, unsigned v, unsigned payload)
{
    return (uint32_t)nid << 20 | (v > 0xf ? (uint32_t)v << 8 | (payload & 0xff)
                                          : (uint32_t)v << 16 | (payload & 0xffff));
}

static uint32_t param(unsigned nid, unsigned p)
{
    return icmd(verb(nid, 0xf00, p));
}

static const char *cmdline(void)
{
    const struct rt_hvm_start_info *si = (const struct rt_hvm_start_info *)(uintptr_t)rt_entry_ebx;

    if (si->magic != RT_HVM_START_MAGIC || !si->cmdline_paddr || si->cmdline_paddr >= 0xffffffffull)
        return "";
    return (const char *)(uintptr_t)si->cmdline_paddr;
}

/* The number after "key=" on the command line, or 0. */
static uint32_t cmdline_number(const char *key)
{
    size_t n = strlen(key);

    for (const char *s = cmdline(); *s; s++) {
        if ((s == cmdline() || s[-1] == ' ') && strncmp(s, key, n) == 0 && s[n] == '=') {
            uint32_t v = 0;

            for (s += n + 1; *s >= '0' && *s <= '9'; s++)
                v = v * 10 + (uint32_t)(*s - '0');
            return v;
        }
    }
    return 0;
}

static void square(unsigned from, unsigned count)
{
    for (unsigned i = 0; i < count; i++) {
        unsigned k = (from + i) % FRAMES;
        int16_t v = (k % 48) < 24 ? 8000 : -8000;

        pcm[2 * k] = v;
        pcm[2 * k + 1] = v;
    }
}

/* The benchmark's run: a square wave, and one click a second in. */
static void play(unsigned sd, unsigned seconds)
{
    unsigned wraps = 0, need = seconds * 48000 / FRAMES, click_wrap = 48000 / FRAMES;
    uint32_t last = 0;
    bool clicked = false, cleared = false;
    unsigned click_at = 0;

    square(0, FRAMES);
    wr8(sd + SD_STS, 0x1c);
    wr8(sd + SD_CTL, 2);
    rt_printf("playing %u s\n", seconds);
    while (wraps < need) {
        uint32_t pos = rd32(sd + SD_LPIB);

        if (pos < last)
            wraps++;
        last = pos;
        if (!clicked && wraps >= click_wrap) {
            /* Just ahead of what the controller has fetched. */
            click_at = (pos / 4 + 16) % FRAMES;
            for (unsigned i = 0; i < 48; i++) {
                unsigned k = (click_at + i) % FRAMES;

                pcm[2 * k] = 30000;
                pcm[2 * k + 1] = 30000;
            }
            rt_barrier();
            rt_puts("click written\n");
            clicked = true;
        } else if (clicked && !cleared && wraps >= click_wrap + 2) {
            square(click_at, 48);
            cleared = true;
        }
        rt_lapic_sleep_us(1000);
    }
    wr8(sd + SD_CTL, 0);
    rt_printf("played %u s\n", seconds);
}

static bool find_hda(uint8_t *dev_out)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t id = rt_pci_read32(0, dev, 0, 0);

        if ((id & 0xffff) == HDA_VENDOR && (id >> 16) == HDA_DEVICE) {
            *dev_out = dev;
            return true;
        }
    }
    return false;
}

static void dump_widget(unsigned nid, unsigned *out_conv, unsigned *pin_out)
{
    uint32_t caps = param(nid, 0x09);
    unsigned type = (caps >> 20) & 0xf;

    rt_printf("= node %02x caps %08x type %x\n", nid, caps, type);
    if (type == 0 || type == 1) {   /* audio output / input converter */
        rt_printf("= node %02x pcm %08x formats %08x\n", nid, param(nid, 0x0a), param(nid, 0x0b));
        rt_printf("= node %02x format %04x stream %02x\n", nid, icmd(verb(nid, 0xa, 0)),
                  icmd(verb(nid, 0xf06, 0)));
        if (type == 0 && !*out_conv)
            *out_conv = nid;
    }
    if (type == 4) {                /* pin complex */
        uint32_t pc = param(nid, 0x0c), cfg = icmd(verb(nid, 0xf1c, 0));

        rt_printf("= node %02x pincaps %08x config %08x pinctl %02x\n", nid, pc, cfg,
                  icmd(verb(nid, 0xf07, 0)));
        if ((pc & (1u << 4)) && !*pin_out)
            *pin_out = nid;
    }
    if (caps & (1u << 1))           /* in amp present */
        rt_printf("= node %02x inamp %08x gain L %08x R %08x\n", nid, param(nid, 0x0d),
                  icmd(verb(nid, 0xb, 0x2000)), icmd(verb(nid, 0xb, 0x0000)));
    if (caps & (1u << 2))           /* out amp present */
        rt_printf("= node %02x outamp %08x gain L %08x R %08x\n", nid, param(nid, 0x12),
                  icmd(verb(nid, 0xb, 0xa000)), icmd(verb(nid, 0xb, 0x8000)));
    if (caps & (1u << 8)) {         /* connection list */
        uint32_t len = param(nid, 0x0e);

        rt_printf("= node %02x connlist %08x first %08x select %02x\n", nid, len,
                  icmd(verb(nid, 0xf02, 0)), icmd(verb(nid, 0xf01, 0)));
    }
    if (caps & (1u << 10))          /* power control */
        rt_printf("= node %02x power %08x state %08x\n", nid, param(nid, 0x0f),
                  icmd(verb(nid, 0xf05, 0)));
    rt_printf("= node %02x eapd %08x unsol %08x\n", nid, icmd(verb(nid, 0xf0c, 0)),
              icmd(verb(nid, 0xf08, 0)));
}

/* The same verbs over CORB/RIRB must give the same answers. */
static void corb_rirb_check(uint32_t v, uint32_t expect)
{
    uint16_t wp = (rd16(CORBWP) + 1) & 0xff;
    uint16_t rp0 = rd16(RIRBWP) & 0xff;

    corb[wp] = v;
    rt_barrier();
    wr16(CORBWP, wp);
    for (unsigned i = 0; i < 1000000 && (rd16(RIRBWP) & 0xff) == rp0; i++)
        rt_pause();
    uint16_t rp = rd16(RIRBWP) & 0xff;
    RT_CHECK(rp == ((rp0 + 1) & 0xff), "RIRBWP %u after one verb (was %u)", rp, rp0);
    rt_barrier();
    RT_CHECK((uint32_t)rirb[rp] == expect, "CORB/RIRB answer %08x to %08x, immediate said %08x",
             (uint32_t)rirb[rp], v, expect);
    RT_CHECK((rirb[rp] >> 32) == 0, "RIRB response extended word %08x: codec 0, solicited",
             (uint32_t)(rirb[rp] >> 32));
    wr8(RIRBSTS, 0x5);
}

int main(void)
{
    uint8_t dev;

    rt_serial_init();
    rt_pic_init();
    rt_lapic_init(true);
    if (!find_hda(&dev))
        rt_fail("no 8086:293e on bus 0");
    uint32_t class = rt_pci_read32(0, dev, 0, 0x08);
    rt_printf("= hda class %06x\n", class >> 8);
    rt_printf("hda at 00:%02x.0\n", dev);

    /* Place BAR0 and enable memory decoding and bus mastering. */
    rt_pci_write32(0, dev, 0, 0x04, 0);
    rt_pci_write32(0, dev, 0, 0x10, 0xffffffff);
    uint32_t size = ~(rt_pci_read32(0, dev, 0, 0x10) & ~0xfu) + 1;
    rt_printf("= bar0 size %x\n", size);
    rt_pci_write32(0, dev, 0, 0x10, BAR_ADDR);
    rt_pci_write32(0, dev, 0, 0x14, 0);
    rt_pci_write32(0, dev, 0, 0x04, 0x6);
    base = BAR_ADDR;

    /* Reset: CRST low then high; the codec reports itself in STATESTS. */
    wr32(GCTL, 0);
    RT_CHECK(wait8(GCTL, 1, 0), "GCTL.CRST stays set");
    wr32(GCTL, 1);
    RT_CHECK(wait8(GCTL, 1, 1), "GCTL.CRST does not come back");
    for (unsigned i = 0; i < 1000000 && !(rd16(STATESTS) & 1); i++)
        rt_pause();
    uint16_t gcap = rd16(GCAP);
    rt_printf("= gcap %04x version %u.%u outpay %04x inpay %04x statests %04x\n", gcap,
              rd8(VMAJ), rd8(VMIN), rd16(OUTPAY), rd16(INPAY), rd16(STATESTS));
    unsigned iss = (gcap >> 8) & 0xf, oss = (gcap >> 12) & 0xf;
    RT_CHECK(oss >= 1, "no output stream");

    /* The codec's tree. */
    uint32_t sub = param(0, 0x04);
    rt_printf("= root vendor %08x revision %08x nodes %08x\n", param(0, 0x00), param(0, 0x02), sub);
    unsigned afg = (sub >> 16) & 0xff;
    RT_CHECK((sub & 0xff) >= 1, "the root has no function group");
    uint32_t afg_sub = param(afg, 0x04);
    rt_printf("= afg %02x type %08x caps %08x pcm %08x formats %08x power %08x gpio %08x "
              "inamp %08x outamp %08x nodes %08x subsystem %08x\n", afg, param(afg, 0x05),
              param(afg, 0x08), param(afg, 0x0a), param(afg, 0x0b), param(afg, 0x0f),
              param(afg, 0x11), param(afg, 0x0d), param(afg, 0x12), afg_sub,
              icmd(verb(afg, 0xf20, 0)));
    unsigned first = (afg_sub >> 16) & 0xff, n = afg_sub & 0xff, conv = 0, pin = 0;
    RT_CHECK(n >= 2 && n <= 32, "the function group has %u widgets", n);
    for (unsigned nid = first; nid < first + n; nid++)
        dump_widget(nid, &conv, &pin);
    RT_CHECK(conv && pin, "no output converter (%x) or output pin (%x)", conv, pin);

    /* CORB/RIRB: 256 entries each, one response per interrupt count. */
    wr8(CORBCTL, 0);
    wr8(RIRBCTL, 0);
    wr32(CORBLBASE, (uint32_t)(uintptr_t)corb);
    wr32(CORBUBASE, 0);
    wr32(RIRBLBASE, (uint32_t)(uintptr_t)rirb);
    wr32(RIRBUBASE, 0);
    wr8(CORBSIZE, 2);
    wr8(0x5e, 2);
    wr16(CORBRP, 0x8000);
    for (unsigned i = 0; i < 100000 && !(rd16(CORBRP) & 0x8000); i++)
        rt_pause();
    wr16(CORBRP, 0);
    for (unsigned i = 0; i < 100000 && (rd16(CORBRP) & 0x8000); i++)
        rt_pause();
    wr16(CORBWP, 0);
    wr16(RIRBWP, 0x8000);
    wr16(RINTCNT, 1);
    wr8(CORBCTL, 2);
    /* DMA and the response interrupt flag, as drivers set it: a controller
     * sends RINTCNT responses, then waits for RINTFL to be cleared. No
     * interrupt reaches the CPU (INTCTL stays 0). */
    wr8(RIRBCTL, 3);
    rt_printf("= corb rp %04x wp %04x rirb wp %04x\n", rd16(CORBRP), rd16(CORBWP), rd16(RIRBWP));
    corb_rirb_check(verb(0, 0xf00, 0x00), param(0, 0x00));
    corb_rirb_check(verb(conv, 0xf00, 0x09), param(conv, 0x09));
    corb_rirb_check(verb(pin, 0xf1c, 0), icmd(verb(pin, 0xf1c, 0)));
    wr8(CORBCTL, 0);
    wr8(RIRBCTL, 0);
    rt_puts("= corb/rirb answers agree with the immediate interface\n");

    /* Play the pattern: converter and pin set up as a driver would. */
    for (unsigned k = 0; k < FRAMES; k++) {
        pcm[2 * k] = (int16_t)k;
        pcm[2 * k + 1] = (int16_t)~k;
    }
    uint32_t outamp = param(conv, 0x12);
    if (!outamp)
        outamp = param(afg, 0x12);
    unsigned offset = outamp & 0x7f;
    icmd(verb(conv, 0x2, FMT_48K_16_STEREO));
    icmd(verb(conv, 0x706, STREAM_TAG << 4));
    icmd(verb(conv, 0x3, 0xb000 | offset));     /* out amp, both sides, 0 dB, unmuted */
    icmd(verb(pin, 0x707, 0x40));               /* output enable */
    if (param(pin, 0x09) & (1u << 2))
        icmd(verb(pin, 0x3, 0xb000));
    rt_printf("= converter format %04x stream %02x gain %08x\n", icmd(verb(conv, 0xa, 0)),
              icmd(verb(conv, 0xf06, 0)), icmd(verb(conv, 0xb, 0xa000)));

    unsigned sd = SD(iss);              /* the first output stream */
    wr8(sd + SD_CTL, 1);
    RT_CHECK(wait8(sd + SD_CTL, 1, 1), "stream reset does not start");
    wr8(sd + SD_CTL, 0);
    RT_CHECK(wait8(sd + SD_CTL, 1, 0), "stream reset does not end");
    bdl[0] = (uint32_t)(uintptr_t)pcm;
    bdl[1] = 0;
    bdl[2] = sizeof(pcm) / 2;
    bdl[3] = 0;
    bdl[4] = (uint32_t)(uintptr_t)pcm + sizeof(pcm) / 2;
    bdl[5] = 0;
    bdl[6] = sizeof(pcm) / 2;
    bdl[7] = 1;                         /* IOC at the end of the buffer */
    wr32(sd + SD_BDPL, (uint32_t)(uintptr_t)bdl);
    wr32(sd + SD_BDPU, 0);
    wr32(sd + SD_CBL, sizeof(pcm));
    wr16(sd + SD_LVI, 1);
    wr16(sd + SD_FMT, FMT_48K_16_STEREO);
    wr8(sd + SD_CTL + 2, STREAM_TAG << 4);
    rt_printf("= stream cbl %08x lvi %04x fmt %04x lpib %08x\n", rd32(sd + SD_CBL),
              rd16(sd + SD_LVI), rd16(sd + SD_FMT), rd32(sd + SD_LPIB));
    wr8(sd + SD_CTL, 2);                /* RUN */

    unsigned wraps = 0, bcis = 0;
    uint32_t last = 0;
    for (unsigned i = 0; i < 20000 && wraps < 3; i++) {
        uint32_t pos = rd32(sd + SD_LPIB);

        RT_CHECK(pos <= sizeof(pcm), "LPIB %x beyond CBL", pos);
        if (pos < last)
            wraps++;
        last = pos;
        if (rd8(sd + SD_STS) & 4) {
            bcis++;
            wr8(sd + SD_STS, 4);
        }
        rt_lapic_sleep_us(2000);
    }
    wr8(sd + SD_CTL, 0);
    RT_CHECK(wraps >= 3, "the stream position wrapped %u times in 40 s", wraps);
    RT_CHECK(bcis >= 1, "no buffer completion (BCIS) at the IOC entry");
    rt_printf("stream wrapped %u times, %u completions\n", wraps, bcis);
    rt_puts("= stream played\n");
    if (cmdline_number("play"))
        play(sd, cmdline_number("play"));
    rt_puts("PASS\n");
    rt_exit(0);
}
