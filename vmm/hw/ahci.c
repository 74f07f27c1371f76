/* Intel ICH9 AHCI controller (AHCI 1.3.1) with ATAPI drives on its ports.
 * Commands run on the vCPU that writes PxCI: the command header, FIS and
 * PRDT are read through the checked guest-memory accessor, so a command
 * that points outside RAM ends with a task file error and nothing else. */
#include "ahci.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Generic host control. */
#define HOST_CAP  0x00
#define HOST_GHC  0x04
#define HOST_IS   0x08
#define HOST_PI   0x0c
#define HOST_VS   0x10
#define HOST_CAP2 0x24

#define CAP_S64A  (1u << 31)
#define CAP_SCLO  (1u << 24)
#define CAP_ISS_GEN1 (1u << 20)
#define CAP_SAM   (1u << 18)
#define CAP_NCS_32 (31u << 8)

#define GHC_HR (1u << 0)
#define GHC_IE (1u << 1)
#define GHC_AE (1u << 31)

/* Port registers, 0x80 apart from 0x100. */
#define PORT_BASE   0x100
#define PORT_STRIDE 0x80
#define PX_CLB  0x00
#define PX_CLBU 0x04
#define PX_FB   0x08
#define PX_FBU  0x0c
#define PX_IS   0x10
#define PX_IE   0x14
#define PX_CMD  0x18
#define PX_TFD  0x20
#define PX_SIG  0x24
#define PX_SSTS 0x28
#define PX_SCTL 0x2c
#define PX_SERR 0x30
#define PX_SACT 0x34
#define PX_CI   0x38
#define PX_SNTF 0x3c

#define CMD_ST    (1u << 0)
#define CMD_SUD   (1u << 1)
#define CMD_POD   (1u << 2)
#define CMD_CLO   (1u << 3)
#define CMD_FRE   (1u << 4)
#define CMD_CCS_SHIFT 8
#define CMD_FR    (1u << 14)
#define CMD_CR    (1u << 15)
#define CMD_ATAPI (1u << 24)
#define CMD_DLAE  (1u << 25)

#define IS_DHRS (1u << 0)
#define IS_PSS  (1u << 1)
#define IS_DPS  (1u << 5)
#define IS_TFES (1u << 30)
#define IE_MASK 0xfdc000ffu

#define SSTS_LINK_UP 0x113      /* device present, Gen1, active */
#define SIG_ATAPI 0xeb140101u

/* ATA status and error bits. */
#define ST_ERR  0x01
#define ST_DRQ  0x08
#define ST_DSC  0x10
#define ST_DRDY 0x40
#define ST_BSY  0x80
#define ERR_ABRT 0x04

#define FIS_REG_H2D 0x27
#define FIS_REG_D2H 0x34
#define FIS_PIO_SETUP 0x5f
#define RX_PIO_SETUP 0x20
#define RX_D2H 0x40

#define CT_ACMD 0x40
#define CT_PRDT 0x80
#define PRD_DBC_MASK 0x3fffffu
#define PRD_IOC (1u << 31)

#define ATA_NOP 0x00
#define ATA_DEVICE_RESET 0x08
#define ATA_PACKET 0xa0
#define ATA_IDENTIFY_PACKET 0xa1
#define ATA_STANDBY_IMMEDIATE 0xe0
#define ATA_IDLE_IMMEDIATE 0xe1
#define ATA_CHECK_POWER_MODE 0xe5
#define ATA_FLUSH_CACHE 0xe7
#define ATA_IDENTIFY 0xec
#define ATA_SET_FEATURES 0xef

#define MSI_CAP 0x80
#define AHCI_MAX_IOV 256

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t addr64(uint32_t lo, uint32_t hi)
{
    return (uint64_t)hi << 32 | lo;
}

/* ---- interrupts ---- */

static uint32_t host_is(const struct ahci *a)
{
    uint32_t is = 0;

    for (unsigned p = 0; p < AHCI_PORTS; p++)
        if (a->port[p].is & a->port[p].ie)
            is |= 1u << p;
    return is;
}

/* Called with the lock held after PxIS, PxIE, GHC or the PCI state
 * changed; fresh says a port has just raised something new, which is when
 * a message is sent. */
