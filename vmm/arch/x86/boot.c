/* Kernel loaders. PVH: 32-bit protected mode at the ELF note's entry with an
 * hvm_start_info in ebx. bzImage: the 64-bit boot protocol, entered in long
 * mode with identity-mapped page tables and a zero page in rsi. */
#include "boot.h"

#include <elf.h>
#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>

#define GIB (1ull << 30)

/* Low-memory layout used by the loaders. */
#define BOOT_GDT        0x0500
#define BOOT_PML4       0x1000
#define BOOT_PDPT       0x2000
#define BOOT_PD         0x3000      /* four pages: 4 GiB of 2 MiB pages */
#define BOOT_PARAMS     0x7000      /* zero page or hvm_start_info */
#define BOOT_MEMMAP     0x8000      /* PVH memory map */
#define BOOT_MODLIST    0x8800      /* PVH module list */
#define BOOT_CMDLINE    0x20000
#define BOOT_CMDLINE_MAX 0x10000
#define BOOT_AREA_END   (BOOT_CMDLINE + BOOT_CMDLINE_MAX)
#define BZ_LOAD_ADDR    0x100000

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};

struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

static void e820_add(struct e820_map *map, uint64_t addr, uint64_t size, uint32_t type)
{
    if (map->n < E820_MAX && size)
        map->e[map->n++] = (struct e820_entry){ addr, size, type };
}

void e820_for_firmware(const struct gmem *mem, struct e820_map *map)
{
    map->n = 0;
    e820_add(map, 0, gmem_lowmem_end(mem), E820_RAM);
    e820_add(map, 0xfeffc000, 0x4000, E820_RESERVED);
    e820_add(map, 4 * GIB, gmem_highmem_size(mem), E820_RAM);
}

void e820_for_kernel(const struct gmem *mem, struct e820_map *map)
{
    map->n = 0;
    e820_add(map, 0, 0x9fc00, E820_RAM);
    e820_add(map, 0x9fc00, 0x400, E820_RESERVED);       /* EBDA */
    e820_add(map, 0xf0000, 0x10000, E820_RESERVED);     /* BIOS area */
    e820_add(map, 0x100000, gmem_lowmem_end(mem) - 0x100000, E820_RAM);
    e820_add(map, E820_ECAM_BASE, E820_ECAM_SIZE, E820_RESERVED);
    e820_add(map, 0xfeffc000, 0x4000, E820_RESERVED);
    e820_add(map, 4 * GIB, gmem_highmem_size(mem), E820_RAM);
}

static int fail(char *err, size_t errlen, int r, const char *msg)
{
    snprintf(err, errlen, "%s", msg);
    return r;
}

/* Places the initrd as high as allowed below limit, page aligned. */
static int load_initrd(const struct gmem *mem, const uint8_t *initrd, size_t len, uint64_t limit,
                       uint64_t kernel_end, uint64_t *addr, char *err, size_t errlen)
{
    uint64_t top = gmem_lowmem_end(mem);

    if (top > limit)
        top = limit;
    if (len > top || ((top - len) & ~0xfffull) < kernel_end) {
        snprintf(err, errlen, "the initrd (%zu bytes) does not fit in guest memory below 0x%llx",
                 len, (unsigned long long)top);
        return -E2BIG;
    }
    *addr = (top - len) & ~0xfffull;
    return gmem_write(mem, *addr, initrd, len);
}

static int write_cmdline(const struct gmem *mem, const char *cmdline, char *err, size_t errlen)
{
    size_t n = cmdline ? strlen(cmdline) : 0;

    if (n >= BOOT_CMDLINE_MAX)
        return fail(err, errlen, -E2BIG, "the kernel command line is too long");
    return gmem_write(mem, BOOT_CMDLINE, cmdline ? cmdline : "", n + 1);
}

