/* Unit tests for the Intel HD Audio controller and its codec against fake
 * guest memory and a test audio backend that moves ring bytes when told:
 * registers and the reset handshake, codec answers (the values QEMU 7.2's
 * ich9-intel-hda with hda-duplex gives, as tests/guest/hda.c prints them),
 * CORB/RIRB with RINTCNT interrupts and overruns, the immediate interface,
 * output streams walking a buffer descriptor list into the voice's ring,
 * positions, buffer completions, formats, volume, input streams, and what a
 * hostile driver does. */
#include <unistd.h>

#include "hw/hda.h"
#include "unit.h"

#define RAM_SIZE 0x100000
#define CORB 0x1000
#define RIRB 0x2000
#define DPL  0x3000
#define BDL_OUT 0x4000
#define BDL_IN  0x5000

#define GCAP 0x00
#define VMIN 0x02
#define VMAJ 0x03
#define OUTPAY 0x04
#define INPAY 0x06
#define GCTL 0x08
#define WAKEEN 0x0c
#define STATESTS 0x0e
#define GSTS 0x10
#define INTCTL 0x20
#define INTSTS 0x24
#define WALCLK 0x30
#define SSYNC 0x34
#define CORBLBASE 0x40
#define CORBUBASE 0x44
#define CORBWP 0x48
#define CORBRP 0x4a
#define CORBCTL 0x4c
#define CORBSTS 0x4d
#define CORBSIZE 0x4e
#define RIRBLBASE 0x50
#define RIRBUBASE 0x54
#define RIRBWP 0x58
#define RINTCNT 0x5a
#define RIRBCTL 0x5c
#define RIRBSTS 0x5d
#define RIRBSIZE 0x5e
#define ICOI 0x60
#define ICII 0x64
#define ICIS 0x68
#define DPLBASE 0x70
#define DPUBASE 0x74
#define SD(n) (0x80 + 0x20 * (n))
#define SD_CTL 0x00
#define SD_STS 0x03
#define SD_LPIB 0x04
#define SD_CBL 0x08
#define SD_LVI 0x0c
#define SD_FIFOS 0x10
#define SD_FMT 0x12
#define SD_BDPL 0x18
#define SD_BDPU 0x1c

#define OUT_SD 4        /* the first output stream descriptor */
#define IN_SD 0
#define FMT_48K_16_2 0x0011
#define FMT_44K_16_2 0x4011

struct msi_rec {
    unsigned count;
    uint64_t addr;
    uint32_t data;
};

struct test_backend {
    struct audio_backend b;
    unsigned starts, stops, volumes;
    struct audio_format fmt;
    int fail;                   /* start's result */
};

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct hda *h;
    struct irq_rec irq;
    struct msi_rec msi;
    struct test_backend tb;
};

static int tb_start(struct audio_backend *b, struct audio_voice *v)
{
    struct test_backend *t = b->priv;

    if (t->fail)
        return t->fail;
    t->starts++;
    t->fmt = v->fmt;
    return 0;
}

static void tb_stop(struct audio_backend *b, struct audio_voice *v)
{
    struct test_backend *t = b->priv;

    t->stops++;
}

static void tb_volume(struct audio_backend *b, struct audio_voice *v)
{
    struct test_backend *t = b->priv;

    t->volumes++;
}

static void tb_destroy(struct audio_backend *b)
{
}

static const struct audio_backend_ops tb_ops = {
    .start = tb_start,
    .stop = tb_stop,
    .volume_changed = tb_volume,
    .destroy = tb_destroy,
};

static int msi_record(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    struct msi_rec *m = opaque;

    m->count++;
    m->addr = addr;
    m->data = data;
    return 0;
}

static uint32_t rd32(struct fixture *f, uint64_t off) { return (uint32_t)dev_read(&hda_mmio_ops, f->h, off, 4); }
static uint16_t rd16(struct fixture *f, uint64_t off) { return (uint16_t)dev_read(&hda_mmio_ops, f->h, off, 2); }
static uint8_t rd8(struct fixture *f, uint64_t off) { return (uint8_t)dev_read(&hda_mmio_ops, f->h, off, 1); }
static void wr32(struct fixture *f, uint64_t off, uint32_t v) { dev_write(&hda_mmio_ops, f->h, off, 4, v); }
static void wr16(struct fixture *f, uint64_t off, uint16_t v) { dev_write(&hda_mmio_ops, f->h, off, 2, v); }
static void wr8(struct fixture *f, uint64_t off, uint8_t v) { dev_write(&hda_mmio_ops, f->h, off, 1, v); }

static void config(struct fixture *f, unsigned off, const void *v, unsigned len)
{
    memcpy(&f->h->pci.cfg[off], v, len);
    f->h->pci.ops->config_written(&f->h->pci, off, len);
}

static void put32(uint8_t *p, uint32_t v) { memcpy(p, &v, 4); }
static uint32_t get32(const uint8_t *p) { uint32_t v; memcpy(&v, p, 4); return v; }

static void link_reset(struct fixture *f)
{
    wr32(f, GCTL, 0);
    g_assert_cmphex(rd32(f, GCTL) & 1, ==, 0);
    wr32(f, GCTL, 1);
    g_assert_cmphex(rd32(f, GCTL) & 1, ==, 1);
}

static void setup(struct fixture *f, gconstpointer data)
{
    uint16_t command = 0x0006;

    memset(f, 0, sizeof(*f));
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
    f->tb.b.name = "test";
    f->tb.b.ops = &tb_ops;
    f->tb.b.priv = &f->tb;
    f->h = hda_new(f->mem, (struct msi_sink){ msi_record, &f->msi }, irq_rec_line(&f->irq, 16),
                   &f->tb.b);
    g_assert_nonnull(f->h);
    config(f, PCI_COMMAND, &command, 2);
    link_reset(f);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    hda_free(f->h);
    gmem_free(f->mem);
    g_free(f->ram);
}

static uint32_t verb(unsigned nid, unsigned v, unsigned payload)
{
    return (uint32_t)nid << 20 | (v > 0xf ? (uint32_t)v << 8 | (payload & 0xff)
                                          : (uint32_t)v << 16 | (payload & 0xffff));
}

static uint32_t icmd(struct fixture *f, uint32_t v)
{
    g_assert_cmphex(rd16(f, ICIS) & 1, ==, 0);
    wr32(f, ICOI, v);
    wr16(f, ICIS, 2);
    wr16(f, ICIS, 1);
    g_assert_cmphex(rd16(f, ICIS), ==, 2);
    wr16(f, ICIS, 2);
    g_assert_cmphex(rd16(f, ICIS), ==, 0);
    return rd32(f, ICII);
}

/* ---- controller ---- */

