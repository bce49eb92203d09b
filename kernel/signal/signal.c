/* Signal queueing and delivery (see signal/signal.h). The frame is Linux's x86_64 rt_sigframe:
 * return address (sa_restorer), ucontext with sigcontext and signal mask, siginfo, and the XSAVE
 * image (with the FP_XSTATE magic words) 64-byte aligned above it. */
#include "signal/signal.h"
#include "arch/x86_64/cpuinfo.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/regs.h"
#include "core/panic.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "linux/rlimit.h"
#include "linux/uaccess.h"
#include "mm/kheap.h"
#include "sched/thread.h"
#include "sched/wait.h"

#define UNBLOCKABLE (SIGBIT(SIGKILL) | SIGBIT(SIGSTOP))
#define FP_XSTATE_MAGIC1 0x46505853u
#define FP_XSTATE_MAGIC2 0x46505845u
#define UC_FP_XSTATE 1
#define UC_SIGCONTEXT_SS 2
#define UC_STRICT_RESTORE_SS 4
#define FIX_EFLAGS 0x50dd5ull /* AC OF DF TF SF ZF AF PF CF RF: the flags a frame may change */

struct linux_sigaction sig_actions[NSIG + 1];
/* Guards the queues: proc_pending and proc_queue, and every thread's sig.pending and sig.queue.
 * A thread's sig.mask is written only by the thread itself; others read it as one word. Taken
 * before the run queue's lock (a send wakes its target after releasing it). */
static struct spinlock signal_lock = SPINLOCK_INIT("signals");
static uint64_t proc_pending;
static struct sigqueue *proc_queue;
static uint64_t nqueued; /* siginfos in all the queues (under signal_lock): at most RLIMIT_SIGPENDING */

static const char *const sig_names[32] = {
    0, "SIGHUP", "SIGINT", "SIGQUIT", "SIGILL", "SIGTRAP", "SIGABRT", "SIGBUS", "SIGFPE",
    "SIGKILL", "SIGUSR1", "SIGSEGV", "SIGUSR2", "SIGPIPE", "SIGALRM", "SIGTERM", "SIGSTKFLT",
    "SIGCHLD", "SIGCONT", "SIGSTOP", "SIGTSTP", "SIGTTIN", "SIGTTOU", "SIGURG", "SIGXCPU",
    "SIGXFSZ", "SIGVTALRM", "SIGPROF", "SIGWINCH", "SIGIO", "SIGPWR", "SIGSYS"};

uint64_t signal_pending_set(struct thread *t)
{
    return __atomic_load_n(&t->sig.pending, __ATOMIC_RELAXED) |
           __atomic_load_n(&proc_pending, __ATOMIC_RELAXED);
}

int signal_pending(struct thread *t) { return (signal_pending_set(t) & ~t->sig.mask) != 0; }

/* 1 if a real-time signal sent with info must fail with EAGAIN rather than lose its siginfo when
 * the queue is full: as Linux, one from sigqueue, tgkill and the like (not from kill(2), the
 * kernel, or a POSIX timer, whose siginfo Linux preallocates). */
static int queue_or_fail(int sig, const struct linux_siginfo *info)
{
    return sig >= 32 && info->si_code != SI_USER && info->si_code != SI_KERNEL &&
           info->si_code != SI_TIMER;
}

/* Makes sig pending and queues its siginfo, under signal_lock (the siginfo allocated before it is
 * taken); returns 1 if it was made pending (0: a standard signal already was). Past
 * RLIMIT_SIGPENDING queued siginfos, or with no memory left, the signal is still made pending but
 * its siginfo is lost, as Linux does for kill(2), or, for the real-time signals of
 * queue_or_fail, not sent at all: -EAGAIN. The program's own limit bounds the kernel heap a flood
 * of blocked real-time signals takes. */
