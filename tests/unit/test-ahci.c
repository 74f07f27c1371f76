/* Unit tests for the AHCI controller and its ATAPI DVD-ROM drive against
 * fake guest memory, as a driver uses them: IDENTIFY PACKET DEVICE, INQUIRY,
 * READ CAPACITY, READ(10) into a PRDT of three scattered entries, READ CD,
 * DVD structures, track information, sense after errors, media changes,
 * and what a hostile driver does (PRDT and command
 * tables outside RAM, reads past the end of the disc); interrupts through
 * PxIS/IS on INTx and MSI. */
#include <fcntl.h>
#include <unistd.h>

#include "hw/ahci.h"
#include "unit.h"

#define RAM_SIZE 0x100000
#define CLB  0x1000
#define FB   0x2000
#define CT   0x3000
#define BUF  0x10000
#define SECTORS 40

#define PX(reg) (0x100 + (reg))
#define PX_IS   PX(0x10)
#define PX_IE   PX(0x14)
#define PX_CMD  PX(0x18)
#define PX_TFD  PX(0x20)
#define PX_SIG  PX(0x24)
#define PX_SSTS PX(0x28)
#define PX_SCTL PX(0x2c)
#define PX_CI   PX(0x38)

struct msi_rec {
    unsigned count;
    uint64_t addr;
    uint32_t data;
};

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct ahci *a;
    struct irq_rec irq;
    struct msi_rec msi;
    char path[64], path2[64];
};

struct prd_spec {
    uint64_t addr;
    uint32_t len;
};

static int msi_record(void *opaque, unsigned vec, uint64_t addr, uint32_t data)
{
    struct msi_rec *m = opaque;

    m->count++;
    m->addr = addr;
    m->data = data;
    return 0;
}

static uint8_t pattern(uint64_t off)
{
    return (uint8_t)(off * 7 + off / 2048);
}

static void make_image(char *path, unsigned sectors, uint8_t salt)
{
    uint8_t *img = g_malloc(sectors * 2048u);
    int fd;

    for (unsigned i = 0; i < sectors * 2048u; i++)
        img[i] = pattern(i) ^ salt;
    strcpy(path, "/tmp/nook-ahci-XXXXXX");
    fd = mkstemp(path);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(write(fd, img, sectors * 2048u), ==, (ssize_t)(sectors * 2048u));
    close(fd);
    g_free(img);
}

static uint32_t rd(struct fixture *f, uint64_t off)
{
    return (uint32_t)dev_read(&ahci_abar_ops, f->a, off, 4);
}

static void wr(struct fixture *f, uint64_t off, uint32_t v)
{
    dev_write(&ahci_abar_ops, f->a, off, 4, v);
}

static void config(struct fixture *f, unsigned off, const void *v, unsigned len)
{
    memcpy(&f->a->pci.cfg[off], v, len);
    f->a->pci.ops->config_written(&f->a->pci, off, len);
}

static void setup(struct fixture *f, gconstpointer data)
{
    char err[256];
    uint16_t command = 0x0006;

    memset(f, 0, sizeof(*f));
    f->ram = g_malloc0(RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
    make_image(f->path, SECTORS, 0);
    make_image(f->path2, 4, 0xff);
    f->a = ahci_new(f->mem, (struct msi_sink){ msi_record, &f->msi }, irq_rec_line(&f->irq, 23));
    g_assert_nonnull(f->a);
    g_assert_cmpint(ahci_attach_cdrom(f->a, 0, "TEST-CD"), ==, 0);
    g_assert_cmpint(ahci_change_cdrom(f->a, 0, f->path, false, err, sizeof(err)), ==, 0);
    ahci_reset(f->a);
    config(f, PCI_COMMAND, &command, 2);
    /* What a driver does: AHCI mode, interrupts on, the port's areas, FIS
     * receive and command list running, every interrupt enabled. */
    wr(f, 0x04, 0x80000002);
    wr(f, PX(0x00), CLB);
    wr(f, PX(0x08), FB);
    wr(f, PX_CMD, rd(f, PX_CMD) | 0x10);
    wr(f, PX_CMD, rd(f, PX_CMD) | 0x01);
    wr(f, PX_IE, 0xffffffff);
}

static void teardown(struct fixture *f, gconstpointer data)
{
    ahci_free(f->a);
    unlink(f->path);
    unlink(f->path2);
    gmem_free(f->mem);
    g_free(f->ram);
}

static void put32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v;

    memcpy(&v, p, 4);
    return v;
}

/* Builds slot 0's command (ATA command cmd, a CDB for PACKET) with the PRDT
 * given, issues it and returns PxIS. */
static uint32_t issue_at(struct fixture *f, uint64_t ctba, uint8_t cmd, const uint8_t *cdb,
                         const struct prd_spec *prd, unsigned nprd)
{
    uint8_t *h = f->ram + CLB;
    uint32_t is;

    memset(h, 0, 32);
    put32(h, 5u | (cdb ? 0x20u : 0) | (uint32_t)nprd << 16);
    put32(h + 4, 0xdeadbeef);
    put32(h + 8, (uint32_t)ctba);
    put32(h + 12, (uint32_t)(ctba >> 32));
    /* Whatever of the table lies in RAM. */
    if (ctba + 0x80 <= RAM_SIZE) {
        uint8_t *t = f->ram + ctba;

        memset(t, 0, 0x80);
        t[0] = 0x27;
        t[1] = 0x80;
        t[2] = cmd;
        t[3] = 1;   /* DMA */
        if (cdb)
            memcpy(t + 0x40, cdb, 12);
        for (unsigned i = 0; i < nprd && ctba + 0x90 + 16 * i <= RAM_SIZE; i++) {
            memset(t + 0x80 + 16 * i, 0, 16);
            put32(t + 0x80 + 16 * i, (uint32_t)prd[i].addr);
            put32(t + 0x84 + 16 * i, (uint32_t)(prd[i].addr >> 32));
            put32(t + 0x8c + 16 * i, prd[i].len - 1);
        }
    }
    wr(f, PX_IS, 0xffffffff);
    wr(f, PX_CI, 1);
    g_assert_cmphex(rd(f, PX_CI), ==, 0);
    is = rd(f, PX_IS);
    return is;
}

