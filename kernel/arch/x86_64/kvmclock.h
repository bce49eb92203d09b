/* kvmclock: the paravirtual clock KVM offers (CPUID 0x40000001). Gives the host's exact TSC to
 * nanoseconds conversion and the host's wall-clock time; absent under TCG. */
#pragma once
#include <stdint.h>

/* The host's conversion: ns = ticks * kvmclock_mult >> kvmclock_shift (valid after init). */
extern uint64_t kvmclock_mult;
extern uint32_t kvmclock_shift;

/* Reads kvmclock once; 0 if it is present, -1 if not (no KVM, or the feature is off). */
int kvmclock_init(void);
/* The host's wall-clock time at TSC value `tsc`, in ns since the epoch; 0 without kvmclock. */
uint64_t kvmclock_realtime_at(uint64_t tsc);
