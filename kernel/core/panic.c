/* Panics, fatal-exception reports, backtraces through frame pointers with kernel symbols, and the
 * exit protocol: the control record on COM3, then the isa-debug-exit port. */
#include "core/panic.h"
#include "net/stack.h"
#include "drivers/virtio_console.h"
#include "core/export.h"
#include "fs/volume.h"
#include "core/stats.h"
#include "linux/syscall.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/regs.h"
#include "arch/x86_64/tsc.h"
#include "lib/spinlock.h"
#include "lib/printf.h"
#include "sched/thread.h"
#include <stdarg.h>

struct ksym {
    uint64_t addr;
    uint64_t name; /* offset into ksym_names */
};
extern const uint64_t ksym_count;
extern const struct ksym ksym_table[];
extern const char ksym_names[];
extern char _text_start[], _text_end[];

#define DEBUG_EXIT_PORT 0xf4

static void stop(uint8_t how)
{
    outb(DEBUG_EXIT_PORT, how);
    cpu_halt_forever(); /* not reached under QEMU with isa-debug-exit */
}

void vm_exit(int code)
{
    volume_sync();            /* what the program wrote to its volume is committed */
    net_drain(2000000000ull); /* what the program sent reaches its peers, as on Linux */
    virtio_console_flush();   /* and what it printed reaches the host */
    export_at_exit();
    kstats_report();
    syscall_stats_report();
    klog_start_line();
    kprintf("\x1elwjvm:exit code=%d\n", code & 0xff);
    stop(0);
    __builtin_unreachable();
}

const char *ksym_lookup(uint64_t addr, uint64_t *off)
{
    if (addr < (uint64_t)_text_start || addr >= (uint64_t)_text_end || ksym_count == 0)
        return 0;
    uint64_t lo = 0, hi = ksym_count;
    while (hi - lo > 1) {
        uint64_t mid = (lo + hi) / 2;
        if (ksym_table[mid].addr <= addr)
            lo = mid;
        else
            hi = mid;
    }
    if (ksym_table[lo].addr > addr)
        return 0;
    *off = addr - ksym_table[lo].addr;
    return ksym_names + ksym_table[lo].name;
}

static void print_addr(uint64_t addr)
{
    uint64_t off;
    const char *name = ksym_lookup(addr, &off);
    if (name)
        kprintf("  %016lx  %s+0x%lx\n", addr, name, off);
    else
        kprintf("  %016lx  %s\n", addr, addr < USER_TOP ? "(program)" : "?");
}

