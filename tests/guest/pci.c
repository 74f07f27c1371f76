/* PCI configuration access on bus 0: CF8/CFC enumeration, the q35 host bridge,
 * and ECAM after enabling PCIEXBAR. Compared: the host bridge's IDs, class,
 * header type and that ECAM and CF8 agree on it and on an absent device. Other
 * devices are not printed: each machine has its own set. */
#include "rt/rt.h"

struct bdf {
    uint8_t bus, dev, fn;
};

static bool find_host_bridge(struct bdf *out, unsigned *ndev, struct bdf *absent,
                             bool *have_absent)
{
    bool found = false;
    *ndev = 0;
    *have_absent = false;
    for (uint8_t dev = 0; dev < 32; dev++) {
        uint32_t id0 = rt_pci_read32(0, dev, 0, 0x00);
        if ((id0 & 0xffff) == 0xffff) {
            if (!*have_absent) {
                *absent = (struct bdf){ 0, dev, 0 };
                *have_absent = true;
            }
            continue;
        }
        uint8_t htype = (uint8_t)(rt_pci_read32(0, dev, 0, 0x0c) >> 16);
        uint8_t nfn = (htype & 0x80) ? 8 : 1;
        for (uint8_t fn = 0; fn < nfn; fn++) {
            uint32_t id = rt_pci_read32(0, dev, fn, 0x00);
            if ((id & 0xffff) == 0xffff)
                continue;
            uint32_t class = rt_pci_read32(0, dev, fn, 0x08) >> 8;
            (*ndev)++;
            rt_printf("pci 00:%02x.%u %04x:%04x class %06x\n", dev, fn, id & 0xffff,
                      id >> 16, class);
            if (!found && (class >> 8) == 0x0600 && (id & 0xffff) == 0x8086) {
                *out = (struct bdf){ 0, dev, fn };
                found = true;
            }
        }
    }
    return found;
}

int main(void)
{
    rt_serial_init();

    struct bdf hb = { 0 }, absent = { 0 };
    unsigned ndev;
    bool have_absent;
    if (!find_host_bridge(&hb, &ndev, &absent, &have_absent))
        rt_fail("no Intel host bridge (class 0600) on bus 0 among %u functions", ndev);

    uint32_t id = rt_pci_read32(hb.bus, hb.dev, hb.fn, 0x00);
    uint32_t class = rt_pci_read32(hb.bus, hb.dev, hb.fn, 0x08);
    uint32_t hdr = rt_pci_read32(hb.bus, hb.dev, hb.fn, 0x0c);
    rt_printf("= host bridge %04x:%04x class %06x header %02x\n", id & 0xffff, id >> 16,
              class >> 8, (hdr >> 16) & 0xff);
    RT_CHECK(hb.dev == 0 && hb.fn == 0, "host bridge at 00:%02x.%u, expected 00:00.0",
             hb.dev, hb.fn);
    RT_CHECK(id == 0x29c08086, "host bridge id %08x, expected q35 8086:29c0", id);

    /* Sub-dword reads through CFC+n must select the matching bytes. */
    outl(0xcf8, 0x80000000u);
    uint16_t dev_w = inw(0xcfe);
    uint8_t vendor_b = inb(0xcfc);
    rt_printf("= sub-dword reads %04x %02x\n", dev_w, vendor_b);
    RT_CHECK(dev_w == 0x29c0 && vendor_b == 0x86, "sub-dword reads %04x %02x", dev_w,
             vendor_b);

    rt_pci_enable_ecam();
    uint32_t bar = rt_pci_read32(0, 0, 0, 0x60);
    rt_printf("= pciexbar %08x %08x\n", bar, rt_pci_read32(0, 0, 0, 0x64));
    RT_CHECK(bar == (RT_PCI_ECAM_BASE | 1), "PCIEXBAR reads %08x", bar);

    unsigned mismatches = 0;
    for (uint16_t off = 0; off < 0x40; off += 4) {
        uint32_t a = rt_pci_read32(0, 0, 0, off);
        uint32_t b = rt_pci_ecam_read32(0, 0, 0, off);
        if (a != b) {
            rt_printf("00:00.0 offset %02x: cf8 %08x ecam %08x\n", off, a, b);
            mismatches++;
        }
    }
    rt_printf("= ecam header of 00:00.0 matches cf8: %s\n", mismatches ? "no" : "yes");
    RT_CHECK(!mismatches, "%u ECAM/CF8 mismatches on the host bridge", mismatches);

    if (!have_absent)
        rt_fail("bus 0 has all 32 slots populated");
    uint32_t cf8_absent = rt_pci_read32(absent.bus, absent.dev, absent.fn, 0);
    uint32_t ecam_absent = rt_pci_ecam_read32(absent.bus, absent.dev, absent.fn, 0);
    uint32_t ecam_far = rt_pci_ecam_read32(0xff, 31, 7, 0);
    rt_printf("absent device 00:%02x.0\n", absent.dev);
    rt_printf("= absent device reads cf8 %08x ecam %08x bus ff %08x\n", cf8_absent,
              ecam_absent, ecam_far);
    RT_CHECK(cf8_absent == 0xffffffff && ecam_absent == 0xffffffff &&
                 ecam_far == 0xffffffff,
             "absent device reads %08x %08x %08x", cf8_absent, ecam_absent, ecam_far);

    /* With the enable bit clear in CONFIG_ADDRESS, CFC must not reach config
     * space. */
    outl(0xcf8, 0x00000000u);
    uint32_t disabled = inl(0xcfc);
    rt_printf("= cfc with cf8 bit 31 clear %08x\n", disabled);
    RT_CHECK(disabled == 0xffffffff, "CFC with CF8 disabled reads %08x", disabled);

    rt_pass();
}
