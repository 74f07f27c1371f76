/* PCI configuration: the CF8/CFC mechanism, ECAM, and a q35 MCH host bridge
 * (8086:29c0) whose PCIEXBAR register maps and unmaps ECAM, as firmware for a
 * q35 PC expects. */
#include "pci.h"
#include "../hw/pm.h"
#include "../core/log.h"

#include <errno.h>
#include <string.h>

#define MCH_PCIEXBAR   0x60
#define MCH_PAM0       0x90
#define MCH_SMRAM      0x9d
#define PCIEXBAR_EN    0x1

static void bridge_written(struct pci_dev *dev, unsigned offset, unsigned size);

static const struct pci_dev_ops bridge_ops = { .config_written = bridge_written };

static void bridge_setup(struct pci_host *h)
{
    struct pci_dev *d = &h->bridge;

    memset(d->cfg, 0, sizeof(d->cfg));
    memset(d->wmask, 0, sizeof(d->wmask));
    pci_set16(&d->cfg[PCI_VENDOR_ID], 0x8086);
    pci_set16(&d->cfg[PCI_DEVICE_ID], 0x29c0);
    pci_set16(&d->cfg[PCI_COMMAND], 0x0006);
    d->cfg[PCI_CLASS_PROG + 2] = 0x06;      /* bridge */
    d->cfg[PCI_CLASS_PROG + 1] = 0x00;      /* host */
    d->cfg[PCI_HEADER_TYPE] = 0x00;
    pci_set16(&d->cfg[PCI_SUBSYS_VENDOR], 0x1af4);
    pci_set16(&d->cfg[PCI_SUBSYS_ID], 0x1100);
    /* PCIEXBAR: address bits 35:28 (256 MiB window), length 00, enable. */
    pci_set32(&d->wmask[MCH_PCIEXBAR], 0xf0000007);
    pci_set32(&d->wmask[MCH_PCIEXBAR + 4], 0x0000000f);
    /* PAM and SMRAM are accepted and read back; RAM is always RAM here. */
    memset(&d->wmask[MCH_PAM0], 0xff, 7);
    d->wmask[MCH_SMRAM] = 0x78;
    d->cfg[MCH_SMRAM] = 0x02;
    d->ops = &bridge_ops;
    d->opaque = h;
    d->name = "q35-host-bridge";
}

/* Maps ECAM where PCIEXBAR says, called with h->lock held. */
static void ecam_update(struct pci_host *h)
{
    const uint8_t *c = h->bridge.cfg;
    uint64_t bar = pci_get32(&c[MCH_PCIEXBAR]) | (uint64_t)pci_get32(&c[MCH_PCIEXBAR + 4]) << 32;
    uint64_t want = (bar & PCIEXBAR_EN) ? (bar & 0xff0000000ull) : 0;

    if (want == h->ecam_mapped)
        return;
    if (h->ecam_mapped)
        bus_unregister(h->mmio, h->ecam_mapped);
    h->ecam_mapped = 0;
    if (want) {
        if (((bar >> 1) & 3) != 0)
            log_warn("PCIEXBAR asks for a window smaller than 256 MiB; using 256 MiB");
        if (bus_register(h->mmio, want, PCI_ECAM_SIZE, &pci_ecam_bus_ops, h, "ecam") == 0)
            h->ecam_mapped = want;
        else
            log_warn("cannot map ECAM at 0x%llx: the range is taken", (unsigned long long)want);
    }
}

static void bridge_written(struct pci_dev *dev, unsigned offset, unsigned size)
{
    if (offset < MCH_PCIEXBAR + 8 && offset + size > MCH_PCIEXBAR)
        ecam_update(dev->opaque);
}

int pci_host_init(struct pci_host *h, struct bus *mmio, struct pm *pm)
{
    memset(h, 0, sizeof(*h));
    pthread_mutex_init(&h->lock, NULL);
    h->mmio = mmio;
    h->pm = pm;
    bridge_setup(h);
    h->devs[0] = &h->bridge;
    return 0;
}

void pci_host_destroy(struct pci_host *h)
{
    if (h->ecam_mapped)
        bus_unregister(h->mmio, h->ecam_mapped);
    pthread_mutex_destroy(&h->lock);
}

static void bars_update(struct pci_dev *d);

