/* Exceptions and interrupts: page faults go to the memory manager, faults in the program become
 * fatal signals (signal delivery comes with the signal subsystem), faults in the kernel panic with
 * registers and a backtrace. */
#include "arch/x86_64/io.h"
#include "arch/x86_64/regs.h"
#include "core/panic.h"
#include "errno.h"
#include "lib/printf.h"
#include "mm/fault.h"

extern char uaccess_begin[], uaccess_end[], uaccess_fault[];

static const char *const names[32] = {
    "divide error", "debug", "NMI", "breakpoint", "overflow", "bound range", "invalid opcode",
    "device not available", "double fault", "coprocessor overrun", "invalid TSS",
    "segment not present", "stack fault", "general protection fault", "page fault", "reserved",
    "x87 floating-point error", "alignment check", "machine check", "SIMD floating-point error",
    "virtualization", "control protection"};

#define SIGILL 4
#define SIGTRAP 5
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGSEGV 11

static int signal_for(uint64_t vector)
{
    switch (vector) {
    case 0:
    case 16:
    case 19:
        return SIGFPE;
    case 1:
    case 3:
        return SIGTRAP;
    case 6:
        return SIGILL;
    case 17:
        return SIGBUS;
    default:
        return SIGSEGV;
    }
}

/* The program took a fault it has no handler for: report it like a crash and exit 128+signo. */
static void __attribute__((noreturn)) fatal_signal(struct regs *r, int sig)
{
    const char *what = r->vector < 32 && names[r->vector] ? names[r->vector] : "exception";
    kprintf("lwjvm: program killed by signal %d: %s at rip %016lx", sig, what, r->rip);
    if (r->vector == 14)
        kprintf(", address %016lx", read_cr2());
    kprintf("\n");
    dump_regs(r);
    vm_exit(128 + sig);
}

void trap_dispatch(struct regs *r)
{
    uint64_t v = r->vector;
    if (v == 14) {
        uint64_t addr = read_cr2();
        int rc = mm_fault(addr, r->error);
        if (rc == 0)
            return;
        if (rc == -ENOMEM) {
            /* Linux's OOM killer would pick the only process there is. */
            kprintf("lwjvm: out of memory: no free page for address %016lx (rip %016lx); "
                    "give the VM more memory\n", addr, r->rip);
            vm_exit(128 + SIGKILL);
        }
        if (regs_from_user(r))
            fatal_signal(r, SIGSEGV);
        if (r->rip >= (uint64_t)uaccess_begin && r->rip < (uint64_t)uaccess_end) {
            r->rip = (uint64_t)uaccess_fault;
            return;
        }
        kprintf("kernel page fault at address %016lx (%s)\n", addr,
                rc == -ENOMEM ? "out of memory" : "no mapping");
        panic_regs(r, "page fault in the kernel");
    }
    if (v < 32) {
        if (regs_from_user(r) && v != 8 && v != 18)
            fatal_signal(r, signal_for(v));
        panic_regs(r, names[v] ? names[v] : "reserved exception");
    }
    static int reported;
    if (!reported++)
        kprintf("lwjvm: unexpected interrupt vector %lu (ignored)\n", v);
}
