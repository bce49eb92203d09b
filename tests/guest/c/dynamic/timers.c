/* Timers that signal: alarm and setitimer (ITIMER_REAL: SIGALRM while the program computes, one-shot
 * and periodic, remaining time; ITIMER_PROF and ITIMER_VIRTUAL count CPU time, not sleep), POSIX
 * timers (also on the thread CPU clock) (SIGEV_SIGNAL with si_code SI_TIMER and the
 * sigev_value, absolute deadlines, timer_gettime, overruns counted while the signal is blocked,
 * SIGEV_THREAD_ID aimed at one thread, timer_delete) and a sleep cut short by SIGALRM. Output is
 * booleans: the host is the oracle. */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"

#define MS 1000000LL

static int64_t mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static volatile int alarms, profs, vtalrms, rt_hits, rt_code, rt_value, thread_hit_tid;

static void on_alarm(int sig) { (void)sig; alarms++; }
static void on_prof(int sig) { (void)sig; profs++; }
static void on_vtalrm(int sig) { (void)sig; vtalrms++; }

static int64_t cpu(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void on_rt(int sig, siginfo_t *si, void *ctx)
{
    (void)sig, (void)ctx;
    rt_code = si->si_code;
    rt_value = si->si_value.sival_int;
    thread_hit_tid = (int)syscall(SYS_gettid);
    /* Counted last: the main thread, spinning on the count on another CPU, reads the rest once it
     * moves (it read thread_hit_tid before the handler had stored it, on a loaded host). */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    rt_hits++;
}

/* Spins until *flag reaches want or `limit` ns pass; returns the time it took. */
static int64_t spin_until(volatile int *flag, int want, int64_t limit)
{
    int64_t t0 = mono();
    while (*flag < want && mono() - t0 < limit)
        ;
    return mono() - t0;
}

static volatile int worker_stop, worker_tid;
static void *worker(void *arg)
{
    (void)arg;
    worker_tid = (int)syscall(SYS_gettid);
    while (!worker_stop)
        ;
    return NULL;
}

int main(void)
{
    signal(SIGALRM, on_alarm);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_rt;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGRTMIN, &sa, NULL);

    /* ITIMER_REAL, one-shot, while the program computes. */
    struct itimerval it = {{0, 0}, {0, 50000}};
    int64_t set_at = mono();
    CHECK_OK("setitimer_50ms", setitimer(ITIMER_REAL, &it, NULL));
    struct itimerval cur;
    CHECK_OK("getitimer", getitimer(ITIMER_REAL, &cur));
    CHECK("getitimer_counts_down", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec > 0 &&
                                       cur.it_value.tv_usec <= 50000);
    spin_until(&alarms, 1, 5000 * MS);
    int64_t took = mono() - set_at;
    CHECK("sigalrm_while_computing", alarms == 1);
    CHECK("sigalrm_not_early", took >= 50 * MS);
    getitimer(ITIMER_REAL, &cur);
    CHECK("one_shot_disarmed", cur.it_value.tv_sec == 0 && cur.it_value.tv_usec == 0);

    /* Periodic. */
    alarms = 0;
    struct itimerval per = {{0, 20000}, {0, 20000}};
    int64_t t0 = mono();
    setitimer(ITIMER_REAL, &per, NULL);
    spin_until(&alarms, 4, 5000 * MS);
    int64_t dt = mono() - t0;
    struct itimerval off = {{0, 0}, {0, 0}}, old;
    setitimer(ITIMER_REAL, &off, &old);
    CHECK("periodic_fires_4_times", alarms >= 4);
    CHECK("periodic_not_early", dt >= 75 * MS);
    CHECK("old_value_has_interval", old.it_interval.tv_usec == 20000);

    /* alarm returns what was left. */
    alarm(10);
    CHECK_EQ("alarm_returns_remaining", alarm(0), 10);
    CHECK_EQ("alarm_none_left", alarm(0), 0);

    /* A sleep cut short by SIGALRM. */
    struct itimerval soon = {{0, 0}, {0, 30000}};
    setitimer(ITIMER_REAL, &soon, NULL);
    struct timespec longsleep = {5, 0}, rem = {0, 0};
    CHECK_ERRNO("nanosleep_interrupted_by_alarm", nanosleep(&longsleep, &rem), EINTR);
    CHECK("remaining_reported", rem.tv_sec >= 3 && rem.tv_sec <= 5);

    /* POSIX timer, SIGEV_SIGNAL. */
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN;
    ev.sigev_value.sival_int = 42;
    timer_t tm;
    CHECK_OK("timer_create", timer_create(CLOCK_MONOTONIC, &ev, &tm));
    struct itimerspec its, cur_its;
    CHECK_OK("timer_gettime_disarmed", timer_gettime(tm, &cur_its));
    CHECK("disarmed_reads_zero", cur_its.it_value.tv_sec == 0 && cur_its.it_value.tv_nsec == 0);
    memset(&its, 0, sizeof its);
    int64_t deadline = mono() + 30 * MS;
    its.it_value.tv_sec = deadline / 1000000000;
    its.it_value.tv_nsec = deadline % 1000000000;
    CHECK_OK("timer_settime_abstime", timer_settime(tm, TIMER_ABSTIME, &its, NULL));
    timer_gettime(tm, &cur_its);
    CHECK("armed_reads_remaining", cur_its.it_value.tv_sec == 0 && cur_its.it_value.tv_nsec > 0 &&
                                       cur_its.it_value.tv_nsec <= 30 * MS);
    spin_until(&rt_hits, 1, 5000 * MS);
    CHECK("posix_timer_fired", rt_hits == 1);
    CHECK("fired_at_or_after_deadline", mono() >= deadline);
    CHECK_EQ("si_code_is_si_timer", rt_code, SI_TIMER);
    CHECK_EQ("si_value_is_sigev_value", rt_value, 42);

    /* Overruns while the signal is blocked. The timer is re-armed only when its signal is
     * delivered (on unblock), so no second signal comes before the disarm below as long as that
     * takes less than a period: 20 ms leaves room for a loaded host running the guest under TCG. */
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    rt_hits = 0;
    memset(&its, 0, sizeof its);
    its.it_value.tv_nsec = 20 * MS;
    its.it_interval.tv_nsec = 20 * MS;
    timer_settime(tm, 0, &its, NULL);
    int64_t b0 = mono();
    while (mono() - b0 < 200 * MS)
        ;
    sigprocmask(SIG_UNBLOCK, &rt, NULL); /* the pending signal is delivered before this returns */
    int overruns = timer_getoverrun(tm), hits = rt_hits;
    memset(&its, 0, sizeof its);
    timer_settime(tm, 0, &its, NULL);
    CHECK_EQ("blocked_timer_signal_delivered_once", hits, 1);
    CHECK("overrun_counted", overruns >= 5);

    /* SIGEV_THREAD_ID: the signal goes to that thread. */
    pthread_t w;
    pthread_create(&w, NULL, worker, NULL);
    while (!worker_tid)
        ;
    sigprocmask(SIG_BLOCK, &rt, NULL); /* the main thread refuses it, so only the target can take it */
    timer_t tt;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGRTMIN;
    ev._sigev_un._tid = worker_tid;
    CHECK_OK("timer_create_thread_id", timer_create(CLOCK_MONOTONIC, &ev, &tt));
    rt_hits = 0;
    thread_hit_tid = 0;
    memset(&its, 0, sizeof its);
    its.it_value.tv_nsec = 20 * MS;
    timer_settime(tt, 0, &its, NULL);
    spin_until(&rt_hits, 1, 5000 * MS);
    CHECK("thread_timer_fired", rt_hits == 1);
    CHECK("thread_timer_hit_its_thread", thread_hit_tid == worker_tid);
    worker_stop = 1;
    pthread_join(w, NULL);
    sigprocmask(SIG_UNBLOCK, &rt, NULL);

    /* CPU-time timers: they count running, not sleeping. */
    signal(SIGPROF, on_prof);
    signal(SIGVTALRM, on_vtalrm);
    struct itimerval prof = {{0, 0}, {0, 50000}};
    CHECK_OK("setitimer_prof", setitimer(ITIMER_PROF, &prof, NULL));
    struct timespec nap = {0, 200 * MS};
    CHECK_OK("prof_quiet_while_sleeping", nanosleep(&nap, NULL));
    CHECK_EQ("no_sigprof_during_sleep", profs, 0);
    int64_t c0 = cpu(CLOCK_PROCESS_CPUTIME_ID);
    spin_until(&profs, 1, 5000 * MS);
    CHECK("sigprof_after_cpu_time", profs == 1 && cpu(CLOCK_PROCESS_CPUTIME_ID) - c0 >= 5 * MS);
    struct itimerval prof_per = {{0, 10000}, {0, 10000}};
    profs = 0;
    setitimer(ITIMER_PROF, &prof_per, NULL);
    spin_until(&profs, 5, 5000 * MS);
    setitimer(ITIMER_PROF, &off, NULL);
    CHECK("periodic_sigprof", profs >= 5);
    struct itimerval vt = {{0, 0}, {0, 30000}};
    CHECK_OK("setitimer_virtual", setitimer(ITIMER_VIRTUAL, &vt, NULL));
    spin_until(&vtalrms, 1, 5000 * MS);
    CHECK_EQ("sigvtalrm", vtalrms, 1);
    timer_t ct;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGRTMIN;
    ev.sigev_value.sival_int = 7;
    CHECK_OK("timer_create_thread_cputime", timer_create(CLOCK_THREAD_CPUTIME_ID, &ev, &ct));
    rt_hits = 0;
    memset(&its, 0, sizeof its);
    its.it_value.tv_nsec = 20 * MS;
    int64_t tc0 = cpu(CLOCK_THREAD_CPUTIME_ID);
    timer_settime(ct, 0, &its, NULL);
    spin_until(&rt_hits, 1, 5000 * MS);
    CHECK("cputime_timer_fired", rt_hits == 1 && rt_value == 7);
    CHECK("cputime_timer_after_20ms_cpu", cpu(CLOCK_THREAD_CPUTIME_ID) - tc0 >= 20 * MS);
    timer_delete(ct);

    CHECK_OK("timer_delete", timer_delete(tt));
    CHECK_OK("timer_delete_2", timer_delete(tm));
    CHECK_ERRNO("timer_gettime_deleted", syscall(SYS_timer_gettime, 0x7000, &cur_its), EINVAL);
    CHECK_ERRNO("timer_create_bad_clock", timer_create(100, NULL, &tm), EINVAL);
    return check_done();
}
