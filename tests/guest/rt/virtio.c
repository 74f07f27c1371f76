/* virtio 1.x over PCI for the guest tests: device discovery, BAR placement,
 * the capability walk, reset, feature negotiation and queue setup. */
#include "virtio.h"

#define PCI_COMMAND 0x04
#define PCI_CMD_MEM 0x2
#define PCI_CMD_MASTER 0x4
#define PCI_STATUS_CAP_LIST (1u << 20) /* in the dword at PCI_COMMAND */
#define PCI_CAP_PTR 0x34
#define PCI_CAP_VENDOR 0x09
#define PCI_CAP_MSIX 0x11

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

static uint32_t cfg_read(const struct rt_virtio *v, uint16_t off)
{
    return rt_pci_read32(0, v->dev, 0, off);
}

static void cfg_write(const struct rt_virtio *v, uint16_t off, uint32_t val)
{
    rt_pci_write32(0, v->dev, 0, off, val);
}

static uint64_t bar_addr(const struct rt_virtio *v, unsigned i)
{
    uint32_t lo = cfg_read(v, (uint16_t)(0x10 + 4 * i));
    uint64_t a;

    if (lo & 1)
        return 0;
    a = lo & ~0xfu;
    if ((lo & 6) == 4 && i < 5)
        a |= (uint64_t)cfg_read(v, (uint16_t)(0x14 + 4 * i)) << 32;
    return a;
}

/* Sizes each memory BAR with decoding off and moves the unassigned ones
 * (and those out of reach of 32-bit code) into the pool. */
static void place_bars(struct rt_virtio *v, uint32_t pool)
{
    uint32_t cmd = cfg_read(v, PCI_COMMAND) & 0xffff;
    uint32_t next = pool;

    cfg_write(v, PCI_COMMAND, cmd & ~(uint32_t)PCI_CMD_MEM);
    for (unsigned i = 0; i < 6; i++) {
        uint16_t off = (uint16_t)(0x10 + 4 * i);
        uint32_t lo = cfg_read(v, off), hi, mask, size;
        bool wide = (lo & 7) == 4;
        struct rt_virtio_bar *b = &v->bar[i];

        if (lo & 1)
            continue;
        hi = wide ? cfg_read(v, (uint16_t)(off + 4)) : 0;
        cfg_write(v, off, 0xffffffffu);
        mask = cfg_read(v, off) & ~0xfu;
        cfg_write(v, off, lo);
        if (!mask) {
            i += wide;
            continue;
        }
        size = ~mask + 1;
        b->size = size;
        b->was = b->addr = (lo & ~0xfu) | (uint64_t)hi << 32;
        if (b->was == 0 || hi != 0) {
            next = (next + size - 1) & ~(size - 1);
            cfg_write(v, off, next | (lo & 0xf));
            if (wide)
                cfg_write(v, (uint16_t)(off + 4), 0);
            b->addr = next;
            b->placed = true;
            next += size;
        }
        i += wide;
    }
    cfg_write(v, PCI_COMMAND, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
}

static void find_caps(struct rt_virtio *v)
{
    uint8_t ptr = (uint8_t)(cfg_read(v, PCI_CAP_PTR) & 0xfc);
    bool have[5] = { false };

    RT_CHECK(cfg_read(v, PCI_COMMAND) & PCI_STATUS_CAP_LIST, "no capability list");
    for (unsigned n = 0; ptr && n < 48; n++) {
        uint32_t w0 = cfg_read(v, ptr);
        uint8_t id = (uint8_t)w0, type = (uint8_t)(w0 >> 24);

        if (id == PCI_CAP_MSIX) {
            uint32_t t = cfg_read(v, (uint16_t)(ptr + 4));

            v->msix_cap = ptr;
            v->msix_table = (uintptr_t)bar_addr(v, t & 7) + (t & ~7u);
        }
        if (id == PCI_CAP_VENDOR && type >= CAP_COMMON && type <= CAP_DEVICE && !have[type]) {
            struct rt_virtio_cap *c = &v->cap[v->ncaps++];
            uint64_t base;
            uintptr_t a;

            c->pos = ptr;
            c->type = type;
            c->bar = (uint8_t)cfg_read(v, (uint16_t)(ptr + 4));
            c->offset = cfg_read(v, (uint16_t)(ptr + 8));
            c->length = cfg_read(v, (uint16_t)(ptr + 12));
            base = c->bar < 6 ? bar_addr(v, c->bar) : 0;
            RT_CHECK(base && base + c->offset + c->length <= 0x100000000ull,
                     "virtio cap type %u in bar %u (%llx) off %x len %x is unusable", type,
                     c->bar, base, c->offset, c->length);
            a = (uintptr_t)(base + c->offset);
            if (type == CAP_COMMON) {
                v->common = a;
            } else if (type == CAP_NOTIFY) {
                v->notify_base = a;
                v->notify_mult = cfg_read(v, (uint16_t)(ptr + 16));
            } else if (type == CAP_ISR) {
                v->isr = a;
            } else {
                v->devcfg = a;
            }
            have[type] = true;
        }
        ptr = (uint8_t)((w0 >> 8) & 0xfc);
    }
}

bool rt_virtio_find(struct rt_virtio *v, uint16_t device_id, uint32_t bar_pool)
{
    memset(v, 0, sizeof(*v));
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t id = rt_pci_read32(0, dev, 0, 0x00);

        if ((id & 0xffff) == RT_VIRTIO_VENDOR && (id >> 16) == device_id) {
            v->dev = dev;
            place_bars(v, bar_pool);
            find_caps(v);
            return true;
        }
    }
    return false;
}

