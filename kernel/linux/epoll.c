/* epoll: epoll_create, epoll_create1, epoll_ctl, epoll_wait, epoll_pwait, epoll_pwait2, and the
 * epoll file itself (pollable, so epolls nest). Each watched file has an item whose callback
 * entry sits on the file's wait queue: a wake puts the item on the epoll's ready list and wakes
 * one epoll_wait caller. Harvesting asks each ready item's file for its events again (file_poll),
 * so a wake only has to mean "may have changed". Level-triggered items go back on the ready list
 * after being reported, edge-triggered ones wait for the next wake, one-shot ones are disabled
 * until EPOLL_CTL_MOD. An item lives until EPOLL_CTL_DEL or until its file's last reference goes
 * (not at close of one descriptor), as on Linux.
 *
 * Locks: an epoll's mtx (sleeping) serialises changes of its interest list with harvesting and
 * with polls of the epoll file; its spinlock guards the ready list and each item's events and
 * on_rd; epoll_files_lock guards every file's list of items. */
#include "arch/x86_64/tsc.h"
#include "errno.h"
#include "fs/anon.h"
#include "fs/poll.h"
#include "lib/spinlock.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "sched/mutex.h"
#include "sched/sched.h"
#include "sched/thread.h"
#include "sched/wait.h"
#include "signal/signal.h"

#define EPOLL_CTL_ADD 1
#define EPOLL_CTL_DEL 2
#define EPOLL_CTL_MOD 3
#define EPOLL_CLOEXEC O_CLOEXEC
#define EP_PRIVATE_BITS (EPOLLWAKEUP | EPOLLONESHOT | EPOLLET | EPOLLEXCLUSIVE)
#define EPOLLEXCLUSIVE_OK_BITS \
    (EPOLLIN | EPOLLOUT | EPOLLERR | EPOLLHUP | EPOLLWAKEUP | EPOLLET | EPOLLEXCLUSIVE)
#define EP_MAX_NESTS 4
#define EP_MAX_EVENTS (0x7fffffff / 12)
/* Linux's fs.epoll.max_user_watches: 4 % of RAM divided by what an item costs it (an epitem and
 * an eppoll_entry, 200 bytes). Past it, EPOLL_CTL_ADD is ENOSPC: 1,024 epolls of 1,024
 * descriptors each would otherwise put a million items on the kernel heap. */
#define EP_ITEM_COST 200
static uint64_t nitems; /* items of every epoll (atomic) */
#define POLL_SNAPSHOT 32

struct epoll_event_abi {
    uint32_t events;
    uint64_t data;
} __attribute__((packed));
_Static_assert(sizeof(struct epoll_event_abi) == 12, "struct epoll_event");

struct epitem {
    struct epitem *next;      /* the epoll's interest list (ep->mtx) */
    struct epitem *file_next; /* the file's items (epoll_files_lock) */
    struct epitem *rd_next;   /* the ready list (ep->lock) */
    int on_rd;                /* on the ready list or being harvested (ep->lock) */
    struct epoll *ep;
    struct file *file;        /* no reference: the item goes when the file does */
    int fd;
    uint32_t events;          /* as set by epoll_ctl, with EPOLLERR|EPOLLHUP (ep->lock) */
    uint64_t data;
    struct wait_entry wait;   /* on the file's wait queue, if it has one */
};

struct epoll {
    struct spinlock lock; /* the ready list; each item's events and on_rd */
    struct mutex mtx;     /* the interest list */
    struct epitem *items;
    struct epitem *rd_head, *rd_tail;
    struct waitq wq;      /* epoll_wait callers (exclusive: one is woken per event) */
    struct waitq poll_wq; /* poll/select/epoll of the epoll file itself */
    struct file *file;
};

