/* QEMU fw_cfg interface: selector/data ports, file directory, DMA. */
#include "rt.h"

struct fwcfg_dma_access {
    uint32_t control;   /* all three fields big-endian */
    uint32_t length;
    uint64_t address;
} __attribute__((packed, aligned(16)));

void rt_fwcfg_select(uint16_t key)
{
    outw(RT_FWCFG_PORT_SEL, key);
}

void rt_fwcfg_read(void *buf, uint32_t len)
{
    uint8_t *p = buf;
    while (len--)
        *p++ = inb(RT_FWCFG_PORT_DATA);
}

void rt_fwcfg_read_key(uint16_t key, void *buf, uint32_t len)
{
    rt_fwcfg_select(key);
    rt_fwcfg_read(buf, len);
}

uint32_t rt_fwcfg_read32(uint16_t key)
{
    uint8_t b[4];
    rt_fwcfg_read_key(key, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 |
           (uint32_t)b[3] << 24;
}

uint16_t rt_fwcfg_read16(uint16_t key)
{
    uint8_t b[2];
    rt_fwcfg_read_key(key, b, 2);
    return (uint16_t)(b[0] | b[1] << 8);
}

bool rt_fwcfg_find(const char *name, struct rt_fwcfg_file *out)
{
    uint8_t hdr[4];
    rt_fwcfg_read_key(RT_FWCFG_FILE_DIR, hdr, 4);
    uint32_t count = rt_be32(hdr);
    /* Guards against a garbage count turning into minutes of port reads. */
    if (count > 4096)
        return false;

    for (uint32_t i = 0; i < count; i++) {
        uint8_t ent[64];
        rt_fwcfg_read(ent, sizeof(ent));
        if (strncmp((const char *)ent + 8, name, 56) == 0) {
            out->size = rt_be32(ent);
            out->select = rt_be16(ent + 4);
            memcpy(out->name, ent + 8, 56);
            out->name[55] = '\0';
            return true;
        }
    }
    return false;
}

uint32_t rt_fwcfg_dma(uint32_t control, void *buf, uint32_t len)
{
    static struct fwcfg_dma_access dma;

    dma.control = rt_bswap32(control);
    dma.length = rt_bswap32(len);
    dma.address = (uint64_t)rt_bswap32((uint32_t)(uintptr_t)buf) << 32;
    rt_barrier();

    /* The address register is big-endian as well, high half first: writing
     * the low half starts the transfer. */
    uint32_t addr = (uint32_t)(uintptr_t)&dma;
    outl(RT_FWCFG_PORT_DMA, 0);
    outl(RT_FWCFG_PORT_DMA + 4, rt_bswap32(addr));

    /* QEMU completes the transfer before the port write returns; the loop
     * tolerates a device that finishes later. */
    uint32_t ctl = 0;
    for (int i = 0; i < 100000; i++) {
        rt_barrier();
        ctl = rt_bswap32(*(volatile uint32_t *)&dma.control);
        if ((ctl & ~(uint32_t)RT_FWCFG_DMA_ERROR) == 0)
            break;
        rt_pause();
    }
    return ctl;
}

uint64_t rt_fwcfg_e820_ram(uint64_t *low_end)
{
    struct rt_fwcfg_file f;
    uint64_t total = 0, end = 0;

    RT_CHECK(rt_fwcfg_find("etc/e820", &f), "etc/e820 not in fw_cfg");
    rt_fwcfg_select(f.select);
    for (uint32_t off = 0; off + 20 <= f.size; off += 20) {
        struct {
            uint64_t addr, size;
            uint32_t type;
        } __attribute__((packed)) e;

        rt_fwcfg_read(&e, sizeof(e));
        if (e.type != 1)        /* RAM */
            continue;
        total += e.size;
        if (e.addr <= 0x100000 && e.addr + e.size > 0x100000)
            end = e.addr + e.size;
    }
    if (low_end)
        *low_end = end;
    return total;
}
