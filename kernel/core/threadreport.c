/* The host's `lwjvm:threads` (core/control.c): on COM3, the records
 *   \x1elwjvm:threads now_ns=N cpus=N count=N next_timer_ns=N
 *   \x1elwjvm:cpu n=C current=TID|-1 queued=N armed_ns=N idle_ns=N (one per CPU)
 *   \x1elwjvm:thread tid=T state=running|queued|blocked cpu=C for_ns=N syscall=NAME|-
 *                    wait=SITE on=QUEUE|- deadline_ns=N pending=0x.. blocked=0x..
 *                    cpu_ns=N name=COMM|-
 *   \x1elwjvm:threads-end
 * (docs/protocol.md, section 4). The state is copied under the scheduler's locks first
 * (sched_snapshot) and written after, so the slow UART never holds the run queue. */
#include "core/threadreport.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/tsc.h"
#include "core/panic.h"
#include "core/timer.h"
#include "lib/printf.h"
#include "linux/syscall.h"
#include "sched/sched.h"

#define MAX_REPORTED 128

static const char *const state_names[] = {"running", "queued", "blocked"};

/* A wait queue's name as one word of a record ("pipe readers" -> "pipe_readers"). */
static const char *word(const char *name, char *buf, unsigned size)
{
    unsigned i = 0;
    for (; name[i] && i + 1 < size; i++)
        buf[i] = name[i] == ' ' || name[i] == '=' ? '_' : name[i];
    buf[i] = 0;
    return i ? buf : "-";
}

void threadreport_send(void)
{
    /* Static: the request comes from the control interrupt, one at a time on the boot CPU. */
    static struct sched_thread_info threads[MAX_REPORTED];
    static struct sched_cpu_info cpus[MAX_CPUS];
    int n = sched_snapshot(threads, MAX_REPORTED, cpus);
    uint64_t now_tsc = rdtsc(), now = tsc_ns_since_boot();
    unsigned ncpus = smp_ncpus < MAX_CPUS ? smp_ncpus : MAX_CPUS;
    klog_start_line();
    kprintf("\x1elwjvm:threads now_ns=%lu cpus=%u count=%d next_timer_ns=%lu\n", now, ncpus, n,
            timers_next());
    for (unsigned c = 0; c < ncpus; c++)
        if (cpus[c].online)
            kprintf("\x1elwjvm:cpu n=%u current=%d queued=%u armed_ns=%lu idle_ns=%lu\n", c,
                    cpus[c].current_tid, cpus[c].queued, cpus[c].armed_ns, cpus[c].idle_ns);
    for (int i = 0; i < n && i < MAX_REPORTED; i++) {
        const struct sched_thread_info *t = &threads[i];
        const char *sys = "-";
        if (t->in_syscall)
            sys = t->syscall_nr < SYSCALL_MAX && syscall_names[t->syscall_nr]
                      ? syscall_names[t->syscall_nr]
                      : "unknown";
        uint64_t off = 0;
        char on[32], name[sizeof t->comm];
        const char *site = t->state == SCHED_INFO_BLOCKED && t->wait_site
                               ? ksym_lookup(t->wait_site, &off)
                               : 0;
        uint64_t for_ns = now_tsc > t->since_tsc ? tsc_to_ns(now_tsc - t->since_tsc) : 0;
        kprintf("\x1elwjvm:thread tid=%d state=%s cpu=%u for_ns=%lu syscall=%s wait=%s on=%s "
                "deadline_ns=%lu pending=0x%lx blocked=0x%lx cpu_ns=%lu name=%s\n",
                t->tid, state_names[t->state], t->cpu, for_ns, sys, site ? site : "-",
                t->state == SCHED_INFO_BLOCKED && t->wait_on ? word(t->wait_on, on, sizeof on)
                                                             : "-",
                t->state == SCHED_INFO_BLOCKED ? t->wait_deadline : 0, t->sig_pending,
                t->sig_mask, t->cpu_ns, word(t->comm, name, sizeof name));
    }
    kprintf("\x1elwjvm:threads-end\n");
}
