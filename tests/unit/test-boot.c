/* Unit tests for direct kernel boot: PVH ELF (32 and 64-bit) and bzImage
 * images built here in memory, loaded into fake guest RAM, and the many ways
 * a kernel file can be wrong. */
#include <elf.h>
#include <errno.h>

#include "arch/x86/boot.h"
#include "unit.h"

#define RAM_SIZE (16u << 20)
#define BOOT_PARAMS 0x7000
#define HVM_START_MAGIC 0x336ec578
#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define LOAD_ADDR 0x100000
#define PAYLOAD_LEN 0x100
#define MEM_LEN 0x180
#define ENTRY 0x100040

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

struct fixture {
    uint8_t *ram;
    struct gmem *mem;
    struct boot_info info;
    char err[256];
};

static void setup(struct fixture *f, gconstpointer data)
{
    f->ram = g_malloc(RAM_SIZE);
    memset(f->ram, 0xcc, RAM_SIZE);
    f->mem = gmem_new_from_buffer(f->ram, RAM_SIZE, 0);
    memset(&f->info, 0, sizeof(f->info));
    f->err[0] = '\0';
}

static void teardown(struct fixture *f, gconstpointer data)
{
    gmem_free(f->mem);
    g_free(f->ram);
}

/* ---- image builders ---- */

struct elf_spec {
    bool is64;
    bool note;              /* include the PVH entry note */
    unsigned descsz;        /* 4 or 8 */
    uint16_t machine;
    uint64_t paddr, filesz, memsz, offset;
};

static struct elf_spec elf_default(bool is64)
{
    return (struct elf_spec){
        .is64 = is64, .note = true, .descsz = is64 ? 8 : 4,
        .machine = is64 ? EM_X86_64 : EM_386,
        .paddr = LOAD_ADDR, .filesz = PAYLOAD_LEN, .memsz = MEM_LEN, .offset = 0x200,
    };
}

static uint8_t payload_byte(size_t i)
{
    return (uint8_t)(i * 13 + 5);
}

#define NOTE_AT 0x100
#define ELF_LEN (0x200 + PAYLOAD_LEN)

/* A file with a PT_NOTE (an unrelated GNU note, then Xen's) and a PT_LOAD,
 * in a buffer of exactly its size so that any read past it is caught. */
static uint8_t *build_elf(const struct elf_spec *s, size_t *len)
{
    uint8_t *k = g_malloc0(ELF_LEN);
    uint8_t *n = k + NOTE_AT;
    Elf32_Nhdr gnu = { 4, 4, 3 }, xen = { 4, s->descsz, XEN_ELFNOTE_PHYS32_ENTRY };
    uint64_t entry = ENTRY;
    size_t note_len = 0;

    if (s->note) {
        memcpy(n, &gnu, sizeof(gnu));
        memcpy(n + 12, "GNU", 4);
        memcpy(n + 16, "\x01\x02\x03\x04", 4);
        memcpy(n + 20, &xen, sizeof(xen));
        memcpy(n + 32, "Xen", 4);
        memcpy(n + 36, &entry, s->descsz);
        note_len = 36 + s->descsz;
    }
    for (size_t i = 0; i < PAYLOAD_LEN; i++)
        k[0x200 + i] = payload_byte(i);

    if (s->is64) {
        Elf64_Ehdr eh = {
            .e_type = ET_EXEC, .e_machine = s->machine, .e_version = EV_CURRENT,
            .e_entry = 0xffffffff81000000ull, .e_phoff = sizeof(Elf64_Ehdr),
            .e_ehsize = sizeof(Elf64_Ehdr), .e_phentsize = sizeof(Elf64_Phdr), .e_phnum = 2,
        };
        Elf64_Phdr ph[2] = {
            { .p_type = PT_NOTE, .p_offset = NOTE_AT, .p_filesz = note_len },
            { .p_type = PT_LOAD, .p_offset = s->offset, .p_paddr = s->paddr,
              .p_vaddr = 0xffffffff81000000ull, .p_filesz = s->filesz, .p_memsz = s->memsz },
        };

        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS64;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        memcpy(k, &eh, sizeof(eh));
        memcpy(k + eh.e_phoff, ph, sizeof(ph));
    } else {
        Elf32_Ehdr eh = {
            .e_type = ET_EXEC, .e_machine = s->machine, .e_version = EV_CURRENT,
            .e_entry = 0xc1000000u, .e_phoff = sizeof(Elf32_Ehdr),
            .e_ehsize = sizeof(Elf32_Ehdr), .e_phentsize = sizeof(Elf32_Phdr), .e_phnum = 2,
        };
        Elf32_Phdr ph[2] = {
            { .p_type = PT_NOTE, .p_offset = NOTE_AT, .p_filesz = (uint32_t)note_len },
            { .p_type = PT_LOAD, .p_offset = (uint32_t)s->offset, .p_paddr = (uint32_t)s->paddr,
              .p_vaddr = 0xc1000000u, .p_filesz = (uint32_t)s->filesz,
              .p_memsz = (uint32_t)s->memsz },
        };

        memcpy(eh.e_ident, ELFMAG, SELFMAG);
        eh.e_ident[EI_CLASS] = ELFCLASS32;
        eh.e_ident[EI_DATA] = ELFDATA2LSB;
        eh.e_ident[EI_VERSION] = EV_CURRENT;
        memcpy(k, &eh, sizeof(eh));
        memcpy(k + eh.e_phoff, ph, sizeof(ph));
    }
    *len = ELF_LEN;
    return k;
}