static void test_registers(struct fixture *f, gconstpointer data)
{
    const uint8_t *c = f->h->pci.cfg;
    uint32_t w0, w1;

    g_assert_cmphex(c[0] | c[1] << 8, ==, 0x8086);
    g_assert_cmphex(c[2] | c[3] << 8, ==, 0x293e);
    g_assert_cmphex(c[8], ==, 3);
    g_assert_cmphex(c[9] | c[10] << 8 | c[11] << 16, ==, 0x040300);
    g_assert_cmphex(c[0x2c] | c[0x2d] << 8, ==, 0x1af4);
    g_assert_cmphex(c[0x2e] | c[0x2f] << 8, ==, 0x1100);
    g_assert_cmphex(c[0x3d], ==, 1);
    g_assert_cmphex(c[0x34], ==, 0x60);
    g_assert_cmphex(c[0x60], ==, 0x05);
    g_assert_cmphex(c[0x62] | c[0x63] << 8, ==, 0x0080);
    g_assert_cmpuint(f->h->pci.bar[0].size, ==, 0x4000);

    g_assert_cmphex(rd16(f, GCAP), ==, 0x4401);
    g_assert_cmphex(rd8(f, VMIN), ==, 0);
    g_assert_cmphex(rd8(f, VMAJ), ==, 1);
    g_assert_cmphex(rd16(f, OUTPAY), ==, 0x3c);
    g_assert_cmphex(rd16(f, INPAY), ==, 0x1d);
    g_assert_cmphex(rd32(f, GCAP), ==, 0x01004401);
    g_assert_cmphex(rd8(f, CORBSIZE), ==, 0x42);
    g_assert_cmphex(rd8(f, RIRBSIZE), ==, 0x42);
    for (unsigned i = 0; i < 8; i++) {
        g_assert_cmphex(rd16(f, SD(i) + SD_FIFOS), ==, 0x100);
        g_assert_cmphex(rd8(f, SD(i) + SD_STS), ==, 0x20);
        g_assert_cmphex(rd32(f, SD(i) + SD_CTL), ==, 0x20000000);
    }
    /* Beyond the registers and beyond the BAR: zeros. */
    g_assert_cmphex(rd32(f, 0x180), ==, 0);
    g_assert_cmphex(rd32(f, 0x3ffc), ==, 0);
    g_assert_cmphex(dev_read(&hda_mmio_ops, f->h, 0x4000, 4), ==, 0);

    /* The wall clock runs at 24 MHz, also at its alias. */
    w0 = rd32(f, WALCLK);
    g_usleep(2000);
    w1 = rd32(f, 0x2000 + WALCLK);
    g_assert_cmpuint(w1 - w0, >=, 2000 * 24);
    g_assert_cmpuint(w1 - w0, <, 2000000 * 24);

    /* Plain read/write registers keep what their masks let through. */
    wr32(f, CORBLBASE, 0x12345678);
    g_assert_cmphex(rd32(f, CORBLBASE), ==, 0x12345600);
    wr32(f, CORBUBASE, 0xdeadbeef);
    g_assert_cmphex(rd32(f, CORBUBASE), ==, 0xdeadbeef);
    wr32(f, DPLBASE, 0xffffffff);
    g_assert_cmphex(rd32(f, DPLBASE), ==, 0xffffff81);
    wr32(f, INTCTL, 0xffffffff);
    g_assert_cmphex(rd32(f, INTCTL), ==, 0xc00000ff);
    wr32(f, INTCTL, 0);
    wr32(f, SSYNC, 0xffffffff);
    g_assert_cmphex(rd32(f, SSYNC), ==, 0xff);
    g_assert_cmphex(rd32(f, 0x38), ==, 0xff);
    wr32(f, SD(OUT_SD) + SD_BDPL, 0xffffffff);
    g_assert_cmphex(rd32(f, SD(OUT_SD) + SD_BDPL), ==, 0xffffff80);
    wr16(f, SD(OUT_SD) + SD_LVI, 0xffff);
    g_assert_cmphex(rd16(f, SD(OUT_SD) + SD_LVI), ==, 0xff);
    wr16(f, SD(OUT_SD) + SD_FMT, 0xffff);
    g_assert_cmphex(rd16(f, SD(OUT_SD) + SD_FMT), ==, 0x7f7f);
    wr32(f, SD(OUT_SD) + SD_CTL, 0xffffffff & ~1u);
    g_assert_cmphex(rd32(f, SD(OUT_SD) + SD_CTL) & 0xffffff, ==, 0xff001e);
    wr32(f, SD(OUT_SD) + SD_CTL, 0);
    /* LPIB, GCAP and the sizes are read-only. */
    wr32(f, SD(OUT_SD) + SD_LPIB, 0x1234);
    g_assert_cmphex(rd32(f, SD(OUT_SD) + SD_LPIB), ==, 0);
    wr16(f, GCAP, 0);
    g_assert_cmphex(rd16(f, GCAP), ==, 0x4401);
    wr8(f, CORBSIZE, 0);
    g_assert_cmphex(rd8(f, CORBSIZE), ==, 0x42);

    /* Flush: FSTS set, FCNTRL reads back 0. */
    wr32(f, GCTL, 3);
    g_assert_cmphex(rd32(f, GCTL), ==, 1);
    g_assert_cmphex(rd16(f, GSTS), ==, 2);
    wr16(f, GSTS, 2);
    g_assert_cmphex(rd16(f, GSTS), ==, 0);
}

static void test_reset_handshake(struct fixture *f, gconstpointer data)
{
    /* Power-on: in reset, no codec reported. */
    hda_reset(f->h);
    g_assert_cmphex(rd32(f, GCTL), ==, 0);
    g_assert_cmphex(rd16(f, STATESTS), ==, 0);
    wr32(f, GCTL, 1);
    g_assert_cmphex(rd32(f, GCTL), ==, 1);
    g_assert_cmphex(rd16(f, STATESTS), ==, 1);
    /* STATESTS is write-one-to-clear; a second CRST=1 does not set it. */
    wr16(f, STATESTS, 1);
    g_assert_cmphex(rd16(f, STATESTS), ==, 0);
    wr32(f, GCTL, 0x101);
    g_assert_cmphex(rd32(f, GCTL), ==, 0x101);
    g_assert_cmphex(rd16(f, STATESTS), ==, 0);

    /* A codec state change wakes the guest when WAKEEN and CIE say so. */
    wr32(f, GCTL, 0);
    wr32(f, GCTL, 1);
    wr16(f, WAKEEN, 1);
    g_assert_cmphex(rd32(f, INTSTS), ==, 0x40000000);
    g_assert_cmpint(f->irq.level, ==, 0);
    wr32(f, INTCTL, 0xc0000000);
    g_assert_cmphex(rd32(f, INTSTS), ==, 0xc0000000);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr16(f, STATESTS, 1);
    g_assert_cmpint(f->irq.level, ==, 0);

    /* CRST=0 resets every register and the codec. */
    wr32(f, CORBLBASE, 0x1000);
    wr32(f, SD(OUT_SD) + SD_CBL, 4096);
    icmd(f, verb(2, 0x706, 0x10));
    g_assert_cmphex(icmd(f, verb(2, 0xf06, 0)), ==, 0x10);
    wr32(f, GCTL, 0);
    g_assert_cmphex(rd32(f, GCTL), ==, 0);
    g_assert_cmphex(rd32(f, CORBLBASE), ==, 0);
    g_assert_cmphex(rd32(f, SD(OUT_SD) + SD_CBL), ==, 0);
    g_assert_cmphex(rd32(f, INTCTL), ==, 0);
    wr32(f, GCTL, 1);
    g_assert_cmphex(rd16(f, STATESTS), ==, 1);
    g_assert_cmphex(icmd(f, verb(2, 0xf06, 0)), ==, 0);

    /* Stream reset: SRST reads back 1, then 0, and the descriptor is clear. */
    wr32(f, SD(OUT_SD) + SD_CBL, 4096);
    wr8(f, SD(OUT_SD) + SD_CTL, 1);
    g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_CTL) & 1, ==, 1);
    wr8(f, SD(OUT_SD) + SD_CTL, 0);
    g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_CTL) & 1, ==, 0);
    g_assert_cmphex(rd32(f, SD(OUT_SD) + SD_CBL), ==, 0);
}

/* ---- codec ---- */

struct expect {
    unsigned nid, verb, payload;
    uint32_t value;
};

/* What QEMU 7.2's ich9-intel-hda with hda-duplex answered tests/guest/hda. */
static const struct expect qemu_answers[] = {
    { 0x00, 0xf00, 0x00, 0x1af40022 },  /* vendor */
    { 0x00, 0xf00, 0x02, 0x00100101 },  /* revision */
    { 0x00, 0xf00, 0x04, 0x00010001 },  /* nodes */
    { 0x01, 0xf00, 0x05, 0x00000001 },  /* function group type */
    { 0x01, 0xf00, 0x08, 0x00000808 },
    { 0x01, 0xf00, 0x0a, 0x000201fc },
    { 0x01, 0xf00, 0x0b, 0x00000001 },
    { 0x01, 0xf00, 0x0f, 0x00000000 },
    { 0x01, 0xf00, 0x11, 0x00000000 },
    { 0x01, 0xf00, 0x0d, 0x00000000 },
    { 0x01, 0xf00, 0x12, 0x00000000 },
    { 0x01, 0xf00, 0x04, 0x00020004 },
    { 0x01, 0xf20, 0x00, 0x1af40022 },
    /* The output converter. */
    { 0x02, 0xf00, 0x09, 0x0000001d },
    { 0x02, 0xf00, 0x0a, 0x000201fc },
    { 0x02, 0xf00, 0x0b, 0x00000001 },
    { 0x02, 0xa, 0x0000, 0x0011 },
    { 0x02, 0xf06, 0x00, 0x00 },
    { 0x02, 0xf00, 0x12, 0x80034a4a },
    { 0x02, 0xb, 0xa000, 0x4a },
    { 0x02, 0xb, 0x8000, 0x4a },
    { 0x02, 0xf0c, 0x00, 0 },
    { 0x02, 0xf08, 0x00, 0 },
    /* Line out. */
    { 0x03, 0xf00, 0x09, 0x00400101 },
    { 0x03, 0xf00, 0x0c, 0x00000010 },
    { 0x03, 0xf1c, 0x00, 0x00004010 },
    { 0x03, 0xf07, 0x00, 0x40 },
    { 0x03, 0xf00, 0x0e, 0x00000001 },
    { 0x03, 0xf02, 0x00, 0x00000002 },
    { 0x03, 0xf01, 0x00, 0x00 },
    { 0x03, 0xf0c, 0x00, 0 },
    { 0x03, 0xf08, 0x00, 0 },
    /* The input converter. */
    { 0x04, 0xf00, 0x09, 0x0010011b },
    { 0x04, 0xf00, 0x0a, 0x000201fc },
    { 0x04, 0xf00, 0x0b, 0x00000001 },
    { 0x04, 0xa, 0x0000, 0x0011 },
    { 0x04, 0xf06, 0x00, 0x00 },
    { 0x04, 0xf00, 0x0d, 0x80034a4a },
    { 0x04, 0xb, 0x2000, 0x00 },
    { 0x04, 0xb, 0x0000, 0x00 },
    { 0x04, 0xf00, 0x0e, 0x00000001 },
    { 0x04, 0xf02, 0x00, 0x00000005 },
    { 0x04, 0xf01, 0x00, 0x00 },
    /* Line in. */
    { 0x05, 0xf00, 0x09, 0x00400001 },
    { 0x05, 0xf00, 0x0c, 0x00000020 },
    { 0x05, 0xf1c, 0x00, 0x00805020 },
    { 0x05, 0xf07, 0x00, 0x20 },
    { 0x05, 0xf0c, 0x00, 0 },
    { 0x05, 0xf08, 0x00, 0 },
    /* What is not there answers 0. */
    { 0x02, 0xf00, 0x04, 0 },
    { 0x02, 0xf00, 0x0c, 0 },
    { 0x02, 0xf00, 0x13, 0 },
    { 0x02, 0xf0d, 0x00, 0 },
    { 0x03, 0xf09, 0x00, 0 },
    { 0x01, 0xf0a, 0x00, 0 },
    { 0x01, 0xf10, 0x00, 0 },
    { 0x06, 0xf00, 0x00, 0 },
    { 0x7f, 0xf00, 0x09, 0 },
    { 0x00, 0xf05, 0x00, 0 },
};