static int enqueue(uint64_t *pending, struct sigqueue **queue, int sig, const struct linux_siginfo *info)
{
    struct sigqueue *q = 0;
    if (__atomic_load_n(&nqueued, __ATOMIC_RELAXED) < rlimit_cur(RLIMIT_SIGPENDING))
        q = kzalloc(sizeof *q);
    if (q) {
        q->info = *info;
        q->info.si_signo = sig;
    }
    uint64_t fl = spin_lock_irqsave(&signal_lock);
    /* Standard signals are not queued twice; real-time ones are. */
    if (sig < 32 && (*pending & SIGBIT(sig))) {
        spin_unlock_irqrestore(&signal_lock, fl);
        kfree(q);
        return 0;
    }
    if (q && nqueued >= rlimit_cur(RLIMIT_SIGPENDING)) {
        kfree(q); /* another CPU took the last place meanwhile */
        q = 0;
    }
    if (!q && queue_or_fail(sig, info)) {
        spin_unlock_irqrestore(&signal_lock, fl);
        return -EAGAIN;
    }
    if (q) {
        struct sigqueue **pp = queue;
        while (*pp)
            pp = &(*pp)->next;
        *pp = q;
        nqueued++;
    }
    __atomic_or_fetch(pending, SIGBIT(sig), __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&signal_lock, fl);
    return 1;
}

static int ignored(int sig)
{
    uint64_t h = sig_actions[sig].handler;
    if (h == SIG_IGN)
        return 1;
    return h == SIG_DFL && (sig == SIGCHLD || sig == SIGURG || sig == SIGWINCH || sig == SIGCONT);
}

int signal_send_thread(struct thread *t, int sig, const struct linux_siginfo *info)
{
    if (ignored(sig) && !(t->sig.mask & SIGBIT(sig)))
        return 0;
    int queued = enqueue(&t->sig.pending, &t->sig.queue, sig, info);
    if (queued < 0)
        return queued;
    if (!(t->sig.mask & SIGBIT(sig)))
        thread_wake(t, -EINTR);
    return queued;
}

/* Wakes t if it does not block sig (thread_each's callback: stops at the first). Waking under
 * the thread list's lock keeps t alive meanwhile. */
static int wake_unblocked(struct thread *t, void *arg)
{
    int sig = (int)(uint64_t)arg;
    if (t->sig.mask & SIGBIT(sig))
        return 0;
    thread_wake(t, -EINTR);
    return 1;
}

int signal_send_process(int sig, const struct linux_siginfo *info)
{
    if (ignored(sig))
        return 0;
    int queued = enqueue(&proc_pending, &proc_queue, sig, info);
    if (queued < 0)
        return queued;
    struct thread *cur = current();
    if (cur->tid && !(cur->sig.mask & SIGBIT(sig))) /* tid 0: the idle thread, in an interrupt */
        return queued; /* the current thread takes it on its way back to the program */
    thread_each(wake_unblocked, (void *)(uint64_t)sig);
    return queued;
}

void signal_send_self(int sig)
{
    struct linux_siginfo info;
    memset(&info, 0, sizeof info);
    info.si_code = SI_KERNEL;
    signal_send_thread(current(), sig, &info);
}

int signal_dequeue(struct thread *t, uint64_t set, struct linux_siginfo *info)
{
    if (!(signal_pending_set(t) & set))
        return 0; /* the common case on every return to the program: no lock */
    struct linux_siginfo taken, *out = info;
    memset(&taken, 0, sizeof taken);
    info = out ? &taken : 0;
    uint64_t *pend[2] = {&t->sig.pending, &proc_pending};
    struct sigqueue **queues[2] = {&t->sig.queue, &proc_queue};
    int found = 0;
    uint64_t fl = spin_lock_irqsave(&signal_lock);
    for (int k = 0; k < 2 && !found; k++) {
        uint64_t ready = *pend[k] & set;
        if (!ready)
            continue;
        int sig = __builtin_ctzll(ready) + 1;
        int more = 0;
        for (struct sigqueue **pp = queues[k]; *pp;) {
            struct sigqueue *q = *pp;
            if (q->info.si_signo == sig && info) {
                *info = q->info;
                *pp = q->next;
                kfree(q);
                nqueued--;
                info = 0;
                continue;
            }
            if (q->info.si_signo == sig)
                more = 1;
            pp = &q->next;
        }
        if (!more)
            __atomic_and_fetch(pend[k], ~SIGBIT(sig), __ATOMIC_RELAXED);
        if (info) { /* no siginfo was queued (past the limit): Linux reports a kill(2) */
            info->si_signo = sig;
            info->si_code = SI_USER;
        }
        found = sig;
    }
    spin_unlock_irqrestore(&signal_lock, fl);
    if (found && taken.si_code == SI_TIMER)
        posix_timer_dequeued(&taken);
    if (found && out)
        *out = taken;
    return found;
}

