/* eventfd and eventfd2: a 64-bit counter as a file. A write adds to it (waiting while it would
 * pass 2^64 - 2); a read takes all of it, or 1 in semaphore mode (waiting while it is 0). Readers
 * and writers wait on the eventfd's one queue, which poll, select and epoll wait on too; it is
 * woken at every change. Java NIO's Selector wakes its epoll_wait through one. */
#include "errno.h"
#include "fs/anon.h"
#include "fs/poll.h"
#include "lib/spinlock.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"
#include "sched/wait.h"

#define EFD_SEMAPHORE 1
#define EFD_CLOEXEC O_CLOEXEC
#define EFD_NONBLOCK O_NONBLOCK
#define COUNT_MAX 0xfffffffffffffffeull /* ULLONG_MAX - 1 */

struct eventfd {
    struct spinlock lock; /* guards count */
    uint64_t count;
    int semaphore;
    struct waitq wq;
};

static struct eventfd *efd_of(struct file *f) { return f->priv; }

static int64_t efd_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    struct eventfd *e = efd_of(f);
    if (len < 8)
        return -EINVAL;
    uint64_t fl = spin_lock_irqsave(&e->lock);
    while (!e->count) {
        if (f->flags & O_NONBLOCK) {
            spin_unlock_irqrestore(&e->lock, fl);
            return -EAGAIN;
        }
        int rc = waitq_wait_unlock(&e->wq, &e->lock, fl, WAIT_FOREVER);
        fl = spin_lock_irqsave(&e->lock);
        if (rc == -EINTR && !e->count) {
            spin_unlock_irqrestore(&e->lock, fl);
            return -ERESTARTSYS;
        }
    }
    uint64_t v = e->semaphore ? 1 : e->count;
    e->count -= v;
    spin_unlock_irqrestore(&e->lock, fl);
    waitq_wake_all(&e->wq);
    return copy_to_user(ubuf, &v, sizeof v) ? -EFAULT : 8;
}

static int64_t efd_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    struct eventfd *e = efd_of(f);
    uint64_t v;
    if (len < 8)
        return -EINVAL;
    if (copy_from_user(&v, ubuf, sizeof v))
        return -EFAULT;
    if (v == ~0ull)
        return -EINVAL;
    uint64_t fl = spin_lock_irqsave(&e->lock);
    while (COUNT_MAX - e->count < v) {
        if (f->flags & O_NONBLOCK) {
            spin_unlock_irqrestore(&e->lock, fl);
            return -EAGAIN;
        }
        int rc = waitq_wait_unlock(&e->wq, &e->lock, fl, WAIT_FOREVER);
        fl = spin_lock_irqsave(&e->lock);
        if (rc == -EINTR && COUNT_MAX - e->count < v) {
            spin_unlock_irqrestore(&e->lock, fl);
            return -ERESTARTSYS;
        }
    }
    e->count += v;
    spin_unlock_irqrestore(&e->lock, fl);
    if (v)
        waitq_wake_all(&e->wq);
    return 8;
}

static uint32_t efd_poll(struct file *f, struct waitq **wq)
{
    struct eventfd *e = efd_of(f);
    *wq = &e->wq;
    uint64_t count = __atomic_load_n(&e->count, __ATOMIC_ACQUIRE);
    uint32_t mask = 0;
    if (count > 0)
        mask |= EPOLLIN | EPOLLRDNORM;
    if (count == ~0ull)
        mask |= EPOLLERR;
    if (count < COUNT_MAX)
        mask |= EPOLLOUT | EPOLLWRNORM;
    return mask;
}

static void efd_release(struct file *f) { kfree(efd_of(f)); }

static const struct file_ops eventfd_ops = {
    .read = efd_read, .write = efd_write, .release = efd_release, .poll = efd_poll};

static long do_eventfd2(uint64_t initval, uint64_t flags)
{
    if (flags & ~(uint64_t)(EFD_SEMAPHORE | EFD_CLOEXEC | EFD_NONBLOCK))
        return -EINVAL;
    struct eventfd *e = kzalloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    e->lock = (struct spinlock)SPINLOCK_INIT("eventfd");
    waitq_init(&e->wq, "eventfd");
    e->count = (uint32_t)initval; /* an unsigned int, as Linux */
    e->semaphore = (flags & EFD_SEMAPHORE) != 0;
    struct file *f = anon_file_new("eventfd", &eventfd_ops, O_RDWR | (flags & EFD_NONBLOCK), e);
    if (!f) {
        kfree(e);
        return -ENOMEM;
    }
    int fd = fd_install(f, 0, (flags & EFD_CLOEXEC) != 0);
    if (fd < 0)
        file_put(f);
    return fd;
}

SYS(eventfd2) { UNUSED_ARGS(); return do_eventfd2(a0, a1); }
SYS(eventfd) { UNUSED_ARGS(); return do_eventfd2(a0, 0); }
