/* The demo machine's boot sector: SeaBIOS loads it at 0x7c00 and runs it in
 * real mode. It prints a greeting through the video BIOS and then echoes
 * what is typed, so the screen and the keyboard both show they work. Only
 * BIOS calls: a few thousand instructions, quick even where guest kernel
 * code is emulated one instruction at a time. Between keys it watches the
 * ACPI power button and turns the machine off when it is pressed, as an
 * operating system would: Nook's "Power Off" works on it. */
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
    mov $1, %ah                 /* a key waiting? */
    int $0x16
    jnz 3f
    mov $PM1_STS, %dx
    in %dx, %ax
    test $PWRBTN_STS, %ax
    jnz poweroff
    hlt                         /* until the next timer tick */
    jmp echo
3:  xor %ah, %ah                /* take it: AL = its character */
    int $0x16
    cmp $0x0d, %al
    jne 1f
    mov $prompt, %si            /* Enter: a new prompt line */
    call print
    jmp echo
1:  call putc
    jmp echo

/* Nook's board (vmm/hw/pm.h): PM1 event block at 0x600, control at 0x604,
 * and S5 is sleep type 0 in its DSDT. A boot sector has no room to read
 * them from the FADT. */
    .set PM1_STS, 0x600
    .set PM1_CNT, 0x604
    .set PWRBTN_STS, 0x0100
    .set SLP_EN, 0x2000
poweroff:
    mov $bye, %si
    call print
    mov $PM1_CNT, %dx
    mov $SLP_EN, %ax            /* SLP_TYP 0 (S5) and SLP_EN */
    out %ax, %dx
    cli
4:  hlt
    jmp 4b

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
bye:
    .asciz "\r\nPower button: turning off.\r\n"

    .org 510
    .word 0xaa55
