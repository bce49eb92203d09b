/* Waiting for blocked signals synchronously: sigtimedwait times out with EAGAIN, takes a signal
 * already pending, and wakes for one another thread sends while it waits; a signal outside the set
 * interrupts the wait with EINTR after its handler ran, and pause returns when one does. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"

static volatile sig_atomic_t handled;

static void on_alarm(int sig)
{
    (void)sig;
    handled = 1;
}

static void *send_later(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 50 * 1000 * 1000};
    nanosleep(&ts, NULL);
    kill(getpid(), SIGUSR1);
    return NULL;
}

int main(void)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGUSR2);
    REQUIRE(pthread_sigmask(SIG_BLOCK, &set, NULL) == 0);

    struct timespec short_wait = {0, 20 * 1000 * 1000};
    CHECK_ERRNO("nothing pending: sigtimedwait times out with EAGAIN",
                sigtimedwait(&set, NULL, &short_wait), EAGAIN);

    raise(SIGUSR2);
    siginfo_t si;
    CHECK_EQ("a pending signal is taken at once", sigtimedwait(&set, &si, &short_wait), SIGUSR2);
    CHECK_EQ("its siginfo names it", si.si_signo, SIGUSR2);
    sigset_t pending;
    sigpending(&pending);
    CHECK("and it is no longer pending", !sigismember(&pending, SIGUSR2));

    pthread_t t;
    start_thread(&t, NULL, send_later, NULL);
    CHECK_EQ("sigwaitinfo wakes for a signal sent while it waits", sigwaitinfo(&set, &si), SIGUSR1);
    CHECK_EQ("sent by kill: SI_USER", si.si_code, SI_USER);
    join_thread(t, 10);

    struct sigaction sa = {0};
    sa.sa_handler = on_alarm;
    sigaction(SIGALRM, &sa, NULL);
    alarm(1);
    struct timespec long_wait = {5, 0};
    CHECK_ERRNO("a signal outside the set interrupts the wait",
                sigtimedwait(&set, NULL, &long_wait), EINTR);
    CHECK("after its handler ran", handled == 1);

    /* pause(2) returns -1 EINTR once a handler ran (glibc calls the pause system call). */
    handled = 0;
    alarm(1);
    CHECK_ERRNO("pause waits until a signal's handler ran", pause(), EINTR);
    CHECK("its handler ran", handled == 1);

    sigset_t bad;
    sigemptyset(&bad);
    CHECK_ERRNO("a wrong sigset size is EINVAL",
                syscall(SYS_rt_sigtimedwait, &bad, NULL, &short_wait, 4), EINVAL);
    return check_done();
}
