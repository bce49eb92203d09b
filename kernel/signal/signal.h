/* Signals: queueing to threads or the process, delivery with a Linux-identical frame before the
 * return to the program, default actions, and faults turned into signals. */
#pragma once
#include <stdint.h>
#include "signal/sigtypes.h"

struct regs;
struct thread;

/* True if t has a signal pending that it does not block. */
int signal_pending(struct thread *t);
/* The signals pending for t, blocked or not (its own and the process's). */
uint64_t signal_pending_set(struct thread *t);
/* Queues sig to thread t (waking it if it waits and does not block sig). Returns 1 if queued,
 * 0 if dropped (ignored, or a standard signal already pending), -EAGAIN if a real-time signal
 * from sigqueue or tgkill found the queue full (RLIMIT_SIGPENDING) and was not sent. */
int signal_send_thread(struct thread *t, int sig, const struct linux_siginfo *info);
/* Queues sig to the process (any thread that does not block it takes it). Returns as
 * signal_send_thread. */
int signal_send_process(int sig, const struct linux_siginfo *info);
/* Queues sig to the current thread with si_code SI_KERNEL (e.g. SIGPIPE on a broken pipe). */
void signal_send_self(int sig);
/* A fault in the program: delivers sig now, or ends the program if it cannot be handled. */
void signal_fault(struct regs *r, int sig, int code, uint64_t addr);
/* Delivers a pending signal, if any, by building a handler frame in r; called on every return
 * to the program. Also finishes syscall restarts. */
void signal_deliver(struct regs *r);
/* Takes the lowest pending signal in `set` off t's queue or the process queue (its siginfo into
 * *info); returns it, or 0 if none. A POSIX timer's signal is handed to posix_timer_dequeued
 * on the way (linux/timer.c), which fills in its overrun count and re-arms the timer, as Linux
 * does at delivery. */
int signal_dequeue(struct thread *t, uint64_t set, struct linux_siginfo *info);
/* The temporary mask of ppoll, pselect6 and epoll_pwait: signal_wait_mask sets the current
 * thread's mask to `set` (SIGKILL and SIGSTOP stay unblocked) and keeps the old one;
 * signal_wait_mask_done puts it back now, or, if the wait was interrupted, after the handler's
 * frame is built (the frame records the old mask, so sigreturn restores it), as Linux does. */
void signal_wait_mask(uint64_t set);
void signal_wait_mask_done(int interrupted);
/* A POSIX timer's signal (si_code SI_TIMER) was just dequeued (linux/timer.c). */
void posix_timer_dequeued(struct linux_siginfo *info);
/* Frees t's queued signals. */
void signal_thread_exit(struct thread *t);
/* rt_sigreturn: restores the frame at the program's stack; returns the restored rax. */
long signal_return(struct regs *r);
/* The action table (rt_sigaction). */
extern struct linux_sigaction sig_actions[NSIG + 1];
