/* The scheduler's mechanism (see sched/sched.h; the policy, per-CPU queues ordered by virtual run
 * time, is sched/runq.c): context switches, each CPU's one-shot timer armed for the nearest event
 * (the end of the running thread's turn when others wait, or the earliest kernel timer, timed
 * waits included: core/timer.c), an idle thread per CPU that halts until the next interrupt, and
 * the block/wake protocol of sched/wait.h. A woken thread that has had less CPU time than the
 * running one by SCHED_WAKEUP_GRAN_NS preempts it at the next preemption point (an interrupt's
 * or a system call's end); one placed on another CPU reaches it with a reschedule IPI, as does a
 * signal for a thread running there. Each thread's affinity mask limits the CPUs that take it.
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
#include "sched/runq.h"
#include "sched/thread.h"
#include "sched/wait.h"
#include "signal/signal.h"

extern void context_switch(uint64_t *save_ksp, uint64_t load_ksp);
extern char idle_trampoline[];

/* Guards the run queues (sched/runq.c: each thread's run_next, queued and vruntime), every
 * thread's state, on_cpu, cpu, affinity and wake_reason, and each CPU's scheduling state (current,
 * idle, switched_from, armed). Held across context switches. Taken after any wait queue's lock and the timer lock (it may take the
 * timer lock inside: timers_next), before the heap's (freeing a dead thread). */
static struct spinlock rq_lock = SPINLOCK_INIT("runqueue");
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

static unsigned me(void) { return percpu()->cpu; }

/* When the running thread's turn ends (CLOCK_MONOTONIC ns), 0 if no thread waits for this CPU:
 * once it is SCHED_GRAN_NS ahead of the first waiting thread, after SCHED_MIN_RUN_NS at least. */
static uint64_t turn_end(const struct thread *cur)
{
    int64_t first;
    if (cur == IDLE || !runq_waiting(me(), &first))
        return 0;
    int64_t run = first + SCHED_GRAN_NS - cur->vruntime;
    if (run < SCHED_MIN_RUN_NS)
        run = SCHED_MIN_RUN_NS;
    if (run > 4 * SCHED_GRAN_NS)
        run = 4 * SCHED_GRAN_NS;
    return tsc_to_ns(cur->slice_start - boot_tsc) + (uint64_t)run;
}

/* Adds the time t has run since slice_start to its CPU time and virtual run time. */
static void charge(struct thread *t, uint64_t now)
{
    uint64_t ticks = now - t->slice_start;
    uint64_t ns = tsc_to_ns(ticks);
    t->cpu_ns += ns;
    t->cpu_tsc += ticks;
    t->vruntime += (int64_t)ns;
    t->slice_start = now;
}

/* Asks CPU c to look at its run queue: to preempt its thread (`preempt`), or to wake from its
 * halt, or to arm the end of its thread's turn. */
static void resched_cpu(unsigned c, int preempt)
{
    if (preempt)
        __atomic_store_n(&cpu_percpu(c)->need_resched, 1, __ATOMIC_RELEASE);
    if (c != me())
        lapic_send_ipi(smp_apic_id[c], VECTOR_RESCHED);
}

/* Makes t runnable and queues it; tells the CPU it lands on. */
static void enqueue_locked(struct thread *t, enum runq_why why)
{
    t->state = THREAD_RUNNABLE;
    t->since_tsc = rdtsc();
    unsigned c = runq_enqueue(t, why, cpus_online);
    struct percpu *p = cpu_percpu(c);
    int64_t first;
    if (p->current == p->idle) {
        if (c != me())
            resched_cpu(c, 0); /* ends its halt */
    } else if ((why == RUNQ_WAKE || why == RUNQ_NEW) &&
               t->vruntime + SCHED_WAKEUP_GRAN_NS < runq_running_vr(c)) {
        resched_cpu(c, 1);
    } else if (why != RUNQ_REQUEUE && why != RUNQ_YIELD && runq_waiting(c, &first) == 1) {
        /* The running thread now competes for its CPU: its turn must end. Whatever queued t
         * (a wake, a new thread, a move by sched_setaffinity onto a CPU whose thread spins in
         * user mode and never blocks), that CPU must arm the end of the turn, or t waits until
         * the running thread blocks. A requeue or yield is of this CPU's own thread, which
         * schedule_locked's rearm covers. */
        if (c == me()) {
            uint64_t end = turn_end(p->current), armed = p->armed;
            if (!armed || armed > end)
                arm(end);
        } else {
            resched_cpu(c, 0);
        }
    }
    /* Work waits here while another CPU idles: that one takes it (runq_pick). */
    if (why != RUNQ_WAKE && why != RUNQ_NEW && runq_waiting(c, &first)) {
        int idle = runq_idle_cpu(t->affinity & cpus_online, c);
        if (idle >= 0)
            resched_cpu((unsigned)idle, 0);
    }
}