/* Finds XEN_ELFNOTE_PHYS32_ENTRY in the notes at [p, p + len). */
static bool find_pvh_entry(const uint8_t *p, size_t len, uint64_t *entry)
{
    size_t off = 0;

    while (len - off >= sizeof(Elf32_Nhdr)) {
        Elf32_Nhdr nh;
        size_t namesz, descsz;

        memcpy(&nh, p + off, sizeof(nh));
        off += sizeof(nh);
        namesz = ((size_t)nh.n_namesz + 3) & ~(size_t)3;
        descsz = ((size_t)nh.n_descsz + 3) & ~(size_t)3;
        if (namesz > len - off || descsz > len - off - namesz)
            return false;
        if (nh.n_type == XEN_ELFNOTE_PHYS32_ENTRY && nh.n_namesz == 4 &&
            memcmp(p + off, "Xen", 4) == 0 && (nh.n_descsz == 4 || nh.n_descsz == 8)) {
            uint64_t v = 0;

            memcpy(&v, p + off + namesz, nh.n_descsz);
            *entry = nh.n_descsz == 4 ? (uint32_t)v : v;
            return true;
        }
        off += namesz + descsz;
    }
    return false;
}

struct phdr {
    uint32_t type;
    uint64_t offset, paddr, filesz, memsz;
};

static bool get_phdr(const uint8_t *k, size_t len, bool is64, uint64_t phoff, unsigned i,
                     unsigned phentsize, struct phdr *ph)
{
    uint64_t at = phoff + (uint64_t)i * phentsize;

    if (is64) {
        Elf64_Phdr p;

        if (phentsize < sizeof(p) || at > len || len - at < sizeof(p))
            return false;
        memcpy(&p, k + at, sizeof(p));
        *ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
    } else {
        Elf32_Phdr p;

        if (phentsize < sizeof(p) || at > len || len - at < sizeof(p))
            return false;
        memcpy(&p, k + at, sizeof(p));
        *ph = (struct phdr){ p.p_type, p.p_offset, p.p_paddr, p.p_filesz, p.p_memsz };
    }
    return true;
}

