/* The socket system calls for AF_INET and AF_INET6 (TCP, UDP): socket, bind, listen, accept,
 * accept4, connect, send/recv in all their forms (sendto, recvfrom, sendmsg, recvmsg, sendmmsg,
 * recvmmsg), shutdown, getsockname, getpeername, setsockopt and getsockopt. The protocols live
 * in net/; this file checks arguments, moves them between the program and the kernel, and keeps
 * Linux's errno for every case it knows. socketpair is in net/unix_pair.c. */
#include "core/clock.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "net/socket.h"
#include "net/stack.h"
#include "signal/signal.h"

struct sock *tcp_sock_new(int domain, int protocol);
struct sock *udp_sock_new(int domain, int protocol);
struct sock *unix_sock_new(int type);

#define IPPROTO_IP 0
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_IPV6 41
#define SOL_SOCKET 1

#define SO_DEBUG 1
#define SO_REUSEADDR 2
#define SO_TYPE 3
#define SO_ERROR 4
#define SO_DONTROUTE 5
#define SO_BROADCAST 6
#define SO_SNDBUF 7
#define SO_RCVBUF 8
#define SO_KEEPALIVE 9
#define SO_OOBINLINE 10
#define SO_LINGER 13
#define SO_REUSEPORT 15
#define SO_RCVLOWAT 18
#define SO_SNDLOWAT 19
#define SO_RCVTIMEO_OLD 20
#define SO_SNDTIMEO_OLD 21
#define SO_ACCEPTCONN 30
#define SO_SNDBUFFORCE 32
#define SO_RCVBUFFORCE 33
#define SO_PROTOCOL 38
#define SO_DOMAIN 39
#define SO_RCVTIMEO_NEW 66
#define SO_SNDTIMEO_NEW 67

#define TCP_NODELAY 1
#define TCP_MAXSEG 2
#define TCP_KEEPIDLE 4
#define TCP_KEEPINTVL 5
#define TCP_KEEPCNT 6

#define IP_TOS 1
#define IP_TTL 2
#define IPV6_UNICAST_HOPS 16
#define IPV6_MULTICAST_HOPS 18
#define IPV6_V6ONLY 26
#define IPV6_TCLASS 67

#define SYSCTL_RMEM_MAX 212992
#define SYSCTL_WMEM_MAX 212992

struct linux_msghdr {
    uint64_t name;
    uint32_t namelen;
    uint32_t pad0;
    uint64_t iov;
    uint64_t iovlen;
    uint64_t control;
    uint64_t controllen;
    int32_t flags;
    uint32_t pad1;
};
_Static_assert(sizeof(struct linux_msghdr) == 56, "struct msghdr");

struct linux_mmsghdr {
    struct linux_msghdr hdr;
    uint32_t len;
    uint32_t pad;
};
_Static_assert(sizeof(struct linux_mmsghdr) == 64, "struct mmsghdr");

struct linux_linger {
    int32_t onoff, linger;
};

static struct sock *lookup(int fd, long *err)
{
    int e = 0;
    struct sock *s = sock_from_fd(fd, &e, 0);
    *err = e;
    return s;
}

SYS(socket)
{
    UNUSED_ARGS();
    int domain = (int)a0, type = (int)a1, protocol = (int)a2;
    int flags = type & (SOCK_NONBLOCK | SOCK_CLOEXEC);
    type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (domain != AF_INET && domain != AF_INET6 && domain != AF_UNIX)
        return -EAFNOSUPPORT; /* AF_NETLINK, AF_PACKET and the rest */
    if (type < 1 || type > 10 || (type & ~SOCK_TYPE_MASK))
        return -EINVAL;
    struct sock *s;
    uint64_t fl = net_lock_take();
    if (domain == AF_UNIX) {
        if (type != SOCK_STREAM && type != SOCK_DGRAM) {
            net_lock_give(fl);
            return -ESOCKTNOSUPPORT; /* SOCK_SEQPACKET is not there yet */
        }
        if (protocol != 0) {
            net_lock_give(fl);
            return -EPROTONOSUPPORT;
        }
        s = unix_sock_new(type);
    } else if (type == SOCK_STREAM) {
        if (protocol != 0 && protocol != IPPROTO_TCP) {
            net_lock_give(fl);
            return -EPROTONOSUPPORT;
        }
        s = tcp_sock_new(domain, IPPROTO_TCP);
    } else if (type == SOCK_DGRAM) {
        if (protocol != 0 && protocol != IPPROTO_UDP) {
            net_lock_give(fl);
            return -EPROTONOSUPPORT;
        }
        s = udp_sock_new(domain, IPPROTO_UDP);
    } else {
        net_lock_give(fl);
        return type == 3 ? -EPERM : -ESOCKTNOSUPPORT; /* SOCK_RAW needs CAP_NET_RAW */
    }
    net_lock_give(fl);
    if (!s)
        return -ENOBUFS;
    return sock_install(s, flags);
}

