/* Accesses to guest-physical addresses where nothing is mapped, in the PCI
 * hole below the IOAPIC: reads and writes go nowhere and the guest goes on.
 * Compared: that no BAR covers the range, that every read returns the same
 * value at every width, and that writes do not change it. The value itself
 * is not compared: nook-vmm returns all ones, as a PC's master abort does,
 * while QEMU returns zeros; the runner checks nook-vmm's value. It also checks
 * that nook-vmm's log of these accesses stays short (rate limited) and that,
 * after more than the limiter's 5 s window, the next access brings a summary
 * of the suppressed ones. */
#include "rt/rt.h"

/* Above ECAM (0xb0000000-0xbfffffff once SeaBIOS enables it on QEMU) and far
 * below where SeaBIOS places BARs, which it packs from the top of the hole. */
#define HOLE 0xd0000000u
#define HOLE_LAST 0xdffffffcu
#define READS 1000
#define WRITES 100

/* The summary comes with the first message after the window has ended. */
#define QUIET_US 5200000u

static volatile uint16_t *p16(uintptr_t a)
{
    return (volatile uint16_t *)a;
}

static volatile uint8_t *p8(uintptr_t a)
{
    return (volatile uint8_t *)a;
}

/* Size of a 32-bit memory BAR, with decoding off while it is probed. */
static uint32_t bar_size(uint8_t dev, uint8_t fn, uint16_t off, uint32_t bar)
{
    uint32_t cmd = rt_pci_read32(0, dev, fn, 0x04);
    rt_pci_write32(0, dev, fn, 0x04, cmd & ~0x2u);
    rt_pci_write32(0, dev, fn, off, 0xffffffffu);
    uint32_t mask = rt_pci_read32(0, dev, fn, off) & ~0xfu;
    rt_pci_write32(0, dev, fn, off, bar);
    rt_pci_write32(0, dev, fn, 0x04, cmd);
    return mask ? ~mask + 1 : 0;
}

/* Returns the number of memory BARs on bus 0 that cover the test range. */
static unsigned bars_in_hole(void)
{
    unsigned hits = 0;
    for (uint8_t dev = 0; dev < 32; dev++) {
        for (uint8_t fn = 0; fn < 8; fn++) {
            uint32_t id = rt_pci_read32(0, dev, fn, 0x00);
            if ((id & 0xffff) == 0xffff) {
                if (fn == 0)
                    break;
                continue;
            }
            uint8_t type = (uint8_t)(rt_pci_read32(0, dev, fn, 0x0c) >> 16) & 0x7f;
            unsigned nbars = type == 0 ? 6 : type == 1 ? 2 : 0;
            for (unsigned i = 0; i < nbars; i++) {
                uint16_t off = (uint16_t)(0x10 + 4 * i);
                uint32_t bar = rt_pci_read32(0, dev, fn, off);
                if (bar & 1)
                    continue;   /* I/O */
                uint32_t size = bar_size(dev, fn, off, bar);
                uint32_t base = bar & ~0xfu;
                if (size)
                    rt_printf("pci %02x.%x bar%u %08x size %x\n", dev, fn, i, base, size);
                if (size && base <= HOLE_LAST && base + (size - 1) >= HOLE)
                    hits++;
                if ((bar & 6) == 4)
                    i++;        /* upper half of a 64-bit BAR */
            }
            if (fn == 0 && !(rt_pci_read32(0, dev, 0, 0x0c) & 0x00800000u))
                break;
        }
    }
    return hits;
}

static unsigned count_other(uintptr_t a, unsigned n, uint32_t v)
{
    unsigned other = 0;
    for (unsigned i = 0; i < n; i++) {
        if (mmio_read32(a) != v)
            other++;
    }
    return other;
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_lapic_init(true);

    unsigned hits = bars_in_hole();
    rt_printf("= bars in %08x-%08x: %u\n", HOLE, HOLE_LAST + 3, hits);
    RT_CHECK(hits == 0, "a device decodes the test range");

    uint32_t v = mmio_read32(HOLE);
    unsigned other = count_other(HOLE, READS - 1, v);
    rt_printf("unmapped reads return %08x\n", v);
    rt_printf("= %u dword reads of %08x return the same value: %s\n", READS, HOLE,
              other ? "no" : "yes");
    RT_CHECK(other == 0, "%u of %u reads differ from the first, %08x", other, READS, v);

    /* Narrow reads are slices of what a dword read at the same place gives. */
    uint16_t w = *p16(HOLE + 2);
    uint8_t b = *p8(HOLE + 1);
    uint32_t far = mmio_read32(HOLE_LAST);
    bool same = w == (uint16_t)(v >> 16) && b == (uint8_t)(v >> 8) && far == v;
    rt_printf("word %04x byte %02x, dword at %08x %08x\n", w, b, HOLE_LAST, far);
    rt_printf("= word, byte and far reads match: %s\n", same ? "yes" : "no");
    RT_CHECK(same, "narrow or far reads differ");

    for (unsigned i = 0; i < WRITES; i++) {
        mmio_write32(HOLE + 4 * (i % 4), 0x01010101u * i);
        *p8(HOLE + 16 + i % 4) = (uint8_t)i;
    }
    other = count_other(HOLE, 4, v) + count_other(HOLE + 4, 4, v) +
            count_other(HOLE + 8, 4, v) + count_other(HOLE + 16, 4, v);
    rt_printf("= after %u writes, reads still return the same: %s\n", 2 * WRITES,
              other ? "no" : "yes");
    RT_CHECK(other == 0, "a write to an unmapped address stuck");

    rt_lapic_sleep_us(QUIET_US);
    uint32_t later = mmio_read32(HOLE);
    rt_printf("= read after %u ms quiet returns the same: %s\n", QUIET_US / 1000,
              later == v ? "yes" : "no");
    RT_CHECK(later == v, "read after the pause gave %08x", later);
    rt_pass();
}
