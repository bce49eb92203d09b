/* Kernel timers: a callback at a CLOCK_MONOTONIC deadline, run from the scheduler's timer
 * interrupt on whatever thread is current, with no lock held (a callback may take any lock but
 * must not block). Used by timed waits (one timer per blocked thread, sched/sched.c) and by the
 * interval and POSIX timers of linux/timer.c. */
#pragma once
#include <stdint.h>

struct ktimer {
    uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 while disarmed */
    void (*fire)(struct ktimer *);
    struct ktimer *next;  /* the armed list, by deadline */
    unsigned firing;      /* 1 + the CPU running fire, 0 when none (under the timer lock) */
};

#define KTIMER_INIT(fn) {0, (fn), 0, 0} /* or zero-initialised, with fire set */

/* Sets t up (disarmed) with its callback. */
void ktimer_init(struct ktimer *t, void (*fire)(struct ktimer *));
/* Arms t for deadline_ns (re-arming it if it was armed). May be called from t's own callback. */
void ktimer_arm(struct ktimer *t, uint64_t deadline_ns);
/* Disarms t; nothing happens if it was not armed. Once it returns, t's callback is not running on
 * another CPU (so t may be freed), unless called from that callback itself. */
void ktimer_cancel(struct ktimer *t);
/* Runs (and disarms) every timer due at `now`, earliest first; a callback may re-arm its timer.
 * Returns the earliest deadline still armed, or 0 if none. */
uint64_t timers_expire(uint64_t now);
/* The earliest deadline armed, or 0 if none. */
uint64_t timers_next(void);