static void update_irq(struct ahci *a, bool fresh)
{
    bool pending = host_is(a) && (a->ghc & GHC_IE);
    int level = 0;

    if (a->msi_enabled) {
        if (fresh && pending && a->msi.signal)
            a->msi.signal(a->msi.opaque, 0, a->msi_addr, a->msi_data);
    } else {
        level = pending && !a->intx_disabled;
    }
    if (level != a->intx_level) {
        a->intx_level = level;
        irq_set(&a->intx, level);
    }
}

static void bad_address(struct ahci *a, unsigned p, const char *what, uint64_t gpa)
{
    if (a->warned_bad_addr)
        return;
    a->warned_bad_addr = true;
    log_warn("ahci: port %u: the guest's %s at 0x%llx is not in RAM; the command fails "
             "(logged once)", p, what, (unsigned long long)gpa);
}

/* ---- FISes the device sends ---- */

static void post_fis(struct ahci *a, unsigned p, unsigned off, const uint8_t *fis, size_t len)
{
    struct ahci_port *pt = &a->port[p];
    uint64_t fb = addr64(pt->fb & ~0xffu, pt->fbu);

    if (!(pt->cmd & CMD_FRE))
        return;
    if (gmem_write(a->mem, fb + off, fis, len) < 0)
        bad_address(a, p, "received-FIS area", fb);
}

/* The ending status of a command, or a reset's signature (sig true). */
static void post_d2h(struct ahci *a, unsigned p, uint8_t status, uint8_t error, bool sig, uint8_t count)
{
    struct ahci_port *pt = &a->port[p];
    uint8_t f[20] = { FIS_REG_D2H, 0x40, status, error };

    if (sig) {
        f[4] = (uint8_t)(SIG_ATAPI >> 8);
        f[5] = (uint8_t)(SIG_ATAPI >> 16);
        f[6] = (uint8_t)(SIG_ATAPI >> 24);
        f[12] = (uint8_t)SIG_ATAPI;
    } else {
        f[12] = count;
    }
    post_fis(a, p, RX_D2H, f, sizeof(f));
    pt->tfd = (uint32_t)error << 8 | status;
    pt->is |= IS_DHRS;
    if (status & ST_ERR) {
        pt->is |= IS_TFES;
        pt->failed = true;
    }
}

static void post_pio_setup(struct ahci *a, unsigned p, uint8_t status, uint32_t bytes)
{
    uint8_t f[20] = { FIS_PIO_SETUP, 0x60, status | ST_DRQ, 0 };

    f[15] = status;
    f[16] = (uint8_t)bytes;
    f[17] = (uint8_t)(bytes >> 8);
    post_fis(a, p, RX_PIO_SETUP, f, sizeof(f));
    a->port[p].is |= IS_PSS;
}

/* The device after a reset: signature in PxSIG and the FIS area. */
static void device_reset(struct ahci *a, unsigned p)
{
    struct ahci_port *pt = &a->port[p];

    pt->srst = false;
    if (!pt->cd)
        return;
    atapi_reset(pt->cd);
    pt->sig = SIG_ATAPI;
    post_d2h(a, p, 0x00, 0x01, true, 0);
}

/* ---- data: the PRDT of a command table ---- */

struct prd {
    uint64_t addr;
    uint32_t len;
    bool ioc;
};

static int read_prd(struct ahci *a, unsigned p, uint64_t ctba, unsigned i, struct prd *d)
{
    uint8_t e[16];
    uint64_t at = ctba + CT_PRDT + 16ull * i;

    if (gmem_read(a->mem, at, e, sizeof(e)) < 0) {
        bad_address(a, p, "PRDT", at);
        return -EFAULT;
    }
    d->addr = addr64(le32(e), le32(e + 4));
    d->len = (le32(e + 12) & PRD_DBC_MASK) + 1;
    d->ioc = le32(e + 12) & PRD_IOC;
    return 0;
}

/* Copies len bytes of src into the regions the PRDT lists; what does not
 * fit is dropped, as a short PRDT gets no more. */
static int prdt_copy_in(struct ahci *a, unsigned p, uint64_t ctba, unsigned prdtl, const uint8_t *src,
                        size_t len, uint32_t *done, bool *ioc)
{
    for (unsigned i = 0; i < prdtl && *done < len; i++) {
        struct prd d;
        size_t n;

        if (read_prd(a, p, ctba, i, &d) < 0)
            return -EFAULT;
        n = len - *done < d.len ? len - *done : d.len;
        if (gmem_write(a->mem, d.addr, src + *done, n) < 0) {
            bad_address(a, p, "data buffer", d.addr);
            return -EFAULT;
        }
        *done += (uint32_t)n;
        *ioc |= d.ioc;
    }
    return 0;
}

