/* Pipes (see fs/pipe.h): reads block until data or end-of-file (no writer left), writes block
 * until there is room; writes of at most PIPE_BUF bytes are never split; writing with no reader
 * left raises SIGPIPE and fails with EPIPE. Readers wait on readq (woken by writes and by the last
 * writer's close), writers on writeq (woken by reads and the last reader's close): the queues
 * poll, select and epoll wait on too. */
#include "fs/pipe.h"
#include "errno.h"
#include "fs/poll.h"
#include "lib/spinlock.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "sched/wait.h"
#include "signal/signal.h"

#define PIPE_SIZE 65536u
#define PIPE_BUF 4096u
#define PIPEFS_DEV 0x0c
#define FIONREAD 0x541b
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032

struct pipe {
    struct inode inode; /* first: S_IFIFO, shared by both ends */
    struct spinlock lock; /* guards buf, head, len, readers and writers */
    char *buf;
    uint32_t head, len; /* the bytes in [head, head + len) modulo PIPE_SIZE */
    uint32_t readers, writers;
    struct waitq readq, writeq; /* waiting for data, waiting for room */
};

static uint64_t next_ino = 1; /* atomic */

static struct pipe *pipe_of(struct file *f) { return (struct pipe *)f->inode; }

/* Copies to and from the program happen under the pipe's lock (a fault there takes the address
 * space's lock inside it); wake-ups after it is released. */
static int64_t pipe_read(struct file *f, void *ubuf, uint64_t len)
{
    struct pipe *p = pipe_of(f);
    if (!len)
        return 0;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    while (!p->len) {
        if (!p->writers) {
            spin_unlock_irqrestore(&p->lock, fl);
            return 0;
        }
        if (f->flags & O_NONBLOCK) {
            spin_unlock_irqrestore(&p->lock, fl);
            return -EAGAIN;
        }
        int rc = waitq_wait_unlock(&p->readq, &p->lock, fl, WAIT_FOREVER);
        fl = spin_lock_irqsave(&p->lock);
        if (rc == -EINTR && !p->len) {
            spin_unlock_irqrestore(&p->lock, fl);
            return -ERESTARTSYS;
        }
    }
    uint64_t done = 0;
    while (done < len && p->len) {
        uint32_t chunk = PIPE_SIZE - p->head < p->len ? PIPE_SIZE - p->head : p->len;
        if (chunk > len - done)
            chunk = (uint32_t)(len - done);
        if (copy_to_user((char *)ubuf + done, p->buf + p->head, chunk))
            break;
        p->head = (p->head + chunk) % PIPE_SIZE;
        p->len -= chunk;
        done += chunk;
    }
    if (!p->len)
        p->head = 0;
    spin_unlock_irqrestore(&p->lock, fl);
    if (!done)
        return -EFAULT;
    waitq_wake_all(&p->writeq);
    return (int64_t)done;
}

static int64_t broken_pipe(void)
{
    signal_send_self(SIGPIPE);
    return -EPIPE;
}

static int64_t pipe_write(struct file *f, const void *ubuf, uint64_t len)
{
    struct pipe *p = pipe_of(f);
    uint64_t done = 0;
    int64_t err = 0;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    while (done < len) {
        if (!p->readers) {
            err = -EPIPE;
            break;
        }
        uint64_t want = len - done, room = PIPE_SIZE - p->len;
        /* a write of at most PIPE_BUF bytes goes in whole or waits */
        if (room && (len > PIPE_BUF || room >= want)) {
            uint64_t n = want < room ? want : room;
            while (n) {
                uint32_t tail = (p->head + p->len) % PIPE_SIZE;
                uint32_t chunk = PIPE_SIZE - tail < n ? PIPE_SIZE - tail : (uint32_t)n;
                if (copy_from_user(p->buf + tail, (const char *)ubuf + done, chunk)) {
                    err = -EFAULT;
                    break;
                }
                p->len += chunk;
                done += chunk;
                n -= chunk;
            }
            if (err)
                break;
            continue;
        }
        if (f->flags & O_NONBLOCK) {
            err = -EAGAIN;
            break;
        }
        /* Readers may wait for what is already written. */
        waitq_wake_all(&p->readq);
        int rc = waitq_wait_unlock(&p->writeq, &p->lock, fl, WAIT_FOREVER);
        fl = spin_lock_irqsave(&p->lock);
        if (rc == -EINTR) {
            err = -ERESTARTSYS;
            break;
        }
    }
    spin_unlock_irqrestore(&p->lock, fl);
    if (done)
        waitq_wake_all(&p->readq);
    if (done)
        return (int64_t)done;
    return err == -EPIPE ? broken_pipe() : err;
}

