/* Timers that signal the program: alarm, setitimer/getitimer and the POSIX timers (timer_create
 * and friends), on the wall and monotonic clocks and on the CPU-time clocks (ITIMER_VIRTUAL and
 * ITIMER_PROF too). Each is a kernel timer (core/timer.h) whose expiry queues a signal to the
 * process or to one thread (SIGEV_THREAD_ID, which glibc's SIGEV_THREAD builds on). As on Linux,
 * a periodic POSIX timer whose signal was queued is re-armed only when that signal is dequeued
 * (posix_timer_dequeued): the periods missed meanwhile become the signal's si_overrun and what
 * timer_getoverrun reads until the next delivery. An interval timer (setitimer) re-arms at once;
 * its signal, a standard one, is not queued twice. A CPU-time timer is a kernel timer set for
 * the CPU time left, as wall time (with one CPU, CPU time runs no faster), that re-arms itself
 * for what is still left until the CPU time is really there. */
#include "core/clock.h"
#include "core/cputime.h"
#include "core/timer.h"
#include "core/waitlimit.h"
#include "errno.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "mm/kheap.h"
#include "sched/thread.h"
#include "signal/signal.h"
#include "linux_abi.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define CLOCK_TAI 11
#define TIMER_ABSTIME 1

#define SIGEV_SIGNAL 0
#define SIGEV_NONE 1
#define SIGEV_THREAD_ID 4
#define SI_TIMER (-2)

#define ITIMER_REAL 0
#define ITIMER_VIRTUAL 1
#define ITIMER_PROF 2
#define SIGVTALRM 26
#define SIGPROF 27
#define CPUCLOCK_PERTHREAD 4
#define CPUCLOCK_TYPE_MASK 3

/* What a timer counts. */
enum { ON_WALL, ON_PROCESS_CPU, ON_USER_CPU, ON_THREAD_CPU };

#define NSEC_PER_SEC 1000000000ll
#define MAX_TIMERS 256

struct itimerspec64 {
    struct timespec64 interval, value;
};
struct itimerval64 {
    struct timeval64 interval, value;
};
struct linux_sigevent {
    uint64_t value;
    int32_t signo, notify;
    union {
        int32_t tid;
        int32_t pad[12];
    };
};
_Static_assert(sizeof(struct linux_sigevent) == 64, "struct sigevent");

struct ptimer {
    struct ktimer kt; /* first: the callback gets it back */
    int id;           /* the POSIX timer id, or -1 for the interval timers */
    int clock;
    int counts;       /* ON_*: the clock the deadline is on */
    int cpu_tid;      /* ON_THREAD_CPU: the thread */
    uint64_t cpu_deadline; /* CPU-time timers: the deadline on their clock, 0 if disarmed */
    int notify, signo, tid;
    uint64_t value;       /* sigev_value */
    uint64_t expires;     /* the armed deadline (CLOCK_MONOTONIC ns), 0 if disarmed */
    uint64_t interval_ns; /* 0: one-shot */
    uint64_t due;         /* a POSIX timer's expiry whose signal is queued (on its clock), 0 if none */
    int overrun_last;     /* the overruns of the signal delivered last (timer_getoverrun) */
};

/* Guards the timer table and every timer's fields (the interval timers' too). Taken by the
 * callbacks and the syscalls; a callback is never waited for under it (ktimer_cancel, which
 * waits for a running callback, is called outside it). Taken before the signal lock. */
static struct spinlock posix_timers_lock = SPINLOCK_INIT("posix timers");
static struct ptimer *timers[MAX_TIMERS];
static struct ptimer itimers[3] = {
    {.id = -1, .counts = ON_WALL, .notify = SIGEV_SIGNAL, .signo = SIGALRM},
    {.id = -1, .counts = ON_USER_CPU, .notify = SIGEV_SIGNAL, .signo = SIGVTALRM},
    {.id = -1, .counts = ON_PROCESS_CPU, .notify = SIGEV_SIGNAL, .signo = SIGPROF},
};
#define itimer_real itimers[ITIMER_REAL]

