/* Kernel timers: a callback at a CLOCK_MONOTONIC deadline, run from the scheduler's timer
 * interrupt (interrupts off, on whatever thread is current). The scheduler calls timers_expire
 * wherever it expires wait deadlines and arms its timer for the earliest of both. Used by the
 * interval timers and POSIX timers of linux/timer.c. */
#pragma once
#include <stdint.h>

struct ktimer {
    uint64_t deadline_ns; /* CLOCK_MONOTONIC; 0 while disarmed */
    void (*fire)(struct ktimer *);
    struct ktimer *next;  /* the armed list, by deadline */
};

/* Arms t for deadline_ns (re-arming it if it was armed). */
void ktimer_arm(struct ktimer *t, uint64_t deadline_ns);
/* Disarms t; nothing happens if it was not armed. */
void ktimer_cancel(struct ktimer *t);
/* Runs (and disarms) every timer due at `now`, earliest first; a callback may re-arm its timer.
 * Returns the earliest deadline still armed, or 0 if none. */
uint64_t timers_expire(uint64_t now);
