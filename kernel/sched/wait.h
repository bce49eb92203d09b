/* Wait queues: the one mechanism every blocking wait goes through (futex, sleep, pipe and socket
 * reads, poll). The kernel runs with interrupts off, so "check the condition, then wait" cannot
 * miss a wake-up between the two steps. */
#pragma once
#include <stdint.h>

struct thread;

struct waitq {
    struct thread *head; /* threads waiting, in arrival order (linked through thread.wait_next) */
};

#define WAIT_FOREVER 0

/* Blocks the current thread on wq until it is woken, the monotonic clock reaches deadline_ns
 * (WAIT_FOREVER for none), or a signal is pending for it. Returns 0 when woken, -ETIMEDOUT, or
 * -EINTR. Callers recheck their condition in a loop. */
int waitq_wait(struct waitq *wq, uint64_t deadline_ns);
/* Wakes up to n waiters (oldest first); returns how many were woken. */
int waitq_wake(struct waitq *wq, int n);
/* Wakes one blocked thread wherever it waits; its wait returns `reason` (0, -ETIMEDOUT, -EINTR). */
void thread_wake(struct thread *t, int reason);
static inline int waitq_wake_all(struct waitq *wq) { return waitq_wake(wq, 0x7fffffff); }