void pci_host_reset(struct pci_host *h)
{
    pthread_mutex_lock(&h->lock);
    h->cf8 = 0;
    bridge_setup(h);
    ecam_update(h);
    /* Every bit software can write powers up as 0: COMMAND (so nothing
     * decodes), BAR addresses, the interrupt line, capability controls. The
     * device hears about it as about any write to COMMAND. */
    for (unsigned s = 1; s < PCI_SLOTS; s++) {
        struct pci_dev *d = h->devs[s];

        if (!d)
            continue;
        for (unsigned i = 0; i < PCI_CFG_SIZE; i++)
            d->cfg[i] &= (uint8_t)~d->wmask[i];
        bars_update(d);
        if (d->ops && d->ops->config_written)
            d->ops->config_written(d, PCI_COMMAND, 2);
    }
    pthread_mutex_unlock(&h->lock);
}

int pci_add_device(struct pci_host *h, unsigned slot, struct pci_dev *dev)
{
    if (slot >= PCI_SLOTS)
        return -EINVAL;
    if (h->devs[slot])
        return -EEXIST;
    dev->host = h;
    h->devs[slot] = dev;
    return 0;
}

void pci_host_set_io_bus(struct pci_host *h, struct bus *pio)
{
    h->pio = pio;
}

int pci_dev_set_bar(struct pci_dev *d, unsigned idx, uint64_t size, unsigned flags,
                    const struct bus_ops *ops, void *opaque)
{
    bool io = flags & PCI_BAR_IO, wide = flags & PCI_BAR_MEM64, prefetch = flags & PCI_BAR_PREFETCH;
    uint64_t mask = ~(size - 1);
    uint8_t *reg = &d->cfg[PCI_BAR0 + 4 * idx], *wm = &d->wmask[PCI_BAR0 + 4 * idx];

    if (idx >= PCI_NUM_BARS || (wide && idx + 1 >= PCI_NUM_BARS) || (io && wide) ||
        (io && prefetch) || size & (size - 1) || size < (io ? 4u : 16u) || (io && size > 256) || !ops)
        return -EINVAL;
    d->bar[idx] = (struct pci_bar){ size, flags, ops, opaque, 0, false };
    /* The low bits say what the BAR is and are read-only; the address bits
     * below the size read as zero, which is how the guest sizes the BAR. */
    pci_set32(reg, io ? 0x1 : ((wide ? 0x4 : 0x0) | (prefetch ? 0x8 : 0x0)));
    pci_set32(wm, (uint32_t)mask & (io ? ~0x3u : ~0xfu));
    if (wide) {
        pci_set32(reg + 4, 0);
        pci_set32(wm + 4, (uint32_t)(mask >> 32));
    }
    return 0;
}

static void rom_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    const struct pci_dev *d = opaque;

    memset(data, 0, size);
    if (offset < d->rom_len)
        memcpy(data, d->rom_data + offset, d->rom_len - offset < size ? d->rom_len - offset : size);
}

static void rom_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
}

static const struct bus_ops rom_bus_ops = { .read = rom_read, .write = rom_write };

int pci_dev_set_rom(struct pci_dev *d, const uint8_t *image, uint64_t len)
{
    uint64_t size = 2048;

    if (!image || !len || len > (1u << 24))
        return -EINVAL;
    while (size < len)
        size <<= 1;
    d->rom = (struct pci_bar){ size, 0, &rom_bus_ops, d, 0, false };
    d->rom_data = image;
    d->rom_len = len;
    pci_set32(&d->cfg[PCI_ROM_ADDRESS], 0);
    pci_set32(&d->wmask[PCI_ROM_ADDRESS], (uint32_t)~(size - 1) | 1);
    return 0;
}

