/* The scheduling policy: one run queue per CPU, ordered by virtual run time (the CPU time a
 * thread has had, so the one that had least runs next: a fair share, as Linux's CFS gives), where
 * a thread made runnable is placed, and how a CPU with little work takes it from a busier one.
 * Every function here is called with the run queue lock held (sched/sched.c), which guards these
 * queues and each thread's vruntime and queued flag. */
#pragma once
#include <stdint.h>

struct thread;

/* A thread switched in runs at least this long before a tick may switch it out. */
#define SCHED_MIN_RUN_NS 1000000ll
/* A running thread keeps the CPU until it is this far ahead of the first waiting thread. */
#define SCHED_GRAN_NS 4000000ll
/* A woken thread preempts the running one when it is this far behind it. */
#define SCHED_WAKEUP_GRAN_NS 1000000ll
/* A thread woken after sleeping is placed at most this far behind the queue's minimum: some
 * credit for having slept, not the whole time asleep. */
#define SCHED_SLEEPER_CREDIT_NS 3000000ll

enum runq_why {
    RUNQ_NEW,     /* a new thread: placed on the least loaded CPU, at that queue's minimum */
    RUNQ_WAKE,    /* a woken thread: placed, with sleeper credit */
    RUNQ_REQUEUE, /* the running thread, preempted: back into its CPU's queue if allowed there */
    RUNQ_YIELD,   /* the running thread, yielding: behind every thread in its CPU's queue */
    RUNQ_MOVE,    /* a queued thread whose CPUs changed: placed again */
};

/* Puts t (runnable, on no queue) into a queue, among the CPUs in `online` that t's affinity
 * allows; returns the CPU. For RUNQ_REQUEUE and RUNQ_YIELD, t's vruntime must be up to date. */
unsigned runq_enqueue(struct thread *t, enum runq_why why, uint64_t online);
/* Takes t off its queue. */
void runq_remove(struct thread *t);
/* The thread CPU `cpu` runs next, taken off the queues: its own queue's first, after taking work
 * from a busier CPU's queue when this one is shorter by two or empty. 0 if there is none. */
struct thread *runq_pick(unsigned cpu, uint64_t online);
/* 1 if runq_pick would find a thread for `cpu`. */
int runq_has_work(unsigned cpu, uint64_t online);
/* The number of threads waiting in cpu's queue, and the vruntime of its first (when there is
 * one). */
unsigned runq_waiting(unsigned cpu, int64_t *first_vr);
/* The vruntime of the thread running on cpu, up to now; 0 when the CPU idles. */
int64_t runq_running_vr(unsigned cpu);
/* An idle CPU in `mask` other than `not`, or -1. */
int runq_idle_cpu(uint64_t mask, unsigned not);
