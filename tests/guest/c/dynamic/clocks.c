/* Clocks and sleeps, printed as booleans: MONOTONIC never goes back (vDSO and syscall), REALTIME is
 * a plausible date and agrees with gettimeofday and time, the COARSE and CPU-time clocks behave,
 * resolutions are sane, and relative and absolute sleeps last at least as asked (and not absurdly
 * longer). */
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"

static int64_t ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int64_t ns_syscall(clockid_t c)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

#define MS 1000000LL
#define SLEEP_SLACK (5000 * MS) /* an emulated CPU on a loaded machine can be late, not early */
#define NEAR (1000 * MS)        /* two clocks read back to back, with a host stall between */

int main(void)
{
    int backwards = 0;
    int64_t prev = ns(CLOCK_MONOTONIC);
    for (int i = 0; i < 20000; i++) {
        int64_t now = i % 2 ? ns(CLOCK_MONOTONIC) : ns_syscall(CLOCK_MONOTONIC);
        backwards += now < prev;
        prev = now;
    }
    CHECK_EQ("MONOTONIC never goes back (vDSO and syscall mixed)", backwards, 0);

    int64_t rt = ns(CLOCK_REALTIME);
    CHECK("REALTIME is after 2024-01-01", rt / 1000000000 > 1704067200);
    CHECK("REALTIME is before 2100-01-01", rt / 1000000000 < 4102444800LL);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    int64_t gtod = (int64_t)tv.tv_sec * 1000000000 + tv.tv_usec * 1000;
    CHECK("gettimeofday agrees with REALTIME within 1 s", gtod - rt < NEAR && gtod >= rt - MS);
    CHECK("time() agrees with REALTIME within 2 s", time(NULL) - rt / 1000000000 <= 2);
    CHECK("REALTIME via syscall agrees within 1 s", ns_syscall(CLOCK_REALTIME) - rt < NEAR);

    int64_t m = ns(CLOCK_MONOTONIC), mc = ns(CLOCK_MONOTONIC_COARSE);
    CHECK("MONOTONIC_COARSE is within 1 s of MONOTONIC", mc - m < NEAR && m - mc < NEAR);
    int64_t r2 = ns(CLOCK_REALTIME), rc = ns(CLOCK_REALTIME_COARSE);
    CHECK("REALTIME_COARSE is within 1 s of REALTIME", rc - r2 < NEAR && r2 - rc < NEAR);
    CHECK("BOOTTIME >= MONOTONIC", ns(CLOCK_BOOTTIME) >= m);
    CHECK("MONOTONIC_RAW is positive", ns(CLOCK_MONOTONIC_RAW) > 0);

    struct timespec res;
    CHECK_OK("clock_getres MONOTONIC", clock_getres(CLOCK_MONOTONIC, &res));
    CHECK("MONOTONIC resolution is 1 ns to 1 ms",
          res.tv_sec == 0 && res.tv_nsec >= 1 && res.tv_nsec <= MS);
    CHECK_OK("clock_getres REALTIME", clock_getres(CLOCK_REALTIME, &res));
    CHECK("REALTIME resolution is 1 ns to 1 ms",
          res.tv_sec == 0 && res.tv_nsec >= 1 && res.tv_nsec <= MS);
    CHECK_OK("clock_getres MONOTONIC_COARSE", clock_getres(CLOCK_MONOTONIC_COARSE, &res));
    CHECK("COARSE resolution is at most 100 ms", res.tv_sec == 0 && res.tv_nsec <= 100 * MS);

    /* CPU-time clocks advance with work and not faster than the wall clock (one thread). */
    int64_t c0 = ns(CLOCK_PROCESS_CPUTIME_ID), t0 = ns(CLOCK_THREAD_CPUTIME_ID);
    int64_t w0 = ns(CLOCK_MONOTONIC);
    volatile uint64_t x = 1;
    while (ns(CLOCK_MONOTONIC) - w0 < 30 * MS)
        for (int i = 0; i < 10000; i++)
            x = x * 2862933555777941757ULL + 3037000493ULL;
    int64_t dc = ns(CLOCK_PROCESS_CPUTIME_ID) - c0, dt = ns(CLOCK_THREAD_CPUTIME_ID) - t0;
    int64_t dw = ns(CLOCK_MONOTONIC) - w0;
    CHECK("PROCESS_CPUTIME advances with work", dc > 0);
    CHECK("THREAD_CPUTIME advances with work", dt > 0);
    CHECK("THREAD_CPUTIME does not outrun the wall clock", dt <= dw + 20 * MS);

    /* Sleeps. */
    struct timespec d = {0, 20 * MS};
    int64_t s0 = ns(CLOCK_MONOTONIC);
    CHECK_OK("nanosleep 20 ms", nanosleep(&d, NULL));
    int64_t slept = ns(CLOCK_MONOTONIC) - s0;
    CHECK("sleep_ok: nanosleep lasted >= 20 ms and not absurdly long",
          slept >= 20 * MS && slept < 20 * MS + SLEEP_SLACK);
    d.tv_nsec = 10 * MS;
    s0 = ns(CLOCK_MONOTONIC);
    CHECK_EQ("clock_nanosleep relative", clock_nanosleep(CLOCK_MONOTONIC, 0, &d, NULL), 0);
    slept = ns(CLOCK_MONOTONIC) - s0;
    CHECK("sleep_ok: clock_nanosleep relative lasted >= 10 ms",
          slept >= 10 * MS && slept < 10 * MS + SLEEP_SLACK);
    int64_t deadline = ns(CLOCK_MONOTONIC) + 30 * MS;
    struct timespec abs = {deadline / 1000000000, deadline % 1000000000};
    CHECK_EQ("clock_nanosleep absolute",
             clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL), 0);
    int64_t woke = ns(CLOCK_MONOTONIC);
    CHECK("sleep_ok: woke at or after the absolute deadline",
          woke >= deadline && woke < deadline + SLEEP_SLACK);
    int64_t rdeadline = ns(CLOCK_REALTIME) + 10 * MS;
    struct timespec rabs = {rdeadline / 1000000000, rdeadline % 1000000000};
    CHECK_EQ("clock_nanosleep absolute on REALTIME",
             clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &rabs, NULL), 0);
    CHECK("woke at or after the REALTIME deadline", ns(CLOCK_REALTIME) >= rdeadline);
    struct timespec past = {1, 0};
    s0 = ns(CLOCK_MONOTONIC);
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL);
    CHECK("an absolute deadline in the past returns at once",
          ns(CLOCK_MONOTONIC) - s0 < SLEEP_SLACK);
    struct timespec zero = {0, 0};
    CHECK_OK("nanosleep 0", nanosleep(&zero, NULL));
    s0 = ns(CLOCK_MONOTONIC);
    usleep(5000);
    CHECK("usleep 5 ms lasted >= 5 ms", ns(CLOCK_MONOTONIC) - s0 >= 5 * MS);

    /* Errors. */
    struct timespec badns = {0, 1000000000};
    CHECK_ERRNO("nanosleep with tv_nsec = 1e9 is EINVAL", nanosleep(&badns, NULL), EINVAL);
    struct timespec neg = {-1, 0};
    CHECK_ERRNO("nanosleep with a negative time is EINVAL", nanosleep(&neg, NULL), EINVAL);
    struct timespec ts;
    CHECK_ERRNO("clock_gettime of an unknown clock is EINVAL",
                syscall(SYS_clock_gettime, 100, &ts), EINVAL);
    CHECK_EQ("clock_nanosleep on an unknown clock is EINVAL",
             clock_nanosleep(100, 0, &d, NULL), EINVAL);
    return check_done();
}
