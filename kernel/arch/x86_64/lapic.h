/* The local APIC timer: one-shot interrupts at a deadline (TSC-deadline mode where the CPU has it,
 * else one-shot count mode calibrated against the TSC). */
#pragma once
#include <stdint.h>

#define VECTOR_TIMER 32
#define VECTOR_RESCHED 0xf0 /* IPI: look at the run queue, or return to the program (signals) */
#define VECTOR_TLB 0xf1     /* IPI: a TLB shootdown request (arch/x86_64/paging.c) */
#define VECTOR_FREEZE 0xf2  /* IPI: hold still for a snapshot (core/snapshot.c) */
#define VECTOR_SPURIOUS 0xff

/* Sets up the boot CPU's local APIC and calibrates the timer. */
void lapic_init(void);
/* Sets up an application processor's local APIC and timer (after lapic_init on the boot CPU). */
void lapic_init_ap(void);
/* This CPU's local APIC ID. */
unsigned lapic_id(void);
/* Sends interrupt `vector` to the CPU with local APIC ID apic_id. */
void lapic_send_ipi(unsigned apic_id, uint8_t vector);
/* A non-maskable interrupt: reaches a CPU that runs with interrupts off (panic_stuck_cpu). */
void lapic_send_nmi(unsigned apic_id);
/* The start-up sequence of an application processor: INIT, then start-up IPIs at page << 12. */
void lapic_send_init(unsigned apic_id);
void lapic_send_sipi(unsigned apic_id, uint8_t page);
/* Arms the timer to fire at monotonic time deadline_ns (since boot); 0 disarms it. */
void lapic_timer_arm(uint64_t deadline_ns);
void lapic_eoi(void);
