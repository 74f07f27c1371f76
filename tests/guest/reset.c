/* Machine reset by each of a PC's ways: reset control 0xcf9, the keyboard
 * controller's reset line (0xfe to 0x64), port 0x92 bit 0 and a triple fault.
 * A boot counter in CMOS RAM (which a reset keeps) carries the test across
 * the resets: boot 1 resets one way, boot 2 the next, and boot 5 checks the
 * count and passes. Kernel command line: "first=N" starts the cycle at method
 * N (0..3), so that under the runner's --no-reboot, where the first reset
 * ends the VMM, each method can be tried. Compared, every boot: the count, the
 * method about to be used, and that the reset undid what the previous boot
 * changed: .data reloaded, CR0/CR4, the PAT and SYSENTER MSRs, reset control
 * and port 0x92 back to their reset values. */
#include "rt/rt.h"

/* A byte in the 0x40-0x4f range, which neither SeaBIOS nor QEMU's board
 * code nor nook-vmm gives a meaning. */
#define CMOS_COUNTER 0x48
#define COUNTER_MAGIC 0xa0
#define METHODS 4

#define PORT_RCR 0xcf9
#define RCR_SYS_RST 0x02
#define RCR_RST_CPU 0x04
#define RCR_FULL_RST 0x08
#define PORT_92 0x92
#define PORT_92_RESET 0x01
#define KBC_STATUS 0x64
#define KBC_CMD 0x64
#define KBC_STATUS_IBF 0x02
#define KBC_PULSE_RESET 0xfe

#define MSR_SYSENTER_CS 0x174
#define MSR_SYSENTER_ESP 0x175
#define MSR_SYSENTER_EIP 0x176
#define MSR_PAT 0x277
#define PAT_ALL_WB 0x0606060606060606ull
#define CR0_PE 0x00000001u
#define CR0_WP 0x00010000u
#define CR0_AM 0x00040000u
#define CR0_PG 0x80000000u
#define CR4_PSE 0x10u

#define PM_TMR 0x608
#define PM_TIMER_MASK 0xffffffu

static const char *const method_names[METHODS] = {
    "reset control 0xcf9",
    "keyboard controller 0xfe",
    "port 0x92",
    "triple fault",
};

/* Initialised data: the reset must bring back the image as loaded. */
static uint32_t loaded_marker = 0x5eed1e55;

/* Busy-waits on the ACPI PM timer, which needs no interrupts set up. */
static void pm_wait_ms(uint32_t ms)
{
    uint32_t ticks = ms * 3580, start = inl(PM_TMR) & PM_TIMER_MASK, elapsed = 0;
    for (uint32_t polls = 0; elapsed < ticks; polls++) {
        elapsed = ((inl(PM_TMR) & PM_TIMER_MASK) - start) & PM_TIMER_MASK;
        if (elapsed == 0 && polls > 100000)
            return;
    }
}

static const char *cmdline(void)
{
    const struct rt_hvm_start_info *si =
        (const struct rt_hvm_start_info *)(uintptr_t)rt_entry_ebx;
    if (si->magic != RT_HVM_START_MAGIC || !si->cmdline_paddr ||
        si->cmdline_paddr >= 0xffffffffull)
        return "";
    return (const char *)(uintptr_t)si->cmdline_paddr;
}

/* The command line word that starts with key, or NULL. */
static const char *cmdline_word(const char *key)
{
    size_t n = strlen(key);
    const char *s = cmdline();
    for (; *s; s++) {
        if ((s == cmdline() || s[-1] == ' ') && strncmp(s, key, n) == 0)
            return s;
    }
    return NULL;
}

static unsigned first_method(void)
{
    const char *w = cmdline_word("first=");
    if (w && w[6] >= '0' && w[6] < '0' + METHODS)
        return (unsigned)(w[6] - '0');
    return 0;
}

/* State a reset must put back; changed here so the next boot can tell. */
static void dirty_state(void)
{
    loaded_marker = 0;
    rt_wrmsr(MSR_PAT, PAT_ALL_WB);
    rt_wrmsr(MSR_SYSENTER_CS, RT_SEL_KCODE);
    rt_wrmsr(MSR_SYSENTER_ESP, 0x12345678);
    rt_wrmsr(MSR_SYSENTER_EIP, 0x9abcdef0);
    uint32_t cr0, cr4;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    __asm__ volatile("mov %0, %%cr0" : : "r"(cr0 | CR0_WP | CR0_AM));
    __asm__ volatile("mov %%cr4, %0" : "=r"(cr4));
    __asm__ volatile("mov %0, %%cr4" : : "r"(cr4 | CR4_PSE));
}

