/* Freestanding runtime for the guest test images: port and MMIO access,
 * serial console, printf, debug exit, fw_cfg, PCI, CMOS and interrupt helpers. */
#ifndef NOOK_GUEST_RT_H
#define NOOK_GUEST_RT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Selectors of the runtime GDT (entry.S). */
#define RT_SEL_KCODE 0x08
#define RT_SEL_KDATA 0x10
#define RT_SEL_UCODE 0x1b
#define RT_SEL_UDATA 0x23
#define RT_SEL_TSS 0x28

#define RT_DEBUG_EXIT_PORT 0xf4

/* ---- port and MMIO access ---- */

static inline void outb(uint16_t port, uint8_t v)
{
    __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outw(uint16_t port, uint16_t v)
{
    __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port));
}

static inline void outl(uint16_t port, uint32_t v)
{
    __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port));
}

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint16_t inw(uint16_t port)
{
    uint16_t v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t mmio_read32(uintptr_t addr)
{
    return *(volatile uint32_t *)addr;
}

static inline void mmio_write32(uintptr_t addr, uint32_t v)
{
    *(volatile uint32_t *)addr = v;
}

static inline uint64_t rt_rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static inline void rt_wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((uint32_t)v), "d"((uint32_t)(v >> 32)));
}

static inline void rt_cli(void)
{
    __asm__ volatile("cli" ::: "memory");
}

static inline void rt_sti(void)
{
    __asm__ volatile("sti" ::: "memory");
}

/* sti only takes effect after the next instruction, so an interrupt that is
 * already pending cannot slip in between sti and hlt and be missed. */
static inline void rt_sti_hlt(void)
{
    __asm__ volatile("sti; hlt; cli" ::: "memory");
}

static inline void rt_barrier(void)
{
    __asm__ volatile("" ::: "memory");
}

static inline void rt_pause(void)
{
    __asm__ volatile("pause" ::: "memory");
}

static inline uint16_t rt_be16(const void *p)
{
    const uint8_t *b = p;
    return (uint16_t)(b[0] << 8 | b[1]);
}

static inline uint32_t rt_be32(const void *p)
{
    const uint8_t *b = p;
    return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 | (uint32_t)b[2] << 8 | b[3];
}

static inline uint32_t rt_bswap32(uint32_t v)
{
    return __builtin_bswap32(v);
}

/* ---- libc subset (lib.c) ---- */

void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
void *memmove(void *dst, const void *src, size_t n);
int memcmp(const void *a, const void *b, size_t n);
size_t strlen(const char *s);
int strcmp(const char *a, const char *b);
int strncmp(const char *a, const char *b, size_t n);

/* ---- entry state (entry.S) ---- */

/* struct hvm_start_info as defined by the PVH boot ABI (version 1 fields). */
struct rt_hvm_start_info {
    uint32_t magic;
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr;
    uint32_t memmap_entries;
    uint32_t reserved;
};

struct rt_hvm_memmap_entry {
    uint64_t addr;
    uint64_t size;
    uint32_t type;
    uint32_t reserved;
};

#define RT_HVM_START_MAGIC 0x336ec578u

extern uint32_t rt_entry_ebx;
extern uint32_t rt_entry_eflags;
extern uint32_t rt_entry_cr0;
extern uint32_t rt_entry_cr4;
extern uint32_t rt_entry_cs;
extern uint32_t rt_entry_ds;

int main(void);

/* ---- console (console.c) ---- */

void rt_serial_init(void);
void rt_putc(char c);
void rt_puts(const char *s);
int rt_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
int rt_vprintf(const char *fmt, va_list ap);
int rt_snprintf(char *buf, size_t size, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Writes v to the debug-exit port; QEMU's isa-debug-exit and nook-vmm both
 * end with status (v << 1) | 1. Halts forever if nothing is listening. */
__attribute__((noreturn)) void rt_exit(uint32_t v);
/* Prints "FAIL <reason>" and exits with 1. */
__attribute__((noreturn, format(printf, 1, 2))) void rt_fail(const char *fmt, ...);
/* Prints "PASS" and exits with 0. */
__attribute__((noreturn)) void rt_pass(void);

#define RT_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond))                                                           \
            rt_fail(__VA_ARGS__);                                              \
    } while (0)

/* ---- interrupts (irq.c, entry.S) ---- */

struct rt_frame {
    uint32_t edi, esi, ebp, esp_unused, ebx, edx, ecx, eax;
    uint32_t vector, error;
    uint32_t eip, cs, eflags;
};

typedef void (*rt_irq_handler)(struct rt_frame *f);

void rt_idt_init(void);
/* Loads the shared IDT on a CPU that did not run rt_idt_init (an AP). */
void rt_idt_load(void);
void rt_set_handler(uint8_t vector, rt_irq_handler fn);

#define RT_PIC_VECTOR_BASE 0x20 /* IRQ0..15 -> 0x20..0x2f */
#define RT_SPURIOUS_VECTOR 0xff

void rt_pic_init(void);
void rt_pic_set_mask(uint16_t mask); /* bit n set = IRQ n masked */
void rt_pic_eoi(uint8_t irq);

