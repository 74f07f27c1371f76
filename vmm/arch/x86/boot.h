/* Direct kernel boot (PVH ELF and bzImage 64-bit protocol) and the e820 map. */
#pragma once

#include <stddef.h>
#include <stdint.h>

#include "../../core/gmem.h"

#define E820_RAM      1
#define E820_RESERVED 2

struct e820_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
} __attribute__((packed));

#define E820_MAX 32

struct e820_map {
    unsigned n;
    struct e820_entry e[E820_MAX];
};

/* The map firmware gets through fw_cfg etc/e820: RAM and KVM's pages. */
void e820_for_firmware(const struct gmem *mem, struct e820_map *map);
/* The map a directly booted kernel gets: also the legacy holes below 1 MiB. */
void e820_for_kernel(const struct gmem *mem, struct e820_map *map);

/* The ECAM window, reserved for a directly booted kernel (firmware reserves
 * it itself when it enables ECAM). */
#define E820_ECAM_BASE 0xb0000000ull
#define E820_ECAM_SIZE 0x10000000ull

enum boot_kind { BOOT_PVH, BOOT_BZIMAGE };

/* What the loader decided; the vCPU state follows from it. */
struct boot_info {
    enum boot_kind kind;
    uint64_t entry;
    uint64_t boot_params;       /* hvm_start_info or zero page */
};

/* Loads a kernel (and initrd) into guest memory. Returns 0, or -errno with
 * a one-line reason in err. Never reads outside the file or writes outside
 * guest RAM, whatever the file says. */
int boot_load_kernel(const struct gmem *mem, const uint8_t *kernel, size_t kernel_len,
                     const uint8_t *initrd, size_t initrd_len, const char *cmdline,
                     struct boot_info *info, char *err, size_t errlen);

/* Tells a loaded kernel where the ACPI RSDP is (PVH start_info, or the
 * zero page's acpi_rsdp_addr; older kernels scan the BIOS area anyway). */
int boot_set_rsdp(const struct gmem *mem, const struct boot_info *info, uint64_t rsdp);

/* Puts a vCPU in the state the boot protocol specifies. */
int boot_setup_vcpu(int vcpu_fd, const struct gmem *mem, const struct boot_info *info);
