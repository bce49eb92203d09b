/* AF_UNIX sockets bound to paths or abstract names: SOCK_STREAM (listen, accept, connect, a byte
 * stream each way) and SOCK_DGRAM (datagrams to a bound name, or to the connected peer), also
 * socketpair(AF_UNIX, SOCK_DGRAM). They share the socket layer of net/socket.h: data travels as
 * pbufs on the receiver's queue, under net_lock like everything else there, so poll, epoll and
 * blocking work as for TCP. A path binding is a socket node in the filesystem (S_IFSOCK). */
#include "core/clock.h"
#include "errno.h"
#include "fs/poll.h"
#include "fs/vfs.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux/fspath.h"
#include "mm/kheap.h"
#include "net/socket.h"
#include "net/sock_file.h"
#include "net/stack.h"
#include "linux/uaccess.h"
#include "lwip/pbuf.h"

#define S_IFSOCK 0140000

#define UNIX_STREAM_BUF (256 * 1024) /* bytes queued for a reader before writers wait */
#define UNIX_DGRAM_MAX 65535         /* one pbuf chain's length */

/* What a unix socket keeps besides struct sock (s->pcb points here). */
struct unix_ext {
    struct sock *peer;      /* the connected stream peer, 0 once it is gone */
    int had_peer;           /* connected once: writes after the peer left are EPIPE */
    struct kaddr name;      /* bound address (path_len 0: unbound) */
    struct kaddr peer_name; /* the peer's address (dgram: the default destination) */
    int peer_set;
    struct inode *node;     /* the socket node of a path binding (a reference) */
    struct unix_ext *next;  /* in `bound` */
    struct sock *sock;
};

/* Bound sockets (under net_lock), for connect and sendto to find them by name. */
static struct unix_ext *bound;

static struct unix_ext *ux(struct sock *s) { return s->pcb; }

static int same_abstract(const struct kaddr *a, const struct kaddr *b)
{
    return a->path_len == b->path_len && !memcmp(a->path, b->path, a->path_len);
}

static void path_of(const struct kaddr *a, char *out)
{
    memcpy(out, a->path, a->path_len);
    out[a->path_len] = 0;
}

/* The bound socket an address names: 0 with *err = -ENOENT (no such path), -ECONNREFUSED (no
 * socket bound there), or what the lookup said. */
static struct sock *find_bound(const struct kaddr *a, int type, int *err)
{
    if (!a->path_len) {
        *err = -EINVAL;
        return 0;
    }
    if (!a->path[0]) { /* abstract */
        for (struct unix_ext *u = bound; u; u = u->next)
            if (!u->node && u->sock->type == type && same_abstract(&u->name, a))
                return u->sock;
        *err = -ECONNREFUSED;
        return 0;
    }
    char path[sizeof a->path + 1];
    path_of(a, path);
    struct inode *ino;
    int rc = vfs_lookup(0, path, 1, &ino);
    if (rc) {
        *err = rc;
        return 0;
    }
    struct sock *found = 0;
    for (struct unix_ext *u = bound; u && !found; u = u->next)
        if (u->node && vfs_same_inode(u->node, ino))
            found = u->sock;
    inode_put(ino);
    if (!found) {
        *err = -ECONNREFUSED; /* not a socket, or nobody bound to it any more */
        return 0;
    }
    if (found->type != type) {
        *err = -EPROTOTYPE;
        return 0;
    }
    return found;
}

static int unix_bind_(struct sock *s, const struct kaddr *a)
{
    struct unix_ext *u = ux(s);
    if (u->name.path_len)
        return -EINVAL;
    struct kaddr name = *a;
    if (!name.path_len) { /* autobind: an abstract name of five hex digits, as Linux */
        static unsigned next = 0x10000;
        name.path[0] = 0;
        for (int tries = 0; tries < 0x100000; tries++) {
            snprintf(name.path + 1, sizeof name.path - 1, "%05x", next++ & 0xfffff);
            name.path_len = 6;
            int err;
            if (!find_bound(&name, s->type, &err))
                break;
        }
    }
    if (!name.path[0]) {
        for (struct unix_ext *o = bound; o; o = o->next)
            if (!o->node && same_abstract(&o->name, &name))
                return -EADDRINUSE;
    } else {
        char path[sizeof name.path + 1], leaf[NAME_MAX + 1];
        path_of(&name, path);
        struct inode *dir;
        int rc = vfs_lookup_parent(0, path, &dir, leaf);
        if (rc)
            return rc;
        if (!dir->ops->create) {
            inode_put(dir);
            return -EROFS;
        }
        struct inode *node;
        rc = dir->ops->create(dir, leaf, strlen(leaf), S_IFSOCK | (0777 & ~fs_umask()), &node);
        if (!rc)
            vfs_set_child_path(node, dir, leaf);
        inode_put(dir);
        if (rc)
            return rc == -EEXIST ? -EADDRINUSE : rc;
        u->node = node;
    }
    u->name = name;
    u->next = bound;
    bound = u;
    if (s->state == SS_NEW)
        s->state = SS_BOUND;
    return 0;
}

