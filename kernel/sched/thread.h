/* Threads of the program: each has a kernel stack (its user frame sits at the top while it is in
 * the kernel), saved FPU/vector state, its TLS base, scheduling and signal state. */
#pragma once
#include <stdint.h>
#include "arch/x86_64/percpu.h"
#include "core/timer.h"
#include "signal/sigtypes.h"

struct file;
struct regs;
struct waitq;

#define KSTACK_SIZE 16384

enum thread_state { THREAD_RUNNABLE, THREAD_BLOCKED, THREAD_DEAD };

struct thread {
    int tid;
    enum thread_state state;
    uint64_t kstack;          /* base of the kernel stack (KSTACK_SIZE bytes) */
    uint64_t ksp;             /* saved kernel stack pointer while switched out */
    struct regs *frame;       /* the user frame of the syscall or trap being handled */
    uint64_t syscall_nr;      /* the syscall being handled (for restarts) */
    void *fpu;                /* XSAVE area (cpu_features.xsave_size bytes, 64-aligned) */
    uint64_t fs_base, user_gs_base;
    uint64_t clear_child_tid; /* set_tid_address / CLONE_CHILD_CLEARTID */
    uint64_t robust_list, robust_len;
    char comm[16];            /* prctl(PR_SET_NAME); empty: the executable's base name */

    /* Under the run queue's lock (sched/sched.c): state, run_next, queued, vruntime, on_cpu,
     * cpu, affinity, wake_reason. */
    struct thread *run_next;  /* in its CPU's run queue (sched/runq.c) */
    int queued;               /* in the run queue of CPU `cpu` */
    int64_t vruntime;         /* CPU time had, in its CPU queue's scale (ns): the least runs next */
    int on_cpu;               /* running, or not yet switched away from */
    unsigned cpu;             /* the CPU it runs or last ran on */
    uint64_t affinity;        /* the CPUs it may run on (bit n: CPU n) */
    int wake_reason;          /* what ended the last block: 0, -ETIMEDOUT, -EINTR */
    /* What it is doing, for the host's `lwjvm:threads` (core/threadreport.c): since when it
     * runs, waits in a run queue or is blocked (TSC), and for a block the code that blocked
     * (a return address), the queue's name if it waits on one, and the deadline (0: none). */
    uint64_t since_tsc;
    uint64_t wait_site;
    const char *wait_on;
    uint64_t wait_deadline;
    int in_syscall;           /* between a system call's entry and its return (syscall_nr) */
    struct ktimer wait_timer; /* the deadline of a timed block */
    struct thread *all_next;  /* every live thread (under the thread list's lock) */

    uint64_t cpu_ns;          /* time spent running */
    uint64_t cpu_tsc;         /* the same in TSC ticks, up to the last switch */
    uint64_t slice_start;     /* TSC when last scheduled in */

    struct thread_signals sig;

    /* Files fd_get lent to the syscall in progress: a reference each, dropped as it returns
     * (thread_put_held), so a descriptor closed by another thread meanwhile cannot free them. */
    struct file *held[8];
    int nheld;

    void (*kernel_fn)(void); /* a kernel thread's body (thread_create_kernel), else 0 */
};

static inline struct thread *current(void) { return percpu()->current; }

/* Creates the first thread (tid 1), makes it current and sets up the scheduler. */
struct thread *thread_create_main(void);
/* Creates a thread that will return to the program with the user frame `frame` (copied); it
 * runs once thread_start is called. Returns 0 when memory is exhausted. */
struct thread *thread_create(const struct regs *frame);
/* Creates and starts a thread of the kernel's own that runs fn() in ring 0 as system calls run
 * (interrupts off, switching away where it blocks): a worker that sleeps on disk I/O and locks. It is not one of the program's threads: tid 0,
 * not listed, counted or sent signals. fn never returns. Returns 0 when memory is exhausted. */
struct thread *thread_create_kernel(void (*fn)(void));
/* Makes a thread from thread_create runnable. */
void thread_start(struct thread *t);
/* The thread with id tid, or 0. */
struct thread *thread_find(int tid);
/* The number of live threads. */
int thread_count(void);
/* Linux's kernel.threads-max: a thread's kernel stack and state per 8 stacks of RAM (2,048
 * threads in 256 MiB), at least 20; clone past it is EAGAIN, before the kernel heap runs dry. */
uint64_t thread_max(void);
/* The first live thread, for walking all_next: the list may change under a walker that does not
 * hold the thread list's lock, so new code uses thread_each. */
struct thread *thread_first(void);
/* Calls fn(t, arg) for every live thread, under the thread list's lock (fn must not create or
 * end threads), until fn returns nonzero; returns that value or 0. */
int thread_each(int (*fn)(struct thread *t, void *arg), void *arg);
/* Keeps a reference to f until the current syscall returns; 0 if there is no room (the caller
 * then keeps none). */
int thread_hold_file(struct file *f);
/* Drops the references thread_hold_file kept (at the end of every syscall). */
void thread_put_held(struct thread *t);
/* Ends the current thread: it never runs again; the last thread ends the VM with `code`. */
__attribute__((noreturn)) void thread_exit(int code);