#define BZ_SETUP_SECTS 1
#define BZ_CODE_LEN 4096
#define BZ_LEN ((BZ_SETUP_SECTS + 1) * 512 + BZ_CODE_LEN)

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Just the setup header fields a 64-bit boot loader looks at. */
static uint8_t *build_bzimage(uint16_t version, uint16_t xloadflags, uint32_t initrd_max)
{
    uint8_t *k = g_malloc0(BZ_LEN);

    k[0x1f1] = BZ_SETUP_SECTS;
    put16(k + 0x1fe, 0xaa55);
    k[0x200] = 0xeb;
    k[0x201] = 0x66;                /* jump over the header: it ends at 0x268 */
    memcpy(k + 0x202, "HdrS", 4);
    put16(k + 0x206, version);
    k[0x211] = 0x01;
    put32(k + 0x22c, initrd_max);
    put16(k + 0x236, xloadflags);
    put32(k + 0x238, 2047);
    for (size_t i = 0; i < BZ_CODE_LEN; i++)
        k[(BZ_SETUP_SECTS + 1) * 512 + i] = payload_byte(i);
    return k;
}

static int load(struct fixture *f, const uint8_t *k, size_t len, const uint8_t *initrd,
                size_t initrd_len, const char *cmdline)
{
    int r;

    f->err[0] = '\0';
    r = boot_load_kernel(f->mem, k, len, initrd, initrd_len, cmdline, &f->info, f->err,
                         sizeof(f->err));
    if (r < 0)
        g_assert_cmpuint(strlen(f->err), >, 0);
    return r;
}

static void assert_rejected(struct fixture *f, const uint8_t *k, size_t len, int want,
                            const char *reason)
{
    int r = load(f, k, len, NULL, 0, "");

    if (r != want || !strstr(f->err, reason))
        g_error("expected %d \"...%s...\", got %d \"%s\"", want, reason, r, f->err);
}

/* ---- PVH ---- */

