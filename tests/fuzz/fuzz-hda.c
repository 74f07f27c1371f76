/* Fuzz target for the Intel HD Audio controller and its codec: the input is
 * a program of register reads and writes, PCI configuration writes, stores
 * into guest RAM (CORB entries, buffer descriptor lists, samples), codec
 * commands, stream set-ups and what a backend does (take from the output
 * ring, add to the input ring, then run the voice's service). Whatever it
 * does, the device must touch guest RAM only through the checked accessor
 * and keep its loops bounded. */
#include <string.h>

#include "fuzz.h"
#include "hw/hda.h"

#define RAM_SIZE 0x10000

static int fuzz_msi(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    return 0;
}

static int fb_start(struct audio_backend *b, struct audio_voice *v)
{
    return 0;
}

static void fb_stop(struct audio_backend *b, struct audio_voice *v)
{
}

static void fb_destroy(struct audio_backend *b)
{
}

static const struct audio_backend_ops fuzz_backend_ops = {
    .start = fb_start,
    .stop = fb_stop,
    .destroy = fb_destroy,
};

/* A configuration write as the PCI host does it: only writable bits land. */
static void config_write(struct hda *h, unsigned off, unsigned size, uint32_t v)
{
    struct pci_dev *d = &h->pci;

    if (off + size > PCI_CFG_SIZE)
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t m = d->wmask[off + i];

        d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | ((v >> (8 * i)) & m));
    }
    d->ops->config_written(d, off, size);
}

static void reg_write(struct hda *h, uint64_t off, unsigned size, uint64_t v)
{
    uint8_t data[8];

    bus_put(data, size, v);
    hda_mmio_ops.write(h, off, data, size);
}

static uint64_t reg_read(struct hda *h, uint64_t off, unsigned size)
{
    uint8_t data[8];

    hda_mmio_ops.read(h, off, data, size);
    return bus_get(data, size);
}

/* Registers live below 0x180 and their aliases at 0x2000. */
static uint64_t reg_offset(struct fuzz_input *in)
{
    uint16_t v = fi_u16(in);

    return (v & 0x8000 ? 0x2000 : 0) + (v & 0x1ff);
}