static void test_codec_answers(struct fixture *f, gconstpointer data)
{
    for (size_t i = 0; i < G_N_ELEMENTS(qemu_answers); i++) {
        const struct expect *e = &qemu_answers[i];
        uint32_t got = icmd(f, verb(e->nid, e->verb, e->payload));

        if (got != e->value)
            g_error("node %02x verb %03x payload %04x: %08x, QEMU says %08x", e->nid, e->verb,
                    e->payload, got, e->value);
    }
}

static void test_codec_state(struct fixture *f, gconstpointer data)
{
    /* Converter stream/channel and format. */
    g_assert_cmphex(icmd(f, verb(2, 0x706, 0x31)), ==, 0);
    g_assert_cmphex(icmd(f, verb(2, 0xf06, 0)), ==, 0x31);
    g_assert_cmphex(icmd(f, verb(2, 0x2, 0x4011)), ==, 0);
    g_assert_cmphex(icmd(f, verb(2, 0xa, 0)), ==, 0x4011);
    /* Amplifiers: left and right apart, mute, clamped to the steps. */
    icmd(f, verb(2, 0x3, 0xa000 | 0x20));
    g_assert_cmphex(icmd(f, verb(2, 0xb, 0xa000)), ==, 0x20);
    g_assert_cmphex(icmd(f, verb(2, 0xb, 0x8000)), ==, 0x4a);
    icmd(f, verb(2, 0x3, 0x9000 | 0x80 | 0x7f));
    g_assert_cmphex(icmd(f, verb(2, 0xb, 0x8000)), ==, 0xca);
    /* An input amp set on the output converter changes nothing. */
    icmd(f, verb(2, 0x3, 0x7000 | 0x01));
    g_assert_cmphex(icmd(f, verb(2, 0xb, 0xa000)), ==, 0x20);
    icmd(f, verb(4, 0x3, 0x7000 | 0x30));
    g_assert_cmphex(icmd(f, verb(4, 0xb, 0x2000)), ==, 0x30);
    g_assert_cmphex(icmd(f, verb(4, 0xb, 0x0000)), ==, 0x30);
    /* Pin control, EAPD, unsolicited enable, power, connection select. */
    icmd(f, verb(3, 0x707, 0xc0));
    g_assert_cmphex(icmd(f, verb(3, 0xf07, 0)), ==, 0xc0);
    icmd(f, verb(3, 0x70c, 0x02));
    g_assert_cmphex(icmd(f, verb(3, 0xf0c, 0)), ==, 0x02);
    icmd(f, verb(3, 0x708, 0x85));
    g_assert_cmphex(icmd(f, verb(3, 0xf08, 0)), ==, 0x85);
    icmd(f, verb(1, 0x705, 3));
    g_assert_cmphex(icmd(f, verb(1, 0xf05, 0)), ==, 0x33);
    icmd(f, verb(1, 0x705, 0));
    g_assert_cmphex(icmd(f, verb(1, 0xf05, 0)), ==, 0x00);
    icmd(f, verb(4, 0x701, 5));
    g_assert_cmphex(icmd(f, verb(4, 0xf01, 0)), ==, 0);
    /* Configuration default bytes. */
    icmd(f, verb(3, 0x71f, 0x01));
    g_assert_cmphex(icmd(f, verb(3, 0xf1c, 0)), ==, 0x01004010);
    /* Function reset: widgets back to power-on, configuration stays. */
    icmd(f, verb(1, 0x7ff, 0));
    g_assert_cmphex(icmd(f, verb(2, 0xf06, 0)), ==, 0);
    g_assert_cmphex(icmd(f, verb(2, 0xa, 0)), ==, 0x0011);
    g_assert_cmphex(icmd(f, verb(2, 0xb, 0xa000)), ==, 0x4a);
    g_assert_cmphex(icmd(f, verb(3, 0xf07, 0)), ==, 0x40);
    g_assert_cmphex(icmd(f, verb(3, 0xf1c, 0)), ==, 0x01004010);
}

/* ---- CORB/RIRB and the immediate interface ---- */

static void corb_setup(struct fixture *f, uint8_t rirbctl)
{
    wr8(f, CORBCTL, 0);
    wr8(f, RIRBCTL, 0);
    wr32(f, CORBLBASE, CORB);
    wr32(f, CORBUBASE, 0);
    wr32(f, RIRBLBASE, RIRB);
    wr32(f, RIRBUBASE, 0);
    wr16(f, CORBRP, 0x8000);
    g_assert_cmphex(rd16(f, CORBRP), ==, 0x8000);
    wr16(f, CORBRP, 0);
    g_assert_cmphex(rd16(f, CORBRP), ==, 0);
    wr16(f, CORBWP, 0);
    wr16(f, RIRBWP, 0x8000);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 0);
    wr8(f, CORBCTL, 2);
    wr8(f, RIRBCTL, rirbctl);
}

/* Queues n commands after CORBWP and moves CORBWP past them. */
static void corb_send(struct fixture *f, const uint32_t *cmds, unsigned n)
{
    unsigned wp = rd16(f, CORBWP) & 0xff;

    for (unsigned i = 0; i < n; i++) {
        wp = (wp + 1) & 0xff;
        put32(f->ram + CORB + 4 * wp, cmds[i]);
    }
    wr16(f, CORBWP, (uint16_t)wp);
}

static uint32_t rirb_entry(struct fixture *f, unsigned i, uint32_t *ex)
{
    *ex = get32(f->ram + RIRB + 8 * i + 4);
    return get32(f->ram + RIRB + 8 * i);
}

