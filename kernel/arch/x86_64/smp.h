/* Application processors: found in the ACPI MADT, started with INIT and start-up IPIs. */
#pragma once
#include <stdint.h>
#include "arch/x86_64/percpu.h"

/* The number of CPUs running (1 until smp_init has started the others). */
extern unsigned smp_ncpus;
/* The local APIC ID of each CPU, by CPU number. */
extern unsigned smp_apic_id[MAX_CPUS];
/* The kernel stack each application processor started on (its idle thread's). */
extern uint64_t smp_ap_stack_base[MAX_CPUS];

/* Starts every enabled processor the MADT lists (found through rsdp_phys, or by scanning): each
 * sets itself up (cpu_init_ap, lapic_init_ap) and runs `ap_run` with interrupts off. Call on the
 * boot CPU after the scheduler is set up; returns once each has started or given up. */
void smp_init(uint64_t rsdp_phys, void (*ap_run)(void));