static void check_state(void)
{
    rt_printf("= data section as loaded: %s\n",
              loaded_marker == 0x5eed1e55 ? "yes" : "no");
    rt_printf("= entry cr0.pe %u pg %u wp %u am %u, cr4 %08x\n", !!(rt_entry_cr0 & CR0_PE),
              !!(rt_entry_cr0 & CR0_PG), !!(rt_entry_cr0 & CR0_WP),
              !!(rt_entry_cr0 & CR0_AM), rt_entry_cr4);

    uint64_t pat = rt_rdmsr(MSR_PAT);
    rt_printf("= pat %08x%08x\n", (uint32_t)(pat >> 32), (uint32_t)pat);
    uint32_t cs = (uint32_t)rt_rdmsr(MSR_SYSENTER_CS);
    uint32_t esp = (uint32_t)rt_rdmsr(MSR_SYSENTER_ESP);
    uint32_t eip = (uint32_t)rt_rdmsr(MSR_SYSENTER_EIP);
    rt_printf("= sysenter cs %x esp %x eip %x\n", cs, esp, eip);

    uint8_t rcr = inb(PORT_RCR);
    outb(PORT_RCR, RCR_SYS_RST | RCR_FULL_RST);
    uint8_t rcr_set = inb(PORT_RCR);
    outb(PORT_RCR, 0);
    rt_printf("= 0xcf9 reads %02x, %02x after writing 0a\n", rcr, rcr_set);
    rt_printf("= port 0x92 reads %02x\n", inb(PORT_92));
}

static void reset_by(unsigned method)
{
    switch (method) {
    case 0:
        outb(PORT_RCR, RCR_SYS_RST);
        outb(PORT_RCR, RCR_SYS_RST | RCR_RST_CPU);
        break;
    case 1:
        for (int i = 0; i < 100000 && (inb(KBC_STATUS) & KBC_STATUS_IBF); i++)
            ;
        outb(KBC_CMD, KBC_PULSE_RESET);
        break;
    case 2: {
        /* QEMU resets on a 0 -> 1 edge of bit 0 only. */
        uint8_t v = inb(PORT_92) & (uint8_t)~PORT_92_RESET;
        outb(PORT_92, v);
        outb(PORT_92, v | PORT_92_RESET);
        break;
    }
    case 3: {
        /* With no IDT, #UD cannot be delivered, nor the #GP or #DF that
         * follow: the CPU shuts down, which a PC turns into a reset. */
        static const struct {
            uint16_t limit;
            uint32_t base;
        } __attribute__((packed)) no_idt = { 0, 0 };
        __asm__ volatile("lidt %0; ud2" : : "m"(no_idt));
        break;
    }
    }
}

int main(void)
{
    rt_serial_init();

    uint8_t counter = rt_cmos_read(CMOS_COUNTER);
    unsigned boot;
    if (counter == 0)
        boot = 1;
    else if ((counter & 0xf0) == COUNTER_MAGIC && (counter & 0x0f) >= 1 &&
             (counter & 0x0f) <= METHODS)
        boot = (counter & 0x0f) + 1u;
    else
        rt_fail("CMOS byte %02x holds %02x, not a boot count", CMOS_COUNTER, counter);

    rt_printf("cmdline '%s'\n", cmdline());
    rt_printf("= boot %u, cmos %02x holds %02x\n", boot, CMOS_COUNTER, counter);
    check_state();

    if (boot > METHODS) {
        rt_cmos_write(CMOS_COUNTER, 0);
        rt_printf("= all %u resets done\n", METHODS);
        rt_pass();
    }

    unsigned method = (first_method() + boot - 1) % METHODS;
    rt_cmos_write(CMOS_COUNTER, (uint8_t)(COUNTER_MAGIC | boot));
    dirty_state();
    rt_printf("= resetting through %s\n", method_names[method]);
    reset_by(method);

    /* A reset stops the guest within the instruction that asks for it;
     * still running a second later means nothing happened. */
    pm_wait_ms(1000);
    rt_fail("still running 1 s after a reset through %s", method_names[method]);
}
