/* A guest that redraws the whole std VGA framebuffer, 1920x1080x32, frame
 * after frame, for tests/bench/display-bench.py. Frame n fills line y with
 * (y * 0x010203 + n * 0x050307) & 0xffffff, so every pixel changes from one
 * frame to the next, then writes the frame marker, the MARKER x MARKER
 * block at the top left that the fill leaves alone: pixels 0 to 2 of its
 * first line hold the TSC read just before the marker was written (bits
 * 0-23, 24-47, 48-63), the rest of the block is n & 0xffffff. A SPICE
 * client on the same host reads the TSC when a new marker arrives: the
 * latency from the guest's write to the client seeing it.
 *
 * The drawing runs in 64-bit user mode entered with sysretq, with no port
 * I/O: on a /dev/kvm that emulates kernel-mode code (and 32-bit code) an
 * instruction at a time, this is the mode it runs natively, and there the
 * TSC the guest reads is the host's. Forever, unless the command line says
 * "frames=N": then the user code stops after N frames with a hlt, whose
 * #GP brings the guest back to 32-bit kernel mode, which checks what the
 * framebuffer reads back and passes (the guest suite runs it that way on
 * both VMMs). */
#include "rt/rt.h"

#define DISPI_INDEX 0x1ce
#define DISPI_DATA 0x1cf
#define XRES 1
#define YRES 2
#define BPP 3
#define ENABLE 4
#define ENABLED 0x01
#define LFB_ENABLED 0x40

#define WIDTH 1920
#define HEIGHT 1080
#define MARKER 16
#define TSC_PIXELS 3
/* Where the framebuffer goes when no firmware placed it. */
#define LFB_DEFAULT 0xfd000000u

#define CR0_PG 0x80000000u
#define CR4_PAE 0x20u
#define MSR_EFER 0xc0000080u
#define MSR_STAR 0xc0000081u
#define EFER_SCE 0x001u
#define EFER_LME 0x100u

/* Long mode selectors, laid out as Linux has them: sysretq takes the user
 * code segment from STAR, and the host's KVM accepts only its own. */
#define SEL_KCODE32 0x08
#define SEL_KCODE64 0x10
#define SEL_KDATA 0x18
#define SEL_UCODE32 0x23
#define SEL_TSS 0x38

/* Read or written by the assembly below, so not static. */
uint32_t stream_lfb;
uint32_t stream_frames;         /* 0: forever */
uint32_t stream_user_sp;
uint32_t stream_fault_vector;
uint32_t stream_fault_rip;
void stream_after_user(void);
extern const char stream_enter64[], stream_user_done[], stream_gp64[], stream_fault64[];

static uint64_t pml4[512] __attribute__((aligned(4096)));
static uint64_t pdpt[512] __attribute__((aligned(4096)));
static uint64_t pd[4][512] __attribute__((aligned(4096)));
static uint64_t gdt64[10] __attribute__((aligned(16))) = {
    0,
    0x00cf9a000000ffffull,      /* 0x08 ring 0 code, 32-bit */
    0x00af9a000000ffffull,      /* 0x10 ring 0 code, 64-bit */
    0x00cf92000000ffffull,      /* 0x18 ring 0 data */
    0x00cffa000000ffffull,      /* 0x20 ring 3 code, 32-bit */
    0x00cff2000000ffffull,      /* 0x28 ring 3 data */
    0x00affa000000ffffull,      /* 0x30 ring 3 code, 64-bit */
    0, 0,                       /* 0x38 TSS, 16 bytes */
    0,
};
static uint64_t idt64[2 * 32] __attribute__((aligned(16)));
static uint32_t tss64[26] __attribute__((aligned(16)));
static uint8_t kernel_stack[4096] __attribute__((aligned(16)));
static uint8_t user_stack[4096] __attribute__((aligned(16)));

struct desc_ptr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

/* stream_enter64: 64-bit kernel mode, straight on to 64-bit user mode.
 * stream_user: the drawing loop; r8 the framebuffer, r9 the frame, r10
 * the frames wanted, r11 the line, rbx where it starts, edx its colour.
 * stream_gp64 / stream_fault64: an exception in user mode (the hlt that
 * ends frames=N, or anything unexpected) records where it happened and
 * leaves long mode for stream_after_user. */