SYS(bind)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct kaddr a;
    int rc = kaddr_from_user(s, (void *)a1, (uint32_t)a2, &a);
    if (rc)
        return rc;
    uint64_t fl = net_lock_take();
    rc = s->ops->bind(s, &a);
    net_lock_give(fl);
    return rc;
}

SYS(listen)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    uint64_t fl = net_lock_take();
    int rc = s->ops->listen(s, (int)a1);
    net_lock_give(fl);
    return rc;
}

static long do_accept(int fd, void *uaddr, uint32_t *ulen, int flags)
{
    if (flags & ~(SOCK_NONBLOCK | SOCK_CLOEXEC))
        return -EINVAL;
    long err;
    struct sock *s = lookup(fd, &err);
    if (!s)
        return err;
    struct sock *ns = 0;
    uint64_t fl = net_lock_take();
    int rc = s->ops->accept(s, &ns, &fl);
    struct kaddr peer = {0};
    if (!rc)
        ns->ops->name(ns, &peer, 1);
    net_lock_give(fl);
    if (rc)
        return rc;
    long nfd = sock_install(ns, flags);
    if (nfd >= 0 && uaddr && ulen && kaddr_to_user(ns, &peer, uaddr, ulen)) {
        fd_close((int)nfd);
        return -EFAULT;
    }
    return nfd;
}

SYS(accept) { UNUSED_ARGS(); return do_accept((int)a0, (void *)a1, (uint32_t *)a2, 0); }
SYS(accept4) { UNUSED_ARGS(); return do_accept((int)a0, (void *)a1, (uint32_t *)a2, (int)a3); }

SYS(connect)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct kaddr a;
    int rc = kaddr_from_user(s, (void *)a1, (uint32_t)a2, &a);
    if (rc)
        return rc;
    uint64_t fl = net_lock_take();
    rc = s->ops->connect(s, &a, &fl);
    net_lock_give(fl);
    return rc;
}

static long do_send(struct sock *s, struct uio *u, void *uaddr, uint32_t alen, int flags)
{
    struct kaddr to, *top = 0;
    if (uaddr && (s->type == SOCK_DGRAM || s->domain == AF_UNIX)) {
        int rc = kaddr_from_user(s, uaddr, alen, &to);
        if (rc)
            return rc;
        top = &to;
    }
    uint64_t fl = net_lock_take();
    int64_t rc = s->ops->send(s, u, top, flags, &fl);
    net_lock_give(fl);
    if (rc == -EPIPE && !(flags & MSG_NOSIGNAL))
        signal_send_self(SIGPIPE);
    return rc;
}

static long do_recv(struct sock *s, struct uio *u, void *uaddr, uint32_t *ulen, int flags, int *mflags)
{
    struct kaddr from = {0};
    uint64_t fl = net_lock_take();
    int64_t rc = s->ops->recv(s, u, &from, flags, mflags, &fl);
    net_lock_give(fl);
    if (rc >= 0 && uaddr && ulen) {
        if (!from.valid) {
            uint32_t zero = 0;
            if (copy_to_user(ulen, &zero, sizeof zero))
                return -EFAULT;
        } else if (kaddr_to_user(s, &from, uaddr, ulen)) {
            return -EFAULT;
        }
    }
    return rc;
}

SYS(sendto)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct uio u;
    uio_single(&u, (void *)a1, a2);
    return do_send(s, &u, (void *)a4, (uint32_t)a5, (int)a3);
}

SYS(recvfrom)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct uio u;
    uio_single(&u, (void *)a1, a2);
    int mflags = 0;
    return do_recv(s, &u, (void *)a4, (uint32_t *)a5, (int)a3, &mflags);
}

static long sendmsg_one(struct sock *s, struct linux_msghdr *m, int flags)
{
    if (m->controllen)
        return -EINVAL; /* no ancillary data is understood on these sockets */
    struct uio u;
    int rc = uio_init(&u, (void *)m->iov, m->iovlen);
    if (rc)
        return rc == -EINVAL && m->iovlen > 1024 ? -EMSGSIZE : rc;
    return do_send(s, &u, m->name ? (void *)m->name : 0, m->namelen, flags);
}