static int unix_listen_(struct sock *s, int backlog)
{
    if (s->type != SOCK_STREAM)
        return -EOPNOTSUPP;
    if (s->state == SS_CONNECTED)
        return -EINVAL;
    if (!ux(s)->name.path_len)
        return -EINVAL; /* Linux: a unix socket must be bound to listen */
    s->backlog = backlog < 0 || backlog > 4096 ? 4096 : backlog;
    s->state = SS_LISTENING;
    sock_wake(s);
    return 0;
}

static struct sock *unix_new(int type);

static int unix_connect_(struct sock *s, const struct kaddr *a, uint64_t *fl)
{
    (void)fl;
    struct unix_ext *u = ux(s);
    if (s->type == SOCK_DGRAM) {
        if (!a->valid || !a->path_len) { /* AF_UNSPEC / no name: dissolve */
            u->peer_set = 0;
            return 0;
        }
        int err;
        if (!find_bound(a, SOCK_DGRAM, &err))
            return err;
        u->peer_name = *a;
        u->peer_set = 1;
        return 0;
    }
    if (s->state == SS_CONNECTED || u->had_peer)
        return -EISCONN;
    if (s->state == SS_LISTENING)
        return -EINVAL;
    int err;
    struct sock *l = find_bound(a, SOCK_STREAM, &err);
    if (!l)
        return err;
    if (l->state != SS_LISTENING)
        return -ECONNREFUSED;
    struct sock *ns = unix_new(SOCK_STREAM);
    if (!ns)
        return -ENOMEM;
    struct unix_ext *nu = ux(ns);
    nu->name = ux(l)->name;
    nu->peer_name = u->name;
    nu->peer = s;
    nu->had_peer = 1;
    ns->state = SS_CONNECTED;
    u->peer = ns;
    u->had_peer = 1;
    u->peer_name = ux(l)->name;
    s->state = SS_CONNECTED;
    if (l->accept_tail)
        l->accept_tail->accept_next = ns;
    else
        l->accept_head = ns;
    l->accept_tail = ns;
    l->accept_len++;
    sock_wake(l);
    return 0;
}

static int unix_accept_(struct sock *s, struct sock **out, uint64_t *fl)
{
    if (s->type != SOCK_STREAM)
        return -EOPNOTSUPP;
    return sock_accept_queued(s, out, fl);
}

/* Queues n bytes from u on r's receive queue as one pbuf; 0 or -errno. */
static int push_bytes(struct sock *r, struct uio *u, uint32_t n, const struct kaddr *from)
{
    struct pbuf *p = pbuf_alloc(PBUF_RAW, (u16_t)n, PBUF_RAM);
    if (!p)
        return -ENOBUFS;
    if (n && uio_in(u, p->payload, n)) {
        pbuf_free(p);
        return -EFAULT;
    }
    if (sock_rx_push(r, p, from)) {
        pbuf_free(p);
        return -ENOBUFS;
    }
    sock_wake(r);
    return 0;
}

static int64_t stream_send(struct sock *s, struct uio *u, int flags, uint64_t *fl)
{
    struct unix_ext *x = ux(s);
    uint64_t deadline = sock_deadline(s->sndtimeo_ns);
    int64_t done = 0;
    while (u->resid) {
        struct sock *peer = x->peer;
        if (s->shut_wr || !peer || peer->shut_rd)
            return done ? done : (x->had_peer ? -EPIPE : -ENOTCONN);
        uint32_t space = peer->rx_bytes < UNIX_STREAM_BUF ? UNIX_STREAM_BUF - peer->rx_bytes : 0;
        if (!space) {
            if (sock_nonblock(s, flags))
                return done ? done : -EAGAIN;
            int rc = sock_wait(s, fl, deadline);
            if (rc)
                return done ? done : rc;
            continue;
        }
        uint32_t n = u->resid < space ? (uint32_t)u->resid : space;
        if (n > 65535)
            n = 65535;
        int rc = push_bytes(peer, u, n, 0);
        if (rc)
            return done ? done : rc;
        done += n;
    }
    return done;
}

