/* The application processors' way in: a start-up IPI starts a CPU in real mode at a page below
 * 1 MiB, to which smp.c copies smp_trampoline_start..end (at TRAMPOLINE_PHYS). It enters protected
 * mode, then long mode on the boot page table (boot.S: identity and kernel mappings), jumps to
 * ap_entry64 in the kernel image, which switches to the kernel's page table and the stack smp.c
 * gave this CPU and calls smp_ap_main. */
#define TRAMPOLINE_PHYS 0x8000
#define TR(x) ((x) - smp_trampoline_start + TRAMPOLINE_PHYS)

.section .rodata
.global smp_trampoline_start, smp_trampoline_end, smp_tr_cr3, smp_tr_entry
    .p2align 12
.code16
smp_trampoline_start:
    cli
    cld
    xorw %ax, %ax
    movw %ax, %ds
    lgdtl TR(tr_gdtr)
    movl %cr0, %eax
    orl $1, %eax
    movl %eax, %cr0
    ljmpl $0x08, $TR(tr_pm)

.code32
tr_pm:
    movw $0x10, %ax
    movw %ax, %ds
    movw %ax, %es
    movw %ax, %ss
    movl %cr4, %eax
    orl $(1 << 5), %eax         /* PAE */
    movl %eax, %cr4
    movl TR(smp_tr_cr3), %eax
    movl %eax, %cr3
    movl $0xc0000080, %ecx      /* EFER: LME, NXE */
    rdmsr
    orl $((1 << 8) | (1 << 11)), %eax
    wrmsr
    movl %cr0, %eax
    orl $0x80010001, %eax       /* PG, WP, PE */
    movl %eax, %cr0
    ljmp $0x18, $TR(tr_lm)

.code64
tr_lm:
    movq TR(smp_tr_entry), %rax
    jmp *%rax

    .p2align 3
tr_gdt:
    .quad 0
    .quad 0x00cf9a000000ffff    /* 0x08: 32-bit code */
    .quad 0x00cf92000000ffff    /* 0x10: data */
    .quad 0x00af9a000000ffff    /* 0x18: 64-bit code */
tr_gdtr:
    .word tr_gdtr - tr_gdt - 1
    .long TR(tr_gdt)
    .p2align 3
smp_tr_cr3: .quad 0             /* the boot page table's physical address */
smp_tr_entry: .quad 0           /* ap_entry64 */
smp_trampoline_end:

.section .text
.global ap_entry64
ap_entry64:
    movq smp_ap_cr3(%rip), %rax
    movq %rax, %cr3
    movq smp_ap_stack(%rip), %rsp
    xorl %ebp, %ebp
    call smp_ap_main
1:  hlt
    jmp 1b