/* The expansion ROM decodes with its enable bit and COMMAND's memory bit. */
static void rom_update(struct pci_dev *d, uint16_t cmd)
{
    struct pci_bar *b = &d->rom;
    uint32_t reg = pci_get32(&d->cfg[PCI_ROM_ADDRESS]);
    uint64_t a = reg & ~(uint32_t)(b->size - 1), sizing = (uint32_t)~(b->size - 1);
    bool want = (cmd & PCI_COMMAND_MEM) && (reg & 1) && a != 0 && a != sizing;

    if (!b->size)
        return;
    if (b->mapped && (!want || b->mapped_at != a)) {
        bus_unregister(d->host->mmio, b->mapped_at);
        b->mapped = false;
        if (d->ops && d->ops->bar_mapped)
            d->ops->bar_mapped(d, PCI_ROM_SLOT, b->mapped_at, false);
    }
    if (want && !b->mapped) {
        if (bus_register(d->host->mmio, a, b->size, b->ops, b->opaque, d->name) == 0) {
            b->mapped = true;
            b->mapped_at = a;
            if (d->ops && d->ops->bar_mapped)
                d->ops->bar_mapped(d, PCI_ROM_SLOT, a, true);
        } else {
            log_warn("%s: ROM at 0x%llx overlaps another device; not mapped",
                     d->name ? d->name : "pci device", (unsigned long long)a);
        }
    }
}

static uint64_t bar_address(const struct pci_dev *d, unsigned idx)
{
    const struct pci_bar *b = &d->bar[idx];
    uint64_t a = pci_get32(&d->cfg[PCI_BAR0 + 4 * idx]);

    if (b->flags & PCI_BAR_IO)
        return a & ~0x3ull;
    a &= ~0xfull;
    if (b->flags & PCI_BAR_MEM64)
        a |= (uint64_t)pci_get32(&d->cfg[PCI_BAR0 + 4 * idx + 4]) << 32;
    return a;
}

/* Maps or unmaps each BAR after a write to COMMAND or a BAR; called with
 * the host lock held. An address of 0 or the all-ones sizing pattern is not
 * a place to decode. */
static void bars_update(struct pci_dev *d)
{
    uint16_t cmd = (uint16_t)(d->cfg[PCI_COMMAND] | d->cfg[PCI_COMMAND + 1] << 8);

    for (unsigned i = 0; i < PCI_NUM_BARS; i++) {
        struct pci_bar *b = &d->bar[i];
        bool io = b->flags & PCI_BAR_IO;
        struct bus *bus = io ? d->host->pio : d->host->mmio;
        uint64_t a = bar_address(d, i), sizing = ~(b->size - 1) & (io ? 0xfffcull : ~0xfull);
        bool want;

        if (!b->size || !bus)
            continue;
        if (!(b->flags & PCI_BAR_MEM64) && !io)
            sizing &= 0xffffffffull;
        want = (cmd & (io ? PCI_COMMAND_IO : PCI_COMMAND_MEM)) && a != 0 && a != sizing &&
               a + b->size > a && (!io || a + b->size <= 0x10000);
        if (b->mapped && (!want || b->mapped_at != a)) {
            bus_unregister(bus, b->mapped_at);
            b->mapped = false;
            if (d->ops && d->ops->bar_mapped)
                d->ops->bar_mapped(d, i, b->mapped_at, false);
        }
        if (want && !b->mapped) {
            if (bus_register(bus, a, b->size, b->ops, b->opaque, d->name) == 0) {
                b->mapped = true;
                b->mapped_at = a;
                if (d->ops && d->ops->bar_mapped)
                    d->ops->bar_mapped(d, i, a, true);
            } else {
                log_warn("%s: BAR %u at 0x%llx overlaps another device; not mapped",
                         d->name ? d->name : "pci device", i, (unsigned long long)a);
            }
        }
    }
    rom_update(d, cmd);
}

static struct pci_dev *find(struct pci_host *h, unsigned bus, unsigned devfn)
{
    /* One bus, single-function devices. */
    if (bus != 0 || (devfn & 7) != 0)
        return NULL;
    return h->devs[devfn >> 3];
}

static uint32_t config_read_locked(struct pci_host *h, unsigned bus, unsigned devfn,
                                   unsigned off, unsigned size)
{
    struct pci_dev *d = find(h, bus, devfn);
    uint32_t v = 0;

    if (!d || off >= PCI_CFG_SIZE || size > 4 || off + size > PCI_CFG_SIZE)
        return size >= 4 ? 0xffffffffu : (1u << (8 * size)) - 1;
    for (unsigned i = 0; i < size; i++)
        v |= (uint32_t)d->cfg[off + i] << (8 * i);
    return v;
}