__asm__(
    "    .pushsection .text.stream64, \"ax\", @progbits\n"
    "    .code64\n"
    "stream_enter64:\n"
    "    mov $0x18, %eax\n"
    "    mov %eax, %ds\n"
    "    mov %eax, %es\n"
    "    mov %eax, %ss\n"
    "    mov $0x38, %eax\n"
    "    ltr %ax\n"
    "    mov $stream_user, %ecx\n"
    "    mov $0x2, %r11d\n"                     /* IF=0, IOPL=0 */
    "    mov $stream_user_sp, %esi\n"
    "    mov (%rsi), %esp\n"
    "    sysretq\n"
    "stream_user:\n"
    "    mov $stream_lfb, %esi\n"
    "    mov (%rsi), %r8d\n"
    "    mov $stream_frames, %esi\n"
    "    mov (%rsi), %r10d\n"
    "    xor %r9d, %r9d\n"
    "    cld\n"
    "1:  imul $0x050307, %r9d, %edx\n"
    "    xor %r11d, %r11d\n"
    "    mov %r8, %rbx\n"
    "2:  mov %edx, %eax\n"
    "    and $0xffffff, %eax\n"
    "    mov %rbx, %rdi\n"
    "    mov $1920, %ecx\n"
    "    cmp $16, %r11d\n"
    "    jae 3f\n"
    "    add $64, %rdi\n"
    "    mov $1904, %ecx\n"
    "3:  rep stosl\n"
    "    add $0x010203, %edx\n"
    "    add $7680, %rbx\n"
    "    inc %r11d\n"
    "    cmp $1080, %r11d\n"
    "    jb 2b\n"
    "    rdtsc\n"
    "    mov %eax, %ecx\n"
    "    and $0xffffff, %ecx\n"
    "    mov %ecx, (%r8)\n"
    "    shrd $24, %edx, %eax\n"
    "    and $0xffffff, %eax\n"
    "    mov %eax, 4(%r8)\n"
    "    shr $16, %edx\n"
    "    mov %edx, 8(%r8)\n"
    "    mov %r9d, %eax\n"
    "    and $0xffffff, %eax\n"
    "    lea 12(%r8), %rdi\n"
    "    mov $13, %ecx\n"
    "    rep stosl\n"
    "    mov $1, %r11d\n"
    "    lea 7680(%r8), %rbx\n"
    "4:  mov %rbx, %rdi\n"
    "    mov $16, %ecx\n"
    "    rep stosl\n"
    "    add $7680, %rbx\n"
    "    inc %r11d\n"
    "    cmp $16, %r11d\n"
    "    jb 4b\n"
    "    inc %r9d\n"
    "    cmp %r9d, %r10d\n"
    "    jne 1b\n"
    "stream_user_done:\n"
    "    hlt\n"
    "stream_gp64:\n"
    "    mov $13, %eax\n"
    "    mov 8(%rsp), %rdx\n"                   /* past the error code */
    "    jmp 5f\n"
    "stream_fault64:\n"
    "    mov $0xff, %eax\n"
    "    mov (%rsp), %rdx\n"
    "5:  mov $stream_fault_vector, %esi\n"
    "    mov %eax, (%rsi)\n"
    "    mov $stream_fault_rip, %esi\n"
    "    mov %edx, (%rsi)\n"
    "    mov $0x08, %eax\n"
    "    push %rax\n"
    "    mov $stream_back32, %eax\n"
    "    push %rax\n"
    "    lretq\n"
    "    .code32\n"
    "stream_back32:\n"
    "    mov $0x18, %eax\n"
    "    mov %eax, %ds\n"
    "    mov %eax, %es\n"
    "    mov %eax, %ss\n"
    "    mov %cr0, %eax\n"
    "    and $0x7fffffff, %eax\n"
    "    mov %eax, %cr0\n"
    "    mov $0xc0000080, %ecx\n"
    "    rdmsr\n"
    "    and $0xfffffefe, %eax\n"
    "    wrmsr\n"
    "    lgdt rt_gdt_desc\n"
    "    ljmp $0x08, $6f\n"
    "6:  mov $0x10, %eax\n"
    "    mov %eax, %ds\n"
    "    mov %eax, %es\n"
    "    mov %eax, %fs\n"
    "    mov %eax, %gs\n"
    "    mov %eax, %ss\n"
    "    mov $rt_stack_top, %esp\n"
    "    call stream_after_user\n"
    "7:  hlt\n"
    "    jmp 7b\n"
    "    .popsection\n");

