/* The futex ping-pong of `make bench`'s SMP part (lwjvm/smpbench.py), run in lwjvm and in the
 * Linux guest with 2 CPUs: two threads pinned to CPUs 0 and 1 pass a turn back and forth through
 * one futex word (FUTEX_WAIT until it is their turn, FUTEX_WAKE after handing it over), so every
 * round trip is two wake-ups across CPUs. Prints "pingpong: round R round_trips_per_s X" for
 * ROUNDS rounds of N round trips each, then "pingpong: ok". Exit 2 if the threads cannot be
 * pinned to two CPUs.
 *
 * Usage: pingpong [round trips per round, default 20000] */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define ROUNDS 5

static atomic_int turn; /* 0: the main thread's turn, 1: the partner's */
static long trips;

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void fwait(atomic_int *w, int v) { syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, NULL, NULL, 0); }
static void fwake(atomic_int *w) { syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0); }

static int pin(pthread_t t, int cpu)
{
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    return pthread_setaffinity_np(t, sizeof s, &s);
}

static void *partner(void *arg)
{
    (void)arg;
    if (sched_getcpu() != 1) {
        fprintf(stderr, "pingpong: partner on CPU %d, not 1\n", sched_getcpu());
        exit(2);
    }
    for (int r = 0; r < ROUNDS; r++)
        for (long i = 0; i < trips; i++) {
            while (atomic_load(&turn) != 1)
                fwait(&turn, 0);
            atomic_store(&turn, 0);
            fwake(&turn);
        }
    return NULL;
}

int main(int argc, char **argv)
{
    trips = argc > 1 ? atol(argv[1]) : 20000;
    int err = pin(pthread_self(), 0);
    if (err) {
        fprintf(stderr, "pingpong: cannot pin to CPU 0: %s\n", strerror(err));
        return 2;
    }
    pthread_attr_t attr;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(1, &one);
    pthread_attr_init(&attr);
    pthread_attr_setaffinity_np(&attr, sizeof one, &one);
    pthread_t t;
    err = pthread_create(&t, &attr, partner, NULL);
    if (err) {
        fprintf(stderr, "pingpong: cannot start a thread on CPU 1: %s\n", strerror(err));
        return 2;
    }
    if (sched_getcpu() != 0) {
        fprintf(stderr, "pingpong: main thread on CPU %d, not 0\n", sched_getcpu());
        return 2;
    }
    for (int r = 0; r < ROUNDS; r++) {
        int64_t t0 = now_ns();
        for (long i = 0; i < trips; i++) {
            atomic_store(&turn, 1);
            fwake(&turn);
            while (atomic_load(&turn) != 0)
                fwait(&turn, 1);
        }
        double secs = (double)(now_ns() - t0) / 1e9;
        printf("pingpong: round %d round_trips_per_s %.0f\n", r + 1, (double)trips / secs);
        fflush(stdout);
    }
    pthread_join(t, NULL);
    printf("pingpong: ok\n");
    return 0;
}
