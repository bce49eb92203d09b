/* Clock syscalls: clock_gettime/getres/settime, gettimeofday, time, nanosleep, clock_nanosleep,
 * times and getrusage. CLOCK_MONOTONIC is the TSC since boot and CLOCK_REALTIME adds the host's
 * wall time (core/clock.h); the CPU-time clocks come from core/cputime.h. The vDSO answers the
 * common clocks without entering the kernel, with the same formula. */
#include "arch/x86_64/tsc.h"
#include "core/clock.h"
#include "core/cputime.h"
#include "core/stats.h"
#include "errno.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "mm/palloc.h"
#include "sched/thread.h"
#include "sched/wait.h"
#include "linux_abi.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define CLOCK_REALTIME_ALARM 8
#define CLOCK_BOOTTIME_ALARM 9
#define CLOCK_TAI 11
#define TIMER_ABSTIME 1

/* A negative clock id names the CPU clock of a process or thread (glibc's
 * pthread_getcpuclockid): ~pid << 3 | type, with bit 2 set for a thread. */
#define CPUCLOCK_PERTHREAD 4
#define CPUCLOCK_TYPE_MASK 3
#define CPUCLOCK_MAX 3

#define NSEC_PER_SEC 1000000000ll
#define COARSE_RES_NS 4000000 /* Linux's tick at HZ=250 */
#define USER_HZ 100
#define MAX_WAIT_NS NSEC_PER_SEC /* longer timer deadlines overflow ns * tsc_hz (lapic.c) */

#define RUSAGE_SELF 0
#define RUSAGE_CHILDREN (-1)
#define RUSAGE_THREAD 1


/* Reads clock `id` into *ns; 0, or -EINVAL for a clock that does not exist. */
static int clock_read(int64_t id, int64_t *ns)
{
    if (id < 0) {
        if ((id & CPUCLOCK_TYPE_MASK) == CPUCLOCK_MAX)
            return -EINVAL;
        int64_t pid = ~(id >> 3);
        if (id & CPUCLOCK_PERTHREAD) {
            struct thread *t = pid == 0 ? current() : thread_find((int)pid);
            if (!t)
                return -EINVAL;
            *ns = (int64_t)cputime_thread_ns(t);
            return 0;
        }
        if (pid != 0 && pid != 1)
            return -EINVAL;
        *ns = (int64_t)cputime_process_ns();
        return 0;
    }
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
    case CLOCK_REALTIME_ALARM:
    case CLOCK_TAI: /* Linux's TAI offset is 0 until someone sets it */
        *ns = (int64_t)clock_realtime_ns();
        return 0;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME: /* never suspended */
    case CLOCK_BOOTTIME_ALARM:
        *ns = (int64_t)clock_monotonic_ns();
        return 0;
    case CLOCK_PROCESS_CPUTIME_ID:
        *ns = (int64_t)cputime_process_ns();
        return 0;
    case CLOCK_THREAD_CPUTIME_ID:
        *ns = (int64_t)cputime_thread_ns(current());
        return 0;
    default:
        return -EINVAL;
    }
}

static struct timespec64 ns_to_ts(int64_t ns)
{
    return (struct timespec64){ns / NSEC_PER_SEC, ns % NSEC_PER_SEC};
}

SYS(clock_gettime)
{
    UNUSED_ARGS();
    int64_t ns;
    int rc = clock_read((int32_t)a0, &ns);
    if (rc)
        return rc;
    struct timespec64 ts = ns_to_ts(ns);
    return copy_to_user((void *)a1, &ts, sizeof ts) ? -EFAULT : 0;
}

SYS(clock_getres)
{
    UNUSED_ARGS();
    int64_t ns;
    if (clock_read((int32_t)a0, &ns))
        return -EINVAL;
    int32_t id = (int32_t)a0;
    int coarse = id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE;
    struct timespec64 ts = {0, coarse ? COARSE_RES_NS : 1};
    if (a1 && copy_to_user((void *)a1, &ts, sizeof ts))
        return -EFAULT;
    return 0;
}

/* Sets CLOCK_REALTIME (we are root, as on Linux the only one who may). */
SYS(clock_settime)
{
    UNUSED_ARGS();
    int64_t ns;
    if (clock_read((int32_t)a0, &ns))
        return -EINVAL;
    struct timespec64 ts;
    if (copy_from_user(&ts, (const void *)a1, sizeof ts))
        return -EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= NSEC_PER_SEC || ts.sec > INT64_MAX / NSEC_PER_SEC - 1)
        return -EINVAL;
    if ((int32_t)a0 != CLOCK_REALTIME)
        return -EINVAL;
    clock_set_realtime(ts.sec * NSEC_PER_SEC + ts.nsec);
    return 0;
}