/* Guards every file's epitems list and each item's file_next. Taken inside ep->mtx. */
static struct spinlock epoll_files_lock = SPINLOCK_INIT("epoll files");
/* Serialises adding an epoll to an epoll, so the loop check sees a stable graph. */
static struct mutex epoll_nest_mtx = MUTEX_INIT("epoll nesting");

static const struct file_ops epoll_ops;

static int is_epoll(const struct file *f) { return f->ops == &epoll_ops; }

/* Appends it to the ready list (ep->lock held) unless it is there. */
static void rd_add_locked(struct epoll *ep, struct epitem *it)
{
    if (it->on_rd)
        return;
    it->on_rd = 1;
    it->rd_next = 0;
    if (ep->rd_tail)
        ep->rd_tail->rd_next = it;
    else
        ep->rd_head = it;
    ep->rd_tail = it;
}

/* Wakes one epoll_wait caller and every poller of the epoll file; returns how many woke. */
static int ep_wake(struct epoll *ep)
{
    return waitq_wake(&ep->wq, 1) + waitq_wake_all(&ep->poll_wq);
}

/* The callback on the watched file's queue (its lock held). An EPOLLEXCLUSIVE item reports a wake
 * only if someone waited on its epoll, so the file's wake goes on to the next exclusive epoll
 * when this one had nobody waiting (Linux's ep_poll_callback). */
static int ep_callback(struct wait_entry *w)
{
    struct epitem *it = w->owner;
    struct epoll *ep = it->ep;
    uint64_t fl = spin_lock_irqsave(&ep->lock);
    if (!(it->events & ~EP_PRIVATE_BITS)) { /* a one-shot item already reported */
        spin_unlock_irqrestore(&ep->lock, fl);
        return 0;
    }
    rd_add_locked(ep, it);
    spin_unlock_irqrestore(&ep->lock, fl);
    int woke = ep_wake(ep);
    return (w->flags & WAIT_ONE_OF) ? woke > 0 : 1;
}

static int events_available(struct epoll *ep)
{
    return __atomic_load_n(&ep->rd_head, __ATOMIC_ACQUIRE) != 0;
}

/* Polls it and puts it on the ready list if it has events it watches (ep->mtx held). */
static void ep_check(struct epoll *ep, struct epitem *it)
{
    uint32_t m = file_poll(it->file, 0);
    uint64_t fl = spin_lock_irqsave(&ep->lock);
    int ready = (m & it->events & ~EP_PRIVATE_BITS) != 0;
    if (ready)
        rd_add_locked(ep, it);
    spin_unlock_irqrestore(&ep->lock, fl);
    if (ready)
        ep_wake(ep);
}

/* Removes it from everything and frees it (ep->mtx held). */
static void ep_remove(struct epoll *ep, struct epitem *it)
{
    waitq_remove(&it->wait); /* after this the callback cannot run for it */
    uint64_t fl = spin_lock_irqsave(&ep->lock);
    if (it->on_rd) {
        for (struct epitem **pp = &ep->rd_head, *prev = 0; *pp; prev = *pp, pp = &(*pp)->rd_next) {
            if (*pp == it) {
                *pp = it->rd_next;
                if (ep->rd_tail == it)
                    ep->rd_tail = prev;
                break;
            }
        }
    }
    spin_unlock_irqrestore(&ep->lock, fl);
    for (struct epitem **pp = &ep->items; *pp; pp = &(*pp)->next) {
        if (*pp == it) {
            *pp = it->next;
            break;
        }
    }
    fl = spin_lock_irqsave(&epoll_files_lock);
    for (struct epitem **pp = &it->file->epitems; *pp; pp = &(*pp)->file_next) {
        if (*pp == it) {
            *pp = it->file_next;
            break;
        }
    }
    spin_unlock_irqrestore(&epoll_files_lock, fl);
    kfree(it);
    __atomic_sub_fetch(&nitems, 1, __ATOMIC_RELAXED);
}

