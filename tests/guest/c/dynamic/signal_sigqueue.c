/* rt_sigqueueinfo and rt_tgsigqueueinfo (sigqueue(3), pthread_sigqueue(3)): a signal sent with
 * the program's own siginfo arrives with that siginfo (code, value, pid, uid and errno as given);
 * a program may not make a signal look as if the kernel, kill() or tgkill() sent it (si_code >= 0
 * or SI_TKILL) to anyone but the calling thread itself (EPERM); a code whose layout the kernel
 * does not know must come with the rest of the 128 bytes zero (E2BIG); unknown pids, tids and
 * signals, bad pointers; past RLIMIT_SIGPENDING a queued real-time signal is EAGAIN, not lost. */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../check.h"

static volatile sig_atomic_t got_sig, got_code, got_errno, got_pid, got_uid, got_int;

static void handler(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    got_sig = sig;
    got_code = si->si_code;
    got_errno = si->si_errno;
    got_pid = si->si_pid;
    got_uid = (sig_atomic_t)si->si_uid;
    got_int = si->si_value.sival_int;
}

static long sq(pid_t pid, int sig, siginfo_t *si)
{
    return syscall(SYS_rt_sigqueueinfo, pid, sig, si);
}

static long tsq(pid_t tgid, pid_t tid, int sig, siginfo_t *si)
{
    return syscall(SYS_rt_tgsigqueueinfo, tgid, tid, sig, si);
}

static siginfo_t info(int code, int value)
{
    siginfo_t si;
    memset(&si, 0, sizeof si);
    si.si_code = code;
    si.si_pid = 4242; /* the sender says who it is: the kernel keeps what it is told */
    si.si_uid = 77;
    si.si_errno = 5;
    si.si_value.sival_int = value;
    return si;
}

static pthread_t other;
static pid_t other_tid;
static int other_go;
static void *other_thread(void *arg)
{
    (void)arg;
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL); /* the process's signals all go to main */
    __atomic_store_n(&other_tid, gettid(), __ATOMIC_RELEASE);
    while (!__atomic_load_n(&other_go, __ATOMIC_ACQUIRE))
        usleep(1000);
    return NULL;
}

/* The result of a call as one word: "0" or the errno's name. */
static const char *res(long rc) { return rc == 0 ? "0" : errno_name(errno); }

