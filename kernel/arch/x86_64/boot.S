/* PVH entry: QEMU jumps here in 32-bit protected mode with paging off and %ebx = physical address
 * of the hvm_start_info. We build boot page tables (identity and direct map of the first 4 GiB,
 * the kernel image at -2 GiB), enter long mode and call kmain() on the boot stack. */
#include "arch/x86_64/layout.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18

.section .note.Xen, "a"
    .p2align 2
    .long 4                     /* name size */
    .long 4                     /* desc size */
    .long XEN_ELFNOTE_PHYS32_ENTRY
    .asciz "Xen"
    .long pvh_entry - KERNEL_VBASE

.section .boot.text, "ax"
.code32
.global pvh_entry
pvh_entry:
    cli
    cld
    /* The TSC at the kernel's first instruction, for the boot-time record. */
    rdtsc
    movl %eax, boot_tsc - KERNEL_VBASE
    movl %edx, boot_tsc - KERNEL_VBASE + 4
    movl %ebx, boot_start_info - KERNEL_VBASE

    /* PD[0..3]: 2 MiB pages covering 0-4 GiB. */
    movl $boot_pd - KERNEL_VBASE, %edi
    xorl %ecx, %ecx
1:  movl %ecx, %eax
    shll $21, %eax
    orl $0x83, %eax             /* present, writable, 2 MiB */
    movl %eax, (%edi, %ecx, 8)
    movl %ecx, %eax
    shrl $11, %eax              /* high bits of (ecx << 21) */
    movl %eax, 4(%edi, %ecx, 8)
    incl %ecx
    cmpl $2048, %ecx
    jne 1b

    /* PDPT_low[0..3] -> the four PDs. */
    movl $boot_pdpt_low - KERNEL_VBASE, %edi
    movl $boot_pd - KERNEL_VBASE + 0x003, %eax
    movl %eax, 0(%edi)
    addl $0x1000, %eax
    movl %eax, 8(%edi)
    addl $0x1000, %eax
    movl %eax, 16(%edi)
    addl $0x1000, %eax
    movl %eax, 24(%edi)

    /* PDPT_high[510] -> PD 0 (kernel image: -2 GiB maps physical 0-1 GiB). */
    movl $boot_pdpt_high - KERNEL_VBASE, %edi
    movl $boot_pd - KERNEL_VBASE + 0x003, %eax
    movl %eax, 510*8(%edi)

    /* PML4: [0] identity (removed once in the upper half), [256] direct map, [511] kernel. */
    movl $boot_pml4 - KERNEL_VBASE, %edi
    movl $boot_pdpt_low - KERNEL_VBASE + 0x003, %eax
    movl %eax, 0(%edi)
    movl %eax, 256*8(%edi)
    movl $boot_pdpt_high - KERNEL_VBASE + 0x003, %eax
    movl %eax, 511*8(%edi)

    movl %edi, %cr3
    movl %cr4, %eax
    orl $(1 << 5), %eax         /* PAE */
    movl %eax, %cr4
    movl $0xc0000080, %ecx      /* EFER */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax   /* LME, NXE */
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax       /* PG, WP, PE */
    movl %eax, %cr0

    lgdt boot_gdtr - KERNEL_VBASE
    ljmp $0x08, $long_mode_low - KERNEL_VBASE

.code64
long_mode_low:
    movabsq $long_mode_high, %rax
    jmp *%rax

.section .text
long_mode_high:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    xorw %ax, %ax
    movw %ax, %fs
    movw %ax, %gs
    leaq boot_stack_top(%rip), %rsp
    xorl %ebp, %ebp
    movl boot_start_info(%rip), %edi
    call kmain
2:  hlt
    jmp 2b

.section .boot.data, "aw"
    .p2align 4
boot_gdt:
    .quad 0
    .quad 0x00af9a000000ffff    /* 0x08: 64-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
boot_gdtr:
    .word boot_gdtr - boot_gdt - 1
    .long boot_gdt - KERNEL_VBASE

.global boot_tsc
boot_tsc: .quad 0
boot_start_info: .long 0

.section .bss
    .p2align 12
.global boot_pml4
boot_pml4: .skip 4096
boot_pdpt_low: .skip 4096
boot_pdpt_high: .skip 4096
boot_pd: .skip 4096 * 4
.global boot_stack_top
boot_stack: .skip 16384
boot_stack_top:
