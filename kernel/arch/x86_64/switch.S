/* Switching kernel stacks between threads. The user state of a switched-out thread is its saved
 * struct regs frame at the top of its kernel stack; only callee-saved registers need saving here. */
.section .text

/* void context_switch(uint64_t *save_ksp, uint64_t load_ksp) */
.global context_switch
context_switch:
    pushq %rbp
    pushq %rbx
    pushq %r12
    pushq %r13
    pushq %r14
    pushq %r15
    movq %rsp, (%rdi)
    movq %rsi, %rsp
    popq %r15
    popq %r14
    popq %r13
    popq %r12
    popq %rbx
    popq %rbp
    ret

/* Where a new thread's first context_switch returns: %rsp points at its user frame. */
.global thread_trampoline
thread_trampoline:
    call sched_first_run
    jmp return_from_trap

/* Where the idle thread's first context_switch returns. */
.global idle_trampoline
idle_trampoline:
    call idle_loop
    ud2