/* The CPU time a CPU-time timer counts, in ns; -1 if its thread is gone. */
static int64_t cpu_now(const struct ptimer *p)
{
    if (p->counts == ON_THREAD_CPU) {
        struct thread *t = thread_find(p->cpu_tid);
        return t ? (int64_t)cputime_thread_ns(t) : -1;
    }
    uint64_t total = cputime_process_ns(), user, sys;
    if (p->counts == ON_PROCESS_CPU)
        return (int64_t)total;
    cputime_split(total, &user, &sys);
    return (int64_t)user;
}

/* Arms the kernel timer of a CPU-time timer for the CPU time left, as wall time. */
static void arm_cpu(struct ptimer *p, int64_t now_cpu)
{
    uint64_t left = p->cpu_deadline > (uint64_t)now_cpu ? p->cpu_deadline - (uint64_t)now_cpu : 0;
    p->expires = clock_monotonic_ns() + (left ? left : 1);
    ktimer_arm(&p->kt, p->expires);
}

/* The thread that takes the timer's signal in a pending check: its target, or any thread. */
static struct thread *signal_target(const struct ptimer *p)
{
    return p->notify == SIGEV_THREAD_ID ? thread_find(p->tid) : thread_first();
}

/* Queues p's signal; returns 1 if it was queued (0: SIGEV_NONE, no target, ignored). */
static int send(struct ptimer *p)
{
    if (p->notify == SIGEV_NONE)
        return 0;
    struct thread *t = signal_target(p);
    if (!t)
        return 0;
    struct linux_siginfo info;
    memset(&info, 0, sizeof info);
    info.si_signo = p->signo;
    if (p->id < 0) {
        info.si_code = SI_KERNEL; /* as Linux sends the ITIMER_REAL SIGALRM */
    } else {
        info.si_code = SI_TIMER;
        int32_t tid_overrun[2] = {p->id, 0}; /* the overrun is filled in at delivery */
        memcpy(info.raw, tid_overrun, sizeof tid_overrun);
        memcpy(info.raw + 8, &p->value, sizeof p->value);
    }
    if (p->notify == SIGEV_THREAD_ID)
        return signal_send_thread(t, p->signo, &info);
    return signal_send_process(p->signo, &info);
}

/* The periods of p missed from `due` to `now` (on p's clock), and the next expiry after now. */
static uint64_t forward(const struct ptimer *p, uint64_t due, uint64_t now, int *missed)
{
    uint64_t n = now > due ? (now - due) / p->interval_ns : 0;
    *missed = (int)(n > 0x7fffffff ? 0x7fffffff : n);
    return due + (n + 1) * p->interval_ns;
}

/* A POSIX timer's expiry at `due` (on its clock): queues its signal; a periodic timer waits for
 * the signal's delivery to be re-armed, unless the signal could not be queued. Returns 1 if the
 * caller should re-arm it now. */
static int expire_posix(struct ptimer *p, uint64_t due)
{
    if (send(p)) {
        p->due = p->interval_ns ? due : 0;
        p->overrun_last = p->interval_ns ? p->overrun_last : 0;
        return 0;
    }
    return p->interval_ns != 0;
}

static void fire_cpu(struct ptimer *p)
{
    int64_t now = cpu_now(p);
    if (now < 0) { /* its thread exited */
        p->cpu_deadline = 0;
        return;
    }
    if ((uint64_t)now < p->cpu_deadline) { /* the CPU time is not there yet */
        arm_cpu(p, now);
        return;
    }
    uint64_t due = p->cpu_deadline;
    p->cpu_deadline = 0;
    if (p->id >= 0 && !expire_posix(p, due))
        return; /* re-armed when its signal is delivered */
    if (p->interval_ns) {
        int missed;
        p->cpu_deadline = forward(p, due, (uint64_t)now, &missed);
        arm_cpu(p, now);
    }
    if (p->id < 0)
        send(p);
}

