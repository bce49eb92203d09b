/* Per-CPU data, reached through the GS base while in the kernel (swapgs on every entry from the
 * program). No global "current thread": SMP-ready from day one. */
#pragma once
#include <stdint.h>

struct thread;

struct percpu {
    struct percpu *self;      /* offset 0: for percpu() */
    uint64_t kstack_top;      /* offset 8: the kernel stack syscall_entry switches to */
    uint64_t user_rsp;        /* offset 16: scratch for syscall_entry */
    struct thread *current;   /* offset 24 */
    unsigned cpu;             /* 0 for the boot CPU, then in the MADT's order */
    /* Under the run queue's lock (sched/sched.c): */
    struct thread *idle;      /* this CPU's idle thread */
    struct thread *switched_from; /* the thread the last switch left, for finish_switch */
    uint64_t armed;           /* the deadline this CPU's timer is armed for, 0 if disarmed */
    int need_resched;         /* a woken thread should preempt this CPU's (set by any CPU) */
    /* TLB shootdown (arch/x86_64/paging.c): set by the CPU asking, cleared by this one. */
    volatile int tlb_pending;
    int tlb_batch_n;          /* addresses this CPU changed and others have yet to flush; -1: all */
    uint64_t tlb_gen_seen;    /* the shootdown count this CPU's TLB is up to (tlb_idle_exit) */
    uint64_t tlb_batch[32];
};

#define MAX_CPUS 16

#define PERCPU_KSTACK_TOP 8
#define PERCPU_USER_RSP 16

static inline struct percpu *percpu(void)
{
    struct percpu *p;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}

/* Called on a CPU switching from its idle thread to a thread, once `current` is that thread:
 * flushes the user TLB if shootdowns were made while it idled (arch/x86_64/paging.c). */
void tlb_idle_exit(void);
/* Serves a TLB shootdown request made to this CPU, if there is one (arch/x86_64/paging.c). */
void tlb_poll_slow(void);
static inline void tlb_poll(void)
{
    if (percpu()->tlb_pending)
        tlb_poll_slow();
}

void cpu_init(void);
/* Sets up application processor `cpu` (1..MAX_CPUS-1) on itself: GDT, TSS, IDT, GS, MSRs. */
void cpu_init_ap(unsigned cpu);
/* The per-CPU data of CPU `cpu`. */
struct percpu *cpu_percpu(unsigned cpu);
void cpu_set_kernel_stack(uint64_t top);
