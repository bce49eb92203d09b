/* Signal numbers, the Linux structures signals cross the ABI with, and the per-thread signal state.
 * Sizes and offsets of the ABI structures are checked against Linux x86_64. */
#pragma once
#include <stdint.h>

#define NSIG 64
#define SIGHUP 1
#define SIGINT 2
#define SIGQUIT 3
#define SIGILL 4
#define SIGTRAP 5
#define SIGABRT 6
#define SIGBUS 7
#define SIGFPE 8
#define SIGKILL 9
#define SIGUSR1 10
#define SIGSEGV 11
#define SIGUSR2 12
#define SIGPIPE 13
#define SIGALRM 14
#define SIGTERM 15
#define SIGCHLD 17
#define SIGCONT 18
#define SIGSTOP 19
#define SIGTSTP 20
#define SIGURG 23
#define SIGXCPU 24
#define SIGXFSZ 25
#define SIGWINCH 28
#define SIGSYS 31

#define SIGBIT(s) (1ull << ((s) - 1))

#define SA_SIGINFO 0x4
#define SA_ONSTACK 0x08000000
#define SA_RESTORER 0x04000000
#define SA_RESTART 0x10000000
#define SA_NODEFER 0x40000000
#define SA_RESETHAND 0x80000000
#define SIG_DFL 0
#define SIG_IGN 1

#define SI_USER 0
#define SI_KERNEL 0x80
#define SI_TKILL (-6)
#define SI_TIMER (-2)
#define SEGV_MAPERR 1
#define SEGV_ACCERR 2
#define BUS_ADRALN 1
#define BUS_ADRERR 2
#define FPE_INTDIV 1
#define FPE_FLTINV 7
#define ILL_ILLOPN 2
#define TRAP_BRKPT 1

#define SS_ONSTACK 1
#define SS_DISABLE 2
#define MINSIGSTKSZ 2048

/* siginfo_t as Linux lays it out (128 bytes). */
struct linux_siginfo {
    int32_t si_signo, si_errno, si_code, pad;
    union {
        struct {
            int32_t pid;
            uint32_t uid;
            uint64_t value;
        } kill;
        struct {
            uint64_t addr;
        } fault;
        char raw[112];
    };
};
_Static_assert(sizeof(struct linux_siginfo) == 128, "siginfo_t");
_Static_assert(__builtin_offsetof(struct linux_siginfo, fault.addr) == 16, "si_addr");

struct linux_sigaction {
    uint64_t handler, flags, restorer, mask;
};

struct linux_stack {
    uint64_t ss_sp;
    int32_t ss_flags, pad;
    uint64_t ss_size;
};
_Static_assert(sizeof(struct linux_stack) == 24, "stack_t");

/* struct sigcontext (the kernel's uc_mcontext). */
struct linux_sigcontext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2;
    uint64_t fpstate; /* user address of the XSAVE image */
    uint64_t reserved1[8];
};
_Static_assert(sizeof(struct linux_sigcontext) == 256, "struct sigcontext");

struct linux_ucontext {
    uint64_t uc_flags;
    uint64_t uc_link;
    struct linux_stack uc_stack;
    struct linux_sigcontext uc_mcontext;
    uint64_t uc_sigmask;
};
_Static_assert(sizeof(struct linux_ucontext) == 304, "kernel struct ucontext");
_Static_assert(__builtin_offsetof(struct linux_ucontext, uc_mcontext) == 40, "uc_mcontext");

/* The frame the kernel pushes to run a handler: pretcode is the handler's return address. */
struct rt_sigframe {
    uint64_t pretcode;
    struct linux_ucontext uc;
    struct linux_siginfo info;
};
_Static_assert(sizeof(struct rt_sigframe) == 440, "struct rt_sigframe");

struct sigqueue {
    struct sigqueue *next;
    struct linux_siginfo info;
};

struct thread_signals {
    uint64_t mask;               /* blocked signals */
    uint64_t pending;            /* signals queued to this thread */
    struct sigqueue *queue;      /* their siginfo, in arrival order */
    uint64_t altstack_sp, altstack_size;
    int altstack_flags;
    uint64_t saved_mask; /* rt_sigsuspend: the mask to restore after the handler */
    int has_saved_mask;
};