SYS(gettimeofday)
{
    UNUSED_ARGS();
    if (a0) {
        int64_t ns = (int64_t)clock_realtime_ns();
        struct timeval64 tv = {ns / NSEC_PER_SEC, ns % NSEC_PER_SEC / 1000};
        if (copy_to_user((void *)a0, &tv, sizeof tv))
            return -EFAULT;
    }
    if (a1) {
        int32_t tz[2] = {0, 0}; /* UTC, no DST */
        if (copy_to_user((void *)a1, tz, sizeof tz))
            return -EFAULT;
    }
    return 0;
}

SYS(time)
{
    UNUSED_ARGS();
    int64_t t = (int64_t)(clock_realtime_ns() / NSEC_PER_SEC);
    if (a0 && copy_to_user((void *)a0, &t, sizeof t))
        return -EFAULT;
    return t;
}

/* Sleeps until clock `id` reaches `deadline` ns; the clock must advance no faster than
 * CLOCK_MONOTONIC. Returns 0, or -EINTR with *left set to what remained when a signal came. */
static long sleep_until(int64_t id, int64_t deadline, int64_t *left)
{
    struct waitq wq = WAITQ_INIT("sleep");
    for (;;) {
        int64_t now;
        clock_read(id, &now);
        if (now >= deadline)
            return 0;
        /* The clock cannot get there before MONOTONIC has advanced as much; a REALTIME step or a
         * slower CPU clock is seen on the next turn. */
        int64_t step = deadline - now;
        if (step > MAX_WAIT_NS) /* long sleeps go in steps: timer arithmetic stays small */
            step = MAX_WAIT_NS;
        uint64_t mono_deadline = clock_monotonic_ns() + (uint64_t)step;
        if (waitq_wait(&wq, mono_deadline) == -EINTR) {
            clock_read(id, &now);
            *left = deadline > now ? deadline - now : 0;
            return -EINTR;
        }
    }
}

/* The requested time in ns, saturated (Linux clamps to KTIME_MAX); -EINVAL if malformed. */
static int64_t ts_to_ns(const struct timespec64 *ts)
{
    if (ts->sec < 0 || ts->nsec < 0 || ts->nsec >= NSEC_PER_SEC)
        return -EINVAL;
    if (ts->sec >= INT64_MAX / NSEC_PER_SEC - 1)
        return INT64_MAX / 2; /* about 146 years: forever */
    return ts->sec * NSEC_PER_SEC + ts->nsec;
}

static long do_sleep(int64_t id, uint64_t flags, uint64_t ureq, uint64_t urem)
{
    struct timespec64 req;
    if (copy_from_user(&req, (const void *)ureq, sizeof req))
        return -EFAULT;
    int64_t t = ts_to_ns(&req);
    if (t < 0)
        return t;
    int64_t now;
    clock_read(id, &now);
    int64_t deadline = (flags & TIMER_ABSTIME) ? t : (now > INT64_MAX - t ? INT64_MAX : now + t);
    int64_t left = 0;
    long rc = sleep_until(id, deadline, &left);
    if (rc == -EINTR && urem && !(flags & TIMER_ABSTIME)) {
        struct timespec64 rem = ns_to_ts(left);
        if (copy_to_user((void *)urem, &rem, sizeof rem))
            return -EFAULT;
    }
    return rc;
}

SYS(nanosleep) { UNUSED_ARGS(); return do_sleep(CLOCK_MONOTONIC, 0, a0, a1); }

SYS(clock_nanosleep)
{
    UNUSED_ARGS();
    int64_t id = (int32_t)a0, ns;
    if (clock_read(id, &ns))
        return -EINVAL;
    /* Linux: sleeping on a thread's CPU clock is EINVAL, and the coarse and raw clocks cannot be
     * slept on. The process CPU clock can: it advances no faster than MONOTONIC (one CPU), so
     * sleep_until's wake-ups come early rather than late. */
    if (id == CLOCK_THREAD_CPUTIME_ID || (id < 0 && (id & CPUCLOCK_PERTHREAD)))
        return -EINVAL;
    if (id == CLOCK_REALTIME_ALARM)
        id = CLOCK_REALTIME; /* nothing suspends, so the alarm clocks sleep like the others */
    if (id == CLOCK_BOOTTIME_ALARM)
        id = CLOCK_BOOTTIME;
    if (id != CLOCK_REALTIME && id != CLOCK_MONOTONIC && id != CLOCK_BOOTTIME && id != CLOCK_TAI &&
        id != CLOCK_PROCESS_CPUTIME_ID && id >= 0)
        return -EOPNOTSUPP;
    return do_sleep(id, a1, a2, a3);
}