void sched_make_runnable(struct thread *t)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    t->cpu = me();
    enqueue_locked(t, RUNQ_NEW);
    spin_unlock_irqrestore(&rq_lock, fl);
}

/* Arms the timer for the nearest event: the earliest kernel timer, or the end of the running
 * thread's turn if others wait. */
static void rearm(void)
{
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    uint64_t next = timers_next();
    uint64_t end = turn_end(current());
    if (end && (!next || end < next))
        next = end;
    arm(next);
    spin_unlock_irqrestore(&rq_lock, fl);
}

static void switch_to(struct thread *prev, struct thread *next)
{
    uint64_t now = rdtsc();
    charge(prev, now);
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
    next->since_tsc = now;
    percpu()->switched_from = prev;
    __atomic_store_n(&percpu()->current, next, __ATOMIC_SEQ_CST);
    if (prev == IDLE && next != IDLE)
        tlb_idle_exit();
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
    struct thread *next = runq_pick(me(), cpus_online);
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
    t->since_tsc = rdtsc();
    t->wait_site = 0;
    t->wait_on = 0;
    t->wait_deadline = 0;
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
            enqueue_locked(t, RUNQ_WAKE);
    } else if (reason == -EINTR && t->on_cpu && t->cpu != percpu()->cpu &&
               t->state == THREAD_RUNNABLE) {
        /* A signal for a thread running elsewhere: interrupt it, so that it sees the signal on
         * its way back to the program. */
        lapic_send_ipi(smp_apic_id[t->cpu], VECTOR_RESCHED);
    }
    spin_unlock_irqrestore(&rq_lock, fl);
}

/* Switches the running thread out, with the run queue's lock held (flags `fl`, released here):
 * a runnable one goes back into a queue (its own CPU's if allowed there), a blocking one just
 * leaves the CPU (its waker will queue it). */
static void preempt_locked(uint64_t fl, enum runq_why why)
{
    struct thread *cur = current();
    if (cur->state == THREAD_RUNNABLE) {
        charge(cur, rdtsc());
        enqueue_locked(cur, why);
    }
    schedule_locked(fl);
}

void sched_resched_ipi(void)
{
    /* A thread whose affinity no longer includes this CPU leaves it; otherwise the interrupt
     * ends a halt, arms the end of the running thread's turn for work queued here, or brings the
     * thread into the kernel (signals, need_resched: sched_preempt_point at the interrupt's end). */
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    struct thread *cur = current();
    if (cur != IDLE && !(cur->affinity & (1ull << me()))) {
        preempt_locked(fl, RUNQ_MOVE);
        return;
    }
    spin_unlock_irqrestore(&rq_lock, fl);
    rearm();
}

