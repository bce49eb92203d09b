/* The signal frame is Linux's: the handler finds the interrupted registers (general and FP/SSE) in
 * the ucontext, with the XSAVE layout markers Linux writes; it runs with a fresh FP environment
 * (default MXCSR); and what it changes in the frame (R12, XMM7, MXCSR) is what the interrupted code
 * sees after rt_sigreturn. The signal is raised by a tgkill issued inside one asm block, so the
 * registers at the moment of the signal are known. */
#include <fenv.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <ucontext.h>
#include <unistd.h>

#include "../check.h"

#define XMM_IN 0x1122334455667788ULL
#define XMM_OUT 0x99aabbccddeeff00ULL
#define R12_IN 0x0123456789abcdefULL
#define R12_OUT 0x0fedcba987654321ULL
#define FP_XSTATE_MAGIC1 0x46505853U
#define FP_XSTATE_MAGIC2 0x46505845U
#define UC_FP_XSTATE 0x1

static volatile int saw_r12, saw_xmm, saw_mxcsr_upward, fresh_rounding, have_fpregs;
static volatile int magic1_ok, magic2_ok, xstate_flag, uc_link_null, si_code_tkill;

static void handler(int sig, siginfo_t *si, void *ctx)
{
    (void)sig;
    ucontext_t *uc = ctx;
    si_code_tkill = si->si_code == SI_TKILL;
    uc_link_null = uc->uc_link == NULL;
    saw_r12 = (uint64_t)uc->uc_mcontext.gregs[REG_R12] == R12_IN;
    unsigned mxcsr;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr));
    fresh_rounding = fegetround() == FE_TONEAREST && (mxcsr & 0x6000) == 0; /* x87 and SSE */
    fpregset_t fp = uc->uc_mcontext.fpregs;
    have_fpregs = fp != NULL;
    if (!fp)
        return;
    uint64_t lo;
    memcpy(&lo, &fp->_xmm[7], sizeof lo);
    saw_xmm = lo == XMM_IN;
    saw_mxcsr_upward = (fp->mxcsr & 0x6000) == 0x4000; /* RC = 10b: round up */
    /* struct _fpx_sw_bytes sits in the last 48 bytes of the 512-byte FXSAVE area. */
    const uint32_t *sw = (const uint32_t *)((const char *)fp + 464);
    magic1_ok = sw[0] == FP_XSTATE_MAGIC1;
    if (magic1_ok) {
        uint32_t extended_size = sw[1];
        uint32_t magic2;
        memcpy(&magic2, (const char *)fp + extended_size - 4, sizeof magic2);
        magic2_ok = magic2 == FP_XSTATE_MAGIC2;
    }
    xstate_flag = (uc->uc_flags & UC_FP_XSTATE) != 0;
    /* Change the interrupted state. */
    uc->uc_mcontext.gregs[REG_R12] = (greg_t)R12_OUT;
    lo = XMM_OUT;
    memcpy(&fp->_xmm[7], &lo, sizeof lo);
    fp->mxcsr = (fp->mxcsr & ~0x6000U) | 0x2000; /* RC = 01b: round down */
}

int main(void)
{
    struct sigaction sa = {0};
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    REQUIRE(sigaction(SIGUSR1, &sa, NULL) == 0);
    fesetround(FE_UPWARD);

    uint64_t xmm_after, r12_after;
    long nr = SYS_tgkill;
    __asm__ volatile("movq %[xin], %%xmm7\n\t"
                     "movq %[rin], %%r12\n\t"
                     "syscall\n\t"
                     "movq %%xmm7, %[xout]\n\t"
                     "movq %%r12, %[rout]\n\t"
                     : [xout] "=&r"(xmm_after), [rout] "=&r"(r12_after), "+a"(nr)
                     : [xin] "r"(XMM_IN), [rin] "r"(R12_IN), "D"((long)getpid()),
                       "S"((long)syscall(SYS_gettid)), "d"((long)SIGUSR1)
                     : "rcx", "r11", "r12", "xmm7", "memory");
    unsigned mxcsr_after;
    __asm__ volatile("stmxcsr %0" : "=m"(mxcsr_after));
    fesetround(FE_TONEAREST);

    CHECK_EQ("tgkill from asm returned 0", nr, 0);
    CHECK("si_code is SI_TKILL", si_code_tkill);
    CHECK("uc_link is NULL", uc_link_null);
    CHECK("the frame holds the interrupted R12", saw_r12);
    CHECK("uc_mcontext.fpregs is set", have_fpregs);
    CHECK("the frame holds the interrupted XMM7", saw_xmm);
    CHECK("the frame holds the interrupted MXCSR (round up)", saw_mxcsr_upward);
    CHECK("the handler runs with the default rounding mode", fresh_rounding);
    CHECK("the FP frame carries FP_XSTATE_MAGIC1 (XSAVE layout)", magic1_ok);
    CHECK("and FP_XSTATE_MAGIC2 at its end", magic2_ok);
    CHECK("uc_flags has UC_FP_XSTATE", xstate_flag);
    CHECK("R12 changed by the handler is seen after sigreturn", r12_after == R12_OUT);
    CHECK("XMM7 changed by the handler is seen after sigreturn", xmm_after == XMM_OUT);
    CHECK("MXCSR changed by the handler is seen after sigreturn",
          (mxcsr_after & 0x6000) == 0x2000);
    return check_done();
}
