/* The scheduler: a run queue of runnable threads, time slices enforced by the APIC timer, an idle
 * thread that halts the CPU, and deadlines for timed waits. Single CPU for now; the state that
 * will become per-CPU is kept in one place (this file's run queue). */
#pragma once
#include <stdint.h>

struct thread;

#define TIMESLICE_NS 10000000ull /* 10 ms */

void sched_init(struct thread *main_thread);
/* Makes t runnable (appends it to the run queue). */
void sched_make_runnable(struct thread *t);
/* Switches to the next runnable thread (or idle). The caller has already queued or blocked the
 * current thread. Returns when the current thread runs again. */
void schedule(void);
/* Puts the current thread at the back of the run queue and runs the others (sched_yield). */
void sched_yield_current(void);
/* TSC ticks the idle thread has been running (halted or about to halt), up to now: the CPU time
 * that is not the program's (core/cputime.c). */
uint64_t sched_idle_tsc(void);
/* Makes sure the timer interrupt comes by deadline_ns (CLOCK_MONOTONIC): for a new kernel timer. */
void sched_timer_at(uint64_t deadline_ns);
/* The timer interrupt: wakes expired waits and preempts a thread whose slice is over. */
void sched_timer_tick(void);
