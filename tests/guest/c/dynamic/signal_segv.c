/* SIGSEGV as control flow, the way the JVM uses it: a handler that fixes the protection and returns
 * (the access is retried), and a handler that rewrites RIP and RAX in the ucontext so the thread
 * resumes elsewhere (implicit null checks). Thousands of times, on the main thread and another. */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#include "../check.h"

#define PROTECT_ROUNDS 2000
#define PROBE_ROUNDS 3000

/* long probe_load(const long *p): returns *p. A fault at probe_load_insn is resumed by the handler
 * at probe_resume with RAX set to the fault marker. probe_store(long *p, long v) likewise. */
__asm__(".text\n"
        ".globl probe_load\n"
        "probe_load:\n"
        "probe_load_insn:\n"
        "  movq (%rdi), %rax\n"
        "  ret\n"
        ".globl probe_store\n"
        "probe_store:\n"
        "  xorl %eax, %eax\n"
        "probe_store_insn:\n"
        "  movq %rsi, (%rdi)\n"
        "  ret\n"
        "probe_resume:\n"
        "  ret\n");
long probe_load(const long *p);
long probe_store(long *p, long v);
extern char probe_load_insn[], probe_store_insn[], probe_resume[];

#define FAULT_MARKER 0x5eb5eb5eL

static char *prot_page;
static atomic_int protect_faults, probe_faults, bad_info;
static void *expected_addr;
static int expected_code;

static void handler(int sig, siginfo_t *si, void *ctx)
{
    ucontext_t *uc = ctx;
    greg_t *rip = &uc->uc_mcontext.gregs[REG_RIP];
    if (sig != SIGSEGV)
        atomic_fetch_add(&bad_info, 1);
    if (*rip == (greg_t)probe_load_insn || *rip == (greg_t)probe_store_insn) {
        if (si->si_addr != expected_addr || si->si_code != expected_code)
            atomic_fetch_add(&bad_info, 1);
        atomic_fetch_add(&probe_faults, 1);
        uc->uc_mcontext.gregs[REG_RAX] = FAULT_MARKER;
        *rip = (greg_t)probe_resume;
        return;
    }
    /* Otherwise it must be the protection round: make the page writable and retry. */
    char *a = si->si_addr;
    if (a < prot_page || a >= prot_page + 4096 || si->si_code != SEGV_ACCERR) {
        static const char msg[] = "unexpected SIGSEGV\n";
        write(1, msg, sizeof msg - 1);
        _exit(3);
    }
    atomic_fetch_add(&protect_faults, 1);
    mprotect(prot_page, 4096, PROT_READ | PROT_WRITE);
}

/* Runs the probe rounds; returns the number of rounds whose result was wrong. */
static int probe_rounds(long *readable, long *readonly)
{
    int wrong = 0;
    for (int i = 0; i < PROBE_ROUNDS; i++) {
        switch (i % 4) {
        case 0: /* implicit null check: a load at a small offset from NULL */
            expected_addr = (void *)(uintptr_t)(8 * (i % 512));
            expected_code = SEGV_MAPERR;
            wrong += probe_load(expected_addr) != FAULT_MARKER;
            break;
        case 1: /* a load that works */
            wrong += probe_load(readable) != 1234;
            break;
        case 2: /* a store into a read-only page */
            expected_addr = readonly + (i % 512);
            expected_code = SEGV_ACCERR;
            wrong += probe_store(expected_addr, i) != FAULT_MARKER;
            break;
        case 3: /* a store that works */
            wrong += probe_store(readable, 1234) != 0;
            break;
        }
    }
    return wrong;
}

static long *g_readable, *g_readonly;
static int thread_wrong;

static void *probe_thread(void *arg)
{
    (void)arg;
    thread_wrong = probe_rounds(g_readable, g_readonly);
    return NULL;
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGSEGV, &sa, NULL) == 0);

    /* 1. mprotect recovery: the store faults, the handler opens the page, the store is retried. */
    prot_page = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(prot_page != MAP_FAILED);
    int lost = 0;
    for (int i = 0; i < PROTECT_ROUNDS; i++) {
        mprotect(prot_page, 4096, i % 2 ? PROT_READ : PROT_NONE);
        volatile int *slot = (volatile int *)(prot_page + (i * 64) % 4096);
        *slot = i;
        lost += *slot != i;
    }
    CHECK_EQ("mprotect recovery: faults taken", atomic_load(&protect_faults), PROTECT_ROUNDS);
    CHECK_EQ("mprotect recovery: every retried store landed", lost, 0);

    /* 2. RIP rewrite, on the main thread. */
    static long readable_slot = 1234;
    long *ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(ro != MAP_FAILED);
    g_readable = &readable_slot;
    g_readonly = ro;
    CHECK_EQ("RIP rewrite: wrong results on main thread", probe_rounds(&readable_slot, ro), 0);
    CHECK_EQ("RIP rewrite: faults taken on main thread", atomic_load(&probe_faults),
             PROBE_ROUNDS / 2);

    /* 3. The same on another thread (the handler is process-wide). */
    atomic_store(&probe_faults, 0);
    pthread_t t;
    start_thread(&t, NULL, probe_thread, NULL);
    pthread_join(t, NULL);
    CHECK_EQ("RIP rewrite: wrong results on a second thread", thread_wrong, 0);
    CHECK_EQ("RIP rewrite: faults taken on a second thread", atomic_load(&probe_faults),
             PROBE_ROUNDS / 2);
    CHECK_EQ("si_addr and si_code were right every time", atomic_load(&bad_info), 0);

    /* After all that, SIGSEGV is not left blocked. */
    sigset_t cur;
    sigprocmask(SIG_BLOCK, NULL, &cur);
    CHECK("SIGSEGV is not blocked after the handlers returned", !sigismember(&cur, SIGSEGV));
    return check_done();
}
