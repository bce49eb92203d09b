/* sigaltstack: a handler installed with SA_ONSTACK runs on the alternate stack (and sees
 * SS_ONSTACK), one without it runs on the normal stack, and a thread that overflows its stack into
 * the guard page is rescued by a SIGSEGV handler running on its own alternate stack. */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"

#define ALT_SIZE (64 * 1024)

static char *alt_base;
static volatile int on_alt, flags_onstack, ran, eperm_inside;

static void usr_handler(int sig)
{
    (void)sig;
    char local;
    on_alt = &local >= alt_base && &local < alt_base + ALT_SIZE;
    stack_t cur;
    sigaltstack(NULL, &cur);
    flags_onstack = cur.ss_flags == SS_ONSTACK;
    /* Changing the alternate stack while running on it is refused. */
    stack_t other = {.ss_sp = malloc(ALT_SIZE), .ss_size = ALT_SIZE, .ss_flags = 0};
    eperm_inside = sigaltstack(&other, NULL) == -1 && errno == EPERM;
    free(other.ss_sp);
    ran++;
}

static sigjmp_buf overflow_jmp;
static char *thread_alt;
static volatile int overflow_on_alt;

static void segv_handler(int sig)
{
    (void)sig;
    char local;
    overflow_on_alt = &local >= thread_alt && &local < thread_alt + ALT_SIZE;
    siglongjmp(overflow_jmp, 1);
}

static volatile int recurse_limit = 1 << 30; /* never reached: the guard page comes first */

static int recurse(int depth)
{
    volatile char frame[512];
    frame[0] = (char)depth;
    frame[511] = (char)depth;
    if (depth >= recurse_limit)
        return 0;
    return recurse(depth + 1) + frame[0] + frame[511];
}

static void *overflow_thread(void *arg)
{
    (void)arg;
    thread_alt = malloc(ALT_SIZE);
    stack_t ss = {.ss_sp = thread_alt, .ss_size = ALT_SIZE, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0)
        return (void *)1;
    if (sigsetjmp(overflow_jmp, 1) == 0) {
        recurse(0);
        return (void *)2; /* not reached */
    }
    return (void *)0;
}

int main(void)
{
    stack_t old;
    CHECK_OK("sigaltstack query", sigaltstack(NULL, &old));
    CHECK_EQ("no alternate stack at start", old.ss_flags, SS_DISABLE);

    alt_base = malloc(ALT_SIZE);
    stack_t ss = {.ss_sp = alt_base, .ss_size = ALT_SIZE, .ss_flags = 0};
    CHECK_OK("sigaltstack set", sigaltstack(&ss, NULL));
    CHECK_OK("sigaltstack query again", sigaltstack(NULL, &old));
    CHECK("query returns what was set",
          old.ss_sp == alt_base && old.ss_size == ALT_SIZE && old.ss_flags == 0);
    stack_t tiny = {.ss_sp = alt_base, .ss_size = 512, .ss_flags = 0};
    CHECK_ERRNO("a stack below MINSIGSTKSZ is ENOMEM", sigaltstack(&tiny, NULL), ENOMEM);
    stack_t badflags = {.ss_sp = alt_base, .ss_size = ALT_SIZE, .ss_flags = 0x1234};
    CHECK_ERRNO("unknown ss_flags is EINVAL", sigaltstack(&badflags, NULL), EINVAL);

    struct sigaction sa = {0};
    sa.sa_handler = usr_handler;
    sa.sa_flags = SA_ONSTACK;
    sigaction(SIGUSR1, &sa, NULL);
    raise(SIGUSR1);
    CHECK_EQ("SA_ONSTACK handler ran", ran, 1);
    CHECK("SA_ONSTACK handler ran on the alternate stack", on_alt);
    CHECK("inside it, ss_flags is SS_ONSTACK", flags_onstack);
    CHECK("inside it, changing the alternate stack is EPERM", eperm_inside);

    sa.sa_flags = 0;
    sigaction(SIGUSR2, &sa, NULL);
    raise(SIGUSR2);
    CHECK_EQ("plain handler ran", ran, 2);
    CHECK("plain handler ran on the normal stack", !on_alt);
    CHECK("inside it, ss_flags is not SS_ONSTACK", !flags_onstack);

    stack_t off = {.ss_flags = SS_DISABLE};
    CHECK_OK("sigaltstack disable", sigaltstack(&off, NULL));
    sigaltstack(NULL, &old);
    CHECK_EQ("disabled", old.ss_flags, SS_DISABLE);

    /* Stack overflow on a thread with a small stack: the guard page faults, the handler runs on
     * the thread's alternate stack and jumps out. */
    struct sigaction segv = {0};
    segv.sa_handler = segv_handler;
    segv.sa_flags = SA_ONSTACK;
    sigaction(SIGSEGV, &segv, NULL);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    pthread_t t;
    start_thread(&t, &attr, overflow_thread, NULL);
    void *ret;
    pthread_join(t, &ret);
    CHECK_EQ("stack overflow was caught and escaped", (long)ret, 0);
    CHECK("the overflow handler ran on the thread's alternate stack", overflow_on_alt);
    return check_done();
}
