/* A boot sector: prints a line through the BIOS (int 10h, which SeaBIOS's
 * serial console carries) and leaves through the debug-exit port with 0x2a,
 * so a test sees that the firmware booted it from the disk. */
    .code16
    .globl _start
_start:
    xor %ax, %ax
    mov %ax, %ds
    mov $0x7c00 + msg - _start, %si
1:  lodsb
    test %al, %al
    jz 2f
    mov $0x0e, %ah
    int $0x10
    jmp 1b
2:  mov $0xf4, %dx
    mov $0x2a, %al
    out %al, %dx
3:  hlt
    jmp 3b
msg: .asciz "NOOK BOOTED FROM VIRTIO-BLK\r\n"
    .org 510
    .byte 0x55, 0xaa
