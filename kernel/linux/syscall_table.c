/* Dispatch of the `syscall` instruction: the table built from linux/syscalls.def, strace-style
 * tracing (lwjvm.trace=1), the -ENOSYS report, once per unknown syscall, by name, and the
 * per-syscall counts printed at exit under lwjvm.stats=1 (like `strace -c`). */
#include "linux/syscall.h"
#include "arch/x86_64/regs.h"
#include "arch/x86_64/tsc.h"
#include "arch/x86_64/io.h"
#include "core/stats.h"
#include "errno.h"
#include "lib/printf.h"
#include "linux/uaccess.h"
#include "sched/sched.h"
#include "sched/thread.h"
#include "signal/signal.h"

#define X(nr, name, fmt) SYS(name);
#include "linux/syscalls.def"
#undef X

const struct syscall_desc syscall_table[SYSCALL_MAX] = {
#define X(nr, name, fmt) [nr] = {sys_##name, fmt},
#include "linux/syscalls.def"
#undef X
};

int syscall_trace;
static uint8_t enosys_reported[SYSCALL_MAX / 8];

/* Per syscall number, under lwjvm.stats=1: calls, calls that failed, CPU time (TSC ticks the
 * caller ran, as kstats.syscall_tsc) and wall time (entry to return, blocking included). Updated
 * by every CPU with relaxed atomic adds: each counter stands alone, no lock is needed. */
static struct {
    uint64_t calls, errors, cpu_tsc, wall_tsc;
} syscall_counts[SYSCALL_MAX];

static void trace_arg(char kind, uint64_t v)
{
    switch (kind) {
    case 'd':
        kprintf("%ld", (int64_t)v);
        break;
    case 'f':
        if ((int)v == -100)
            kprintf("AT_FDCWD");
        else
            kprintf("%d", (int)v);
        break;
    case 'u':
        kprintf("%lu", v);
        break;
    case 'o':
        kprintf("0%lo", v);
        break;
    case 's': {
        char buf[96];
        long n = strncpy_from_user(buf, (const char *)v, sizeof buf);
        if (n >= 0)
            kprintf("\"%s\"", buf);
        else if (n == -ENAMETOOLONG)
            kprintf("\"%.*s\"...", (int)sizeof buf - 1, buf);
        else
            kprintf("%p", (void *)v);
        break;
    }
    case 'p':
        if (v)
            kprintf("%p", (void *)v);
        else
            kprintf("NULL");
        break;
    default:
        kprintf("0x%lx", v);
    }
}

static void trace_call(const char *name, const char *fmt, const uint64_t a[6])
{
    uint64_t us = tsc_ns_since_boot() / 1000;
    kprintf("[%4lu.%06lu %3d] %s(", us / 1000000, us % 1000000, current()->tid, name);
    for (int i = 0; fmt && fmt[i] && fmt[i] != '='; i++) {
        if (i)
            kprintf(", ");
        trace_arg(fmt[i], a[i]);
    }
    kprintf(")");
}

static void trace_result(const char *fmt, long rc)
{
    const char *eq = 0;
    for (const char *p = fmt; p && *p; p++)
        if (*p == '=')
            eq = p;
    if (rc < 0 && rc > -4096)
        kprintf(" = -1 (errno %ld)\n", -rc);
    else if (eq && eq[1] == 'p')
        kprintf(" = %p\n", (void *)rc);
    else
        kprintf(" = %ld\n", rc);
}

void syscall_dispatch(struct regs *r)
{
    uint64_t nr = r->rax;
    uint64_t a[6] = {r->rdi, r->rsi, r->rdx, r->r10, r->r8, r->r9};
    current()->frame = r;
    current()->syscall_nr = nr;
    current()->in_syscall = 1;
    const struct syscall_desc *d = nr < SYSCALL_MAX ? &syscall_table[nr] : 0;
    const char *name = nr < SYSCALL_MAX && syscall_names[nr] ? syscall_names[nr] : "unknown";
    if (syscall_trace)
        trace_call(name, d ? d->args : 0, a);
    long rc;
    int report = 0;
    struct thread *self = current();
    /* CPU time, not wall time: a blocking call is charged only for the time it ran. */
    uint64_t t0 = rdtsc() - self->slice_start + self->cpu_tsc;
    uint64_t wall0 = rdtsc();
    kstats.syscalls++;
    if (d && d->fn) {
        rc = d->fn(a[0], a[1], a[2], a[3], a[4], a[5]);
    } else {
        rc = -ENOSYS;
        /* Once per number; numbers beyond the table share one report (a flood of them would
         * otherwise fill the log at the program's will). */
        static int beyond_reported;
        if (nr >= SYSCALL_MAX) {
            report = !beyond_reported;
            beyond_reported = 1;
        } else {
            report = !(enosys_reported[nr / 8] & (1 << (nr % 8)));
            enosys_reported[nr / 8] |= (uint8_t)(1 << (nr % 8));
        }
    }
    thread_put_held(self);
    self->in_syscall = 0;
    uint64_t cpu = rdtsc() - self->slice_start + self->cpu_tsc - t0;
    kstats.syscall_tsc += cpu;
    if (kstats_enabled && nr < SYSCALL_MAX) {
        __atomic_fetch_add(&syscall_counts[nr].calls, 1, __ATOMIC_RELAXED);
        if (rc < 0 && rc > -4096)
            __atomic_fetch_add(&syscall_counts[nr].errors, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&syscall_counts[nr].cpu_tsc, cpu, __ATOMIC_RELAXED);
        __atomic_fetch_add(&syscall_counts[nr].wall_tsc, rdtsc() - wall0, __ATOMIC_RELAXED);
    }
    if (syscall_trace)
        trace_result(d ? d->args : 0, rc);
    if (report)
        kprintf("lwjvm: syscall %s (%lu) is not implemented: -ENOSYS\n", name, nr);
    r->rax = (uint64_t)rc;
    sched_preempt_point();
    signal_deliver(r);
}

void syscall_stats_report(void)
{
    if (!kstats_enabled)
        return;
    for (int nr = 0; nr < SYSCALL_MAX; nr++) {
        uint64_t calls = __atomic_load_n(&syscall_counts[nr].calls, __ATOMIC_RELAXED);
        if (!calls)
            continue;
        klog_start_line();
        kprintf("lwjvm: syscall stats: %s calls=%lu errors=%lu cpu_us=%lu wall_us=%lu\n",
                syscall_names[nr] ? syscall_names[nr] : "unknown", calls,
                __atomic_load_n(&syscall_counts[nr].errors, __ATOMIC_RELAXED),
                tsc_to_ns(__atomic_load_n(&syscall_counts[nr].cpu_tsc, __ATOMIC_RELAXED)) / 1000,
                tsc_to_ns(__atomic_load_n(&syscall_counts[nr].wall_tsc, __ATOMIC_RELAXED)) / 1000);
    }
}