static void check_pvh(struct fixture *f, const uint8_t *initrd, size_t initrd_len)
{
    struct hvm_start_info si;
    struct hvm_memmap_entry e;
    bool low = false, high = false;

    g_assert_cmpint(f->info.kind, ==, BOOT_PVH);
    g_assert_cmphex(f->info.entry, ==, ENTRY);
    g_assert_cmphex(f->info.boot_params, ==, BOOT_PARAMS);

    for (size_t i = 0; i < PAYLOAD_LEN; i++)
        g_assert_cmphex(f->ram[LOAD_ADDR + i], ==, payload_byte(i));
    for (size_t i = PAYLOAD_LEN; i < MEM_LEN; i++)
        g_assert_cmphex(f->ram[LOAD_ADDR + i], ==, 0);
    g_assert_cmphex(f->ram[LOAD_ADDR + MEM_LEN], ==, 0xcc);

    memcpy(&si, f->ram + f->info.boot_params, sizeof(si));
    g_assert_cmphex(si.magic, ==, HVM_START_MAGIC);
    g_assert_cmpuint(si.version, >=, 1);
    g_assert_cmpuint(si.cmdline_paddr, <, RAM_SIZE);
    g_assert_cmpstr((const char *)f->ram + si.cmdline_paddr, ==, "console=ttyS0 quiet");

    g_assert_cmpuint(si.memmap_entries, >=, 2);
    g_assert_cmpuint(si.memmap_paddr + si.memmap_entries * sizeof(e), <=, RAM_SIZE);
    for (unsigned i = 0; i < si.memmap_entries; i++) {
        memcpy(&e, f->ram + si.memmap_paddr + i * sizeof(e), sizeof(e));
        g_assert_true(e.type == E820_RAM || e.type == E820_RESERVED);
        if (e.type != E820_RAM)
            continue;
        g_assert_cmpuint(e.addr + e.size, <=, RAM_SIZE);
        if (e.addr == 0 && e.size >= 0x9f000)
            low = true;
        if (e.addr == LOAD_ADDR && e.size == RAM_SIZE - LOAD_ADDR)
            high = true;
    }
    g_assert_true(low && high);

    if (!initrd) {
        g_assert_cmpuint(si.nr_modules, ==, 0);
    } else {
        struct hvm_modlist_entry m;

        g_assert_cmpuint(si.nr_modules, ==, 1);
        memcpy(&m, f->ram + si.modlist_paddr, sizeof(m));
        g_assert_cmphex(m.paddr & 0xfff, ==, 0);
        g_assert_cmpuint(m.paddr, >=, LOAD_ADDR + MEM_LEN);
        g_assert_cmpuint(m.size, ==, initrd_len);
        g_assert_cmpuint(m.paddr + m.size, <=, RAM_SIZE);
        g_assert_cmpmem(f->ram + m.paddr, initrd_len, initrd, initrd_len);
    }
}

static void test_pvh_elf64(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(true);
    size_t len;
    g_autofree uint8_t *k = build_elf(&s, &len);

    g_assert_cmpint(load(f, k, len, NULL, 0, "console=ttyS0 quiet"), ==, 0);
    check_pvh(f, NULL, 0);
}

static void test_pvh_elf32(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(false);
    size_t len;
    g_autofree uint8_t *k = build_elf(&s, &len);

    g_assert_cmpint(load(f, k, len, NULL, 0, "console=ttyS0 quiet"), ==, 0);
    check_pvh(f, NULL, 0);

    /* A 64-bit file may carry a 4-byte entry note too. */
    s = elf_default(true);
    s.descsz = 4;
    g_free(k);
    k = build_elf(&s, &len);
    g_assert_cmpint(load(f, k, len, NULL, 0, "console=ttyS0 quiet"), ==, 0);
    g_assert_cmphex(f->info.entry, ==, ENTRY);
}

static void test_pvh_initrd(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(true);
    size_t len, initrd_len = 100000;
    g_autofree uint8_t *k = build_elf(&s, &len);
    g_autofree uint8_t *initrd = g_malloc(initrd_len);

    for (size_t i = 0; i < initrd_len; i++)
        initrd[i] = (uint8_t)(i ^ (i >> 8));
    g_assert_cmpint(load(f, k, len, initrd, initrd_len, "console=ttyS0 quiet"), ==, 0);
    check_pvh(f, initrd, initrd_len);
}

static void test_pvh_no_note(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(true);
    size_t len;
    g_autofree uint8_t *k = build_elf(&s, &len);
    g_autofree uint8_t *k32 = NULL;

    s.note = false;
    g_free(k);
    k = build_elf(&s, &len);
    assert_rejected(f, k, len, -ENOEXEC, "XEN_ELFNOTE_PHYS32_ENTRY");
    s = elf_default(false);
    s.note = false;
    k32 = build_elf(&s, &len);
    assert_rejected(f, k32, len, -ENOEXEC, "PVH");

    /* A note whose sizes run past the segment is not believed. */
    s = elf_default(true);
    g_free(k);
    k = build_elf(&s, &len);
    put32(k + NOTE_AT + 20, 0xfffffff0u);       /* Xen note's namesz */
    assert_rejected(f, k, len, -ENOEXEC, "XEN_ELFNOTE_PHYS32_ENTRY");
    put32(k + NOTE_AT + 20, 4);
    put32(k + NOTE_AT + 24, 0x1000);            /* descsz */
    assert_rejected(f, k, len, -ENOEXEC, "XEN_ELFNOTE_PHYS32_ENTRY");
    /* Nothing was loaded from a rejected file. */
    g_assert_cmphex(f->ram[LOAD_ADDR], ==, 0xcc);
}

