/* Unit tests for PCI configuration: the q35 host bridge through CF8/CFC, ECAM
 * mapped and unmapped by PCIEXBAR on a real MMIO bus, and write masks. */
#include <errno.h>

#include "pci/pci.h"
#include "unit.h"

#define PCIEXBAR 0x60

struct fixture {
    struct pci_host host;
    struct bus *mmio;
    struct pci_dev dev;
    unsigned dev_writes;
    unsigned last_write_off, last_write_size;
};

static void dev_written(struct pci_dev *dev, unsigned offset, unsigned size)
{
    struct fixture *f = dev->opaque;

    f->dev_writes++;
    f->last_write_off = offset;
    f->last_write_size = size;
}

static const struct pci_dev_ops dev_ops = { .config_written = dev_written };

static void setup(struct fixture *f, gconstpointer data)
{
    memset(f, 0, sizeof(*f));
    f->mmio = bus_new("mmio", 1ull << 40);
    g_assert_cmpint(pci_host_init(&f->host, f->mmio, NULL), ==, 0);

    /* A plain device in slot 3 with a writable command register and BAR0. */
    pci_set16(&f->dev.cfg[PCI_VENDOR_ID], 0x1af4);
    pci_set16(&f->dev.cfg[PCI_DEVICE_ID], 0x1050);
    f->dev.cfg[PCI_CLASS_PROG + 2] = 0x03;
    pci_set16(&f->dev.wmask[PCI_COMMAND], 0x0407);
    pci_set32(&f->dev.wmask[0x10], 0xfffff000);
    f->dev.ops = &dev_ops;
    f->dev.opaque = f;
    f->dev.name = "test-dev";
    g_assert_cmpint(pci_add_device(&f->host, 3, &f->dev), ==, 0);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    pci_host_destroy(&f->host);
    bus_free(f->mmio);
}

static uint32_t cf8_addr(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    return 0x80000000u | bus << 16 | dev << 11 | fn << 8 | (off & 0xfc);
}

static uint32_t cfg_read(struct fixture *f, unsigned bus, unsigned dev, unsigned fn, unsigned off,
                         unsigned size)
{
    dev_write(&pci_cf8_bus_ops, &f->host, 0, 4, cf8_addr(bus, dev, fn, off));
    return (uint32_t)dev_read(&pci_cfc_bus_ops, &f->host, off & 3, size);
}

static void cfg_write(struct fixture *f, unsigned bus, unsigned dev, unsigned fn, unsigned off,
                      unsigned size, uint32_t v)
{
    dev_write(&pci_cf8_bus_ops, &f->host, 0, 4, cf8_addr(bus, dev, fn, off));
    dev_write(&pci_cfc_bus_ops, &f->host, off & 3, size, v);
}

static bool ecam_read(struct fixture *f, uint64_t base, unsigned dev, unsigned off, unsigned size,
                      uint32_t *v)
{
    uint8_t data[4];

    if (!bus_read(f->mmio, base + ((uint64_t)dev << 15) + off, data, size))
        return false;
    *v = (uint32_t)bus_get(data, size);
    return true;
}

static void test_host_bridge(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x00, 4), ==, 0x29c08086);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x00, 2), ==, 0x8086);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x02, 2), ==, 0x29c0);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x08, 4) >> 8, ==, 0x060000);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x0b, 1), ==, 0x06);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x0a, 1), ==, 0x00);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x0e, 1) & 0x7f, ==, 0x00);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x00, 4), ==, 0x10501af4);
}

static void test_absent_devices(struct fixture *f, gconstpointer data)
{
    g_assert_cmphex(cfg_read(f, 0, 1, 0, 0x00, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 31, 0, 0x00, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 0, 1, 0x00, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 1, 0, 0, 0x00, 4), ==, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 1, 0, 0x00, 2), ==, 0xffff);
    g_assert_cmphex(cfg_read(f, 0, 1, 0, 0x03, 1), ==, 0xff);
    /* Writes to nothing go nowhere. */
    cfg_write(f, 0, 1, 0, 0x04, 2, 0x0007);
    g_assert_cmphex(cfg_read(f, 0, 1, 0, 0x04, 2), ==, 0xffff);
    /* Without the enable bit CFC is not a config access at all. */
    dev_write(&pci_cf8_bus_ops, &f->host, 0, 4, 0x00000000);
    g_assert_cmphex(dev_read(&pci_cfc_bus_ops, &f->host, 0, 4), ==, 0xffffffff);
}