static void command(struct hda *h, uint32_t cmd, bool corb)
{
    if (corb) {
        unsigned wp = (unsigned)((reg_read(h, 0x48, 2) + 1) & 0xff);
        uint64_t base = reg_read(h, 0x40, 4) | reg_read(h, 0x44, 4) << 32;
        uint8_t e[4];

        for (int i = 0; i < 4; i++)
            e[i] = (uint8_t)(cmd >> (8 * i));
        if (base + 4 * wp + 4 <= RAM_SIZE)
            memcpy((uint8_t *)h->mem->regions[0].hva + base + 4 * wp, e, 4);
        reg_write(h, 0x48, 2, wp);
    } else {
        reg_write(h, 0x60, 4, cmd);
        reg_write(h, 0x68, 2, 3);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[RAM_SIZE];
    static uint8_t scratch[65536];
    struct audio_backend backend = { .name = "fuzz", .ops = &fuzz_backend_ops };
    struct fuzz_input in = { data, size };
    struct gmem *mem;
    struct hda *h;

    /* Every input is a new device that warns once of each thing. */
    log_set_level(LOG_ERROR);
    memset(ram, 0, sizeof(ram));
    mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    h = hda_new(mem, (struct msi_sink){ fuzz_msi, NULL }, fuzz_irq(), &backend);
    if (!h)
        abort();
    for (int steps = 0; fi_more(&in) && steps < 256; steps++) {
        uint8_t op = fi_u8(&in);

        switch (op & 7) {
        case 0: {   /* register write */
            uint64_t off = reg_offset(&in);
            unsigned sz = fi_size(&in);

            reg_write(h, off, sz, fi_u64(&in));
            break;
        }
        case 1: {   /* register read */
            uint64_t off = reg_offset(&in);

            reg_read(h, off, fi_size(&in));
            break;
        }
        case 2: {   /* guest RAM */
            uint16_t at = fi_u16(&in);
            const uint8_t *p;
            size_t n = fi_bytes(&in, &p, fi_u8(&in));

            if (n > RAM_SIZE - at)
                n = RAM_SIZE - at;
            memcpy(ram + at, p, n);
            break;
        }
        case 3: {   /* PCI configuration */
            unsigned off = fi_u8(&in), sz = fi_size(&in);

            config_write(h, off, sz > 4 ? 4 : sz, fi_u32(&in));
            break;
        }
        case 4: {   /* a driver's bring-up, to reach commands and streams sooner */
            uint16_t corb = fi_u16(&in), rirb = fi_u16(&in), dpl = fi_u16(&in);

            config_write(h, PCI_COMMAND, 2, 0x0006);
            reg_write(h, 0x08, 4, 1);
            reg_write(h, 0x20, 4, 0xc00000ff);
            reg_write(h, 0x40, 4, corb);
            reg_write(h, 0x50, 4, rirb);
            reg_write(h, 0x4a, 2, 0x8000);
            reg_write(h, 0x4a, 2, 0);
            reg_write(h, 0x58, 2, 0x8000);
            reg_write(h, 0x5a, 2, op >> 3);
            reg_write(h, 0x4c, 1, 3);
            reg_write(h, 0x5c, 1, 7);
            reg_write(h, 0x70, 4, dpl | 1u);
            break;
        }
        case 5: {   /* a codec command, through the CORB or the immediate interface */
            uint32_t cmd = fi_u32(&in);

            /* Mostly codec 0, node 0..7, so that the verbs matter. */
            if (!(op & 0x80))
                cmd &= 0x007fffff;
            command(h, cmd, op & 0x08);
            break;
        }
        case 6: {   /* a stream: reset, describe, bind its converter, run */
            unsigned sd = (op >> 3) & 7, tag = fi_u8(&in) & 0xf;
            uint16_t bdl = fi_u16(&in), fmt = fi_u16(&in);
            uint32_t cbl = fi_u32(&in);
            uint8_t lvi = fi_u8(&in), ctl = fi_u8(&in);
            uint64_t base = 0x80 + 0x20 * sd;

            reg_write(h, base, 1, 1);
            reg_write(h, base, 1, 0);
            reg_write(h, base + 0x18, 4, bdl);
            reg_write(h, base + 0x08, 4, cbl);
            reg_write(h, base + 0x0c, 2, lvi);
            reg_write(h, base + 0x12, 2, fmt);
            reg_write(h, base + 0x02, 1, (uint8_t)(tag << 4));
            command(h, (sd >= 4 ? 2u : 4u) << 20 | 0x20000 | fmt, false);
            command(h, (sd >= 4 ? 2u : 4u) << 20 | 0x70600 | tag << 4, false);
            reg_write(h, base, 1, (uint8_t)(ctl | 2));
            break;
        }
        case 7: {   /* the backend moves samples; the service runs */
            struct audio_voice *v = (op & 0x08) ? hda_input_voice(h) : hda_output_voice(h);
            size_t n = (size_t)fi_u16(&in);

            if (op & 0x80) {
                hda_reset(h);
                break;
            }
            pthread_mutex_lock(&h->lock);
            /* The ring exists once the voice has started. */
            if (atomic_load(&v->active) && v->ring.buf) {
                if (v->dir == AUDIO_OUT) {
                    audio_ring_read(&v->ring, scratch, n);
                } else {
                    for (size_t i = 0; i < n && i < sizeof(scratch); i++)
                        scratch[i] = (uint8_t)(i * 37);
                    audio_ring_write(&v->ring, scratch, n);
                }
            }
            pthread_mutex_unlock(&h->lock);
            v->service(v->opaque);
            break;
        }
        }
    }
    hda_free(h);
    gmem_free(mem);
    return 0;
}
