/* Unit tests for the ACPI tables: every checksum holds, the tables say what
 * the board has, and the fw_cfg loader script, run the way firmware runs it,
 * produces the same tables at wherever firmware puts them. */
#include "arch/x86/acpi.h"
#include "fw/fw_cfg.h"
#include "unit.h"

extern const uint8_t nook_dsdt_aml[];
extern const size_t nook_dsdt_aml_len;

static struct acpi_config config(unsigned ncpus)
{
    return (struct acpi_config){ ncpus, nook_dsdt_aml, nook_dsdt_aml_len, 0x600, 9, 0xb0000000 };
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t rd64(const uint8_t *p)
{
    return rd32(p) | (uint64_t)rd32(p + 4) << 32;
}

static uint8_t sum(const uint8_t *p, size_t n)
{
    uint8_t s = 0;

    while (n--)
        s = (uint8_t)(s + *p++);
    return s;
}

/* Walks tables laid out at base (blob) from an RSDP: checks every checksum
 * and returns the table with the signature, or NULL. */
static const uint8_t *find(const uint8_t *rsdp, const uint8_t *blob, size_t len, uint64_t base,
                           const char *sig)
{
    const uint8_t *xsdt;
    uint64_t xaddr = rd64(rsdp + 24);

    g_assert_cmpmem(rsdp, 8, "RSD PTR ", 8);
    g_assert_cmpuint(sum(rsdp, 20), ==, 0);
    g_assert_cmpuint(sum(rsdp, 36), ==, 0);
    g_assert_cmpuint(xaddr - base, <, len);
    xsdt = blob + (xaddr - base);
    g_assert_cmpmem(xsdt, 4, "XSDT", 4);
    g_assert_cmpuint(sum(xsdt, rd32(xsdt + 4)), ==, 0);
    for (uint32_t off = 36; off < rd32(xsdt + 4); off += 8) {
        const uint8_t *t = blob + (rd64(xsdt + off) - base);

        g_assert_cmpuint(rd64(xsdt + off) - base + rd32(t + 4), <=, len);
        g_assert_cmpuint(sum(t, rd32(t + 4)), ==, 0);
        if (memcmp(t, sig, 4) == 0)
            return t;
    }
    return NULL;
}

static void test_direct(void)
{
    struct acpi_config cfg = config(4);
    struct acpi_tables t;
    const uint64_t base = 0xf0040;
    const uint8_t *fadt, *madt, *mcfg, *dsdt;
    unsigned lapics = 0;

    g_assert_cmpint(acpi_build(&cfg, base, &t), ==, 0);
    fadt = find(t.rsdp, t.blob, t.len, base, "FACP");
    madt = find(t.rsdp, t.blob, t.len, base, "APIC");
    mcfg = find(t.rsdp, t.blob, t.len, base, "MCFG");
    g_assert_nonnull(fadt);
    g_assert_nonnull(madt);
    g_assert_nonnull(mcfg);

    /* FADT: the PM block at 0x600, SCI 9, the DSDT and FACS it points to. */
    g_assert_cmpuint(rd32(fadt + 64), ==, 0x604);
    g_assert_cmpuint(rd32(fadt + 76), ==, 0x608);
    g_assert_cmpuint(fadt[46], ==, 9);
    dsdt = t.blob + (rd64(fadt + 140) - base);
    g_assert_cmpmem(dsdt, 4, "DSDT", 4);
    g_assert_cmpuint(sum(dsdt, rd32(dsdt + 4)), ==, 0);
    g_assert_cmpuint(rd32(fadt + 40), ==, rd64(fadt + 140));
    g_assert_cmpuint(rd64(fadt + 132), ==, 0);
    g_assert_cmpmem(t.blob + (rd32(fadt + 36) - base), 4, "FACS", 4);
    g_assert_cmpuint(rd32(fadt + 36) % 64, ==, 0);

    /* MADT: one enabled LAPIC per CPU with ids 0..3. */
    for (uint32_t off = 44; off < rd32(madt + 4); off += madt[off + 1]) {
        g_assert_cmpuint(madt[off + 1], >=, 2);
        if (madt[off] == 0) {
            g_assert_cmpuint(madt[off + 3], ==, lapics);
            g_assert_cmpuint(rd32(madt + off + 4) & 1, ==, 1);
            lapics++;
        }
    }
    g_assert_cmpuint(lapics, ==, 4);
    g_assert_cmpuint(rd64(mcfg + 44), ==, 0xb0000000);
    g_assert_cmpuint(mcfg[54], ==, 0);                 /* buses 0-0: the only one */
    g_assert_cmpuint(mcfg[55], ==, 0);
    acpi_tables_free(&t);
}

static void test_bad_config(void)
{
    struct acpi_config cfg = config(0);
    struct acpi_tables t;

    g_assert_cmpint(acpi_build(&cfg, 0, &t), ==, -EINVAL);
    cfg = config(256);
    g_assert_cmpint(acpi_build(&cfg, 0, &t), ==, -EINVAL);
    cfg = config(1);
    cfg.dsdt_len = 10;
    g_assert_cmpint(acpi_build(&cfg, 0, &t), ==, -EINVAL);
}

static const struct fw_cfg_item *file(struct fw_cfg *f, const char *name)
{
    for (unsigned i = 0; i < f->nfiles; i++)
        if (strcmp(f->names[i], name) == 0)
            return &f->items[FW_CFG_FILE_FIRST + i];
    return NULL;
}

/* Runs the loader script as firmware does, with the tables at one address
 * and the RSDP at another. */
static void test_loader(void)
{
    static uint8_t ram[4096];
    struct gmem *mem = gmem_new_from_buffer(ram, sizeof(ram), 0);
    struct acpi_config cfg = config(64);
    struct fw_cfg f;
    const struct fw_cfg_item *script, *tables, *rsdp_file;
    uint8_t *blob, rsdp[36];
    const uint64_t base = 0x7fe0000;
    unsigned allocs = 0;

    fw_cfg_init(&f, mem);
    g_assert_cmpint(acpi_add_fw_cfg(&cfg, &f), ==, 0);
    script = file(&f, "etc/table-loader");
    tables = file(&f, "etc/acpi/tables");
    rsdp_file = file(&f, "etc/acpi/rsdp");
    g_assert_nonnull(script);
    g_assert_nonnull(tables);
    g_assert_nonnull(rsdp_file);
    g_assert_cmpuint(script->len % 128, ==, 0);
    g_assert_cmpuint(rsdp_file->len, ==, 36);
    blob = g_memdup2(tables->data, tables->len);
    memcpy(rsdp, rsdp_file->data, 36);

    for (uint32_t i = 0; i < script->len; i += 128) {
        const uint8_t *e = script->data + i + 4;
        uint32_t cmd = rd32(script->data + i);
        uint8_t *dest = strcmp((const char *)e, "etc/acpi/rsdp") == 0 ? rsdp : blob;
        size_t dest_len = dest == rsdp ? 36 : tables->len;

        if (cmd == 1) {
            allocs++;
            g_assert_cmpuint(rd32(e + 56) & (rd32(e + 56) - 1), ==, 0);     /* power of two */
        } else if (cmd == 2) {
            uint32_t off = rd32(e + 112);
            uint8_t size = e[116];
            uint64_t v = 0;

            g_assert_cmpstr((const char *)e + 56, ==, "etc/acpi/tables");
            g_assert_cmpuint(off + size, <=, dest_len);
            memcpy(&v, dest + off, size);
            g_assert_cmpuint(v, <, tables->len);
            v += base;
            memcpy(dest + off, &v, size);
        } else if (cmd == 3) {
            uint32_t off = rd32(e + 56), start = rd32(e + 60), len = rd32(e + 64);

            g_assert_cmpuint(start + len, <=, dest_len);
            g_assert_cmpuint(off, <, dest_len);
            dest[off] = (uint8_t)(dest[off] - sum(dest + start, len));
        } else {
            g_assert_not_reached();
        }
    }
    g_assert_cmpuint(allocs, ==, 2);
    /* The relocated tables check out exactly as directly placed ones do. */
    g_assert_nonnull(find(rsdp, blob, tables->len, base, "FACP"));
    g_assert_nonnull(find(rsdp, blob, tables->len, base, "APIC"));
    g_assert_nonnull(find(rsdp, blob, tables->len, base, "MCFG"));
    g_free(blob);
    fw_cfg_destroy(&f);
    gmem_free(mem);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
    g_test_add_func("/acpi/direct", test_direct);
    g_test_add_func("/acpi/bad-config", test_bad_config);
    g_test_add_func("/acpi/loader", test_loader);
    return g_test_run();
}