void sched_preempt_point(void)
{
    struct percpu *p = percpu();
    if (!__atomic_load_n(&p->need_resched, __ATOMIC_ACQUIRE))
        return;
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    p->need_resched = 0;
    if (current() == IDLE) { /* its loop looks at the queue */
        spin_unlock_irqrestore(&rq_lock, fl);
        return;
    }
    preempt_locked(fl, RUNQ_REQUEUE);
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
    int here = t == current() && !(mask & (1ull << me()));
    if (t->queued && !(mask & (1ull << t->cpu))) {
        runq_remove(t);
        enqueue_locked(t, RUNQ_MOVE);
    } else if (!here && t->on_cpu && t->state == THREAD_RUNNABLE && !(mask & (1ull << t->cpu))) {
        lapic_send_ipi(smp_apic_id[t->cpu], VECTOR_RESCHED);
    }
    if (here) {
        preempt_locked(fl, RUNQ_MOVE);
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
    t->wait_site = (uint64_t)__builtin_return_address(0);
    t->wait_deadline = deadline_ns;
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
    current()->wait_site = (uint64_t)__builtin_return_address(0);
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
    if (!runq_has_work(me(), cpus_online)) {
        spin_unlock_irqrestore(&rq_lock, fl);
        return;
    }
    preempt_locked(fl, RUNQ_YIELD);
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
    uint64_t end = turn_end(cur);
    if (end && now >= end) {
        preempt_locked(fl, RUNQ_REQUEUE);
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
        if (runq_has_work(me(), cpus_online)) {
            schedule_locked(fl);
            continue;
        }
        spin_unlock_irqrestore(&rq_lock, fl);
        rearm();
        fl = spin_lock_irqsave(&rq_lock);
        int work = runq_has_work(me(), cpus_online);
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

/* One thread's entry of sched_snapshot (thread_each's callback). */
struct snap_walk {
    struct sched_thread_info *out;
    int n, max;
};

static int snap_thread(struct thread *t, void *arg)
{
    struct snap_walk *w = arg;
    if (w->n < w->max) {
        struct sched_thread_info *i = &w->out[w->n];
        uint64_t fl = spin_lock_irqsave(&rq_lock);
        i->tid = t->tid;
        i->state = t->state == THREAD_BLOCKED ? SCHED_INFO_BLOCKED
                   : t->on_cpu && cpu_percpu(t->cpu)->current == t ? SCHED_INFO_RUNNING
                                                                   : SCHED_INFO_QUEUED;
        i->cpu = t->cpu;
        i->since_tsc = t->since_tsc;
        i->wait_deadline = t->wait_deadline;
        i->wait_site = t->wait_site;
        i->wait_on = t->wait_on;
        i->cpu_ns = t->cpu_ns;
        if (i->state == SCHED_INFO_RUNNING) /* its turn so far, not yet charged */
            i->cpu_ns += tsc_to_ns(rdtsc() - t->slice_start);
        __builtin_memcpy(i->comm, t->comm, sizeof i->comm);
        i->comm[sizeof i->comm - 1] = 0;
        spin_unlock_irqrestore(&rq_lock, fl);
        /* Owned by the thread itself and the signal code: read as they are (a report). */
        i->in_syscall = __atomic_load_n(&t->in_syscall, __ATOMIC_RELAXED);
        i->syscall_nr = __atomic_load_n(&t->syscall_nr, __ATOMIC_RELAXED);
        i->sig_pending = __atomic_load_n(&t->sig.pending, __ATOMIC_RELAXED);
        i->sig_mask = __atomic_load_n(&t->sig.mask, __ATOMIC_RELAXED);
    }
    w->n++;
    return 0;
}

int sched_snapshot(struct sched_thread_info *threads, int max, struct sched_cpu_info *cpus)
{
    struct snap_walk w = {threads, 0, max};
    thread_each(snap_thread, &w);
    uint64_t fl = spin_lock_irqsave(&rq_lock);
    for (unsigned c = 0; c < smp_ncpus && c < MAX_CPUS; c++) {
        struct percpu *p = cpu_percpu(c);
        int64_t first;
        cpus[c].online = (cpus_online >> c) & 1;
        cpus[c].current_tid = p->current && p->current != p->idle ? p->current->tid : -1;
        cpus[c].queued = runq_waiting(c, &first);
        cpus[c].armed_ns = p->armed;
        cpus[c].idle_ns = tsc_to_ns(idle_tsc_of(p));
    }
    spin_unlock_irqrestore(&rq_lock, fl);
    return w.n;
}
