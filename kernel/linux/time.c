/* Clock syscalls: clock_gettime/getres, gettimeofday, time, nanosleep, clock_nanosleep. The
 * monotonic clock is the TSC since boot; the real-time clock adds the host's wall time read from
 * the CMOS RTC at boot. */
#include "arch/x86_64/io.h"
#include "arch/x86_64/tsc.h"
#include "core/clock.h"
#include "errno.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_PROCESS_CPUTIME_ID 2
#define CLOCK_THREAD_CPUTIME_ID 3
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7
#define TIMER_ABSTIME 1

struct timespec64 {
    int64_t sec, nsec;
};

/* Reads clock `id` in nanoseconds; -EINVAL for a clock we do not have. */
static int64_t clock_read(uint64_t id)
{
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        return (int64_t)clock_realtime_ns();
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
    /* One process, one CPU, no other work: its CPU time is the time since boot. */
    case CLOCK_PROCESS_CPUTIME_ID:
    case CLOCK_THREAD_CPUTIME_ID:
        return (int64_t)tsc_ns_since_boot();
    default:
        return -EINVAL;
    }
}

SYS(clock_gettime)
{
    UNUSED_ARGS();
    int64_t ns = clock_read(a0);
    if (ns < 0)
        return ns;
    struct timespec64 ts = {ns / 1000000000, ns % 1000000000};
    return copy_to_user((void *)a1, &ts, sizeof ts) ? -EFAULT : 0;
}

SYS(clock_getres)
{
    UNUSED_ARGS();
    if (clock_read(a0) < 0)
        return -EINVAL;
    struct timespec64 ts = {0, (a0 == CLOCK_REALTIME_COARSE || a0 == CLOCK_MONOTONIC_COARSE) ? 4000000 : 1};
    if (a1 && copy_to_user((void *)a1, &ts, sizeof ts))
        return -EFAULT;
    return 0;
}

SYS(gettimeofday)
{
    UNUSED_ARGS();
    if (a0) {
        uint64_t ns = clock_realtime_ns();
        int64_t tv[2] = {(int64_t)(ns / 1000000000), (int64_t)(ns % 1000000000 / 1000)};
        if (copy_to_user((void *)a0, tv, sizeof tv))
            return -EFAULT;
    }
    if (a1) {
        int32_t tz[2] = {0, 0};
        if (copy_to_user((void *)a1, tz, sizeof tz))
            return -EFAULT;
    }
    return 0;
}

SYS(time)
{
    UNUSED_ARGS();
    int64_t t = (int64_t)(clock_realtime_ns() / 1000000000);
    if (a0 && copy_to_user((void *)a0, &t, sizeof t))
        return -EFAULT;
    return t;
}

/* Waits until clock `id` reaches `deadline` ns. With a single thread there is nothing else to
 * run, so the CPU pauses in a loop (the scheduler's timed waits replace this). */
static void wait_until(uint64_t id, int64_t deadline)
{
    while (clock_read(id) < deadline)
        __asm__ volatile("pause");
}

static long do_sleep(uint64_t id, uint64_t flags, uint64_t ureq)
{
    struct timespec64 req;
    if (copy_from_user(&req, (const void *)ureq, sizeof req))
        return -EFAULT;
    if (req.sec < 0 || req.nsec < 0 || req.nsec >= 1000000000)
        return -EINVAL;
    int64_t now = clock_read(id);
    if (now < 0 || id == CLOCK_THREAD_CPUTIME_ID)
        return -EINVAL;
    int64_t t = req.sec * 1000000000 + req.nsec;
    wait_until(id, (flags & TIMER_ABSTIME) ? t : now + t);
    return 0;
}

SYS(nanosleep) { UNUSED_ARGS(); return do_sleep(CLOCK_MONOTONIC, 0, a0); }
SYS(clock_nanosleep) { UNUSED_ARGS(); return do_sleep(a0, a1, a2); }
