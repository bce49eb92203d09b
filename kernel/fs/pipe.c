/* Pipes (see fs/pipe.h): reads block until data or end-of-file (no writer left), writes block
 * until there is room; writes of at most PIPE_BUF bytes are never split; writing with no reader
 * left raises SIGPIPE and fails with EPIPE. Both ends wait through sched/wait.h. */
#include "fs/pipe.h"
#include "errno.h"
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
    char *buf;
    uint32_t head, len; /* the bytes in [head, head + len) modulo PIPE_SIZE */
    uint32_t readers, writers;
    struct waitq readq, writeq; /* waiting for data, waiting for room */
};

static uint64_t next_ino = 1;

static struct pipe *pipe_of(struct file *f) { return (struct pipe *)f->inode; }

static int64_t pipe_read(struct file *f, void *ubuf, uint64_t len)
{
    struct pipe *p = pipe_of(f);
    if (!len)
        return 0;
    while (!p->len) {
        if (!p->writers)
            return 0;
        if (f->flags & O_NONBLOCK)
            return -EAGAIN;
        if (waitq_wait(&p->readq, WAIT_FOREVER) == -EINTR)
            return -ERESTARTSYS;
    }
    uint64_t done = 0;
    while (done < len && p->len) {
        uint32_t chunk = PIPE_SIZE - p->head < p->len ? PIPE_SIZE - p->head : p->len;
        if (chunk > len - done)
            chunk = (uint32_t)(len - done);
        if (copy_to_user((char *)ubuf + done, p->buf + p->head, chunk))
            return done ? (int64_t)done : -EFAULT;
        p->head = (p->head + chunk) % PIPE_SIZE;
        p->len -= chunk;
        done += chunk;
    }
    if (!p->len)
        p->head = 0;
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
    while (done < len) {
        if (!p->readers)
            return done ? (int64_t)done : broken_pipe();
        uint64_t want = len - done, room = PIPE_SIZE - p->len;
        /* a write of at most PIPE_BUF bytes goes in whole or waits */
        if (room && (len > PIPE_BUF || room >= want)) {
            uint64_t n = want < room ? want : room;
            while (n) {
                uint32_t tail = (p->head + p->len) % PIPE_SIZE;
                uint32_t chunk = PIPE_SIZE - tail < n ? PIPE_SIZE - tail : (uint32_t)n;
                if (copy_from_user(p->buf + tail, (const char *)ubuf + done, chunk))
                    return done ? (int64_t)done : -EFAULT;
                p->len += chunk;
                done += chunk;
                n -= chunk;
            }
            waitq_wake_all(&p->readq);
            continue;
        }
        if (f->flags & O_NONBLOCK)
            return done ? (int64_t)done : -EAGAIN;
        if (waitq_wait(&p->writeq, WAIT_FOREVER) == -EINTR)
            return done ? (int64_t)done : -ERESTARTSYS;
    }
    return (int64_t)done;
}

static void read_end_release(struct file *f)
{
    struct pipe *p = pipe_of(f);
    p->readers--;
    waitq_wake_all(&p->writeq);
}

static void write_end_release(struct file *f)
{
    struct pipe *p = pipe_of(f);
    p->writers--;
    waitq_wake_all(&p->readq);
}

static long pipe_ioctl(struct file *f, uint32_t cmd, uint64_t arg)
{
    struct pipe *p = pipe_of(f);
    switch (cmd) {
    case FIONREAD: {
        int n = (int)p->len;
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

static const struct file_ops read_end_ops = {
    .read = pipe_read, .write = wrong_end, .release = read_end_release, .ioctl = pipe_ioctl};
static const struct file_ops write_end_ops = {
    .read = wrong_end_read, .write = pipe_write, .release = write_end_release, .ioctl = pipe_ioctl};

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
    p->inode.ops = &pipe_inode_ops;
    p->inode.ino = next_ino++;
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
