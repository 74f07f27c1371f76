/* PVH entry point of the guest test images: 32-bit protected mode, paging off,
 * ebx = struct hvm_start_info. Sets up our own GDT, stack and IDT, runs main(). */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

    .section .note.Xen, "a", @note
    .balign 4
    .long 2f - 1f           /* namesz */
    .long 4f - 3f           /* descsz */
    .long XEN_ELFNOTE_PHYS32_ENTRY
1:  .asciz "Xen"
2:  .balign 4
3:  .long _start
4:  .balign 4

    .section .text.entry, "ax", @progbits
    .code32
    .globl _start
_start:
    /* Record the state the loader handed over before touching any of it,
     * so tests can check the PVH entry contract. The loader provides no
     * stack; ours is flat like the loader's SS is required to be. */
    movl %ebx, rt_entry_ebx
    movl $rt_stack_top, %esp
    pushfl
    popl rt_entry_eflags
    movl %cr0, %eax
    movl %eax, rt_entry_cr0
    movl %cr4, %eax
    movl %eax, rt_entry_cr4
    movl %cs, %eax
    movl %eax, rt_entry_cs
    movl %ds, %eax
    movl %eax, rt_entry_ds

    cli
    cld
    lgdt rt_gdt_desc
    ljmp $0x08, $1f
1:  movl $0x10, %eax
    movl %eax, %ds
    movl %eax, %es
    movl %eax, %fs
    movl %eax, %gs
    movl %eax, %ss
    movl $rt_stack_top, %esp

    movl $__bss_start, %edi
    movl $__bss_end, %ecx
    subl %edi, %ecx
    shrl $2, %ecx
    xorl %eax, %eax
    rep stosl

    call rt_idt_init
    call main
    pushl %eax
    call rt_exit
2:  cli
    hlt
    jmp 2b

/* One 16-byte stub per vector; rt_idt_init relies on that stride. Vectors
 * for which the CPU pushes no error code get a dummy one so every frame has
 * the same layout. */
    .section .text.isr, "ax", @progbits
    .balign 16
    .globl rt_isr_stubs
rt_isr_stubs:
    .set vec, 0
    .rept 256
    .balign 16
    .if (vec == 8) || ((vec >= 10) && (vec <= 14)) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    pushl $vec
    .else
    pushl $0
    pushl $vec
    .endif
    jmp rt_isr_common
    .set vec, vec + 1
    .endr

rt_isr_common:
    pushal
    cld
    pushl %esp
    call rt_irq_dispatch
    addl $4, %esp
    popal
    addl $8, %esp

    /* Return without iret when the interrupted code ran at CPL0: hosts whose
     * KVM emulates kernel-mode code instruction by instruction may not
     * implement a protected-mode iret. Same privilege means the frame is
     * eip, cs, eflags on this very stack; rewrite it to eip, eflags, eip and
     * finish with popfl; ret. An interrupt taken between the two finds a
     * consistent stack and simply nests. */
    testl $3, 4(%esp)
    jnz 1f
    pushl %eax
    movl 12(%esp), %eax
    movl %eax, 8(%esp)
    movl 4(%esp), %eax
    movl %eax, 12(%esp)
    popl %eax
    addl $4, %esp
    popfl
    ret
1:  iret

    .section .data
    .balign 8
    .globl rt_gdt
rt_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08 ring 0 code, flat 32-bit */
    .quad 0x00cf92000000ffff    /* 0x10 ring 0 data */
    .quad 0x00cffa000000ffff    /* 0x18 ring 3 code */
    .quad 0x00cff2000000ffff    /* 0x20 ring 3 data */
    .quad 0                     /* 0x28 TSS, filled by rt_enter_user */
rt_gdt_end:

    .balign 4
    .word 0
    .globl rt_gdt_desc
rt_gdt_desc:
    .word rt_gdt_end - rt_gdt - 1
    .long rt_gdt

    /* Kept in .data, not .bss, because they are written before .bss is
     * cleared. */
    .globl rt_entry_ebx, rt_entry_eflags, rt_entry_cr0, rt_entry_cr4
    .globl rt_entry_cs, rt_entry_ds
rt_entry_ebx:    .long 0
rt_entry_eflags: .long 0
rt_entry_cr0:    .long 0
rt_entry_cr4:    .long 0
rt_entry_cs:     .long 0
rt_entry_ds:     .long 0

    .section .bss.stack, "aw", @nobits
    .balign 16
    .skip 16384
    .globl rt_stack_top
rt_stack_top:

    .section .note.GNU-stack, "", @progbits