int main(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigaction(SIGUSR1, &sa, NULL);
    sigaction(SIGRTMIN, &sa, NULL);
    pid_t me = getpid();

    /* sigqueue(3) itself: SI_QUEUE with a value. */
    union sigval v = {.sival_int = 1234};
    CHECK("sigqueue to self", sigqueue(me, SIGUSR1, v) == 0);
    CHECK("the handler ran", got_sig == SIGUSR1);
    CHECK("si_code is SI_QUEUE", got_code == SI_QUEUE);
    CHECK("si_value arrives", got_int == 1234);
    CHECK("si_pid is the sender's", got_pid == me);

    /* The raw call: the siginfo as given, si_signo from the argument. */
    siginfo_t si = info(SI_QUEUE, 99);
    si.si_signo = SIGUSR2; /* ignored: the argument wins */
    got_sig = 0;
    CHECK("rt_sigqueueinfo SI_QUEUE", sq(me, SIGRTMIN, &si) == 0);
    CHECK("delivered as the argument's signal", got_sig == SIGRTMIN);
    CHECK("code, value, pid, uid and errno as given",
          got_code == SI_QUEUE && got_int == 99 && got_pid == 4242 && got_uid == 77 &&
              got_errno == 5);
    si = info(-42, 7); /* a negative code of no known layout, rest zero */
    CHECK("a code of unknown layout, rest zero", sq(me, SIGUSR1, &si) == 0 && got_code == -42);
    si = info(-42, 7);
    ((char *)&si)[100] = 1;
    printf("unknown layout, bytes past 48: %s\n", res(sq(me, SIGUSR1, &si)));
    si = info(SI_QUEUE, 7);
    ((char *)&si)[100] = 1;
    printf("SI_QUEUE, bytes past 48: %s\n", res(sq(me, SIGUSR1, &si)));

    /* Forging: the main thread's tid is the pid, so to itself it may. */
    int codes[] = {SI_USER, SI_KERNEL, SI_TKILL, 1 /* a fault code */};
    const char *names[] = {"SI_USER", "SI_KERNEL", "SI_TKILL", "code 1"};
    for (int i = 0; i < 4; i++) {
        si = info(codes[i], 0);
        got_code = 12345;
        long rc = sq(me, SIGUSR1, &si);
        printf("main thread, %s to its own pid: %s, arrives as %s\n", names[i], res(rc),
               got_code == codes[i] ? "given" : "something else");
    }
    pthread_create(&other, NULL, other_thread, NULL);
    while (!__atomic_load_n(&other_tid, __ATOMIC_ACQUIRE))
        usleep(1000);
    for (int i = 0; i < 4; i++) {
        si = info(codes[i], 0);
        printf("main thread, %s to the other thread: %s\n", names[i],
               res(tsq(me, other_tid, SIGUSR1, &si)));
    }
    si = info(SI_QUEUE, 0);
    printf("signal 0 with SI_QUEUE to the other thread: %s\n", res(tsq(me, other_tid, 0, &si)));
    si = info(SI_USER, 0);
    printf("SI_USER to itself by tid: %s\n", res(tsq(me, gettid(), SIGUSR1, &si)));

    /* Errors, in Linux's order. */
    si = info(SI_QUEUE, 0);
    printf("pid 0: %s\n", res(sq(0, SIGUSR1, &si)));
    printf("pid -1: %s\n", res(sq(-1, SIGUSR1, &si)));
    printf("pid 999999: %s\n", res(sq(999999, SIGUSR1, &si)));
    printf("signal 65: %s\n", res(sq(me, 65, &si)));
    printf("signal -1: %s\n", res(sq(me, -1, &si)));
    printf("signal 0 (a probe): %s\n", res(sq(me, 0, &si)));
    printf("NULL siginfo: %s\n", res(sq(me, SIGUSR1, NULL)));
    printf("unmapped siginfo: %s\n", res(sq(me, SIGUSR1, (siginfo_t *)16)));
    si = info(SI_USER, 0);
    printf("SI_USER to pid 999999: %s\n", res(sq(999999, SIGUSR1, &si)));
    si = info(SI_QUEUE, 0);
    printf("tgsigqueue tid 0: %s\n", res(tsq(me, 0, SIGUSR1, &si)));
    printf("tgsigqueue tgid 0: %s\n", res(tsq(0, gettid(), SIGUSR1, &si)));
    printf("tgsigqueue tgid -1: %s\n", res(tsq(-1, gettid(), SIGUSR1, &si)));
    printf("tgsigqueue tid 999999: %s\n", res(tsq(me, 999999, SIGUSR1, &si)));
    printf("tgsigqueue another tgid: %s\n", res(tsq(me + 100000, gettid(), SIGUSR1, &si)));
    printf("tgsigqueue signal 65: %s\n", res(tsq(me, gettid(), 65, &si)));
    printf("tgsigqueue NULL siginfo: %s\n", res(tsq(me, gettid(), SIGUSR1, NULL)));

    /* A blocked real-time signal queued past RLIMIT_SIGPENDING: EAGAIN (kill would lose the
     * siginfo instead). */
    struct rlimit old, lim;
    getrlimit(RLIMIT_SIGPENDING, &old);
    lim.rlim_cur = 20;
    lim.rlim_max = old.rlim_max;
    setrlimit(RLIMIT_SIGPENDING, &lim);
    sigset_t rt;
    sigemptyset(&rt);
    sigaddset(&rt, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &rt, NULL);
    int sent = 0, err = 0;
    for (int i = 0; i < 1000 && !err; i++) {
        si = info(SI_QUEUE, i);
        if (sq(me, SIGRTMIN, &si) == 0)
            sent++;
        else
            err = errno;
    }
    printf("past RLIMIT_SIGPENDING: %s\n", errno_name(err));
    CHECK("some were queued before it", sent >= 1 && sent <= 20);
    struct timespec zero = {0, 0};
    int taken = 0, in_order = 1;
    while (sigtimedwait(&rt, &si, &zero) == SIGRTMIN) {
        in_order &= si.si_value.sival_int == taken && si.si_code == SI_QUEUE;
        taken++;
    }
    CHECK("each queued one comes out, in order, with its value", taken == sent && in_order);
    setrlimit(RLIMIT_SIGPENDING, &old);
    __atomic_store_n(&other_go, 1, __ATOMIC_RELEASE);
    pthread_join(other, NULL);
    return check_done();
}
