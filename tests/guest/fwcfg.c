/* fw_cfg over the selector/data ports and DMA. Compared: signature, ID,
 * DMA signature, presence of etc/e820, the RAM total it describes (MiB,
 * rounded), NB_CPUS, PIO/DMA equality, DMA skip, zero fill past the end of an
 * item, and the error bit on a DMA write to a read-only item. */
#include "rt/rt.h"

#define E820_ENTRY_SIZE 20
#define E820_MAX 64

static uint8_t e820_pio[E820_ENTRY_SIZE * E820_MAX];
static uint8_t e820_dma[E820_ENTRY_SIZE * E820_MAX];

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
           (uint32_t)p[3] << 24;
}

int main(void)
{
    rt_serial_init();

    char sig[5] = { 0 };
    rt_fwcfg_read_key(RT_FWCFG_SIGNATURE, sig, 4);
    rt_printf("= signature %s\n", sig);
    RT_CHECK(memcmp(sig, "QEMU", 4) == 0, "signature %02x %02x %02x %02x", sig[0],
             sig[1], sig[2], sig[3]);

    uint32_t id = rt_fwcfg_read32(RT_FWCFG_ID);
    rt_printf("= id %08x\n", id);
    RT_CHECK(id & 2, "ID %08x lacks the DMA bit", id);

    /* The DMA address register reads back as the big-endian signature
     * "QEMU CFG"; stored little-endian, each dword is already in byte order. */
    uint32_t d[2] = { inl(RT_FWCFG_PORT_DMA), inl(RT_FWCFG_PORT_DMA + 4) };
    char dsig[9] = { 0 };
    memcpy(dsig, d, 8);
    rt_printf("= dma signature %s\n", dsig);
    RT_CHECK(memcmp(dsig, "QEMU CFG", 8) == 0, "DMA signature %08x %08x", d[0], d[1]);

    struct rt_fwcfg_file f;
    if (!rt_fwcfg_find("etc/e820", &f))
        rt_fail("etc/e820 not in the file directory");
    rt_printf("= has etc/e820\n");
    rt_printf("etc/e820: select %04x size %u\n", f.select, f.size);
    RT_CHECK(f.size && f.size % E820_ENTRY_SIZE == 0 && f.size <= sizeof(e820_pio),
             "etc/e820 size %u", f.size);

    rt_fwcfg_read_key(f.select, e820_pio, f.size);
    uint64_t ram = 0;
    for (uint32_t off = 0; off < f.size; off += E820_ENTRY_SIZE) {
        uint64_t addr = le64(e820_pio + off);
        uint64_t len = le64(e820_pio + off + 8);
        uint32_t type = le32(e820_pio + off + 16);
        rt_printf("e820 %016llx-%016llx type %u\n", addr, addr + len - 1, type);
        if (type == 1)
            ram += len;
    }
    /* Rounded so that a map with or without the legacy 640K-1M hole agrees. */
    rt_printf("= e820 ram %u MiB\n", (uint32_t)((ram + (1u << 19)) >> 20));
    RT_CHECK(ram >= (1u << 20), "e820 lists only %llu bytes of RAM", ram);

    uint16_t ncpus = rt_fwcfg_read16(RT_FWCFG_NB_CPUS);
    rt_printf("= nb_cpus %u\n", ncpus);
    RT_CHECK(ncpus >= 1, "NB_CPUS is 0");

    memset(e820_dma, 0xaa, sizeof(e820_dma));
    uint32_t ctl = rt_fwcfg_dma((uint32_t)f.select << 16 | RT_FWCFG_DMA_SELECT |
                                    RT_FWCFG_DMA_READ,
                                e820_dma, f.size);
    RT_CHECK(ctl == 0, "DMA read of etc/e820 left control %08x", ctl);
    RT_CHECK(memcmp(e820_pio, e820_dma, f.size) == 0, "DMA and PIO reads of etc/e820 differ");
    RT_CHECK(e820_dma[f.size] == 0xaa, "DMA read wrote past its length");
    rt_printf("= dma read of etc/e820 equals pio\n");

    /* Skip one entry, then read the rest from where the skip left off. */
    memset(e820_dma, 0xaa, sizeof(e820_dma));
    ctl = rt_fwcfg_dma((uint32_t)f.select << 16 | RT_FWCFG_DMA_SELECT | RT_FWCFG_DMA_SKIP,
                       e820_dma, E820_ENTRY_SIZE);
    RT_CHECK(ctl == 0, "DMA skip left control %08x", ctl);
    RT_CHECK(e820_dma[0] == 0xaa, "DMA skip wrote to memory");
    uint32_t rest = f.size - E820_ENTRY_SIZE;
    if (rest) {
        ctl = rt_fwcfg_dma(RT_FWCFG_DMA_READ, e820_dma, rest);
        RT_CHECK(ctl == 0, "DMA read after skip left control %08x", ctl);
        RT_CHECK(memcmp(e820_pio + E820_ENTRY_SIZE, e820_dma, rest) == 0,
                 "DMA read after skip returned the wrong bytes");
    }
    rt_printf("= dma skip then read ok\n");

    /* Past the end of an item a DMA read fills zeros and is not an error. */
    uint8_t buf[8];
    memset(buf, 0xaa, sizeof(buf));
    ctl = rt_fwcfg_dma(RT_FWCFG_SIGNATURE << 16 | RT_FWCFG_DMA_SELECT | RT_FWCFG_DMA_READ,
                       buf, sizeof(buf));
    rt_printf("= dma read past end: control %x bytes %02x %02x %02x %02x %02x %02x %02x "
              "%02x\n",
              ctl, buf[0], buf[1], buf[2], buf[3], buf[4], buf[5], buf[6], buf[7]);
    RT_CHECK(ctl == 0 && memcmp(buf, "QEMU\0\0\0\0", 8) == 0,
             "DMA read past the end of the signature");

    /* The signature is read-only: a write must fail with the error bit and
     * leave the item as it was. */
    memcpy(buf, "XXXX", 4);
    ctl = rt_fwcfg_dma(RT_FWCFG_SIGNATURE << 16 | RT_FWCFG_DMA_SELECT | RT_FWCFG_DMA_WRITE,
                       buf, 4);
    rt_printf("= dma write to read-only item: control %x\n", ctl);
    RT_CHECK(ctl & RT_FWCFG_DMA_ERROR, "DMA write to the signature did not fail (%08x)",
             ctl);
    rt_fwcfg_read_key(RT_FWCFG_SIGNATURE, sig, 4);
    RT_CHECK(memcmp(sig, "QEMU", 4) == 0, "signature changed by a failed write");

    /* No read, write or skip bit: nothing to do, and no error either. */
    ctl = rt_fwcfg_dma(RT_FWCFG_SIGNATURE << 16 | RT_FWCFG_DMA_SELECT, buf, 4);
    rt_printf("= dma select only: control %x\n", ctl);

    rt_pass();
}