static void test_elf_truncated(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(true);
    size_t len;
    g_autofree uint8_t *k = build_elf(&s, &len);
    g_autofree uint8_t *magic = g_memdup2("\177ELF\002\001", 6);
    g_autofree uint8_t *k32 = NULL;
    Elf64_Ehdr *eh;

    /* Copies of exactly the shorter size, so that over-reads are caught. */
    for (size_t cut = 4; cut < sizeof(Elf64_Ehdr); cut += 3) {
        g_autofree uint8_t *part = g_memdup2(k, cut);

        assert_rejected(f, part, cut, -ENOEXEC, "truncated");
    }
    assert_rejected(f, magic, 4, -ENOEXEC, "truncated");
    assert_rejected(f, magic, 6, -ENOEXEC, "truncated");

    /* Program headers past the end of the file. */
    {
        g_autofree uint8_t *part = g_memdup2(k, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) / 2);

        assert_rejected(f, part, sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) / 2, -ENOEXEC,
                        "program headers are truncated");
    }
    eh = (Elf64_Ehdr *)k;
    eh->e_phoff = len - 8;
    assert_rejected(f, k, len, -ENOEXEC, "program headers are truncated");
    eh->e_phoff = 0xfffffffffffffff0ull;
    assert_rejected(f, k, len, -ENOEXEC, "program headers are truncated");
    eh->e_phoff = sizeof(Elf64_Ehdr);
    eh->e_phentsize = 8;
    assert_rejected(f, k, len, -ENOEXEC, "program headers are truncated");
    eh->e_phentsize = sizeof(Elf64_Phdr);
    eh->e_phnum = 0;
    assert_rejected(f, k, len, -ENOEXEC, "no program headers");

    /* A segment that lies partly or wholly past the end of the file. */
    {
        g_autofree uint8_t *part = g_memdup2(k, len - 1);

        eh = (Elf64_Ehdr *)part;
        eh->e_phnum = 2;
        assert_rejected(f, part, len - 1, -ENOEXEC, "beyond the end of the file");
    }
    s.offset = 0x10000;
    g_free(k);
    k = build_elf(&s, &len);
    assert_rejected(f, k, len, -ENOEXEC, "beyond the end of the file");
    s.offset = 0x200;
    s.filesz = 0xffffffffffffff00ull;
    s.memsz = s.filesz;
    g_free(k);
    k = build_elf(&s, &len);
    assert_rejected(f, k, len, -ENOEXEC, "beyond the end of the file");

    s = elf_default(false);
    s.offset = 0xfffffff0u;
    k32 = build_elf(&s, &len);
    assert_rejected(f, k32, len, -ENOEXEC, "beyond the end of the file");
    g_assert_cmphex(f->ram[LOAD_ADDR], ==, 0xcc);
}

static void test_elf_segment_placement(struct fixture *f, gconstpointer data)
{
    static const struct { uint64_t paddr, memsz; const char *reason; int r; } cases[] = {
        { RAM_SIZE, MEM_LEN, "does not fit in guest RAM", -E2BIG },
        { RAM_SIZE - 0x100, MEM_LEN, "does not fit in guest RAM", -E2BIG },
        { 0x2000000, MEM_LEN, "does not fit in guest RAM", -E2BIG },
        { 0xfffffffffffff000ull, 0x2000, "does not fit in guest RAM", -E2BIG },
        { 0xffffffffffffff00ull, MEM_LEN, "does not fit in guest RAM", -E2BIG },
        { LOAD_ADDR, 0x8000000000000000ull, "does not fit in guest RAM", -E2BIG },
        { LOAD_ADDR, 0xffffffffffffffffull, "does not fit in guest RAM", -E2BIG },
        { 0x7000, MEM_LEN, "boot data", -EINVAL },
        { 0x20000, MEM_LEN, "boot data", -EINVAL },
    };

    for (unsigned i = 0; i < G_N_ELEMENTS(cases); i++) {
        struct elf_spec s = elf_default(true);
        size_t len;
        g_autofree uint8_t *k = NULL;

        s.paddr = cases[i].paddr;
        s.memsz = cases[i].memsz;
        k = build_elf(&s, &len);
        assert_rejected(f, k, len, cases[i].r, cases[i].reason);
    }
    {
        struct elf_spec s = elf_default(false);
        size_t len;
        g_autofree uint8_t *k = NULL;

        s.paddr = 0xfffff000u;
        s.memsz = 0x2000;
        k = build_elf(&s, &len);
        assert_rejected(f, k, len, -E2BIG, "does not fit in guest RAM");
    }
    {
        /* More file than memory. */
        struct elf_spec s = elf_default(true);
        size_t len;
        g_autofree uint8_t *k = NULL;

        s.memsz = s.filesz - 1;
        k = build_elf(&s, &len);
        assert_rejected(f, k, len, -E2BIG, "does not fit");
    }
    /* Right up to the end of RAM is fine. */
    {
        struct elf_spec s = elf_default(true);
        size_t len;
        g_autofree uint8_t *k = NULL;

        s.paddr = RAM_SIZE - MEM_LEN;
        k = build_elf(&s, &len);
        g_assert_cmpint(load(f, k, len, NULL, 0, NULL), ==, 0);
        g_assert_cmphex(f->ram[RAM_SIZE - 1], ==, 0);
        g_assert_cmphex(f->ram[RAM_SIZE - MEM_LEN], ==, payload_byte(0));
    }
    g_assert_cmphex(f->ram[LOAD_ADDR], ==, 0xcc);
}