static void test_corb_rirb(struct fixture *f, gconstpointer data)
{
    const uint32_t cmds[3] = {
        verb(0, 0xf00, 0x00), verb(2, 0xf00, 0x09), verb(3, 0xf1c, 0),
    };
    const uint32_t want[3] = { 0x1af40022, 0x1d, 0x4010 };
    uint32_t ex;

    corb_setup(f, 3);
    wr16(f, RINTCNT, 2);
    wr32(f, INTCTL, 0xc0000000);
    corb_send(f, cmds, 3);
    g_assert_cmphex(rd16(f, CORBRP), ==, 3);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 3);
    for (unsigned i = 0; i < 3; i++) {
        g_assert_cmphex(rirb_entry(f, i + 1, &ex), ==, want[i]);
        g_assert_cmphex(ex, ==, 0);
    }
    /* RINTCNT responses raise RINTFL; the interrupt goes to the CPU. */
    g_assert_cmphex(rd8(f, RIRBSTS), ==, 1);
    g_assert_cmphex(rd32(f, INTSTS), ==, 0xc0000000);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr8(f, RIRBSTS, 1);
    g_assert_cmphex(rd8(f, RIRBSTS), ==, 0);
    g_assert_cmpint(f->irq.level, ==, 0);

    /* With RINTCNT 1 each response interrupts; one more command is one
     * more raise. */
    wr16(f, RINTCNT, 1);
    corb_send(f, cmds, 1);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 4);
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmpuint(f->irq.raises, ==, 2);
    wr8(f, RIRBSTS, 1);

    /* A large RINTCNT: the interrupt comes when the CORB runs dry. */
    wr16(f, RINTCNT, 200);
    corb_send(f, cmds, 3);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 7);
    g_assert_cmphex(rd8(f, RIRBSTS), ==, 1);
    wr8(f, RIRBSTS, 1);

    /* Without RINTCTL no RINTFL and no interrupt, the responses still come. */
    wr8(f, RIRBCTL, 2);
    corb_send(f, cmds, 2);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 9);
    g_assert_cmphex(rd8(f, RIRBSTS), ==, 0);
    g_assert_cmpint(f->irq.level, ==, 0);

    /* Without RIRB DMA the responses are dropped. */
    wr8(f, RIRBCTL, 0);
    corb_send(f, cmds, 2);
    g_assert_cmphex(rd16(f, CORBRP), ==, 11);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 9);

    /* CORB stopped: nothing runs until RUN is set again. */
    wr8(f, RIRBCTL, 2);
    wr8(f, CORBCTL, 0);
    corb_send(f, cmds, 1);
    g_assert_cmphex(rd16(f, CORBRP), ==, 11);
    wr8(f, CORBCTL, 2);
    g_assert_cmphex(rd16(f, CORBRP), ==, 12);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 10);

    /* A command for another codec gets no response. */
    {
        uint32_t other = 1u << 28 | verb(0, 0xf00, 0);

        corb_send(f, &other, 1);
        g_assert_cmphex(rd16(f, CORBRP), ==, 13);
        g_assert_cmphex(rd16(f, RIRBWP), ==, 10);
    }
}

static void test_corb_msi(struct fixture *f, gconstpointer data)
{
    uint8_t msi[14] = { 0 };
    const uint32_t cmd = verb(0, 0xf00, 0);

    msi[0] = 0x05;
    msi[2] = 0x81;                      /* enable, 64-bit */
    put32(msi + 4, 0xfee00000);
    msi[12] = 0x41;
    config(f, 0x60, msi, sizeof(msi));
    corb_setup(f, 3);
    wr16(f, RINTCNT, 1);
    wr32(f, INTCTL, 0xc0000000);
    corb_send(f, &cmd, 1);
    g_assert_cmpuint(f->msi.count, ==, 1);
    g_assert_cmphex(f->msi.addr, ==, 0xfee00000);
    g_assert_cmphex(f->msi.data, ==, 0x41);
    g_assert_cmpint(f->irq.level, ==, 0);
    wr8(f, RIRBSTS, 1);
    corb_send(f, &cmd, 1);
    g_assert_cmpuint(f->msi.count, ==, 2);
}

static void test_rirb_overrun(struct fixture *f, gconstpointer data)
{
    uint32_t cmds[255];
    uint32_t ex;

    for (unsigned i = 0; i < 255; i++)
        cmds[i] = verb(0, 0xf00, 0x02);
    corb_setup(f, 2 | 4);
    wr16(f, RINTCNT, 0);        /* 256 */
    wr32(f, INTCTL, 0xc0000000);
    corb_send(f, cmds, 255);
    g_assert_cmphex(rd16(f, CORBRP), ==, 255);
    /* The driver does not look at RIRBWP (here, by reading RAM only). */
    g_assert_cmphex(f->h->rirb_wp, ==, 255);
    corb_send(f, cmds, 1);
    g_assert_cmphex(f->h->rirb_wp, ==, 0);
    g_assert_cmphex(f->h->rirb_sts, ==, 0);
    /* The ring is full of unread responses: the next is dropped. */
    corb_send(f, cmds, 1);
    g_assert_cmphex(f->h->rirb_wp, ==, 0);
    g_assert_cmphex(rd16(f, CORBRP), ==, 1);
    g_assert_cmphex(rd8(f, RIRBSTS), ==, 4);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr8(f, RIRBSTS, 4);
    g_assert_cmpint(f->irq.level, ==, 0);
    /* Reading RIRBWP shows the guest caught up. */
    g_assert_cmphex(rd16(f, RIRBWP), ==, 0);
    corb_send(f, cmds, 1);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 1);
    g_assert_cmphex(rirb_entry(f, 1, &ex), ==, 0x00100101);
}

static void test_corb_hostile(struct fixture *f, gconstpointer data)
{
    const uint32_t cmd = verb(0, 0xf00, 0);

    /* CORBWP beyond the ring's size is masked to it. */
    corb_setup(f, 2);
    put32(f->ram + CORB + 4, cmd);
    wr16(f, CORBWP, 0xff01);
    g_assert_cmphex(rd16(f, CORBWP), ==, 1);
    g_assert_cmphex(rd16(f, CORBRP), ==, 1);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 1);
    /* The whole ring at once: at most 255 commands, bounded. */
    wr16(f, CORBWP, 0);
    g_assert_cmphex(rd16(f, CORBRP), ==, 0);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 0);

    /* A CORB outside RAM: memory error, the CORB stops. */
    wr8(f, CORBCTL, 0);
    wr32(f, CORBLBASE, 0xfff00000);
    wr8(f, CORBCTL, 3);
    wr32(f, INTCTL, 0xc0000000);
    wr16(f, CORBWP, 5);
    g_assert_cmphex(rd8(f, CORBSTS), ==, 1);
    g_assert_cmphex(rd8(f, CORBCTL), ==, 1);
    g_assert_cmphex(rd16(f, CORBRP), ==, 0);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr8(f, CORBSTS, 1);
    g_assert_cmpint(f->irq.level, ==, 0);

    /* A RIRB outside RAM: responses dropped, the CORB goes on. */
    wr32(f, CORBLBASE, CORB);
    wr32(f, RIRBUBASE, 0x10);
    put32(f->ram + CORB + 4 * 6, cmd);
    wr8(f, CORBCTL, 2);
    g_assert_cmphex(rd16(f, CORBRP), ==, 5);
    wr16(f, CORBRP, 0x8000);
    wr16(f, CORBRP, 0);
    wr16(f, CORBWP, 6);
    g_assert_cmphex(rd16(f, CORBRP), ==, 6);
    g_assert_cmphex(rd16(f, RIRBWP), ==, 0);

    /* Bus mastering off: nothing is fetched until it is back on. */
    {
        uint16_t off = 0x0002, on = 0x0006;

        wr32(f, RIRBUBASE, 0);
        config(f, PCI_COMMAND, &off, 2);
        put32(f->ram + CORB + 4 * 7, cmd);
        wr16(f, CORBWP, 7);
        g_assert_cmphex(rd16(f, CORBRP), ==, 6);
        config(f, PCI_COMMAND, &on, 2);
        g_assert_cmphex(rd16(f, CORBRP), ==, 7);
        g_assert_cmphex(rd16(f, RIRBWP), ==, 1);
    }
}

static void test_immediate(struct fixture *f, gconstpointer data)
{
    wr32(f, ICOI, verb(0, 0xf00, 0));
    wr16(f, ICIS, 1);
    g_assert_cmphex(rd16(f, ICIS), ==, 2);
    g_assert_cmphex(rd32(f, ICII), ==, 0x1af40022);
    /* IRV stays until written with one. */
    wr16(f, ICIS, 0);
    g_assert_cmphex(rd16(f, ICIS), ==, 2);
    /* Clearing IRV and sending in one write, as Linux does. */
    wr32(f, ICOI, verb(2, 0xf00, 0x12));
    wr16(f, ICIS, 3);
    g_assert_cmphex(rd16(f, ICIS), ==, 2);
    g_assert_cmphex(rd32(f, ICII), ==, 0x80034a4a);
    wr16(f, ICIS, 2);
    /* No codec at address 2: ICB clears, IRV stays clear. */
    wr32(f, ICOI, 2u << 28 | verb(0, 0xf00, 0));
    wr16(f, ICIS, 1);
    g_assert_cmphex(rd16(f, ICIS), ==, 0);
    g_assert_cmphex(rd32(f, ICII), ==, 0x80034a4a);
}

/* ---- streams ---- */

struct bdl_entry {
    uint64_t addr;
    uint32_t len;
    bool ioc;
};

