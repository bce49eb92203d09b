/* Sleeping locks (see sched/mutex.h). */
#include "sched/mutex.h"
#include "sched/thread.h"

void mutex_init(struct mutex *m, const char *name) { *m = (struct mutex)MUTEX_INIT(name); }

void mutex_lock(struct mutex *m)
{
    uint64_t fl = spin_lock_irqsave(&m->lock);
    while (m->locked) {
        struct wait_entry e;
        wait_entry_thread(&e, current(), WAIT_EXCLUSIVE);
        thread_prepare_block();
        current()->wait_on = m->lock.name;
        waitq_add(&m->wq, &e);
        spin_unlock_irqrestore(&m->lock, fl);
        thread_block_nointr();
        waitq_remove(&e);
        fl = spin_lock_irqsave(&m->lock);
    }
    m->locked = 1;
    spin_unlock_irqrestore(&m->lock, fl);
}

void mutex_unlock(struct mutex *m)
{
    uint64_t fl = spin_lock_irqsave(&m->lock);
    m->locked = 0;
    spin_unlock_irqrestore(&m->lock, fl);
    waitq_wake(&m->wq, 1);
}