static int load_pvh(const struct gmem *mem, const uint8_t *k, size_t len, const uint8_t *initrd,
                    size_t initrd_len, const char *cmdline, struct boot_info *info, char *err,
                    size_t errlen)
{
    bool is64;
    uint64_t phoff, entry = 0, kernel_end = 0;
    unsigned phnum, phentsize, machine;
    bool have_entry = false;
    struct e820_map map;
    struct hvm_start_info si = { .magic = HVM_START_MAGIC, .version = 1 };
    int r;

    /* The caller only checked the 4-byte magic. */
    if (len < EI_NIDENT)
        return fail(err, errlen, -ENOEXEC, "the ELF header is truncated");
    is64 = k[EI_CLASS] == ELFCLASS64;
    if (is64) {
        Elf64_Ehdr eh;

        if (len < sizeof(eh))
            return fail(err, errlen, -ENOEXEC, "the ELF header is truncated");
        memcpy(&eh, k, sizeof(eh));
        phoff = eh.e_phoff; phnum = eh.e_phnum; phentsize = eh.e_phentsize; machine = eh.e_machine;
    } else if (k[EI_CLASS] == ELFCLASS32) {
        Elf32_Ehdr eh;

        if (len < sizeof(eh))
            return fail(err, errlen, -ENOEXEC, "the ELF header is truncated");
        memcpy(&eh, k, sizeof(eh));
        phoff = eh.e_phoff; phnum = eh.e_phnum; phentsize = eh.e_phentsize; machine = eh.e_machine;
    } else {
        return fail(err, errlen, -ENOEXEC, "unknown ELF class");
    }
    if (k[EI_DATA] != ELFDATA2LSB || (machine != EM_X86_64 && machine != EM_386))
        return fail(err, errlen, -ENOEXEC, "the ELF file is not for x86");
    if (phnum == 0)
        return fail(err, errlen, -ENOEXEC, "the ELF file has no program headers");

    /* First pass: validate every segment and find the entry note. */
    for (unsigned i = 0; i < phnum; i++) {
        struct phdr ph;

        if (!get_phdr(k, len, is64, phoff, i, phentsize, &ph))
            return fail(err, errlen, -ENOEXEC, "the ELF program headers are truncated");
        if (ph.type != PT_LOAD && ph.type != PT_NOTE)
            continue;
        if (ph.offset > len || ph.filesz > len - ph.offset)
            return fail(err, errlen, -ENOEXEC, "an ELF segment lies beyond the end of the file "
                        "(truncated kernel?)");
        if (ph.type == PT_NOTE) {
            if (!have_entry)
                have_entry = find_pvh_entry(k + ph.offset, ph.filesz, &entry);
            continue;
        }
        if (ph.memsz && ph.paddr < BOOT_AREA_END) {
            snprintf(err, errlen, "an ELF segment at 0x%llx overlaps the boot data below 0x%x",
                     (unsigned long long)ph.paddr, BOOT_AREA_END);
            return -EINVAL;
        }
        if (ph.filesz > ph.memsz || !gmem_is_ram(mem, ph.paddr, ph.memsz)) {
            snprintf(err, errlen, "an ELF segment (0x%llx, %llu bytes) does not fit in guest RAM",
                     (unsigned long long)ph.paddr, (unsigned long long)ph.memsz);
            return -E2BIG;
        }
    }
    if (!have_entry)
        return fail(err, errlen, -ENOEXEC,
                    "the ELF file has no PVH entry (XEN_ELFNOTE_PHYS32_ENTRY note)");

    for (unsigned i = 0; i < phnum; i++) {
        struct phdr ph;

        get_phdr(k, len, is64, phoff, i, phentsize, &ph);
        if (ph.type != PT_LOAD)
            continue;
        gmem_write(mem, ph.paddr, k + ph.offset, ph.filesz);
        /* The first pass checked that all of memsz is RAM. */
        if (ph.memsz > ph.filesz)
            memset(gmem_ptr(mem, ph.paddr + ph.filesz, ph.memsz - ph.filesz), 0,
                   ph.memsz - ph.filesz);
        if (ph.paddr + ph.memsz > kernel_end)
            kernel_end = ph.paddr + ph.memsz;
    }

    r = write_cmdline(mem, cmdline, err, errlen);
    if (r < 0)
        return r;
    si.cmdline_paddr = BOOT_CMDLINE;
    if (initrd) {
        struct hvm_modlist_entry mod = { 0 };

        r = load_initrd(mem, initrd, initrd_len, 0xffffffffull, kernel_end, &mod.paddr, err, errlen);
        if (r < 0)
            return r;
        mod.size = initrd_len;
        gmem_write(mem, BOOT_MODLIST, &mod, sizeof(mod));
        si.nr_modules = 1;
        si.modlist_paddr = BOOT_MODLIST;
    }
    e820_for_kernel(mem, &map);
    for (unsigned i = 0; i < map.n; i++) {
        struct hvm_memmap_entry e = { map.e[i].addr, map.e[i].size, map.e[i].type, 0 };

        gmem_write(mem, BOOT_MEMMAP + i * sizeof(e), &e, sizeof(e));
    }
    si.memmap_paddr = BOOT_MEMMAP;
    si.memmap_entries = map.n;
    gmem_write(mem, BOOT_PARAMS, &si, sizeof(si));

    info->kind = BOOT_PVH;
    info->entry = entry;
    info->boot_params = BOOT_PARAMS;
    return 0;
}

/* Offsets in the zero page (Documentation/arch/x86/zero-page.rst). */
#define ZP_E820_ENTRIES 0x1e8
#define ZP_HDR          0x1f1
#define ZP_E820_TABLE   0x2d0
#define HDR_SETUP_SECTS 0x1f1
#define HDR_BOOT_FLAG   0x1fe
#define HDR_JUMP        0x200
#define HDR_MAGIC       0x202
#define HDR_VERSION     0x206
#define HDR_TYPE_OF_LOADER 0x210
#define HDR_LOADFLAGS   0x211
#define HDR_RAMDISK_IMAGE 0x218
#define HDR_RAMDISK_SIZE 0x21c
#define HDR_HEAP_END    0x224
#define HDR_CMD_LINE_PTR 0x228
#define HDR_INITRD_MAX  0x22c
#define HDR_XLOADFLAGS  0x236
#define HDR_CMDLINE_SIZE 0x238