static int64_t dgram_send(struct sock *s, struct uio *u, const struct kaddr *to, int flags,
                          uint64_t *fl)
{
    struct unix_ext *x = ux(s);
    if (s->shut_wr)
        return -EPIPE;
    const struct kaddr *dst = to ? to : (x->peer_set ? &x->peer_name : 0);
    if (!dst && !x->peer)
        return -ENOTCONN;
    if (u->resid > UNIX_DGRAM_MAX)
        return -EMSGSIZE;
    uint64_t deadline = sock_deadline(s->sndtimeo_ns);
    for (;;) {
        int err = 0;
        /* A socketpair's peer is direct; anything else is found by name at each send, as the
         * receiver may have gone and another bound in its place. */
        struct sock *r = dst ? find_bound(dst, SOCK_DGRAM, &err) : x->peer;
        if (!r)
            return err ? err : -ECONNREFUSED;
        if (r->shut_rd)
            return -EPIPE;
        if (r->rx_bytes + u->resid <= (uint64_t)r->rcvbuf * 2 || !r->rx_head) {
            uint32_t n = (uint32_t)u->resid;
            int rc = push_bytes(r, u, n, &x->name);
            return rc ? (int64_t)rc : (int64_t)n;
        }
        if (sock_nonblock(s, flags) || (deadline && clock_monotonic_ns() >= deadline))
            return -EAGAIN;
        /* The receiver's queue is full: wait a millisecond and look again (it may go away
         * meanwhile, so no sleeping on its queue). */
        int rc = sock_wait(s, fl, sock_deadline(1000000));
        if (rc && rc != -EAGAIN)
            return rc;
    }
}

static int64_t unix_send_(struct sock *s, struct uio *u, const struct kaddr *to, int flags,
                          uint64_t *fl)
{
    if (s->type == SOCK_STREAM) {
        if (s->state != SS_CONNECTED)
            return ux(s)->had_peer ? -EPIPE : -ENOTCONN;
        return stream_send(s, u, flags, fl);
    }
    return dgram_send(s, u, to, flags, fl);
}

static int64_t unix_recv_(struct sock *s, struct uio *u, struct kaddr *from, int flags, int *mflags,
                          uint64_t *fl)
{
    struct unix_ext *x = ux(s);
    uint64_t deadline = sock_deadline(s->rcvtimeo_ns);
    if (s->type == SOCK_DGRAM) {
        int64_t n = sock_recv_datagram(s, u, from, flags, mflags, fl);
        if (n >= 0 && from)
            from->valid = 1;
        return n;
    }
    if (s->state == SS_LISTENING || (s->state != SS_CONNECTED && !x->had_peer))
        return -EINVAL;
    int64_t done = 0;
    for (;;) {
        int fault;
        done += sock_rx_copy_stream(s, u, flags & MSG_PEEK, &fault);
        if (fault)
            return done ? done : -EFAULT;
        if (done && x->peer && !(flags & MSG_PEEK))
            sock_wake(x->peer); /* its writers may go on */
        if (!u->resid || (done && !(flags & MSG_WAITALL)) || ((flags & MSG_PEEK) && done))
            return done;
        if (!x->peer || x->peer->shut_wr || s->shut_rd)
            return done; /* the end of the stream */
        if (sock_nonblock(s, flags))
            return done ? done : -EAGAIN;
        int rc = sock_wait(s, fl, deadline);
        if (rc)
            return done ? done : rc;
    }
}

static int unix_shutdown_(struct sock *s, int how)
{
    struct unix_ext *x = ux(s);
    if (s->type == SOCK_STREAM && s->state != SS_CONNECTED)
        return -ENOTCONN;
    if (how == SHUT_RD || how == SHUT_RDWR)
        s->shut_rd = 1;
    if (how == SHUT_WR || how == SHUT_RDWR)
        s->shut_wr = 1;
    sock_wake(s);
    if (x->peer)
        sock_wake(x->peer);
    return 0;
}

static int unix_name_(struct sock *s, struct kaddr *out, int peer)
{
    struct unix_ext *x = ux(s);
    memset(out, 0, sizeof *out);
    if (peer) {
        if (s->type == SOCK_STREAM ? !x->peer : !x->peer_set && !x->peer)
            return -ENOTCONN;
        *out = x->peer_name;
        return 0;
    }
    *out = x->name;
    return 0;
}

