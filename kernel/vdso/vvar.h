/* The vDSO's data page ("[vvar]"): the kernel (core/clock.c) publishes its time base here and the
 * vDSO code (vdso/vdso.c), running in the program, reads it. The layout is shared by both sides and
 * private to them: no pointers, fixed-size fields only. */
#pragma once
#include <stdint.h>

/* mode: how the vDSO may read the clocks. */
#define VVAR_MODE_SYSCALL 0 /* every call falls back to the real syscall */
#define VVAR_MODE_TSC 1     /* MONOTONIC/REALTIME are computed from rdtsc */

struct vvar {
    /* A sequence count: odd while the kernel rewrites the fields below; readers retry if it is odd
     * or changed during their read. */
    volatile uint32_t seq;
    uint32_t mode;
    uint64_t tsc_base;  /* TSC value at CLOCK_MONOTONIC 0 (the kernel's first instruction) */
    uint64_t mult;      /* ns = (tsc - tsc_base) * mult >> shift */
    uint32_t shift;
    uint32_t cpu;       /* what getcpu reports (one CPU) */
    int64_t realtime_offset; /* CLOCK_REALTIME - CLOCK_MONOTONIC, in ns */
};

#define VVAR_SIZE 4096

_Static_assert(sizeof(struct vvar) <= VVAR_SIZE, "struct vvar fits its page");