static long recvmsg_one(struct sock *s, struct linux_msghdr *m, struct linux_msghdr *um, int flags)
{
    struct uio u;
    int rc = uio_init(&u, (void *)m->iov, m->iovlen);
    if (rc)
        return rc == -EINVAL && m->iovlen > 1024 ? -EMSGSIZE : rc;
    int mflags = 0;
    long n = do_recv(s, &u, m->name ? (void *)m->name : 0, m->name ? &um->namelen : 0, flags,
                     &mflags);
    if (n < 0)
        return n;
    uint64_t zero = 0;
    int32_t f = mflags;
    if (copy_to_user(&um->controllen, &zero, sizeof zero) || copy_to_user(&um->flags, &f, sizeof f))
        return -EFAULT;
    return n;
}

SYS(sendmsg)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct linux_msghdr m;
    if (copy_from_user(&m, (void *)a1, sizeof m))
        return -EFAULT;
    return sendmsg_one(s, &m, (int)a2);
}

SYS(recvmsg)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct linux_msghdr m;
    if (copy_from_user(&m, (void *)a1, sizeof m))
        return -EFAULT;
    return recvmsg_one(s, &m, (struct linux_msghdr *)a1, (int)a2);
}

SYS(sendmmsg)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct linux_mmsghdr *um = (void *)a1;
    unsigned vlen = (unsigned)a2 > 1024 ? 1024 : (unsigned)a2;
    unsigned i = 0;
    for (; i < vlen; i++) {
        struct linux_mmsghdr m;
        if (copy_from_user(&m, &um[i], sizeof m))
            return i ? (long)i : -EFAULT;
        long n = sendmsg_one(s, &m.hdr, (int)a3);
        if (n < 0)
            return i ? (long)i : n;
        uint32_t len = (uint32_t)n;
        if (copy_to_user(&um[i].len, &len, sizeof len))
            return i ? (long)i : -EFAULT;
    }
    return i;
}

SYS(recvmmsg)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    struct linux_mmsghdr *um = (void *)a1;
    unsigned vlen = (unsigned)a2 > 1024 ? 1024 : (unsigned)a2;
    int flags = (int)a3;
    uint64_t deadline = 0;
    if (a4) {
        struct timespec64 ts;
        if (copy_from_user(&ts, (void *)a4, sizeof ts))
            return -EFAULT;
        if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
            return -EINVAL;
        deadline = clock_monotonic_ns() + (uint64_t)ts.sec * 1000000000u + (uint64_t)ts.nsec;
    }
    unsigned i = 0;
    for (; i < vlen; i++) {
        struct linux_mmsghdr m;
        if (copy_from_user(&m, &um[i], sizeof m))
            return i ? (long)i : -EFAULT;
        long n = recvmsg_one(s, &m.hdr, &um[i].hdr, flags);
        if (n < 0)
            return i ? (long)i : n;
        uint32_t len = (uint32_t)n;
        if (copy_to_user(&um[i].len, &len, sizeof len))
            return i ? (long)i : -EFAULT;
        if (flags & 0x10000) /* MSG_WAITFORONE: only the first waits */
            flags |= MSG_DONTWAIT;
        if (deadline && clock_monotonic_ns() >= deadline)
            return i + 1;
    }
    return i;
}

SYS(shutdown)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    if (a1 > SHUT_RDWR)
        return -EINVAL;
    uint64_t fl = net_lock_take();
    int rc = s->ops->shutdown(s, (int)a1);
    net_lock_give(fl);
    return rc;
}

static long do_name(int fd, void *uaddr, uint32_t *ulen, int peer)
{
    long err;
    struct sock *s = lookup(fd, &err);
    if (!s)
        return err;
    struct kaddr a;
    uint64_t fl = net_lock_take();
    int rc = s->ops->name(s, &a, peer);
    net_lock_give(fl);
    if (rc)
        return rc;
    return kaddr_to_user(s, &a, uaddr, ulen);
}

SYS(getsockname) { UNUSED_ARGS(); return do_name((int)a0, (void *)a1, (uint32_t *)a2, 0); }
SYS(getpeername) { UNUSED_ARGS(); return do_name((int)a0, (void *)a1, (uint32_t *)a2, 1); }

static int clamp_buf(int v, int max)
{
    if (v < 0 || v > max)
        v = max;
    return v;
}

