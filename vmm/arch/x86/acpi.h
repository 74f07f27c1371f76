/* ACPI tables of nook-vmm's PC: RSDP, XSDT, FADT, FACS, DSDT, MADT, MCFG. */
#pragma once

#include <stddef.h>
#include <stdint.h>

struct fw_cfg;

struct acpi_config {
    unsigned ncpus;
    const uint8_t *dsdt;        /* AML compiled from data/acpi/dsdt.asl */
    size_t dsdt_len;
    uint16_t pm_base;           /* PM1a event block; control at +4, timer at +8 */
    uint8_t sci_irq;
    uint64_t ecam_base;         /* MCFG, bus 0-255 */
};

#define ACPI_MAX_POINTERS 32
#define ACPI_MAX_TABLES   8

/* The tables as one blob whose pointers are offsets into it (or absolute
 * when built for a base address), and the RSDP on its own. */
struct acpi_tables {
    uint8_t *blob;              /* owned */
    size_t len;
    uint8_t rsdp[36];
    /* Where pointers sit, for a loader that relocates the blob. */
    struct { uint32_t offset; uint8_t size; uint8_t in_rsdp; } ptr[ACPI_MAX_POINTERS];
    unsigned nptr;
    struct { uint32_t start, length; } table[ACPI_MAX_TABLES];
    unsigned ntables;
};

/* base: the guest address the blob will live at (0 for a relocatable blob).
 * Returns 0 or -errno. */
int acpi_build(const struct acpi_config *cfg, uint64_t base, struct acpi_tables *t);
void acpi_tables_free(struct acpi_tables *t);

/* Adds etc/acpi/tables, etc/acpi/rsdp and the etc/table-loader script that
 * QEMU-compatible firmware (SeaBIOS, OVMF) uses to install them. */
int acpi_add_fw_cfg(const struct acpi_config *cfg, struct fw_cfg *f);

uint8_t acpi_checksum(const uint8_t *p, size_t len);