static void test_cf8_readback(struct fixture *f, gconstpointer data)
{
    dev_write(&pci_cf8_bus_ops, &f->host, 0, 4, 0x80001234);
    g_assert_cmphex(dev_read(&pci_cf8_bus_ops, &f->host, 0, 4), ==, 0x80001234);
    /* Reserved bits and the two low bits are not kept. */
    dev_write(&pci_cf8_bus_ops, &f->host, 0, 4, 0xffffffff);
    g_assert_cmphex(dev_read(&pci_cf8_bus_ops, &f->host, 0, 4), ==, 0x80fffffc);
    /* Narrow accesses are not CONFIG_ADDRESS. */
    dev_write(&pci_cf8_bus_ops, &f->host, 0, 2, 0x0000);
    dev_write(&pci_cf8_bus_ops, &f->host, 2, 1, 0x00);
    g_assert_cmphex(dev_read(&pci_cf8_bus_ops, &f->host, 0, 4), ==, 0x80fffffc);
    g_assert_cmphex(dev_read(&pci_cf8_bus_ops, &f->host, 0, 2), ==, 0xffff);
}

static void test_ecam_mapping(struct fixture *f, gconstpointer data)
{
    uint32_t v;

    g_assert_false(ecam_read(f, PCI_ECAM_BASE, 0, 0, 4, &v));
    g_assert_cmpuint(bus_count(f->mmio), ==, 0);

    /* Address without the enable bit maps nothing. */
    cfg_write(f, 0, 0, 0, PCIEXBAR, 4, (uint32_t)PCI_ECAM_BASE);
    g_assert_false(ecam_read(f, PCI_ECAM_BASE, 0, 0, 4, &v));

    cfg_write(f, 0, 0, 0, PCIEXBAR, 4, (uint32_t)PCI_ECAM_BASE | 1);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, PCIEXBAR, 4), ==, (uint32_t)PCI_ECAM_BASE | 1);
    g_assert_true(ecam_read(f, PCI_ECAM_BASE, 0, 0, 4, &v));
    g_assert_cmphex(v, ==, 0x29c08086);
    for (unsigned off = 0; off < 0x40; off += 4) {
        g_assert_true(ecam_read(f, PCI_ECAM_BASE, 3, off, 4, &v));
        g_assert_cmphex(v, ==, cfg_read(f, 0, 3, 0, off, 4));
        g_assert_true(ecam_read(f, PCI_ECAM_BASE, 0, off, 4, &v));
        g_assert_cmphex(v, ==, cfg_read(f, 0, 0, 0, off, 4));
    }
    g_assert_true(ecam_read(f, PCI_ECAM_BASE, 0, 2, 2, &v));
    g_assert_cmphex(v, ==, 0x29c0);
    g_assert_true(ecam_read(f, PCI_ECAM_BASE, 1, 0, 4, &v));
    g_assert_cmphex(v, ==, 0xffffffff);
    /* Misaligned ECAM accesses are refused rather than split. */
    g_assert_true(ecam_read(f, PCI_ECAM_BASE, 0, 1, 2, &v));
    g_assert_cmphex(v, ==, 0xffff);
    /* Bus 1 lies within the window but holds nothing. */
    g_assert_true(bus_read(f->mmio, PCI_ECAM_BASE + (1u << 20), (uint8_t *)&v, 4));
    g_assert_cmphex(v, ==, 0xffffffff);
    g_assert_false(ecam_read(f, PCI_ECAM_BASE + PCI_ECAM_SIZE, 0, 0, 4, &v));

    /* ECAM writes land in the same config space as CFC writes. */
    bus_put((uint8_t *)&v, 4, 0x0006);
    g_assert_true(bus_write(f->mmio, PCI_ECAM_BASE + (3u << 15) + PCI_COMMAND, (uint8_t *)&v, 2));
    g_assert_cmphex(cfg_read(f, 0, 3, 0, PCI_COMMAND, 2), ==, 0x0006);

    /* Moving the window unmaps the old place. */
    cfg_write(f, 0, 0, 0, PCIEXBAR, 4, 0xe0000001);
    g_assert_false(ecam_read(f, PCI_ECAM_BASE, 0, 0, 4, &v));
    g_assert_true(ecam_read(f, 0xe0000000, 0, 0, 4, &v));
    g_assert_cmphex(v, ==, 0x29c08086);
    g_assert_cmpuint(bus_count(f->mmio), ==, 1);

    /* The high dword places it above 4 GiB. */
    cfg_write(f, 0, 0, 0, PCIEXBAR + 4, 4, 0x1);
    g_assert_false(ecam_read(f, 0xe0000000, 0, 0, 4, &v));
    g_assert_true(ecam_read(f, 0x1e0000000ull, 0, 0, 4, &v));
    cfg_write(f, 0, 0, 0, PCIEXBAR + 4, 4, 0x0);

    /* Clearing the enable bit (also through ECAM itself) unmaps it. */
    bus_put((uint8_t *)&v, 4, 0xe0000000);
    g_assert_true(bus_write(f->mmio, 0xe0000000 + PCIEXBAR, (uint8_t *)&v, 4));
    g_assert_false(ecam_read(f, 0xe0000000, 0, 0, 4, &v));
    g_assert_cmpuint(bus_count(f->mmio), ==, 0);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, PCIEXBAR, 4), ==, 0xe0000000);

    /* A reset of the host puts PCIEXBAR back to off. */
    cfg_write(f, 0, 0, 0, PCIEXBAR, 4, (uint32_t)PCI_ECAM_BASE | 1);
    g_assert_cmpuint(bus_count(f->mmio), ==, 1);
    pci_host_reset(&f->host);
    g_assert_cmpuint(bus_count(f->mmio), ==, 0);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, PCIEXBAR, 4), ==, 0);
}

