/* Intel ICH9 High Definition Audio controller (hda.h). Codec commands from
 * the CORB or the immediate interface run on the vCPU that wrote the
 * pointer; streams move samples only when an audio voice's service function
 * runs on the audio service thread, after the backend took from or added to
 * the voice's ring. Every guest address (CORB, RIRB, position buffer, buffer
 * descriptor lists and buffers) goes through the checked guest-memory
 * accessor; a bad one stops what used it and is logged once. */
#include "hda.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

/* Global registers. */
#define REG_GCAP      0x00      /* GCAP, VMIN, VMAJ */
#define REG_PAY       0x04      /* OUTPAY, INPAY */
#define REG_GCTL      0x08
#define REG_WAKEEN    0x0c      /* WAKEEN, STATESTS */
#define REG_GSTS      0x10
#define REG_INTCTL    0x20
#define REG_INTSTS    0x24
#define REG_WALCLK    0x30
#define REG_SSYNC_OLD 0x34      /* where ICH9 has it */
#define REG_SSYNC     0x38
#define REG_CORBLBASE 0x40
#define REG_CORBUBASE 0x44
#define REG_CORBWP    0x48      /* CORBWP, CORBRP */
#define REG_CORBCTL   0x4c      /* CORBCTL, CORBSTS, CORBSIZE */
#define REG_RIRBLBASE 0x50
#define REG_RIRBUBASE 0x54
#define REG_RIRBWP    0x58      /* RIRBWP, RINTCNT */
#define REG_RIRBCTL   0x5c      /* RIRBCTL, RIRBSTS, RIRBSIZE */
#define REG_ICOI      0x60
#define REG_ICII      0x64
#define REG_ICIS      0x68
#define REG_DPLBASE   0x70
#define REG_DPUBASE   0x74
#define REG_SD_BASE   0x80
#define REG_SD_STRIDE 0x20
#define REG_ALIAS     0x2000    /* WALCLK and the LPIBs again */

/* Stream descriptor registers. */
#define SD_CTL   0x00           /* CTL (3 bytes), STS */
#define SD_LPIB  0x04
#define SD_CBL   0x08
#define SD_LVI   0x0c           /* LVI, FIFOW */
#define SD_FIFOS 0x10           /* FIFOS, FMT */
#define SD_BDPL  0x18
#define SD_BDPU  0x1c

/* Four output, four input, no bidirectional streams, 64-bit addresses. */
#define GCAP_VALUE 0x4401
#define VMAJ_VALUE 1
#define OUTPAY_VALUE 0x3c
#define INPAY_VALUE 0x1d

#define GCTL_CRST   (1u << 0)
#define GCTL_FCNTRL (1u << 1)
#define GCTL_UNSOL  (1u << 8)
#define GSTS_FSTS   (1u << 1)
#define INTCTL_MASK 0xc00000ffu
#define INT_CIS     (1u << 30)
#define INT_GIS     (1u << 31)

#define CORBRP_RST  0x8000
#define CORBCTL_MEIE 0x01
#define CORBCTL_RUN 0x02
#define CORBSTS_CMEI 0x01
#define RING_SIZE_REG 0x42      /* 256 entries, the only size supported */
#define RING_ENTRIES 256
#define RIRBWP_RST  0x8000
#define RIRBCTL_RINTCTL 0x01
#define RIRBCTL_DMAEN 0x02
#define RIRBCTL_OIC 0x04
#define RIRBSTS_RINTFL 0x01
#define RIRBSTS_OIS 0x04
#define ICIS_ICB    0x01
#define ICIS_IRV    0x02
#define DPLBASE_ENABLE 0x01

#define CTL_SRST    (1u << 0)
#define CTL_RUN     (1u << 1)
#define CTL_IOCE    (1u << 2)
#define CTL_FEIE    (1u << 3)
#define CTL_DEIE    (1u << 4)
#define CTL_MASK    0x00ff001fu /* and stripe, priority, direction, stream number */
#define CTL_TAG(ctl) (((ctl) >> 20) & 0xf)
#define STS_BCIS    0x04
#define STS_FIFOE   0x08
#define STS_DESE    0x10
#define STS_FIFORDY 0x20
#define STS_W1C     (STS_BCIS | STS_FIFOE | STS_DESE)
#define FIFOS_VALUE 0x100
#define FMT_MASK    0x7f7f

#define MSI_CAP 0x60

/* What has been logged once. */
#define HDA_WARN_CORB       (1u << 0)
#define HDA_WARN_RIRB       (1u << 1)
#define HDA_WARN_OVERRUN    (1u << 2)
#define HDA_WARN_BUS_MASTER (1u << 3)
#define HDA_WARN_BDL        (1u << 4)
#define HDA_WARN_BUFFER     (1u << 5)
#define HDA_WARN_FORMAT     (1u << 6)
#define HDA_WARN_VOICE      (1u << 7)
#define HDA_WARN_CODEC      (1u << 8)
#define HDA_WARN_POSBUF     (1u << 9)
#define HDA_WARN_LENGTHS    (1u << 10)
#define HDA_WARN_EMPTY      (1u << 11)

#define warn_once(h, bit, ...)                          \
    do {                                                \
        if (!((h)->warned & (bit))) {                   \
            (h)->warned |= (bit);                       \
            log_warn_rl(&(h)->rl, __VA_ARGS__);         \
        }                                               \
    } while (0)