static uint32_t unix_poll_(struct sock *s)
{
    struct unix_ext *x = ux(s);
    if (s->state == SS_LISTENING)
        return s->accept_head ? EPOLLIN | EPOLLRDNORM : 0;
    uint32_t ev = 0;
    if (s->rx_head || s->shut_rd)
        ev |= EPOLLIN | EPOLLRDNORM;
    if (s->type == SOCK_DGRAM)
        return ev | EPOLLOUT | EPOLLWRNORM;
    if (s->state != SS_CONNECTED)
        return ev | EPOLLOUT | EPOLLWRNORM | EPOLLHUP; /* as Linux for an unconnected stream */
    struct sock *p = x->peer;
    if (!p || p->shut_wr)
        ev |= EPOLLIN | EPOLLRDNORM | EPOLLRDHUP;
    if (!p || (s->shut_wr && (p->shut_wr || s->shut_rd)))
        ev |= EPOLLHUP;
    if (!p || s->shut_wr || p->rx_bytes < UNIX_STREAM_BUF)
        ev |= EPOLLOUT | EPOLLWRNORM;
    return ev;
}

static void unbind(struct unix_ext *u)
{
    for (struct unix_ext **pp = &bound; *pp; pp = &(*pp)->next) {
        if (*pp == u) {
            *pp = u->next;
            break;
        }
    }
    if (u->node)
        inode_put(u->node); /* the name stays in the directory until unlinked, as on Linux */
    u->node = 0;
}

static void disconnect(struct sock *s)
{
    struct unix_ext *x = ux(s);
    struct sock *p = x->peer;
    if (p) {
        ux(p)->peer = 0;
        sock_wake(p);
    }
    x->peer = 0;
}

static int unix_close_(struct sock *s)
{
    struct unix_ext *x = ux(s);
    sock_rx_clear(s);
    while (s->accept_head) { /* connections never accepted: their clients see the end */
        struct sock *ns = s->accept_head;
        s->accept_head = ns->accept_next;
        disconnect(ns);
        sock_rx_clear(ns);
        kfree(ux(ns));
        sock_free(ns);
    }
    s->accept_tail = 0;
    disconnect(s);
    if (x->name.path_len)
        unbind(x);
    kfree(x);
    s->pcb = 0;
    return 1;
}

static int unix_nread_(struct sock *s)
{
    if (s->type == SOCK_DGRAM)
        return s->rx_head ? s->rx_head->p->tot_len : 0;
    return (int)s->rx_bytes;
}

static const struct sock_ops unix_sock_ops = {
    .bind = unix_bind_,
    .listen = unix_listen_,
    .accept = unix_accept_,
    .connect = unix_connect_,
    .send = unix_send_,
    .recv = unix_recv_,
    .shutdown = unix_shutdown_,
    .name = unix_name_,
    .poll = unix_poll_,
    .close = unix_close_,
    .nread = unix_nread_,
};

static struct sock *unix_new(int type)
{
    struct unix_ext *x = kzalloc(sizeof *x);
    if (!x)
        return 0;
    struct sock *s = sock_alloc(AF_UNIX, type, 0, &unix_sock_ops);
    if (!s) {
        kfree(x);
        return 0;
    }
    x->sock = s;
    s->pcb = x;
    s->rcvbuf = 212992;
    s->sndbuf = 212992;
    return s;
}

/* A new AF_UNIX socket (net_lock held); 0 when out of memory. */
struct sock *unix_sock_new(int type) { return unix_new(type); }

/* Two connected AF_UNIX sockets of `type` (net_lock held): 0, or -ENOMEM. */
int unix_sock_pair(int type, struct sock **a, struct sock **b)
{
    struct sock *x = unix_new(type), *y = x ? unix_new(type) : 0;
    if (!x || !y) {
        if (x) {
            kfree(ux(x));
            sock_free(x);
        }
        return -ENOMEM;
    }
    ux(x)->peer = y;
    ux(y)->peer = x;
    ux(x)->had_peer = ux(y)->had_peer = 1;
    x->state = y->state = SS_CONNECTED;
    *a = x;
    *b = y;
    return 0;
}

long unix_socketpair(int type, int flags, void *usv)
{
    struct sock *a, *b;
    uint64_t fl = net_lock_take();
    int rc = unix_sock_pair(type, &a, &b);
    net_lock_give(fl);
    if (rc)
        return rc;
    long fa = sock_install(a, flags);
    if (fa < 0) {
        fl = net_lock_take();
        if (b->ops->close(b))
            sock_free(b);
        net_lock_give(fl);
        return fa;
    }
    long fb = sock_install(b, flags);
    if (fb < 0) {
        fd_close((int)fa);
        return fb;
    }
    int sv[2] = {(int)fa, (int)fb};
    if (copy_to_user(usv, sv, sizeof sv)) {
        fd_close((int)fa);
        fd_close((int)fb);
        return -EFAULT;
    }
    return 0;
}
