/* The scheduler (see sched/sched.h): round-robin over one run queue shared by every CPU (under
 * one lock: per-CPU queues would scale better and are not done), each CPU's one-shot timer armed
 * for the nearest event (the end of the running thread's slice when others wait, or the earliest
 * kernel timer, timed waits included: core/timer.c), an idle thread per CPU that halts until the
 * next interrupt, and the block/wake protocol of sched/wait.h. A thread made runnable while a
 * CPU it may run on idles wakes that CPU with an IPI; a signal for a thread running on another
 * CPU interrupts it with one. Each thread's affinity mask limits the CPUs that take it.
 *
 * The run queue's lock is held across a context switch: the thread switched to releases it
 * (finish_switch), after marking the one switched from as off the CPU. A thread woken while it is
 * still on its CPU (between thread_prepare_block and the switch) is only marked runnable; its
 * thread_block then returns without switching. */
#include "sched/sched.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/tsc.h"
#include "core/timer.h"
#include "core/panic.h"
#include "core/stats.h"
#include "errno.h"
#include "lib/spinlock.h"
#include "arch/x86_64/paging.h"
#include "mm/kheap.h"
#include "sched/thread.h"
#include "sched/wait.h"
#include "signal/signal.h"

extern void context_switch(uint64_t *save_ksp, uint64_t load_ksp);
extern char idle_trampoline[];

/* Guards the run queue (rq_head, rq_tail and each thread's run_next), every thread's state,
 * on_cpu, cpu, affinity and wake_reason, and each CPU's scheduling state below (current, idle,
 * switched_from, armed). Held across context switches. Taken after any wait queue's lock and the timer lock (it may take the
 * timer lock inside: timers_next), before the heap's (freeing a dead thread). */
static struct spinlock rq_lock = SPINLOCK_INIT("runqueue");
static struct thread *rq_head, *rq_tail;
static struct thread boot_idle;
/* The CPUs taking threads (bit n: CPU n): the boot CPU, then each AP once its idle loop runs. */
static uint64_t cpus_online = 1;

#define IDLE (percpu()->idle)

static void arm(uint64_t deadline)
{
    struct percpu *p = percpu();
    if (deadline == p->armed)
        return; /* already armed for it (an APIC register write is a VM exit) */
    p->armed = deadline;
    lapic_timer_arm(deadline);
}

static uint64_t idle_tsc_of(struct percpu *p)
{
    struct thread *idle = p->idle;
    if (!idle)
        return 0;
    uint64_t t = idle->cpu_tsc;
    if (p->current == idle)
        t += rdtsc() - idle->slice_start;
    return t;
}

uint64_t sched_idle_tsc(void)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    uint64_t t = 0;
    for (unsigned c = 0; c < smp_ncpus; c++)
        if (cpus_online & (1ull << c))
            t += idle_tsc_of(cpu_percpu(c));
    spin_unlock_irqrestore(&rq_lock, fl);
    return t;
}

uint64_t sched_cpu_idle_tsc(unsigned cpu)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    uint64_t t = cpu < smp_ncpus ? idle_tsc_of(cpu_percpu(cpu)) : 0;
    spin_unlock_irqrestore(&rq_lock, fl);
    return t;
}

uint64_t sched_thread_tsc(const struct thread *t)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    uint64_t ticks = t->cpu_tsc;
    if (t->on_cpu && cpu_percpu(t->cpu)->current == t) /* running now, here or elsewhere */
        ticks += rdtsc() - t->slice_start;
    spin_unlock_irqrestore(&rq_lock, fl);
    return ticks;
}

unsigned sched_ncpus(void)
{
    uint64_t m = __atomic_load_n(&cpus_online, __ATOMIC_ACQUIRE);
    unsigned n = 0;
    for (; m; m &= m - 1)
        n++;
    return n;
}

uint64_t sched_cpus_mask(void) { return __atomic_load_n(&cpus_online, __ATOMIC_ACQUIRE); }

