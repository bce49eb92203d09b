/* Time from the TSC: its frequency (CPUID 0x15/0x16, else measured against the PIT) and the
 * boot TSC, for the monotonic clock and the boot-time record. */
#pragma once
#include <stdint.h>

extern uint64_t boot_tsc;   /* TSC at the kernel's first instruction (arch/x86_64/boot.S) */
extern uint64_t tsc_hz;

void tsc_init(void);
/* Nanoseconds since the kernel's first instruction. */
uint64_t tsc_ns_since_boot(void);
uint64_t tsc_to_ns(uint64_t ticks);
