/* The local APIC timer: one-shot interrupts at a deadline (TSC-deadline mode where the CPU has it,
 * else one-shot count mode calibrated against the TSC). */
#pragma once
#include <stdint.h>

#define VECTOR_TIMER 32
#define VECTOR_SPURIOUS 0xff

void lapic_init(void);
/* Arms the timer to fire at monotonic time deadline_ns (since boot); 0 disarms it. */
void lapic_timer_arm(uint64_t deadline_ns);
void lapic_eoi(void);