void sched_timer_at(uint64_t deadline_ns)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    uint64_t armed = percpu()->armed;
    if (!armed || armed > deadline_ns)
        arm(deadline_ns);
    spin_unlock_irqrestore(&rq_lock, fl);
}

static uint64_t slice_end(const struct thread *t)
{
    return tsc_to_ns(t->slice_start - boot_tsc) + TIMESLICE_NS;
}

/* Wakes an idle CPU that t may run on (not this one: its idle loop looks at the queue itself). */
static void kick_idle_cpu(const struct thread *t)
{
    unsigned me = percpu()->cpu;
    for (unsigned c = 0; c < smp_ncpus; c++) {
        if (c == me || !(cpus_online & (1ull << c)) || !(t->affinity & (1ull << c)))
            continue;
        struct percpu *p = cpu_percpu(c);
        if (p->current == p->idle) {
            lapic_send_ipi(smp_apic_id[c], VECTOR_RESCHED);
            return;
        }
    }
}

static void enqueue_locked(struct thread *t)
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
    uint64_t armed = percpu()->armed;
    if (cur != IDLE && cur != t && (!armed || armed > slice_end(cur)))
        arm(slice_end(cur));
    if (cpus_online != 1)
        kick_idle_cpu(t);
}

void sched_make_runnable(struct thread *t)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    enqueue_locked(t);
    spin_unlock_irqrestore(&rq_lock, fl);
}

/* Takes the first queued thread this CPU may run, or 0. */
static struct thread *rq_pop(void)
{
    uint64_t me = 1ull << percpu()->cpu;
    struct thread *prev = 0;
    for (struct thread *t = rq_head; t; prev = t, t = t->run_next) {
        if (!(t->affinity & me))
            continue;
        if (prev)
            prev->run_next = t->run_next;
        else
            rq_head = t->run_next;
        if (rq_tail == t)
            rq_tail = prev;
        t->run_next = 0;
        return t;
    }
    return 0;
}

/* 1 if a queued thread may run on this CPU. */
static int rq_has_work(void)
{
    uint64_t me = 1ull << percpu()->cpu;
    for (struct thread *t = rq_head; t; t = t->run_next)
        if (t->affinity & me)
            return 1;
    return 0;
}

/* Arms the timer for the nearest event: the earliest kernel timer, or the end of the running
 * thread's slice if others wait. */
static void rearm(void)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    uint64_t next = timers_next();
    struct thread *cur = current();
    if (rq_has_work() && cur != IDLE && (!next || slice_end(cur) < next))
        next = slice_end(cur);
    arm(next);
    spin_unlock_irqrestore(&rq_lock, fl);
}

static void switch_to(struct thread *prev, struct thread *next)
{
    uint64_t now = rdtsc();
    prev->cpu_ns += tsc_to_ns(now - prev->slice_start);
    prev->cpu_tsc += now - prev->slice_start;
    next->slice_start = now;
    if (prev != IDLE) {
        prev->fs_base = rdmsr(MSR_FS_BASE);
        prev->user_gs_base = rdmsr(MSR_KERNEL_GS_BASE);
        fpu_save(prev->fpu);
    }
    if (next != IDLE) {
        wrmsr(MSR_FS_BASE, next->fs_base);
        wrmsr(MSR_KERNEL_GS_BASE, next->user_gs_base);
        fpu_restore(next->fpu);
    }
    kstats.switches++;
    next->on_cpu = 1;
    next->cpu = percpu()->cpu;
    percpu()->switched_from = prev;
    percpu()->current = next;
    cpu_set_kernel_stack(next->kstack + KSTACK_SIZE);
    context_switch(&prev->ksp, next->ksp);
}

/* Runs first on the thread switched to, with the run queue's lock held: the thread switched
 * from is off the CPU now (a dead one is freed). */
static void finish_switch(void)
{
    struct thread *prev = percpu()->switched_from;
    percpu()->switched_from = 0;
    prev->on_cpu = 0;
    if (prev->state == THREAD_DEAD) {
        fpu_free(prev->fpu);
        kfree((void *)prev->kstack);
        kfree(prev);
    }
}

