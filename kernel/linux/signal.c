/* Signal syscalls: rt_sigaction, rt_sigprocmask, sigaltstack, rt_sigreturn, rt_sigpending,
 * rt_sigsuspend, kill, tkill, tgkill, rt_sigqueueinfo, rt_tgsigqueueinfo, rt_sigtimedwait. */
#include "arch/x86_64/regs.h"
#include "arch/x86_64/tsc.h"
#include "errno.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "sched/thread.h"
#include "sched/wait.h"
#include "signal/signal.h"
#include "linux_abi.h"

#define SIG_BLOCK 0
#define SIG_UNBLOCK 1
#define SIG_SETMASK 2
#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
#define OUR_PID 1

SYS(rt_sigaction)
{
    UNUSED_ARGS();
    int sig = (int)a0;
    if (a3 != 8 || sig < 1 || sig > NSIG)
        return -EINVAL;
    if (a1 && (sig == SIGKILL || sig == SIGSTOP))
        return -EINVAL;
    struct linux_sigaction old = sig_actions[sig], nact;
    if (a1) {
        if (copy_from_user(&nact, (const void *)a1, sizeof nact))
            return -EFAULT;
        nact.mask &= ~UNBLOCKABLE;
    }
    if (a2 && copy_to_user((void *)a2, &old, sizeof old))
        return -EFAULT;
    if (a1)
        sig_actions[sig] = nact;
    return 0;
}

SYS(rt_sigprocmask)
{
    UNUSED_ARGS();
    struct thread *t = current();
    if (a3 != 8)
        return -EINVAL;
    uint64_t old = t->sig.mask, set;
    if (a1) {
        if (copy_from_user(&set, (const void *)a1, sizeof set))
            return -EFAULT;
        switch (a0) {
        case SIG_BLOCK:
            t->sig.mask |= set;
            break;
        case SIG_UNBLOCK:
            t->sig.mask &= ~set;
            break;
        case SIG_SETMASK:
            t->sig.mask = set;
            break;
        default:
            return -EINVAL;
        }
        t->sig.mask &= ~UNBLOCKABLE;
    }
    if (a2 && copy_to_user((void *)a2, &old, sizeof old))
        return -EFAULT;
    return 0;
}

SYS(rt_sigpending)
{
    UNUSED_ARGS();
    if (a1 != 8)
        return -EINVAL;
    uint64_t set = signal_pending_set(current()) & current()->sig.mask;
    return copy_to_user((void *)a0, &set, sizeof set) ? -EFAULT : 0;
}

SYS(rt_sigsuspend)
{
    UNUSED_ARGS();
    if (a1 != 8)
        return -EINVAL;
    uint64_t set;
    if (copy_from_user(&set, (const void *)a0, sizeof set))
        return -EFAULT;
    struct thread *t = current();
    /* The handler's frame records the caller's mask, so sigreturn restores it. */
    t->sig.saved_mask = t->sig.mask;
    t->sig.has_saved_mask = 1;
    t->sig.mask = set & ~UNBLOCKABLE;
    struct waitq never = {0};
    while (!signal_pending(t))
        waitq_wait(&never, WAIT_FOREVER);
    return -EINTR;
}

/* pause(2): waits until a signal is delivered (a handler runs or the program dies of it). */
SYS(pause)
{
    UNUSED_ARGS();
    struct thread *t = current();
    struct waitq never = WAITQ_INIT("pause");
    while (!signal_pending(t))
        waitq_wait(&never, WAIT_FOREVER);
    return -EINTR;
}

