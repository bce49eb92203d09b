/* Bounded waits: a loop in which one CPU waits for another CPU or for a device (a TLB
 * shootdown's acknowledgement, a timer callback running elsewhere, the local APIC accepting an
 * IPI, a started CPU taking threads) gives up after wait_limit_s seconds by panicking with what it
 * waited for, instead of spinning forever without a word. Spinlocks have their own limit
 * (SPIN_PANIC_S, lib/spinlock.h). lwjvm.wait_test=tlb|timer|icr makes one such wait never end on
 * purpose, so that a test sees the panic (tests/guest/test_kernel_failures.py). */
#pragma once
#include <stdint.h>

#include "arch/x86_64/io.h"
#include "arch/x86_64/tsc.h"

/* The limit: generous, since under TCG a loaded host may leave a vCPU thread unscheduled for
 * seconds. lwjvm.wait_limit_s=N on the kernel command line sets it (1 to 3600). */
#define WAIT_LIMIT_S_DEFAULT 30
extern unsigned wait_limit_s;

enum wait_test { WAIT_TEST_NONE, WAIT_TEST_TLB, WAIT_TEST_TIMER, WAIT_TEST_ICR };
/* lwjvm.wait_test=: tlb (CPUs other than 0 never acknowledge a shootdown), timer (a POSIX timer's
 * callback on a CPU other than 0 never returns, linux/timer.c), icr (the interrupt command
 * register reads busy for ever). */
extern enum wait_test wait_test;

/* Parses one kernel command-line word of n bytes; 1 if it was lwjvm.wait_limit_s= or
 * lwjvm.wait_test=. */
int waitlimit_option(const char *s, unsigned long n);

struct bwait {
    uint64_t deadline; /* TSC; 0 until the first check */
    unsigned n;
};
#define BWAIT_INIT {0, 0}

/* 1 once the wait w (BWAIT_INIT before its loop) has lasted wait_limit_s seconds: called on each
 * turn of the loop, it reads the TSC every 1,024th. */
static inline int bwait_expired(struct bwait *w)
{
    if (++w->n & 1023)
        return 0;
    uint64_t now = rdtsc();
    if (!w->deadline) {
        w->deadline = now + (uint64_t)wait_limit_s * tsc_hz;
        return 0;
    }
    return now > w->deadline;
}
