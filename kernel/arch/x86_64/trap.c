/* Exceptions and interrupts: page faults go to the memory manager; faults in the program become
 * signals (SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP with Linux's si_code); faults in the kernel
 * panic with registers and a backtrace; the APIC timer drives the scheduler. Every return to the
 * program passes through signal delivery. */
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/regs.h"
#include "core/control.h"
#include "core/snapshot.h"
#include "core/panic.h"
#include "core/stats.h"
#include "errno.h"
#include "lib/printf.h"
#include "mm/fault.h"
#include "sched/sched.h"
#include "sched/thread.h"
#include "signal/signal.h"

extern char uaccess_begin[], uaccess_end[], uaccess_fault[];

static const char *const names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS",
    "segment not present", "stack fault", "general protection fault", "page fault", "reserved",
    "x87 floating-point error", "alignment check", "machine check", "SIMD floating-point error",
    "virtualization", "control protection"};

/* Turns an exception in the program into its signal, as Linux does. */
static void user_exception(struct regs *r)
{
    switch (r->vector) {
    case 0:
        signal_fault(r, SIGFPE, FPE_INTDIV, r->rip);
        return;
    case 1:
        signal_fault(r, SIGTRAP, TRAP_BRKPT, r->rip);
        return;
    case 3:
    case 4:
        signal_fault(r, r->vector == 3 ? SIGTRAP : SIGSEGV, SI_KERNEL, 0);
        return;
    case 6:
        signal_fault(r, SIGILL, ILL_ILLOPN, r->rip);
        return;
    case 16:
    case 19:
        signal_fault(r, SIGFPE, FPE_FLTINV, r->rip);
        return;
    case 17:
        signal_fault(r, SIGBUS, BUS_ADRALN, 0);
        return;
    default: /* #GP, #SS, #NP, #BR ... */
        signal_fault(r, SIGSEGV, SI_KERNEL, 0);
        return;
    }
}

static void page_fault(struct regs *r)
{
    uint64_t addr = read_cr2();
    uint64_t t0 = rdtsc();
    int rc = mm_fault(addr, r->error);
    kstats.faults++;
    kstats.fault_tsc += rdtsc() - t0;
    if (rc == 0)
        return;
    if (rc == -ENOMEM) {
        /* Linux's OOM killer would pick the only process there is. */
        klog_start_line();
        kprintf("lwjvm: out of memory: no free page for address %016lx (rip %016lx); "
                "give the VM more memory\n", addr, r->rip);
        kprintf("\x1elwjvm:oom\n");
        vm_exit(128 + SIGKILL);
    }
    if (regs_from_user(r)) {
        if (rc == -ERANGE)
            signal_fault(r, SIGBUS, BUS_ADRERR, addr);
        else
            signal_fault(r, SIGSEGV, rc == -EACCES ? SEGV_ACCERR : SEGV_MAPERR, addr);
        return;
    }
    if (r->rip >= (uint64_t)uaccess_begin && r->rip < (uint64_t)uaccess_end) {
        r->rip = (uint64_t)uaccess_fault;
        return;
    }
    kprintf("kernel page fault at address %016lx (no mapping)\n", addr);
    panic_regs(r, "page fault in the kernel");
}

void trap_dispatch(struct regs *r)
{
    uint64_t v = r->vector;
    if (regs_from_user(r))
        current()->frame = r;
    if (v == 14) {
        page_fault(r);
    } else if (v < 32) {
        if (v == 2)
            panic_nmi_report(r); /* a CPU asked this one where it is: it never returns */
        if (!regs_from_user(r) || v == 2 || v == 7 || v == 8 || v == 18)
            panic_regs(r, names[v] ? names[v] : "reserved exception");
        user_exception(r);
    } else if (v == VECTOR_TIMER) {
        lapic_eoi();
        kstats.timer_irqs++;
        sched_timer_tick();
    } else if (v == VECTOR_TLB) {
        tlb_poll();
        lapic_eoi();
    } else if (v == VECTOR_RESCHED) {
        lapic_eoi();
        sched_resched_ipi();
    } else if (v == VECTOR_FREEZE) {
        lapic_eoi();
        snapshot_hold();
    } else if (v == VECTOR_CONTROL) {
        control_irq();
        lapic_eoi();
    } else if (irq_dispatch(v)) {
        lapic_eoi();
    } else if (v != VECTOR_SPURIOUS) {
        static int reported;
        if (!reported++)
            kprintf("lwjvm: unexpected interrupt vector %lu (ignored)\n", v);
        lapic_eoi();
    }
    /* Interrupts come only where interrupts were enabled, so no spinlock is held: a switch is
     * safe there, as after any exception from the program. */
    if (v >= 32 || regs_from_user(r))
        sched_preempt_point();
    if (regs_from_user(r))
        signal_deliver(r);
}
