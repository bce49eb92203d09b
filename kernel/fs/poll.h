/* Readiness: the EPOLL* event bits file_ops.poll reports (Linux's values; poll's POLL* bits are
 * the same numbers) and file_poll, the one way to ask a file for them. poll, select, epoll and
 * blocking reads all use it. */
#pragma once
#include <stdint.h>

#include "fs/vfs.h"

#define EPOLLIN 0x001
#define EPOLLPRI 0x002
#define EPOLLOUT 0x004
#define EPOLLERR 0x008
#define EPOLLHUP 0x010
#define EPOLLNVAL 0x020
#define EPOLLRDNORM 0x040
#define EPOLLRDBAND 0x080
#define EPOLLWRNORM 0x100
#define EPOLLWRBAND 0x200
#define EPOLLMSG 0x400
#define EPOLLRDHUP 0x2000
#define EPOLLEXCLUSIVE (1u << 28)
#define EPOLLWAKEUP (1u << 29)
#define EPOLLONESHOT (1u << 30)
#define EPOLLET (1u << 31)

/* What a file without a poll operation reports (regular files, /dev/null): always ready. */
#define DEFAULT_POLLMASK (EPOLLIN | EPOLLOUT | EPOLLRDNORM | EPOLLWRNORM)

/* The events f has now; *wq (if wq is not 0) gets the queue woken when they change, or 0 if
 * they never do. */
static inline uint32_t file_poll(struct file *f, struct waitq **wq)
{
    struct waitq *dummy;
    if (!wq)
        wq = &dummy;
    *wq = 0;
    return f->ops->poll ? f->ops->poll(f, wq) : DEFAULT_POLLMASK;
}