static uint32_t packet(struct fixture *f, const uint8_t *cdb, uint64_t buf, uint32_t len)
{
    struct prd_spec p = { buf, len };

    return issue_at(f, CT, 0xa0, cdb, &p, len ? 1 : 0);
}

static uint32_t prdbc(struct fixture *f)
{
    return get32(f->ram + CLB + 4);
}

/* REQUEST SENSE: key << 16 | ASC << 8 | ASCQ. */
static uint32_t sense(struct fixture *f)
{
    const uint8_t cdb[12] = { 0x03, 0, 0, 0, 18 };
    uint8_t *s = f->ram + BUF + 0x8000;

    memset(s, 0xee, 18);
    g_assert_cmphex(packet(f, cdb, BUF + 0x8000, 18) & (1u << 30), ==, 0);
    g_assert_cmphex(s[0], ==, 0x70);
    return (uint32_t)(s[2] & 0xf) << 16 | (uint32_t)s[12] << 8 | s[13];
}

static void test_registers(struct fixture *f, gconstpointer data)
{
    uint32_t cap = rd(f, 0x00);

    g_assert_cmphex(cap & 0x1f, ==, AHCI_PORTS - 1);
    g_assert_cmphex((cap >> 8) & 0x1f, ==, 31);
    g_assert_true(cap & (1u << 31));
    g_assert_cmphex(rd(f, 0x0c), ==, 0x3f);
    g_assert_cmphex(rd(f, 0x10), ==, 0x00010301);
    g_assert_cmphex(rd(f, PX_SSTS), ==, 0x113);
    g_assert_cmphex(rd(f, PX_SIG), ==, 0xeb140101);
    g_assert_cmphex(rd(f, PX_CMD) & 0xc011, ==, 0xc011);       /* CR, FR follow ST, FRE */
    g_assert_cmphex(rd(f, PX(0x80) + 0x28), ==, 0);             /* port 1 is empty */
    g_assert_cmphex(f->a->pci.cfg[0x0b], ==, 0x01);
    g_assert_cmphex(f->a->pci.cfg[0x0a], ==, 0x06);
    g_assert_cmphex(f->a->pci.cfg[0x09], ==, 0x01);
    g_assert_cmphex(f->a->pci.cfg[0x02] | f->a->pci.cfg[0x03] << 8, ==, 0x2922);
    /* A byte write reaches its byte of the register only. */
    dev_write(&ahci_abar_ops, f->a, PX(0x01), 1, 0x55);
    g_assert_cmphex(rd(f, PX(0x00)), ==, CLB | 0x5400);
    wr(f, PX(0x00), CLB);
    /* Stopping the port stops the list engine and drops issued commands. */
    wr(f, PX_CMD, rd(f, PX_CMD) & ~1u);
    g_assert_cmphex(rd(f, PX_CMD) & 0x8000, ==, 0);
    wr(f, PX_CI, 1);
    g_assert_cmphex(rd(f, PX_CI), ==, 0);
}

static void test_identify(struct fixture *f, gconstpointer data)
{
    struct prd_spec p = { BUF, 512 };
    uint32_t is = issue_at(f, CT, 0xa1, NULL, &p, 1);
    uint16_t w[256];
    char model[41];

    g_assert_cmphex(is & 3, ==, 3);     /* PIO setup and D2H register FISes */
    g_assert_cmphex(is & (1u << 30), ==, 0);
    g_assert_cmphex(rd(f, PX_TFD) & 0xff, ==, 0x50);
    g_assert_cmpuint(prdbc(f), ==, 512);
    memcpy(w, f->ram + BUF, 512);
    g_assert_cmphex(w[0], ==, 0x85c0);
    g_assert_cmphex(w[49] & 0x0300, ==, 0x0300);
    for (unsigned i = 0; i < 20; i++) {
        model[2 * i] = (char)(w[27 + i] >> 8);
        model[2 * i + 1] = (char)w[27 + i];
    }
    model[40] = 0;
    g_assert_true(g_str_has_prefix(model, "NOOK DVD-ROM "));
    g_assert_cmphex(f->ram[FB + 0x20], ==, 0x5f);
    g_assert_cmphex(f->ram[FB + 0x20 + 15], ==, 0x50);
    g_assert_cmphex(f->ram[FB + 0x40], ==, 0x34);

    /* IDENTIFY DEVICE is for ATA disks: aborted, with the signature. */
    is = issue_at(f, CT, 0xec, NULL, &p, 1);
    g_assert_true(is & (1u << 30));
    g_assert_cmphex(rd(f, PX_TFD), ==, 0x0441);
    g_assert_cmphex(f->ram[FB + 0x40 + 5], ==, 0x14);
    g_assert_cmphex(f->ram[FB + 0x40 + 6], ==, 0xeb);
}