static void write_bdl(struct fixture *f, uint64_t at, const struct bdl_entry *e, unsigned n)
{
    for (unsigned i = 0; i < n; i++) {
        uint8_t *d = f->ram + at + 16 * i;

        put32(d, (uint32_t)e[i].addr);
        put32(d + 4, (uint32_t)(e[i].addr >> 32));
        put32(d + 8, e[i].len);
        put32(d + 12, e[i].ioc);
    }
}

/* Programs stream descriptor sd as a driver does after SRST. */
static void stream_setup(struct fixture *f, unsigned sd, unsigned tag, uint32_t cbl, unsigned lvi,
                         uint16_t fmt, uint64_t bdl)
{
    wr8(f, SD(sd) + SD_CTL, 1);
    wr8(f, SD(sd) + SD_CTL, 0);
    wr32(f, SD(sd) + SD_BDPL, (uint32_t)bdl);
    wr32(f, SD(sd) + SD_BDPU, (uint32_t)(bdl >> 32));
    wr32(f, SD(sd) + SD_CBL, cbl);
    wr16(f, SD(sd) + SD_LVI, (uint16_t)lvi);
    wr16(f, SD(sd) + SD_FMT, fmt);
    wr8(f, SD(sd) + SD_CTL + 2, (uint8_t)(tag << 4));
}

static void bind(struct fixture *f, unsigned nid, unsigned tag, uint16_t fmt)
{
    icmd(f, verb(nid, 0x2, fmt));
    icmd(f, verb(nid, 0x706, tag << 4));
}

static void run(struct fixture *f, unsigned sd, uint8_t ctl)
{
    wr8(f, SD(sd) + SD_CTL, ctl | 2);
}

static void stop(struct fixture *f, unsigned sd)
{
    wr8(f, SD(sd) + SD_CTL, rd8(f, SD(sd) + SD_CTL) & ~2);
}

/* audio_voice_start asks the service thread for one call: wait for it to
 * have filled the ring, so that the test's own calls are the only others. */
static void wait_first_fill(struct fixture *f, struct audio_voice *v)
{
    for (unsigned i = 0; i < 2000 && !audio_ring_used(&v->ring); i++)
        g_usleep(1000);
    g_assert_cmpuint(audio_ring_used(&v->ring), >, 0);
    /* The call that filled it holds the lock until it is done. */
    pthread_mutex_lock(&f->h->lock);
    pthread_mutex_unlock(&f->h->lock);
}

static void wait_kick_taken(struct fixture *f, struct audio_voice *v)
{
    for (unsigned i = 0; i < 2000 && atomic_load(&v->kicked); i++)
        g_usleep(1000);
    g_usleep(2000);
    pthread_mutex_lock(&f->h->lock);
    pthread_mutex_unlock(&f->h->lock);
}

/* What the backend does: take len bytes from the ring, then call the
 * voice's service as the service thread would. */
static size_t consume(struct audio_voice *v, uint8_t *out, size_t len)
{
    size_t n = audio_ring_read(&v->ring, out, len);

    v->service(v->opaque);
    return n;
}

static void frame_pattern(uint8_t *p, size_t frames, unsigned first)
{
    for (size_t k = 0; k < frames; k++) {
        uint16_t l = (uint16_t)(first + k), r = (uint16_t)~(first + k);

        p[4 * k] = (uint8_t)l;
        p[4 * k + 1] = (uint8_t)(l >> 8);
        p[4 * k + 2] = (uint8_t)r;
        p[4 * k + 3] = (uint8_t)(r >> 8);
    }
}

static void test_output_stream(struct fixture *f, gconstpointer data)
{
    /* 3072 frames of (k, ~k) in three scattered buffers; IOC on the first
     * and the last. */
    const struct bdl_entry bdl[3] = {
        { 0x20000, 4096, true }, { 0x40000, 2048, false }, { 0x30000, 6144, true },
    };
    const uint32_t cbl = 12288;
    struct audio_voice *v = hda_output_voice(f->h);
    uint8_t *got = g_malloc(4 * cbl), *want = g_malloc(4 * cbl);
    size_t total = 0;
    unsigned bcis = 0;

    frame_pattern(f->ram + 0x20000, 1024, 0);
    frame_pattern(f->ram + 0x40000, 512, 1024);
    frame_pattern(f->ram + 0x30000, 1536, 1536);
    for (unsigned i = 0; i < 4; i++)
        frame_pattern(want + i * cbl, 3072, 0);
    write_bdl(f, BDL_OUT, bdl, 3);
    wr32(f, DPLBASE, DPL | 1);
    wr32(f, INTCTL, 0x80000000 | 1u << OUT_SD);
    stream_setup(f, OUT_SD, 1, cbl, 2, FMT_48K_16_2, BDL_OUT);
    bind(f, 2, 1, FMT_48K_16_2);
    g_assert_false(hda_playing(f->h));
    run(f, OUT_SD, 0x04);               /* RUN, IOCE */
    g_assert_true(hda_playing(f->h));
    g_assert_cmpuint(f->tb.starts, ==, 1);
    g_assert_cmpuint(f->tb.fmt.rate, ==, 48000);
    g_assert_cmpuint(f->tb.fmt.channels, ==, 2);
    wait_first_fill(f, v);
    /* Half the cyclic buffer is kept in the ring. */
    g_assert_cmpuint(audio_ring_used(&v->ring), ==, cbl / 2);
    g_assert_cmpuint(rd32(f, SD(OUT_SD) + SD_LPIB), ==, cbl / 2);
    g_assert_cmpuint(get32(f->ram + DPL + 8 * OUT_SD), ==, cbl / 2);
    /* The first buffer's IOC. */
    g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_STS), ==, 0x24);
    g_assert_cmphex(rd32(f, INTSTS), ==, 0x80000000 | 1u << OUT_SD);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr8(f, SD(OUT_SD) + SD_STS, 4);
    g_assert_cmpint(f->irq.level, ==, 0);

    /* The backend takes 1000 bytes at a time, three and a half times round. */
    while (total < 3 * cbl + cbl / 2) {
        size_t n = consume(v, got + total, 1000);
        uint32_t lpib = rd32(f, SD(OUT_SD) + SD_LPIB);

        g_assert_cmpuint(n, ==, 1000);
        total += n;
        g_assert_cmpuint(lpib, ==, (total + audio_ring_used(&v->ring)) % cbl);
        g_assert_cmpuint(get32(f->ram + DPL + 8 * OUT_SD), ==, lpib);
        g_assert_cmpuint(lpib, <, cbl);
        if (rd8(f, SD(OUT_SD) + SD_STS) & 4) {
            g_assert_cmpint(f->irq.level, ==, 1);
            bcis++;
            wr8(f, SD(OUT_SD) + SD_STS, 4);
            g_assert_cmpint(f->irq.level, ==, 0);
        }
    }
    /* Two completions a round (some may fall into one call). */
    g_assert_cmpuint(bcis, >=, 5);
    g_assert_cmpmem(got, total, want, total);

    /* Stopped: the voice stops, the position stays, and the stream goes
     * on from there when it runs again. */
    {
        uint32_t lpib = rd32(f, SD(OUT_SD) + SD_LPIB);
        size_t used = audio_ring_used(&v->ring), n;

        stop(f, OUT_SD);
        g_assert_false(hda_playing(f->h));
        g_assert_cmpuint(f->tb.stops, ==, 1);
        /* A late service call after the stop moves nothing. */
        v->service(v->opaque);
        g_assert_cmpuint(rd32(f, SD(OUT_SD) + SD_LPIB), ==, lpib);
        run(f, OUT_SD, 0x04);
        g_assert_true(hda_playing(f->h));
        g_assert_cmpuint(f->tb.starts, ==, 2);
        wait_first_fill(f, v);
        v->service(v->opaque);
        n = audio_ring_read(&v->ring, got, 4 * cbl);
        g_assert_cmpuint(n, ==, cbl / 2);
        /* The new ring starts where the position was. */
        g_assert_cmpmem(got, n, want + (total + used) % cbl, n);
    }
    g_free(got);
    g_free(want);
}

