/* A thread that spins without ever entering the kernel must not starve the others: only a
 * preemptive scheduler (timer interrupts) lets this program finish. Two shapes: a spinning worker
 * while other workers sleep and compute, and a spinning main thread waiting for a sleeping worker.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "../check.h"

#define WORKERS 4

static atomic_int spinner_started, stop_spinning, workers_done;
static atomic_long spins; /* the spinner's work: how much it got is not printed (it varies) */

static void *spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinner_started, 1);
    while (!atomic_load_explicit(&stop_spinning, memory_order_relaxed))
        atomic_fetch_add_explicit(&spins, 1, memory_order_relaxed);
    return NULL;
}

static void *worker(void *arg)
{
    (void)arg;
    volatile unsigned long x = 1;
    for (int round = 0; round < 5; round++) {
        struct timespec ts = {0, 2 * 1000 * 1000};
        nanosleep(&ts, NULL);
        for (int i = 0; i < 20000; i++)
            x = x * 6364136223846793005UL + 1442695040888963407UL;
    }
    atomic_fetch_add(&workers_done, 1);
    return NULL;
}

static atomic_int main_spinning, flag_from_worker;

/* Waits (sleeping) until main spins, sleeps 20 ms more, then releases main. */
static void *late_setter(void *arg)
{
    (void)arg;
    struct timespec ms = {0, 1000 * 1000}, ts = {0, 20 * 1000 * 1000};
    while (!atomic_load(&main_spinning))
        nanosleep(&ms, NULL);
    nanosleep(&ts, NULL);
    atomic_store(&flag_from_worker, 1);
    return NULL;
}

int main(void)
{
    pthread_t s, w[WORKERS];
    start_thread(&s, NULL, spinner, NULL);
    while (!atomic_load(&spinner_started))
        sched_yield();
    for (int i = 0; i < WORKERS; i++)
        start_thread(&w[i], NULL, worker, NULL);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(w[i], NULL);
    CHECK_EQ("workers finished while a thread spins", atomic_load(&workers_done), WORKERS);
    atomic_store(&stop_spinning, 1);
    pthread_join(s, NULL);
    CHECK("the spinner saw the stop flag and ended", atomic_load(&spinner_started));

    /* Now main spins (no system calls) until a worker, woken by its sleep, sets the flag. */
    pthread_t l;
    start_thread(&l, NULL, late_setter, NULL);
    atomic_store(&main_spinning, 1);
    while (!atomic_load_explicit(&flag_from_worker, memory_order_relaxed))
        ;
    pthread_join(l, NULL);
    CHECK("a sleeping thread woke while main spun", atomic_load(&flag_from_worker));
    return check_done();
}