void signal_wait_mask(uint64_t set)
{
    struct thread *t = current();
    t->sig.saved_mask = t->sig.mask;
    t->sig.has_saved_mask = 1;
    t->sig.mask = set & ~UNBLOCKABLE;
}

void signal_wait_mask_done(int interrupted)
{
    struct thread *t = current();
    if (interrupted || !t->sig.has_saved_mask)
        return;
    t->sig.mask = t->sig.saved_mask;
    t->sig.has_saved_mask = 0;
}

void signal_thread_exit(struct thread *t)
{
    uint64_t fl = spin_lock_irqsave(&signal_lock);
    while (t->sig.queue) {
        struct sigqueue *q = t->sig.queue;
        t->sig.queue = q->next;
        kfree(q);
        nqueued--;
    }
    t->sig.pending = 0;
    spin_unlock_irqrestore(&signal_lock, fl);
}

/* The default action of a fatal signal: report it like a crash and end the program. */
static void __attribute__((noreturn)) die(struct regs *r, int sig, const struct linux_siginfo *info)
{
    klog_start_line();
    kprintf("lwjvm: program killed by signal %d (%s)", sig, sig < 32 ? sig_names[sig] : "SIGRT");
    if (r->vector < 32) {
        kprintf(" at rip %016lx", r->rip);
        if (sig == SIGSEGV || sig == SIGBUS)
            kprintf(", address %016lx", info->fault.addr);
        kprintf(", thread %d\n", current()->tid);
        dump_regs(r);
    } else {
        kprintf(", thread %d\n", current()->tid);
    }
    kprintf("\x1elwjvm:fatal signal=%d\n", sig);
    vm_exit(128 + sig);
}

static int on_altstack(const struct thread *t, uint64_t sp)
{
    return t->sig.altstack_size && sp > t->sig.altstack_sp &&
           sp <= t->sig.altstack_sp + t->sig.altstack_size;
}

/* Builds the handler frame; returns 0, or -EFAULT if the stack is unusable. */
static int setup_frame(struct regs *r, int sig, const struct linux_siginfo *info,
                       const struct linux_sigaction *act, uint64_t oldmask)
{
    struct thread *t = current();
    uint64_t sp = r->rsp - 128; /* the red zone */
    if ((act->flags & SA_ONSTACK) && t->sig.altstack_size && !(t->sig.altstack_flags & SS_DISABLE) &&
        !on_altstack(t, r->rsp))
        sp = t->sig.altstack_sp + t->sig.altstack_size;
    uint32_t fsz = fpu_size();
    uint64_t fp = (sp - (fsz + 4)) & ~63ull;
    uint64_t frame = ((fp - sizeof(struct rt_sigframe)) & ~15ull) - 8;

    uint8_t *fpbuf = kmalloc(fsz + 4 < 512 ? 512 : fsz + 4);
    struct rt_sigframe *f = kzalloc(sizeof *f);
    if (!fpbuf || !f) {
        kfree(fpbuf);
        kfree(f);
        return -EFAULT;
    }
    fpu_save(fpbuf);
    if (cpu_features.xsave) {
        uint32_t *sw = (uint32_t *)(fpbuf + 464);
        memset(sw, 0, 48);
        sw[0] = FP_XSTATE_MAGIC1;
        sw[1] = fsz + 4;
        *(uint64_t *)(fpbuf + 472) = cpu_features.xcr0;
        sw[4] = fsz;
        *(uint32_t *)(fpbuf + fsz) = FP_XSTATE_MAGIC2;
    }
    f->pretcode = act->restorer;
    f->uc.uc_flags = UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS | (cpu_features.xsave ? UC_FP_XSTATE : 0);
    f->uc.uc_stack.ss_sp = t->sig.altstack_sp;
    f->uc.uc_stack.ss_size = t->sig.altstack_size;
    f->uc.uc_stack.ss_flags = !t->sig.altstack_size ? SS_DISABLE
                              : on_altstack(t, r->rsp) ? SS_ONSTACK
                                                       : t->sig.altstack_flags;
    struct linux_sigcontext *sc = &f->uc.uc_mcontext;
    sc->r8 = r->r8, sc->r9 = r->r9, sc->r10 = r->r10, sc->r11 = r->r11;
    sc->r12 = r->r12, sc->r13 = r->r13, sc->r14 = r->r14, sc->r15 = r->r15;
    sc->rdi = r->rdi, sc->rsi = r->rsi, sc->rbp = r->rbp, sc->rbx = r->rbx;
    sc->rdx = r->rdx, sc->rax = r->rax, sc->rcx = r->rcx, sc->rsp = r->rsp;
    sc->rip = r->rip, sc->eflags = r->rflags;
    sc->cs = SEL_UCODE, sc->ss = SEL_UDATA;
    if (r->vector < 32) {
        sc->err = r->error;
        sc->trapno = r->vector;
        sc->cr2 = r->vector == 14 ? info->fault.addr : 0;
    }
    sc->oldmask = oldmask;
    sc->fpstate = fp;
    f->uc.uc_sigmask = oldmask;
    f->info = *info;
    int bad = copy_to_user((void *)fp, fpbuf, fsz + (cpu_features.xsave ? 4 : 0)) ||
              copy_to_user((void *)frame, f, sizeof *f);
    if (bad)
        kprintf("lwjvm: thread %d: signal frame for %d at %016lx-%016lx (fpu %u bytes) not writable"
                " (flags %lx, altstack %016lx+%lx)\n",
                t->tid, sig, frame, fp + fsz + 4, fsz, (unsigned long)act->flags,
                (unsigned long)t->sig.altstack_sp, (unsigned long)t->sig.altstack_size);
    kfree(fpbuf);
    kfree(f);
    if (bad)
        return -EFAULT;
    /* The handler starts with a clean FPU state, as on Linux. */
    void *init = fpu_alloc();
    if (init) {
        fpu_restore(init);
        fpu_free(init);
    }
    r->rip = act->handler;
    r->rsp = frame;
    r->rdi = (uint64_t)sig;
    r->rsi = frame + __builtin_offsetof(struct rt_sigframe, info);
    r->rdx = frame + __builtin_offsetof(struct rt_sigframe, uc);
    r->rax = 0;
    r->rflags &= ~((1ull << 8) | (1ull << 10)); /* TF, DF */
    r->cs = SEL_UCODE;
    r->ss = SEL_UDATA;
    return 0;
}

