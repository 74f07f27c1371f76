/* ACPI tables as a directly booted kernel finds them: the RSDP from PVH
 * start_info, the XSDT, and in it the FADT (PM registers, DSDT, reset
 * register), the MADT (one enabled local APIC per CPU, the IOAPIC, IRQ 0 on
 * GSI 2) and the MCFG (ECAM). Every checksum must hold. Then the guest powers
 * off the ACPI way: SLP_TYP of \_S5 (0 on both machines) with SLP_EN in the
 * PM1a control block the FADT names. Compared: the lines above; QEMU's
 * tables hold more (HPET, WAET...), which is not compared. */
#include "rt/rt.h"

struct sdt {
    char sig[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

static uint8_t sum(const void *p, uint32_t len)
{
    const uint8_t *b = p;
    uint8_t s = 0;

    for (uint32_t i = 0; i < len; i++)
        s = (uint8_t)(s + b[i]);
    return s;
}

static uint32_t rd32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint32_t rd64lo(const uint8_t *p)
{
    RT_CHECK(rd32(p + 4) == 0, "a table lies above 4 GiB");
    return rd32(p);
}

static const struct sdt *checked(uint32_t addr, const char *sig)
{
    const struct sdt *t = (const struct sdt *)(uintptr_t)addr;

    RT_CHECK(addr != 0, "no %s", sig ? sig : "table");
    RT_CHECK(!sig || memcmp(t->sig, sig, 4) == 0, "%s signature at %x", sig, addr);
    if (!sig)
        sig = "table";
    RT_CHECK(t->length >= sizeof(*t) && t->length < 0x100000, "%s length %u", sig, t->length);
    RT_CHECK(sum(t, t->length) == 0, "%s checksum", sig);
    return t;
}

static void check_madt(const struct sdt *t, unsigned ncpus)
{
    const uint8_t *p = (const uint8_t *)t + 44, *end = (const uint8_t *)t + t->length;
    unsigned lapics = 0, ioapics = 0, iso0 = 0;

    rt_printf("= madt lapic address %x flags %x\n", rd32((const uint8_t *)t + 36),
              rd32((const uint8_t *)t + 40) & 1);
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        if (p[0] == 0 && (rd32(p + 4) & 1))
            lapics++;
        if (p[0] == 1) {
            ioapics++;
            rt_printf("= madt ioapic at %x gsi base %u\n", rd32(p + 4), rd32(p + 8));
        }
        if (p[0] == 2 && p[3] == 0) {
            iso0++;
            rt_printf("= madt irq 0 -> gsi %u\n", rd32(p + 4));
        }
        p += p[1];
    }
    RT_CHECK(p == end, "MADT entries overrun the table");
    rt_printf("= madt enabled local apics %u of %u cpus\n", lapics, ncpus);
    RT_CHECK(lapics == ncpus && ioapics == 1 && iso0 == 1, "MADT contents");
}

int main(void)
{
    const struct rt_hvm_start_info *si = (const void *)(uintptr_t)rt_entry_ebx;
    unsigned ncpus = rt_fwcfg_read16(RT_FWCFG_NB_CPUS);
    const uint8_t *rsdp, *x, *fadt = NULL;
    const struct sdt *xsdt, *dsdt;
    unsigned n, seen = 0, width;
    uint16_t pm1a_cnt;

    rt_serial_init();
    RT_CHECK(si->magic == RT_HVM_START_MAGIC, "no start_info");
    RT_CHECK(si->rsdp_paddr != 0 && si->rsdp_paddr < 0x100000000ull, "start_info has no RSDP");
    rsdp = (const uint8_t *)(uintptr_t)si->rsdp_paddr;
    RT_CHECK(memcmp(rsdp, "RSD PTR ", 8) == 0, "RSDP signature");
    RT_CHECK(sum(rsdp, 20) == 0, "RSDP checksum");
    /* ACPI 2.0+ has an XSDT with 64-bit pointers (nook-vmm); a revision 0
     * RSDP points at an RSDT with 32-bit ones (QEMU's q35). */
    rt_printf("rsdp revision %u\n", rsdp[15]);
    if (rsdp[15] >= 2) {
        RT_CHECK(sum(rsdp, rd32(rsdp + 20)) == 0, "RSDP extended checksum");
        xsdt = checked(rd64lo(rsdp + 24), "XSDT");
        width = 8;
    } else {
        xsdt = checked(rd32(rsdp + 16), "RSDT");
        width = 4;
    }
    x = (const uint8_t *)xsdt;
    n = (xsdt->length - 36) / width;
    rt_printf("= root table checksums hold\n");
    for (unsigned i = 0; i < n; i++) {
        const uint8_t *e = x + 36 + width * i;
        const struct sdt *t = checked(width == 8 ? rd64lo(e) : rd32(e), NULL);

        if (memcmp(t->sig, "FACP", 4) == 0) {
            fadt = (const uint8_t *)t;
            seen |= 1;
        } else if (memcmp(t->sig, "APIC", 4) == 0) {
            check_madt(t, ncpus);
            seen |= 2;
        } else if (memcmp(t->sig, "MCFG", 4) == 0) {
            const uint8_t *m = (const uint8_t *)t;

            /* QEMU's q35 declares buses 0-255; nook-vmm only the bus it
             * has, so the last bus is not compared. */
            rt_printf("= mcfg ecam %x segment %u first bus %u\n", rd64lo(m + 44), m[52] | m[53] << 8,
                      m[54]);
            rt_printf("mcfg last bus %u\n", m[55]);
            RT_CHECK(m[55] >= m[54], "MCFG ends at bus %u before its first bus %u", m[55], m[54]);
            seen |= 4;
        }
    }
    RT_CHECK(seen == 7, "the root table lacks FACP, APIC or MCFG (%x)", seen);

    {
        /* The 64-bit fields exist from FADT revision 3 on. */
        bool wide = ((const struct sdt *)fadt)->length >= 148;
        uint32_t facs_addr = wide && rd64lo(fadt + 132) ? rd64lo(fadt + 132) : rd32(fadt + 36);
        uint32_t dsdt_addr = wide && rd64lo(fadt + 140) ? rd64lo(fadt + 140) : rd32(fadt + 40);

        RT_CHECK(facs_addr && memcmp((const void *)(uintptr_t)facs_addr, "FACS", 4) == 0, "FACS");
        dsdt = checked(dsdt_addr, "DSDT");
    }
    rt_printf("= dsdt found, %s\n", dsdt->length > 36 ? "with code" : "empty");
    rt_printf("= fadt sci irq %u pm1a_evt %x pm1a_cnt %x pm_tmr %x\n", fadt[46] | fadt[47] << 8,
              rd32(fadt + 56), rd32(fadt + 64), rd32(fadt + 76));
    /* The reset value may differ (0x06 or 0x0f); both have RST_CPU. */
    RT_CHECK(rd32(fadt + 112) & (1u << 10), "FADT has no reset register");
    rt_printf("reset value %x\n", fadt[128]);
    rt_printf("= fadt reset register space %u at %x, resets %s\n", fadt[116], rd32(fadt + 120),
              (fadt[128] & 4) ? "yes" : "no");

    pm1a_cnt = (uint16_t)rd32(fadt + 64);
    /* Firmware with SMM wants the OS to ask for ACPI mode (SMI_CMD);
     * hardware without it is in ACPI mode from the start. */
    if (!(inw(pm1a_cnt) & 1) && rd32(fadt + 48)) {
        outb((uint16_t)rd32(fadt + 48), fadt[52]);
        for (unsigned i = 0; i < 100000 && !(inw(pm1a_cnt) & 1); i++)
            rt_pause();
    }
    rt_printf("= sci_en %u\n", inw(pm1a_cnt) & 1);
    rt_printf("= powering off\n");
    outw(pm1a_cnt, (uint16_t)((inw(pm1a_cnt) & ~(7u << 10)) | (0u << 10) | 0x2000));
    /* A VMM may act on S5 from its main loop while this vCPU runs on
     * (QEMU does), so give it 2 s by the 3.579545 MHz PM timer (24 bits
     * at least) before calling it a failure. */
    {
        uint16_t tmr = (uint16_t)rd32(fadt + 76);
        uint32_t last = inl(tmr) & 0xffffff, waited = 0;

        while (waited < 2 * 3579545u) {
            uint32_t now = inl(tmr) & 0xffffff;

            waited += (now - last) & 0xffffff;
            last = now;
            rt_pause();
        }
    }
    rt_fail("still running 2 s after S5");
}