static void test_inquiry_capacity(struct fixture *f, gconstpointer data)
{
    const uint8_t inq[12] = { 0x12, 0, 0, 0, 96 };
    const uint8_t cap[12] = { 0x25 };
    const uint8_t *b = f->ram + BUF;

    g_assert_cmphex(packet(f, inq, BUF, 96) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 36);
    g_assert_cmphex(b[0], ==, 0x05);
    g_assert_cmphex(b[1], ==, 0x80);
    g_assert_cmpmem(b + 8, 8, "NOOK    ", 8);

    g_assert_cmphex(packet(f, cap, BUF, 8) & (1u << 30), ==, 0);
    g_assert_cmpuint((uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3], ==, SECTORS - 1);
    g_assert_cmpuint((uint32_t)b[4] << 24 | b[5] << 16 | b[6] << 8 | b[7], ==, 2048);

    /* The allocation length cuts the answer. */
    const uint8_t short_inq[12] = { 0x12, 0, 0, 0, 5 };

    g_assert_cmphex(packet(f, short_inq, BUF, 96) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 5);
}

static void test_read10_three_prds(struct fixture *f, gconstpointer data)
{
    /* 3 sectors from LBA 5 over entries of 1000, 3000 and 2144 bytes. */
    const uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, 5, 0, 0, 3 };
    const struct prd_spec prd[3] = { { BUF + 0x6000, 1000 }, { BUF + 0x100, 3000 }, { BUF + 0xa000, 2144 } };
    uint32_t is;
    uint64_t img = 5 * 2048;

    is = issue_at(f, CT, 0xa0, cdb, prd, 3);
    g_assert_cmphex(is & (1u << 30), ==, 0);
    g_assert_true(is & 1);
    g_assert_cmpuint(prdbc(f), ==, 6144);
    for (unsigned e = 0; e < 3; e++)
        for (uint32_t i = 0; i < prd[e].len; i++, img++)
            g_assert_cmphex(f->ram[prd[e].addr + i], ==, pattern(img));
    g_assert_cmphex(f->ram[BUF + 0x100 + 3000], ==, 0);    /* nothing beyond an entry */

    /* READ(12) of the last sector. */
    const uint8_t cdb12[12] = { 0xa8, 0, 0, 0, 0, SECTORS - 1, 0, 0, 0, 1 };

    g_assert_cmphex(packet(f, cdb12, BUF, 2048) & (1u << 30), ==, 0);
    g_assert_cmphex(f->ram[BUF + 7], ==, pattern((SECTORS - 1) * 2048 + 7));
}

static void test_out_of_range(struct fixture *f, gconstpointer data)
{
    const uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, SECTORS - 1, 0, 0, 2 };
    const uint8_t far[12] = { 0x28, 0, 0xff, 0xff, 0xff, 0xff, 0, 0xff, 0xff };
    uint32_t is = packet(f, cdb, BUF, 4096);

    g_assert_true(is & (1u << 30));
    g_assert_cmphex(rd(f, PX_TFD), ==, 0x5051);    /* ILLEGAL REQUEST, ERR */
    g_assert_cmpuint(prdbc(f), ==, 0);
    g_assert_cmphex(sense(f), ==, 0x052100);
    g_assert_cmphex(sense(f), ==, 0);               /* reading sense clears it */
    g_assert_true(packet(f, far, BUF, 4096) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052100);

    /* An unknown command and a VPD page nobody offers. */
    const uint8_t bad[12] = { 0xff };
    const uint8_t vpd[12] = { 0x12, 1, 0x83, 0, 96 };

    g_assert_true(packet(f, bad, BUF, 0) & (1u << 30));
    g_assert_cmphex(rd(f, PX_TFD) >> 8, ==, 0x54);
    g_assert_cmphex(sense(f), ==, 0x052000);
    g_assert_true(packet(f, vpd, BUF, 96) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052400);
}

static void test_bad_addresses(struct fixture *f, gconstpointer data)
{
    const uint8_t cdb[12] = { 0x28, 0, 0, 0, 0, 0, 0, 0, 1 };
    const uint8_t tur[12] = { 0 };
    struct prd_spec outside = { 0xdead00000000ull, 2048 };
    struct prd_spec straddle = { RAM_SIZE - 1024, 2048 };
    uint32_t is;

    is = issue_at(f, CT, 0xa0, cdb, &outside, 1);
    g_assert_true(is & (1u << 30));
    g_assert_cmphex(rd(f, PX_TFD) & 1, ==, 1);
    is = issue_at(f, CT, 0xa0, cdb, &straddle, 1);
    g_assert_true(is & (1u << 30));
    /* A command table outside RAM, and a command list outside RAM. */
    is = issue_at(f, 0x7fff0000000ull, 0xa0, cdb, NULL, 0);
    g_assert_true(is & (1u << 30));
    wr(f, PX(0x04), 0x100);
    is = issue_at(f, CT, 0xa0, tur, NULL, 0);
    g_assert_true(is & (1u << 30));
    wr(f, PX(0x04), 0);
    /* A PRDT that runs off the end of RAM. */
    is = issue_at(f, RAM_SIZE - 0x80, 0xa0, cdb, &straddle, 1);
    g_assert_true(is & (1u << 30));
    /* The drive still works. */
    g_assert_cmphex(issue_at(f, CT, 0xa0, tur, NULL, 0) & (1u << 30), ==, 0);
    g_assert_cmphex(rd(f, PX_TFD), ==, 0x50);
}