/* Reads len bytes of the image from off straight into the PRDT's regions,
 * a batch of regions to a system call. -EFAULT for a region outside RAM,
 * -EIO when the image cannot be read. */
static int prdt_read_image(struct ahci *a, unsigned p, struct atapi_cd *cd, uint64_t ctba, unsigned prdtl,
                           uint64_t off, uint64_t len, uint64_t *done, bool *ioc)
{
    uint64_t batch = 0;
    int n_iov = 0;

    for (unsigned i = 0; i < prdtl && *done + batch < len; i++) {
        struct prd d;
        uint64_t n;
        void *hva;

        if (read_prd(a, p, ctba, i, &d) < 0)
            return -EFAULT;
        n = len - *done - batch < d.len ? len - *done - batch : d.len;
        hva = gmem_ptr(a->mem, d.addr, n);
        if (!hva) {
            bad_address(a, p, "data buffer", d.addr);
            return -EFAULT;
        }
        a->iov[n_iov++] = (struct iovec){ hva, (size_t)n };
        batch += n;
        *ioc |= d.ioc;
        if (n_iov == AHCI_MAX_IOV) {
            if (blk_preadv(&cd->disk, a->iov, n_iov, off + *done) < 0)
                return -EIO;
            *done += batch;
            batch = 0;
            n_iov = 0;
        }
    }
    if (n_iov) {
        if (blk_preadv(&cd->disk, a->iov, n_iov, off + *done) < 0)
            return -EIO;
        *done += batch;
    }
    return 0;
}

/* ---- commands ---- */

struct cmd {
    unsigned slot;
    uint64_t header;    /* guest address of the command header */
    uint64_t ctba;
    unsigned prdtl;
    uint32_t prdbc;     /* bytes moved */
    bool ioc;
};

static void fail(struct ahci *a, unsigned p, uint8_t error)
{
    post_d2h(a, p, ST_DRDY | ST_DSC | ST_ERR, error, false, 0);
}

static void succeed(struct ahci *a, unsigned p, uint8_t count)
{
    post_d2h(a, p, ST_DRDY | ST_DSC, 0, false, count);
}

static void packet(struct ahci *a, unsigned p, struct cmd *c)
{
    struct ahci_port *pt = &a->port[p];
    struct atapi_cd *cd = pt->cd;
    uint8_t cdb[ATAPI_CDB_LEN];
    struct atapi_xfer x;
    uint64_t acmd = c->ctba + CT_ACMD;
    int r = 0;

    if (gmem_read(a->mem, acmd, cdb, sizeof(cdb)) < 0) {
        bad_address(a, p, "ATAPI command", acmd);
        fail(a, p, ERR_ABRT);
        return;
    }
    if (!atapi_packet(cd, cdb, a->scratch, &x)) {
        fail(a, p, atapi_error_reg(cd));
        return;
    }
    if (x.from_image) {
        uint64_t done = 0;

        r = prdt_read_image(a, p, cd, c->ctba, c->prdtl, x.image_off, x.image_len, &done, &c->ioc);
        c->prdbc = done > UINT32_MAX ? UINT32_MAX : (uint32_t)done;
        if (r == -EIO) {
            atapi_set_sense(cd, ATAPI_SK_MEDIUM_ERROR, ATAPI_ASC_READ_ERROR);
            fail(a, p, atapi_error_reg(cd));
            return;
        }
    } else if (x.len) {
        r = prdt_copy_in(a, p, c->ctba, c->prdtl, a->scratch, x.len, &c->prdbc, &c->ioc);
    }
    if (r < 0) {
        fail(a, p, ERR_ABRT);
        return;
    }
    succeed(a, p, 0x03);    /* interrupt reason: command done, to host */
}