static void test_elf_not_x86(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(true);
    size_t len;
    g_autofree uint8_t *k = NULL;

    s.machine = EM_AARCH64;
    k = build_elf(&s, &len);
    assert_rejected(f, k, len, -ENOEXEC, "not for x86");
    s.machine = EM_X86_64;
    g_free(k);
    k = build_elf(&s, &len);
    k[EI_DATA] = ELFDATA2MSB;
    assert_rejected(f, k, len, -ENOEXEC, "not for x86");
    k[EI_DATA] = ELFDATA2LSB;
    k[EI_CLASS] = 3;
    assert_rejected(f, k, len, -ENOEXEC, "ELF class");
}

static void test_pvh_initrd_too_big(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(true);
    size_t len;
    g_autofree uint8_t *k = build_elf(&s, &len);
    g_autofree uint8_t *initrd = g_malloc0(RAM_SIZE);
    int r;

    r = load(f, k, len, initrd, RAM_SIZE, "");
    g_assert_cmpint(r, ==, -E2BIG);
    g_assert_nonnull(strstr(f->err, "initrd"));
    /* Room in RAM, but only by overlapping the kernel's last page. */
    r = load(f, k, len, initrd, RAM_SIZE - LOAD_ADDR - 0x100, "");
    g_assert_cmpint(r, ==, -E2BIG);
    g_assert_nonnull(strstr(f->err, "initrd"));
    /* As much as fits above the kernel does. */
    g_assert_cmpint(load(f, k, len, initrd, RAM_SIZE - LOAD_ADDR - 0x1000, ""), ==, 0);
}

static void test_cmdline_too_long(struct fixture *f, gconstpointer data)
{
    struct elf_spec s = elf_default(true);
    size_t len;
    g_autofree uint8_t *k = build_elf(&s, &len);
    g_autofree char *cmdline = g_strnfill(0x10000, 'x');

    g_assert_cmpint(load(f, k, len, NULL, 0, cmdline), ==, -E2BIG);
    g_assert_nonnull(strstr(f->err, "command line"));
    cmdline[0xffff] = '\0';
    g_assert_cmpint(load(f, k, len, NULL, 0, cmdline), ==, 0);
}

/* ---- bzImage ---- */