static void test_formats(struct fixture *f, gconstpointer data)
{
    const struct bdl_entry bdl[2] = { { 0x20000, 8192, false }, { 0x22000, 8192, true } };
    struct audio_voice *v = hda_output_voice(f->h);
    uint8_t got[64];

    write_bdl(f, BDL_OUT, bdl, 2);
    bind(f, 2, 3, FMT_44K_16_2);

    /* 44.1 kHz, 16-bit stereo. */
    frame_pattern(f->ram + 0x20000, 4096, 0);
    stream_setup(f, OUT_SD + 1, 3, 16384, 1, FMT_44K_16_2, BDL_OUT);
    run(f, OUT_SD + 1, 0);
    g_assert_cmpuint(f->tb.fmt.rate, ==, 44100);
    g_assert_cmpuint(f->tb.fmt.channels, ==, 2);
    wait_first_fill(f, v);
    g_assert_cmpuint(audio_ring_read(&v->ring, got, 8), ==, 8);
    g_assert_cmphex(get32(got), ==, 0xffff0000);
    g_assert_cmphex(get32(got + 4), ==, 0xfffe0001);
    stop(f, OUT_SD + 1);

    /* 48 kHz, 16-bit stereo. */
    stream_setup(f, OUT_SD + 1, 3, 16384, 1, FMT_48K_16_2, BDL_OUT);
    run(f, OUT_SD + 1, 0);
    g_assert_cmpuint(f->tb.fmt.rate, ==, 48000);
    wait_first_fill(f, v);
    g_assert_cmpuint(audio_ring_read(&v->ring, got, 4), ==, 4);
    g_assert_cmphex(get32(got), ==, 0xffff0000);
    stop(f, OUT_SD + 1);

    /* 96 kHz (48 x2), 16-bit mono: a mono voice. */
    stream_setup(f, OUT_SD + 1, 3, 16384, 1, 0x0800, BDL_OUT);
    wr16(f, SD(OUT_SD + 1) + SD_FMT, 0x0810);
    run(f, OUT_SD + 1, 0);
    g_assert_cmpuint(f->tb.fmt.rate, ==, 96000);
    g_assert_cmpuint(f->tb.fmt.channels, ==, 1);
    wait_first_fill(f, v);
    g_assert_cmpuint(audio_ring_read(&v->ring, got, 4), ==, 4);
    g_assert_cmphex(get32(got), ==, 0xffff0000);  /* two samples: 0, then ~0 */
    stop(f, OUT_SD + 1);

    /* 22.05 kHz (44.1 / 2), 24-bit in 32-bit containers, stereo: the top
     * 16 bits of each. */
    for (unsigned k = 0; k < 2048; k++) {
        put32(f->ram + 0x20000 + 8 * k, (uint32_t)k << 16 | 0xab00);
        put32(f->ram + 0x20000 + 8 * k + 4, (uint32_t)(0x8000 + k) << 16);
    }
    stream_setup(f, OUT_SD + 1, 3, 16384, 1, 0x4131, BDL_OUT);
    run(f, OUT_SD + 1, 0);
    g_assert_cmpuint(f->tb.fmt.rate, ==, 22050);
    g_assert_cmpuint(f->tb.fmt.channels, ==, 2);
    wait_first_fill(f, v);
    g_assert_cmpuint(audio_ring_read(&v->ring, got, 8), ==, 8);
    g_assert_cmphex(get32(got), ==, 0x80000000);
    g_assert_cmphex(get32(got + 4), ==, 0x80010001);
    stop(f, OUT_SD + 1);

    /* 8-bit (unsigned), four channels: the first two, centred at 0. */
    for (unsigned k = 0; k < 4096; k++) {
        f->ram[0x20000 + 4 * k] = 0x80;
        f->ram[0x20000 + 4 * k + 1] = 0xff;
        f->ram[0x20000 + 4 * k + 2] = 0x00;
        f->ram[0x20000 + 4 * k + 3] = 0x00;
    }
    stream_setup(f, OUT_SD + 1, 3, 16384, 1, 0x0003, BDL_OUT);
    run(f, OUT_SD + 1, 0);
    g_assert_cmpuint(f->tb.fmt.channels, ==, 2);
    wait_first_fill(f, v);
    g_assert_cmpuint(audio_ring_read(&v->ring, got, 4), ==, 4);
    g_assert_cmphex(get32(got), ==, 0x7f000000);
    stop(f, OUT_SD + 1);

    /* Unusable formats: a reserved multiple, reserved bits per sample,
     * below 8 kHz. The stream stops with a FIFO error; no voice starts. */
    {
        const uint16_t bad[3] = { 0x2011, 0x0051, 0x4711 };
        unsigned starts = f->tb.starts;

        wr32(f, INTCTL, 0x80000000 | 1u << (OUT_SD + 1));
        for (unsigned i = 0; i < 3; i++) {
            stream_setup(f, OUT_SD + 1, 3, 16384, 1, bad[i], BDL_OUT);
            run(f, OUT_SD + 1, 0x08);           /* FEIE */
            g_assert_false(hda_playing(f->h));
            g_assert_cmphex(rd8(f, SD(OUT_SD + 1) + SD_STS), ==, 0x28);
            g_assert_cmpint(f->irq.level, ==, 1);
            wr8(f, SD(OUT_SD + 1) + SD_STS, 0x08);
            g_assert_cmpint(f->irq.level, ==, 0);
            stop(f, OUT_SD + 1);
        }
        g_assert_cmpuint(f->tb.starts, ==, starts);
    }
}

static void test_volume(struct fixture *f, gconstpointer data)
{
    struct audio_voice *out = hda_output_voice(f->h), *in = hda_input_voice(f->h);

    /* Power-on: output at 0 dB, input at its lowest step. */
    g_assert_cmpuint(atomic_load(&out->vol_left), ==, 65536);
    g_assert_cmpuint(atomic_load(&out->vol_right), ==, 65536);
    g_assert_false(atomic_load(&out->guest_mute));
    g_assert_cmpuint(atomic_load(&in->vol_left), ==, 13);

    /* -10 dB on both sides. */
    icmd(f, verb(2, 0x3, 0xb000 | 0x40));
    g_assert_cmpuint(atomic_load(&out->vol_left), ==, 20724);
    g_assert_cmpuint(atomic_load(&out->vol_right), ==, 20724);
    /* Left muted: silence on the left only. */
    icmd(f, verb(2, 0x3, 0xa000 | 0x80 | 0x40));
    g_assert_cmpuint(atomic_load(&out->vol_left), ==, 0);
    g_assert_cmpuint(atomic_load(&out->vol_right), ==, 20724);
    g_assert_false(atomic_load(&out->guest_mute));
    /* Both: the voice is muted. */
    icmd(f, verb(2, 0x3, 0x9000 | 0x80 | 0x40));
    g_assert_true(atomic_load(&out->guest_mute));
    icmd(f, verb(2, 0x3, 0xb000 | 0x4a));
    g_assert_false(atomic_load(&out->guest_mute));
    g_assert_cmpuint(atomic_load(&out->vol_left), ==, 65536);
    /* The input converter's amplifier is the input voice's volume. */
    icmd(f, verb(4, 0x3, 0x7000 | 0x4a));
    g_assert_cmpuint(atomic_load(&in->vol_left), ==, 65536);
    g_assert_cmpuint(atomic_load(&in->vol_right), ==, 65536);

    /* While the voice runs, the backend hears of each change. */
    {
        const struct bdl_entry bdl[2] = { { 0x20000, 4096, true }, { 0x21000, 4096, true } };
        unsigned before;

        write_bdl(f, BDL_OUT, bdl, 2);
        stream_setup(f, OUT_SD, 1, 8192, 1, FMT_48K_16_2, BDL_OUT);
        bind(f, 2, 1, FMT_48K_16_2);
        run(f, OUT_SD, 0);
        before = f->tb.volumes;
        icmd(f, verb(2, 0x3, 0xb000 | 0x36));      /* -20 dB */
        g_assert_cmpuint(f->tb.volumes, >, before);
        g_assert_cmpuint(atomic_load(&out->vol_left), ==, 6554);
    }
}