static void config_write_locked(struct pci_host *h, unsigned bus, unsigned devfn,
                                unsigned off, unsigned size, uint32_t v)
{
    struct pci_dev *d = find(h, bus, devfn);

    if (!d || off >= PCI_CFG_SIZE || size > 4 || off + size > PCI_CFG_SIZE)
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t m = d->wmask[off + i], b = (uint8_t)(v >> (8 * i));

        d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | (b & m));
    }
    if (d->host && ((off < PCI_COMMAND + 2 && off + size > PCI_COMMAND) ||
                    (off < PCI_BAR0 + 24 && off + size > PCI_BAR0) ||
                    (off < PCI_ROM_ADDRESS + 4 && off + size > PCI_ROM_ADDRESS)))
        bars_update(d);
    if (d->ops && d->ops->config_written)
        d->ops->config_written(d, off, size);
}

uint32_t pci_config_read(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off, unsigned size)
{
    uint32_t v;

    pthread_mutex_lock(&h->lock);
    v = config_read_locked(h, bus, devfn, off, size);
    pthread_mutex_unlock(&h->lock);
    return v;
}

void pci_config_write(struct pci_host *h, unsigned bus, unsigned devfn, unsigned off, unsigned size,
                      uint32_t v)
{
    pthread_mutex_lock(&h->lock);
    config_write_locked(h, bus, devfn, off, size, v);
    pthread_mutex_unlock(&h->lock);
}

/* 0xcf8-0xcfb: only a dword access is CONFIG_ADDRESS; a byte at 0xcf9 is the
 * chipset's reset control register, as on real PCs. */
static void cf8_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct pci_host *h = opaque;

    if (offset == 0 && size == 4) {
        pthread_mutex_lock(&h->lock);
        bus_put(data, 4, h->cf8);
        pthread_mutex_unlock(&h->lock);
    } else if (offset == 1 && size == 1 && h->pm) {
        data[0] = pm_rcr_read(h->pm);
    } else {
        memset(data, 0xff, size);
    }
}

static void cf8_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct pci_host *h = opaque;

    if (offset == 0 && size == 4) {
        pthread_mutex_lock(&h->lock);
        h->cf8 = (uint32_t)bus_get(data, 4) & 0x80fffffcu;
        pthread_mutex_unlock(&h->lock);
    } else if (offset == 1 && size == 1 && h->pm) {
        pm_rcr_write(h->pm, data[0]);
    }
}

static void cfc_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct pci_host *h = opaque;
    uint32_t a;

    pthread_mutex_lock(&h->lock);
    a = h->cf8;
    if (!(a & 0x80000000u) || size > 4)
        memset(data, 0xff, size);
    else
        bus_put(data, size, config_read_locked(h, (a >> 16) & 0xff, (a >> 8) & 0xff,
                                               (a & 0xfc) + (unsigned)offset, size));
    pthread_mutex_unlock(&h->lock);
}

static void cfc_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct pci_host *h = opaque;
    uint32_t a;

    pthread_mutex_lock(&h->lock);
    a = h->cf8;
    if ((a & 0x80000000u) && size <= 4)
        config_write_locked(h, (a >> 16) & 0xff, (a >> 8) & 0xff, (a & 0xfc) + (unsigned)offset, size,
                            (uint32_t)bus_get(data, size));
    pthread_mutex_unlock(&h->lock);
}

static void ecam_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct pci_host *h = opaque;

    if (size > 4 || (offset & (size - 1))) {
        memset(data, 0xff, size);
        return;
    }
    pthread_mutex_lock(&h->lock);
    bus_put(data, size, config_read_locked(h, (unsigned)(offset >> 20) & 0xff,
                                           (unsigned)(offset >> 12) & 0xff,
                                           (unsigned)offset & 0xfff, size));
    pthread_mutex_unlock(&h->lock);
}

static void ecam_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct pci_host *h = opaque;

    if (size > 4 || (offset & (size - 1)))
        return;
    pthread_mutex_lock(&h->lock);
    config_write_locked(h, (unsigned)(offset >> 20) & 0xff, (unsigned)(offset >> 12) & 0xff,
                        (unsigned)offset & 0xfff, size, (uint32_t)bus_get(data, size));
    pthread_mutex_unlock(&h->lock);
}

const struct bus_ops pci_cf8_bus_ops = { .read = cf8_read, .write = cf8_write };
const struct bus_ops pci_cfc_bus_ops = { .read = cfc_read, .write = cfc_write };
const struct bus_ops pci_ecam_bus_ops = { .read = ecam_read, .write = ecam_write };