static uint32_t read_end_poll(struct file *f, struct waitq **wq)
{
    struct pipe *p = pipe_of(f);
    *wq = &p->readq;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    uint32_t mask = (p->len ? EPOLLIN | EPOLLRDNORM : 0) | (!p->writers ? EPOLLHUP : 0);
    spin_unlock_irqrestore(&p->lock, fl);
    return mask;
}

static uint32_t write_end_poll(struct file *f, struct waitq **wq)
{
    struct pipe *p = pipe_of(f);
    *wq = &p->writeq;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    uint32_t mask = (PIPE_SIZE - p->len >= PIPE_BUF ? EPOLLOUT | EPOLLWRNORM : 0) |
                    (!p->readers ? EPOLLERR : 0);
    spin_unlock_irqrestore(&p->lock, fl);
    return mask;
}

static void read_end_release(struct file *f)
{
    struct pipe *p = pipe_of(f);
    uint64_t fl = spin_lock_irqsave(&p->lock);
    p->readers--;
    spin_unlock_irqrestore(&p->lock, fl);
    waitq_wake_all(&p->writeq);
}

static void write_end_release(struct file *f)
{
    struct pipe *p = pipe_of(f);
    uint64_t fl = spin_lock_irqsave(&p->lock);
    p->writers--;
    spin_unlock_irqrestore(&p->lock, fl);
    waitq_wake_all(&p->readq);
}

static long pipe_ioctl(struct file *f, uint32_t cmd, uint64_t arg)
{
    struct pipe *p = pipe_of(f);
    switch (cmd) {
    case FIONREAD: {
        int n = (int)__atomic_load_n(&p->len, __ATOMIC_RELAXED);
        return copy_to_user((void *)arg, &n, sizeof n) ? -EFAULT : 0;
    }
    case F_GETPIPE_SZ:
        return PIPE_SIZE;
    case F_SETPIPE_SZ:
        /* The ring has a fixed size: smaller requests are satisfied by it. */
        return arg <= PIPE_SIZE ? (long)PIPE_SIZE : -EPERM;
    default:
        return -ENOTTY;
    }
}

static int64_t wrong_end(struct file *f, const void *ubuf, uint64_t len)
{
    (void)f, (void)ubuf, (void)len;
    return -EBADF;
}

static int64_t wrong_end_read(struct file *f, void *ubuf, uint64_t len)
{
    (void)f, (void)ubuf, (void)len;
    return -EBADF;
}

static const struct file_ops read_end_ops = {.read = pipe_read,
                                            .write = wrong_end,
                                            .release = read_end_release,
                                            .ioctl = pipe_ioctl,
                                            .poll = read_end_poll};
static const struct file_ops write_end_ops = {.read = wrong_end_read,
                                             .write = pipe_write,
                                             .release = write_end_release,
                                             .ioctl = pipe_ioctl,
                                             .poll = write_end_poll};

static int pipe_stat(struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = PIPEFS_DEV;
    st->st_ino = ino->ino;
    st->st_nlink = 1;
    st->st_mode = ino->mode;
    st->st_blksize = PIPE_BUF;
    return 0;
}

static void pipe_release(struct inode *ino)
{
    struct pipe *p = (struct pipe *)ino;
    kfree(p->buf);
    kfree(p);
}

static const struct inode_ops pipe_inode_ops = {.stat = pipe_stat, .release = pipe_release};

int pipe_create(uint32_t flags, struct file **rd, struct file **wr)
{
    struct pipe *p = kzalloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    p->buf = kmalloc(PIPE_SIZE);
    if (!p->buf) {
        kfree(p);
        return -ENFILE;
    }
    p->lock = (struct spinlock)SPINLOCK_INIT("pipe");
    waitq_init(&p->readq, "pipe readers");
    waitq_init(&p->writeq, "pipe writers");
    p->inode.ops = &pipe_inode_ops;
    p->inode.ino = __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED);
    p->inode.mode = S_IFIFO | 0600;
    p->inode.refcount = 1;
    p->inode.fs = p;
    uint32_t nb = flags & O_NONBLOCK;
    *rd = file_new(&read_end_ops, &p->inode, O_RDONLY | nb);
    *wr = file_new(&write_end_ops, &p->inode, O_WRONLY | nb);
    if (*rd)
        p->readers = 1;
    if (*wr)
        p->writers = 1;
    inode_put(&p->inode);
    if (!*rd || !*wr) {
        if (*rd)
            file_put(*rd);
        if (*wr)
            file_put(*wr);
        return -ENFILE;
    }
    return 0;
}
