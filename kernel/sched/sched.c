/* The scheduler (see sched/sched.h): round-robin over a run queue, a one-shot timer armed for the
 * nearest event (the end of the running thread's slice when others wait for the CPU, or the
 * earliest wait deadline), and an idle thread that halts until the next interrupt. */
#include "sched/sched.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/tsc.h"
#include "core/timer.h"
#include "core/panic.h"
#include "core/stats.h"
#include "errno.h"
#include "mm/kheap.h"
#include "sched/thread.h"
#include "sched/wait.h"

extern void context_switch(uint64_t *save_ksp, uint64_t load_ksp);
extern char idle_trampoline[];

static struct thread *rq_head, *rq_tail;
static struct thread idle;
static struct thread *zombie;
static uint64_t armed; /* the deadline the timer is armed for, 0 if disarmed */

static void arm(uint64_t deadline)
{
    if (deadline == armed)
        return; /* already armed for it (an APIC register write is a VM exit) */
    armed = deadline;
    lapic_timer_arm(deadline);
}

uint64_t sched_idle_tsc(void)
{
    uint64_t t = idle.cpu_tsc;
    if (current() == &idle)
        t += rdtsc() - idle.slice_start;
    return t;
}

void sched_timer_at(uint64_t deadline_ns)
{
    if (!armed || armed > deadline_ns)
        arm(deadline_ns);
}

static uint64_t slice_end(const struct thread *t)
{
    return tsc_to_ns(t->slice_start - boot_tsc) + TIMESLICE_NS;
}

void sched_make_runnable(struct thread *t)
{
    t->state = THREAD_RUNNABLE;
    t->run_next = 0;
    if (rq_tail)
        rq_tail->run_next = t;
    else
        rq_head = t;
    rq_tail = t;
    /* The running thread now competes for the CPU: make sure its slice ends. */
    struct thread *cur = current();
    if (cur != &idle && cur != t && (!armed || armed > slice_end(cur)))
        arm(slice_end(cur));
}

static struct thread *rq_pop(void)
{
    struct thread *t = rq_head;
    if (t) {
        rq_head = t->run_next;
        if (!rq_head)
            rq_tail = 0;
        t->run_next = 0;
    }
    return t;
}

/* Frees a thread that exited, once we are off its stack. */
static void reap(void)
{
    if (!zombie)
        return;
    struct thread *z = zombie;
    zombie = 0;
    fpu_free(z->fpu);
    kfree((void *)z->kstack);
    kfree(z);
}

void sched_set_zombie(struct thread *t) { zombie = t; }

/* Runs the kernel timers due (core/timer.h) and wakes every blocked thread whose deadline has
 * passed; returns the earliest remaining deadline of either (0 if none). */
static uint64_t expire_deadlines(uint64_t now)
{
    uint64_t next = timers_expire(now); /* first: a timer's signal may wake a waiter */
    for (struct thread *t = thread_first(); t; t = t->all_next) {
        if (t->state != THREAD_BLOCKED || !t->deadline_ns)
            continue;
        if (t->deadline_ns <= now)
            thread_wake(t, -ETIMEDOUT);
        else if (!next || t->deadline_ns < next)
            next = t->deadline_ns;
    }
    return next;
}

/* Arms the timer for the nearest event. */
static void rearm(uint64_t now)
{
    uint64_t next = expire_deadlines(now);
    struct thread *cur = current();
    if (rq_head && cur != &idle && (!next || slice_end(cur) < next))
        next = slice_end(cur);
    arm(next);
}

static void switch_to(struct thread *prev, struct thread *next)
{
    uint64_t now = rdtsc();
    prev->cpu_ns += tsc_to_ns(now - prev->slice_start);
    prev->cpu_tsc += now - prev->slice_start;
    next->slice_start = now;
    if (prev != &idle) {
        prev->fs_base = rdmsr(MSR_FS_BASE);
        prev->user_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
        fpu_save(prev->fpu);
    }
    if (next != &idle) {
        wrmsr(MSR_FS_BASE, next->fs_base);
        wrmsr(MSR_KERNEL_GS_BASE, next->user_gs_base);
        fpu_restore(next->fpu);
    }
    kstats.switches++;
    percpu()->current = next;
    cpu_set_kernel_stack(next->kstack + KSTACK_SIZE);
    context_switch(&prev->ksp, next->ksp);
    reap();
}

void schedule(void)
{
    struct thread *prev = current();
    struct thread *next = rq_pop();
    if (!next)
        next = &idle;
    if (next != prev)
        switch_to(prev, next);
    rearm(tsc_ns_since_boot());
}

void sched_yield_current(void)
{
    struct thread *t = current();
    if (!rq_head)
        return;
    sched_make_runnable(t);
    schedule();
}

void sched_timer_tick(void)
{
    uint64_t now = tsc_ns_since_boot();
    expire_deadlines(now);
    struct thread *cur = current();
    armed = 0;
    if (cur != &idle && rq_head && now >= slice_end(cur)) {
        sched_make_runnable(cur);
        schedule();
        return;
    }
    rearm(now);
}

/* First code a new thread runs (from thread_trampoline), before returning to the program. */
void sched_first_run(void)
{
    reap();
    rearm(tsc_ns_since_boot());
}

/* The idle thread: runs the queue when it has work, else halts until an interrupt. */
void idle_loop(void)
{
    reap();
    for (;;) {
        if (rq_head) {
            schedule();
            continue;
        }
        rearm(tsc_ns_since_boot());
        if (rq_head)
            continue;
        uint64_t t0 = rdtsc();
        __asm__ volatile("sti; hlt; cli");
        kstats.idle_tsc += rdtsc() - t0;
    }
}

void sched_init(struct thread *main_thread)
{
    idle.tid = 0;
    idle.state = THREAD_RUNNABLE;
    idle.kstack = (uint64_t)kmalloc(KSTACK_SIZE);
    KASSERT(idle.kstack);
    uint64_t *sp = (uint64_t *)(idle.kstack + KSTACK_SIZE);
    *--sp = 0; /* keeps the stack 16-byte aligned at idle_loop's entry */
    *--sp = (uint64_t)idle_trampoline;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    idle.ksp = (uint64_t)sp;
    main_thread->slice_start = rdtsc();
    lapic_init();
}