static void fire(struct ktimer *kt)
{
    struct ptimer *p = (struct ptimer *)kt;
    uint64_t fl = spin_lock_irqsave(&posix_timers_lock);
    uint64_t due = p->expires, now = clock_monotonic_ns();
    if (!due || due > now) { /* disarmed or re-armed since this expiry was due */
        spin_unlock_irqrestore(&posix_timers_lock, fl);
        return;
    }
    p->expires = 0;
    if (p->counts != ON_WALL) {
        fire_cpu(p);
    } else if (p->id >= 0) {
        if (expire_posix(p, due)) { /* not queued: keep ticking */
            int missed;
            p->expires = forward(p, due, now, &missed);
            ktimer_arm(&p->kt, p->expires);
        }
    } else {
        if (p->interval_ns) {
            int missed;
            p->expires = forward(p, due, now, &missed);
            ktimer_arm(&p->kt, p->expires);
        }
        send(p);
    }
    spin_unlock_irqrestore(&posix_timers_lock, fl);
    while (wait_test == WAIT_TEST_TIMER && percpu()->cpu != 0) /* a callback that never returns */
        __asm__ volatile("pause");
}

void posix_timer_dequeued(struct linux_siginfo *info)
{
    int32_t id;
    memcpy(&id, info->raw, sizeof id);
    uint64_t fl = spin_lock_irqsave(&posix_timers_lock);
    struct ptimer *p = id >= 0 && id < MAX_TIMERS ? timers[id] : 0;
    if (p && p->due && p->interval_ns) {
        int missed;
        if (p->counts != ON_WALL) {
            int64_t now = cpu_now(p);
            if (now >= 0) {
                p->cpu_deadline = forward(p, p->due, (uint64_t)now, &missed);
                arm_cpu(p, now);
            } else {
                missed = 0;
            }
        } else {
            p->expires = forward(p, p->due, clock_monotonic_ns(), &missed);
            ktimer_arm(&p->kt, p->expires);
        }
        p->due = 0;
        p->overrun_last = missed;
        memcpy(info->raw + 4, &missed, sizeof missed);
    }
    spin_unlock_irqrestore(&posix_timers_lock, fl);
}

/* Current value of clock (one of the timer clocks) in ns. */
static int64_t clock_now(int clock)
{
    if (clock == CLOCK_REALTIME || clock == CLOCK_REALTIME_ALARM || clock == CLOCK_TAI)
        return (int64_t)clock_realtime_ns();
    return (int64_t)clock_monotonic_ns();
}

static int timer_clock_ok(int clock)
{
    return clock == CLOCK_REALTIME || clock == CLOCK_MONOTONIC || clock == CLOCK_BOOTTIME ||
           clock == CLOCK_REALTIME_ALARM || clock == CLOCK_BOOTTIME_ALARM || clock == CLOCK_TAI;
}

static int64_t ts_ns(struct timespec64 ts) { return ts.sec * NSEC_PER_SEC + ts.nsec; }
static struct timespec64 ns_ts(uint64_t ns)
{
    return (struct timespec64){(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC)};
}
static int ts_ok(struct timespec64 ts)
{
    return ts.sec >= 0 && ts.nsec >= 0 && ts.nsec < NSEC_PER_SEC && ts.sec < (1ll << 31) * 64;
}

/* The remaining time and interval of p. */
static struct itimerspec64 current_setting(const struct ptimer *p)
{
    struct itimerspec64 cur = {ns_ts(p->interval_ns), {0, 0}};
    if (p->counts != ON_WALL) {
        int64_t now = cpu_now(p);
        if (p->cpu_deadline && now >= 0)
            cur.value = ns_ts(p->cpu_deadline > (uint64_t)now ? p->cpu_deadline - (uint64_t)now : 1);
    } else if (p->expires) {
        uint64_t now = clock_monotonic_ns();
        /* an armed timer never reads 0 left: Linux reports at least 1 ns */
        cur.value = ns_ts(p->expires > now ? p->expires - now : 1);
    }
    return cur;
}

/* Arms p for `value` ns (absolute on p's clock when abs), repeating every interval ns;
 * value 0 disarms. */