/* A reference to f unless its last one is already gone. */
static int file_tryget(struct file *f)
{
    uint32_t c = __atomic_load_n(&f->refcount, __ATOMIC_RELAXED);
    while (c)
        if (__atomic_compare_exchange_n(&f->refcount, &c, c + 1, 0, __ATOMIC_ACQUIRE,
                                        __ATOMIC_RELAXED))
            return 1;
    return 0;
}

void epoll_file_release(struct file *f)
{
    for (;;) {
        uint64_t fl = spin_lock_irqsave(&epoll_files_lock);
        struct epitem *it = f->epitems;
        if (!it) {
            spin_unlock_irqrestore(&epoll_files_lock, fl);
            return;
        }
        struct epoll *ep = it->ep;
        int pinned = file_tryget(ep->file);
        spin_unlock_irqrestore(&epoll_files_lock, fl);
        if (!pinned) { /* that epoll is being released: it removes the item itself (it may be
                        * waiting for its mtx: let it run) */
            sched_yield_current();
            continue;
        }
        mutex_lock(&ep->mtx);
        fl = spin_lock_irqsave(&epoll_files_lock);
        int still = 0;
        for (struct epitem *e = f->epitems; e; e = e->file_next)
            still |= e == it;
        spin_unlock_irqrestore(&epoll_files_lock, fl);
        if (still)
            ep_remove(ep, it);
        mutex_unlock(&ep->mtx);
        file_put(ep->file);
    }
}

static void ep_release(struct file *f)
{
    struct epoll *ep = f->priv;
    mutex_lock(&ep->mtx);
    while (ep->items)
        ep_remove(ep, ep->items);
    mutex_unlock(&ep->mtx);
    kfree(ep);
}

/* The epoll file is readable when an item on its ready list really has events. */
static uint32_t ep_file_poll(struct file *f, struct waitq **wq)
{
    struct epoll *ep = f->priv;
    *wq = &ep->poll_wq;
    if (!events_available(ep))
        return 0;
    struct epitem *snap[POLL_SNAPSHOT];
    int n = 0, more = 0;
    mutex_lock(&ep->mtx); /* keeps the items alive */
    uint64_t fl = spin_lock_irqsave(&ep->lock);
    for (struct epitem *it = ep->rd_head; it; it = it->rd_next) {
        if (n == POLL_SNAPSHOT) {
            more = 1;
            break;
        }
        snap[n++] = it;
    }
    spin_unlock_irqrestore(&ep->lock, fl);
    int ready = more;
    for (int i = 0; i < n && !ready; i++)
        ready = (file_poll(snap[i]->file, 0) & snap[i]->events & ~EP_PRIVATE_BITS) != 0;
    mutex_unlock(&ep->mtx);
    return ready ? EPOLLIN | EPOLLRDNORM : 0;
}

/* An epoll file is neither read nor written: EINVAL, as Linux. */
static int64_t ep_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
    return -EINVAL;
}

static int64_t ep_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
    return -EINVAL;
}

static const struct file_ops epoll_ops = {
    .read = ep_read, .write = ep_write, .release = ep_release, .poll = ep_file_poll};

static long do_epoll_create(int flags)
{
    if (flags & ~EPOLL_CLOEXEC)
        return -EINVAL;
    struct epoll *ep = kzalloc(sizeof *ep);
    if (!ep)
        return -ENOMEM;
    ep->lock = (struct spinlock)SPINLOCK_INIT("epoll");
    mutex_init(&ep->mtx, "epoll mtx");
    waitq_init(&ep->wq, "epoll waiters");
    waitq_init(&ep->poll_wq, "epoll pollers");
    struct file *f = anon_file_new("eventpoll", &epoll_ops, O_RDWR, ep);
    if (!f) {
        kfree(ep);
        return -ENOMEM;
    }
    ep->file = f;
    int fd = fd_install(f, 0, (flags & EPOLL_CLOEXEC) != 0);
    if (fd < 0)
        file_put(f);
    return fd;
}

