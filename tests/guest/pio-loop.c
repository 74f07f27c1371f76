/* 100000 byte writes to the unused port 0x404 in a tight loop, for timing
 * port-I/O exits. The loop runs at CPL3 with IOPL=3 because kernel-mode code
 * is emulated one instruction at a time on some hosts, which would time the
 * emulator instead of the exits. Compared: that the loop ran at CPL3 and
 * finished. Nothing decodes 0x404 on q35: QEMU's ICH9 ACPI PM block lands at
 * 0x600 once SeaBIOS has placed it, and nothing else is near. */
#include "rt/rt.h"

#define PORT 0x404
#define WRITES 100000

static void user_main(void)
{
    uint16_t cs;
    __asm__ volatile("mov %%cs, %0" : "=r"(cs));
    rt_printf("= running at cpl %u\n", cs & 3);
    if ((cs & 3) != 3)
        rt_fail("still at CPL%u after sysexit", cs & 3);

    for (uint32_t i = 0; i < WRITES; i++)
        outb(PORT, (uint8_t)i);

    rt_printf("= %u writes to port 0x%x done\n", WRITES, PORT);
    rt_pass();
}

int main(void)
{
    rt_serial_init();
    rt_enter_user(user_main);
}