/* The kernel clock's discipline, read-only: no NTP runs here (the host keeps the time). */
struct linux_timex {
    uint32_t modes;
    int32_t pad0;
    int64_t offset, freq, maxerror, esterror;
    int32_t status, pad1;
    int64_t constant, precision, tolerance;
    struct timeval64 time;
    int64_t tick, ppsfreq, jitter;
    int32_t shift, pad2;
    int64_t stabil, jitcnt, calcnt, errcnt, stbcnt;
    int32_t tai;
    int32_t pad3[11];
};
_Static_assert(sizeof(struct linux_timex) == 208, "struct timex");

#define ADJ_OFFSET_SS_READ 0xa001
#define STA_UNSYNC 0x40
#define TIME_ERROR 5 /* the state Linux reports while STA_UNSYNC is set */

static long read_timex(uint64_t utx)
{
    struct linux_timex tx;
    if (copy_from_user(&tx, (const void *)utx, sizeof tx))
        return -EFAULT;
    if (tx.modes != 0 && tx.modes != ADJ_OFFSET_SS_READ)
        return -EPERM; /* like a guest without CAP_SYS_TIME: the host owns the clock */
    memset(&tx, 0, sizeof tx);
    int64_t ns = (int64_t)clock_realtime_ns();
    tx.status = STA_UNSYNC;
    tx.maxerror = tx.esterror = 16000000; /* Linux's NTP_PHASE_LIMIT, in us */
    tx.constant = 2;
    tx.precision = 1;
    tx.tolerance = 500ll << 16; /* 500 ppm, scaled */
    tx.time = (struct timeval64){ns / NSEC_PER_SEC, ns % NSEC_PER_SEC / 1000};
    tx.tick = 1000000 / USER_HZ;
    if (copy_to_user((void *)utx, &tx, sizeof tx))
        return -EFAULT;
    return TIME_ERROR;
}

SYS(adjtimex) { UNUSED_ARGS(); return read_timex(a0); }

SYS(clock_adjtime)
{
    UNUSED_ARGS();
    int64_t ns;
    if (clock_read((int32_t)a0, &ns))
        return -EINVAL;
    if ((int32_t)a0 != CLOCK_REALTIME)
        return -EOPNOTSUPP;
    return read_timex(a1);
}

struct linux_tms {
    int64_t utime, stime, cutime, cstime; /* clock ticks (USER_HZ) */
};

SYS(times)
{
    UNUSED_ARGS();
    if (a0) {
        uint64_t user, sys;
        cputime_split(cputime_process_ns(), &user, &sys);
        struct linux_tms t = {(int64_t)(user / (NSEC_PER_SEC / USER_HZ)),
                              (int64_t)(sys / (NSEC_PER_SEC / USER_HZ)), 0, 0};
        if (copy_to_user((void *)a0, &t, sizeof t))
            return -EFAULT;
    }
    return (long)(clock_monotonic_ns() / (NSEC_PER_SEC / USER_HZ));
}

struct linux_rusage {
    struct timeval64 utime, stime;
    int64_t maxrss; /* KiB */
    int64_t ixrss, idrss, isrss, minflt, majflt, nswap, inblock, oublock, msgsnd, msgrcv,
        nsignals, nvcsw, nivcsw;
};
_Static_assert(sizeof(struct linux_rusage) == 144, "struct rusage");

static struct timeval64 ns_to_tv(uint64_t ns)
{
    return (struct timeval64){(int64_t)(ns / NSEC_PER_SEC), (int64_t)(ns % NSEC_PER_SEC / 1000)};
}

/* The most memory in use seen so far, in pages (the whole VM serves the one program). */
static uint64_t peak_pages;

SYS(getrusage)
{
    UNUSED_ARGS();
    int64_t who = (int32_t)a0; /* an int */
    if (who != RUSAGE_SELF && who != RUSAGE_CHILDREN && who != RUSAGE_THREAD)
        return -EINVAL;
    struct linux_rusage ru;
    memset(&ru, 0, sizeof ru);
    if (who != RUSAGE_CHILDREN) { /* no child processes, ever */
        uint64_t user, sys;
        uint64_t total = who == RUSAGE_THREAD ? cputime_thread_ns(current()) : cputime_process_ns();
        cputime_split(total, &user, &sys);
        ru.utime = ns_to_tv(user);
        ru.stime = ns_to_tv(sys);
        uint64_t used = palloc_total_pages() - palloc_free_pages();
        if (used > peak_pages)
            peak_pages = used;
        ru.maxrss = (int64_t)(peak_pages * (PAGE_SIZE / 1024));
        if (who == RUSAGE_SELF) {
            ru.minflt = (int64_t)kstats.faults;
            ru.nvcsw = (int64_t)kstats.switches;
        }
    }
    return copy_to_user((void *)a1, &ru, sizeof ru) ? -EFAULT : 0;
}