static void dispi_write(uint16_t index, uint16_t v)
{
    outw(DISPI_INDEX, index);
    outw(DISPI_DATA, v);
}

static uint16_t dispi_read(uint16_t index)
{
    outw(DISPI_INDEX, index);
    return inw(DISPI_DATA);
}

static const char *cmdline(void)
{
    const struct rt_hvm_start_info *si = (const struct rt_hvm_start_info *)(uintptr_t)rt_entry_ebx;

    if (si->magic != RT_HVM_START_MAGIC || !si->cmdline_paddr || si->cmdline_paddr >= 0xffffffffull)
        return "";
    return (const char *)(uintptr_t)si->cmdline_paddr;
}

static uint32_t cmdline_number(const char *key)
{
    size_t n = strlen(key);
    const char *start = cmdline(), *s;
    uint32_t v = 0;

    for (s = start; *s; s++)
        if ((s == start || s[-1] == ' ') && strncmp(s, key, n) == 0)
            break;
    if (!*s)
        return 0;
    for (s += n; *s >= '0' && *s <= '9'; s++)
        v = v * 10 + (uint32_t)(*s - '0');
    return v;
}

static uint32_t line_colour(uint32_t frame, uint32_t y)
{
    return (y * 0x010203u + frame * 0x050307u) & 0xffffff;
}

static uint64_t gate(const char *handler)
{
    uint32_t h = (uint32_t)(uintptr_t)handler;

    /* Present, DPL0, 64-bit interrupt gate; the high half (idt64[2v+1]) is 0. */
    return (h & 0xffff) | (uint64_t)SEL_KCODE64 << 16 | 0x8eull << 40 | (uint64_t)(h >> 16) << 48;
}

/* Identity-maps the first 4 GiB in 2 MiB user pages, loads a 64-bit GDT,
 * TSS and IDT, turns on long mode and jumps to stream_enter64. */
__attribute__((noreturn)) static void enter_long_mode(void)
{
    uint32_t tss = (uint32_t)(uintptr_t)tss64, cr;
    struct desc_ptr g = { sizeof(gdt64) - 1, (uint32_t)(uintptr_t)gdt64 };
    struct desc_ptr i = { sizeof(idt64) - 1, (uint32_t)(uintptr_t)idt64 };

    pml4[0] = (uint32_t)(uintptr_t)pdpt | 7;
    for (uint32_t j = 0; j < 4; j++) {
        pdpt[j] = (uint32_t)(uintptr_t)pd[j] | 7;
        for (uint32_t k = 0; k < 512; k++)
            pd[j][k] = (uint64_t)(j * 512 + k) << 21 | 0x87; /* present, writable, user, 2 MiB */
    }
    tss64[1] = (uint32_t)(uintptr_t)(kernel_stack + sizeof(kernel_stack)); /* rsp0 */
    tss64[25] = (uint32_t)sizeof(tss64) << 16;  /* no I/O bitmap */
    gdt64[SEL_TSS / 8] = (sizeof(tss64) - 1) | (uint64_t)(tss & 0xffffff) << 16 | 0x89ull << 40 |
                         (uint64_t)(tss >> 24) << 56;
    for (unsigned v = 0; v < 32; v++)
        idt64[2 * v] = gate(v == 13 ? stream_gp64 : stream_fault64);
    stream_user_sp = (uint32_t)(uintptr_t)(user_stack + sizeof(user_stack));

    __asm__ volatile("lgdt %0\n\tlidt %1" : : "m"(g), "m"(i) : "memory");
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr | CR4_PAE));
    __asm__ volatile("mov %0, %%cr3" : : "r"(pml4) : "memory");
    rt_wrmsr(MSR_EFER, rt_rdmsr(MSR_EFER) | EFER_LME | EFER_SCE);
    rt_wrmsr(MSR_STAR, (uint64_t)SEL_KCODE64 << 32 | (uint64_t)SEL_UCODE32 << 48);
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr | CR0_PG) : "memory");
    __asm__ volatile("ljmp %0, $stream_enter64" : : "i"(SEL_KCODE64));
    __builtin_unreachable();
}

