/* Wait queues (see sched/wait.h): locked lists of wait entries, and waiting on one queue. The
 * blocking itself (thread_prepare_block, thread_block, thread_wake) is the scheduler's. */
#include "sched/wait.h"
#include "errno.h"
#include "sched/thread.h"

void waitq_init(struct waitq *wq, const char *name)
{
    *wq = (struct waitq)WAITQ_INIT(name);
}

static int wake_thread_entry(struct wait_entry *e)
{
    thread_wake(e->owner, 0);
    return 1;
}

void wait_entry_thread(struct wait_entry *e, struct thread *t, uint32_t flags)
{
    *e = (struct wait_entry){0, 0, 0, wake_thread_entry, t, flags};
}

void wait_entry_callback(struct wait_entry *e, wake_fn fn, void *owner, uint32_t flags)
{
    *e = (struct wait_entry){0, 0, 0, fn, owner, flags};
}

void waitq_add(struct waitq *wq, struct wait_entry *e)
{
    uint64_t fl = spin_lock_irqsave(&wq->lock);
    e->wq = wq;
    e->next = 0;
    e->prev = wq->tail;
    if (wq->tail)
        wq->tail->next = e;
    else
        wq->head = e;
    wq->tail = e;
    spin_unlock_irqrestore(&wq->lock, fl);
}

void waitq_remove(struct wait_entry *e)
{
    struct waitq *wq = __atomic_load_n(&e->wq, __ATOMIC_ACQUIRE);
    if (!wq)
        return;
    uint64_t fl = spin_lock_irqsave(&wq->lock);
    if (e->prev)
        e->prev->next = e->next;
    else
        wq->head = e->next;
    if (e->next)
        e->next->prev = e->prev;
    else
        wq->tail = e->prev;
    e->next = e->prev = 0;
    e->wq = 0;
    spin_unlock_irqrestore(&wq->lock, fl);
}

int waitq_active(struct waitq *wq)
{
    /* Orders the caller's change of the condition before the look at the list (the waiter
     * orders its entry before its look at the condition), as Linux's wq_has_sleeper. */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return __atomic_load_n(&wq->head, __ATOMIC_RELAXED) != 0;
}

int waitq_wake(struct waitq *wq, int n)
{
    if (!waitq_active(wq))
        return 0; /* the common case of a write nobody waits for: no lock taken */
    int woken = 0, one_of_done = 0;
    uint64_t fl = spin_lock_irqsave(&wq->lock);
    for (struct wait_entry *e = wq->head, *next; e; e = next) {
        next = e->next;
        if ((e->flags & WAIT_ONE_OF) && one_of_done)
            continue;
        int r = e->wake(e);
        woken += r;
        if (r && (e->flags & WAIT_ONE_OF))
            one_of_done = 1;
        if (r && (e->flags & WAIT_EXCLUSIVE) && --n <= 0)
            break;
    }
    spin_unlock_irqrestore(&wq->lock, fl);
    return woken;
}

int waitq_wait_unlock(struct waitq *wq, struct spinlock *lock, uint64_t flags, uint64_t deadline_ns)
{
    struct wait_entry e;
    wait_entry_thread(&e, current(), WAIT_EXCLUSIVE);
    thread_prepare_block();
    current()->wait_on = wq->lock.name;
    waitq_add(wq, &e);
    if (lock)
        spin_unlock_irqrestore(lock, flags);
    int rc = thread_block(deadline_ns);
    waitq_remove(&e);
    return rc;
}
