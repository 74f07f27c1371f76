/* ACPI table builder (ACPI 6.x layouts). The same tables serve directly
 * booted kernels (placed in the BIOS area, found through the RSDP) and
 * firmware, which gets them through fw_cfg with a loader script that says
 * where the pointers and checksums are. */
#include "acpi.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "../../fw/fw_cfg.h"

#define HDR_LEN 36

struct builder {
    struct acpi_tables *t;
    size_t cap;
    uint64_t base;
    int err;
};

uint8_t acpi_checksum(const uint8_t *p, size_t len)
{
    uint8_t sum = 0;

    for (size_t i = 0; i < len; i++)
        sum = (uint8_t)(sum + p[i]);
    return (uint8_t)-sum;
}

static void put(uint8_t *p, uint64_t v, unsigned n)
{
    for (unsigned i = 0; i < n; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Reserves len bytes at the given alignment; returns the offset. */
static size_t reserve(struct builder *b, size_t len, size_t align)
{
    struct acpi_tables *t = b->t;
    size_t off = (t->len + align - 1) & ~(align - 1);

    if (b->err)
        return 0;
    if (off + len > b->cap) {
        size_t cap = (off + len) * 2;
        uint8_t *n = realloc(t->blob, cap);

        if (!n) {
            b->err = -ENOMEM;
            return 0;
        }
        memset(n + b->cap, 0, cap - b->cap);
        t->blob = n;
        b->cap = cap;
    }
    t->len = off + len;
    return off;
}

static void header(uint8_t *p, const char *sig, uint32_t len, uint8_t rev)
{
    memcpy(p, sig, 4);
    put(p + 4, len, 4);
    p[8] = rev;
    memcpy(p + 10, "NOOK  ", 6);
    memcpy(p + 16, "NOOKPC  ", 8);
    put(p + 24, 1, 4);
    memcpy(p + 28, "NOOK", 4);
    put(p + 32, 1, 4);
}

/* Records a pointer field (in the blob, or in the RSDP) holding the offset
 * of target in the blob; base is added for an absolute address. */
static void pointer(struct builder *b, uint8_t *field, uint32_t field_off, bool in_rsdp,
                    unsigned size, size_t target)
{
    struct acpi_tables *t = b->t;

    put(field, b->base + target, size);
    if (t->nptr < ACPI_MAX_POINTERS)
        t->ptr[t->nptr++] = (typeof(t->ptr[0])){ field_off, (uint8_t)size, in_rsdp };
    else
        b->err = -ENOSPC;
}

static void finish(struct builder *b, size_t off, size_t len)
{
    struct acpi_tables *t = b->t;

    if (b->err)
        return;
    t->blob[off + 9] = 0;
    t->blob[off + 9] = acpi_checksum(t->blob + off, len);
    if (t->ntables < ACPI_MAX_TABLES)
        t->table[t->ntables++] = (typeof(t->table[0])){ (uint32_t)off, (uint32_t)len };
    else
        b->err = -ENOSPC;
}

/* Generic address structure for a system I/O register. */
static void gas_io(uint8_t *p, uint8_t bits, uint64_t port, uint8_t access)
{
    p[0] = 1;               /* system I/O */
    p[1] = bits;
    p[2] = 0;
    p[3] = access;          /* 1 byte, 2 word, 3 dword */
    put(p + 4, port, 8);
}

static size_t build_madt(struct builder *b, const struct acpi_config *cfg)
{
    size_t len = 44 + 8 * cfg->ncpus + 12 + 10 * 2 + 6;
    size_t off = reserve(b, len, 8);
    uint8_t *p;

    if (b->err)
        return 0;
    p = b->t->blob + off;
    header(p, "APIC", (uint32_t)len, 5);
    put(p + 36, 0xfee00000, 4);
    put(p + 40, 1, 4);                  /* PCAT_COMPAT: there are 8259s */
    p += 44;
    for (unsigned i = 0; i < cfg->ncpus; i++, p += 8) {
        p[0] = 0;                       /* processor local APIC */
        p[1] = 8;
        p[2] = (uint8_t)i;              /* ACPI processor UID */
        p[3] = (uint8_t)i;              /* APIC id */
        put(p + 4, 1, 4);               /* enabled */
    }
    p[0] = 1;                           /* I/O APIC */
    p[1] = 12;
    p[2] = 0;
    put(p + 4, 0xfec00000, 4);
    put(p + 8, 0, 4);
    p += 12;
    /* ISA IRQ 0 is on GSI 2; the SCI is level triggered, active high. */
    p[0] = 2; p[1] = 10; p[2] = 0; p[3] = 0; put(p + 4, 2, 4); put(p + 8, 0, 2);
    p += 10;
    p[0] = 2; p[1] = 10; p[2] = 0; p[3] = cfg->sci_irq; put(p + 4, cfg->sci_irq, 4);
    put(p + 8, 0x000d, 2);
    p += 10;
    p[0] = 4; p[1] = 6; p[2] = 0xff;    /* LINT1 of every CPU is NMI */
    put(p + 3, 0, 2);
    p[5] = 1;
    finish(b, off, len);
    return off;
}

static size_t build_mcfg(struct builder *b, const struct acpi_config *cfg)
{
    size_t len = 44 + 16, off = reserve(b, len, 8);
    uint8_t *p;

    if (b->err)
        return 0;
    p = b->t->blob + off;
    header(p, "MCFG", (uint32_t)len, 1);
    put(p + 44, cfg->ecam_base, 8);
    put(p + 52, 0, 2);                  /* segment */
    p[54] = 0;                          /* first bus */
    /* Last bus: only bus 0 exists. Linux probes every bus up to this one
     * for peer host bridges through CF8/CFC (32 slots each), which on a
     * range of 256 costs 16,000 VM exits at boot for nothing. */
    p[55] = 0;
    finish(b, off, len);
    return off;
}

static size_t build_fadt(struct builder *b, const struct acpi_config *cfg, size_t facs, size_t dsdt)
{
    size_t len = 276, off = reserve(b, len, 8);
    uint8_t *p;

    if (b->err)
        return 0;
    p = b->t->blob + off;
    header(p, "FACP", (uint32_t)len, 6);
    p[131] = 0;     /* minor version */
    pointer(b, p + 36, (uint32_t)(off + 36), false, 4, facs);
    pointer(b, p + 40, (uint32_t)(off + 40), false, 4, dsdt);
    p[45] = 0;                              /* preferred PM profile: unspecified */
    put(p + 46, cfg->sci_irq, 2);
    /* SMI_CMD 0: the hardware is always in ACPI mode (SCI_EN reads 1). */
    put(p + 56, cfg->pm_base, 4);           /* PM1a_EVT_BLK */
    put(p + 64, cfg->pm_base + 4, 4);       /* PM1a_CNT_BLK */
    put(p + 76, cfg->pm_base + 8, 4);       /* PM_TMR_BLK */
    p[88] = 4;                              /* PM1_EVT_LEN */
    p[89] = 2;                              /* PM1_CNT_LEN */
    p[91] = 4;                              /* PM_TMR_LEN */
    put(p + 96, 0xffff, 2);                 /* P_LVL2_LAT: no C2 */
    put(p + 98, 0xffff, 2);                 /* P_LVL3_LAT: no C3 */
    p[108] = 0x32;                          /* CENTURY in CMOS */
    put(p + 109, 0x0003, 2);                /* IAPC_BOOT_ARCH: legacy devices, 8042 */
    /* WBINVD, PROC_C1, SLP_BUTTON (none), RESET_REG_SUP; the power button is
     * the fixed-feature one (PWR_BUTTON clear). */
    put(p + 112, (1u << 0) | (1u << 2) | (1u << 5) | (1u << 10), 4);
    gas_io(p + 116, 8, 0xcf9, 1);           /* RESET_REG */
    p[128] = 0x06;                          /* RESET_VALUE */
    /* X_FIRMWARE_CTRL stays 0: the FACS is below 4 GiB, and giving both
     * makes OSPMs see (and reserve) it twice. */
    pointer(b, p + 140, (uint32_t)(off + 140), false, 8, dsdt);     /* X_DSDT */
    gas_io(p + 148, 32, cfg->pm_base, 2);   /* X_PM1a_EVT_BLK */
    gas_io(p + 172, 16, cfg->pm_base + 4, 2);
    gas_io(p + 208, 32, cfg->pm_base + 8, 3);
    memcpy(p + 268, "NOOKNOOK", 8);         /* hypervisor vendor identity */
    finish(b, off, len);
    return off;
}

int acpi_build(const struct acpi_config *cfg, uint64_t base, struct acpi_tables *t)
{
    struct builder b = { t, 0, base, 0 };
    size_t facs, dsdt, fadt, madt, mcfg, xsdt;
    size_t tables[3];
    uint8_t *p;

    memset(t, 0, sizeof(*t));
    if (!cfg->dsdt || cfg->dsdt_len < HDR_LEN || cfg->ncpus == 0 || cfg->ncpus > 255)
        return -EINVAL;

    facs = reserve(&b, 64, 64);
    if (!b.err) {
        p = t->blob + facs;
        memcpy(p, "FACS", 4);
        put(p + 4, 64, 4);
        p[32] = 2;                          /* version */
    }
    dsdt = reserve(&b, cfg->dsdt_len, 8);
    if (!b.err) {
        memcpy(t->blob + dsdt, cfg->dsdt, cfg->dsdt_len);
        finish(&b, dsdt, cfg->dsdt_len);
    }
    fadt = build_fadt(&b, cfg, facs, dsdt);
    madt = build_madt(&b, cfg);
    mcfg = build_mcfg(&b, cfg);
    tables[0] = fadt;
    tables[1] = madt;
    tables[2] = mcfg;

    xsdt = reserve(&b, HDR_LEN + 8 * 3, 8);
    if (!b.err) {
        p = t->blob + xsdt;
        header(p, "XSDT", HDR_LEN + 8 * 3, 1);
        for (unsigned i = 0; i < 3; i++)
            pointer(&b, p + HDR_LEN + 8 * i, (uint32_t)(xsdt + HDR_LEN + 8 * i), false, 8, tables[i]);
        finish(&b, xsdt, HDR_LEN + 8 * 3);
    }
    if (b.err) {
        acpi_tables_free(t);
        return b.err;
    }

    p = t->rsdp;
    memcpy(p, "RSD PTR ", 8);
    memcpy(p + 9, "NOOK  ", 6);
    p[15] = 2;                              /* revision: ACPI 2.0+ */
    put(p + 20, 36, 4);
    pointer(&b, p + 24, 24, true, 8, xsdt);
    p[8] = acpi_checksum(p, 20);
    p[32] = acpi_checksum(p, 36);
    return b.err;
}

void acpi_tables_free(struct acpi_tables *t)
{
    free(t->blob);
    t->blob = NULL;
    t->len = 0;
}

/* Loader script entries: 128 bytes each, as QEMU's firmware expects. */
#define LOADER_ALLOCATE     1
#define LOADER_ADD_POINTER  2
#define LOADER_ADD_CHECKSUM 3
#define LOADER_ZONE_HIGH    1
#define LOADER_ZONE_FSEG    2
#define TABLES_FILE "etc/acpi/tables"
#define RSDP_FILE   "etc/acpi/rsdp"

static uint8_t *loader_entry(uint8_t *script, unsigned *n, uint32_t command)
{
    uint8_t *e = script + 128 * (*n)++;

    put(e, command, 4);
    return e + 4;
}

int acpi_add_fw_cfg(const struct acpi_config *cfg, struct fw_cfg *f)
{
    struct acpi_tables t;
    unsigned n = 0, max;
    uint8_t *script, *e;
    int r = acpi_build(cfg, 0, &t);

    if (r < 0)
        return r;
    max = 2 + t.nptr + t.ntables + 2;     /* allocations, pointers, checksums, RSDP's two */
    script = calloc(max, 128);
    if (!script) {
        acpi_tables_free(&t);
        return -ENOMEM;
    }
    e = loader_entry(script, &n, LOADER_ALLOCATE);
    strcpy((char *)e, TABLES_FILE);
    put(e + 56, 64, 4);
    e[60] = LOADER_ZONE_HIGH;
    e = loader_entry(script, &n, LOADER_ALLOCATE);
    strcpy((char *)e, RSDP_FILE);
    put(e + 56, 16, 4);
    e[60] = LOADER_ZONE_FSEG;

    /* Pointers first, then checksums over the patched tables. */
    for (unsigned i = 0; i < t.nptr; i++) {
        e = loader_entry(script, &n, LOADER_ADD_POINTER);
        strcpy((char *)e, t.ptr[i].in_rsdp ? RSDP_FILE : TABLES_FILE);
        strcpy((char *)e + 56, TABLES_FILE);
        put(e + 112, t.ptr[i].offset, 4);
        e[116] = t.ptr[i].size;
    }
    for (unsigned i = 0; i < t.ntables; i++) {
        e = loader_entry(script, &n, LOADER_ADD_CHECKSUM);
        strcpy((char *)e, TABLES_FILE);
        put(e + 56, t.table[i].start + 9, 4);
        put(e + 60, t.table[i].start, 4);
        put(e + 64, t.table[i].length, 4);
    }
    e = loader_entry(script, &n, LOADER_ADD_CHECKSUM);
    strcpy((char *)e, RSDP_FILE);
    put(e + 56, 8, 4);
    put(e + 60, 0, 4);
    put(e + 64, 20, 4);
    /* The extended checksum (offset 32, over 36 bytes) comes after the
     * first, since it covers that one too. */
    e = loader_entry(script, &n, LOADER_ADD_CHECKSUM);
    strcpy((char *)e, RSDP_FILE);
    put(e + 56, 32, 4);
    put(e + 60, 0, 4);
    put(e + 64, 36, 4);

    /* The checksums in the blob were computed for offsets; zero them so
     * the loader's "subtract the sum" gives the right result. */
    for (unsigned i = 0; i < t.ntables; i++)
        t.blob[t.table[i].start + 9] = 0;
    t.rsdp[8] = 0;
    t.rsdp[32] = 0;

    r = fw_cfg_add_file(f, TABLES_FILE, t.blob, (uint32_t)t.len);
    if (!r)
        r = fw_cfg_add_file(f, RSDP_FILE, t.rsdp, sizeof(t.rsdp));
    if (!r)
        r = fw_cfg_add_file(f, "etc/table-loader", script, n * 128);
    free(script);
    acpi_tables_free(&t);
    return r;
}
