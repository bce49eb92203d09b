/* The scheduler: per-CPU run queues with a fair share of CPU time (sched/runq.h), turns enforced
 * by the APIC timer, wake-up preemption, an idle thread per CPU that halts it, and blocking
 * (thread_prepare_block / thread_block / thread_wake, in sched/wait.h), on every CPU started;
 * everything is under the run queue's lock. */
#pragma once
#include <stdint.h>

struct thread;

void sched_init(struct thread *main_thread);
/* Makes t runnable (queues it on the least loaded CPU): for a new thread. */
void sched_make_runnable(struct thread *t);
/* Ends the current thread (already off the thread list): switches away for good; its stack and
 * thread object are freed once the CPU is off them. */
__attribute__((noreturn)) void sched_exit_current(void);
/* Puts the current thread behind the others in its CPU's queue and runs them (sched_yield). */
void sched_yield_current(void);
/* TSC ticks the idle thread has been running (halted or about to halt), up to now: the CPU time
 * that is not the program's (core/cputime.c). */
uint64_t sched_idle_tsc(void);
/* Makes sure the timer interrupt comes by deadline_ns (CLOCK_MONOTONIC): for a new kernel timer. */
void sched_timer_at(uint64_t deadline_ns);
/* TSC ticks CPU `cpu`'s idle thread has been running, up to now. */
uint64_t sched_cpu_idle_tsc(unsigned cpu);
/* TSC ticks t has run, up to now (it may be running on another CPU). */
uint64_t sched_thread_tsc(const struct thread *t);
/* The number of CPUs taking threads, and their mask (bit n: CPU n). */
unsigned sched_ncpus(void);
uint64_t sched_cpus_mask(void);
/* Sets the CPUs t may run on (mask is cut to the CPUs there are); -EINVAL if none is left. A
 * running thread leaves a CPU no longer in its mask at once (itself) or at the IPI (others). */
int sched_set_affinity(struct thread *t, uint64_t mask);
uint64_t sched_get_affinity(const struct thread *t);
/* The reschedule IPI: an idle CPU has work, or the running thread has a signal or must move. */
void sched_resched_ipi(void);
/* An application processor's last step of bring-up: becomes its idle thread, takes threads. */
__attribute__((noreturn)) void sched_ap_start(void);
/* Called where the running thread may be switched out (the end of an interrupt taken with
 * interrupts enabled, or of a system call): switches if a woken thread asked to preempt it. */
void sched_preempt_point(void);
/* The timer interrupt: runs the kernel timers due and preempts a thread whose slice is over. */
void sched_timer_tick(void);

/* What sched_snapshot reports of a thread and of a CPU (core/threadreport.c answers the host's
 * `lwjvm:threads` with it). */
enum { SCHED_INFO_RUNNING, SCHED_INFO_QUEUED, SCHED_INFO_BLOCKED };
struct sched_thread_info {
    int tid, state;           /* SCHED_INFO_* */
    unsigned cpu;             /* the CPU it runs, is queued on, or last ran on */
    int in_syscall;
    uint64_t syscall_nr;
    uint64_t since_tsc;       /* running, queued or blocked since (TSC) */
    uint64_t wait_site;       /* blocked: the code that blocked (a return address) */
    const char *wait_on;      /* blocked: the queue's name, if it named one */
    uint64_t wait_deadline;   /* blocked: its deadline (CLOCK_MONOTONIC ns), 0 for none */
    uint64_t sig_pending, sig_mask;
    uint64_t cpu_ns;          /* CPU time it has had, its running turn included */
    char comm[16];            /* prctl(PR_SET_NAME)'s name, empty if it set none */
};
struct sched_cpu_info {
    int online;
    int current_tid;          /* -1: idle */
    unsigned queued;          /* threads in its run queue */
    uint64_t armed_ns;        /* its timer's deadline, 0: disarmed */
    uint64_t idle_ns;         /* time halted in its idle thread since boot */
};
/* Fills up to `max` threads' entries and one per CPU (smp_ncpus of them) in `cpus`; returns
 * how many threads there are (more than `max` if some were left out). Takes the thread list's
 * lock and the run queue's: not from code holding either. */
int sched_snapshot(struct sched_thread_info *threads, int max, struct sched_cpu_info *cpus);
