/* SA_SIGINFO delivery: si_code/si_pid for kill, tgkill and pthread_kill; si_code/si_addr for
 * SIGFPE and SIGILL raised by instructions; blocking, pending and queueing; SA_RESETHAND,
 * SA_NODEFER, sa_mask; EINTR versus SA_RESTART. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "../check.h"

/* long do_div(long a, long b): a / b, or -1 when the handler skips the faulting idiv.
 * void do_ud2(void): executes ud2; the handler resumes at insn_resume. */
__asm__(".text\n"
        ".globl do_div\n"
        "do_div:\n"
        "  movq %rdi, %rax\n"
        "  cqto\n"
        "div_insn:\n"
        "  idivq %rsi\n"
        "  ret\n"
        ".globl do_ud2\n"
        "do_ud2:\n"
        "ud2_insn:\n"
        "  ud2\n"
        "  ret\n"
        "insn_resume:\n"
        "  movq $-1, %rax\n"
        "  ret\n");
long do_div(long a, long b);
void do_ud2(void);
extern char div_insn[], ud2_insn[], insn_resume[];

static siginfo_t last;
static atomic_int count[65];
static pid_t handler_tid;
static sigset_t mask_in_handler, uc_mask;

static void handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    last = *si;
    handler_tid = (pid_t)syscall(SYS_gettid);
    sigprocmask(SIG_BLOCK, NULL, &mask_in_handler);
    uc_mask = uc->uc_sigmask;
    if (sig == SIGFPE || sig == SIGILL)
        uc->uc_mcontext.gregs[REG_RIP] = (greg_t)insn_resume;
    atomic_fetch_add(&count[sig], 1); /* last: another thread may be waiting for it */
}

static void install(int sig, int flags, int also_block)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (also_block)
        sigaddset(&sa.sa_mask, also_block);
    sigaction(sig, &sa, NULL);
}

static pid_t target_tid;
static atomic_int target_ready, target_done;

static void *target_thread(void *arg)
{
    (void)arg;
    target_tid = (pid_t)syscall(SYS_gettid);
    atomic_store(&target_ready, 1);
    while (!atomic_load(&target_done))
        sched_yield();
    return NULL;
}

static int pipefd[2];
static pthread_t reader;
static atomic_int read_done;

/* Signals the reader every 20 ms until its read returns: whichever signal finds it blocked in
 * read() interrupts it (earlier ones only run the handler). */
static void *interrupt_until_done(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 20 * 1000 * 1000};
    while (!atomic_load(&read_done)) {
        nanosleep(&ts, NULL);
        if (!atomic_load(&read_done))
            pthread_kill(reader, SIGUSR1);
    }
    return NULL;
}

/* Signals the reader five times, 20 ms apart, then writes the byte it waits for. */
static void *interrupt_then_write(void *arg)
{
    struct timespec ts = {0, 20 * 1000 * 1000};
    for (int i = 0; i < 5; i++) {
        nanosleep(&ts, NULL);
        pthread_kill(reader, SIGUSR1);
    }
    nanosleep(&ts, NULL);
    write(pipefd[1], arg, 1);
    return NULL;
}

/* A blocking read of one byte from the pipe while `fn` runs on another thread. */
static long read_while(void *(*fn)(void *), char *c)
{
    pthread_t t;
    reader = pthread_self();
    atomic_store(&read_done, 0);
    start_thread(&t, NULL, fn, "x");
    long r = read(pipefd[0], c, 1);
    int e = errno;
    atomic_store(&read_done, 1);
    join_thread(t, 10);
    errno = e;
    return r;
}