static void set(struct ptimer *p, int64_t value, int abs, uint64_t interval)
{
    p->expires = 0; /* a callback already under way now does nothing */
    p->cpu_deadline = 0;
    p->interval_ns = 0;
    p->due = 0; /* a signal still queued re-arms nothing */
    if (!value)
        return;
    p->kt.fire = fire;
    p->interval_ns = interval;
    if (p->counts != ON_WALL) {
        int64_t now = cpu_now(p);
        if (now < 0)
            return;
        p->cpu_deadline = abs ? (uint64_t)value : (uint64_t)now + (uint64_t)value;
        arm_cpu(p, now);
        return;
    }
    int64_t now = clock_now(p->clock);
    int64_t left = abs ? value - now : value;
    uint64_t mono = clock_monotonic_ns();
    p->expires = mono + (uint64_t)(left > 0 ? left : 0);
    if (p->expires == 0)
        p->expires = 1;
    ktimer_arm(&p->kt, p->expires);
}

/* The timer with that id (posix_timers_lock held), or 0. */
static struct ptimer *lookup(uint64_t id)
{
    return id < MAX_TIMERS ? timers[id] : 0;
}

static uint64_t lock_timers(void) { return spin_lock_irqsave(&posix_timers_lock); }
static void unlock_timers(uint64_t fl) { spin_unlock_irqrestore(&posix_timers_lock, fl); }

SYS(timer_create)
{
    UNUSED_ARGS();
    int clock = (int32_t)a0, counts = ON_WALL, cpu_tid = 0;
    if (clock == CLOCK_PROCESS_CPUTIME_ID) {
        counts = ON_PROCESS_CPU;
    } else if (clock == CLOCK_THREAD_CPUTIME_ID) {
        counts = ON_THREAD_CPU;
        cpu_tid = current()->tid;
    } else if (clock < 0) { /* a CPU clock id of the process or one of its threads */
        int pid = ~(clock >> 3);
        if ((clock & CPUCLOCK_TYPE_MASK) == CPUCLOCK_TYPE_MASK)
            return -EINVAL;
        if (clock & CPUCLOCK_PERTHREAD) {
            struct thread *t = pid ? thread_find(pid) : current();
            if (!t)
                return -EINVAL;
            counts = ON_THREAD_CPU;
            cpu_tid = t->tid;
        } else {
            if (pid != 0 && pid != 1)
                return -EINVAL;
            counts = ON_PROCESS_CPU;
        }
    } else if (!timer_clock_ok(clock)) {
        return -EINVAL;
    }
    struct linux_sigevent ev = {.value = 0, .signo = SIGALRM, .notify = SIGEV_SIGNAL};
    if (a1 && copy_from_user(&ev, (const void *)a1, sizeof ev))
        return -EFAULT;
    if (ev.notify != SIGEV_SIGNAL && ev.notify != SIGEV_NONE && ev.notify != SIGEV_THREAD_ID)
        return -EINVAL;
    if (ev.notify != SIGEV_NONE && (ev.signo < 1 || ev.signo > NSIG))
        return -EINVAL;
    if (ev.notify == SIGEV_THREAD_ID && !thread_find(ev.tid))
        return -EINVAL;
    struct ptimer *p = kzalloc(sizeof *p);
    if (!p)
        return -EAGAIN;
    uint64_t fl = lock_timers();
    int id = 0;
    while (id < MAX_TIMERS && timers[id])
        id++;
    if (id < MAX_TIMERS)
        timers[id] = p; /* claimed; not armed, so nothing fires meanwhile */
    unlock_timers(fl);
    if (id == MAX_TIMERS) {
        kfree(p);
        return -EAGAIN;
    }
    ktimer_init(&p->kt, fire);
    p->id = id;
    p->clock = clock;
    p->counts = counts;
    p->cpu_tid = cpu_tid;
    p->notify = ev.notify;
    p->signo = ev.signo;
    p->tid = ev.tid;
    p->value = a1 ? ev.value : (uint64_t)id; /* no sigevent: sigev_value is the timer id */
    if (copy_to_user((void *)a2, &id, sizeof id)) {
        fl = lock_timers();
        timers[id] = 0;
        unlock_timers(fl);
        kfree(p);
        return -EFAULT;
    }
    return 0;
}