/* Runs the action for sig: a handler frame, the default action, or nothing if ignored. Returns 1
 * if a handler frame was built. */
static int act_on(struct regs *r, int sig, struct linux_siginfo *info)
{
    struct thread *t = current();
    struct linux_sigaction act = sig_actions[sig];
    if (act.handler == SIG_IGN)
        return 0;
    if (act.handler == SIG_DFL) {
        if (ignored(sig) || sig == SIGSTOP || sig == SIGTSTP || sig == 21 || sig == 22)
            return 0; /* no job control: stop signals are ignored */
        die(r, sig, info);
    }
    uint64_t oldmask = t->sig.has_saved_mask ? t->sig.saved_mask : t->sig.mask;
    t->sig.has_saved_mask = 0;
    if (setup_frame(r, sig, info, &act, oldmask)) {
        kprintf("lwjvm: cannot build the frame for signal %d (bad stack %016lx)\n", sig, r->rsp);
        die(r, SIGSEGV, info);
    }
    if (act.flags & SA_RESETHAND)
        sig_actions[sig].handler = SIG_DFL;
    t->sig.mask |= act.mask | ((act.flags & SA_NODEFER) ? 0 : SIGBIT(sig));
    t->sig.mask &= ~UNBLOCKABLE;
    return 1;
}