int main(void)
{
    pid_t pid = getpid();
    install(SIGUSR1, 0, 0);
    install(SIGUSR2, 0, 0);

    kill(pid, SIGUSR1);
    CHECK_EQ("kill: delivered before kill returns", count[SIGUSR1], 1);
    CHECK_EQ("kill: si_signo", last.si_signo, SIGUSR1);
    CHECK_EQ("kill: si_code is SI_USER", last.si_code, SI_USER);
    CHECK_EQ("kill: si_pid is us", last.si_pid, pid);
    CHECK_EQ("kill: si_uid is us", last.si_uid, getuid());

    syscall(SYS_tgkill, pid, syscall(SYS_gettid), SIGUSR2);
    CHECK_EQ("tgkill: delivered", count[SIGUSR2], 1);
    CHECK_EQ("tgkill: si_code is SI_TKILL", last.si_code, SI_TKILL);
    CHECK_EQ("tgkill: si_pid is us", last.si_pid, pid);
    CHECK("handler ran with its own signal blocked", sigismember(&mask_in_handler, SIGUSR2));
    CHECK("uc_sigmask is the mask before the handler", !sigismember(&uc_mask, SIGUSR2));

    raise(SIGUSR1);
    CHECK_EQ("raise: si_code is SI_TKILL", last.si_code, SI_TKILL);

    pthread_t t;
    start_thread(&t, NULL, target_thread, NULL);
    while (!atomic_load(&target_ready))
        sched_yield();
    int before = count[SIGUSR2];
    pthread_kill(t, SIGUSR2);
    for (int i = 0; i < 5000 && count[SIGUSR2] == before; i++) {
        struct timespec ms = {0, 1000 * 1000};
        nanosleep(&ms, NULL);
    }
    CHECK("pthread_kill: the handler ran on the target thread", handler_tid == target_tid);
    atomic_store(&target_done, 1);
    pthread_join(t, NULL);

    /* Faults raised by instructions. */
    install(SIGFPE, 0, 0);
    install(SIGILL, 0, 0);
    CHECK_EQ("idiv by zero resumed by the handler", do_div(7, 0), -1);
    CHECK_EQ("SIGFPE: si_code is FPE_INTDIV", last.si_code, FPE_INTDIV);
    CHECK("SIGFPE: si_addr is the idiv", last.si_addr == (void *)div_insn);
    CHECK_EQ("idiv that works", do_div(42, 6), 7);
    do_ud2();
    CHECK_EQ("SIGILL: delivered", count[SIGILL], 1);
    CHECK_EQ("SIGILL: si_code is ILL_ILLOPN", last.si_code, ILL_ILLOPN);
    CHECK("SIGILL: si_addr is the ud2", last.si_addr == (void *)ud2_insn);

    /* Blocked signals stay pending; a standard signal is delivered once, real-time ones queue. */
    sigset_t set, pending, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigaddset(&set, SIGRTMIN);
    sigprocmask(SIG_BLOCK, &set, &old);
    install(SIGRTMIN, 0, 0);
    int usr1 = count[SIGUSR1];
    kill(pid, SIGUSR1);
    kill(pid, SIGUSR1);
    for (int i = 0; i < 3; i++)
        kill(pid, SIGRTMIN);
    CHECK_EQ("blocked: not delivered", count[SIGUSR1], usr1);
    sigpending(&pending);
    CHECK("blocked: SIGUSR1 pending", sigismember(&pending, SIGUSR1));
    CHECK("blocked: SIGRTMIN pending", sigismember(&pending, SIGRTMIN));
    sigprocmask(SIG_SETMASK, &old, NULL);
    CHECK_EQ("unblocked: SIGUSR1 delivered once", count[SIGUSR1], usr1 + 1);
    CHECK_EQ("unblocked: SIGRTMIN delivered three times", count[SIGRTMIN], 3);
    sigpending(&pending);
    CHECK("nothing pending afterwards", !sigismember(&pending, SIGUSR1));

    /* sa_mask and SA_NODEFER. */
    install(SIGUSR1, 0, SIGUSR2);
    raise(SIGUSR1);
    CHECK("sa_mask signals are blocked in the handler", sigismember(&mask_in_handler, SIGUSR2));
    install(SIGUSR1, SA_NODEFER, 0);
    raise(SIGUSR1);
    CHECK("SA_NODEFER: own signal not blocked in the handler",
          !sigismember(&mask_in_handler, SIGUSR1));

    /* SA_RESETHAND: the disposition goes back to SIG_DFL after one delivery. */
    install(SIGUSR2, SA_RESETHAND, 0);
    raise(SIGUSR2);
    struct sigaction cur;
    sigaction(SIGUSR2, NULL, &cur);
    CHECK("SA_RESETHAND: disposition is SIG_DFL afterwards", cur.sa_handler == SIG_DFL);

    /* Ignored and default-ignored signals do nothing. */
    signal(SIGUSR2, SIG_IGN);
    CHECK_OK("kill with an ignored signal", kill(pid, SIGUSR2));
    CHECK_OK("kill with SIGCHLD (default: ignore)", kill(pid, SIGCHLD));
    CHECK_OK("kill with signal 0 checks the process exists", kill(pid, 0));

    /* Errors. */
    CHECK_ERRNO("sigaction on SIGKILL is EINVAL", sigaction(SIGKILL, &cur, NULL), EINVAL);
    CHECK_ERRNO("kill with signal 65 is EINVAL", kill(pid, 65), EINVAL);
    CHECK_ERRNO("kill of a missing pid is ESRCH", kill(99999999, SIGUSR1), ESRCH);
    CHECK_ERRNO("tgkill of a missing tid is ESRCH", syscall(SYS_tgkill, pid, 99999999, SIGUSR1),
                ESRCH);
    CHECK_ERRNO("rt_sigprocmask with a bad how is EINVAL", sigprocmask(99, &set, NULL), EINVAL);

    /* EINTR without SA_RESTART, a restarted read with it. */
    REQUIRE(pipe(pipefd) == 0);
    char c = 0;
    install(SIGUSR1, 0, 0);
    CHECK_ERRNO("read interrupted without SA_RESTART is EINTR",
                read_while(interrupt_until_done, &c), EINTR);
    write(pipefd[1], "y", 1);
    CHECK_EQ("the pipe still reads after EINTR", read(pipefd[0], &c, 1), 1);
    CHECK_EQ("the byte read after EINTR", c, 'y');
    install(SIGUSR1, SA_RESTART, 0);
    usr1 = count[SIGUSR1];
    c = 0;
    CHECK_EQ("read with SA_RESTART restarts and gets the byte",
             read_while(interrupt_then_write, &c), 1);
    CHECK_EQ("the restarted read's byte", c, 'x');
    CHECK("the handler ran during the restarted read", count[SIGUSR1] > usr1);
    return check_done();
}