SYS(sigaltstack)
{
    UNUSED_ARGS();
    struct thread *t = current();
    uint64_t sp = t->frame->rsp;
    int on = t->sig.altstack_size && sp > t->sig.altstack_sp &&
             sp <= t->sig.altstack_sp + t->sig.altstack_size;
    struct linux_stack old = {t->sig.altstack_sp, 0, 0, t->sig.altstack_size};
    old.ss_flags = !t->sig.altstack_size ? SS_DISABLE : on ? SS_ONSTACK : t->sig.altstack_flags;
    if (a0) {
        struct linux_stack ss;
        if (copy_from_user(&ss, (const void *)a0, sizeof ss))
            return -EFAULT;
        if (on)
            return -EPERM;
        int mode = ss.ss_flags & ~(int)(1u << 31); /* SS_AUTODISARM */
        if (mode != 0 && mode != SS_DISABLE && mode != SS_ONSTACK)
            return -EINVAL;
        if (mode == SS_DISABLE) {
            t->sig.altstack_sp = t->sig.altstack_size = 0;
            t->sig.altstack_flags = SS_DISABLE;
        } else {
            if (ss.ss_size < MINSIGSTKSZ)
                return -ENOMEM;
            t->sig.altstack_sp = ss.ss_sp;
            t->sig.altstack_size = ss.ss_size;
            t->sig.altstack_flags = 0;
        }
    }
    if (a1 && copy_to_user((void *)a1, &old, sizeof old))
        return -EFAULT;
    return 0;
}

SYS(rt_sigreturn) { UNUSED_ARGS(); return signal_return(current()->frame); }

static void user_info(struct linux_siginfo *info, int sig, int code)
{
    memset(info, 0, sizeof *info);
    info->si_signo = sig;
    info->si_code = code;
    info->kill.pid = OUR_PID;
    info->kill.uid = 0;
}

SYS(kill)
{
    UNUSED_ARGS();
    int pid = (int)a0, sig = (int)a1;
    if (sig < 0 || sig > NSIG)
        return -EINVAL;
    if (pid != OUR_PID && pid != 0 && pid != -1)
        return -ESRCH;
    if (!sig)
        return 0;
    struct linux_siginfo info;
    user_info(&info, sig, SI_USER);
    signal_send_process(sig, &info);
    return 0;
}

static long thread_kill(int tgid, int tid, int sig)
{
    if (sig < 0 || sig > NSIG || tid <= 0)
        return -EINVAL;
    if (tgid != -1 && tgid != OUR_PID)
        return -ESRCH;
    struct thread *t = thread_find(tid);
    if (!t)
        return -ESRCH;
    if (!sig)
        return 0;
    struct linux_siginfo info;
    user_info(&info, sig, SI_TKILL);
    int rc = signal_send_thread(t, sig, &info);
    return rc < 0 ? rc : 0;
}

SYS(tgkill) { UNUSED_ARGS(); return thread_kill((int)a0, (int)a1, (int)a2); }
SYS(tkill) { UNUSED_ARGS(); return thread_kill(-1, (int)a0, (int)a1); }

/* The bytes of a siginfo Linux copies from the program (its kernel_siginfo: signo, errno, code
 * and 32 bytes of fields); the rest of the 128 must be zero when the code's layout is unknown. */
#define SIGINFO_KERNEL_SIZE 48
#define SI_DETHREAD (-7)
#define SI_ASYNCNL (-60)

/* Linux's known_siginfo_layout: the codes whose fields fit in SIGINFO_KERNEL_SIZE (the kernel's
 * own, the generic ones, and each signal's specific codes up to its last, as of Linux 6.1). */
static int known_layout(int sig, int code)
{
    if (code == SI_KERNEL)
        return 1;
    if (code > SI_USER) {
        switch (sig) {
        case SIGILL: return code <= 11;
        case SIGFPE: return code <= 15;
        case SIGSEGV: return code <= 10;
        case SIGBUS: return code <= 5;
        case SIGTRAP: return code <= 6;
        case SIGCHLD: return code <= 6;
        case SIGSYS: return code <= 2;
        default: return code <= 6; /* NSIGPOLL */
        }
    }
    return code >= SI_DETHREAD || code == SI_ASYNCNL;
}

/* Copies the program's siginfo for sig into *info as Linux does: 0, -EFAULT, or -E2BIG when a
 * code of unknown layout comes with fields past the first 48 bytes. */
