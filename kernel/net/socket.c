/* Sockets as files (see net/socket.h): allocation, the file operations every socket shares
 * (read, write, poll, ioctl, close), blocking waits, and scatter-gather over program iovecs. */
#include "net/socket.h"
#include "core/clock.h"
#include "errno.h"
#include "fs/poll.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "mm/kheap.h"
#include "net/stack.h"
#include "net/sock_file.h"
#include "lwip/pbuf.h"
#include "sched/thread.h"
#include "signal/signal.h"

#define S_IFSOCK 0140000
#include "net/netdev.h"

#define FIONREAD 0x541b
#define FIONBIO 0x5421

int uio_init(struct uio *u, const void *uiov, uint64_t cnt)
{
    memset(u, 0, sizeof *u);
    if (cnt > 1024)
        return -EINVAL;
    if (cnt > sizeof u->iov / sizeof u->iov[0])
        cnt = sizeof u->iov / sizeof u->iov[0]; /* the rest is not transferred: a short count */
    if (cnt && copy_from_user(u->iov, uiov, cnt * sizeof u->iov[0]))
        return -EFAULT;
    u->cnt = (int)cnt;
    for (int i = 0; i < u->cnt; i++) {
        if ((int64_t)u->iov[i].len < 0 || u->resid + u->iov[i].len < u->resid)
            return -EINVAL;
        u->resid += u->iov[i].len;
    }
    return 0;
}

void uio_single(struct uio *u, void *ubuf, uint64_t len)
{
    memset(u, 0, sizeof *u);
    u->iov[0] = (struct linux_iovec){(uint64_t)ubuf, len};
    u->cnt = 1;
    u->resid = len;
}

static int uio_move(struct uio *u, void *kbuf, uint64_t n, int out)
{
    uint8_t *k = kbuf;
    while (n && u->idx < u->cnt) {
        struct linux_iovec *v = &u->iov[u->idx];
        uint64_t chunk = v->len - u->off;
        if (chunk > n)
            chunk = n;
        void *up = (void *)(v->base + u->off);
        long rc = out ? copy_to_user(up, k, chunk) : copy_from_user(k, up, chunk);
        if (rc)
            return -EFAULT;
        k += chunk;
        n -= chunk;
        u->off += chunk;
        u->resid -= chunk;
        if (u->off == v->len) {
            u->idx++;
            u->off = 0;
        }
    }
    return 0;
}

int uio_out(struct uio *u, const void *src, uint64_t n) { return uio_move(u, (void *)src, n, 1); }
int uio_in(struct uio *u, void *dst, uint64_t n) { return uio_move(u, dst, n, 0); }

static int sock_stat(struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = 8;
    st->st_ino = ino->ino;
    st->st_nlink = 1;
    st->st_mode = ino->mode;
    st->st_blksize = 4096;
    return 0;
}

/* The inode is the socket's first member: its release is the socket's end, once the protocol
 * let go too (sock_free). */
static void sock_inode_release(struct inode *ino) { (void)ino; }

static const struct inode_ops sock_inode_ops = {.stat = sock_stat, .release = sock_inode_release};

struct sock *sock_alloc(int domain, int type, int protocol, const struct sock_ops *ops)
{
    static uint64_t next_ino = 1u << 20; /* under net_lock via the callers */
    struct sock *s = kzalloc(sizeof *s);
    if (!s)
        return 0;
    s->inode = (struct inode){.ops = &sock_inode_ops, .ino = next_ino++, .mode = S_IFSOCK | 0777,
                              .refcount = 1};
    waitq_init(&s->wq, "socket");
    s->domain = domain;
    s->type = type;
    s->protocol = protocol;
    s->ops = ops;
    s->keepidle = 7200;
    s->mcast_hops = 1;
    s->keepintvl = 75;
    s->keepcnt = 9;
    s->rcvbuf = 131072;
    s->sndbuf = 16384;
    return s;
}

void sock_free(struct sock *s) { kfree(s); }

void sock_wake(struct sock *s) { waitq_wake_all(&s->wq); }

int sock_rx_push(struct sock *s, struct pbuf *p, const struct kaddr *from)
{
    struct rxent *e = kmalloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    e->next = 0;
    e->p = p;
    if (from)
        e->from = *from;
    else
        e->from.valid = 0;
    if (s->rx_tail)
        s->rx_tail->next = e;
    else
        s->rx_head = e;
    s->rx_tail = e;
    s->rx_bytes += p->tot_len;
    return 0;
}