SYS(timer_settime)
{
    UNUSED_ARGS();
    struct itimerspec64 n;
    if (copy_from_user(&n, (const void *)a2, sizeof n)) {
        uint64_t fl = lock_timers();
        int known = lookup(a0) != 0;
        unlock_timers(fl);
        return known ? -EFAULT : -EINVAL;
    }
    uint64_t fl = lock_timers();
    struct ptimer *p = lookup(a0);
    if (!p) {
        unlock_timers(fl);
        return -EINVAL;
    }
    if (!ts_ok(n.value) || !ts_ok(n.interval)) {
        unlock_timers(fl);
        return -EINVAL;
    }
    struct itimerspec64 old = current_setting(p);
    set(p, ts_ns(n.value), (a1 & TIMER_ABSTIME) != 0, (uint64_t)ts_ns(n.interval));
    unlock_timers(fl);
    if (a3 && copy_to_user((void *)a3, &old, sizeof old))
        return -EFAULT;
    return 0;
}

SYS(timer_gettime)
{
    UNUSED_ARGS();
    uint64_t fl = lock_timers();
    struct ptimer *p = lookup(a0);
    struct itimerspec64 cur = p ? current_setting(p) : (struct itimerspec64){{0, 0}, {0, 0}};
    unlock_timers(fl);
    if (!p)
        return -EINVAL;
    return copy_to_user((void *)a1, &cur, sizeof cur) ? -EFAULT : 0;
}

/* The overruns of the timer's signal delivered last (Linux's it_overrun_last). */
SYS(timer_getoverrun)
{
    UNUSED_ARGS();
    uint64_t fl = lock_timers();
    struct ptimer *p = lookup(a0);
    long rc = p ? p->overrun_last : -EINVAL;
    unlock_timers(fl);
    return rc;
}

SYS(timer_delete)
{
    UNUSED_ARGS();
    uint64_t fl = lock_timers();
    struct ptimer *p = lookup(a0);
    if (p) {
        timers[a0] = 0;
        p->expires = 0;
    }
    unlock_timers(fl);
    if (!p)
        return -EINVAL;
    ktimer_cancel(&p->kt); /* waits for a callback under way: then p can go */
    kfree(p);
    return 0;
}

static struct itimerval64 itimer_value(struct ptimer *p)
{
    struct itimerspec64 s = current_setting(p);
    return (struct itimerval64){{s.interval.sec, s.interval.nsec / 1000},
                                {s.value.sec, (s.value.nsec + 999) / 1000}};
}

SYS(getitimer)
{
    UNUSED_ARGS();
    if (a0 > ITIMER_PROF)
        return -EINVAL;
    uint64_t fl = lock_timers();
    struct itimerval64 v = itimer_value(&itimers[a0]);
    unlock_timers(fl);
    return copy_to_user((void *)a1, &v, sizeof v) ? -EFAULT : 0;
}

SYS(setitimer)
{
    UNUSED_ARGS();
    struct itimerval64 n = {{0, 0}, {0, 0}}; /* no new value: disarm, as Linux does */
    if (a1 && copy_from_user(&n, (const void *)a1, sizeof n))
        return -EFAULT;
    if (a0 > ITIMER_PROF)
        return -EINVAL;
    if (n.value.sec < 0 || n.value.usec < 0 || n.value.usec >= 1000000 || n.interval.sec < 0 ||
        n.interval.usec < 0 || n.interval.usec >= 1000000)
        return -EINVAL;
    uint64_t fl = lock_timers();
    struct itimerval64 old = itimer_value(&itimers[a0]);
    set(&itimers[a0], n.value.sec * NSEC_PER_SEC + n.value.usec * 1000, 0,
        (uint64_t)(n.interval.sec * NSEC_PER_SEC + n.interval.usec * 1000));
    unlock_timers(fl);
    if (a2 && copy_to_user((void *)a2, &old, sizeof old))
        return -EFAULT;
    return 0;
}

SYS(alarm)
{
    UNUSED_ARGS();
    uint64_t fl = lock_timers();
    struct itimerval64 old = itimer_value(&itimer_real);
    set(&itimer_real, (int64_t)(a0 & 0xffffffff) * NSEC_PER_SEC, 0, 0);
    unlock_timers(fl);
    /* Linux rounds the old remainder to the nearest second, but never down to 0. */
    int64_t secs = old.value.sec;
    if ((!secs && old.value.usec) || old.value.usec >= 500000)
        secs++;
    return secs;
}