static void test_interrupts(struct fixture *f, gconstpointer data)
{
    const uint8_t tur[12] = { 0 };
    uint16_t msi_ctl = 0x0081;
    uint32_t addr = 0xfee00000, data32 = 0x4041;

    g_assert_cmpint(f->irq.level, ==, 0);
    packet(f, tur, 0, 0);
    g_assert_cmpint(f->irq.level, ==, 1);
    g_assert_cmphex(rd(f, 0x08), ==, 1);
    g_assert_cmpuint(f->irq.gsi, ==, 23);
    /* Clearing PxIS clears IS and the line; clearing IS alone does not. */
    wr(f, 0x08, 1);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr(f, PX_IS, rd(f, PX_IS));
    g_assert_cmphex(rd(f, 0x08), ==, 0);
    g_assert_cmpint(f->irq.level, ==, 0);
    /* PxIE masks the port, GHC.IE the controller. */
    wr(f, PX_IE, 0);
    packet(f, tur, 0, 0);
    g_assert_cmphex(rd(f, 0x08), ==, 0);
    g_assert_cmpint(f->irq.level, ==, 0);
    wr(f, PX_IE, 0xffffffff);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr(f, 0x04, 0x80000000);
    g_assert_cmpint(f->irq.level, ==, 0);
    wr(f, 0x04, 0x80000002);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr(f, PX_IS, 0xffffffff);
    /* PCI COMMAND's INTx disable. */
    uint16_t cmd = 0x0406;

    config(f, PCI_COMMAND, &cmd, 2);
    packet(f, tur, 0, 0);
    g_assert_cmpint(f->irq.level, ==, 0);
    cmd = 0x0006;
    config(f, PCI_COMMAND, &cmd, 2);
    g_assert_cmpint(f->irq.level, ==, 1);
    wr(f, PX_IS, 0xffffffff);

    /* MSI: a message per completion, and the INTx line stays low. */
    config(f, 0x84, &addr, 4);
    config(f, 0x8c, &data32, 4);
    config(f, 0x82, &msi_ctl, 2);
    g_assert_cmphex(f->a->pci.cfg[0x34], ==, 0x80);
    g_assert_cmphex(f->a->pci.cfg[0x80], ==, 0x05);
    packet(f, tur, 0, 0);
    g_assert_cmpuint(f->msi.count, ==, 1);
    g_assert_cmphex(f->msi.addr, ==, 0xfee00000);
    g_assert_cmphex(f->msi.data, ==, 0x4041);
    g_assert_cmpint(f->irq.level, ==, 0);
    wr(f, PX_IS, 0xffffffff);
    packet(f, tur, 0, 0);
    g_assert_cmpuint(f->msi.count, ==, 2);
}

static void test_media_change(struct fixture *f, gconstpointer data)
{
    const uint8_t tur[12] = { 0 };
    const uint8_t gesn[12] = { 0x4a, 1, 0, 0, 0x10, 0, 0, 0, 8 };
    const uint8_t lock[12] = { 0x1e, 0, 0, 0, 1 };
    const uint8_t unlock[12] = { 0x1e };
    const uint8_t eject[12] = { 0x1b, 0, 0, 0, 2 };
    const uint8_t load[12] = { 0x1b, 0, 0, 0, 3 };
    const uint8_t cap[12] = { 0x25 };
    const uint8_t *b = f->ram + BUF;
    char err[256];

    g_assert_cmphex(packet(f, tur, 0, 0) & (1u << 30), ==, 0);
    g_assert_cmphex(packet(f, gesn, BUF, 8) & (1u << 30), ==, 0);
    g_assert_cmphex(b[4], ==, 0);
    g_assert_cmphex(b[5], ==, 2);

    /* A locked tray keeps its disc, unless forced. */
    packet(f, lock, 0, 0);
    g_assert_cmpint(ahci_change_cdrom(f->a, 0, f->path2, false, err, sizeof(err)), ==, -EBUSY);
    g_assert_true(packet(f, eject, 0, 0) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x055302);
    packet(f, unlock, 0, 0);
    g_assert_cmpint(ahci_change_cdrom(f->a, 0, f->path2, false, err, sizeof(err)), ==, 0);
    g_assert_cmphex(packet(f, gesn, BUF, 8) & (1u << 30), ==, 0);
    g_assert_cmphex(b[4], ==, 2);       /* new media */
    g_assert_true(packet(f, tur, 0, 0) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x062800);
    g_assert_cmphex(packet(f, tur, 0, 0) & (1u << 30), ==, 0);
    packet(f, cap, BUF, 8);
    g_assert_cmpuint(b[3], ==, 3);

    /* The guest opens the tray: no medium; closing it brings the disc back. */
    g_assert_true(ahci_cdrom_loaded(f->a, 0));
    g_assert_cmphex(packet(f, eject, 0, 0) & (1u << 30), ==, 0);
    g_assert_false(ahci_cdrom_loaded(f->a, 0));
    g_assert_true(packet(f, tur, 0, 0) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x023a02);
    g_assert_cmphex(packet(f, load, 0, 0) & (1u << 30), ==, 0);
    g_assert_true(ahci_cdrom_loaded(f->a, 0));
    g_assert_cmphex(packet(f, tur, 0, 0) & (1u << 30), ==, 0);

    /* Ejected from the host: an empty drive. */
    g_assert_cmpint(ahci_change_cdrom(f->a, 0, NULL, false, err, sizeof(err)), ==, 0);
    g_assert_false(ahci_cdrom_loaded(f->a, 0));
    g_assert_true(packet(f, tur, 0, 0) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x062800);
    g_assert_true(packet(f, tur, 0, 0) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x023a01);
    g_assert_cmpint(ahci_change_cdrom(f->a, 0, "/nonexistent.iso", false, err, sizeof(err)), <, 0);
    g_assert_nonnull(strstr(err, "cannot open"));
}