#define RT_LAPIC_BASE 0xfee00000u
#define RT_LAPIC_ID 0x020
#define RT_LAPIC_VERSION 0x030
#define RT_LAPIC_TPR 0x080
#define RT_LAPIC_EOI 0x0b0
#define RT_LAPIC_SVR 0x0f0
#define RT_LAPIC_ESR 0x280
#define RT_LAPIC_ICR_LO 0x300
#define RT_LAPIC_ICR_HI 0x310
#define RT_LAPIC_LVT_TIMER 0x320
#define RT_LAPIC_LVT_LINT0 0x350
#define RT_LAPIC_LVT_LINT1 0x360
#define RT_LAPIC_LVT_ERROR 0x370
#define RT_LAPIC_TIMER_INIT 0x380
#define RT_LAPIC_TIMER_CUR 0x390
#define RT_LAPIC_TIMER_DIV 0x3e0

static inline uint32_t rt_lapic_read(uint32_t reg)
{
    return mmio_read32(RT_LAPIC_BASE + reg);
}

static inline void rt_lapic_write(uint32_t reg, uint32_t v)
{
    mmio_write32(RT_LAPIC_BASE + reg, v);
}

static inline uint8_t rt_lapic_id(void)
{
    return (uint8_t)(rt_lapic_read(RT_LAPIC_ID) >> 24);
}

/* Software-enables the local APIC; on the BSP also wires LINT0 as ExtINT so
 * the 8259 reaches the CPU (no firmware did that on nook-vmm). */
void rt_lapic_init(bool bsp);
void rt_lapic_eoi(void);
/* Sleeps with sti; hlt until a one-shot LAPIC timer interrupt; takes over
 * the LAPIC timer and RT_SLEEP_VECTOR. us up to about 60 s. */
#define RT_SLEEP_VECTOR 0xfe
void rt_lapic_sleep_us(uint32_t us);
/* Sends an IPI and waits (bounded) for the delivery status bit to clear. */
bool rt_lapic_send_ipi(uint8_t dest, uint32_t icr_lo);

#define RT_IOAPIC_BASE 0xfec00000u

uint32_t rt_ioapic_read(uint32_t reg);
void rt_ioapic_write(uint32_t reg, uint32_t v);
unsigned rt_ioapic_pins(void);
void rt_ioapic_mask_all(void);
/* Edge-triggered, active-high, fixed delivery to a physical APIC id. */
void rt_ioapic_route(unsigned pin, uint8_t vector, uint8_t dest, bool masked);

/* ---- PIT (pit.c) ---- */

#define RT_PIT_HZ 1193182u

/* Channel 0, mode 2 (rate generator) at hz. */
void rt_pit_periodic(unsigned hz);

/* ---- CMOS / RTC (cmos.c) ---- */

uint8_t rt_cmos_read(uint8_t reg);
void rt_cmos_write(uint8_t reg, uint8_t v);

/* ---- PCI (pci.c) ---- */

#define RT_PCI_ECAM_BASE 0xb0000000u

uint32_t rt_pci_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
void rt_pci_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v);
uint32_t rt_pci_ecam_read32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off);
void rt_pci_ecam_write32(uint8_t bus, uint8_t dev, uint8_t fn, uint16_t off, uint32_t v);
/* Programs the q35 host bridge's PCIEXBAR so ECAM appears at RT_PCI_ECAM_BASE. */
void rt_pci_enable_ecam(void);

/* ---- fw_cfg (fwcfg.c) ---- */

#define RT_FWCFG_PORT_SEL 0x510
#define RT_FWCFG_PORT_DATA 0x511
#define RT_FWCFG_PORT_DMA 0x514

#define RT_FWCFG_SIGNATURE 0x00
#define RT_FWCFG_ID 0x01
#define RT_FWCFG_NB_CPUS 0x05
#define RT_FWCFG_FILE_DIR 0x19

#define RT_FWCFG_DMA_ERROR 0x01
#define RT_FWCFG_DMA_READ 0x02
#define RT_FWCFG_DMA_SKIP 0x04
#define RT_FWCFG_DMA_SELECT 0x08
#define RT_FWCFG_DMA_WRITE 0x10

struct rt_fwcfg_file {
    uint32_t size;
    uint16_t select;
    char name[56];
};

void rt_fwcfg_select(uint16_t key);
void rt_fwcfg_read(void *buf, uint32_t len);
void rt_fwcfg_read_key(uint16_t key, void *buf, uint32_t len);
uint32_t rt_fwcfg_read32(uint16_t key); /* little-endian items */
uint16_t rt_fwcfg_read16(uint16_t key);
/* Walks the file directory; returns false if name is absent. */
bool rt_fwcfg_find(const char *name, struct rt_fwcfg_file *out);
/* Walks etc/e820: returns the total of its RAM entries and stores in
 * *low_end the end of the RAM entry that holds 1 MiB (0 if none). Fails
 * the test when fw_cfg has no etc/e820. */
uint64_t rt_fwcfg_e820_ram(uint64_t *low_end);
/* Runs one DMA command; returns the control word the device left behind
 * (0 on success, RT_FWCFG_DMA_ERROR set on failure). */
uint32_t rt_fwcfg_dma(uint32_t control, void *buf, uint32_t len);

/* ---- ring 3 (user.c) ---- */

/* Drops to CPL3 with IOPL=3 and runs fn on its own stack; fn must not return. */
__attribute__((noreturn)) void rt_enter_user(void (*fn)(void));

#endif
