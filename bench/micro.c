/* Micro-benchmarks for `make bench` (lwjvm/microbench.py), run on the host and in the guest: a
 * null syscall (getppid), clock_gettime through the vDSO and through the syscall instruction, and
 * a futex ping-pong between two threads pinned to one CPU (each round trip is two switches).
 * Prints "name value" lines; each value is the best of several rounds. */
#define _GNU_SOURCE
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* Best per-iteration time of `body` over ROUNDS rounds of n iterations, in ns. */
#define BEST_NS(n, body)                                                                           \
    ({                                                                                             \
        double best_ = 1e30;                                                                       \
        for (int r_ = 0; r_ < ROUNDS; r_++) {                                                      \
            int64_t t0_ = now_ns();                                                                \
            for (long i_ = 0; i_ < (n); i_++) {                                                    \
                body;                                                                              \
            }                                                                                      \
            double per_ = (double)(now_ns() - t0_) / (double)(n);                                  \
            if (per_ < best_)                                                                      \
                best_ = per_;                                                                      \
        }                                                                                          \
        best_;                                                                                     \
    })

static atomic_int turn; /* 0: the main thread's turn, 1: the partner's */
static long pingpong_n;

static void fwait(atomic_int *w, int v) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void fwake(atomic_int *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static void *partner(void *arg)
{
    (void)arg;
    for (long i = 0; i < pingpong_n; i++) {
        while (atomic_load(&turn) != 1)
            fwait(&turn, 0);
        atomic_store(&turn, 0);
        fwake(&turn);
    }
    return NULL;
}

/* Switches per second of a futex ping-pong of n round trips. */
static double pingpong(long n)
{
    pingpong_n = n;
    atomic_store(&turn, 0);
    pthread_t t;
    pthread_create(&t, NULL, partner, NULL);
    int64_t t0 = now_ns();
    for (long i = 0; i < n; i++) {
        atomic_store(&turn, 1);
        fwake(&turn);
        while (atomic_load(&turn) != 0)
            fwait(&turn, 1);
    }
    int64_t dt = now_ns() - t0;
    pthread_join(t, NULL);
    return 2.0 * (double)n * 1e9 / (double)dt;
}

int main(int argc, char **argv)
{
    long scale = argc > 1 ? atol(argv[1]) : 1; /* fewer iterations under an emulator */
    long n = 200000 / scale;
    struct timespec ts;
    printf("getppid_ns %.1f\n", BEST_NS(n, syscall(SYS_getppid)));
    printf("clock_gettime_vdso_ns %.1f\n", BEST_NS(n, clock_gettime(CLOCK_MONOTONIC, &ts)));
    printf("clock_gettime_syscall_ns %.1f\n",
           BEST_NS(n, syscall(SYS_clock_gettime, CLOCK_MONOTONIC, &ts)));
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(sched_getcpu() < 0 ? 0 : sched_getcpu(), &one);
    sched_setaffinity(0, sizeof one, &one); /* both threads on one CPU: every wake is a switch */
    double best = 0;
    for (int r = 0; r < 3; r++) {
        double s = pingpong(n / 10);
        if (s > best)
            best = s;
    }
    printf("futex_pingpong_switches_per_s %.0f\n", best);
    return 0;
}