SYS(epoll_create1) { UNUSED_ARGS(); return do_epoll_create((int)a0); }

SYS(epoll_create)
{
    UNUSED_ARGS();
    if ((int)a0 <= 0)
        return -EINVAL;
    return do_epoll_create(0);
}

/* How deep the epolls under ep go (0: none); a path back to `target` counts as too deep. */
static int depth_down(struct epoll *ep, struct epoll *target, int level)
{
    if (ep == target || level > EP_MAX_NESTS)
        return EP_MAX_NESTS + 1;
    int d = 0;
    for (struct epitem *it = ep->items; it; it = it->next) {
        if (!is_epoll(it->file))
            continue;
        int sub = 1 + depth_down(it->file->priv, target, level + 1);
        if (sub > d)
            d = sub;
    }
    return d;
}

/* How many epolls watch ep, one inside the other, at most (epoll_files_lock held). */
static int depth_up(struct epoll *ep, int level)
{
    if (level > EP_MAX_NESTS)
        return EP_MAX_NESTS + 1;
    int d = 0;
    for (struct epitem *it = ep->file->epitems; it; it = it->file_next) {
        int up = 1 + depth_up(it->ep, level + 1);
        if (up > d)
            d = up;
    }
    return d;
}

static long ep_insert(struct epoll *ep, struct file *tf, int fd, const struct epoll_event_abi *ev)
{
    uint64_t max = palloc_total_pages() * 4096 / 25 / EP_ITEM_COST;
    if (__atomic_add_fetch(&nitems, 1, __ATOMIC_RELAXED) > max) {
        __atomic_sub_fetch(&nitems, 1, __ATOMIC_RELAXED);
        return -ENOSPC;
    }
    struct epitem *it = kzalloc(sizeof *it);
    if (!it) {
        __atomic_sub_fetch(&nitems, 1, __ATOMIC_RELAXED);
        return -ENOMEM;
    }
    it->ep = ep;
    it->file = tf;
    it->fd = fd;
    it->events = ev->events | EPOLLERR | EPOLLHUP;
    it->data = ev->data;
    wait_entry_callback(&it->wait, ep_callback, it,
                        (ev->events & EPOLLEXCLUSIVE) ? WAIT_ONE_OF : 0);
    it->next = ep->items;
    ep->items = it;
    uint64_t fl = spin_lock_irqsave(&epoll_files_lock);
    it->file_next = tf->epitems;
    tf->epitems = it;
    spin_unlock_irqrestore(&epoll_files_lock, fl);
    struct waitq *wq = 0;
    file_poll(tf, &wq);
    if (wq)
        waitq_add(wq, &it->wait);
    ep_check(ep, it); /* after queueing: a change in between is not missed */
    return 0;
}

static long ep_modify(struct epoll *ep, struct epitem *it, const struct epoll_event_abi *ev)
{
    uint64_t fl = spin_lock_irqsave(&ep->lock);
    it->events = ev->events | EPOLLERR | EPOLLHUP;
    it->data = ev->data;
    spin_unlock_irqrestore(&ep->lock, fl);
    ep_check(ep, it);
    return 0;
}