/* Switches to the next runnable thread (or idle), with the run queue's lock held (taken with
 * flags `fl`, released here). The current thread is already queued, blocked or dead. */
static void schedule_locked(uint64_t fl)
{
    struct thread *prev = current();
    struct thread *next = rq_pop();
    if (!next)
        next = IDLE;
    if (next != prev) {
        switch_to(prev, next);
        finish_switch();
    }
    spin_unlock_irqrestore(&rq_lock, fl);
    rearm();
}

void thread_prepare_block(void)
{
    struct thread *t = current();
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    t->state = THREAD_BLOCKED;
    t->wake_reason = 0;
    spin_unlock_irqrestore(&rq_lock, fl);
}

void thread_unblock(void)
{
    struct thread *t = current();
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    if (t->state == THREAD_BLOCKED)
        t->state = THREAD_RUNNABLE;
    spin_unlock_irqrestore(&rq_lock, fl);
}

void thread_wake(struct thread *t, int reason)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    if (t->state == THREAD_BLOCKED) {
        t->wake_reason = reason;
        if (t->on_cpu)
            t->state = THREAD_RUNNABLE; /* not switched away yet: it will not */
        else
            enqueue_locked(t);
    } else if (reason == -EINTR && t->on_cpu && t->cpu != percpu()->cpu &&
               t->state == THREAD_RUNNABLE) {
        /* A signal for a thread running elsewhere: interrupt it, so that it sees the signal on
         * its way back to the program. */
        lapic_send_ipi(smp_apic_id[t->cpu], VECTOR_RESCHED);
    }
    spin_unlock_irqrestore(&rq_lock, fl);
}

void sched_resched_ipi(void)
{
    /* A thread whose affinity no longer includes this CPU goes back to the queue; otherwise the
     * interrupt only ends a halt or brings the thread into the kernel (signals). */
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    struct thread *cur = current();
    if (cur != IDLE && !(cur->affinity & (1ull << percpu()->cpu))) {
        enqueue_locked(cur);
        schedule_locked(fl);
        return;
    }
    spin_unlock_irqrestore(&rq_lock, fl);
}

int sched_set_affinity(struct thread *t, uint64_t mask)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    mask &= cpus_online;
    if (!mask) {
        spin_unlock_irqrestore(&rq_lock, fl);
        return -EINVAL;
    }
    t->affinity = mask;
    int here = t == current() && !(mask & (1ull << percpu()->cpu));
    if (!here && t->on_cpu && t->state == THREAD_RUNNABLE && !(mask & (1ull << t->cpu)))
        lapic_send_ipi(smp_apic_id[t->cpu], VECTOR_RESCHED);
    if (here) {
        enqueue_locked(t);
        schedule_locked(fl);
        return 0;
    }
    spin_unlock_irqrestore(&rq_lock, fl);
    return 0;
}

uint64_t sched_get_affinity(const struct thread *t)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    uint64_t m = t->affinity & cpus_online;
    spin_unlock_irqrestore(&rq_lock, fl);
    return m;
}

static void wait_timeout(struct ktimer *kt)
{
    struct thread *t = (struct thread *)((char *)kt - __builtin_offsetof(struct thread, wait_timer));
    thread_wake(t, -ETIMEDOUT);
}

void sched_thread_init(struct thread *t)
{
    ktimer_init(&t->wait_timer, wait_timeout);
    t->affinity = ~0ull;
}

int thread_block(uint64_t deadline_ns)
{
    struct thread *t = current();
    if (signal_pending(t)) {
        thread_unblock();
        return -EINTR;
    }
    if (deadline_ns) {
        if (deadline_ns <= tsc_ns_since_boot()) {
            thread_unblock();
            return -ETIMEDOUT;
        }
        ktimer_arm(&t->wait_timer, deadline_ns);
    }
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    if (t->state == THREAD_BLOCKED)
        schedule_locked(fl);
    else
        spin_unlock_irqrestore(&rq_lock, fl);
    if (deadline_ns)
        ktimer_cancel(&t->wait_timer);
    return t->wake_reason;
}

