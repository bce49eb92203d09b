/* Time from the TSC: its rate (kvmclock's exact figures under KVM, else CPUID 0x15/0x16, else
 * measured against the PIT) and the boot TSC, for the monotonic clock and the boot-time record. */
#pragma once
#include <stdint.h>

extern uint64_t boot_tsc;   /* TSC at the kernel's first instruction (arch/x86_64/boot.S) */
extern uint64_t tsc_hz;
/* ns = ticks * tsc_mult >> tsc_shift: the one conversion the kernel and the vDSO both use. */
extern uint64_t tsc_mult;
extern uint32_t tsc_shift;

void tsc_init(void);
/* Nanoseconds since the kernel's first instruction. */
uint64_t tsc_ns_since_boot(void);
uint64_t tsc_to_ns(uint64_t ticks);