static void ata_command(struct ahci *a, unsigned p, struct cmd *c, const uint8_t *fis)
{
    struct ahci_port *pt = &a->port[p];

    switch (fis[2]) {
    case ATA_PACKET:
        packet(a, p, c);
        return;
    case ATA_IDENTIFY_PACKET: {
        uint8_t id[512];

        atapi_identify(pt->cd, id);
        if (prdt_copy_in(a, p, c->ctba, c->prdtl, id, sizeof(id), &c->prdbc, &c->ioc) < 0) {
            fail(a, p, ERR_ABRT);
            return;
        }
        post_pio_setup(a, p, ST_DRDY | ST_DSC, sizeof(id));
        succeed(a, p, 0);
        return;
    }
    case ATA_IDENTIFY:
        /* A packet device aborts it and shows its signature (ATA8-ACS 7.16). */
        pt->sig = SIG_ATAPI;
        post_d2h(a, p, ST_DRDY | ST_ERR, ERR_ABRT, true, 0);
        return;
    case ATA_DEVICE_RESET:
        device_reset(a, p);
        return;
    case ATA_CHECK_POWER_MODE:
        succeed(a, p, 0xff);    /* active */
        return;
    case ATA_SET_FEATURES:
    case ATA_IDLE_IMMEDIATE:
    case ATA_STANDBY_IMMEDIATE:
    case ATA_FLUSH_CACHE:
        succeed(a, p, 0);
        return;
    default:
        fail(a, p, ERR_ABRT);
        return;
    }
}

/* Runs the command in slot; false when it ended in an error, after which
 * the port processes nothing more until the guest issues again. */
static bool run_slot(struct ahci *a, unsigned p, unsigned slot)
{
    struct ahci_port *pt = &a->port[p];
    struct cmd c = { .slot = slot };
    uint8_t hdr[16], fis[20], bc[4];
    uint32_t dw0;

    pt->failed = false;
    c.header = addr64(pt->clb & ~0x3ffu, pt->clbu) + 32ull * slot;
    pt->cmd = (pt->cmd & ~(0x1fu << CMD_CCS_SHIFT)) | slot << CMD_CCS_SHIFT;
    if (gmem_read(a->mem, c.header, hdr, sizeof(hdr)) < 0) {
        bad_address(a, p, "command list", c.header);
        fail(a, p, ERR_ABRT);
        return false;
    }
    dw0 = le32(hdr);
    c.prdtl = dw0 >> 16;
    c.ctba = addr64(le32(hdr + 8) & ~0x7fu, le32(hdr + 12));
    if (!a->bus_master) {
        if (!a->warned_no_bus_master)
            log_warn("ahci: port %u: a command was issued with bus mastering off; it fails (logged once)", p);
        a->warned_no_bus_master = true;
        fail(a, p, ERR_ABRT);
        return false;
    }
    if ((dw0 & 0x1f) < 5 || gmem_read(a->mem, c.ctba, fis, sizeof(fis)) < 0 || fis[0] != FIS_REG_H2D) {
        if ((dw0 & 0x1f) >= 5 && !gmem_is_ram(a->mem, c.ctba, sizeof(fis)))
            bad_address(a, p, "command table", c.ctba);
        fail(a, p, ERR_ABRT);
        return false;
    }
    if (!(fis[1] & 0x80)) {
        /* Device control: SRST set, then cleared, is a software reset. */
        if (fis[15] & 0x04)
            pt->srst = true;
        else if (pt->srst)
            device_reset(a, p);
    } else if (!pt->cd) {
        fail(a, p, ERR_ABRT);
    } else {
        ata_command(a, p, &c, fis);
    }
    bc[0] = (uint8_t)c.prdbc;
    bc[1] = (uint8_t)(c.prdbc >> 8);
    bc[2] = (uint8_t)(c.prdbc >> 16);
    bc[3] = (uint8_t)(c.prdbc >> 24);
    gmem_write(a->mem, c.header + 4, bc, sizeof(bc));
    if (c.ioc)
        pt->is |= IS_DPS;
    return !pt->failed;
}

static void process(struct ahci *a, unsigned p)
{
    struct ahci_port *pt = &a->port[p];

    if (!(pt->cmd & CMD_ST))
        return;
    for (unsigned slot = 0; slot < 32 && pt->ci; slot++) {
        uint32_t bit = 1u << slot;
        bool ok;

        if (!(pt->ci & bit))
            continue;
        ok = run_slot(a, p, slot);
        pt->ci &= ~bit;
        pt->sact &= ~bit;
        update_irq(a, true);
        if (!ok)
            break;
    }
}

/* ---- registers ---- */

