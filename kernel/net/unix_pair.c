/* socketpair(AF_UNIX, SOCK_STREAM): two connected stream sockets made of two pipes, one per
 * direction. The JVM needs one at start-up (FileDispatcherImpl's pre-close descriptor); the full
 * socket layer comes with networking. Other domains and types answer as Linux does when a family
 * or type is unavailable. An end's readiness combines its two pipes as Linux's unix_poll does; its
 * own wait queue is woken whenever either pipe's is (two callback entries forward the wake). */
#include "errno.h"
#include "fs/pipe.h"
#include "fs/poll.h"
#include "fs/vfs.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"
#include "net/sock_file.h"
#include "sched/wait.h"

#define AF_UNIX 1
#define SOCK_STREAM 1
#define SOCK_DGRAM 2
#define SOCK_TYPE_MASK 0xf
#define SOCK_NONBLOCK 04000
#define SOCK_CLOEXEC 02000000
struct end {
    struct inode inode; /* what fstat sees: a socket */
    struct file *rx, *tx;
    struct waitq wq;                   /* woken when rx's or tx's readiness may change */
    struct wait_entry on_rx, on_tx;    /* on rx's and tx's queues, forwarding to wq */
};

static struct end *end_of(struct file *f) { return f->priv; }

static int64_t end_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    struct file *rx = end_of(f)->rx;
    rx->flags = (rx->flags & ~O_NONBLOCK) | (f->flags & O_NONBLOCK);
    return rx->ops->read(rx, ubuf, len, pos);
}

static int64_t end_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    struct file *tx = end_of(f)->tx;
    tx->flags = (tx->flags & ~O_NONBLOCK) | (f->flags & O_NONBLOCK);
    return tx->ops->write(tx, ubuf, len, pos);
}

static int forward_wake(struct wait_entry *w)
{
    struct end *e = w->owner;
    waitq_wake_all(&e->wq);
    return 1;
}

static uint32_t end_poll(struct file *f, struct waitq **wq)
{
    struct end *e = end_of(f);
    *wq = &e->wq;
    uint32_t rx = file_poll(e->rx, 0), tx = file_poll(e->tx, 0), mask = 0;
    if (rx & EPOLLIN)
        mask |= EPOLLIN | EPOLLRDNORM;
    if (rx & EPOLLHUP) /* the peer is gone: both directions are shut */
        mask |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP | EPOLLHUP;
    if (tx & (EPOLLOUT | EPOLLERR))
        mask |= EPOLLOUT | EPOLLWRNORM | EPOLLWRBAND;
    return mask;
}

static void end_release(struct file *f)
{
    struct end *e = end_of(f);
    waitq_remove(&e->on_rx);
    waitq_remove(&e->on_tx);
    file_put(e->rx);
    file_put(e->tx);
    f->priv = 0; /* e itself goes with its inode, which file_put releases next */
}

static int end_stat(struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = 8;
    st->st_ino = ino->ino;
    st->st_nlink = 1;
    st->st_mode = ino->mode;
    st->st_blksize = 4096;
    return 0;
}

static void end_free(struct inode *ino) { kfree(ino); }

static const struct inode_ops end_inode_ops = {.stat = end_stat, .release = end_free};
static const struct file_ops end_ops = {
    .read = end_read, .write = end_write, .release = end_release, .poll = end_poll};

static struct file *make_end(struct file *rx, struct file *tx, uint32_t flags, uint64_t ino)
{
    struct end *e = kzalloc(sizeof *e);
    if (!e)
        return 0;
    e->inode = (struct inode){.ops = &end_inode_ops, .ino = ino, .mode = S_IFSOCK | 0777, .refcount = 1};
    struct file *f = file_new(&end_ops, &e->inode, O_RDWR | flags);
    inode_put(&e->inode); /* the file holds it now (or it is freed) */
    if (!f)
        return 0;
    e->rx = rx;
    e->tx = tx;
    waitq_init(&e->wq, "socketpair");
    struct waitq *q;
    wait_entry_callback(&e->on_rx, forward_wake, e, 0);
    wait_entry_callback(&e->on_tx, forward_wake, e, 0);
    file_poll(rx, &q);
    waitq_add(q, &e->on_rx);
    file_poll(tx, &q);
    waitq_add(q, &e->on_tx);
    f->priv = e;
    return f;
}

SYS(socketpair)
{
    UNUSED_ARGS();
    static uint64_t next_ino = 1; /* atomic */
    int domain = (int)a0, type = (int)a1;
    if (domain != AF_UNIX)
        return -EAFNOSUPPORT;
    if (type & ~(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    if (a2 != 0)
        return -EPROTONOSUPPORT;
    if ((type & SOCK_TYPE_MASK) == SOCK_DGRAM)
        return unix_socketpair(SOCK_DGRAM, type & ~SOCK_TYPE_MASK, (void *)a3);
    if ((type & SOCK_TYPE_MASK) != SOCK_STREAM)
        return -EOPNOTSUPP; /* seqpacket pairs are not there yet */
    uint32_t nb = (type & SOCK_NONBLOCK) ? O_NONBLOCK : 0;
    struct file *r1, *w1, *r2, *w2;
    int rc = pipe_create(0, &r1, &w1);
    if (rc)
        return rc;
    rc = pipe_create(0, &r2, &w2);
    if (rc) {
        file_put(r1);
        file_put(w1);
        return rc;
    }
    /* End A reads what B writes (pipe 1) and writes what B reads (pipe 2). */
    struct file *a = make_end(r1, w2, nb, __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED));
    struct file *b = a ? make_end(r2, w1, nb, __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED)) : 0;
    if (!a || !b) {
        if (a)
            file_put(a);
        else {
            file_put(r1);
            file_put(w2);
        }
        file_put(r2);
        file_put(w1);
        return -ENFILE;
    }
    int cloexec = (type & SOCK_CLOEXEC) != 0;
    int fa = fd_install(a, 0, cloexec);
    if (fa < 0) {
        file_put(a);
        file_put(b);
        return fa;
    }
    int fb = fd_install(b, 0, cloexec);
    if (fb < 0) {
        fd_close(fa);
        file_put(b);
        return fb;
    }
    int sv[2] = {fa, fb};
    if (copy_to_user((void *)a3, sv, sizeof sv)) {
        fd_close(fa);
        fd_close(fb);
        return -EFAULT;
    }
    return 0;
}
