/* Regression (found by sysfuzz): a signal handler that sets the saved RIP outside the user half
 * (non-canonical 0x800000000000) and returns. Linux delivers SIGSEGV with si_code SI_KERNEL; our
 * kernel used to IRET to it and take a general-protection fault in ring 0 (a kernel panic). The
 * last page of the lower half is not mappable either (Linux's TASK_SIZE), so no syscall there can
 * leave the same RIP. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <ucontext.h>

#include "../check.h"

static sigjmp_buf back;
static volatile int segv_code = -1;
static volatile uintptr_t segv_addr = 1;

static void on_usr1(int sig, siginfo_t *si, void *ucv)
{
    (void)sig, (void)si;
    ucontext_t *uc = ucv;
    uc->uc_mcontext.gregs[REG_RIP] = (greg_t)0x0000800000000000ULL;
}

static void on_segv(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)uc;
    segv_code = si->si_code;
    segv_addr = (uintptr_t)si->si_addr;
    siglongjmp(back, 1);
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_flags = SA_SIGINFO;
    sa.sa_sigaction = on_usr1;
    sigaction(SIGUSR1, &sa, NULL);
    sa.sa_sigaction = on_segv;
    sigaction(SIGSEGV, &sa, NULL);
    if (sigsetjmp(back, 1) == 0) {
        raise(SIGUSR1);
        printf("returned to a non-canonical RIP: FAIL\n");
        return 1;
    }
    CHECK("returning to a non-canonical RIP is SIGSEGV", segv_code >= 0);
    CHECK("its si_code is SI_KERNEL", segv_code == SI_KERNEL);
    CHECK("its si_addr is 0", segv_addr == 0);

    void *top = (void *)0x00007ffffffff000ULL;
    void *m = mmap(top, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    CHECK("the last page of the lower half cannot be mapped", m == MAP_FAILED);
    CHECK_ERRNO("munmap there is EINVAL", munmap(top, 4096), EINVAL);

    /* signal delivery with the same bad RIP, with SIGSEGV at its default: the program dies */
    sa.sa_handler = SIG_DFL;
    sa.sa_flags = 0;
    sigaction(SIGSEGV, &sa, NULL);
    fflush(stdout);
    raise(SIGUSR1);
    printf("still alive: FAIL\n");
    return 1;
}