static uint32_t le32_at(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static int load_bzimage(const struct gmem *mem, const uint8_t *k, size_t len, const uint8_t *initrd,
                        size_t initrd_len, const char *cmdline, struct boot_info *info, char *err,
                        size_t errlen)
{
    uint8_t zp[4096] = { 0 };
    unsigned setup_sects, hdr_end;
    uint16_t version;
    size_t setup_size;
    struct e820_map map;
    uint64_t initrd_max = 0x37ffffff;
    int r;

    if (len < 0x250)
        return fail(err, errlen, -ENOEXEC, "the bzImage is truncated (no setup header)");
    version = (uint16_t)(k[HDR_VERSION] | k[HDR_VERSION + 1] << 8);
    if (version < 0x020c || !(k[HDR_XLOADFLAGS] & 0x1))
        return fail(err, errlen, -ENOEXEC,
                    "the bzImage does not support the 64-bit boot protocol (needs 2.12+)");
    setup_sects = k[HDR_SETUP_SECTS] ? k[HDR_SETUP_SECTS] : 4;
    setup_size = ((size_t)setup_sects + 1) * 512;
    if (setup_size >= len)
        return fail(err, errlen, -ENOEXEC, "the bzImage is truncated (no protected-mode code)");
    if (len - setup_size > gmem_lowmem_end(mem) - BZ_LOAD_ADDR)
        return fail(err, errlen, -E2BIG, "the kernel does not fit in guest memory");

    gmem_write(mem, BZ_LOAD_ADDR, k + setup_size, len - setup_size);

    /* The setup header is copied as is, as long as the kernel says it is. */
    hdr_end = 0x202 + k[0x201];
    if (hdr_end > 0x280 || hdr_end > len)
        hdr_end = 0x268;
    memcpy(zp + ZP_HDR, k + ZP_HDR, hdr_end - ZP_HDR);
    zp[HDR_TYPE_OF_LOADER] = 0xff;
    zp[HDR_LOADFLAGS] |= 0x01 | 0x80;       /* LOADED_HIGH, CAN_USE_HEAP */
    zp[HDR_HEAP_END] = 0x00;
    zp[HDR_HEAP_END + 1] = 0xfe;
    if (version >= 0x0203 && le32_at(k + HDR_INITRD_MAX))
        initrd_max = le32_at(k + HDR_INITRD_MAX);

    r = write_cmdline(mem, cmdline, err, errlen);
    if (r < 0)
        return r;
    memcpy(zp + HDR_CMD_LINE_PTR, &(uint32_t){ BOOT_CMDLINE }, 4);
    if (initrd) {
        uint64_t addr;
        uint32_t a32, l32 = (uint32_t)initrd_len;

        r = load_initrd(mem, initrd, initrd_len, initrd_max + 1, BZ_LOAD_ADDR + len, &addr, err, errlen);
        if (r < 0)
            return r;
        a32 = (uint32_t)addr;
        memcpy(zp + HDR_RAMDISK_IMAGE, &a32, 4);
        memcpy(zp + HDR_RAMDISK_SIZE, &l32, 4);
    }
    e820_for_kernel(mem, &map);
    zp[ZP_E820_ENTRIES] = (uint8_t)map.n;
    memcpy(zp + ZP_E820_TABLE, map.e, map.n * sizeof(map.e[0]));
    gmem_write(mem, BOOT_PARAMS, zp, sizeof(zp));

    info->kind = BOOT_BZIMAGE;
    info->entry = BZ_LOAD_ADDR + 0x200;
    info->boot_params = BOOT_PARAMS;
    return 0;
}

int boot_load_kernel(const struct gmem *mem, const uint8_t *kernel, size_t kernel_len,
                     const uint8_t *initrd, size_t initrd_len, const char *cmdline,
                     struct boot_info *info, char *err, size_t errlen)
{
    if (kernel_len >= 4 && memcmp(kernel, ELFMAG, SELFMAG) == 0)
        return load_pvh(mem, kernel, kernel_len, initrd, initrd_len, cmdline, info, err, errlen);
    if (kernel_len >= 0x206 && memcmp(kernel + HDR_MAGIC, "HdrS", 4) == 0)
        return load_bzimage(mem, kernel, kernel_len, initrd, initrd_len, cmdline, info, err, errlen);
    if (kernel_len == 0)
        return fail(err, errlen, -ENOEXEC, "the kernel file is empty");
    return fail(err, errlen, -ENOEXEC,
                "not a kernel nook-vmm can boot (neither an ELF with a PVH note nor a bzImage)");
}

int boot_set_rsdp(const struct gmem *mem, const struct boot_info *info, uint64_t rsdp)
{
    if (info->kind == BOOT_PVH)
        return gmem_write(mem, info->boot_params + offsetof(struct hvm_start_info, rsdp_paddr),
                          &rsdp, sizeof(rsdp));
    return gmem_write(mem, info->boot_params + 0x070, &rsdp, sizeof(rsdp));
}

static void set_seg(struct kvm_segment *s, uint16_t sel, uint8_t type, bool code64)
{
    *s = (struct kvm_segment){
        .base = 0, .limit = 0xffffffff, .selector = sel, .type = type,
        .present = 1, .dpl = 0, .db = code64 ? 0 : 1, .s = 1, .l = code64, .g = 1,
    };
}

int boot_setup_vcpu(int vcpu_fd, const struct gmem *mem, const struct boot_info *info)
{
    struct kvm_sregs sregs;
    struct kvm_regs regs = { .rflags = 0x2 };
    bool lm = info->kind == BOOT_BZIMAGE;
    /* null, null, code (0x10), data (0x18), TSS (0x20) */
    uint64_t gdt[5] = {
        0, 0,
        lm ? 0x00af9b000000ffffull : 0x00cf9b000000ffffull,
        0x00cf93000000ffffull,
        0x00008b0000000067ull,
    };

    if (ioctl(vcpu_fd, KVM_GET_SREGS, &sregs) < 0)
        return -errno;
    if (gmem_write(mem, BOOT_GDT, gdt, sizeof(gdt)) < 0)
        return -EFAULT;
    sregs.gdt.base = BOOT_GDT;
    sregs.gdt.limit = sizeof(gdt) - 1;
    set_seg(&sregs.cs, 0x10, 0xb, lm);
    set_seg(&sregs.ds, 0x18, 0x3, false);
    sregs.es = sregs.fs = sregs.gs = sregs.ss = sregs.ds;
    sregs.tr = (struct kvm_segment){ .base = 0, .limit = 0x67, .selector = 0x20, .type = 0xb,
                                     .present = 1, .s = 0 };
    sregs.cr0 = 0x11;   /* PE, ET */
    sregs.cr4 = 0;
    sregs.efer = 0;

    if (lm) {
        uint64_t pml4 = BOOT_PDPT | 0x3, pdpt[4], pd[512];

        gmem_write(mem, BOOT_PML4, &pml4, sizeof(pml4));
        memset(gmem_ptr(mem, BOOT_PML4 + 8, 4096 - 8), 0, 4096 - 8);
        for (unsigned i = 0; i < 4; i++)
            pdpt[i] = (BOOT_PD + i * 0x1000ull) | 0x3;
        gmem_write(mem, BOOT_PDPT, pdpt, sizeof(pdpt));
        memset(gmem_ptr(mem, BOOT_PDPT + sizeof(pdpt), 4096 - sizeof(pdpt)), 0, 4096 - sizeof(pdpt));
        for (unsigned t = 0; t < 4; t++) {
            for (unsigned i = 0; i < 512; i++)
                pd[i] = (((uint64_t)t << 30) + ((uint64_t)i << 21)) | 0x83;   /* P, RW, PS */
            gmem_write(mem, BOOT_PD + t * 0x1000ull, pd, sizeof(pd));
        }
        sregs.cr3 = BOOT_PML4;
        sregs.cr4 = 0x20;                       /* PAE */
        sregs.cr0 = 0x80000011;                 /* PG, PE, ET */
        sregs.efer = 0x500;                     /* LME, LMA */
        regs.rsi = info->boot_params;
    } else {
        regs.rbx = info->boot_params;
    }
    regs.rip = info->entry;
    if (ioctl(vcpu_fd, KVM_SET_SREGS, &sregs) < 0 || ioctl(vcpu_fd, KVM_SET_REGS, &regs) < 0)
        return -errno;
    return 0;
}