static void port_reset_regs(struct ahci_port *pt)
{
    pt->is = pt->ie = pt->serr = pt->sact = pt->ci = pt->sctl = 0;
    pt->cmd = CMD_SUD | CMD_POD;
    pt->srst = false;
    if (pt->cd) {
        pt->ssts = SSTS_LINK_UP;
        pt->sig = SIG_ATAPI;
        pt->tfd = 0x0100;
        pt->cmd |= CMD_ATAPI;
    } else {
        pt->ssts = 0;
        pt->sig = 0xffffffffu;
        pt->tfd = 0x7f;
    }
}

static void hba_reset(struct ahci *a)
{
    a->ghc = GHC_AE;
    for (unsigned p = 0; p < AHCI_PORTS; p++) {
        port_reset_regs(&a->port[p]);
        if (a->port[p].cd)
            atapi_reset(a->port[p].cd);
    }
    update_irq(a, false);
}

static uint32_t port_read(struct ahci *a, unsigned p, unsigned reg)
{
    struct ahci_port *pt = &a->port[p];

    switch (reg) {
    case PX_CLB: return pt->clb;
    case PX_CLBU: return pt->clbu;
    case PX_FB: return pt->fb;
    case PX_FBU: return pt->fbu;
    case PX_IS: return pt->is;
    case PX_IE: return pt->ie;
    case PX_CMD: return pt->cmd;
    case PX_TFD: return pt->tfd;
    case PX_SIG: return pt->sig;
    case PX_SSTS: return pt->ssts;
    case PX_SCTL: return pt->sctl;
    case PX_SERR: return pt->serr;
    case PX_SACT: return pt->sact;
    case PX_CI: return pt->ci;
    default: return 0;
    }
}

static void cmd_write(struct ahci *a, unsigned p, uint32_t v)
{
    struct ahci_port *pt = &a->port[p];
    const uint32_t rw = CMD_ST | CMD_FRE | CMD_ATAPI | CMD_DLAE;

    pt->cmd = (pt->cmd & ~rw) | (v & rw);
    if (v & CMD_CLO)
        pt->tfd &= ~(uint32_t)(ST_BSY | ST_DRQ);
    pt->cmd = (pt->cmd & ~(CMD_CR | CMD_FR)) | (pt->cmd & CMD_ST ? CMD_CR : 0) |
              (pt->cmd & CMD_FRE ? CMD_FR : 0);
    if (!(pt->cmd & CMD_ST)) {
        pt->ci = 0;
        pt->sact = 0;
        pt->cmd &= ~(0x1fu << CMD_CCS_SHIFT);
    }
    process(a, p);
}

static void sctl_write(struct ahci *a, unsigned p, uint32_t v)
{
    struct ahci_port *pt = &a->port[p];
    unsigned was = pt->sctl & 0xf, det = v & 0xf;

    pt->sctl = v & 0xfff;
    if (det == 1) {
        /* COMRESET: the link is down until DET goes back to 0. */
        pt->ssts = 0;
        pt->tfd = 0x80;
    } else if (was == 1 && det == 0) {
        pt->ssts = pt->cd ? SSTS_LINK_UP : 0;
        pt->tfd = pt->cd ? 0x0100 : 0x7f;
        if (pt->cd) {
            device_reset(a, p);
            update_irq(a, true);
        }
    }
}

static void port_write(struct ahci *a, unsigned p, unsigned reg, uint32_t v, uint32_t mask)
{
    struct ahci_port *pt = &a->port[p];
    uint32_t cur = port_read(a, p, reg), nv = (cur & ~mask) | (v & mask);

    switch (reg) {
    case PX_CLB: pt->clb = nv & ~0x3ffu; break;
    case PX_CLBU: pt->clbu = nv; break;
    case PX_FB: pt->fb = nv & ~0xffu; break;
    case PX_FBU: pt->fbu = nv; break;
    case PX_IS:
        pt->is &= ~(v & mask);
        update_irq(a, false);
        break;
    case PX_IE:
        pt->ie = nv & IE_MASK;
        update_irq(a, true);
        break;
    case PX_CMD: cmd_write(a, p, nv); break;
    case PX_SCTL: sctl_write(a, p, nv); break;
    case PX_SERR: pt->serr &= ~(v & mask); break;
    case PX_SACT:
        if (pt->cmd & CMD_ST)
            pt->sact |= v & mask;
        break;
    case PX_CI:
        if (pt->cmd & CMD_ST) {
            pt->ci |= v & mask;
            process(a, p);
        }
        break;
    default:
        break;
    }
}

