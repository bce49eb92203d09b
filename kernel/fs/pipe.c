/* Pipes (see fs/pipe.h): reads block until data or end-of-file (no writer left), writes block
 * until there is room; writes of at most PIPE_BUF bytes are never split; writing with no reader
 * left raises SIGPIPE and fails with EPIPE. Readers wait on readq (woken by writes and by the last
 * writer's close), writers on writeq (woken by reads and the last reader's close): the queues
 * poll, select and epoll wait on too.
 *
 * The rings' pages are counted together and bounded as Linux bounds one user's pipes, for a
 * program without CAP_SYS_RESOURCE (this kernel answers for one program, and its memory is the
 * VM's): a new pipe gets 16 pages, or 2 once the total is past fs.pipe-user-pages-soft;
 * F_SETPIPE_SZ may not grow a ring past fs.pipe-max-size (1 MiB) or the total past the soft limit
 * (EPERM). The soft limit is Linux's 16,384 pages or an eighth of RAM if less (a 64 MiB VM: 2,048),
 * and as on Linux there is no hard limit: past the soft one each pipe costs 2 pages, and the
 * descriptor table (1,024) bounds the pipes. */
#include "fs/pipe.h"
#include "errno.h"
#include "fs/poll.h"
#include "lib/spinlock.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "sched/wait.h"
#include "signal/signal.h"

#define PIPE_DEF_PAGES 16    /* a new pipe: 64 KiB */
#define PIPE_MIN_DEF_PAGES 2 /* a new pipe past the soft limit */
#define PIPE_MAX_SIZE (1u << 20)
#define PIPE_SOFT_PAGES 16384 /* Linux's default fs.pipe-user-pages-soft */
#define PIPE_BUF 4096u
#define PIPEFS_DEV 0x0c
#define FIONREAD 0x541b
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032

struct pipe {
    struct inode inode; /* first: S_IFIFO, shared by both ends */
    struct spinlock lock; /* guards buf, size, head, len, readers and writers */
    char *buf;
    uint32_t size;      /* bytes in buf: a power of two, at least a page */
    uint32_t head, len; /* the bytes in [head, head + len) modulo size */
    uint32_t readers, writers;
    struct waitq readq, writeq; /* waiting for data, waiting for room */
};

/* The pages of every pipe's ring (atomic: Linux's per-user pipe_bufs). */
static uint64_t pipe_pages;

uint64_t pipe_max_size(void) { return PIPE_MAX_SIZE; }
uint64_t pipe_user_pages_hard(void) { return 0; }

uint64_t pipe_user_pages_soft(void)
{
    uint64_t eighth = palloc_total_pages() / 8;
    return eighth < PIPE_SOFT_PAGES ? eighth : PIPE_SOFT_PAGES;
}

/* Moves a ring from old to new pages in the count; returns the new total. */
static uint64_t account(uint64_t old, uint64_t new)
{
    return __atomic_add_fetch(&pipe_pages, new - old, __ATOMIC_RELAXED);
}

static uint64_t next_ino = 1; /* atomic */

static struct pipe *pipe_of(struct file *f) { return (struct pipe *)f->inode; }

/* Copies to and from the program happen under the pipe's lock (a fault there takes the address
 * space's lock inside it); wake-ups after it is released. */
static int64_t pipe_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
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
        uint32_t chunk = p->size - p->head < p->len ? p->size - p->head : p->len;
        if (chunk > len - done)
            chunk = (uint32_t)(len - done);
        if (copy_to_user((char *)ubuf + done, p->buf + p->head, chunk))
            break;
        p->head = (p->head + chunk) % p->size;
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