static void test_toc_config_mode(struct fixture *f, gconstpointer data)
{
    const uint8_t toc[12] = { 0x43, 0, 0, 0, 0, 0, 0, 0, 100 };
    const uint8_t toc_msf[12] = { 0x43, 2, 0, 0, 0, 0, 0, 0, 100 };
    const uint8_t session[12] = { 0x43, 0, 1, 0, 0, 0, 0, 0, 100 };
    const uint8_t conf[12] = { 0x46, 0, 0, 0, 0, 0, 0, 0, 200 };
    const uint8_t mode[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 100 };
    const uint8_t disc[12] = { 0x51, 0, 0, 0, 0, 0, 0, 0, 34 };
    const uint8_t mech[12] = { 0xbd, 0, 0, 0, 0, 0, 0, 0, 0, 8 };
    const uint8_t speed[12] = { 0xbb, 0, 0xff, 0xff };
    const uint8_t *b = f->ram + BUF;

    g_assert_cmphex(packet(f, toc, BUF, 100) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 20);
    g_assert_cmphex(b[1], ==, 18);
    g_assert_cmphex(b[6], ==, 1);
    g_assert_cmphex(b[14], ==, 0xaa);
    g_assert_cmpuint(b[19], ==, SECTORS);
    g_assert_cmphex(packet(f, toc_msf, BUF, 100) & (1u << 30), ==, 0);
    g_assert_cmphex(b[10], ==, 2);      /* track 1 at 00:02:00 */
    g_assert_cmphex(b[19], ==, SECTORS);    /* 00:02:40 */
    g_assert_cmphex(packet(f, session, BUF, 100) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 12);
    g_assert_cmphex(packet(f, conf, BUF, 200) & (1u << 30), ==, 0);
    g_assert_cmphex(b[6] << 8 | b[7], ==, 0x0008);  /* CD-ROM profile */
    g_assert_cmphex(b[8] << 8 | b[9], ==, 0x0000);  /* profile list first */
    g_assert_cmphex(packet(f, mode, BUF, 100) & (1u << 30), ==, 0);
    g_assert_cmphex(b[8], ==, 0x2a);
    g_assert_cmpuint(prdbc(f), ==, 30);
    g_assert_cmphex(packet(f, disc, BUF, 34) & (1u << 30), ==, 0);
    g_assert_cmphex(b[2], ==, 0x0e);
    g_assert_cmphex(packet(f, mech, BUF, 8) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 8);
    g_assert_cmphex(packet(f, speed, 0, 0) & (1u << 30), ==, 0);
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Empties the drive and takes the media change sense. */
static void eject_disc(struct fixture *f)
{
    char err[256];

    g_assert_cmpint(ahci_change_cdrom(f->a, 0, NULL, false, err, sizeof(err)), ==, 0);
    g_assert_cmphex(sense(f), ==, 0x062800);
}

static void test_read_cd(struct fixture *f, gconstpointer data)
{
    /* User data of LBA 5-6, any sector type; then Mode 1 of LBA 7. */
    const uint8_t any[12] = { 0xbe, 0, 0, 0, 0, 5, 0, 0, 2, 0x10 };
    const uint8_t mode1[12] = { 0xbe, 0x08, 0, 0, 0, 7, 0, 0, 1, 0x10 };
    /* 00:02:03 up to (not including) 00:02:05: LBA 3 and 4. */
    const uint8_t msf[12] = { 0xb9, 0, 0, 0, 2, 3, 0, 2, 5, 0x10 };
    const uint8_t nothing[12] = { 0xbe, 0, 0, 0, 0, 5, 0, 0, 2, 0x00 };
    const uint8_t last[12] = { 0xbe, 0, 0, 0, 0, SECTORS - 1, 0, 0, 1, 0x10 };
    const uint8_t *b = f->ram + BUF;

    g_assert_cmphex(packet(f, any, BUF, 8192) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 4096);
    for (unsigned i = 0; i < 4096; i++)
        g_assert_cmphex(b[i], ==, pattern(5 * 2048 + i));
    g_assert_cmphex(packet(f, mode1, BUF, 8192) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 2048);
    g_assert_cmphex(b[100], ==, pattern(7 * 2048 + 100));
    g_assert_cmphex(packet(f, msf, BUF, 8192) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 4096);
    g_assert_cmphex(b[0], ==, pattern(3 * 2048));
    g_assert_cmphex(b[4095], ==, pattern(5 * 2048 - 1));
    g_assert_cmphex(packet(f, last, BUF, 8192) & (1u << 30), ==, 0);
    g_assert_cmphex(b[2047], ==, pattern(SECTORS * 2048 - 1));
    /* No field selected: GOOD, nothing moved. */
    g_assert_cmphex(packet(f, nothing, BUF, 8192) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 0);

    /* Only user data of Mode 1 sectors can be had. */
    static const struct { uint8_t byte, value; uint32_t sense; } bad[] = {
        { 9, 0xf8, 0x052400 },      /* sync, headers, user data, EDC/ECC */
        { 9, 0x30, 0x052400 },      /* sector header */
        { 9, 0x12, 0x052400 },      /* C2 error bits */
        { 10, 0x01, 0x052400 },     /* raw subchannel */
        { 10, 0x02, 0x052400 },     /* Q subchannel */
        { 1, 0x18, 0x052400 },      /* reserved sector type 6 */
        { 1, 0x1c, 0x052400 },      /* reserved sector type 7 */
        { 1, 0x04, 0x056400 },      /* CD-DA */
        { 1, 0x0c, 0x056400 },      /* Mode 2 formless */
        { 1, 0x10, 0x056400 },      /* Mode 2 form 1 */
        { 1, 0x14, 0x056400 },      /* Mode 2 form 2 */
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint8_t cdb[12];

        memcpy(cdb, any, 12);
        cdb[bad[i].byte] = bad[i].value;
        g_assert_true(packet(f, cdb, BUF, 8192) & (1u << 30));
        g_assert_cmpuint(prdbc(f), ==, 0);
        g_assert_cmphex(sense(f), ==, bad[i].sense);
    }

    /* The range checks of READ(10), with a 24-bit length. */
    const uint8_t past[12] = { 0xbe, 0, 0, 0, 0, SECTORS - 1, 0, 0, 2, 0x10 };
    const uint8_t huge[12] = { 0xbe, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0x10 };
    const uint8_t far[12] = { 0xbe, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 1, 0x10 };
    const uint8_t msf_past[12] = { 0xb9, 0, 0, 0, 2, 0, 0, 2, SECTORS + 1, 0x10 };
    const uint8_t msf_pregap[12] = { 0xb9, 0, 0, 0, 1, 74, 0, 2, 1, 0x10 };
    const uint8_t msf_backwards[12] = { 0xb9, 0, 0, 0, 2, 5, 0, 2, 3, 0x10 };
    const uint8_t msf_frame[12] = { 0xb9, 0, 0, 0, 2, 75, 0, 2, 76, 0x10 };
    const uint8_t msf_empty[12] = { 0xb9, 0, 0, 0, 2, 5, 0, 2, 5, 0x10 };

    g_assert_true(packet(f, past, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052100);
    g_assert_true(packet(f, huge, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052100);
    g_assert_true(packet(f, far, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052100);
    g_assert_true(packet(f, msf_past, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052100);
    g_assert_true(packet(f, msf_pregap, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052100);
    g_assert_true(packet(f, msf_backwards, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052400);
    g_assert_true(packet(f, msf_frame, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052400);
    g_assert_cmphex(packet(f, msf_empty, BUF, 8192) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 0);

    eject_disc(f);
    g_assert_true(packet(f, any, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x023a01);
    g_assert_true(packet(f, msf, BUF, 8192) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x023a01);
}

/* One sector more than a CD holds makes the image a DVD. */
#define DVD_SECTORS (80u * 60 * 75 + 1)

static void test_dvd_structure(struct fixture *f, gconstpointer data)
{
    const uint8_t phys[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0x00, 0x10, 0x00 };
    const uint8_t phys8[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0x00, 0, 8 };
    const uint8_t copyright[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0x01, 0, 100 };
    const uint8_t manufacturing[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0x04, 0x10, 0x00 };
    const uint8_t formats[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0xff, 0, 100 };
    const uint8_t formats6[12] = { 0xad, 0, 0, 0, 0, 0, 0, 0xff, 0, 6 };
    const uint8_t *b = f->ram + BUF;
    char path[64], err[256];
    uint32_t end = 0x30000 + DVD_SECTORS - 1;
    int fd;

    /* A CD has no DVD structures, but the list is still there. */
    g_assert_true(packet(f, phys, BUF, 4096) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x053002);
    g_assert_cmphex(packet(f, formats, BUF, 4096) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 16);

    strcpy(path, "/tmp/nook-ahci-dvd-XXXXXX");
    fd = mkstemp(path);
    g_assert_cmpint(fd, >=, 0);
    g_assert_cmpint(ftruncate(fd, (off_t)DVD_SECTORS * 2048), ==, 0);
    close(fd);
    g_assert_cmpint(ahci_change_cdrom(f->a, 0, path, false, err, sizeof(err)), ==, 0);
    unlink(path);
    g_assert_cmphex(sense(f), ==, 0x062800);

    memset(f->ram + BUF, 0xee, 4096);
    g_assert_cmphex(packet(f, phys, BUF, 4096) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 2052);
    g_assert_cmphex(b[0] << 8 | b[1], ==, 2050);
    g_assert_cmphex(b[2] | b[3], ==, 0);
    g_assert_cmphex(b[4], ==, 0x01);        /* DVD-ROM, part version 1 */
    g_assert_cmphex(b[5], ==, 0x0f);        /* 120 mm, rate not specified */
    g_assert_cmphex(b[6], ==, 0x01);        /* one layer, embossed */
    g_assert_cmphex(b[7], ==, 0x00);
    g_assert_cmphex(be32(b + 8), ==, 0x00030000);
    g_assert_cmphex(be32(b + 12), ==, end);
    g_assert_cmphex(be32(b + 16), ==, 0);
    g_assert_cmphex(b[20], ==, 0);          /* no BCA */
    g_assert_cmphex(b[2051], ==, 0);
    g_assert_cmphex(b[2052], ==, 0xee);
    g_assert_cmphex(packet(f, phys8, BUF, 4096) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 8);

    memset(f->ram + BUF, 0xee, 4096);
    g_assert_cmphex(packet(f, copyright, BUF, 4096) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 8);
    g_assert_cmphex(b[0] << 8 | b[1], ==, 6);
    g_assert_cmphex(be32(b + 4), ==, 0);    /* no protection, all regions */
    g_assert_cmphex(b[8], ==, 0xee);

    g_assert_cmphex(packet(f, manufacturing, BUF, 4096) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 2052);
    g_assert_cmphex(b[0] << 8 | b[1], ==, 2050);
    for (unsigned i = 4; i < 2052; i++)
        g_assert_cmphex(b[i], ==, 0);

    g_assert_cmphex(packet(f, formats, BUF, 4096) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 16);
    {
        static const uint8_t want[16] = {
            0x00, 14, 0, 0,
            0x00, 0x40, 0x08, 0x04,
            0x01, 0x40, 0x00, 0x08,
            0x04, 0x40, 0x08, 0x04,
        };

        g_assert_cmpmem(b, 16, want, 16);
    }
    g_assert_cmphex(packet(f, formats6, BUF, 4096) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 6);

    /* Formats not offered, a second layer, Blu-ray media. */
    static const struct { uint8_t byte, value; } bad[] = {
        { 7, 0x02 }, { 7, 0x03 }, { 7, 0x05 }, { 7, 0x0f }, { 7, 0x30 }, { 7, 0xc0 }, { 7, 0xfe },
        { 6, 0x01 }, { 1, 0x01 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint8_t cdb[12];

        memcpy(cdb, phys, 12);
        cdb[bad[i].byte] = bad[i].value;
        g_assert_true(packet(f, cdb, BUF, 4096) & (1u << 30));
        g_assert_cmphex(sense(f), ==, 0x052400);
    }

    eject_disc(f);
    g_assert_true(packet(f, phys, BUF, 4096) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x023a01);
    g_assert_true(packet(f, formats, BUF, 4096) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x023a01);
}

static void test_track_info(struct fixture *f, gconstpointer data)
{
    const uint8_t track1[12] = { 0x52, 1, 0, 0, 0, 1, 0, 0, 48 };
    const uint8_t by_lba[12] = { 0x52, 0, 0, 0, 0, SECTORS - 1, 0, 0, 48 };
    const uint8_t session1[12] = { 0x52, 2, 0, 0, 0, 1, 0, 0, 48 };
    const uint8_t short12[12] = { 0x52, 1, 0, 0, 0, 1, 0, 0, 12 };
    const uint8_t *b = f->ram + BUF;
    static const uint8_t want[48] = {
        0, 46, 1, 1, 0, 0x04, 0x01, 0,
        0, 0, 0, 0,             /* track start */
        0, 0, 0, 0,             /* no next writable address */
        0, 0, 0, 0,             /* no free blocks */
        0, 0, 0, 0,
        0, 0, 0, SECTORS,       /* track size */
    };

    memset(f->ram + BUF, 0xee, 256);
    g_assert_cmphex(packet(f, track1, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 48);
    g_assert_cmpmem(b, 48, want, 48);
    g_assert_cmphex(b[48], ==, 0xee);
    memset(f->ram + BUF, 0xee, 256);
    g_assert_cmphex(packet(f, by_lba, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpmem(b, 48, want, 48);
    memset(f->ram + BUF, 0xee, 256);
    g_assert_cmphex(packet(f, session1, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpmem(b, 48, want, 48);
    memset(f->ram + BUF, 0xee, 256);
    g_assert_cmphex(packet(f, short12, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 12);
    g_assert_cmpmem(b, 12, want, 12);
    g_assert_cmphex(b[12], ==, 0xee);

    /* LBA past the disc; lead-in, invisible track, track 2, session 2,
     * the reserved addressing type. */
    static const struct { uint8_t type; uint32_t addr, sense; } bad[] = {
        { 0, SECTORS, 0x052100 }, { 0, 0xffffffff, 0x052100 },
        { 1, 0, 0x052400 }, { 1, 0xff, 0x052400 }, { 1, 2, 0x052400 }, { 1, 0x101, 0x052400 },
        { 2, 0, 0x052400 }, { 2, 2, 0x052400 }, { 3, 1, 0x052400 },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(bad); i++) {
        uint8_t cdb[12] = { 0x52, bad[i].type, (uint8_t)(bad[i].addr >> 24), (uint8_t)(bad[i].addr >> 16),
                            (uint8_t)(bad[i].addr >> 8), (uint8_t)bad[i].addr, 0, 0, 48 };

        g_assert_true(packet(f, cdb, BUF, 256) & (1u << 30));
        g_assert_cmphex(sense(f), ==, bad[i].sense);
    }

    eject_disc(f);
    g_assert_true(packet(f, track1, BUF, 256) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x023a01);
}

static void test_format_capacities(struct fixture *f, gconstpointer data)
{
    const uint8_t cdb[12] = { 0x23, 0, 0, 0, 0, 0, 0, 0, 252 };
    const uint8_t short4[12] = { 0x23, 0, 0, 0, 0, 0, 0, 0, 4 };
    const uint8_t *b = f->ram + BUF;
    static const uint8_t want[12] = { 0, 0, 0, 8, 0, 0, 0, SECTORS, 0x02, 0, 0x08, 0 };
    static const uint8_t empty[12] = { 0, 0, 0, 8, 0, 0, 0, 0, 0x03, 0, 0x08, 0 };

    g_assert_cmphex(packet(f, cdb, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 12);
    g_assert_cmpmem(b, 12, want, 12);
    g_assert_cmphex(packet(f, short4, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 4);

    /* No disc is an answer, not an error. */
    eject_disc(f);
    g_assert_cmphex(packet(f, cdb, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 12);
    g_assert_cmpmem(b, 12, empty, 12);
}

static void test_mode_sense6(struct fixture *f, gconstpointer data)
{
    const uint8_t caps[12] = { 0x1a, 0, 0x2a, 0, 100 };
    const uint8_t caps10[12] = { 0x5a, 0, 0x2a, 0, 0, 0, 0, 0, 100 };
    const uint8_t all[12] = { 0x1a, 0, 0x3f, 0, 255 };
    const uint8_t short6[12] = { 0x1a, 0, 0x2a, 0, 6 };
    const uint8_t *b = f->ram + BUF;
    uint8_t page10[22];

    g_assert_cmphex(packet(f, caps10, BUF, 256) & (1u << 30), ==, 0);
    memcpy(page10, b + 8, 22);
    memset(f->ram + BUF, 0xee, 256);
    g_assert_cmphex(packet(f, caps, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 26);
    g_assert_cmphex(b[0], ==, 25);
    g_assert_cmphex(b[1], ==, 0x01);        /* 120 mm data disc */
    g_assert_cmphex(b[2], ==, 0);
    g_assert_cmphex(b[3], ==, 0);           /* no block descriptor */
    g_assert_cmpmem(b + 4, 22, page10, 22);
    g_assert_cmphex(b[4], ==, 0x2a);
    g_assert_cmphex(b[5], ==, 20);
    g_assert_cmphex(b[26], ==, 0xee);

    g_assert_cmphex(packet(f, all, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 34);
    g_assert_cmphex(b[0], ==, 33);
    g_assert_cmphex(b[4], ==, 0x01);        /* read error recovery */
    g_assert_cmphex(b[5], ==, 6);
    g_assert_cmphex(b[12], ==, 0x2a);
    g_assert_cmphex(packet(f, short6, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmpuint(prdbc(f), ==, 6);

    const uint8_t unknown[12] = { 0x1a, 0, 0x05, 0, 100 };
    const uint8_t saved[12] = { 0x1a, 0, 0xea, 0, 100 };

    g_assert_true(packet(f, unknown, BUF, 256) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x052400);
    g_assert_true(packet(f, saved, BUF, 256) & (1u << 30));
    g_assert_cmphex(sense(f), ==, 0x053900);

    eject_disc(f);
    g_assert_cmphex(packet(f, caps, BUF, 256) & (1u << 30), ==, 0);
    g_assert_cmphex(b[1], ==, 0x70);        /* no disc */
}

static void test_resets(struct fixture *f, gconstpointer data)
{
    uint8_t *t = f->ram + CT;

    /* Software reset: SRST set, then cleared, in control FISes. */
    memset(f->ram + FB, 0, 256);
    issue_at(f, CT, 0, NULL, NULL, 0);
    t[1] = 0;
    t[15] = 4;
    wr(f, PX_CI, 1);
    t[15] = 0;
    wr(f, PX_CI, 1);
    g_assert_cmphex(rd(f, PX_CI), ==, 0);
    g_assert_cmphex(f->ram[FB + 0x40], ==, 0x34);
    g_assert_cmphex(f->ram[FB + 0x40 + 6], ==, 0xeb);
    g_assert_cmphex(rd(f, PX_SIG), ==, 0xeb140101);
    g_assert_cmphex(rd(f, PX_TFD) & 0x88, ==, 0);

    /* COMRESET through PxSCTL.DET. */
    wr(f, PX_SCTL, 1);
    g_assert_cmphex(rd(f, PX_SSTS) & 0xf, ==, 0);
    wr(f, PX_SCTL, 0);
    g_assert_cmphex(rd(f, PX_SSTS), ==, 0x113);
    g_assert_cmphex(rd(f, PX_TFD) & 0x88, ==, 0);

    /* HBA reset: ports stop, interrupts off, the addresses stay. */
    wr(f, 0x04, 0x80000001);
    g_assert_cmphex(rd(f, 0x04), ==, 0x80000000);
    g_assert_cmphex(rd(f, PX_CMD) & 0x11, ==, 0);
    g_assert_cmphex(rd(f, PX(0x00)), ==, CLB);
    g_assert_cmpint(f->irq.level, ==, 0);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(name, fn) g_test_add("/ahci/" name, struct fixture, NULL, setup, fn, teardown)
    ADD("registers", test_registers);
    ADD("identify", test_identify);
    ADD("inquiry-capacity", test_inquiry_capacity);
    ADD("read10-three-prds", test_read10_three_prds);
    ADD("out-of-range", test_out_of_range);
    ADD("bad-addresses", test_bad_addresses);
    ADD("interrupts", test_interrupts);
    ADD("media-change", test_media_change);
    ADD("toc-config-mode", test_toc_config_mode);
    ADD("read-cd", test_read_cd);
    ADD("dvd-structure", test_dvd_structure);
    ADD("track-info", test_track_info);
    ADD("format-capacities", test_format_capacities);
    ADD("mode-sense6", test_mode_sense6);
    ADD("resets", test_resets);
    return g_test_run();
}