void sock_rx_pop(struct sock *s)
{
    struct rxent *e = s->rx_head;
    if (!e)
        return;
    s->rx_head = e->next;
    if (!s->rx_head)
        s->rx_tail = 0;
    uint32_t left = e->p->tot_len - s->rx_off;
    s->rx_bytes -= left < s->rx_bytes ? left : s->rx_bytes;
    s->rx_off = 0;
    pbuf_free(e->p);
    kfree(e);
}

void sock_rx_clear(struct sock *s)
{
    while (s->rx_head)
        sock_rx_pop(s);
    s->rx_bytes = 0;
}

int pbuf_to_uio(struct pbuf *p, uint32_t off, uint32_t n, struct uio *u)
{
    for (struct pbuf *q = p; q && n; q = q->next) {
        if (off >= q->len) {
            off -= q->len;
            continue;
        }
        uint32_t chunk = q->len - off;
        if (chunk > n)
            chunk = n;
        if (uio_out(u, (uint8_t *)q->payload + off, chunk))
            return -EFAULT;
        n -= chunk;
        off = 0;
    }
    return 0;
}

int sock_nonblock(const struct sock *s, int flags)
{
    return (flags & MSG_DONTWAIT) || (s->file && (s->file->flags & O_NONBLOCK));
}

uint64_t sock_deadline(uint64_t timeo_ns) { return timeo_ns ? clock_monotonic_ns() + timeo_ns : 0; }

int sock_wait(struct sock *s, uint64_t *fl, uint64_t deadline_ns)
{
    if (net_flush())
        return 0; /* loopback traffic may have changed the condition: the caller rechecks */
    /* The wakers (lwIP's callbacks) change the socket's state under net_lock too: no wake-up is
     * lost between the caller's check and the block. */
    int rc = waitq_wait_unlock(&s->wq, &net_lock, *fl, deadline_ns ? deadline_ns : WAIT_FOREVER);
    *fl = net_lock_take();
    if (rc == -ETIMEDOUT)
        return -EAGAIN;
    if (rc == -EINTR)
        return deadline_ns ? -EINTR : -ERESTARTSYS;
    return 0;
}

static struct sock *sock_of(struct file *f) { return f->priv; }

static int64_t sock_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    struct sock *s = sock_of(f);
    struct uio u;
    uio_single(&u, ubuf, len);
    uint64_t fl = net_lock_take();
    int mflags = 0;
    int64_t rc = s->ops->recv(s, &u, 0, 0, &mflags, &fl);
    net_lock_give(fl);
    return rc;
}

static int64_t sock_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    struct sock *s = sock_of(f);
    struct uio u;
    uio_single(&u, (void *)ubuf, len);
    uint64_t fl = net_lock_take();
    int64_t rc = s->ops->send(s, &u, 0, 0, &fl);
    net_lock_give(fl);
    if (rc == -EPIPE)
        signal_send_self(SIGPIPE);
    return rc;
}

static uint32_t sock_poll(struct file *f, struct waitq **wq)
{
    struct sock *s = sock_of(f);
    *wq = &s->wq;
    uint64_t fl = net_lock_take();
    uint32_t ev = s->ops->poll(s);
    net_lock_give(fl);
    return ev;
}

static long sock_ioctl(struct file *f, uint32_t cmd, uint64_t arg)
{
    struct sock *s = sock_of(f);
    if (cmd == FIONREAD) {
        uint64_t fl = net_lock_take();
        int n = s->ops->nread(s);
        net_lock_give(fl);
        return copy_to_user((void *)arg, &n, sizeof n) ? -EFAULT : 0;
    }
    if (cmd == FIONBIO) {
        int on;
        if (copy_from_user(&on, (void *)arg, sizeof on))
            return -EFAULT;
        f->flags = on ? (f->flags | O_NONBLOCK) : (f->flags & ~O_NONBLOCK);
        return 0;
    }
    return netdev_ioctl(cmd, arg);
}

static void sock_release(struct file *f)
{
    struct sock *s = sock_of(f);
    uint64_t fl = net_lock_take();
    s->file = 0;
    sock_wake(s); /* pollers of this file drop it */
    int done = s->ops->close(s);
    if (done)
        sock_free(s);
    net_lock_give(fl);
    f->priv = 0;
    f->inode = 0; /* the inode lives inside the socket: not the VFS's to release */
}

static const struct file_ops sock_file_ops = {
    .read = sock_read,
    .write = sock_write,
    .release = sock_release,
    .ioctl = sock_ioctl,
    .poll = sock_poll,
};