static long epoll_ctl(struct file *epf, int op, struct file *tf, int fd, struct epoll_event_abi *ev)
{
    if (!tf->ops->poll)
        return -EPERM; /* regular files and directories cannot be watched */
    if (epf == tf || !is_epoll(epf))
        return -EINVAL;
    if (op != EPOLL_CTL_DEL && (ev->events & EPOLLEXCLUSIVE)) {
        if (op == EPOLL_CTL_MOD)
            return -EINVAL;
        if (op == EPOLL_CTL_ADD && (is_epoll(tf) || (ev->events & ~EPOLLEXCLUSIVE_OK_BITS)))
            return -EINVAL;
    }
    struct epoll *ep = epf->priv;
    int nest = op == EPOLL_CTL_ADD && is_epoll(tf);
    if (nest)
        mutex_lock(&epoll_nest_mtx);
    mutex_lock(&ep->mtx);
    long rc = 0;
    if (nest) {
        int down = depth_down(tf->priv, ep, 0);
        uint64_t fl = spin_lock_irqsave(&epoll_files_lock);
        int up = depth_up(ep, 0);
        spin_unlock_irqrestore(&epoll_files_lock, fl);
        if (down > EP_MAX_NESTS || down + 1 + up > EP_MAX_NESTS)
            rc = -ELOOP;
    }
    struct epitem *it = 0;
    for (struct epitem *e = ep->items; e && !rc; e = e->next)
        if (e->file == tf && e->fd == fd)
            it = e;
    if (!rc) {
        switch (op) {
        case EPOLL_CTL_ADD:
            rc = it ? -EEXIST : ep_insert(ep, tf, fd, ev);
            break;
        case EPOLL_CTL_DEL:
            if (it)
                ep_remove(ep, it);
            else
                rc = -ENOENT;
            break;
        case EPOLL_CTL_MOD:
            rc = !it ? -ENOENT : (it->events & EPOLLEXCLUSIVE) ? -EINVAL : ep_modify(ep, it, ev);
            break;
        default:
            rc = -EINVAL;
        }
    }
    mutex_unlock(&ep->mtx);
    if (nest)
        mutex_unlock(&epoll_nest_mtx);
    return rc;
}

SYS(epoll_ctl)
{
    UNUSED_ARGS();
    int op = (int)a1, fd = (int)a2;
    struct epoll_event_abi ev = {0, 0};
    if (op != EPOLL_CTL_DEL && copy_from_user(&ev, (const void *)a3, sizeof ev))
        return -EFAULT;
    struct file *epf = fd_file((int)a0);
    if (!epf)
        return -EBADF;
    struct file *tf = fd_file(fd);
    if (!tf) {
        file_put(epf);
        return -EBADF;
    }
    long rc = epoll_ctl(epf, op, tf, fd, &ev);
    file_put(tf);
    file_put(epf);
    return rc;
}

/* Reports up to maxevents ready items to the program; returns how many, or -EFAULT if none
 * could be written. */
static long send_events(struct epoll *ep, uint64_t uevents, int maxevents)
{
    mutex_lock(&ep->mtx);
    uint64_t fl = spin_lock_irqsave(&ep->lock);
    struct epitem *tx = ep->rd_head; /* taken whole; items keep on_rd while on it */
    ep->rd_head = ep->rd_tail = 0;
    spin_unlock_irqrestore(&ep->lock, fl);
    long n = 0;
    while (tx && n < maxevents) {
        struct epitem *it = tx;
        tx = it->rd_next;
        fl = spin_lock_irqsave(&ep->lock);
        it->on_rd = 0; /* a wake from now on queues it again */
        uint32_t want = it->events;
        spin_unlock_irqrestore(&ep->lock, fl);
        uint32_t m = file_poll(it->file, 0) & want & ~EP_PRIVATE_BITS;
        if (!m)
            continue;
        struct epoll_event_abi ev = {m, it->data};
        if (copy_to_user((char *)uevents + n * sizeof ev, &ev, sizeof ev)) {
            fl = spin_lock_irqsave(&ep->lock);
            rd_add_locked(ep, it);
            spin_unlock_irqrestore(&ep->lock, fl);
            if (!n)
                n = -EFAULT;
            break;
        }
        n++;
        fl = spin_lock_irqsave(&ep->lock);
        if (want & EPOLLONESHOT)
            it->events &= EP_PRIVATE_BITS;
        else if (!(want & EPOLLET))
            rd_add_locked(ep, it); /* level-triggered: asked again next time */
        spin_unlock_irqrestore(&ep->lock, fl);
    }
    /* What was not reached goes back, in front, in order. */
    if (tx) {
        fl = spin_lock_irqsave(&ep->lock);
        struct epitem *last = tx;
        while (last->rd_next)
            last = last->rd_next;
        last->rd_next = ep->rd_head;
        if (!ep->rd_head)
            ep->rd_tail = last;
        ep->rd_head = tx;
        spin_unlock_irqrestore(&ep->lock, fl);
    }
    mutex_unlock(&ep->mtx);
    return n;
}

