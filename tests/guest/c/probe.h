/* Probing memory without dying: probe_read/probe_write touch one byte and report whether it
 * faulted, with the signal, si_code and si_addr of the fault. Uses SIGSEGV and SIGBUS handlers and
 * siglongjmp; call probe_init() once. Single-threaded use only. */
#pragma once

#include <setjmp.h>
#include <signal.h>
#include <string.h>

struct probe_fault {
    int sig; /* 0 when the access worked */
    int code;
    void *addr;
};

static sigjmp_buf probe_jmp;
static volatile int probe_armed;
static struct probe_fault probe_last;

static void probe_handler(int sig, siginfo_t *si, void *ctx)
{
    (void)ctx;
    if (!probe_armed) {
        signal(sig, SIG_DFL); /* a real crash: let it kill the program */
        return;
    }
    probe_last.sig = sig;
    probe_last.code = si->si_code;
    probe_last.addr = si->si_addr;
    siglongjmp(probe_jmp, 1);
}

static inline void probe_init(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = probe_handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);
}

/* Reads *p; returns 0 if it worked, else the signal (details in probe_last). */
static inline int probe_read(const void *p)
{
    memset(&probe_last, 0, sizeof probe_last);
    if (sigsetjmp(probe_jmp, 1) == 0) {
        probe_armed = 1;
        (void)*(const volatile char *)p;
    }
    probe_armed = 0;
    return probe_last.sig;
}

/* Writes v to *p; returns 0 if it worked, else the signal (details in probe_last). */
static inline int probe_write(void *p, char v)
{
    memset(&probe_last, 0, sizeof probe_last);
    if (sigsetjmp(probe_jmp, 1) == 0) {
        probe_armed = 1;
        *(volatile char *)p = v;
    }
    probe_armed = 0;
    return probe_last.sig;
}
