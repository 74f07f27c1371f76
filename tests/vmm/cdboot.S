/* An El Torito no-emulation boot image: writes a line straight to COM1's
 * registers (no BIOS call, so the firmware's console plays no part) and
 * leaves through the debug-exit port with 0x2a. The BIOS loads it at
 * 0x7c00 and may enter it as 07c0:0000, so data is reached with DS = 0
 * and linear addresses. */
    .code16
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov $msg, %si
1:  lodsb
    test %al, %al
    jz 3f
    mov %al, %bl
    mov $0x3fd, %dx
2:  inb %dx, %al            /* wait for the transmitter holding register */
    test $0x20, %al
    jz 2b
    mov $0x3f8, %dx
    mov %bl, %al
    outb %al, %dx
    jmp 1b
3:  mov $0xf4, %dx
    mov $0x2a, %al
    outb %al, %dx
4:  hlt
    jmp 4b
msg: .asciz "NOOK BOOTED FROM CDROM\r\n"
