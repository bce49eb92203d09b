/* Counters of where guest time goes (page faults, syscalls and their CPU time, idle, switches,
 * interrupts), printed on the kernel log at exit when the command line has lwjvm.stats=1. */
#pragma once
#include <stdint.h>

struct kstats {
    uint64_t faults, fault_tsc;
    uint64_t syscalls, syscall_tsc;
    uint64_t idle_tsc;
    uint64_t switches, timer_irqs;
    uint64_t cow_copies, zero_fills, file_maps, huge_fills;
    uint64_t tlb_shootdowns;
    uint64_t wx_flips; /* pages of split areas turned writable or executable (mm/fault.h) */
};
extern struct kstats kstats;
extern int kstats_enabled;

/* Prints the counters on the kernel log. */
void kstats_report(void);
