/* Fuzz target for PCI configuration space: CF8/CFC and ECAM accesses of any
 * width to the host bridge and to a device with memory, 64-bit and I/O BARs,
 * so that PCIEXBAR moves and BAR (un)mapping run against whatever the guest
 * writes; between operations the buses are probed through. */
#include <string.h>

#include "fuzz.h"
#include "pci/pci.h"

static void bar_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    memset(data, 0xa5, size);
}

static const struct bus_ops bar_ops = { .read = bar_read };

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = { data, size };
    static struct pci_host host;
    static struct pci_dev dev;
    struct bus *mmio = bus_new("mmio", 1ull << 52), *pio = bus_new("pio", 0x10000);
    uint8_t buf[8];

    if (!mmio || !pio)
        goto out;
    pci_host_init(&host, mmio, NULL);
    pci_host_set_io_bus(&host, pio);
    memset(&dev, 0, sizeof(dev));
    dev.name = "fuzz-dev";
    pci_set16(&dev.wmask[PCI_COMMAND], 0x0407);
    pci_add_device(&host, 2, &dev);
    pci_dev_set_bar(&dev, 0, 0x4000, PCI_BAR_MEM64, &bar_ops, NULL);
    pci_dev_set_bar(&dev, 2, 0x1000, 0, &bar_ops, NULL);
    pci_dev_set_bar(&dev, 3, 0x40, PCI_BAR_IO, &bar_ops, NULL);
    bus_register(pio, 0xcf8, 4, &pci_cf8_bus_ops, &host, "cf8");
    bus_register(pio, 0xcfc, 4, &pci_cfc_bus_ops, &host, "cfc");

    while (fi_more(&in)) {
        uint8_t op = fi_u8(&in);
        unsigned sz = fi_size(&in);
        uint64_t v = fi_u64(&in);

        if (sz > 4)
            sz = 4;
        switch (op & 7) {
        case 0:     /* CONFIG_ADDRESS of the bridge (00.0) or the device (02.0) */
            bus_write(pio, 0xcf8, (uint8_t *)&(uint32_t){ 0x80000000u | ((op >> 3) & 1) << 12 |
                                                         (uint32_t)(v & 0xfc) }, 4);
            break;
        case 1:
            bus_put(buf, sz, v);
            bus_write(pio, 0xcfc + ((op >> 3) & 3), buf, sz);
            break;
        case 2:
            bus_read(pio, 0xcfc + ((op >> 3) & 3), buf, sz);
            break;
        case 3:     /* ECAM at the place firmware usually puts it */
            bus_put(buf, sz, v >> 32);
            bus_write(mmio, PCI_ECAM_BASE + (((op >> 3) & 1) << 16) + (v & 0xfff), buf, sz);
            break;
        case 4:
            bus_read(mmio, PCI_ECAM_BASE + (v & 0xfffffff), buf, sz);
            break;
        case 5:
            bus_read(mmio, v & 0xffffffffull, buf, sz);
            break;
        case 6:
            bus_read(pio, v & 0xffff, buf, sz);
            break;
        default:
            pci_host_reset(&host);
            break;
        }
    }
    pci_host_destroy(&host);
out:
    bus_free(mmio);
    bus_free(pio);
    return 0;
}
