/* The protected-mode part of a tiny bzImage: entered at offset 0x200 in
 * 64-bit mode as the x86 boot protocol says, it checks what the loader handed
 * over and leaves through the debug-exit port with 0 (all good) or the number
 * of the first check that failed. */

#define BP_E820_ENTRIES 0x1e8
#define BP_HDR_MAGIC    0x202
#define BP_LOADER_TYPE  0x210
#define BP_LOADFLAGS    0x211
#define BP_RAMDISK_IMAGE 0x218
#define BP_RAMDISK_SIZE 0x21c
#define BP_CMD_LINE_PTR 0x228
#define BP_E820_TABLE   0x2d0

    .code64
    .section .text
    .globl _start
_start:
    /* 0x000: the 32-bit entry, unused by a 64-bit loader. */
    mov $90, %eax
    jmp fail
    .org 0x200
start64:
    mov %rsi, %rbx

    mov $1, %eax                        /* long mode with paging */
    mov %cr0, %rcx
    bt $31, %rcx
    jnc fail
    mov $0xc0000080, %ecx
    rdmsr
    bt $10, %eax                        /* EFER.LMA */
    mov $2, %eax
    jnc fail

    mov $3, %eax                        /* the zero page has the setup header */
    cmpl $0x53726448, BP_HDR_MAGIC(%rbx)
    jne fail
    mov $4, %eax                        /* a loader type is set, LOADED_HIGH */
    cmpb $0, BP_LOADER_TYPE(%rbx)
    je fail
    testb $1, BP_LOADFLAGS(%rbx)
    jz fail

    mov $5, %eax                        /* the command line */
    mov BP_CMD_LINE_PTR(%rbx), %edi
    lea expect_cmdline(%rip), %rsi
1:  movzbl (%rsi), %ecx
    cmpb %cl, (%rdi)
    jne fail
    inc %rsi
    inc %rdi
    test %cl, %cl
    jnz 1b

    mov $6, %eax                        /* the initrd: size and first bytes */
    cmpl $4096, BP_RAMDISK_SIZE(%rbx)
    jne fail
    mov BP_RAMDISK_IMAGE(%rbx), %edi
    test $0xfff, %edi
    jnz fail
    mov $7, %eax
    movabs $0x54494e494b4f4f4e, %rcx    /* "NOOKINIT" */
    cmp %rcx, (%rdi)
    jne fail

    mov $8, %eax                        /* e820: RAM above 1 MiB up to the end */
    movzbl BP_E820_ENTRIES(%rbx), %ecx
    cmp $3, %ecx
    jb fail
    lea BP_E820_TABLE(%rbx), %rdi
    xor %r8, %r8                        /* sum of RAM entries */
2:  cmpl $1, 16(%rdi)
    jne 3f
    add 8(%rdi), %r8
3:  add $20, %rdi
    dec %ecx
    jnz 2b
    mov $9, %eax
    mov $(64 << 20), %r9                /* the test runs with 64 MiB */
    cmp %r9, %r8
    ja fail
    sub $(1 << 20), %r9
    cmp %r9, %r8
    jb fail

    mov $10, %eax                       /* the identity map reaches 3 GiB, */
    movabs $0xc0000000, %rdi            /* where nothing answers: all ones */
    mov (%rdi), %ecx
    cmp $0xffffffff, %ecx
    jne fail

    xor %eax, %eax
fail:
    mov $0xf4, %dx
    out %eax, %dx
4:  hlt
    jmp 4b

expect_cmdline:
    .asciz "console=ttyS0 nook-bzimage-test"