/* A timeval option value in nanoseconds (0: no timeout). */
static int timeo_from(const void *uval, uint32_t len, uint64_t *ns)
{
    struct timeval64 tv;
    if (len < sizeof tv)
        return -EINVAL;
    if (copy_from_user(&tv, uval, sizeof tv))
        return -EFAULT;
    if (tv.usec < 0 || tv.usec >= 1000000)
        return -EDOM;
    if (tv.sec < 0) {
        *ns = 0;
        return 0;
    }
    *ns = (uint64_t)tv.sec * 1000000000u + (uint64_t)tv.usec * 1000u;
    return 0;
}

static int set_socket_opt(struct sock *s, int name, int v, const void *uval, uint32_t len)
{
    switch (name) {
    case SO_REUSEADDR: s->reuseaddr = !!v; return 0;
    case SO_REUSEPORT: s->reuseport = !!v; return 0;
    case SO_KEEPALIVE: s->keepalive = !!v; return 0;
    case SO_BROADCAST: s->broadcast = !!v; return 0;
    case SO_RCVBUF:
    case SO_RCVBUFFORCE: s->rcvbuf = clamp_buf(v, SYSCTL_RMEM_MAX) * 2; if (s->rcvbuf < 2304) s->rcvbuf = 2304; return 0;
    case SO_SNDBUF:
    case SO_SNDBUFFORCE: s->sndbuf = clamp_buf(v, SYSCTL_WMEM_MAX) * 2; if (s->sndbuf < 4608) s->sndbuf = 4608; return 0;
    case SO_LINGER: {
        struct linux_linger l;
        if (len < sizeof l)
            return -EINVAL;
        if (copy_from_user(&l, uval, sizeof l))
            return -EFAULT;
        s->linger_on = l.onoff != 0;
        s->linger_s = l.linger < 0 ? 0 : l.linger;
        return 0;
    }
    case SO_RCVTIMEO_OLD:
    case SO_RCVTIMEO_NEW: return timeo_from(uval, len, &s->rcvtimeo_ns);
    case SO_SNDTIMEO_OLD:
    case SO_SNDTIMEO_NEW: return timeo_from(uval, len, &s->sndtimeo_ns);
    case SO_OOBINLINE:
        /* Urgent data is not supported at all: inline is the only way it could ever arrive. */
        return v ? 0 : -ENOPROTOOPT;
    default: return -ENOPROTOOPT;
    }
}

SYS(setsockopt)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    int level = (int)a1, name = (int)a2;
    const void *uval = (const void *)a3;
    uint32_t len = (uint32_t)a4;
    int v = 0;
    int is_int = !(level == SOL_SOCKET && (name == SO_LINGER || name == SO_RCVTIMEO_OLD ||
                                           name == SO_SNDTIMEO_OLD || name == SO_RCVTIMEO_NEW ||
                                           name == SO_SNDTIMEO_NEW));
    if (is_int) {
        if ((int32_t)len < (int32_t)sizeof v)
            return -EINVAL;
        if (copy_from_user(&v, uval, sizeof v))
            return -EFAULT;
    }
    uint64_t fl = net_lock_take();
    int rc;
    if (s->domain == AF_UNIX && level != SOL_SOCKET) {
        rc = -EOPNOTSUPP; /* no IP or TCP level on a unix socket */
    } else if (level == SOL_SOCKET) {
        rc = set_socket_opt(s, name, v, uval, len);
    } else if (level == IPPROTO_TCP && s->type == SOCK_STREAM) {
        switch (name) {
        case TCP_NODELAY: s->nodelay = !!v; rc = 0; break;
        case TCP_KEEPIDLE: rc = v < 1 || v > 32767 ? -EINVAL : (s->keepidle = v, 0); break;
        case TCP_KEEPINTVL: rc = v < 1 || v > 32767 ? -EINVAL : (s->keepintvl = v, 0); break;
        case TCP_KEEPCNT: rc = v < 1 || v > 127 ? -EINVAL : (s->keepcnt = v, 0); break;
        default: rc = -ENOPROTOOPT;
        }
    } else if (level == IPPROTO_IP) {
        rc = name == IP_TOS ? (s->tos = v & 0xff, 0) : -ENOPROTOOPT;
    } else if (level == IPPROTO_IPV6 && s->domain == AF_INET6) {
        if (name == IPV6_V6ONLY)
            rc = s->state != SS_NEW ? -EINVAL : (s->v6only = !!v, 0);
        else if (name == IPV6_TCLASS)
            rc = v < -1 || v > 0xff ? -EINVAL : (s->tos = v < 0 ? 0 : v, 0);
        else if (name == IPV6_MULTICAST_HOPS && s->type == SOCK_DGRAM) /* -1: the default, 1 */
            rc = v < -1 || v > 255 ? -EINVAL : (s->mcast_hops = v < 0 ? 1 : v, 0);
        else
            rc = -ENOPROTOOPT;
    } else {
        rc = level == IPPROTO_TCP || level == IPPROTO_UDP ? -ENOPROTOOPT : -ENOPROTOOPT;
    }
    if (!rc && s->pcb && s->ops->apply)
        s->ops->apply(s);
    net_lock_give(fl);
    return rc;
}

