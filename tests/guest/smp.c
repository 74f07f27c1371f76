/* Application processor start-up with INIT-SIPI-SIPI through a real-mode
 * trampoline at 0x8000. Compared: how many CPUs came online and their sorted
 * local APIC ids; the expected count comes from fw_cfg NB_CPUS. */
#include "rt/rt.h"

#define TRAMPOLINE_ADDR 0x8000u
#define MAX_CPUS 64
#define AP_STACK_SIZE 4096

#define ICR_ALL_BUT_SELF (3u << 18)
#define ICR_LEVEL_ASSERT (1u << 14)
#define ICR_INIT (5u << 8)
#define ICR_STARTUP (6u << 8)

struct gdtr {
    uint16_t limit;
    uint32_t base;
} __attribute__((packed));

extern const uint8_t ap_tramp_start[], ap_tramp_end[], ap_tramp_gdtr[];
extern const struct gdtr rt_gdt_desc;

/* Read by the trampoline's 32-bit half, so neither may be static. */
uint32_t ap_stack_next;
uint32_t ap_stack_limit;
void ap_main(void);

static uint8_t ap_stacks[MAX_CPUS][AP_STACK_SIZE] __attribute__((aligned(16)));
static volatile uint32_t ap_slot;
static volatile uint32_t ap_online;
static volatile uint8_t ap_ids[MAX_CPUS];

/* The SIPI vector 0x08 starts each AP in real mode at 0800:0000. Everything
 * up to the far jump addresses the copy through cs-relative offsets; the
 * 32-bit part runs from the image itself. */
__asm__(
    "    .pushsection .text.trampoline, \"ax\", @progbits\n"
    "    .code16\n"
    "    .globl ap_tramp_start, ap_tramp_end, ap_tramp_gdtr\n"
    "ap_tramp_start:\n"
    "    cli\n"
    "    cld\n"
    "    movw %cs, %ax\n"
    "    movw %ax, %ds\n"
    "    lgdtl ap_tramp_gdtr - ap_tramp_start\n"
    "    movl %cr0, %eax\n"
    "    orl $1, %eax\n"
    "    movl %eax, %cr0\n"
    "    ljmpl $0x08, $ap_entry32\n"
    "    .balign 4\n"
    "ap_tramp_gdtr:\n"
    "    .word 0\n"
    "    .long 0\n"
    "ap_tramp_end:\n"
    "    .code32\n"
    "ap_entry32:\n"
    "    movl $0x10, %eax\n"
    "    movl %eax, %ds\n"
    "    movl %eax, %es\n"
    "    movl %eax, %fs\n"
    "    movl %eax, %gs\n"
    "    movl %eax, %ss\n"
    "    movl $4096, %eax\n"
    "    lock xaddl %eax, ap_stack_next\n"
    "    cmpl ap_stack_limit, %eax\n"
    "    ja 2f\n"
    "    movl %eax, %esp\n"
    "    call ap_main\n"
    "2:  cli\n"
    "    hlt\n"
    "    jmp 2b\n"
    "    .popsection\n");

_Static_assert(AP_STACK_SIZE == 4096, "the trampoline hard-codes the stack size");

void ap_main(void)
{
    rt_idt_load();
    uint8_t id = rt_lapic_id();
    uint32_t slot = __atomic_fetch_add(&ap_slot, 1, __ATOMIC_SEQ_CST);
    if (slot < MAX_CPUS)
        ap_ids[slot] = id;
    /* A locked add, not xadd, is what the test promises to exercise. */
    __asm__ volatile("lock addl $1, %0" : "+m"(ap_online) : : "memory");
    for (;;)
        __asm__ volatile("cli; hlt");
}

static void sort_ids(uint8_t *ids, unsigned n)
{
    for (unsigned i = 1; i < n; i++) {
        uint8_t v = ids[i];
        unsigned j = i;
        for (; j > 0 && ids[j - 1] > v; j--)
            ids[j] = ids[j - 1];
        ids[j] = v;
    }
}

int main(void)
{
    rt_serial_init();
    rt_pic_init();
    rt_lapic_init(true);

    unsigned ncpus = rt_fwcfg_read16(RT_FWCFG_NB_CPUS);
    rt_printf("fw_cfg NB_CPUS %u\n", ncpus);
    RT_CHECK(ncpus >= 1 && ncpus <= MAX_CPUS, "NB_CPUS %u out of range 1..%u", ncpus,
             MAX_CPUS);

    size_t len = (size_t)(ap_tramp_end - ap_tramp_start);
    uint8_t *tramp = (uint8_t *)(uintptr_t)TRAMPOLINE_ADDR;
    memcpy(tramp, ap_tramp_start, len);
    memcpy(tramp + (ap_tramp_gdtr - ap_tramp_start), &rt_gdt_desc, sizeof(struct gdtr));

    ap_stack_next = (uint32_t)(uintptr_t)ap_stacks[0] + AP_STACK_SIZE;
    ap_stack_limit = (uint32_t)(uintptr_t)ap_stacks[MAX_CPUS - 1] + AP_STACK_SIZE;
    rt_barrier();

    /* The classic sequence: INIT, 10 ms, SIPI, 200 us, SIPI. An AP that
     * already started ignores the second SIPI. */
    bool sent = rt_lapic_send_ipi(0, ICR_ALL_BUT_SELF | ICR_LEVEL_ASSERT | ICR_INIT);
    rt_lapic_sleep_us(10000);
    for (int i = 0; i < 2; i++) {
        sent &= rt_lapic_send_ipi(0, ICR_ALL_BUT_SELF | ICR_STARTUP |
                                         (TRAMPOLINE_ADDR >> 12));
        rt_lapic_sleep_us(200);
    }
    RT_CHECK(sent, "an IPI stayed pending (ICR %08x)", rt_lapic_read(RT_LAPIC_ICR_LO));

    /* Up to about a second for the APs, then a little longer so that more
     * CPUs than announced would be counted too. */
    for (int i = 0; i < 100 && ap_online < ncpus - 1; i++)
        rt_lapic_sleep_us(10000);
    rt_lapic_sleep_us(20000);

    unsigned online = ap_online + 1;
    unsigned nids = ap_slot < MAX_CPUS ? ap_slot : MAX_CPUS;
    uint8_t ids[MAX_CPUS + 1];
    ids[0] = rt_lapic_id();
    for (unsigned i = 0; i < nids; i++)
        ids[i + 1] = ap_ids[i];
    sort_ids(ids, nids + 1);

    rt_printf("= cpus online %u\n", online);
    rt_puts("= apic ids");
    for (unsigned i = 0; i < nids + 1; i++)
        rt_printf(" %u", ids[i]);
    rt_putc('\n');

    RT_CHECK(online == ncpus, "%u CPUs online, fw_cfg says %u", online, ncpus);
    for (unsigned i = 1; i < nids + 1; i++)
        RT_CHECK(ids[i] != ids[i - 1], "APIC id %u appears twice", ids[i]);
    rt_pass();
}
