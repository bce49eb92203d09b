/* The clocks: CLOCK_MONOTONIC is the TSC since the kernel's first instruction; CLOCK_REALTIME adds
 * the host's wall time at that instant (kvmclock under KVM, else the CMOS RTC). Both are published
 * in the vDSO's data page so the program reads them without a syscall, with the same formula. */
#pragma once
#include <stdint.h>

/* The vDSO data page (struct vvar, VVAR_SIZE bytes in the kernel image) that the loader maps into
 * the program, read-only, as [vvar]. */
const void *clock_vvar_page(void);

/* Reads the wall clock and publishes the time base; after tsc_init. */
void clock_init(void);
/* Nanoseconds since boot (CLOCK_MONOTONIC). */
uint64_t clock_monotonic_ns(void);
/* Nanoseconds since the Unix epoch (CLOCK_REALTIME). */
uint64_t clock_realtime_ns(void);
/* CLOCK_REALTIME - CLOCK_MONOTONIC, in ns. */
int64_t clock_realtime_offset(void);
/* Sets CLOCK_REALTIME to `ns` since the epoch (clock_settime). */
void clock_set_realtime(int64_t ns);