SYS(getsockopt)
{
    UNUSED_ARGS();
    long err;
    struct sock *s = lookup((int)a0, &err);
    if (!s)
        return err;
    int level = (int)a1, name = (int)a2;
    void *uval = (void *)a3;
    uint32_t *ulen = (uint32_t *)a4;
    int32_t len;
    if (copy_from_user(&len, ulen, sizeof len))
        return -EFAULT;
    if (len < 0)
        return -EINVAL;
    union {
        int i;
        struct linux_linger l;
        struct timeval64 tv;
    } out;
    memset(&out, 0, sizeof out);
    uint32_t size = sizeof(int);
    int rc = 0;
    uint64_t fl = net_lock_take();
    if (s->domain == AF_UNIX && level != SOL_SOCKET) {
        rc = -EOPNOTSUPP;
    } else if (level == SOL_SOCKET) {
        switch (name) {
        case SO_REUSEADDR: out.i = s->reuseaddr; break;
        case SO_REUSEPORT: out.i = s->reuseport; break;
        case SO_KEEPALIVE: out.i = s->keepalive; break;
        case SO_BROADCAST: out.i = s->broadcast; break;
        case SO_TYPE: out.i = s->type; break;
        case SO_DOMAIN: out.i = s->domain; break;
        case SO_PROTOCOL: out.i = s->protocol; break;
        case SO_ACCEPTCONN: out.i = s->state == SS_LISTENING; break;
        case SO_ERROR: out.i = s->err; s->err = 0; break;
        case SO_RCVBUF: out.i = s->rcvbuf; break;
        case SO_SNDBUF: out.i = s->sndbuf; break;
        case SO_RCVLOWAT: out.i = 1; break;
        case SO_SNDLOWAT: out.i = 1; break;
        case SO_OOBINLINE: out.i = 0; break;
        case SO_LINGER:
            out.l.onoff = s->linger_on;
            out.l.linger = s->linger_s;
            size = sizeof out.l;
            break;
        case SO_RCVTIMEO_OLD:
        case SO_RCVTIMEO_NEW:
        case SO_SNDTIMEO_OLD:
        case SO_SNDTIMEO_NEW: {
            uint64_t ns = (name == SO_RCVTIMEO_OLD || name == SO_RCVTIMEO_NEW) ? s->rcvtimeo_ns : s->sndtimeo_ns;
            out.tv.sec = (int64_t)(ns / 1000000000u);
            out.tv.usec = (int64_t)(ns % 1000000000u / 1000u);
            size = sizeof out.tv;
            break;
        }
        default: rc = -ENOPROTOOPT;
        }
    } else if (level == IPPROTO_TCP && s->type == SOCK_STREAM) {
        switch (name) {
        case TCP_NODELAY: out.i = s->nodelay; break;
        case TCP_KEEPIDLE: out.i = s->keepidle; break;
        case TCP_KEEPINTVL: out.i = s->keepintvl; break;
        case TCP_KEEPCNT: out.i = s->keepcnt; break;
        case TCP_MAXSEG: out.i = 1460; break;
        default: rc = -ENOPROTOOPT;
        }
    } else if (level == IPPROTO_IP) {
        if (name == IP_TOS)
            out.i = s->tos;
        else if (name == IP_TTL)
            out.i = 255; /* lwIP's default TTL */
        else
            rc = -ENOPROTOOPT;
    } else if (level == IPPROTO_IPV6 && s->domain == AF_INET6) {
        if (name == IPV6_V6ONLY)
            out.i = s->v6only;
        else if (name == IPV6_TCLASS)
            out.i = s->tos;
        else if (name == IPV6_UNICAST_HOPS)
            out.i = 255;
        else if (name == IPV6_MULTICAST_HOPS && s->type == SOCK_DGRAM)
            out.i = s->mcast_hops;
        else
            rc = -ENOPROTOOPT;
    } else {
        rc = -ENOPROTOOPT;
    }
    net_lock_give(fl);
    if (rc)
        return rc;
    uint32_t n = (uint32_t)len < size ? (uint32_t)len : size;
    if (copy_to_user(uval, &out, n) || copy_to_user(ulen, &n, sizeof n))
        return -EFAULT;
    return 0;
}
