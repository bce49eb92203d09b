/* Dispatch of the `syscall` instruction: the table built from linux/syscalls.def, strace-style
 * tracing (lwjvm.trace=1), and the -ENOSYS report, once per unknown syscall, by name. */
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
    const struct syscall_desc *d = nr < SYSCALL_MAX ? &syscall_table[nr] : 0;
    const char *name = nr < SYSCALL_MAX && syscall_names[nr] ? syscall_names[nr] : "unknown";
    if (syscall_trace)
        trace_call(name, d ? d->args : 0, a);
    long rc;
    int report = 0;
    struct thread *self = current();
    /* CPU time, not wall time: a blocking call is charged only for the time it ran. */
    uint64_t t0 = rdtsc() - self->slice_start + self->cpu_tsc;
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
    kstats.syscall_tsc += rdtsc() - self->slice_start + self->cpu_tsc - t0;
    if (syscall_trace)
        trace_result(d ? d->args : 0, rc);
    if (report)
        kprintf("lwjvm: syscall %s (%lu) is not implemented: -ENOSYS\n", name, nr);
    r->rax = (uint64_t)rc;
    sched_preempt_point();
    signal_deliver(r);
}
