/* The scheduler: a run queue of runnable threads, time slices enforced by the APIC timer, an idle
 * thread that halts the CPU, and blocking (thread_prepare_block / thread_block / thread_wake, in
 * sched/wait.h). Single CPU for now; the state that will become per-CPU is kept in one place
 * (this file's run queue), and everything is under the run queue's lock, not "interrupts off". */
#pragma once
#include <stdint.h>

struct thread;

#define TIMESLICE_NS 10000000ull /* 10 ms */

void sched_init(struct thread *main_thread);
/* Makes t runnable (appends it to the run queue): for a new thread. */
void sched_make_runnable(struct thread *t);
/* Ends the current thread (already off the thread list): switches away for good; its stack and
 * thread object are freed once the CPU is off them. */
__attribute__((noreturn)) void sched_exit_current(void);
/* Puts the current thread at the back of the run queue and runs the others (sched_yield). */
void sched_yield_current(void);
/* TSC ticks the idle thread has been running (halted or about to halt), up to now: the CPU time
 * that is not the program's (core/cputime.c). */
uint64_t sched_idle_tsc(void);
/* Makes sure the timer interrupt comes by deadline_ns (CLOCK_MONOTONIC): for a new kernel timer. */
void sched_timer_at(uint64_t deadline_ns);
/* The timer interrupt: runs the kernel timers due and preempts a thread whose slice is over. */
void sched_timer_tick(void);