void backtrace(uint64_t rip, uint64_t rbp)
{
    kprintf("backtrace:\n");
    print_addr(rip);
    /* Kernel stacks live in the direct map (heap pages), the boot stack in the kernel image. */
    for (int i = 0; i < 32 && rbp >= DIRECT_MAP_BASE && !(rbp & 7); i++) {
        uint64_t *frame = (uint64_t *)rbp;
        if (!frame[1])
            break;
        print_addr(frame[1] - 1);
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
}

void dump_regs(const struct regs *r)
{
    kprintf("  rip %016lx  rsp %016lx  rflags %016lx  cs %lx ss %lx\n", r->rip, r->rsp, r->rflags,
            r->cs, r->ss);
    kprintf("  rax %016lx  rbx %016lx  rcx %016lx  rdx %016lx\n", r->rax, r->rbx, r->rcx, r->rdx);
    kprintf("  rsi %016lx  rdi %016lx  rbp %016lx  r8  %016lx\n", r->rsi, r->rdi, r->rbp, r->r8);
    kprintf("  r9  %016lx  r10 %016lx  r11 %016lx  r12 %016lx\n", r->r9, r->r10, r->r11, r->r12);
    kprintf("  r13 %016lx  r14 %016lx  r15 %016lx  cr2 %016lx\n", r->r13, r->r14, r->r15,
            read_cr2());
}

/* Which thread was in which syscall: the first thing to know when replaying a fuzzer's seed. */
static void print_context(void)
{
    if (!rdmsr(0xc0000101)) /* IA32_GS_BASE: no per-CPU area yet (early boot) */
        return;
    struct thread *t = percpu()->current;
    if (!t)
        return;
    if (t->frame && t->frame->vector == VECTOR_SYSCALL)
        kprintf("in thread %d, syscall %lu (%lx, %lx, %lx, %lx, %lx, %lx)\n", t->tid, t->syscall_nr,
                t->frame->rdi, t->frame->rsi, t->frame->rdx, t->frame->r10, t->frame->r8,
                t->frame->r9);
    else
        kprintf("in thread %d\n", t->tid);
}

void spin_stuck(const struct spinlock *l, uint64_t *since)
{
    uint64_t now = rdtsc();
    if (!*since)
        *since = now;
    else if (now - *since > (uint64_t)SPIN_PANIC_S * tsc_hz) {
        unsigned owner = __atomic_load_n(&l->owner, __ATOMIC_RELAXED);
        panic_stuck_cpu(owner ? owner - 1 : MAX_CPUS,
                        "lock %s held for %d s by cpu %d while cpu %u waits for it: a deadlock",
                        l->name ? l->name : "?", SPIN_PANIC_S, (int)owner - 1, spinlock_cpu());
    }
}

/* The panic for `text`: the message, the thread's context, a backtrace from the caller of the
 * function whose frame is `fp` (panic's or panic_stuck_cpu's), the panic record; stops the VM. */
__attribute__((noreturn)) static void panic_text(const char *text, const uint64_t *fp)
{
    __asm__ volatile("cli");
    klog_start_line();
    kprintf("kernel panic: %s\n", text);
    print_context();
    backtrace(fp[1] - 1, fp[0]);
    kprintf("\x1elwjvm:panic\n");
    stop(1);
    __builtin_unreachable();
}

void panic(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    panic_text(buf, __builtin_frame_address(0));
}

/* The CPU panic_stuck_cpu asked to say where it is (-1: none), and whether it has. */
static int nmi_report_cpu = -1;
static int nmi_reported;

void panic_stuck_cpu(unsigned cpu, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    __asm__ volatile("cli");
    int expected = -1;
    if (cpu < MAX_CPUS && cpu != spinlock_cpu() &&
        __atomic_compare_exchange_n(&nmi_report_cpu, &expected, (int)cpu, 0, __ATOMIC_SEQ_CST,
                                    __ATOMIC_SEQ_CST)) {
        lapic_send_nmi(smp_apic_id[cpu]);
        uint64_t t0 = rdtsc();
        while (!__atomic_load_n(&nmi_reported, __ATOMIC_ACQUIRE) && rdtsc() - t0 < 2 * tsc_hz)
            __asm__ volatile("pause");
        if (!__atomic_load_n(&nmi_reported, __ATOMIC_ACQUIRE)) {
            klog_start_line();
            kprintf("cpu %u did not answer an NMI either\n", cpu);
        }
    }
    panic_text(buf, __builtin_frame_address(0));
}

int panic_nmi_report(const struct regs *r)
{
    unsigned me = spinlock_cpu();
    if (__atomic_load_n(&nmi_report_cpu, __ATOMIC_ACQUIRE) != (int)me)
        return 0;
    klog_start_line();
    kprintf("cpu %u, which did not answer, was here (NMI):\n", me);
    print_context();
    dump_regs(r);
    backtrace(r->rip, r->rbp);
    __atomic_store_n(&nmi_reported, 1, __ATOMIC_RELEASE);
    cpu_halt_forever(); /* the asking CPU panics and stops the VM */
    __builtin_unreachable();
}

void panic_regs(const struct regs *r, const char *what)
{
    __asm__ volatile("cli");
    klog_start_line();
    kprintf("kernel panic: %s (vector %lu, error code 0x%lx)\n", what, r->vector, r->error);
    print_context();
    dump_regs(r);
    backtrace(r->rip, r->rbp);
    kprintf("\x1elwjvm:panic\n");
    stop(1);
    __builtin_unreachable();
}