static void test_input_stream(struct fixture *f, gconstpointer data)
{
    /* Two buffers of 1000 and 3000 bytes (250 and 750 frames), CBL 4000. */
    const struct bdl_entry bdl[2] = { { 0x60000, 1000, true }, { 0x70000, 3000, true } };
    struct audio_voice *v = hda_input_voice(f->h);
    uint8_t *frames = g_malloc(4 * 2000);

    write_bdl(f, BDL_IN, bdl, 2);
    memset(f->ram + 0x60000, 0xee, 0x20000);
    wr32(f, DPLBASE, DPL | 1);
    wr32(f, INTCTL, 0x80000000 | 1u << IN_SD);
    stream_setup(f, IN_SD, 2, 4000, 1, FMT_48K_16_2, BDL_IN);
    bind(f, 4, 2, FMT_48K_16_2);
    g_assert_false(hda_recording(f->h));
    run(f, IN_SD, 0x04);
    g_assert_true(hda_recording(f->h));
    g_assert_false(hda_playing(f->h));
    g_assert_cmpuint(f->tb.fmt.rate, ==, 48000);
    wait_kick_taken(f, v);
    g_assert_cmpuint(rd32(f, SD(IN_SD) + SD_LPIB), ==, 0);

    /* The backend puts 300 frames in; they reach the first buffer and
     * 50 frames of the second. */
    frame_pattern(frames, 2000, 0);
    g_assert_cmpuint(audio_ring_write(&v->ring, frames, 1200), ==, 1200);
    v->service(v->opaque);
    g_assert_cmpuint(audio_ring_used(&v->ring), ==, 0);
    g_assert_cmpuint(rd32(f, SD(IN_SD) + SD_LPIB), ==, 1200);
    g_assert_cmpuint(get32(f->ram + DPL + 8 * IN_SD), ==, 1200);
    g_assert_cmpmem(f->ram + 0x60000, 1000, frames, 1000);
    g_assert_cmpmem(f->ram + 0x70000, 200, frames + 1000, 200);
    g_assert_cmphex(f->ram[0x70000 + 200], ==, 0xee);
    g_assert_cmphex(f->ram[0x60000 + 1000], ==, 0xee);
    g_assert_cmphex(rd8(f, SD(IN_SD) + SD_STS), ==, 0x24);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr8(f, SD(IN_SD) + SD_STS, 4);

    /* 1000 frames more: the second buffer fills, the position wraps and
     * the first buffer takes the rest. */
    g_assert_cmpuint(audio_ring_write(&v->ring, frames + 1200, 4000), ==, 4000);
    v->service(v->opaque);
    g_assert_cmpuint(rd32(f, SD(IN_SD) + SD_LPIB), ==, 1200);
    g_assert_cmpmem(f->ram + 0x70000 + 200, 2800, frames + 1200, 2800);
    g_assert_cmpmem(f->ram + 0x60000, 1000, frames + 4000, 1000);
    g_assert_cmpmem(f->ram + 0x70000, 200, frames + 5000, 200);
    g_assert_cmphex(rd8(f, SD(IN_SD) + SD_STS), ==, 0x24);
    g_assert_cmpint(f->irq.level, ==, 1);

    /* At most once round per call: 2 rounds' worth stay in part in the ring. */
    wr8(f, SD(IN_SD) + SD_STS, 4);
    {
        uint8_t *lots = g_malloc(8000);

        frame_pattern(lots, 2000, 7);
        g_assert_cmpuint(audio_ring_write(&v->ring, lots, 8000), ==, 8000);
        v->service(v->opaque);
        g_assert_cmpuint(audio_ring_used(&v->ring), ==, 4000);
        g_assert_cmpuint(rd32(f, SD(IN_SD) + SD_LPIB), ==, 1200);
        v->service(v->opaque);
        g_assert_cmpuint(audio_ring_used(&v->ring), ==, 0);
        g_free(lots);
    }

    /* Mono 16-bit from a mono voice; then stop. */
    stop(f, IN_SD);
    g_assert_false(hda_recording(f->h));
    stream_setup(f, IN_SD, 2, 4000, 1, 0x0010, BDL_IN);
    run(f, IN_SD, 0);
    g_assert_cmpuint(f->tb.fmt.channels, ==, 1);
    wait_kick_taken(f, v);
    {
        const uint8_t mono[4] = { 0x34, 0x12, 0x78, 0x56 };

        audio_ring_write(&v->ring, mono, 4);
        v->service(v->opaque);
        g_assert_cmpmem(f->ram + 0x60000, 4, mono, 4);
        g_assert_cmpuint(rd32(f, SD(IN_SD) + SD_LPIB), ==, 4);
    }
    stop(f, IN_SD);

    /* Stereo voice to a 4-channel 32-bit stream: two channels and silence. */
    stream_setup(f, IN_SD, 2, 4000, 1, 0x0043, BDL_IN);
    run(f, IN_SD, 0);
    g_assert_cmpuint(f->tb.fmt.channels, ==, 2);
    wait_kick_taken(f, v);
    {
        const uint8_t st[4] = { 0x34, 0x12, 0x78, 0x56 };

        audio_ring_write(&v->ring, st, 4);
        v->service(v->opaque);
        g_assert_cmphex(get32(f->ram + 0x60000), ==, 0x12340000);
        g_assert_cmphex(get32(f->ram + 0x60004), ==, 0x56780000);
        g_assert_cmphex(get32(f->ram + 0x60008), ==, 0);
        g_assert_cmphex(get32(f->ram + 0x6000c), ==, 0);
        g_assert_cmpuint(rd32(f, SD(IN_SD) + SD_LPIB), ==, 16);
    }
    g_free(frames);
}

static void test_binding(struct fixture *f, gconstpointer data)
{
    const struct bdl_entry bdl[2] = { { 0x20000, 4096, true }, { 0x21000, 4096, true } };

    write_bdl(f, BDL_OUT, bdl, 2);
    /* Running with a stream number no converter has: no voice, no error. */
    stream_setup(f, OUT_SD + 2, 5, 8192, 1, FMT_48K_16_2, BDL_OUT);
    run(f, OUT_SD + 2, 0x1c);
    g_assert_false(hda_playing(f->h));
    g_assert_cmphex(rd8(f, SD(OUT_SD + 2) + SD_STS), ==, 0x20);
    /* The converter takes that number: the voice starts. */
    icmd(f, verb(2, 0x706, 0x50));
    g_assert_true(hda_playing(f->h));
    g_assert_cmpuint(f->tb.starts, ==, 1);
    /* Another number: it stops; stream 0 is never bound. */
    icmd(f, verb(2, 0x706, 0x60));
    g_assert_false(hda_playing(f->h));
    g_assert_cmpuint(f->tb.stops, ==, 1);
    icmd(f, verb(2, 0x706, 0x50));
    g_assert_true(hda_playing(f->h));
    wr8(f, SD(OUT_SD + 2) + SD_CTL + 2, 0x00);
    icmd(f, verb(2, 0x706, 0x00));
    g_assert_false(hda_playing(f->h));
    /* An input stream with the output converter's number is not its. */
    icmd(f, verb(2, 0x706, 0x50));
    stop(f, OUT_SD + 2);
    stream_setup(f, IN_SD, 5, 8192, 1, FMT_48K_16_2, BDL_OUT);
    run(f, IN_SD, 0);
    g_assert_false(hda_playing(f->h));
    g_assert_false(hda_recording(f->h));
    stop(f, IN_SD);

    /* The backend refuses: nothing runs, nothing breaks. */
    f->tb.fail = -EIO;
    stream_setup(f, OUT_SD, 5, 8192, 1, FMT_48K_16_2, BDL_OUT);
    run(f, OUT_SD, 0);
    g_assert_false(hda_playing(f->h));
    f->tb.fail = 0;
    stop(f, OUT_SD);
    run(f, OUT_SD, 0);
    g_assert_true(hda_playing(f->h));

    /* Reset stops the voice and forgets the binding. */
    hda_reset(f->h);
    g_assert_false(hda_playing(f->h));
    link_reset(f);
    g_assert_cmphex(icmd(f, verb(2, 0xf06, 0)), ==, 0);
}

/* A stream started with the given list (written at BDL_OUT, pointed to at
 * bdl_at); returns whether it still runs after a service call. */
static bool start_hostile(struct fixture *f, const struct bdl_entry *bdl, unsigned n, uint32_t cbl,
                          unsigned lvi, uint64_t bdl_at)
{
    struct audio_voice *v = hda_output_voice(f->h);

    write_bdl(f, BDL_OUT, bdl, n);
    stream_setup(f, OUT_SD, 1, cbl, lvi, FMT_48K_16_2, bdl_at);
    bind(f, 2, 1, FMT_48K_16_2);
    run(f, OUT_SD, 0x1c);
    if (!hda_playing(f->h))
        return false;
    wait_kick_taken(f, v);
    v->service(v->opaque);
    return hda_playing(f->h);
}

