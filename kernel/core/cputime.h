/* CPU time of the program and its threads, for the CPU-time clocks, getrusage and times. With one
 * CPU, everything the CPU does after the program starts, except halting idle, is the program's:
 * the scheduler accounts per-thread time (thread.cpu_tsc, slice_start) and the idle thread's
 * (sched_idle_tsc); this file turns them into answers. */
#pragma once
#include <stdint.h>

struct thread;

/* Marks the program's start (the loader calls it at exec). */
void cputime_start(void);
/* CPU time of the whole program, in ns. */
uint64_t cputime_process_ns(void);
/* CPU time of thread t (the current one included, up to now), in ns. */
uint64_t cputime_thread_ns(const struct thread *t);
/* Splits `total` ns of a thread or the program into user and system time, in the program-wide
 * proportion of time spent in syscalls and page faults. */
void cputime_split(uint64_t total, uint64_t *user, uint64_t *sys);
