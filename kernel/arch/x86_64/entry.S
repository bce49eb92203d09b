/* Every way into the kernel: the 256 interrupt/exception stubs, the `syscall` entry (LSTAR), the
 * common return to the program, and the user-memory copy routines whose faults are recoverable.
 * Each entry saves a `struct regs` (arch/x86_64/regs.h) on the kernel stack. */

.macro PUSH_GPRS
    pushq %rax
    pushq %rbx
    pushq %rcx
    pushq %rdx
    pushq %rsi
    pushq %rdi
    pushq %rbp
    pushq %r8
    pushq %r9
    pushq %r10
    pushq %r11
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
.endm

.macro POP_GPRS
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %r11
    popq %r10
    popq %r9
    popq %r8
    popq %rbp
    popq %rdi
    popq %rsi
    popq %rdx
    popq %rcx
    popq %rbx
    popq %rax
.endm

.section .text

.macro ISR vec
    .p2align 4
isr_\vec:
    .if (\vec == 8) || (\vec == 10) || (\vec == 11) || (\vec == 12) || (\vec == 13) || (\vec == 14) || (\vec == 17) || (\vec == 21) || (\vec == 29) || (\vec == 30)
    .else
    pushq $0
    .endif
    pushq $\vec
    jmp isr_common
.endm

.altmacro
.set vec, 0
.rept 256
    ISR %vec
    .set vec, vec + 1
.endr
.noaltmacro

.macro ISR_REF vec
    .quad isr_\vec
.endm

isr_common:
    testb $3, 24(%rsp)          /* CS of the interrupted context */
    jz 1f
    swapgs
1:  PUSH_GPRS
    cld
    movq %rsp, %rdi
    xorl %ebp, %ebp
    call trap_dispatch
.global return_from_trap
return_from_trap:
    POP_GPRS
    testb $3, 24(%rsp)
    jz 2f
    swapgs
2:  addq $16, %rsp              /* vector, error */
    iretq

/* syscall: RCX = user RIP, R11 = user RFLAGS; IF already cleared by FMASK. */
.global syscall_entry
syscall_entry:
    swapgs
    movq %rsp, %gs:16           /* percpu.user_rsp */
    movq %gs:8, %rsp            /* percpu.kstack_top */
    pushq $0x1b                 /* ss */
    pushq %gs:16                /* rsp */
    pushq %r11                  /* rflags */
    pushq $0x23                 /* cs */
    pushq %rcx                  /* rip */
    pushq $0                    /* error */
    pushq $0x100                /* vector: VECTOR_SYSCALL */
    PUSH_GPRS
    movq %rsp, %rdi
    xorl %ebp, %ebp
    call syscall_dispatch
    jmp return_from_trap

/* Enters the program for the first time from a prepared frame: enter_user(struct regs *). */
.global enter_user
enter_user:
    movq %rdi, %rsp
    jmp return_from_trap

.section .rodata
.global isr_table
    .p2align 3
isr_table:
.altmacro
.set vec, 0
.rept 256
    ISR_REF %vec
    .set vec, vec + 1
.endr
.noaltmacro

/* User-memory access. A fault inside [uaccess_begin, uaccess_end) that the page-fault handler
 * cannot resolve resumes at uaccess_fault, which returns -EFAULT to the caller. */
.section .text
.global uaccess_begin, uaccess_end, uaccess_fault

/* long uaccess_copy(void *dst, const void *src, size_t n): 0, or -EFAULT. */
.global uaccess_copy
uaccess_begin:
uaccess_copy:
    movq %rdx, %rcx
    rep movsb
    xorl %eax, %eax
    ret

/* long uaccess_strncpy(char *dst, const char *src, size_t n): the length without the NUL, n if
 * no NUL was found in n bytes, or -EFAULT. */
.global uaccess_strncpy
uaccess_strncpy:
    xorl %eax, %eax
3:  cmpq %rdx, %rax
    je 4f
    movb (%rsi, %rax), %cl
    movb %cl, (%rdi, %rax)
    testb %cl, %cl
    jz 4f
    incq %rax
    jmp 3b
4:  ret

/* long uaccess_memset(void *dst, int c, size_t n): 0, or -EFAULT. */
.global uaccess_memset
uaccess_memset:
    movl %esi, %eax
    movq %rdx, %rcx
    rep stosb
    xorl %eax, %eax
    ret

/* long uaccess_cmpxchg32(uint32_t *dst, uint32_t old, uint32_t new): one atomic compare-and-
 * exchange of a program word; returns the value it held (zero-extended: new was stored if that
 * equals old), or -EFAULT. */
.global uaccess_cmpxchg32
uaccess_cmpxchg32:
    movl %esi, %eax
    lock cmpxchgl %edx, (%rdi)
    movl %eax, %eax
    ret
uaccess_end:

uaccess_fault:
    movq $-14, %rax
    ret