static long ep_wait(struct epoll *ep, uint64_t uevents, int maxevents, uint64_t deadline, int nowait)
{
    int timed_out = nowait;
    for (;;) {
        if (events_available(ep)) {
            long n = send_events(ep, uevents, maxevents);
            if (n)
                return n;
        }
        if (timed_out)
            return 0;
        struct wait_entry w;
        wait_entry_thread(&w, current(), WAIT_EXCLUSIVE);
        thread_prepare_block();
        current()->wait_on = "epoll";
        waitq_add(&ep->wq, &w);
        if (events_available(ep)) {
            thread_unblock();
            waitq_remove(&w);
            continue;
        }
        int rc = thread_block(deadline);
        waitq_remove(&w);
        if (rc == -ETIMEDOUT) {
            timed_out = 1;
        } else if (rc == -EINTR) {
            long n = events_available(ep) ? send_events(ep, uevents, maxevents) : 0;
            return n ? n : -EINTR;
        }
    }
}

static long do_epoll_wait(int epfd, uint64_t uevents, int maxevents, uint64_t deadline, int nowait)
{
    if (maxevents <= 0 || maxevents > EP_MAX_EVENTS)
        return -EINVAL;
    uint64_t size = (uint64_t)maxevents * sizeof(struct epoll_event_abi);
    if (uevents >= USER_TOP || size > USER_TOP - uevents)
        return -EFAULT;
    struct file *f = fd_file(epfd);
    if (!f)
        return -EBADF;
    long rc = is_epoll(f) ? ep_wait(f->priv, uevents, maxevents, deadline, nowait) : -EINVAL;
    file_put(f);
    return rc;
}

static void ms_deadline(int ms, uint64_t *deadline, int *nowait)
{
    *deadline = 0;
    *nowait = ms == 0;
    if (ms > 0)
        *deadline = tsc_ns_since_boot() + (uint64_t)ms * 1000000ull;
}

long poll_set_sigmask(uint64_t umask, uint64_t size);

SYS(epoll_wait)
{
    UNUSED_ARGS();
    uint64_t deadline;
    int nowait;
    ms_deadline((int)a3, &deadline, &nowait);
    return do_epoll_wait((int)a0, a1, (int)a2, deadline, nowait);
}

SYS(epoll_pwait)
{
    UNUSED_ARGS();
    uint64_t deadline;
    int nowait;
    ms_deadline((int)a3, &deadline, &nowait);
    long rc = poll_set_sigmask(a4, a5);
    if (rc)
        return rc;
    rc = do_epoll_wait((int)a0, a1, (int)a2, deadline, nowait);
    signal_wait_mask_done(rc == -EINTR);
    return rc;
}

SYS(epoll_pwait2)
{
    UNUSED_ARGS();
    uint64_t deadline = 0;
    int nowait = 0;
    if (a3) {
        struct timespec64 ts;
        if (copy_from_user(&ts, (const void *)a3, sizeof ts))
            return -EFAULT;
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
            return -EINVAL;
        nowait = !ts.sec && !ts.nsec;
        if (ts.sec <= (int64_t)(1ull << 34))
            deadline = tsc_ns_since_boot() + (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
    }
    long rc = poll_set_sigmask(a4, a5);
    if (rc)
        return rc;
    rc = do_epoll_wait((int)a0, a1, (int)a2, deadline, nowait);
    signal_wait_mask_done(rc == -EINTR);
    return rc;
}