static void test_write_masks(struct fixture *f, gconstpointer data)
{
    unsigned writes;

    /* Identification is read-only. */
    cfg_write(f, 0, 0, 0, 0x00, 4, 0x12345678);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x00, 4), ==, 0x29c08086);
    cfg_write(f, 0, 0, 0, 0x08, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, 0x08, 4) >> 8, ==, 0x060000);
    cfg_write(f, 0, 3, 0, 0x00, 2, 0xffff);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x00, 4), ==, 0x10501af4);

    /* PCIEXBAR keeps only its address, length and enable bits. */
    cfg_write(f, 0, 0, 0, PCIEXBAR, 4, 0x0ffffff8);
    g_assert_cmphex(cfg_read(f, 0, 0, 0, PCIEXBAR, 4), ==, 0);
    g_assert_cmpuint(bus_count(f->mmio), ==, 0);

    /* A device sees its write after the mask, with the offset it was at. */
    writes = f->dev_writes;
    cfg_write(f, 0, 3, 0, PCI_COMMAND, 2, 0xffff);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, PCI_COMMAND, 2), ==, 0x0407);
    g_assert_cmpuint(f->dev_writes, ==, writes + 1);
    g_assert_cmpuint(f->last_write_off, ==, PCI_COMMAND);
    g_assert_cmpuint(f->last_write_size, ==, 2);
    cfg_write(f, 0, 3, 0, 0x10, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x10, 4), ==, 0xfffff000);
    cfg_write(f, 0, 3, 0, 0x11, 1, 0x00);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x10, 4), ==, 0xffff0000);
    g_assert_cmpuint(f->last_write_off, ==, 0x11);
    g_assert_cmpuint(f->last_write_size, ==, 1);
}

static void test_add_device(struct fixture *f, gconstpointer data)
{
    struct pci_dev other = { 0 };

    g_assert_cmpint(pci_add_device(&f->host, 3, &other), ==, -EEXIST);
    g_assert_cmpint(pci_add_device(&f->host, 0, &other), ==, -EEXIST);
    g_assert_cmpint(pci_add_device(&f->host, 32, &other), ==, -EINVAL);
    g_assert_cmpint(pci_add_device(&f->host, 31, &other), ==, 0);
    g_assert_cmphex(cfg_read(f, 0, 31, 0, 0x00, 4), ==, 0);
}

struct bar_log {
    unsigned reads;
    uint64_t last_off;
};

static void bar_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct bar_log *l = opaque;

    l->reads++;
    l->last_off = offset;
    bus_put(data, size, 0x5a5a5a5a);
}

static const struct bus_ops bar_ops = { .read = bar_read };

/* BARs: sizing by writing all ones, decoding only when COMMAND enables it,
 * moving, 64-bit addresses, I/O BARs, and overlaps refused. */