static void test_bzimage(struct fixture *f, gconstpointer data)
{
    g_autofree uint8_t *k = build_bzimage(0x020c, 0x0003, 0x7fffffff);
    g_autofree uint8_t *initrd = g_malloc(5000);
    const uint8_t *zp;
    uint32_t rd;
    unsigned n;

    memset(initrd, 0x5a, 5000);
    g_assert_cmpint(load(f, k, BZ_LEN, initrd, 5000, "console=ttyS0"), ==, 0);
    g_assert_cmpint(f->info.kind, ==, BOOT_BZIMAGE);
    g_assert_cmphex(f->info.entry, ==, LOAD_ADDR + 0x200);
    g_assert_cmphex(f->info.boot_params, ==, BOOT_PARAMS);
    for (size_t i = 0; i < BZ_CODE_LEN; i++)
        g_assert_cmphex(f->ram[LOAD_ADDR + i], ==, payload_byte(i));

    zp = f->ram + f->info.boot_params;
    g_assert_cmpmem(zp + 0x202, 4, "HdrS", 4);
    g_assert_cmphex(zp[0x1fe] | zp[0x1ff] << 8, ==, 0xaa55);
    g_assert_cmphex(zp[0x210], ==, 0xff);                  /* type_of_loader */
    g_assert_cmphex(zp[0x211] & 0x81, ==, 0x81);           /* LOADED_HIGH, CAN_USE_HEAP */
    g_assert_cmpuint(get32(zp + 0x228), <, RAM_SIZE);      /* cmd_line_ptr */
    g_assert_cmpstr((const char *)f->ram + get32(zp + 0x228), ==, "console=ttyS0");

    rd = get32(zp + 0x218);
    g_assert_cmpuint(get32(zp + 0x21c), ==, 5000);
    g_assert_cmphex(rd & 0xfff, ==, 0);
    g_assert_cmpuint(rd, >=, LOAD_ADDR + BZ_LEN);
    g_assert_cmpuint(rd + 5000, <=, RAM_SIZE);
    g_assert_cmpmem(f->ram + rd, 5000, initrd, 5000);

    /* The e820 table in the zero page covers the RAM and nothing else. */
    n = zp[0x1e8];
    g_assert_cmpuint(n, >=, 2);
    g_assert_cmpuint(n, <=, 128);
    for (unsigned i = 0; i < n; i++) {
        struct e820_entry e;

        memcpy(&e, zp + 0x2d0 + i * sizeof(e), sizeof(e));
        g_assert_true(e.type == E820_RAM || e.type == E820_RESERVED);
        if (e.type == E820_RAM)
            g_assert_cmpuint(e.addr + e.size, <=, RAM_SIZE);
    }
}

static void test_bzimage_initrd_max(struct fixture *f, gconstpointer data)
{
    g_autofree uint8_t *k = build_bzimage(0x020c, 0x0001, 0x007fffff);
    g_autofree uint8_t *initrd = g_malloc0(0x10000);
    uint32_t rd;

    g_assert_cmpint(load(f, k, BZ_LEN, initrd, 0x10000, NULL), ==, 0);
    rd = get32(f->ram + BOOT_PARAMS + 0x218);
    g_assert_cmpuint(rd + 0x10000, <=, 0x800000);
    g_assert_cmpuint(rd, >=, LOAD_ADDR + BZ_LEN);

    /* Too big for below the kernel's limit even though RAM has room. */
    g_free(initrd);
    initrd = g_malloc0(0x800000);
    g_assert_cmpint(load(f, k, BZ_LEN, initrd, 0x800000, NULL), ==, -E2BIG);
    g_assert_nonnull(strstr(f->err, "initrd"));
}

static void test_bzimage_rejected(struct fixture *f, gconstpointer data)
{
    g_autofree uint8_t *old = build_bzimage(0x020b, 0x0003, 0x7fffffff);
    g_autofree uint8_t *no64 = build_bzimage(0x020f, 0x0002, 0x7fffffff);
    g_autofree uint8_t *k = build_bzimage(0x020c, 0x0003, 0x7fffffff);
    g_autofree uint8_t *big = NULL;
    g_autofree uint8_t *initrd = NULL;

    assert_rejected(f, old, BZ_LEN, -ENOEXEC, "2.12");
    assert_rejected(f, no64, BZ_LEN, -ENOEXEC, "64-bit boot protocol");

    /* Cut in the setup header, and cut before the protected-mode code. */
    for (size_t cut = 0x206; cut < 0x260; cut += 5) {
        g_autofree uint8_t *part = g_memdup2(k, cut);

        assert_rejected(f, part, cut, -ENOEXEC, "truncated");
    }
    for (size_t cut = 0x260; cut <= (BZ_SETUP_SECTS + 1) * 512; cut += 0x7f) {
        g_autofree uint8_t *part = g_memdup2(k, cut);

        assert_rejected(f, part, cut, -ENOEXEC, "truncated");
    }
    k[0x1f1] = 200;             /* setup larger than the file */
    assert_rejected(f, k, BZ_LEN, -ENOEXEC, "truncated");
    k[0x1f1] = BZ_SETUP_SECTS;

    /* A kernel bigger than the RAM above 1 MiB. */
    big = g_malloc0(RAM_SIZE);
    memcpy(big, k, 0x300);
    assert_rejected(f, big, RAM_SIZE, -E2BIG, "does not fit");

    initrd = g_malloc0(RAM_SIZE);
    g_assert_cmpint(load(f, k, BZ_LEN, initrd, RAM_SIZE, ""), ==, -E2BIG);
    g_assert_nonnull(strstr(f->err, "initrd"));
    g_assert_cmphex(f->ram[RAM_SIZE - 1], ==, 0xcc);
}

