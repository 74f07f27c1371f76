/* Fuzz target for the AHCI controller and its ATAPI drive: the input is a
 * program of register reads and writes, PCI configuration writes, stores
 * into guest RAM (command lists, FISes, PRDTs, CDBs) and media changes.
 * Whatever it does, the device must only touch guest RAM through the checked
 * accessor and the image within its size. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "hw/ahci.h"

#define RAM_SIZE 0x10000
#define SECTORS 8

static int fuzz_msi(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    return 0;
}

static void make_image(char *path, const char *tmpl, unsigned sectors)
{
    int fd;

    strcpy(path, tmpl);
    fd = mkstemp(path);
    if (fd < 0 || ftruncate(fd, sectors * 2048) < 0)
        abort();
    close(fd);
}

/* A configuration write as the PCI host does it: only writable bits land. */
static void config_write(struct ahci *a, unsigned off, unsigned size, uint32_t v)
{
    struct pci_dev *d = &a->pci;

    if (off + size > PCI_CFG_SIZE)
        return;
    for (unsigned i = 0; i < size; i++) {
        uint8_t m = d->wmask[off + i];

        d->cfg[off + i] = (uint8_t)((d->cfg[off + i] & ~m) | ((v >> (8 * i)) & m));
    }
    d->ops->config_written(d, off, size);
}

static void reg_write(struct ahci *a, uint64_t off, unsigned size, uint64_t v)
{
    uint8_t data[8];

    bus_put(data, size, v);
    ahci_abar_ops.write(a, off, data, size);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static uint8_t ram[RAM_SIZE];
    static char disc[64], small[64];
    struct fuzz_input in = { data, size };
    struct gmem *mem;
    struct ahci *a;
    char err[256];

    if (!disc[0]) {
        make_image(disc, "/tmp/nook-fuzz-cd-XXXXXX", SECTORS);
        make_image(small, "/tmp/nook-fuzz-cd2-XXXXXX", 1);
    }
    memset(ram, 0, sizeof(ram));
    mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    a = ahci_new(mem, (struct msi_sink){ fuzz_msi, NULL }, fuzz_irq());
    if (!a || ahci_attach_cdrom(a, 0, "FUZZ") < 0 || ahci_change_cdrom(a, 0, disc, true, err, sizeof(err)) < 0)
        abort();
    for (int steps = 0; fi_more(&in) && steps < 256; steps++) {
        uint8_t op = fi_u8(&in);

        switch (op & 7) {
        case 0: {   /* register write */
            uint64_t off = fi_u16(&in) & 0x1fff;
            unsigned sz = fi_size(&in);

            reg_write(a, off, sz, fi_u64(&in));
            break;
        }
        case 1: {   /* register read */
            uint8_t buf[8];
            uint64_t off = fi_u16(&in) & 0x1fff;

            ahci_abar_ops.read(a, off, buf, fi_size(&in));
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

            config_write(a, off, sz > 4 ? 4 : sz, fi_u32(&in));
            break;
        }
        case 4: {   /* the host changes discs */
            uint8_t what = fi_u8(&in);

            ahci_change_cdrom(a, what >> 7, (what & 3) == 0 ? NULL : (what & 3) == 1 ? disc : small,
                              what & 4, err, sizeof(err));
            break;
        }
        case 5: {   /* a driver's bring-up, to reach commands sooner */
            uint16_t clb = fi_u16(&in), fb = fi_u16(&in);

            config_write(a, PCI_COMMAND, 2, 0x0006);
            reg_write(a, 0x04, 4, 0x80000002);
            reg_write(a, 0x100, 4, clb);
            reg_write(a, 0x108, 4, fb);
            reg_write(a, 0x118, 4, 0x11);
            reg_write(a, 0x114, 4, 0xffffffff);
            break;
        }
        case 6:     /* issue */
            reg_write(a, 0x138, 4, fi_u32(&in));
            break;
        default:
            ahci_reset(a);
            break;
        }
    }
    ahci_free(a);
    gmem_free(mem);
    return 0;
}