static int64_t pipe_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    struct pipe *p = pipe_of(f);
    uint64_t done = 0;
    int64_t err = 0;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    while (done < len) {
        if (!p->readers) {
            err = -EPIPE;
            break;
        }
        uint64_t want = len - done, room = p->size - p->len;
        /* a write of at most PIPE_BUF bytes goes in whole or waits */
        if (room && (len > PIPE_BUF || room >= want)) {
            uint64_t n = want < room ? want : room;
            while (n) {
                uint32_t tail = (p->head + p->len) % p->size;
                uint32_t chunk = p->size - tail < n ? p->size - tail : (uint32_t)n;
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
    uint32_t mask = (p->size - p->len >= PIPE_BUF ? EPOLLOUT | EPOLLWRNORM : 0) |
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
    if (cmd != FIONREAD)
        return -ENOTTY;
    int n = (int)__atomic_load_n(&p->len, __ATOMIC_RELAXED);
    return copy_to_user((void *)arg, &n, sizeof n) ? -EFAULT : 0;
}

/* Linux's round_pipe_size: a page at least, else the next power of two; 0 past 2 GiB. */
static uint64_t round_size(uint32_t want)
{
    if (want > (1u << 31))
        return 0;
    uint64_t size = PAGE_SIZE;
    while (size < want)
        size <<= 1;
    return size;
}

/* F_SETPIPE_SZ, as Linux's pipe_set_size for a program without CAP_SYS_RESOURCE. */
static long set_size(struct pipe *p, uint32_t want)
{
    uint64_t size = round_size(want);
    if (!size)
        return -EINVAL;
    uint64_t fl = spin_lock_irqsave(&p->lock);
    uint64_t pages = size / PAGE_SIZE, cur = p->size / PAGE_SIZE;
    long rc = 0;
    if (pages > cur && size > PIPE_MAX_SIZE) {
        rc = -EPERM;
    } else {
        uint64_t soft = pipe_user_pages_soft();
        if (account(cur, pages) > soft && pages > cur)
            rc = -EPERM;
        else if (p->len > size)
            rc = -EBUSY; /* what is in the pipe would not fit */
        char *buf = rc ? 0 : kmalloc(size);
        if (!rc && !buf)
            rc = -ENOMEM;
        if (rc) {
            account(pages, cur);
        } else {
            /* The bytes move to the start of the new ring, in order. */
            uint32_t first = p->size - p->head < p->len ? p->size - p->head : p->len;
            memcpy(buf, p->buf + p->head, first);
            memcpy(buf + first, p->buf, p->len - first);
            kfree(p->buf);
            p->buf = buf;
            p->size = (uint32_t)size;
            p->head = 0;
        }
    }
    spin_unlock_irqrestore(&p->lock, fl);
    if (rc)
        return rc;
    waitq_wake_all(&p->writeq); /* a larger ring has room for a waiting writer */
    return (long)size;
}

static int64_t wrong_end(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
    return -EBADF;
}

static int64_t wrong_end_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
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
    account(p->size / PAGE_SIZE, 0);
    kfree(p->buf);
    kfree(p);
}

static const struct inode_ops pipe_inode_ops = {.stat = pipe_stat, .release = pipe_release};

int pipe_create(uint32_t flags, struct file **rd, struct file **wr)
{
    struct pipe *p = kzalloc(sizeof *p);
    if (!p)
        return -ENOMEM;
    uint64_t pages = PIPE_DEF_PAGES;
    if (account(0, pages) > pipe_user_pages_soft()) {
        account(pages, PIPE_MIN_DEF_PAGES);
        pages = PIPE_MIN_DEF_PAGES;
    }
    p->size = (uint32_t)(pages * PAGE_SIZE);
    p->buf = kmalloc(p->size);
    if (!p->buf) {
        account(pages, 0);
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

long pipe_fcntl(struct file *f, unsigned cmd, uint64_t arg)
{
    if (f->ops != &read_end_ops && f->ops != &write_end_ops)
        return -EBADF;
    struct pipe *p = pipe_of(f);
    if (cmd == F_GETPIPE_SZ)
        return (long)__atomic_load_n(&p->size, __ATOMIC_RELAXED);
    return set_size(p, (uint32_t)arg); /* Linux takes the argument as an unsigned int */
}