static void test_bars(struct fixture *f, gconstpointer data)
{
    struct bus *pio = bus_new("pio", 0x10000);
    struct pci_dev other = { 0 };
    struct bar_log mem = { 0 }, io = { 0 }, oth = { 0 };
    uint8_t buf[4];

    pci_host_set_io_bus(&f->host, pio);
    g_assert_cmpint(pci_dev_set_bar(&f->dev, 0, 0x4000, PCI_BAR_MEM64, &bar_ops, &mem), ==, 0);
    g_assert_cmpint(pci_dev_set_bar(&f->dev, 2, 0x20, PCI_BAR_IO, &bar_ops, &io), ==, 0);
    g_assert_cmpint(pci_dev_set_bar(&f->dev, 5, 0x1000, PCI_BAR_MEM64, &bar_ops, &mem), ==, -EINVAL);
    g_assert_cmpint(pci_dev_set_bar(&f->dev, 4, 0x3000, 0, &bar_ops, &mem), ==, -EINVAL);
    g_assert_cmpint(pci_dev_set_bar(&f->dev, 4, 0x100, PCI_BAR_IO | PCI_BAR_MEM64, &bar_ops, &mem), ==, -EINVAL);

    /* Sizing. */
    cfg_write(f, 0, 3, 0, 0x10, 4, 0xffffffff);
    cfg_write(f, 0, 3, 0, 0x14, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x10, 4), ==, 0xffffc004);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x14, 4), ==, 0xffffffff);
    cfg_write(f, 0, 3, 0, 0x18, 4, 0xffffffff);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x18, 4), ==, 0xffffffe1);

    /* Programmed but not enabled: nothing decodes. */
    cfg_write(f, 0, 3, 0, 0x10, 4, 0xc0000000);
    cfg_write(f, 0, 3, 0, 0x14, 4, 0x1);        /* 0x1_c0000000: above 4 GiB */
    cfg_write(f, 0, 3, 0, 0x18, 4, 0xc000);
    g_assert_false(bus_read(f->mmio, 0x1c0000000ull, buf, 4));
    g_assert_false(bus_read(pio, 0xc000, buf, 4));
    cfg_write(f, 0, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_MEM | PCI_COMMAND_IO);
    g_assert_true(bus_read(f->mmio, 0x1c0000010ull, buf, 4));
    g_assert_cmpuint(mem.last_off, ==, 0x10);
    g_assert_true(bus_read(pio, 0xc01c, buf, 4));
    g_assert_cmpuint(io.last_off, ==, 0x1c);
    g_assert_false(bus_read(pio, 0xc020, buf, 1));

    /* Moving: the old place stops decoding. */
    cfg_write(f, 0, 3, 0, 0x14, 4, 0);
    g_assert_false(bus_read(f->mmio, 0x1c0000010ull, buf, 4));
    g_assert_true(bus_read(f->mmio, 0xc0003ffcull, buf, 4));

    /* Another device wanting the same range is not mapped over it. */
    pci_set16(&other.wmask[PCI_COMMAND], 0x0007);
    other.name = "other";
    g_assert_cmpint(pci_add_device(&f->host, 4, &other), ==, 0);
    g_assert_cmpint(pci_dev_set_bar(&other, 0, 0x1000, 0, &bar_ops, &oth), ==, 0);
    cfg_write(f, 0, 4, 0, 0x10, 4, 0xc0001000);
    cfg_write(f, 0, 4, 0, PCI_COMMAND, 2, PCI_COMMAND_MEM);
    g_assert_true(bus_read(f->mmio, 0xc0001000ull, buf, 4));
    g_assert_cmpuint(oth.reads, ==, 0);

    /* Disabling memory decode unmaps. */
    cfg_write(f, 0, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_IO);
    g_assert_false(bus_read(f->mmio, 0xc0000000ull, buf, 4));
    g_assert_true(bus_read(pio, 0xc000, buf, 4));
    cfg_write(f, 0, 3, 0, PCI_COMMAND, 2, 0);
    g_assert_false(bus_read(pio, 0xc000, buf, 4));

    /* A machine reset puts COMMAND and the BARs back to power-on values:
     * nothing decodes until firmware or the OS programs them again. */
    cfg_write(f, 0, 3, 0, 0x3c, 1, 11);
    cfg_write(f, 0, 3, 0, PCI_COMMAND, 2, PCI_COMMAND_MEM | PCI_COMMAND_IO);
    g_assert_true(bus_read(f->mmio, 0xc0000000ull, buf, 4));
    pci_host_reset(&f->host);
    g_assert_false(bus_read(f->mmio, 0xc0000000ull, buf, 4));
    g_assert_false(bus_read(pio, 0xc000, buf, 4));
    g_assert_false(bus_read(f->mmio, 0xc0001000ull, buf, 4));
    g_assert_cmphex(cfg_read(f, 0, 3, 0, PCI_COMMAND, 2), ==, 0);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x10, 4), ==, 0x4);       /* type bits stay */
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x18, 4), ==, 0x1);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, 0x3c, 1), ==, 0);
    g_assert_cmphex(cfg_read(f, 0, 3, 0, PCI_VENDOR_ID, 2), !=, 0);
    bus_free(pio);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/pci/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("host-bridge", test_host_bridge);
    ADD("absent-devices", test_absent_devices);
    ADD("cf8-readback", test_cf8_readback);
    ADD("ecam-mapping", test_ecam_mapping);
    ADD("write-masks", test_write_masks);
    ADD("add-device", test_add_device);
    ADD("bars", test_bars);
#undef ADD
    return g_test_run();
}
