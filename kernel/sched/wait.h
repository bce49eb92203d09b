/* Wait queues and blocking: the one mechanism every wait goes through (futex, sleeps, pipe and
 * socket reads, poll, select, epoll). A waitq is a locked list of entries; an entry is either a
 * thread waiting (woken by making it runnable) or a callback (epoll's, run by the waker). A thread
 * may have entries on several queues at once (poll). Lost wake-ups are impossible because a thread
 * announces it is about to block (thread_prepare_block) before it checks its condition: a wake
 * from then on makes its thread_block return at once.
 *
 * The pattern for a file with its own lock, one queue:
 *     uint64_t fl = spin_lock_irqsave(&p->lock);
 *     while (!condition) {
 *         int rc = waitq_wait_unlock(&p->wq, &p->lock, fl, WAIT_FOREVER);
 *         fl = spin_lock_irqsave(&p->lock);
 *         if (rc == -EINTR) ...
 *     }
 * and a waker changes the state under p->lock, then calls waitq_wake_all(&p->wq). */
#pragma once
#include <stdint.h>

#include "lib/spinlock.h"

struct thread;
struct wait_entry;

/* Called by a waker with the queue's lock held (it must not take that lock again, nor block).
 * Returns 1 if it woke someone (counts against waitq_wake's n for exclusive entries), else 0. */
typedef int (*wake_fn)(struct wait_entry *e);

#define WAIT_EXCLUSIVE 1u /* counts against waitq_wake's n (plain waiters) */
#define WAIT_ONE_OF 2u    /* of these, one wake per waitq_wake that reports one (EPOLLEXCLUSIVE) */

struct wait_entry {
    struct wait_entry *next, *prev; /* in wq's list */
    struct waitq *wq;               /* the queue it is on, 0 when on none */
    wake_fn wake;
    void *owner;                    /* the thread for thread entries, the callback's object */
    uint32_t flags;                 /* WAIT_EXCLUSIVE */
};

struct waitq {
    struct spinlock lock;    /* guards the entry list and every entry's links */
    struct wait_entry *head, *tail; /* in arrival order */
};

/* A waitq may also be zero-initialised (it then has no lock name for the panic message). */
#define WAITQ_INIT(name) {SPINLOCK_INIT(name), 0, 0}
#define WAIT_FOREVER 0

void waitq_init(struct waitq *wq, const char *name);

/* Entries. wait_entry_thread makes e wake thread t (thread_wake(t, 0)). */
void wait_entry_thread(struct wait_entry *e, struct thread *t, uint32_t flags);
void wait_entry_callback(struct wait_entry *e, wake_fn fn, void *owner, uint32_t flags);
/* Appends e to wq. e must be on no queue. */
void waitq_add(struct waitq *wq, struct wait_entry *e);
/* Takes e off its queue; nothing happens if it is on none. Once this returns, e's wake function
 * is not running and will not run again. */
void waitq_remove(struct wait_entry *e);
/* 1 if some entry is on wq (a hint: it may change at once). */
int waitq_active(struct waitq *wq);

/* Wakes every non-exclusive entry, up to n exclusive ones (oldest first) and the WAIT_ONE_OF
 * entries until one of them reports a wake; returns how many entries reported a wake. The only
 * call a file makes when its readiness may have changed. */
int waitq_wake(struct waitq *wq, int n);
static inline int waitq_wake_all(struct waitq *wq) { return waitq_wake(wq, 0x7fffffff); }

/* Blocking the current thread (sched/sched.c). */
/* From now on the current thread counts as blocked: a thread_wake makes the coming thread_block
 * return at once. Then check the condition; if it holds already, call thread_unblock. */
void thread_prepare_block(void);
/* The condition held after thread_prepare_block: the thread goes on running. */
void thread_unblock(void);
/* Blocks (after thread_prepare_block) until woken, the monotonic clock reaches deadline_ns
 * (WAIT_FOREVER for none) or a signal the thread does not block is pending. Returns 0 when
 * woken, -ETIMEDOUT, or -EINTR. Callers recheck their condition in a loop. */
int thread_block(uint64_t deadline_ns);
/* thread_block with no deadline that a pending signal does not end (a signal still wakes it:
 * callers loop until their condition holds). */
void thread_block_nointr(void);
/* Wakes t if it is blocked (or about to block): its thread_block returns `reason` (0,
 * -ETIMEDOUT, -EINTR). Safe from any context, with any lock but the run queue's held. */
void thread_wake(struct thread *t, int reason);

/* One queue: adds a thread entry for the current thread to wq, releases `lock` (taken with
 * spin_lock_irqsave, which returned `flags`; 0 for none), blocks, and takes the entry off again.
 * The caller checked its condition under `lock`; the waker changes it under that lock too, so no
 * wake-up is lost. Returns as thread_block; `lock` is not held on return. */
int waitq_wait_unlock(struct waitq *wq, struct spinlock *lock, uint64_t flags, uint64_t deadline_ns);
/* waitq_wait_unlock without a lock: only for waits whose end is a signal, the deadline or a
 * waitq_wake that cannot come before the wait (sleeps, sigsuspend). */
static inline int waitq_wait(struct waitq *wq, uint64_t deadline_ns)
{
    return waitq_wait_unlock(wq, 0, 0, deadline_ns);
}
