/* A thread moved by sched_setaffinity onto a CPU whose thread spins in user mode (never entering
 * the kernel) must still get that CPU: the spinner's turn has to end. The kernel once queued the
 * moved thread there without arming the end of the spinner's turn, so the moved thread waited
 * until the spinner gave up (found reading the scheduler while fuzzing on 2 CPUs). Two shapes: a
 * thread moving itself (sched_setaffinity(0, ...)), and main moving another thread that is
 * running on the other CPU (it leaves at the kernel's reschedule interrupt).
 *
 * On one CPU, or on a host where the spinner's CPU cannot be told, both shapes hold trivially.
 * The spinners give up after SPIN_LIMIT_S seconds, so a broken kernel fails instead of hanging. */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "../check.h"

#define SPIN_LIMIT_S 20

static atomic_int spinner_cpu = -1, stop, gave_up;

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts); /* the vDSO: no system call */
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Spins in user mode on the CPU it starts on until `stop`, or gives up after SPIN_LIMIT_S. */
static void *spinner(void *arg)
{
    (void)arg;
    atomic_store(&spinner_cpu, sched_getcpu());
    double end = now_s() + SPIN_LIMIT_S;
    unsigned long n = 0;
    while (!atomic_load_explicit(&stop, memory_order_relaxed))
        if (++n % 4096 == 0 && now_s() > end) {
            atomic_store(&gave_up, 1);
            break;
        }
    return NULL;
}

static atomic_int mover_go, mover_tid_seen, mover_stop;
static atomic_long mover_steps;

/* Counts in user mode; main moves it onto the spinner's CPU while it runs. */
static void *mover(void *arg)
{
    (void)arg;
    atomic_store(&mover_tid_seen, gettid());
    atomic_store(&mover_go, 1);
    while (!atomic_load_explicit(&mover_stop, memory_order_relaxed))
        atomic_fetch_add_explicit(&mover_steps, 1, memory_order_relaxed);
    return NULL;
}

static void pin(pid_t tid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    sched_setaffinity(tid, sizeof set, &set);
}

static void all_cpus(pid_t tid)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    for (int c = 0; c < CPU_SETSIZE; c++)
        CPU_SET(c, &set);
    sched_setaffinity(tid, sizeof set, &set);
}

/* Starts a spinner and waits until it knows its CPU; -1 if the host does not say. */
static int start_spinner(pthread_t *t)
{
    atomic_store(&stop, 0);
    atomic_store(&gave_up, 0);
    atomic_store(&spinner_cpu, -1);
    start_thread(t, NULL, spinner, NULL);
    while (atomic_load(&spinner_cpu) == -1)
        sched_yield();
    return atomic_load(&spinner_cpu);
}

int main(void)
{
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    /* 1. Main moves itself onto the spinner's CPU, then stops the spinner. */
    pthread_t s;
    int cpu = start_spinner(&s);
    if (cpu >= 0 && ncpu > 1)
        pin(0, cpu);
    atomic_store(&stop, 1); /* runs only once main has the spinner's CPU */
    pthread_join(s, NULL);
    CHECK("a thread that moved itself onto a spinning CPU ran there", !atomic_load(&gave_up));
    all_cpus(0);

    /* 2. Main moves a running thread onto the spinner's CPU; it must go on counting there. */
    pthread_t m;
    start_thread(&m, NULL, mover, NULL);
    while (!atomic_load(&mover_go))
        sched_yield();
    cpu = start_spinner(&s);
    pid_t mover_tid = atomic_load(&mover_tid_seen);
    int moved_ok = 1;
    if (cpu >= 0 && ncpu > 1 && mover_tid) {
        pin(mover_tid, cpu);
        /* From now on the mover counts only on the spinner's CPU. */
        long before = atomic_load(&mover_steps);
        double end = now_s() + SPIN_LIMIT_S / 2;
        while (atomic_load(&mover_steps) < before + 1000000 && now_s() < end) {
            struct timespec ms = {0, 1000 * 1000};
            nanosleep(&ms, NULL);
        }
        moved_ok = atomic_load(&mover_steps) >= before + 1000000;
    }
    atomic_store(&stop, 1);
    atomic_store(&mover_stop, 1);
    pthread_join(s, NULL);
    pthread_join(m, NULL);
    CHECK("a running thread moved onto a spinning CPU went on running", moved_ok);
    CHECK("the spinner never had to give up", !atomic_load(&gave_up));
    return check_done();
}