struct file *sock_file(struct sock *s, uint32_t flags)
{
    struct file *f = file_new(&sock_file_ops, &s->inode, O_RDWR | flags);
    if (!f)
        return 0;
    f->priv = s;
    s->file = f;
    return f;
}

long sock_install(struct sock *s, int flags)
{
    struct file *f = sock_file(s, (flags & SOCK_NONBLOCK) ? O_NONBLOCK : 0);
    if (!f) {
        uint64_t fl = net_lock_take();
        if (s->ops->close(s))
            sock_free(s);
        net_lock_give(fl);
        return -ENFILE;
    }
    int fd = fd_install(f, 0, (flags & SOCK_CLOEXEC) != 0);
    if (fd < 0)
        file_put(f);
    return fd;
}

int file_is_socket(const struct file *f) { return f->ops == &sock_file_ops; }

int64_t tcp_sendfile(struct sock *s, struct inode *ino, uint64_t *off, uint64_t len, uint64_t *fl);

long sock_sendfile(struct file *out, struct file *in, uint64_t *off, uint64_t len)
{
    struct sock *s = sock_of(out);
    if (s->type != SOCK_STREAM || !in->inode)
        return -EINVAL;
    uint64_t fl = net_lock_take();
    int64_t rc = tcp_sendfile(s, in->inode, off, len, &fl);
    net_lock_give(fl);
    if (rc == -EPIPE)
        signal_send_self(SIGPIPE);
    return rc;
}

struct sock *sock_from_fd(int fd, int *err, struct file **filep)
{
    struct file *f = fd_get(fd);
    if (!f) {
        *err = -EBADF;
        return 0;
    }
    if (f->ops != &sock_file_ops) {
        *err = -ENOTSOCK;
        return 0;
    }
    if (filep)
        *filep = f;
    return f->priv;
}

int sock_accept_queued(struct sock *s, struct sock **out, uint64_t *fl)
{
    if (s->state != SS_LISTENING)
        return -EINVAL;
    uint64_t deadline = sock_deadline(s->rcvtimeo_ns);
    while (!s->accept_head) {
        if (sock_nonblock(s, 0))
            return -EAGAIN;
        int rc = sock_wait(s, fl, deadline);
        if (rc)
            return rc;
        if (s->state != SS_LISTENING)
            return -EINVAL;
    }
    struct sock *ns = s->accept_head;
    s->accept_head = ns->accept_next;
    if (!s->accept_head)
        s->accept_tail = 0;
    ns->accept_next = 0;
    s->accept_len--;
    *out = ns;
    return 0;
}

int64_t sock_recv_datagram(struct sock *s, struct uio *u, struct kaddr *from, int flags, int *mflags,
                           uint64_t *fl)
{
    uint64_t deadline = sock_deadline(s->rcvtimeo_ns);
    while (!s->rx_head) {
        if (s->err) {
            int e = s->err;
            s->err = 0;
            return -e;
        }
        if (s->shut_rd)
            return 0;
        if (sock_nonblock(s, flags))
            return -EAGAIN;
        int rc = sock_wait(s, fl, deadline);
        if (rc)
            return rc;
    }
    struct rxent *e = s->rx_head;
    uint32_t total = e->p->tot_len;
    uint32_t n = total < u->resid ? total : (uint32_t)u->resid;
    if (pbuf_to_uio(e->p, 0, n, u))
        return -EFAULT;
    if (from)
        *from = e->from;
    if (n < total && mflags)
        *mflags |= MSG_TRUNC;
    if (!(flags & MSG_PEEK))
        sock_rx_pop(s);
    return (flags & MSG_TRUNC) ? (int64_t)total : (int64_t)n;
}

uint32_t sock_rx_copy_stream(struct sock *s, struct uio *u, int peek, int *fault)
{
    uint32_t done = 0;
    struct rxent *e = s->rx_head;
    uint32_t off = s->rx_off;
    *fault = 0;
    while (e && u->resid) {
        uint32_t avail = e->p->tot_len - off;
        uint32_t n = avail < u->resid ? avail : (uint32_t)u->resid;
        if (pbuf_to_uio(e->p, off, n, u)) {
            *fault = 1;
            break;
        }
        done += n;
        if (peek) {
            off += n;
            if (off == e->p->tot_len) {
                e = e->next;
                off = 0;
            }
            continue;
        }
        s->rx_off += n;
        s->rx_bytes -= n;
        if (s->rx_off == e->p->tot_len)
            sock_rx_pop(s); /* rx_off == tot_len: nothing more to subtract */
        e = s->rx_head;
        off = s->rx_off;
    }
    return done;
}
