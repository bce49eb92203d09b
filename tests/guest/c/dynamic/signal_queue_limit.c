/* Queued real-time signals are bounded by RLIMIT_SIGPENDING, as on Linux: a program that blocks
 * SIGRTMIN and sends it to itself without end cannot make the kernel keep a siginfo for each
 * (the kernel heap would grow until the VM has no memory left; issue 15). Past the limit,
 * kill(2) still succeeds and the signal stays pending, but only `limit` siginfos come out. */
#include <signal.h>
#include <stdio.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"

#define LIMIT 50
#define SENDS 20000

int main(void)
{
    struct rlimit old;
    CHECK("getrlimit(RLIMIT_SIGPENDING)", getrlimit(RLIMIT_SIGPENDING, &old) == 0);
    struct rlimit lim = {LIMIT, old.rlim_max}; /* the soft limit: raising it back needs no right */
    CHECK("setrlimit(RLIMIT_SIGPENDING, 50)", setrlimit(RLIMIT_SIGPENDING, &lim) == 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, NULL);
    int failures = 0;
    for (int i = 0; i < SENDS; i++)
        if (kill(getpid(), SIGRTMIN) != 0)
            failures++;
    CHECK_EQ("kill past the limit still succeeds", failures, 0);
    sigset_t pending;
    sigpending(&pending);
    CHECK("the signal is pending", sigismember(&pending, SIGRTMIN));
    struct timespec zero = {0, 0};
    siginfo_t si;
    int taken = 0, user = 1;
    while (sigtimedwait(&set, &si, &zero) == SIGRTMIN) {
        taken++;
        user &= si.si_code == SI_USER;
    }
    /* Linux counts the limit per user (other processes of the host's root may hold a few). */
    CHECK("at least one siginfo was queued", taken >= 1);
    CHECK("no more siginfos than RLIMIT_SIGPENDING", taken <= LIMIT);
    CHECK("each says kill sent it", user);
    sigpending(&pending);
    CHECK("none is left pending", !sigismember(&pending, SIGRTMIN));
    CHECK("the limit can be raised back", setrlimit(RLIMIT_SIGPENDING, &old) == 0);
    /* Under a raised limit each send queues again. */
    for (int i = 0; i < 10; i++)
        kill(getpid(), SIGRTMIN);
    taken = 0;
    while (sigtimedwait(&set, &si, &zero) == SIGRTMIN)
        taken++;
    CHECK_EQ("ten sends below the limit queue ten", taken, 10);
    return check_done();
}
