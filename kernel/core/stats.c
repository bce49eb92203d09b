/* The kernel's own counters (see core/stats.h). */
#include "core/stats.h"
#include "arch/x86_64/tsc.h"
#include "drivers/pci_intx.h"
#include "lib/printf.h"
#include "net/stack.h"

struct kstats kstats;
int kstats_enabled;

void kstats_report(void)
{
    if (!kstats_enabled)
        return;
    klog_start_line();
    kprintf("lwjvm: stats: uptime_us=%lu faults=%lu fault_us=%lu syscalls=%lu syscall_us=%lu "
            "idle_us=%lu switches=%lu timer_irqs=%lu cow=%lu zero=%lu filemap=%lu huge=%lu "
            "shootdowns=%lu wxflips=%lu\n",
            tsc_ns_since_boot() / 1000, kstats.faults, tsc_to_ns(kstats.fault_tsc) / 1000,
            kstats.syscalls, tsc_to_ns(kstats.syscall_tsc) / 1000, tsc_to_ns(kstats.idle_tsc) / 1000,
            kstats.switches, kstats.timer_irqs, kstats.cow_copies, kstats.zero_fills,
            kstats.file_maps, kstats.huge_fills, kstats.tlb_shootdowns, kstats.wx_flips);
    net_report();
    pci_intx_report();
}