static void test_hostile_streams(struct fixture *f, gconstpointer data)
{
    struct audio_voice *v = hda_output_voice(f->h);
    uint8_t buf[65536];

    wr32(f, INTCTL, 0x80000000 | 1u << OUT_SD);

    /* The list outside RAM: descriptor error, the voice stops. */
    {
        const struct bdl_entry bdl[1] = { { 0x20000, 4096, false } };

        g_assert_false(start_hostile(f, bdl, 1, 4096, 1, 0x7fffff80));
        g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_STS), ==, 0x30);
        g_assert_cmpint(f->irq.level, ==, 1);
        wr8(f, SD(OUT_SD) + SD_STS, 0x10);
        g_assert_cmpint(f->irq.level, ==, 0);
        /* It stays stopped until RUN is set again. */
        v->service(v->opaque);
        g_assert_false(hda_playing(f->h));
        stop(f, OUT_SD);
    }
    /* A buffer outside RAM, and one that runs out of RAM. */
    {
        const struct bdl_entry bdl[2] = { { 0x20000, 1024, false }, { 0x80000000ull, 4096, false } };
        const struct bdl_entry edge[1] = { { RAM_SIZE - 512, 4096, false } };

        g_assert_false(start_hostile(f, bdl, 2, 5120, 1, BDL_OUT));
        g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_STS), ==, 0x30);
        wr8(f, SD(OUT_SD) + SD_STS, 0x10);
        stop(f, OUT_SD);
        g_assert_false(start_hostile(f, edge, 1, 4096, 0, BDL_OUT));
        g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_STS), ==, 0x30);
        wr8(f, SD(OUT_SD) + SD_STS, 0x10);
        stop(f, OUT_SD);
    }
    /* Every buffer of length 0: descriptor error. Some of length 0: they
     * are stepped over. */
    {
        const struct bdl_entry zero[3] = { { 0x20000, 0, true }, { 0x21000, 0, true }, { 0x22000, 0, true } };
        const struct bdl_entry some[3] = { { 0x20000, 0, true }, { 0x21000, 4096, false }, { 0x22000, 0, true } };

        g_assert_false(start_hostile(f, zero, 3, 4096, 2, BDL_OUT));
        g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_STS) & 0x10, ==, 0x10);
        wr8(f, SD(OUT_SD) + SD_STS, 0x1c);
        stop(f, OUT_SD);
        g_assert_true(start_hostile(f, some, 3, 4096, 2, BDL_OUT));
        g_assert_cmpuint(audio_ring_used(&v->ring), >, 0);
        stop(f, OUT_SD);
        wr8(f, SD(OUT_SD) + SD_STS, 0x1c);
    }
    /* A cyclic buffer length of 0. */
    {
        const struct bdl_entry bdl[2] = { { 0x20000, 4096, false }, { 0x21000, 4096, false } };

        g_assert_false(start_hostile(f, bdl, 2, 0, 1, BDL_OUT));
        g_assert_cmphex(rd8(f, SD(OUT_SD) + SD_STS), ==, 0x30);
        wr8(f, SD(OUT_SD) + SD_STS, 0x10);
        stop(f, OUT_SD);
    }
    /* A huge buffer and a CBL smaller than the list: the position wraps at
     * CBL and the list starts again. */
    {
        const struct bdl_entry bdl[2] = { { 0x20000, 0xffffffff, true }, { 0x21000, 4096, true } };

        frame_pattern(f->ram + 0x20000, 2048, 0);
        g_assert_true(start_hostile(f, bdl, 2, 4096, 1, BDL_OUT));
        /* The ring keeps 20 ms (3840 bytes), the rest of one round. */
        for (unsigned i = 0; i < 10; i++) {
            g_assert_cmpuint(consume(v, buf, 1000), ==, 1000);
            g_assert_cmpuint(rd32(f, SD(OUT_SD) + SD_LPIB), <, 4096);
        }
        /* The last 1000 of 10000 bytes of the first 4096 over and over. */
        for (unsigned j = 0; j < 1000; j++)
            g_assert_cmphex(buf[j], ==, f->ram[0x20000 + (9000 + j) % 4096]);
        stop(f, OUT_SD);
        wr8(f, SD(OUT_SD) + SD_STS, 0x1c);
    }
    /* A CBL larger than the list: the list starts again before the
     * position wraps; LVI 255 with entries of 2 bytes is walked at most
     * once per call. */
    {
        struct bdl_entry bdl[256];

        for (unsigned i = 0; i < 256; i++)
            bdl[i] = (struct bdl_entry){ 0x20000 + 4 * i, 2, i == 255 };
        uint32_t lpib;

        g_assert_true(start_hostile(f, bdl, 256, 0x100000, 255, BDL_OUT));
        /* 257 buffers a call (once round, ending in the one it began in). */
        lpib = rd32(f, SD(OUT_SD) + SD_LPIB);
        g_assert_cmpuint(lpib, >, 0);
        g_assert_cmpuint(lpib % 514, ==, 0);
        g_assert_cmpuint(rd8(f, SD(OUT_SD) + SD_STS) & 4, ==, 4);
        consume(v, buf, sizeof(buf));
        g_assert_cmpuint(rd32(f, SD(OUT_SD) + SD_LPIB), ==, lpib + 514);
        stop(f, OUT_SD);
        wr8(f, SD(OUT_SD) + SD_STS, 0x1c);
    }
    /* Odd lengths that split frames: the bytes still arrive in order. */
    {
        const struct bdl_entry bdl[3] = { { 0x20000, 1001, false }, { 0x20000 + 1001, 3, false },
                                          { 0x20000 + 1004, 3092, false } };

        frame_pattern(f->ram + 0x20000, 1024, 0);
        size_t n;

        g_assert_true(start_hostile(f, bdl, 3, 4096, 2, BDL_OUT));
        n = consume(v, buf, 4096);
        g_assert_cmpuint(n, ==, 3840);
        g_assert_cmpmem(buf, n, f->ram + 0x20000, n);
        stop(f, OUT_SD);
    }
    /* Registers that describe the buffer hold while the stream runs. */
    {
        const struct bdl_entry bdl[2] = { { 0x20000, 4096, false }, { 0x21000, 4096, false } };

        g_assert_true(start_hostile(f, bdl, 2, 8192, 1, BDL_OUT));
        wr32(f, SD(OUT_SD) + SD_CBL, 16);
        wr16(f, SD(OUT_SD) + SD_LVI, 0);
        wr16(f, SD(OUT_SD) + SD_FMT, 0x8000);
        wr32(f, SD(OUT_SD) + SD_BDPL, 0x7fff0000);
        g_assert_cmphex(rd32(f, SD(OUT_SD) + SD_CBL), ==, 8192);
        g_assert_cmphex(rd16(f, SD(OUT_SD) + SD_LVI), ==, 1);
        g_assert_cmphex(rd16(f, SD(OUT_SD) + SD_FMT), ==, FMT_48K_16_2);
        g_assert_cmphex(rd32(f, SD(OUT_SD) + SD_BDPL), ==, BDL_OUT);
        /* Stream reset while running stops it. */
        wr8(f, SD(OUT_SD) + SD_CTL, 1);
        g_assert_false(hda_playing(f->h));
        wr8(f, SD(OUT_SD) + SD_CTL, 0);
    }
    /* Bus mastering off: the stream does not move. */
    {
        const struct bdl_entry bdl[2] = { { 0x20000, 4096, false }, { 0x21000, 4096, false } };
        uint16_t off = 0x0002;

        config(f, PCI_COMMAND, &off, 2);
        write_bdl(f, BDL_OUT, bdl, 2);
        stream_setup(f, OUT_SD, 1, 8192, 1, FMT_48K_16_2, BDL_OUT);
        run(f, OUT_SD, 0);
        g_assert_true(hda_playing(f->h));
        wait_kick_taken(f, v);
        v->service(v->opaque);
        g_assert_cmpuint(audio_ring_used(&v->ring), ==, 0);
        g_assert_cmpuint(rd32(f, SD(OUT_SD) + SD_LPIB), ==, 0);
    }
    /* A position buffer outside RAM is skipped. */
    {
        uint16_t on = 0x0006;

        config(f, PCI_COMMAND, &on, 2);
        wr32(f, DPLBASE, 0x7fffff81);
        v->service(v->opaque);
        g_assert_cmpuint(rd32(f, SD(OUT_SD) + SD_LPIB), >, 0);
    }
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/hda/" name, struct fixture, NULL, setup, fn, teardown)
    ADD("registers", test_registers);
    ADD("reset-handshake", test_reset_handshake);
    ADD("codec-answers", test_codec_answers);
    ADD("codec-state", test_codec_state);
    ADD("corb-rirb", test_corb_rirb);
    ADD("corb-msi", test_corb_msi);
    ADD("rirb-overrun", test_rirb_overrun);
    ADD("corb-hostile", test_corb_hostile);
    ADD("immediate", test_immediate);
    ADD("output-stream", test_output_stream);
    ADD("formats", test_formats);
    ADD("volume", test_volume);
    ADD("input-stream", test_input_stream);
    ADD("binding", test_binding);
    ADD("hostile-streams", test_hostile_streams);
    return g_test_run();
}