static uint64_t addr64(uint32_t lo, uint32_t hi)
{
    return (uint64_t)hi << 32 | lo;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static bool is_output(unsigned sd)
{
    return sd >= HDA_IN_STREAMS;
}

/* ---- interrupts ---- */

static bool stream_irq(const struct hda_stream *s)
{
    return ((s->sts & STS_BCIS) && (s->ctl & CTL_IOCE)) ||
           ((s->sts & STS_FIFOE) && (s->ctl & CTL_FEIE)) ||
           ((s->sts & STS_DESE) && (s->ctl & CTL_DEIE));
}

static bool controller_irq(const struct hda *h)
{
    return (h->rirb_sts & RIRBSTS_RINTFL) ||
           ((h->rirb_sts & RIRBSTS_OIS) && (h->rirb_ctl & RIRBCTL_OIC)) ||
           ((h->corb_sts & CORBSTS_CMEI) && (h->corb_ctl & CORBCTL_MEIE)) ||
           (h->statests & h->wakeen);
}

static uint32_t intsts(const struct hda *h)
{
    uint32_t s = 0;

    for (unsigned i = 0; i < HDA_STREAMS; i++)
        if (stream_irq(&h->sd[i]))
            s |= 1u << i;
    if (controller_irq(h))
        s |= INT_CIS;
    if (s & h->intctl & (INT_CIS | 0xffu))
        s |= INT_GIS;
    return s;
}

/* Called with the lock held after a status, an enable or the PCI state
 * changed; fresh says something new was raised, which is when a message is
 * sent. */
static void update_irq(struct hda *h, bool fresh)
{
    bool pending = (intsts(h) & INT_GIS) && (h->intctl & INT_GIS);
    int level = 0;

    if (h->msi_enabled) {
        if (fresh && pending && h->msi.signal)
            h->msi.signal(h->msi.opaque, 0, h->msi_addr, h->msi_data);
    } else {
        level = pending && !h->intx_disabled;
    }
    if (level != h->intx_level) {
        h->intx_level = level;
        irq_set(&h->intx, level);
    }
}

/* ---- codec commands: CORB/RIRB and the immediate interface ---- */

/* The codec's answer to a command; false when nothing answers (another
 * codec address, or indirect node addressing, which HDA 1.0 lacks). */
static bool codec_command(struct hda *h, uint32_t cmd, uint32_t *resp, unsigned *changed)
{
    if ((cmd >> 28) != 0 || (cmd & (1u << 27))) {
        warn_once(h, HDA_WARN_CODEC, "hda: the guest addressed codec %u%s, which is not "
                  "there; no response (logged once)", cmd >> 28,
                  cmd & (1u << 27) ? " indirectly" : "");
        return false;
    }
    *resp = hda_codec_command(&h->codec, (cmd >> 20) & 0x7f, cmd & 0xfffff, changed);
    return true;
}

static void rirb_push(struct hda *h, uint32_t resp)
{
    uint8_t e[8];
    uint16_t wp;
    bool fresh = false;

    if (!(h->rirb_ctl & RIRBCTL_DMAEN))
        return;
    if (h->rirb_unread >= RING_ENTRIES) {
        /* The guest has not looked at RIRBWP for a whole ring: the next
         * entry would overwrite a response it has not read. */
        warn_once(h, HDA_WARN_OVERRUN, "hda: the guest does not read its RIRB; responses "
                  "are dropped (logged once)");
        h->rirb_sts |= RIRBSTS_OIS;
        update_irq(h, true);
        return;
    }
    wp = (h->rirb_wp + 1) & (RING_ENTRIES - 1);
    put_le32(e, resp);
    put_le32(e + 4, 0);         /* codec 0, solicited */
    if (gmem_write(h->mem, addr64(h->rirb_lbase, h->rirb_ubase) + 8ull * wp, e, 8) < 0) {
        warn_once(h, HDA_WARN_RIRB, "hda: the RIRB at 0x%llx is not in RAM; responses are "
                  "dropped (logged once)",
                  (unsigned long long)addr64(h->rirb_lbase, h->rirb_ubase));
        return;
    }
    h->rirb_wp = wp;
    h->rirb_unread++;
    h->rirb_count++;
    /* An interrupt after RINTCNT responses, or when the CORB has run dry. */
    if (h->rirb_count >= (h->rintcnt ? h->rintcnt : 256u) ||
        (h->corb_rp & 0xff) == h->corb_wp) {
        h->rirb_count = 0;
        if (h->rirb_ctl & RIRBCTL_RINTCTL) {
            h->rirb_sts |= RIRBSTS_RINTFL;
            fresh = true;
        }
    }
    if (fresh)
        update_irq(h, true);
}

static void codec_changed(struct hda *h, unsigned changed);

/* Runs the commands between CORBRP and CORBWP: at most one ring's worth. */
static void corb_run(struct hda *h)
{
    unsigned changed = 0;

    if (!(h->corb_ctl & CORBCTL_RUN) || (h->corb_rp & CORBRP_RST))
        return;
    if (!h->bus_master) {
        warn_once(h, HDA_WARN_BUS_MASTER, "hda: DMA with bus mastering off; nothing moves "
                  "(logged once)");
        return;
    }
    for (unsigned n = 0; n < RING_ENTRIES && (h->corb_rp & 0xff) != h->corb_wp; n++) {
        uint16_t rp = (h->corb_rp + 1) & (RING_ENTRIES - 1);
        uint64_t at = addr64(h->corb_lbase, h->corb_ubase) + 4ull * rp;
        uint8_t e[4];
        uint32_t resp;

        if (gmem_read(h->mem, at, e, 4) < 0) {
            warn_once(h, HDA_WARN_CORB, "hda: the CORB entry at 0x%llx is not in RAM; the "
                      "CORB stops (logged once)", (unsigned long long)at);
            h->corb_sts |= CORBSTS_CMEI;
            h->corb_ctl &= (uint8_t)~CORBCTL_RUN;
            update_irq(h, true);
            break;
        }
        h->corb_rp = rp;
        if (codec_command(h, le32(e), &resp, &changed))
            rirb_push(h, resp);
    }
    codec_changed(h, changed);
}

static void immediate_command(struct hda *h)
{
    unsigned changed = 0;
    uint32_t resp;

    if (codec_command(h, h->icoi, &resp, &changed)) {
        h->icii = resp;
        h->icis |= ICIS_IRV;
    }
    h->icis &= (uint16_t)~ICIS_ICB;
    codec_changed(h, changed);
}

/* ---- streams and voices ---- */

static struct audio_voice *voice_of(struct hda *h, unsigned sd)
{
    return is_output(sd) ? &h->out_voice : &h->in_voice;
}

static void update_posbuf(struct hda *h, unsigned i)
{
    uint8_t v[4];
    uint64_t at = addr64(h->dpl_base & ~0x7fu, h->dpu_base) + 8ull * i;

    if (!(h->dpl_base & DPLBASE_ENABLE))
        return;
    put_le32(v, h->sd[i].lpib);
    if (gmem_write(h->mem, at, v, 4) < 0)
        warn_once(h, HDA_WARN_POSBUF, "hda: the DMA position buffer at 0x%llx is not in "
                  "RAM (logged once)", (unsigned long long)at);
}

static void stream_halt(struct hda *h, unsigned i, uint8_t why)
{
    h->sd[i].sts |= why;
    h->sd[i].halted = true;
}

/* Which stream, if any, feeds (or is fed by) the converter of direction
 * dir: running, not stopped by an error, and carrying the stream number
 * the guest gave the converter. */
static int bound_stream(const struct hda *h, enum hda_conv_dir dir)
{
    unsigned tag = h->codec.conv[dir].stream, first = dir == HDA_CONV_OUT ? HDA_IN_STREAMS : 0;

    if (!tag)
        return -1;
    for (unsigned i = first; i < first + 4; i++) {
        const struct hda_stream *s = &h->sd[i];

        if ((s->ctl & CTL_RUN) && !(s->ctl & CTL_SRST) && !s->halted && CTL_TAG(s->ctl) == tag)
            return (int)i;
    }
    return -1;
}

static void set_volume(struct hda *h, enum hda_conv_dir dir)
{
    uint32_t l, r;
    bool mute;

    hda_codec_volume(&h->codec, dir, &l, &r, &mute);
    audio_voice_set_volume(dir == HDA_CONV_OUT ? &h->out_voice : &h->in_voice, l, r, mute);
}

/* Starts, stops or restarts a voice so that it follows the stream bound to
 * its converter, in that stream's format. */
static void reconcile_dir(struct hda *h, enum hda_conv_dir dir)
{
    struct audio_voice *v = dir == HDA_CONV_OUT ? &h->out_voice : &h->in_voice;
    int *cur = dir == HDA_CONV_OUT ? &h->out_sd : &h->in_sd;
    struct hda_pcm_format *cur_fmt = dir == HDA_CONV_OUT ? &h->out_fmt : &h->in_fmt;
    int want = bound_stream(h, dir);
    struct hda_pcm_format f = { 0 };
    struct audio_format af;
    int r;

    if (want >= 0 && !hda_format_decode(h->sd[want].fmt, &f)) {
        warn_once(h, HDA_WARN_FORMAT, "hda: stream %d runs in format 0x%04x, which is not "
                  "PCM at 8 to 192 kHz; it stops with a FIFO error (logged once)", want,
                  h->sd[want].fmt);
        stream_halt(h, (unsigned)want, STS_FIFOE);
        update_irq(h, true);
        want = -1;
    }
    if (want == *cur && (want < 0 || memcmp(&f, cur_fmt, sizeof(f)) == 0))
        return;
    if (*cur >= 0)
        audio_voice_stop(v);
    *cur = -1;
    if (want < 0)
        return;
    if (!h->backend) {
        warn_once(h, HDA_WARN_VOICE, "hda: the guest plays or records, but there is no "
                  "audio backend; its streams do not move (logged once)");
        return;
    }
    af.rate = f.rate;
    af.channels = f.channels < 2 ? 1 : 2;
    if (h->sd[want].ncarry >= f.frame_bytes)
        h->sd[want].ncarry = 0;
    set_volume(h, dir);
    r = audio_voice_start(v, &af, 40);
    if (r < 0) {
        warn_once(h, HDA_WARN_VOICE, "hda: the audio backend cannot open a %u Hz %u-channel "
                  "stream: %s; the guest's stream does not move (logged once)", af.rate,
                  af.channels, strerror(-r));
        return;
    }
    *cur = want;
    *cur_fmt = f;
}

static void reconcile(struct hda *h)
{
    reconcile_dir(h, HDA_CONV_OUT);
    reconcile_dir(h, HDA_CONV_IN);
}

static void codec_changed(struct hda *h, unsigned changed)
{
    if (changed & HDA_CODEC_CHANGED_VOLUME) {
        set_volume(h, HDA_CONV_OUT);
        set_volume(h, HDA_CONV_IN);
    }
    if (changed & HDA_CODEC_CHANGED_STREAM)
        reconcile(h);
}

static void stream_reset(struct hda *h, unsigned i)
{
    memset(&h->sd[i], 0, sizeof(h->sd[i]));
    h->sd[i].ctl = CTL_SRST;
}

/* Loads buffer descriptor be; false, with the stream stopped by a
 * descriptor error, when the list is not in RAM. */
static bool load_entry(struct hda *h, unsigned i)
{
    struct hda_stream *s = &h->sd[i];
    uint64_t at = addr64(s->bdpl & ~0x7fu, s->bdpu) + 16ull * s->be;
    uint8_t d[16];

    if (gmem_read(h->mem, at, d, 16) < 0) {
        warn_once(h, HDA_WARN_BDL, "hda: stream %u's buffer descriptor list at 0x%llx is not "
                  "in RAM; it stops with a descriptor error (logged once)", i,
                  (unsigned long long)at);
        stream_halt(h, i, STS_DESE);
        return false;
    }
    s->entry_addr = addr64(le32(d), le32(d + 4));
    s->entry_len = le32(d + 8);
    s->entry_ioc = le32(d + 12) & 1;
    s->have_entry = true;
    return true;
}

/* The DMA position moved n bytes on in the current buffer. Returns whether
 * it left that buffer (a step through the list). */
static bool advance(struct hda *h, unsigned i, uint32_t n, bool *irq)
{
    struct hda_stream *s = &h->sd[i];
    bool step = false;

    s->bp += n;
    s->lpib += n;
    if (s->bp >= s->entry_len) {
        if (s->entry_ioc) {
            s->sts |= STS_BCIS;
            *irq = true;
        }
        if (s->be >= s->lvi) {
            s->be = 0;
            if (s->lpib < s->cbl)
                warn_once(h, HDA_WARN_LENGTHS, "hda: stream %u's buffers add up to less "
                          "than its cyclic buffer length %u (logged once)", i, s->cbl);
        } else {
            s->be++;
        }
        s->bp = 0;
        s->have_entry = false;
        step = true;
    }
    if (s->lpib >= s->cbl) {
        s->lpib = 0;
        s->be = 0;
        s->bp = 0;
        s->have_entry = false;
    }
    return step;
}

/* A buffer that cannot be used: the DMA steps over it; the stream stops
 * with a descriptor error when none in a whole pass can. */
static bool skip_entry(struct hda *h, unsigned i, unsigned *steps, bool moved)
{
    struct hda_stream *s = &h->sd[i];

    s->be = s->be >= s->lvi ? 0 : s->be + 1;
    s->bp = 0;
    s->have_entry = false;
    if (++*steps > s->lvi + 1u) {
        if (!moved) {
            warn_once(h, HDA_WARN_EMPTY, "hda: stream %u's buffer descriptors all have "
                      "length 0; it stops with a descriptor error (logged once)", i);
            stream_halt(h, i, STS_DESE);
        }
        return false;
    }
    return true;
}

static int16_t sample_from_guest(const uint8_t *p, unsigned bits)
{
    switch (bits) {
    case 8:
        return (int16_t)((p[0] - 128) * 256);       /* unsigned 8-bit */
    case 16:
        return (int16_t)(p[0] | p[1] << 8);
    default:
        return (int16_t)(p[2] | p[3] << 8);         /* MSB-justified in 32 bits */
    }
}

static unsigned sample_to_guest(uint8_t *p, int16_t v, unsigned bits)
{
    uint16_t u = (uint16_t)v;

    switch (bits) {
    case 8:
        p[0] = (uint8_t)((u >> 8) ^ 0x80);
        return 1;
    case 16:
        p[0] = (uint8_t)u;
        p[1] = (uint8_t)(u >> 8);
        return 2;
    default:
        p[0] = 0;
        p[1] = 0;
        p[2] = (uint8_t)u;
        p[3] = (uint8_t)(u >> 8);
        return 4;
    }
}

/* frames guest frames at in to the voice's S16LE: the converter's channel
 * and the next (stereo), or the one channel (mono). */
static size_t convert_out(const struct hda *h, const uint8_t *in, size_t frames, uint8_t *out)
{
    const struct hda_pcm_format *f = &h->out_fmt;
    unsigned sb = f->frame_bytes / f->channels, hch = h->out_voice.fmt.channels;
    unsigned first = h->codec.conv[HDA_CONV_OUT].channel;
    int16_t *o = (int16_t *)out;

    if (first + hch > f->channels)
        first = 0;
    if (f->bits == 16 && f->channels == hch) {
        memcpy(out, in, frames * f->frame_bytes);
        return frames * f->frame_bytes;
    }
    for (size_t k = 0; k < frames; k++) {
        const uint8_t *fr = in + k * f->frame_bytes;

        for (unsigned c = 0; c < hch; c++) {
            int16_t v = sample_from_guest(fr + (first + c) * sb, f->bits);

            memcpy(&o[k * hch + c], &v, 2);
        }
    }
    return frames * hch * 2;
}

/* frames of the voice's S16LE to the guest's format: the first channels
 * carry the voice's, the rest silence (a mono voice fills them all). */
static size_t convert_in(const struct hda *h, const uint8_t *in, size_t frames, uint8_t *out)
{
    const struct hda_pcm_format *f = &h->in_fmt;
    unsigned hch = h->in_voice.fmt.channels;
    uint8_t *o = out;

    if (f->bits == 16 && f->channels == hch) {
        memcpy(out, in, frames * f->frame_bytes);
        return frames * f->frame_bytes;
    }
    for (size_t k = 0; k < frames; k++) {
        const uint8_t *fr = in + k * hch * 2;

        for (unsigned c = 0; c < f->channels; c++) {
            int16_t v = 0;

            if (c < hch || hch == 1)
                v = (int16_t)(fr[2 * (c < hch ? c : 0)] | fr[2 * (c < hch ? c : 0) + 1] << 8);
            o += sample_to_guest(o, v, f->bits);
        }
    }
    return (size_t)(o - out);
}

/* How full the output ring is kept: about half the guest's cyclic buffer,
 * so that the device never runs a whole buffer ahead of the guest, but at
 * least 20 ms (the backends move 10 ms at a time) and at most
 * HDA_OUT_LEAD_MS. */
#define HDA_OUT_LEAD_MS 32
static size_t out_limit(const struct hda *h, const struct hda_stream *s)
{
    const struct audio_voice *v = &h->out_voice;
    size_t hfb = audio_frame_bytes(&v->fmt);
    uint64_t whole = (uint64_t)s->cbl / h->out_fmt.frame_bytes * hfb;
    uint64_t min = (uint64_t)v->fmt.rate * hfb / 50;
    uint64_t lim = whole / 2;

    if (lim < min)
        lim = whole < min ? whole : min;
    /* What runs ahead of the host is latency: keep it near the backends'
     * own 10 ms steps, however large the guest's buffer. */
    if (lim > (uint64_t)v->fmt.rate * hfb * HDA_OUT_LEAD_MS / 1000)
        lim = (uint64_t)v->fmt.rate * hfb * HDA_OUT_LEAD_MS / 1000;
    if (lim > v->ring.size)
        lim = v->ring.size;
    return lim < hfb ? hfb : (size_t)lim;
}

/* Output: guest buffers to the ring, as much as the ring takes, at most
 * once round the buffer descriptor list (CBL bytes, and LVI + 2 steps from
 * one descriptor to the next: a round that starts inside a buffer ends in
 * it). */
static void pump_out(struct hda *h, unsigned i, bool *irq)
{
    struct hda_stream *s = &h->sd[i];
    struct audio_voice *v = &h->out_voice;
    size_t hfb = audio_frame_bytes(&v->fmt), gfb = h->out_fmt.frame_bytes;
    size_t used = audio_ring_used(&v->ring), limit = out_limit(h, s);
    uint64_t budget, moved = 0;
    unsigned steps = 0;

    if (s->cbl == 0) {
        warn_once(h, HDA_WARN_EMPTY, "hda: stream %u runs with a cyclic buffer length of 0; "
                  "it stops with a descriptor error (logged once)", i);
        stream_halt(h, i, STS_DESE);
        return;
    }
    if (used >= limit)
        return;
    budget = (uint64_t)((limit - used) / hfb) * gfb;
    if (budget <= s->ncarry)
        return;
    budget -= s->ncarry;
    while (budget && moved < s->cbl) {
        uint32_t n;
        size_t total, whole;

        if (!s->have_entry && !load_entry(h, i))
            return;
        if (s->bp >= s->entry_len) {
            if (!skip_entry(h, i, &steps, moved))
                return;
            continue;
        }
        n = s->entry_len - s->bp;
        if (n > s->cbl - s->lpib)
            n = s->cbl - s->lpib;
        if (n > budget)
            n = (uint32_t)budget;
        if (n > HDA_SCRATCH - sizeof(s->carry))
            n = HDA_SCRATCH - sizeof(s->carry);
        memcpy(h->scratch, s->carry, s->ncarry);
        if (gmem_read(h->mem, s->entry_addr + s->bp, h->scratch + s->ncarry, n) < 0) {
            warn_once(h, HDA_WARN_BUFFER, "hda: stream %u's buffer at 0x%llx (+%u) is not in "
                      "RAM; it stops with a descriptor error (logged once)", i,
                      (unsigned long long)s->entry_addr, s->entry_len);
            stream_halt(h, i, STS_DESE);
            return;
        }
        total = s->ncarry + n;
        whole = total / gfb;
        audio_ring_write(&v->ring, h->conv, convert_out(h, h->scratch, whole, h->conv));
        s->ncarry = (unsigned)(total - whole * gfb);
        memcpy(s->carry, h->scratch + whole * gfb, s->ncarry);
        budget -= n;
        moved += n;
        if (advance(h, i, n, irq) && ++steps > s->lvi + 1u)
            break;
    }
}

/* Input: what the ring holds to the guest's buffers, at most once round
 * the buffer descriptor list. Bytes of a frame a buffer ends in the middle
 * of wait in carry. */
static void pump_in(struct hda *h, unsigned i, bool *irq)
{
    struct hda_stream *s = &h->sd[i];
    struct audio_voice *v = &h->in_voice;
    size_t hfb = audio_frame_bytes(&v->fmt), gfb = h->in_fmt.frame_bytes;
    size_t have = s->ncarry, off = 0;
    uint64_t moved = 0;
    unsigned steps = 0;

    if (s->cbl == 0) {
        warn_once(h, HDA_WARN_EMPTY, "hda: stream %u runs with a cyclic buffer length of 0; "
                  "it stops with a descriptor error (logged once)", i);
        stream_halt(h, i, STS_DESE);
        return;
    }
    memcpy(h->conv, s->carry, s->ncarry);
    s->ncarry = 0;
    while (moved < s->cbl) {
        uint32_t n;

        if (off == have) {
            size_t frames = audio_ring_used(&v->ring) / hfb;
            size_t room = (s->cbl - moved + gfb - 1) / gfb;

            if (frames > HDA_SCRATCH / hfb)
                frames = HDA_SCRATCH / hfb;
            if (frames > sizeof(h->conv) / gfb)
                frames = sizeof(h->conv) / gfb;
            if (frames > room)
                frames = room;
            if (!frames)
                break;
            audio_ring_read(&v->ring, h->scratch, frames * hfb);
            have = convert_in(h, h->scratch, frames, h->conv);
            off = 0;
        }
        if (!s->have_entry && !load_entry(h, i))
            return;
        if (s->bp >= s->entry_len) {
            if (!skip_entry(h, i, &steps, moved))
                break;
            continue;
        }
        n = s->entry_len - s->bp;
        if (n > s->cbl - s->lpib)
            n = s->cbl - s->lpib;
        if (n > have - off)
            n = (uint32_t)(have - off);
        if (gmem_write(h->mem, s->entry_addr + s->bp, h->conv + off, n) < 0) {
            warn_once(h, HDA_WARN_BUFFER, "hda: stream %u's buffer at 0x%llx (+%u) is not in "
                      "RAM; it stops with a descriptor error (logged once)", i,
                      (unsigned long long)s->entry_addr, s->entry_len);
            stream_halt(h, i, STS_DESE);
            return;
        }
        off += n;
        moved += n;
        if (advance(h, i, n, irq) && ++steps > s->lvi + 1u)
            break;
    }
    /* What is left is at most the part of a frame that the wrap at the
     * cyclic buffer's end cut off; more only when the list ended first. */
    s->ncarry = (unsigned)(have - off < sizeof(s->carry) ? have - off : sizeof(s->carry));
    memcpy(s->carry, h->conv + off, s->ncarry);
}

static void service(struct hda *h, enum hda_conv_dir dir)
{
    int i;
    bool irq = false;

    pthread_mutex_lock(&h->lock);
    i = dir == HDA_CONV_OUT ? h->out_sd : h->in_sd;
    if (i < 0 || !atomic_load(&voice_of(h, (unsigned)i)->active))
        goto out;
    if (!h->bus_master) {
        warn_once(h, HDA_WARN_BUS_MASTER, "hda: DMA with bus mastering off; nothing moves "
                  "(logged once)");
        goto out;
    }
    if (dir == HDA_CONV_OUT)
        pump_out(h, (unsigned)i, &irq);
    else
        pump_in(h, (unsigned)i, &irq);
    update_posbuf(h, (unsigned)i);
    if (h->sd[i].halted) {
        reconcile(h);
        irq = true;
    }
    if (irq)
        update_irq(h, true);
out:
    pthread_mutex_unlock(&h->lock);
}

static void out_service(void *opaque)
{
    service(opaque, HDA_CONV_OUT);
}

static void in_service(void *opaque)
{
    service(opaque, HDA_CONV_IN);
}

/* ---- reset ---- */

static void controller_reset(struct hda *h)
{
    if (h->out_sd >= 0)
        audio_voice_stop(&h->out_voice);
    if (h->in_sd >= 0)
        audio_voice_stop(&h->in_voice);
    h->out_sd = -1;
    h->in_sd = -1;
    h->gctl = 0;
    h->intctl = 0;
    h->ssync = 0;
    h->wakeen = 0;
    h->statests = 0;
    h->gsts = 0;
    h->corb_lbase = h->corb_ubase = h->rirb_lbase = h->rirb_ubase = 0;
    h->corb_wp = h->corb_rp = 0;
    h->corb_ctl = h->corb_sts = 0;
    h->rirb_wp = h->rintcnt = 0;
    h->rirb_ctl = h->rirb_sts = 0;
    h->rirb_count = h->rirb_unread = 0;
    h->icoi = h->icii = 0;
    h->icis = 0;
    h->dpl_base = h->dpu_base = 0;
    memset(h->sd, 0, sizeof(h->sd));
    hda_codec_reset(&h->codec);
    set_volume(h, HDA_CONV_OUT);
    set_volume(h, HDA_CONV_IN);
    h->wall_base_ns = clock_ns();
    update_irq(h, false);
}

/* ---- registers ---- */

/* The 16-bit field at byte pos of a dword write, merged with old. */
static uint16_t merge16(uint16_t old, uint32_t v, uint32_t mask, unsigned pos)
{
    uint16_t m = (uint16_t)(mask >> (8 * pos));

    return (uint16_t)((old & ~m) | ((v >> (8 * pos)) & m));
}

static uint32_t merge32(uint32_t old, uint32_t v, uint32_t mask)
{
    return (old & ~mask) | (v & mask);
}

static bool wrote(uint32_t mask, unsigned pos, unsigned len)
{
    return (mask >> (8 * pos)) & ((1u << (8 * len)) - 1);
}

static uint32_t stream_read(struct hda *h, unsigned i, unsigned r)
{
    const struct hda_stream *s = &h->sd[i];

    switch (r) {
    case SD_CTL: return s->ctl | (uint32_t)(s->sts | STS_FIFORDY) << 24;
    case SD_LPIB: return s->lpib;
    case SD_CBL: return s->cbl;
    case SD_LVI: return s->lvi;
    case SD_FIFOS: return FIFOS_VALUE | (uint32_t)s->fmt << 16;
    case SD_BDPL: return s->bdpl;
    case SD_BDPU: return s->bdpu;
    default: return 0;
    }
}

static void stream_write_ctl(struct hda *h, unsigned i, uint32_t ctl)
{
    struct hda_stream *s = &h->sd[i];
    uint32_t old = s->ctl;

    if (ctl & CTL_SRST) {
        stream_reset(h, i);
        update_posbuf(h, i);
    } else {
        s->ctl = ctl;
        if ((ctl & CTL_RUN) && !(old & CTL_RUN)) {
            /* A stopped stream goes on from where it was; an error is
             * forgotten, and the descriptor read again. */
            s->halted = false;
            s->have_entry = false;
        }
    }
    reconcile(h);
    update_irq(h, true);
}

static void stream_write(struct hda *h, unsigned i, unsigned r, uint32_t v, uint32_t mask)
{
    struct hda_stream *s = &h->sd[i];
    /* The buffer's description holds while the stream runs. */
    bool frozen = s->ctl & CTL_RUN;

    switch (r) {
    case SD_CTL:
        if (wrote(mask, 3, 1)) {
            s->sts &= (uint8_t)~((v >> 24) & STS_W1C);
            update_irq(h, false);
        }
        if (mask & 0x00ffffff)
            stream_write_ctl(h, i, merge32(s->ctl, v, mask & 0x00ffffff) & CTL_MASK);
        break;
    case SD_CBL:
        if (!frozen)
            s->cbl = merge32(s->cbl, v, mask);
        break;
    case SD_LVI:
        if (!frozen && wrote(mask, 0, 2))
            s->lvi = merge16(s->lvi, v, mask, 0) & 0xff;
        break;
    case SD_FIFOS:
        if (!frozen && wrote(mask, 2, 2))
            s->fmt = merge16(s->fmt, v, mask, 2) & FMT_MASK;
        break;
    case SD_BDPL:
        if (!frozen)
            s->bdpl = merge32(s->bdpl, v, mask) & ~0x7fu;
        break;
    case SD_BDPU:
        if (!frozen)
            s->bdpu = merge32(s->bdpu, v, mask);
        break;
    }
}

static uint32_t wallclock(const struct hda *h)
{
    return (uint32_t)((clock_ns() - h->wall_base_ns) * 24 / 1000);
}

static uint32_t reg_read(struct hda *h, unsigned off)
{
    if (off >= REG_ALIAS) {
        off -= REG_ALIAS;
        if (off == REG_WALCLK)
            return wallclock(h);
        if (off >= REG_SD_BASE && off < REG_SD_BASE + HDA_STREAMS * REG_SD_STRIDE &&
            (off - REG_SD_BASE) % REG_SD_STRIDE == SD_LPIB)
            return h->sd[(off - REG_SD_BASE) / REG_SD_STRIDE].lpib;
        return 0;
    }
    if (off >= REG_SD_BASE) {
        unsigned i = (off - REG_SD_BASE) / REG_SD_STRIDE;

        return i < HDA_STREAMS ? stream_read(h, i, (off - REG_SD_BASE) % REG_SD_STRIDE) : 0;
    }
    switch (off) {
    case REG_GCAP: return GCAP_VALUE | (uint32_t)VMAJ_VALUE << 24;
    case REG_PAY: return OUTPAY_VALUE | (uint32_t)INPAY_VALUE << 16;
    case REG_GCTL: return h->gctl;
    case REG_WAKEEN: return h->wakeen | (uint32_t)h->statests << 16;
    case REG_GSTS: return h->gsts;
    case REG_INTCTL: return h->intctl;
    case REG_INTSTS: return intsts(h);
    case REG_WALCLK: return wallclock(h);
    case REG_SSYNC_OLD:
    case REG_SSYNC: return h->ssync;
    case REG_CORBLBASE: return h->corb_lbase;
    case REG_CORBUBASE: return h->corb_ubase;
    case REG_CORBWP: return h->corb_wp | (uint32_t)h->corb_rp << 16;
    case REG_CORBCTL:
        return h->corb_ctl | (uint32_t)h->corb_sts << 8 | (uint32_t)RING_SIZE_REG << 16;
    case REG_RIRBLBASE: return h->rirb_lbase;
    case REG_RIRBUBASE: return h->rirb_ubase;
    case REG_RIRBWP: return h->rirb_wp | (uint32_t)h->rintcnt << 16;
    case REG_RIRBCTL:
        return h->rirb_ctl | (uint32_t)h->rirb_sts << 8 | (uint32_t)RING_SIZE_REG << 16;
    case REG_ICOI: return h->icoi;
    case REG_ICII: return h->icii;
    case REG_ICIS: return h->icis;
    case REG_DPLBASE: return h->dpl_base;
    case REG_DPUBASE: return h->dpu_base;
    default: return 0;
    }
}

static void write_gctl(struct hda *h, uint32_t v)
{
    bool was_running = h->gctl & GCTL_CRST;

    v &= GCTL_CRST | GCTL_FCNTRL | GCTL_UNSOL;
    if (!(v & GCTL_CRST)) {
        controller_reset(h);
        return;
    }
    if (!was_running)
        h->statests |= 1;       /* the codec at address 0 reports itself */
    if (v & GCTL_FCNTRL) {
        /* Nothing is in flight to flush. */
        h->gsts |= GSTS_FSTS;
        v &= ~GCTL_FCNTRL;
    }
    h->gctl = v;
    update_irq(h, true);
}

static void reg_write(struct hda *h, unsigned off, uint32_t v, uint32_t mask)
{
    if (off >= REG_ALIAS)
        return;
    if (off >= REG_SD_BASE) {
        unsigned i = (off - REG_SD_BASE) / REG_SD_STRIDE;

        if (i < HDA_STREAMS)
            stream_write(h, i, (off - REG_SD_BASE) % REG_SD_STRIDE, v, mask);
        return;
    }
    switch (off) {
    case REG_GCTL:
        write_gctl(h, merge32(h->gctl, v, mask));
        break;
    case REG_WAKEEN:
        if (wrote(mask, 0, 2))
            h->wakeen = merge16(h->wakeen, v, mask, 0) & 0x7fff;
        if (wrote(mask, 2, 2))
            h->statests &= (uint16_t)~((v & mask) >> 16);
        update_irq(h, true);
        break;
    case REG_GSTS:
        h->gsts &= (uint16_t)~(v & mask & GSTS_FSTS);
        break;
    case REG_INTCTL:
        h->intctl = merge32(h->intctl, v, mask) & INTCTL_MASK;
        update_irq(h, true);
        break;
    case REG_SSYNC_OLD:
    case REG_SSYNC:
        h->ssync = merge32(h->ssync, v, mask) & 0xff;
        break;
    case REG_CORBLBASE:
        h->corb_lbase = merge32(h->corb_lbase, v, mask) & ~0x7fu;
        break;
    case REG_CORBUBASE:
        h->corb_ubase = merge32(h->corb_ubase, v, mask);
        break;
    case REG_CORBWP:
        if (wrote(mask, 2, 2)) {
            if (merge16(h->corb_rp, v, mask, 2) & CORBRP_RST)
                h->corb_rp = CORBRP_RST;
            else
                h->corb_rp &= 0xff;
        }
        if (wrote(mask, 0, 2)) {
            h->corb_wp = merge16(h->corb_wp, v, mask, 0) & 0xff;
            corb_run(h);
        }
        break;
    case REG_CORBCTL:
        if (wrote(mask, 1, 1))
            h->corb_sts &= (uint8_t)~((v >> 8) & CORBSTS_CMEI);
        if (wrote(mask, 0, 1)) {
            h->corb_ctl = v & (CORBCTL_MEIE | CORBCTL_RUN);
            corb_run(h);
        }
        update_irq(h, true);
        break;
    case REG_RIRBLBASE:
        h->rirb_lbase = merge32(h->rirb_lbase, v, mask) & ~0x7fu;
        break;
    case REG_RIRBUBASE:
        h->rirb_ubase = merge32(h->rirb_ubase, v, mask);
        break;
    case REG_RIRBWP:
        if (wrote(mask, 0, 2) && (merge16(0, v, mask, 0) & RIRBWP_RST)) {
            h->rirb_wp = 0;
            h->rirb_unread = 0;
        }
        if (wrote(mask, 2, 2))
            h->rintcnt = merge16(h->rintcnt, v, mask, 2) & 0xff;
        break;
    case REG_RIRBCTL:
        if (wrote(mask, 1, 1))
            h->rirb_sts &= (uint8_t)~((v >> 8) & (RIRBSTS_RINTFL | RIRBSTS_OIS));
        if (wrote(mask, 0, 1))
            h->rirb_ctl = v & (RIRBCTL_RINTCTL | RIRBCTL_DMAEN | RIRBCTL_OIC);
        update_irq(h, true);
        break;
    case REG_ICOI:
        h->icoi = merge32(h->icoi, v, mask);
        break;
    case REG_ICIS:
        if (wrote(mask, 0, 1)) {
            h->icis &= (uint16_t)~(v & ICIS_IRV);
            if ((v & ICIS_ICB) && !(h->icis & ICIS_ICB))
                immediate_command(h);
        }
        break;
    case REG_DPLBASE:
        h->dpl_base = merge32(h->dpl_base, v, mask) & (~0x7fu | DPLBASE_ENABLE);
        break;
    case REG_DPUBASE:
        h->dpu_base = merge32(h->dpu_base, v, mask);
        break;
    }
}

static uint32_t mmio_reg_read(void *opaque, unsigned reg)
{
    return reg_read(opaque, reg);
}

static void mmio_reg_write(void *opaque, unsigned reg, uint32_t v, uint32_t mask)
{
    reg_write(opaque, reg, v, mask);
}

static void mmio_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct hda *h = opaque;

    memset(data, 0, size);
    if (size > 8 || offset >= HDA_MMIO_SIZE)
        return;
    pthread_mutex_lock(&h->lock);
    bus_regs32_read(offset, data, size, HDA_MMIO_SIZE, mmio_reg_read, h);
    /* The guest has looked where the responses end. */
    if (offset <= REG_RIRBWP + 1 && offset + size > REG_RIRBWP)
        h->rirb_unread = 0;
    pthread_mutex_unlock(&h->lock);
}

