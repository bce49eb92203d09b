/* Wait queues (see sched/wait.h) and waking blocked threads. */
#include "sched/wait.h"
#include "errno.h"
#include "sched/sched.h"
#include "sched/thread.h"
#include "signal/signal.h"

static void wq_remove(struct waitq *wq, struct thread *t)
{
    for (struct thread **pp = &wq->head; *pp; pp = &(*pp)->wait_next) {
        if (*pp == t) {
            *pp = t->wait_next;
            t->wait_next = 0;
            return;
        }
    }
}

void thread_wake(struct thread *t, int reason)
{
    if (t->state != THREAD_BLOCKED)
        return;
    if (t->wq)
        wq_remove(t->wq, t);
    t->wq = 0;
    t->deadline_ns = 0;
    t->wake_reason = reason;
    sched_make_runnable(t);
}

int waitq_wait(struct waitq *wq, uint64_t deadline_ns)
{
    struct thread *t = current();
    if (signal_pending(t))
        return -EINTR;
    t->state = THREAD_BLOCKED;
    t->wq = wq;
    t->wait_next = 0;
    struct thread **pp = &wq->head;
    while (*pp)
        pp = &(*pp)->wait_next;
    *pp = t;
    t->deadline_ns = deadline_ns;
    t->wake_reason = 0;
    schedule();
    return t->wake_reason;
}

int waitq_wake(struct waitq *wq, int n)
{
    int woken = 0;
    while (woken < n && wq->head) {
        thread_wake(wq->head, 0);
        woken++;
    }
    return woken;
}