static uint32_t reg_read(struct ahci *a, unsigned off)
{
    if (off >= PORT_BASE) {
        unsigned p = (off - PORT_BASE) / PORT_STRIDE;

        return p < AHCI_PORTS ? port_read(a, p, (off - PORT_BASE) % PORT_STRIDE) : 0;
    }
    switch (off) {
    case HOST_CAP:
        return CAP_S64A | CAP_SCLO | CAP_ISS_GEN1 | CAP_SAM | CAP_NCS_32 | (AHCI_PORTS - 1);
    case HOST_GHC: return a->ghc;
    case HOST_IS: return host_is(a);
    case HOST_PI: return (1u << AHCI_PORTS) - 1;
    case HOST_VS: return 0x00010301;
    default: return 0;
    }
}

static void reg_write(struct ahci *a, unsigned off, uint32_t v, uint32_t mask)
{
    if (off >= PORT_BASE) {
        unsigned p = (off - PORT_BASE) / PORT_STRIDE;

        if (p < AHCI_PORTS)
            port_write(a, p, (off - PORT_BASE) % PORT_STRIDE, v, mask);
        return;
    }
    if (off == HOST_GHC) {
        uint32_t nv = (a->ghc & ~mask) | (v & mask);

        if (nv & GHC_HR) {
            hba_reset(a);
            return;
        }
        a->ghc = GHC_AE | (nv & GHC_IE);
        update_irq(a, true);
    }
    /* IS follows the ports' PxIS; clearing those clears it. */
}

static uint32_t abar_reg_read(void *opaque, unsigned reg)
{
    return reg_read(opaque, reg);
}

static void abar_reg_write(void *opaque, unsigned reg, uint32_t v, uint32_t mask)
{
    reg_write(opaque, reg, v, mask);
}

static void abar_read(void *opaque, uint64_t offset, uint8_t *data, unsigned size)
{
    struct ahci *a = opaque;

    memset(data, 0, size);
    if (size > 8 || offset >= AHCI_ABAR_SIZE)
        return;
    pthread_mutex_lock(&a->lock);
    bus_regs32_read(offset, data, size, AHCI_ABAR_SIZE, abar_reg_read, a);
    pthread_mutex_unlock(&a->lock);
}

static void abar_write(void *opaque, uint64_t offset, const uint8_t *data, unsigned size)
{
    struct ahci *a = opaque;

    if (size > 8 || offset >= AHCI_ABAR_SIZE)
        return;
    pthread_mutex_lock(&a->lock);
    bus_regs32_write(offset, data, size, AHCI_ABAR_SIZE, abar_reg_write, a);
    pthread_mutex_unlock(&a->lock);
}

const struct bus_ops ahci_abar_ops = { .read = abar_read, .write = abar_write };

/* ---- PCI ---- */

static void config_written(struct pci_dev *dev, unsigned off, unsigned size)
{
    struct ahci *a = dev->opaque;
    const uint8_t *c = dev->cfg;

    pthread_mutex_lock(&a->lock);
    a->bus_master = c[PCI_COMMAND] & 0x04;
    a->intx_disabled = c[PCI_COMMAND + 1] & 0x04;
    a->msi_enabled = c[MSI_CAP + 2] & 1;
    a->msi_addr = addr64(pci_get32(&c[MSI_CAP + 4]), pci_get32(&c[MSI_CAP + 8]));
    a->msi_data = c[MSI_CAP + 12] | (uint32_t)c[MSI_CAP + 13] << 8;
    update_irq(a, false);
    pthread_mutex_unlock(&a->lock);
}

static const struct pci_dev_ops ahci_pci_ops = { .config_written = config_written };

