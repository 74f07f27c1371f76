/* PCI configuration space through the CF8/CFC mechanism and through ECAM. */
#include "rt.h"

#define PCI_ADDR 0xcf8
#define PCI_DATA 0xcfc

/* q35 host bridge (MCH) register that places and enables MMCONFIG. */
#define MCH_PCIEXBAR 0x60

static uint32_t cf8_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return 0x80000000u | (uint32_t)bus << 16 | (uint32_t)(dev & 31) << 11 |
           (uint32_t)(fn & 7) << 8 | (off & 0xfc);
}

uint32_t rt_pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    outl(PCI_ADDR, cf8_address(bus, dev, fn, off));
    return inl(PCI_DATA);
}

void rt_pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
    outl(PCI_ADDR, cf8_address(bus, dev, fn, off));
    outl(PCI_DATA, v);
}

static uintptr_t ecam_address(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return RT_PCI_ECAM_BASE + ((uint32_t)bus << 20 | (uint32_t)(dev & 31) << 15 |
                               (uint32_t)(fn & 7) << 12 | (off & 0xffc));
}

uint32_t rt_pci_ecam_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off)
{
    return mmio_read32(ecam_address(bus, dev, fn, off));
}

void rt_pci_ecam_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v)
{
    mmio_write32(ecam_address(bus, dev, fn, off), v);
}

void rt_pci_enable_ecam(void)
{
    /* High dword first: the low dword carries the enable bit, and the
     * window must not go live at a stale address. Length field 00 = 256 MiB. */
    rt_pci_write32(0, 0, 0, MCH_PCIEXBAR + 4, 0);
    rt_pci_write32(0, 0, 0, MCH_PCIEXBAR, RT_PCI_ECAM_BASE | 1);
}
