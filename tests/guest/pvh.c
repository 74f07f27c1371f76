/* The PVH entry contract: machine state at the entry point and the
 * hvm_start_info structure. Compared: the required CR0/CR4/EFLAGS bits,
 * start_info magic, module count, and that its memory map holds about the
 * RAM fw_cfg's etc/e820 lists. Where the loader put things is not compared.
 * Flat segments are shown by the image running at all: it uses absolute
 * addresses from the first instruction. */
#include "rt/rt.h"

#define CR0_PE 0x00000001u
#define CR0_PG 0x80000000u
#define EFLAGS_TF 0x00000100u
#define EFLAGS_IF 0x00000200u
#define EFLAGS_VM 0x00020000u
#define E820_RAM 1

int main(void)
{
    rt_serial_init();

    rt_printf("entry cr0 %08x cr4 %08x eflags %08x cs %04x ds %04x ebx %08x\n",
              rt_entry_cr0, rt_entry_cr4, rt_entry_eflags, rt_entry_cs, rt_entry_ds,
              rt_entry_ebx);
    rt_printf("= entry cr0.pe %u cr0.pg %u\n", !!(rt_entry_cr0 & CR0_PE),
              !!(rt_entry_cr0 & CR0_PG));
    rt_printf("= entry cr4 %08x\n", rt_entry_cr4);
    rt_printf("= entry eflags.if %u tf %u vm %u\n", !!(rt_entry_eflags & EFLAGS_IF),
              !!(rt_entry_eflags & EFLAGS_TF), !!(rt_entry_eflags & EFLAGS_VM));
    RT_CHECK((rt_entry_cr0 & (CR0_PE | CR0_PG)) == CR0_PE, "CR0 %08x at entry",
             rt_entry_cr0);
    RT_CHECK(rt_entry_cr4 == 0, "CR4 %08x at entry", rt_entry_cr4);
    RT_CHECK(!(rt_entry_eflags & (EFLAGS_IF | EFLAGS_TF | EFLAGS_VM)),
             "EFLAGS %08x at entry", rt_entry_eflags);

    const struct rt_hvm_start_info *si =
        (const struct rt_hvm_start_info *)(uintptr_t)rt_entry_ebx;
    rt_printf("start_info at %08x: magic %08x version %u flags %x modules %u cmdline "
              "%08llx rsdp %08llx memmap %08llx x %u\n",
              rt_entry_ebx, si->magic, si->version, si->flags, si->nr_modules,
              si->cmdline_paddr, si->rsdp_paddr, si->memmap_paddr, si->memmap_entries);
    rt_printf("= start_info magic %08x\n", si->magic);
    RT_CHECK(si->magic == RT_HVM_START_MAGIC, "start_info magic %08x", si->magic);
    rt_printf("= start_info modules %u\n", si->nr_modules);

    /* The memory map arrived with version 1 of the structure. */
    RT_CHECK(si->version >= 1, "start_info version %u has no memory map", si->version);
    RT_CHECK(si->memmap_entries > 0 && si->memmap_entries < 128 &&
                 si->memmap_paddr < 0xffffffffull,
             "memory map of %u entries at %llx", si->memmap_entries, si->memmap_paddr);
    const struct rt_hvm_memmap_entry *mm =
        (const struct rt_hvm_memmap_entry *)(uintptr_t)si->memmap_paddr;
    uint64_t ram = 0;
    bool image_in_ram = false;
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        rt_printf("memmap %016llx-%016llx type %u\n", mm[i].addr,
                  mm[i].addr + mm[i].size - 1, mm[i].type);
        if (mm[i].type != E820_RAM)
            continue;
        ram += mm[i].size;
        if (mm[i].addr <= 0x100000 && mm[i].addr + mm[i].size >= 0x200000)
            image_in_ram = true;
    }
    /* Firmware may keep some RAM for itself (SeaBIOS reserves the top
     * 128 KiB below 4 GiB), so compare with fw_cfg's e820 loosely. */
    uint64_t e820_ram = rt_fwcfg_e820_ram(NULL);
    rt_printf("memmap ram %llu KiB, fw_cfg e820 ram %llu KiB\n", ram >> 10, e820_ram >> 10);
    bool close = ram <= e820_ram && e820_ram - ram <= (2u << 20);
    rt_printf("= memmap ram within 2 MiB below fw_cfg e820: %s\n", close ? "yes" : "no");
    RT_CHECK(close, "memory map RAM %llu KiB, fw_cfg e820 %llu KiB", ram >> 10,
             e820_ram >> 10);
    rt_printf("= memmap covers the image: %s\n", image_in_ram ? "yes" : "no");
    RT_CHECK(image_in_ram, "the memory map has no RAM at 1-2 MiB");

    if (si->cmdline_paddr) {
        const char *cmd = (const char *)(uintptr_t)si->cmdline_paddr;
        rt_printf("cmdline \"%s\"\n", cmd);
    }

    rt_pass();
}