static void mmio_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct hda *h = opaque;

    if (size > 8 || offset >= HDA_MMIO_SIZE)
        return;
    pthread_mutex_lock(&h->lock);
    bus_regs32_write(offset, data, size, HDA_MMIO_SIZE, mmio_reg_write, h);
    pthread_mutex_unlock(&h->lock);
}

const struct bus_ops hda_mmio_ops = { .read = mmio_read, .write = mmio_write };

/* ---- PCI ---- */

static void config_written(struct pci_dev *dev, unsigned off, unsigned size)
{
    struct hda *h = dev->opaque;
    const uint8_t *c = dev->cfg;
    bool was_master;

    pthread_mutex_lock(&h->lock);
    was_master = h->bus_master;
    h->bus_master = c[PCI_COMMAND] & 0x04;
    h->intx_disabled = c[PCI_COMMAND + 1] & 0x04;
    h->msi_enabled = c[MSI_CAP + 2] & 1;
    h->msi_addr = addr64(pci_get32(&c[MSI_CAP + 4]), pci_get32(&c[MSI_CAP + 8]));
    h->msi_data = c[MSI_CAP + 12] | (uint32_t)c[MSI_CAP + 13] << 8;
    if (h->bus_master && !was_master)
        corb_run(h);
    update_irq(h, false);
    pthread_mutex_unlock(&h->lock);
}

