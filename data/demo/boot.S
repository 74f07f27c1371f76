/* The demo machine's boot sector: SeaBIOS loads it at 0x7c00 and runs it in
 * real mode. It prints a greeting through the video BIOS and then echoes
 * what is typed, so the screen and the keyboard both show they work. Only
 * BIOS calls: a few thousand instructions, quick even where guest kernel
 * code is emulated one instruction at a time. */
    .code16
    .text
    .globl _start
_start:
    cli
    xor %ax, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    mov $0x7c00, %sp
    sti
    mov $greeting, %si
    call print
echo:
    xor %ah, %ah                /* wait for a key: AL = its character */
    int $0x16
    cmp $0x0d, %al
    jne 1f
    mov $prompt, %si            /* Enter: a new prompt line */
    call print
    jmp echo
1:  call putc
    jmp echo

print:
    lodsb
    test %al, %al
    jz 2f
    call putc
    jmp print
2:  ret

putc:
    mov $0x0e, %ah              /* teletype output, page 0 */
    mov $0x0007, %bx
    int $0x10
    ret

greeting:
    .ascii "\r\nHello from the Nook demo machine.\r\n\r\n"
    .ascii "SeaBIOS booted this disk; its boot sector prints this and echoes what\r\n"
    .ascii "you type. Click here and type. Ctrl+Alt gives the keyboard back.\r\n"
    .ascii "Drop an installer ISO on Nook's window to make a machine of your own.\r\n"
prompt:
    .asciz "\r\n> "

    .org 510
    .word 0xaa55