void signal_deliver(struct regs *r)
{
    struct thread *t = current();
    /* rt_sigreturn may have restored a RIP outside the user half: IRET to it would fault in ring 0.
     * Linux turns that fault into SIGSEGV (SI_KERNEL) for the program; so do we, before the IRET. */
    if (r->rip >= USER_TOP)
        signal_fault(r, SIGSEGV, SI_KERNEL, 0);
    int restart = r->vector == VECTOR_SYSCALL && ((int64_t)r->rax == -ERESTARTSYS ||
                                                  (int64_t)r->rax == -ERESTARTNOHAND);
    struct linux_siginfo info;
    int sig = signal_dequeue(t, ~t->sig.mask, &info);
    if (sig) {
        if (restart) {
            uint64_t flags = sig_actions[sig].flags;
            int handled = sig_actions[sig].handler > SIG_IGN;
            int nohand = (int64_t)r->rax == -ERESTARTNOHAND; /* EINTR whenever a handler runs */
            if (handled && (nohand || !(flags & SA_RESTART))) {
                r->rax = (uint64_t)-EINTR;
                restart = 0;
            }
        }
        if (restart) {
            r->rax = t->syscall_nr;
            r->rip -= 2;
            restart = 0;
        }
        act_on(r, sig, &info);
    }
    if (restart) {
        r->rax = t->syscall_nr;
        r->rip -= 2;
    }
    if (t->sig.has_saved_mask) { /* rt_sigsuspend woke without running a handler */
        t->sig.mask = t->sig.saved_mask;
        t->sig.has_saved_mask = 0;
    }
}

void signal_fault(struct regs *r, int sig, int code, uint64_t addr)
{
    struct thread *t = current();
    struct linux_siginfo info;
    memset(&info, 0, sizeof info);
    info.si_signo = sig;
    info.si_code = code;
    info.fault.addr = addr;
    /* A fault the program blocks or ignores cannot be handled: Linux kills it. */
    if ((t->sig.mask & SIGBIT(sig)) || sig_actions[sig].handler == SIG_IGN)
        die(r, sig, &info);
    act_on(r, sig, &info);
}

long signal_return(struct regs *r)
{
    struct thread *t = current();
    uint64_t frame = r->rsp - 8;
    struct linux_ucontext uc;
    struct linux_siginfo info;
    memset(&info, 0, sizeof info);
    if (copy_from_user(&uc, (const void *)(frame + __builtin_offsetof(struct rt_sigframe, uc)),
                       sizeof uc)) {
        kprintf("lwjvm: rt_sigreturn with a bad frame at %016lx\n", frame);
        die(r, SIGSEGV, &info);
    }
    struct linux_sigcontext *sc = &uc.uc_mcontext;
    r->r8 = sc->r8, r->r9 = sc->r9, r->r10 = sc->r10, r->r11 = sc->r11;
    r->r12 = sc->r12, r->r13 = sc->r13, r->r14 = sc->r14, r->r15 = sc->r15;
    r->rdi = sc->rdi, r->rsi = sc->rsi, r->rbp = sc->rbp, r->rbx = sc->rbx;
    r->rdx = sc->rdx, r->rcx = sc->rcx, r->rsp = sc->rsp, r->rip = sc->rip;
    r->rflags = (r->rflags & ~FIX_EFLAGS) | (sc->eflags & FIX_EFLAGS) | (1ull << 9);
    r->cs = SEL_UCODE;
    r->ss = SEL_UDATA;
    r->vector = 0; /* not a syscall any more: no restart on the way out */
    t->sig.mask = uc.uc_sigmask & ~UNBLOCKABLE;
    uint32_t fsz = fpu_size();
    uint8_t *fpbuf = fpu_alloc();
    if (fpbuf) {
        if (sc->fpstate && !copy_from_user(fpbuf, (const void *)sc->fpstate, fsz)) {
            /* Sanitise what the program may have written so XRSTOR cannot fault. */
            *(uint32_t *)(fpbuf + 28) = 0xffff; /* MXCSR_MASK is ignored by FXRSTOR */
            *(uint32_t *)(fpbuf + 24) &= 0xffbf;
            if (cpu_features.xsave) {
                *(uint64_t *)(fpbuf + 512) &= cpu_features.xcr0;
                memset(fpbuf + 520, 0, 56); /* XCOMP_BV and reserved header bytes */
            }
        } else if (sc->fpstate) {
            memset(fpbuf, 0, fsz);
            fpu_free(fpbuf);
            fpbuf = fpu_alloc();
        }
        if (fpbuf)
            fpu_restore(fpbuf);
        fpu_free(fpbuf);
    }
    if (!(uc.uc_stack.ss_flags & SS_DISABLE) && uc.uc_stack.ss_size >= MINSIGSTKSZ &&
        !on_altstack(t, r->rsp)) {
        t->sig.altstack_sp = uc.uc_stack.ss_sp;
        t->sig.altstack_size = uc.uc_stack.ss_size;
        t->sig.altstack_flags = 0;
    }
    return (long)sc->rax;
}