static long siginfo_from_user(int sig, uint64_t uinfo, struct linux_siginfo *info)
{
    memset(info, 0, sizeof *info);
    if (copy_from_user(info, (const void *)uinfo, SIGINFO_KERNEL_SIZE))
        return -EFAULT;
    info->si_signo = sig;
    if (known_layout(sig, info->si_code))
        return 0;
    char rest[sizeof *info - SIGINFO_KERNEL_SIZE];
    if (copy_from_user(rest, (const char *)uinfo + SIGINFO_KERNEL_SIZE, sizeof rest))
        return -EFAULT;
    for (unsigned i = 0; i < sizeof rest; i++)
        if (rest[i])
            return -E2BIG;
    return 0;
}

/* A program may not make a signal look as if the kernel, kill() or tgkill() sent it (si_code
 * >= 0 or SI_TKILL), except to itself: Linux compares with the calling thread's id. */
static int forged(const struct linux_siginfo *info, int target)
{
    return (info->si_code >= 0 || info->si_code == SI_TKILL) && current()->tid != target;
}

/* rt_sigqueueinfo(pid, sig, info): sigqueue(3)'s call. The one process is OUR_PID. */
SYS(rt_sigqueueinfo)
{
    UNUSED_ARGS();
    int pid = (int)a0, sig = (int)a1;
    struct linux_siginfo info;
    long rc = siginfo_from_user(sig, a2, &info);
    if (rc)
        return rc;
    if (forged(&info, pid))
        return -EPERM;
    if (pid != OUR_PID)
        return -ESRCH;
    if (sig < 0 || sig > NSIG)
        return -EINVAL;
    if (!sig)
        return 0;
    rc = signal_send_process(sig, &info);
    return rc < 0 ? rc : 0;
}

/* rt_tgsigqueueinfo(tgid, tid, sig, info): the same, to one thread. */
SYS(rt_tgsigqueueinfo)
{
    UNUSED_ARGS();
    int tgid = (int)a0, tid = (int)a1, sig = (int)a2;
    struct linux_siginfo info;
    long rc = siginfo_from_user(sig, a3, &info);
    if (rc)
        return rc;
    if (tid <= 0 || tgid <= 0)
        return -EINVAL;
    if (forged(&info, tid))
        return -EPERM;
    struct thread *t = tgid == OUR_PID ? thread_find(tid) : 0;
    if (!t)
        return -ESRCH;
    if (sig < 0 || sig > NSIG)
        return -EINVAL;
    if (!sig)
        return 0;
    rc = signal_send_thread(t, sig, &info);
    return rc < 0 ? rc : 0;
}


SYS(rt_sigtimedwait)
{
    UNUSED_ARGS();
    if (a3 != 8)
        return -EINVAL;
    uint64_t set;
    if (copy_from_user(&set, (const void *)a0, sizeof set))
        return -EFAULT;
    set &= ~UNBLOCKABLE;
    uint64_t deadline = WAIT_FOREVER;
    if (a2) {
        struct timespec64 ts;
        if (copy_from_user(&ts, (const void *)a2, sizeof ts))
            return -EFAULT;
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
            return -EINVAL;
        deadline = tsc_ns_since_boot() + (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
    }
    struct thread *t = current();
    struct waitq never = {0};
    for (;;) {
        struct linux_siginfo info;
        int sig = signal_dequeue(t, set, &info);
        if (sig) {
            if (a1 && copy_to_user((void *)a1, &info, sizeof info))
                return -EFAULT;
            return sig;
        }
        if (a2 && tsc_ns_since_boot() >= deadline)
            return -EAGAIN;
        /* While waiting, the awaited signals wake us even though the caller blocks them. */
        uint64_t saved = t->sig.mask;
        t->sig.mask &= ~set;
        int rc = waitq_wait(&never, a2 ? deadline : WAIT_FOREVER);
        t->sig.mask = saved;
        if (rc == -EINTR && !(signal_pending_set(t) & set))
            return -EINTR; /* another signal: its handler runs on the way out */
    }
}
