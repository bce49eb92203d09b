/* Sleeping locks: for state held across work that may itself wait or take a while (epoll's
 * interest set while it polls its files and copies events to the program). A thread that finds
 * it held blocks until it is released; signals do not interrupt the wait. Never taken by a waker
 * or in an interrupt. */
#pragma once
#include "lib/spinlock.h"
#include "sched/wait.h"

struct mutex {
    struct spinlock lock; /* guards locked */
    int locked;
    struct waitq wq;      /* threads waiting for it */
};

#define MUTEX_INIT(name) {SPINLOCK_INIT(name), 0, WAITQ_INIT(name)}

void mutex_init(struct mutex *m, const char *name);
void mutex_lock(struct mutex *m);
void mutex_unlock(struct mutex *m);