static void test_garbage(struct fixture *f, gconstpointer data)
{
    g_autofree uint8_t *junk = g_malloc(8192);
    GRand *rand = g_rand_new_with_seed(1234);

    assert_rejected(f, (const uint8_t *)"", 0, -ENOEXEC, "empty");
    for (unsigned round = 0; round < 64; round++) {
        size_t len = g_rand_int_range(rand, 1, 8192);

        for (size_t i = 0; i < len; i++)
            junk[i] = (uint8_t)g_rand_int(rand);
        assert_rejected(f, junk, len, -ENOEXEC, "not a kernel");
    }
    g_rand_free(rand);
    assert_rejected(f, (const uint8_t *)"MZ", 2, -ENOEXEC, "not a kernel");
}

static void test_e820(void)
{
    /* A layout with a hole below 4 GiB; only the region sizes matter. */
    struct gmem mem = {
        .fd = -1, .nregions = 2,
        .regions = { { 0, 0xb0000000ull, NULL, 0 }, { 1ull << 32, 0x50000000ull, NULL, 0 } },
    };
    struct e820_map map;

    e820_for_firmware(&mem, &map);
    g_assert_cmpuint(map.n, ==, 3);
    g_assert_cmphex(map.e[0].addr, ==, 0);
    g_assert_cmphex(map.e[0].size, ==, 0xb0000000ull);
    g_assert_cmpuint(map.e[0].type, ==, E820_RAM);
    g_assert_cmpuint(map.e[1].type, ==, E820_RESERVED);
    g_assert_cmphex(map.e[2].addr, ==, 1ull << 32);
    g_assert_cmphex(map.e[2].size, ==, 0x50000000ull);

    e820_for_kernel(&mem, &map);
    g_assert_cmpuint(map.n, ==, 7);
    g_assert_cmphex(map.e[0].size, ==, 0x9fc00);
    g_assert_cmphex(map.e[3].addr, ==, 0x100000);
    g_assert_cmphex(map.e[3].size, ==, 0xb0000000ull - 0x100000);
    /* The ECAM window is reserved for a kernel that no firmware prepared. */
    g_assert_cmphex(map.e[4].addr, ==, E820_ECAM_BASE);
    g_assert_cmphex(map.e[4].size, ==, E820_ECAM_SIZE);
    g_assert_cmpuint(map.e[4].type, ==, E820_RESERVED);
    g_assert_cmphex(map.e[6].addr + map.e[6].size, ==, (1ull << 32) + 0x50000000ull);

    /* Without high memory there is no entry for it. */
    mem.nregions = 1;
    e820_for_firmware(&mem, &map);
    g_assert_cmpuint(map.n, ==, 2);
}

int main(int argc, char **argv)
{
    g_test_init(&argc, &argv, NULL);
#define ADD(path, fn) g_test_add("/boot/" path, struct fixture, NULL, setup, fn, teardown)
    ADD("pvh-elf64", test_pvh_elf64);
    ADD("pvh-elf32", test_pvh_elf32);
    ADD("pvh-initrd", test_pvh_initrd);
    ADD("pvh-no-note", test_pvh_no_note);
    ADD("elf-truncated", test_elf_truncated);
    ADD("elf-segment-placement", test_elf_segment_placement);
    ADD("elf-not-x86", test_elf_not_x86);
    ADD("pvh-initrd-too-big", test_pvh_initrd_too_big);
    ADD("cmdline-too-long", test_cmdline_too_long);
    ADD("bzimage", test_bzimage);
    ADD("bzimage-initrd-max", test_bzimage_initrd_max);
    ADD("bzimage-rejected", test_bzimage_rejected);
    ADD("garbage", test_garbage);
#undef ADD
    g_test_add_func("/boot/e820", test_e820);
    return g_test_run();
}