void rt_virtio_print_bars(const struct rt_virtio *v, bool previous)
{
    for (unsigned i = 0; i < 6; i++) {
        const struct rt_virtio_bar *b = &v->bar[i];

        if (!b->size)
            continue;
        if (!b->placed)
            rt_printf("bar%u: at %llx size %x\n", i, b->addr, b->size);
        else if (previous)
            rt_printf("bar%u: assigned %08x size %x (was %llx)\n", i, (uint32_t)b->addr, b->size,
                      b->was);
        else
            rt_printf("bar%u: assigned %08x size %x\n", i, (uint32_t)b->addr, b->size);
    }
}

bool rt_virtio_reset(const struct rt_virtio *v)
{
    unsigned ms = 0;

    rt_virtio_set_status(v, 0);
    while (rt_virtio_status(v) != 0 && ms++ < 1000)
        rt_lapic_sleep_us(1000);
    return rt_virtio_status(v) == 0;
}

uint64_t rt_virtio_device_features(const struct rt_virtio *v)
{
    uint32_t lo, hi;

    mmio_write32(v->common + RT_VIRTIO_CC_DFSELECT, 0);
    lo = mmio_read32(v->common + RT_VIRTIO_CC_DF);
    mmio_write32(v->common + RT_VIRTIO_CC_DFSELECT, 1);
    hi = mmio_read32(v->common + RT_VIRTIO_CC_DF);
    return (uint64_t)hi << 32 | lo;
}

bool rt_virtio_negotiate(const struct rt_virtio *v, uint32_t lo, uint32_t hi)
{
    uint8_t s = RT_VIRTIO_S_ACK;

    rt_virtio_set_status(v, s);
    s |= RT_VIRTIO_S_DRIVER;
    rt_virtio_set_status(v, s);
    mmio_write32(v->common + RT_VIRTIO_CC_GFSELECT, 0);
    mmio_write32(v->common + RT_VIRTIO_CC_GF, lo);
    mmio_write32(v->common + RT_VIRTIO_CC_GFSELECT, 1);
    mmio_write32(v->common + RT_VIRTIO_CC_GF, hi);
    s |= RT_VIRTIO_S_FEATURES_OK;
    rt_virtio_set_status(v, s);
    return rt_virtio_status(v) & RT_VIRTIO_S_FEATURES_OK;
}

uint16_t rt_virtio_queue_read16(const struct rt_virtio *v, uint16_t q, uint16_t off)
{
    mmio_write16(v->common + RT_VIRTIO_CC_QSELECT, q);
    return mmio_read16(v->common + off);
}

void rt_virtio_queue_setup(struct rt_virtio *v, uint16_t q, uint16_t size,
                           const volatile void *desc, const volatile void *avail,
                           const volatile void *used, uint16_t msix_vector)
{
    uintptr_t c = v->common;

    RT_CHECK(q < RT_VIRTIO_QUEUES, "queue %u is beyond RT_VIRTIO_QUEUES", q);
    mmio_write16(c + RT_VIRTIO_CC_QSELECT, q);
    mmio_write16(c + RT_VIRTIO_CC_QSIZE, size);
    mmio_write16(c + RT_VIRTIO_CC_QMSIX, msix_vector);
    mmio_write64(c + RT_VIRTIO_CC_QDESC, rt_gpa(desc));
    mmio_write64(c + RT_VIRTIO_CC_QDRIVER, rt_gpa(avail));
    mmio_write64(c + RT_VIRTIO_CC_QDEVICE, rt_gpa(used));
    v->notify[q] = v->notify_base + v->notify_mult * mmio_read16(c + RT_VIRTIO_CC_QNOTIFY_OFF);
    mmio_write16(c + RT_VIRTIO_CC_QENABLE, 1);
}
