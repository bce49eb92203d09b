/* Per-CPU run queues ordered by virtual run time, placement of runnable threads and taking work
 * from a busier CPU (see sched/runq.h). The queues are short (the threads of one program), so a
 * sorted list serves. All of it is under the run queue lock, which sched/sched.c holds around
 * every call: one lock for every CPU's queue keeps the switch protocol simple; per-CPU locks
 * would only pay beyond the 16 CPUs a VM may have. */
#include "sched/runq.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/tsc.h"
#include "core/panic.h"
#include "sched/thread.h"

struct runq {
    struct thread *head; /* by vruntime, ascending; equal ones in arrival order */
    unsigned nr;
    int64_t min_vr;      /* never decreases: where new and woken threads are placed */
};

static struct runq rqs[MAX_CPUS];

static int busy(unsigned c)
{
    struct percpu *p = cpu_percpu(c);
    return p->current && p->current != p->idle;
}

static unsigned load(unsigned c) { return rqs[c].nr + (unsigned)busy(c); }

int64_t runq_running_vr(unsigned c)
{
    if (!busy(c))
        return 0;
    struct thread *t = cpu_percpu(c)->current;
    return t->vruntime + (int64_t)tsc_to_ns(rdtsc() - t->slice_start);
}

static void update_min(unsigned c)
{
    struct runq *q = &rqs[c];
    int have = busy(c);
    int64_t m = have ? runq_running_vr(c) : 0;
    if (q->head && (!have || q->head->vruntime < m)) {
        m = q->head->vruntime;
        have = 1;
    }
    if (have && m > q->min_vr)
        q->min_vr = m;
}

static void insert(unsigned c, struct thread *t)
{
    struct thread **pp = &rqs[c].head;
    while (*pp && (*pp)->vruntime <= t->vruntime)
        pp = &(*pp)->run_next;
    t->run_next = *pp;
    *pp = t;
    rqs[c].nr++;
    t->queued = 1;
    t->cpu = c;
}

void runq_remove(struct thread *t)
{
    KASSERT(t->queued);
    struct runq *q = &rqs[t->cpu];
    for (struct thread **pp = &q->head; *pp; pp = &(*pp)->run_next)
        if (*pp == t) {
            *pp = t->run_next;
            t->run_next = 0;
            t->queued = 0;
            q->nr--;
            return;
        }
    panic("thread %d not in cpu %u's run queue", t->tid, t->cpu);
}

/* The CPU for t: the one it last ran on if that idles, else an idle one, else the least loaded
 * (the last one, then this one, on a tie): its caches and the waker's are warm there. */
static unsigned place(const struct thread *t, uint64_t online)
{
    uint64_t allowed = t->affinity & online;
    KASSERT(allowed);
    unsigned me = percpu()->cpu, prev = t->cpu, best = MAX_CPUS, best_score = ~0u;
    for (unsigned c = 0; c < smp_ncpus; c++) {
        if (!(allowed & (1ull << c)))
            continue;
        unsigned score = load(c) * 4 + (c != prev) * 2 + (c != me);
        if (score < best_score) {
            best_score = score;
            best = c;
        }
    }
    return best;
}

/* t's vruntime moved from one queue's scale to another's. */
static void renormalize(struct thread *t, unsigned from, unsigned to)
{
    if (from != to)
        t->vruntime = t->vruntime - rqs[from].min_vr + rqs[to].min_vr;
}

unsigned runq_enqueue(struct thread *t, enum runq_why why, uint64_t online)
{
    KASSERT(!t->queued);
    unsigned c = t->cpu;
    int stays = (why == RUNQ_REQUEUE || why == RUNQ_YIELD) && (t->affinity & (1ull << c));
    if (!stays)
        c = place(t, online);
    update_min(c);
    struct runq *q = &rqs[c];
    switch (why) {
    case RUNQ_NEW:
        t->vruntime = q->min_vr;
        break;
    case RUNQ_WAKE:
        renormalize(t, t->cpu, c);
        if (t->vruntime < q->min_vr - SCHED_SLEEPER_CREDIT_NS)
            t->vruntime = q->min_vr - SCHED_SLEEPER_CREDIT_NS;
        break;
    case RUNQ_YIELD:
        for (struct thread *u = q->head; u; u = u->run_next)
            if (u->vruntime > t->vruntime)
                t->vruntime = u->vruntime;
        break;
    case RUNQ_REQUEUE:
    case RUNQ_MOVE:
        renormalize(t, t->cpu, c);
        break;
    }
    insert(c, t);
    return c;
}

/* The first thread in c's queue that may run on `me`, or 0. */
static struct thread *first_allowed(unsigned c, unsigned me)
{
    for (struct thread *t = rqs[c].head; t; t = t->run_next)
        if (t->affinity & (1ull << me))
            return t;
    return 0;
}

/* The queue to take work from for `me`: the longest other one holding a thread `me` may run,
 * if it is longer than me's by two, or me's is empty. */
static struct thread *stealable(unsigned me, uint64_t online)
{
    struct thread *best = 0;
    unsigned best_nr = 0;
    for (unsigned c = 0; c < smp_ncpus; c++) {
        if (c == me || !(online & (1ull << c)) || rqs[c].nr <= best_nr)
            continue;
        if (rqs[me].nr && rqs[c].nr < rqs[me].nr + 2)
            continue;
        struct thread *t = first_allowed(c, me);
        if (t) {
            best = t;
            best_nr = rqs[c].nr;
        }
    }
    return best;
}

struct thread *runq_pick(unsigned me, uint64_t online)
{
    struct thread *t = stealable(me, online);
    if (t) {
        unsigned from = t->cpu;
        runq_remove(t);
        update_min(me);
        renormalize(t, from, me);
        insert(me, t);
    }
    t = rqs[me].head;
    if (!t)
        return 0;
    runq_remove(t);
    update_min(me);
    return t;
}

int runq_has_work(unsigned me, uint64_t online)
{
    return rqs[me].head || stealable(me, online);
}

unsigned runq_waiting(unsigned c, int64_t *first_vr)
{
    if (rqs[c].head)
        *first_vr = rqs[c].head->vruntime;
    return rqs[c].nr;
}

int runq_idle_cpu(uint64_t mask, unsigned not)
{
    for (unsigned c = 0; c < smp_ncpus; c++)
        if (c != not && (mask & (1ull << c)) && !busy(c) && !rqs[c].nr)
            return (int)c;
    return -1;
}