static const struct pci_dev_ops hda_pci_ops = { .config_written = config_written };

static void pci_setup(struct hda *h)
{
    struct pci_dev *d = &h->pci;

    pci_set16(&d->cfg[PCI_VENDOR_ID], 0x8086);
    pci_set16(&d->cfg[PCI_DEVICE_ID], 0x293e);
    d->cfg[PCI_REVISION] = 0x03;
    d->cfg[PCI_CLASS_PROG] = 0x00;
    d->cfg[PCI_CLASS_PROG + 1] = 0x03;      /* HD audio */
    d->cfg[PCI_CLASS_PROG + 2] = 0x04;      /* multimedia */
    pci_set16(&d->cfg[PCI_SUBSYS_VENDOR], 0x1af4);
    pci_set16(&d->cfg[PCI_SUBSYS_ID], 0x1100);
    pci_set16(&d->wmask[PCI_COMMAND], 0x0406);  /* memory, bus master, INTx off */
    d->cfg[PCI_STATUS] = 0x10;                  /* capability list */
    d->cfg[0x3d] = 1;                           /* INTA */
    d->wmask[0x3c] = 0xff;
    d->cfg[0x40] = 0x01;                        /* HDCTL: HD Audio, not AC'97 */
    d->cfg[0x34] = MSI_CAP;
    /* MSI, one vector, 64-bit addresses. */
    d->cfg[MSI_CAP] = 0x05;
    d->cfg[MSI_CAP + 1] = 0;
    pci_set16(&d->cfg[MSI_CAP + 2], 0x0080);
    d->wmask[MSI_CAP + 2] = 0x71;
    pci_set32(&d->wmask[MSI_CAP + 4], 0xfffffffc);
    pci_set32(&d->wmask[MSI_CAP + 8], 0xffffffff);
    pci_set16(&d->wmask[MSI_CAP + 12], 0xffff);
    d->ops = &hda_pci_ops;
    d->opaque = h;
    d->name = "hda";
}

