/* Ring 3 entry: a TSS for the way back into ring 0 on exceptions, and a
 * sysexit into CPL3 with IOPL=3 so user code may still use port I/O. */
#include "rt.h"

struct tss32 {
    uint32_t link, esp0, ss0, esp1, ss1, esp2, ss2;
    uint32_t cr3, eip, eflags, eax, ecx, edx, ebx, esp, ebp, esi, edi;
    uint32_t es, cs, ss, ds, fs, gs, ldt;
    uint16_t trap, iomap_base;
} __attribute__((packed));

#define MSR_SYSENTER_CS 0x174

extern uint64_t rt_gdt[];

static struct tss32 tss __attribute__((aligned(16)));
static uint8_t ring0_stack[4096] __attribute__((aligned(16)));
static uint8_t user_stack[8192] __attribute__((aligned(16)));

static void install_tss(void)
{
    uint32_t base = (uint32_t)(uintptr_t)&tss;
    uint32_t limit = sizeof(tss) - 1;

    memset(&tss, 0, sizeof(tss));
    tss.ss0 = RT_SEL_KDATA;
    tss.esp0 = (uint32_t)(uintptr_t)(ring0_stack + sizeof(ring0_stack));
    /* Past the limit means no I/O bitmap: IOPL alone decides port access. */
    tss.iomap_base = sizeof(tss);

    uint64_t d = (limit & 0xffff) | (uint64_t)(base & 0xffffff) << 16 |
                 (uint64_t)0x89 << 40 | /* present, DPL0, available 32-bit TSS */
                 (uint64_t)((limit >> 16) & 0xf) << 48 |
                 (uint64_t)(base >> 24) << 56;
    rt_gdt[RT_SEL_TSS / 8] = d;
    __asm__ volatile("ltr %w0" : : "r"((uint16_t)RT_SEL_TSS));
}

void rt_enter_user(void (*fn)(void))
{
    install_tss();

    uint32_t *sp = (uint32_t *)(user_stack + sizeof(user_stack));
    *--sp = 0; /* in place of a return address: fn must not return */

    /* IOPL=3 and IF=0 for the user code; sysexit leaves EFLAGS alone. */
    uint32_t eflags;
    __asm__ volatile("pushfl; popl %0" : "=r"(eflags));
    eflags = (eflags & ~0x200u) | 0x3000u;

    /* sysexit rather than iret: an instruction-emulating KVM may not
     * implement a privilege-changing iret, and sysexit needs only
     * SYSENTER_CS, from which it derives CS = +16 and SS = +24 (our 0x1b
     * and 0x23). */
    rt_wrmsr(MSR_SYSENTER_CS, RT_SEL_KCODE);
    __asm__ volatile(
        "pushl %0\n\t"
        "popfl\n\t"
        "mov %w1, %%ds\n\t"
        "mov %w1, %%es\n\t"
        "mov %w1, %%fs\n\t"
        "mov %w1, %%gs\n\t"
        "sysexit"
        :
        : "r"(eflags), "r"((uint32_t)RT_SEL_UDATA), "c"(sp), "d"(fn)
        : "memory");
    __builtin_unreachable();
}