void thread_block_nointr(void)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    if (current()->state == THREAD_BLOCKED)
        schedule_locked(fl);
    else
        spin_unlock_irqrestore(&rq_lock, fl);
}

void sched_exit_current(void)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    current()->state = THREAD_DEAD;
    schedule_locked(fl);
    panic("a dead thread ran again");
}

void sched_yield_current(void)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    if (!rq_has_work()) {
        spin_unlock_irqrestore(&rq_lock, fl);
        return;
    }
    enqueue_locked(current());
    schedule_locked(fl);
}

void sched_timer_tick(void)
{
    uint64_t now = tsc_ns_since_boot();
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    percpu()->armed = 0; /* the one-shot timer has fired */
    spin_unlock_irqrestore(&rq_lock, fl);
    timers_expire(now);
    fl = spin_lock_irqsave(&rq_lock);
    struct thread *cur = current();
    if (cur != IDLE && rq_has_work() && now >= slice_end(cur)) {
        enqueue_locked(cur);
        schedule_locked(fl);
        return;
    }
    spin_unlock_irqrestore(&rq_lock, fl);
    rearm();
}

/* First code a new thread runs (from thread_trampoline), before returning to the program: it
 * holds the run queue's lock its switcher took. Interrupts stay off until the return. */
void sched_first_run(void)
{
    finish_switch();
    spin_unlock_irqrestore(&rq_lock, 0);
    rearm();
}

/* The idle thread: runs the queue when it has work, else halts until an interrupt. The check and
 * the halt cannot miss a wake-up from this CPU's interrupts: `sti; hlt` enables them only as the
 * halt begins (another CPU's wake-up will need an IPI). */
static void __attribute__((noreturn)) idle_run(void)
{
    for (;;) {
        uint64_t fl = spin_lock_irqsave(&rq_lock);
        if (rq_has_work()) {
            schedule_locked(fl);
            continue;
        }
        spin_unlock_irqrestore(&rq_lock, fl);
        rearm();
        fl = spin_lock_irqsave(&rq_lock);
        int work = rq_has_work();
        spin_unlock_irqrestore(&rq_lock, fl);
        if (work)
            continue;
        tlb_poll();
        uint64_t t0 = rdtsc();
        __asm__ volatile("sti; hlt; cli");
        if (percpu()->cpu == 0)
            kstats.idle_tsc += rdtsc() - t0;
    }
}

void idle_loop(void)
{
    finish_switch();
    spin_unlock_irqrestore(&rq_lock, 0);
    idle_run();
}

/* An application processor's start (smp_init's ap_run): the stack it runs on becomes its idle
 * thread's, and it takes threads from then on. */
void sched_ap_start(void)
{
    struct thread *idle = kmalloc(sizeof *idle);
    KASSERT(idle);
    __builtin_memset(idle, 0, sizeof *idle);
    idle->kstack = smp_ap_stack_base[percpu()->cpu];
    idle->state = THREAD_RUNNABLE;
    idle->on_cpu = 1;
    idle->affinity = 1ull << percpu()->cpu;
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    struct percpu *p = percpu();
    p->idle = idle;
    p->current = idle;
    idle->cpu = p->cpu;
    idle->slice_start = rdtsc();
    cpus_online |= 1ull << p->cpu;
    spin_unlock_irqrestore(&rq_lock, fl);
    idle_run();
}

void sched_init(struct thread *main_thread)
{
    struct thread *idle = &boot_idle;
    idle->tid = 0;
    idle->state = THREAD_RUNNABLE;
    idle->affinity = 1;
    idle->kstack = (uint64_t)kmalloc(KSTACK_SIZE);
    KASSERT(idle->kstack);
    uint64_t *sp = (uint64_t *)(idle->kstack + KSTACK_SIZE);
    *--sp = 0; /* keeps the stack 16-byte aligned at idle_loop's entry */
    *--sp = (uint64_t)idle_trampoline;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    idle->ksp = (uint64_t)sp;
    percpu()->idle = idle;
    main_thread->slice_start = rdtsc();
    main_thread->on_cpu = 1;
    lapic_init();
}