static void pci_setup(struct ahci *a)
{
    struct pci_dev *d = &a->pci;

    pci_set16(&d->cfg[PCI_VENDOR_ID], 0x8086);
    pci_set16(&d->cfg[PCI_DEVICE_ID], 0x2922);
    d->cfg[PCI_REVISION] = 0x02;
    d->cfg[PCI_CLASS_PROG] = 0x01;          /* AHCI 1.0 */
    d->cfg[PCI_CLASS_PROG + 1] = 0x06;      /* SATA */
    d->cfg[PCI_CLASS_PROG + 2] = 0x01;      /* mass storage */
    pci_set16(&d->cfg[PCI_SUBSYS_VENDOR], 0x1af4);
    pci_set16(&d->cfg[PCI_SUBSYS_ID], 0x1100);
    pci_set16(&d->wmask[PCI_COMMAND], 0x0406);  /* memory, bus master, INTx off */
    d->cfg[PCI_STATUS] = 0x10;                  /* capability list */
    d->cfg[0x3d] = 1;                           /* INTA */
    d->wmask[0x3c] = 0xff;
    d->cfg[0x34] = MSI_CAP;
    /* MSI, one vector, 64-bit addresses. */
    d->cfg[MSI_CAP] = 0x05;
    d->cfg[MSI_CAP + 1] = 0;
    pci_set16(&d->cfg[MSI_CAP + 2], 0x0080);
    d->wmask[MSI_CAP + 2] = 0x71;
    pci_set32(&d->wmask[MSI_CAP + 4], 0xfffffffc);
    pci_set32(&d->wmask[MSI_CAP + 8], 0xffffffff);
    pci_set16(&d->wmask[MSI_CAP + 12], 0xffff);
    d->ops = &ahci_pci_ops;
    d->opaque = a;
    d->name = "ahci";
}

struct ahci *ahci_new(const struct gmem *mem, struct msi_sink msi, struct irq_line intx)
{
    struct ahci *a = calloc(1, sizeof(*a));

    if (!a)
        return NULL;
    a->iov = calloc(AHCI_MAX_IOV, sizeof(*a->iov));
    if (!a->iov) {
        free(a);
        return NULL;
    }
    pthread_mutex_init(&a->lock, NULL);
    a->mem = mem;
    a->msi = msi;
    a->intx = intx;
    pci_setup(a);
    if (pci_dev_set_bar(&a->pci, AHCI_ABAR_BAR, AHCI_ABAR_SIZE, 0, &ahci_abar_ops, a) < 0) {
        ahci_free(a);
        return NULL;
    }
    hba_reset(a);
    return a;
}

void ahci_free(struct ahci *a)
{
    if (!a)
        return;
    for (unsigned p = 0; p < AHCI_PORTS; p++) {
        if (a->port[p].cd) {
            atapi_destroy(a->port[p].cd);
            free(a->port[p].cd);
        }
    }
    pthread_mutex_destroy(&a->lock);
    free(a->iov);
    free(a);
}

int ahci_attach_cdrom(struct ahci *a, unsigned p, const char *serial)
{
    struct atapi_cd *cd;

    if (p >= AHCI_PORTS || a->port[p].cd)
        return -EINVAL;
    cd = calloc(1, sizeof(*cd));
    if (!cd)
        return -ENOMEM;
    atapi_init(cd, serial);
    pthread_mutex_lock(&a->lock);
    a->port[p].cd = cd;
    port_reset_regs(&a->port[p]);
    pthread_mutex_unlock(&a->lock);
    return 0;
}

int ahci_change_cdrom(struct ahci *a, unsigned p, const char *path, bool force, char *err, size_t errlen)
{
    struct atapi_cd *cd = p < AHCI_PORTS ? a->port[p].cd : NULL;
    struct blk_backend disc = { .fd = -1 };
    int r;

    if (!cd) {
        snprintf(err, errlen, "there is no CD-ROM drive on AHCI port %u", p);
        return -ENODEV;
    }
    /* Opened before the lock is taken: a slow file system stalls no vCPU. */
    if (path) {
        r = atapi_open_medium(&disc, path, err, errlen);
        if (r < 0)
            return r;
    }
    pthread_mutex_lock(&a->lock);
    if (cd->locked && !force) {
        pthread_mutex_unlock(&a->lock);
        blk_close(&disc);
        snprintf(err, errlen, "the guest has locked the CD-ROM tray (use force to %s anyway)",
                 path ? "change the disc" : "eject");
        return -EBUSY;
    }
    atapi_insert(cd, &disc);
    pthread_mutex_unlock(&a->lock);
    return 0;
}

bool ahci_cdrom_loaded(struct ahci *a, unsigned p)
{
    struct atapi_cd *cd = p < AHCI_PORTS ? a->port[p].cd : NULL;
    bool loaded;

    if (!cd)
        return false;
    pthread_mutex_lock(&a->lock);
    loaded = atapi_has_medium(cd);
    pthread_mutex_unlock(&a->lock);
    return loaded;
}

void ahci_reset(struct ahci *a)
{
    pthread_mutex_lock(&a->lock);
    hba_reset(a);
    pthread_mutex_unlock(&a->lock);
}