struct hda *hda_new(const struct gmem *mem, struct msi_sink msi, struct irq_line intx,
                    struct audio_backend *backend)
{
    struct hda *h = calloc(1, sizeof(*h));

    if (!h)
        return NULL;
    pthread_mutex_init(&h->lock, NULL);
    h->mem = mem;
    h->msi = msi;
    h->intx = intx;
    h->backend = backend;
    h->out_sd = h->in_sd = -1;
    h->rl = (struct ratelimit)RATELIMIT_INIT;
    audio_voice_init(&h->out_voice, backend, AUDIO_OUT, "hda.out", out_service, h);
    audio_voice_init(&h->in_voice, backend, AUDIO_IN, "hda.in", in_service, h);
    pci_setup(h);
    if (pci_dev_set_bar(&h->pci, HDA_MMIO_BAR, HDA_MMIO_SIZE, 0, &hda_mmio_ops, h) < 0) {
        hda_free(h);
        return NULL;
    }
    pthread_mutex_lock(&h->lock);
    controller_reset(h);
    pthread_mutex_unlock(&h->lock);
    return h;
}

void hda_free(struct hda *h)
{
    if (!h)
        return;
    /* The voices' service may be waiting for the lock: stop them under
     * it, destroy them (which waits for a service under way) without. */
    pthread_mutex_lock(&h->lock);
    if (h->out_sd >= 0)
        audio_voice_stop(&h->out_voice);
    if (h->in_sd >= 0)
        audio_voice_stop(&h->in_voice);
    h->out_sd = h->in_sd = -1;
    pthread_mutex_unlock(&h->lock);
    audio_voice_destroy(&h->in_voice);
    audio_voice_destroy(&h->out_voice);
    pthread_mutex_destroy(&h->lock);
    free(h);
}

void hda_reset(struct hda *h)
{
    pthread_mutex_lock(&h->lock);
    controller_reset(h);
    pthread_mutex_unlock(&h->lock);
}

bool hda_playing(struct hda *h)
{
    bool r;

    pthread_mutex_lock(&h->lock);
    r = h->out_sd >= 0;
    pthread_mutex_unlock(&h->lock);
    return r;
}

bool hda_recording(struct hda *h)
{
    bool r;

    pthread_mutex_lock(&h->lock);
    r = h->in_sd >= 0;
    pthread_mutex_unlock(&h->lock);
    return r;
}

struct audio_voice *hda_output_voice(struct hda *h)
{
    return &h->out_voice;
}

struct audio_voice *hda_input_voice(struct hda *h)
{
    return &h->in_voice;
}