/* Back in 32-bit kernel mode after an exception in user mode. */
void stream_after_user(void)
{
    const uint32_t *lfb = (const uint32_t *)(uintptr_t)stream_lfb;
    uint32_t last = stream_frames - 1, good = 0, samples = 0;

    rt_idt_init();
    if (stream_fault_vector != 13 || stream_fault_rip != (uint32_t)(uintptr_t)stream_user_done)
        rt_fail("exception %x in user mode at %x", stream_fault_vector, stream_fault_rip);
    rt_printf("user mode done; tsc in the marker %x%06x%06x\n", lfb[2], lfb[1], lfb[0]);
    for (uint32_t i = 0; i < WIDTH * HEIGHT; i += 4099) {
        uint32_t x = i % WIDTH, y = i / WIDTH, want;

        if (y == 0 && x < TSC_PIXELS)
            continue;
        want = x < MARKER && y < MARKER ? last & 0xffffff : line_colour(last, y);
        good += (lfb[i] & 0xffffff) == want;
        samples++;
    }
    rt_printf("= %u frames drawn, marker %06x, %u of %u samples read back\n", stream_frames,
              lfb[(MARKER / 2) * WIDTH + MARKER / 2] & 0xffffff, good, samples);
    RT_CHECK(good == samples, "the framebuffer does not hold the last frame");
    rt_pass();
}

int main(void)
{
    uint8_t dev = 0xff;
    uint32_t bar0, cmd;

    rt_serial_init();
    stream_frames = cmdline_number("frames=");
    for (uint8_t d = 0; d < 32; d++) {
        if ((rt_pci_read32(0, d, 0, 0x08) >> 16) == 0x0300 && rt_pci_read32(0, d, 0, 0) == 0x11111234u) {
            dev = d;
            break;
        }
    }
    RT_CHECK(dev != 0xff, "no std VGA (1234:1111, class 0300) on bus 0");
    cmd = rt_pci_read32(0, dev, 0, 0x04);
    bar0 = rt_pci_read32(0, dev, 0, 0x10) & ~0xfu;
    if (!bar0) {
        rt_pci_write32(0, dev, 0, 0x04, cmd & ~3u);
        bar0 = LFB_DEFAULT;
        rt_pci_write32(0, dev, 0, 0x10, bar0);
    }
    rt_pci_write32(0, dev, 0, 0x04, cmd | 3);
    stream_lfb = bar0;
    rt_printf("vga at 00:%02x.0, framebuffer at %08x\n", dev, bar0);

    dispi_write(ENABLE, 0);
    dispi_write(XRES, WIDTH);
    dispi_write(YRES, HEIGHT);
    dispi_write(BPP, 32);
    dispi_write(ENABLE, ENABLED | LFB_ENABLED);
    rt_printf("= mode %ux%ux%u\n", dispi_read(XRES), dispi_read(YRES), dispi_read(BPP));
    RT_CHECK(dispi_read(XRES) == WIDTH && dispi_read(YRES) == HEIGHT && dispi_read(BPP) == 32,
             "the card did not take the mode");
    /* The attribute controller's palette source bit turns the picture on. */
    inb(0x3da);
    outb(0x3c0, 0x20);
    rt_printf("streaming %ux%u, marker %ux%u at 0,0, tsc in its first %u pixels\n", WIDTH, HEIGHT, MARKER,
              MARKER, TSC_PIXELS);
    enter_long_mode();
}
