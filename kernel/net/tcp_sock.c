/* TCP sockets over lwIP's raw API: connect (blocking and EINPROGRESS), listen and accept with a
 * backlog, send through lwIP's send buffer (one copy: the program's bytes into lwIP's segments),
 * receive from the queue of segments lwIP hands up, shutdown, and Linux's readiness rules for
 * poll. Everything runs under net_lock (net/stack.h); lwIP's callbacks run under it too. */
#include "errno.h"
#include "fs/poll.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "net/socket.h"
#include "net/stack.h"
#include "lwip/priv/tcp_priv.h"
#include "lwip/tcp.h"


#define SEND_CHUNK (64 * 1024)
/* Writable (EPOLLOUT) once this much send buffer is free, as Linux's sk_stream_wspace test.
 * Compared with pcb->snd_buf itself: lwIP's tcp_sndbuf() caps it at 65535. */
#define WRITE_SPACE (TCP_SND_BUF / 3)

static int lwip_errno(err_t e)
{
    switch (e) {
    case ERR_OK: return 0;
    case ERR_MEM: return ENOMEM;
    case ERR_BUF: return ENOBUFS;
    case ERR_TIMEOUT: return ETIMEDOUT;
    case ERR_RTE: return ENETUNREACH;
    case ERR_INPROGRESS: return EINPROGRESS;
    case ERR_VAL: return EINVAL;
    case ERR_WOULDBLOCK: return EAGAIN;
    case ERR_USE: return EADDRINUSE;
    case ERR_ALREADY: return EALREADY;
    case ERR_ISCONN: return EISCONN;
    case ERR_CONN: return ENOTCONN;
    case ERR_IF: return ENETDOWN;
    case ERR_ABRT: return ECONNABORTED;
    case ERR_RST: return ECONNRESET;
    case ERR_CLSD: return ENOTCONN;
    case ERR_ARG: return EINVAL;
    default: return EIO;
    }
}

static struct tcp_pcb *pcb_of(struct sock *s) { return s->pcb; }

/* Gives lwIP back `n` bytes the program has read from s. Two things beyond tcp_recved, both as
 * Linux does, for request-answer traffic:
 * - While at least half the receive window is free, the whole of it is announced (Linux's
 *   __tcp_select_window advertises the free space and only holds the right edge back when space
 *   runs low). lwIP keeps the right edge where it was until it can move by an MSS (receiver-side
 *   silly-window avoidance, tcp_update_rcv_ann_wnd), so a connection carrying small requests
 *   announced a window one request smaller each time.
 * - Once the program has read everything received, an ACK that lwIP is delaying goes out now,
 *   before the program answers (Linux's tcp_cleanup_rbuf acknowledges a drained queue so).
 *   Otherwise the answer's first segment carries the ACK of the request.
 * Both matter to QEMU's user network (slirp, BSD's TCP): it takes a data segment's fast path,
 * and acknowledges it at once, only if the segment acknowledges nothing new and the window is
 * unchanged; any other segment is acknowledged by its delayed-ACK timer, 2 ms or more later.
 * Nagle holds an answer's second write (the JDK's HttpServer writes the headers, then the
 * body) until that ACK comes: 2-3 ms more for every request at one connection. */
static void rx_consumed(struct sock *s, struct tcp_pcb *pcb, uint64_t n)
{
    while (n) {
        uint16_t w = n > 0xffff ? 0xffff : (uint16_t)n; /* lwIP takes a u16 */
        tcp_recved(pcb, w);
        n -= w;
    }
    if (pcb->rcv_wnd >= TCP_WND_MAX(pcb) / 2 && pcb->rcv_ann_wnd < pcb->rcv_wnd)
        pcb->rcv_ann_wnd = pcb->rcv_wnd; /* the next segment carries it */
    if (!s->rx_bytes && (pcb->flags & TF_ACK_DELAY)) {
        tcp_ack_now(pcb);
        tcp_output(pcb);
    }
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err);
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len);
static void on_err(void *arg, err_t err);

static void hook(struct sock *s, struct tcp_pcb *pcb)
{
    s->pcb = pcb;
    tcp_arg(pcb, s);
    tcp_recv(pcb, on_recv);
    tcp_sent(pcb, on_sent);
    tcp_err(pcb, on_err);
}

static void unhook(struct tcp_pcb *pcb)
{
    tcp_arg(pcb, 0);
    if (pcb->state == LISTEN) {
        tcp_accept(pcb, 0);
        return;
    }
    tcp_recv(pcb, 0); /* lwIP's tcp_recv_null: data is acknowledged and dropped, FIN closes */
    tcp_sent(pcb, 0);
    tcp_err(pcb, 0);
}

static void apply(struct sock *s)
{
    struct tcp_pcb *pcb = pcb_of(s);
    if (!pcb)
        return;
    if (s->reuseaddr || s->reuseport)
        ip_set_option(pcb, SOF_REUSEADDR);
    else
        ip_reset_option(pcb, SOF_REUSEADDR);
    pcb->tos = (u8_t)s->tos;
    if (s->state == SS_LISTENING)
        return; /* a listening pcb has no more than that */
    if (s->keepalive)
        ip_set_option(pcb, SOF_KEEPALIVE);
    else
        ip_reset_option(pcb, SOF_KEEPALIVE);
    pcb->keep_idle = (u32_t)s->keepidle * 1000;
    pcb->keep_intvl = (u32_t)s->keepintvl * 1000;
    pcb->keep_cnt = (u32_t)s->keepcnt;
    if (s->nodelay)
        tcp_nagle_disable(pcb);
    else
        tcp_nagle_enable(pcb);
}

static err_t on_recv(void *arg, struct tcp_pcb *pcb, struct pbuf *p, err_t err)
{
    struct sock *s = arg;
    (void)err;
    if (!p) {
        if (s) {
            s->rx_eof = 1;
            sock_wake(s);
        }
        return ERR_OK;
    }
    if (!s || s->shut_rd) {
        tcp_recved(pcb, p->tot_len);
        pbuf_free(p);
        return ERR_OK;
    }
    if (sock_rx_push(s, p, 0))
        return ERR_MEM; /* lwIP keeps it as refused data and offers it again */
    sock_wake(s);
    return ERR_OK;
}

/* An ACK freed send space: wakes the socket's queue only if someone found too little
 * (tx_nospace) and there is now enough, as Linux's tcp_check_space does. Waking on every ACK
 * woke a thread in epoll_wait for reading (the JDK's HttpServer dispatcher) or blocked in read
 * for nothing, once or twice a request: a switch in and out of a thread each time. */
static err_t on_sent(void *arg, struct tcp_pcb *pcb, u16_t len)
{
    struct sock *s = arg;
    (void)len;
    if (s && s->tx_nospace && pcb->snd_buf >= WRITE_SPACE) {
        s->tx_nospace = 0;
        sock_wake(s);
    }
    return ERR_OK;
}

/* lwIP freed the pcb (reset, abort, retransmission timeout). */
static void on_err(void *arg, err_t err)
{
    struct sock *s = arg;
    if (!s)
        return;
    s->pcb = 0;
    if (s->state == SS_CONNECTING)
        s->err = err == ERR_RST ? ECONNREFUSED : (err == ERR_ABRT ? ETIMEDOUT : lwip_errno(err));
    else if (err != ERR_CLSD)
        s->err = err == ERR_ABRT ? ETIMEDOUT : lwip_errno(err);
    s->state = SS_CLOSED;
    s->rx_eof = 1;
    sock_wake(s);
}

static err_t on_connected(void *arg, struct tcp_pcb *pcb, err_t err)
{
    struct sock *s = arg;
    (void)pcb;
    if (s) {
        s->state = err == ERR_OK ? SS_CONNECTED : SS_CLOSED;
        if (err != ERR_OK)
            s->err = lwip_errno(err);
        sock_wake(s);
    }
    return ERR_OK;
}

static err_t on_accept(void *arg, struct tcp_pcb *newpcb, err_t err)
{
    struct sock *s = arg;
    if (!s || err != ERR_OK || !newpcb)
        return ERR_VAL;
    if (s->accept_len > s->backlog)
        return ERR_MEM; /* the backlog is full: lwIP resets the new connection */
    struct sock *ns = sock_alloc(s->domain, s->type, s->protocol, &tcp_sock_ops);
    if (!ns)
        return ERR_MEM;
    ns->state = SS_CONNECTED;
    /* Options a connection inherits from its listener, as on Linux (SO_REUSEADDR too: lwIP lets
     * a new listener bind the port only past connections that have it). */
    ns->reuseaddr = s->reuseaddr;
    ns->reuseport = s->reuseport;
    ns->keepalive = s->keepalive;
    ns->keepidle = s->keepidle;
    ns->keepintvl = s->keepintvl;
    ns->keepcnt = s->keepcnt;
    ns->nodelay = s->nodelay;
    ns->tos = s->tos;
    ns->rcvbuf = s->rcvbuf;
    ns->sndbuf = s->sndbuf;
    ns->linger_on = s->linger_on;
    ns->linger_s = s->linger_s;
    ns->rcvtimeo_ns = s->rcvtimeo_ns;
    ns->sndtimeo_ns = s->sndtimeo_ns;
    hook(ns, newpcb);
    apply(ns);
    if (s->accept_tail)
        s->accept_tail->accept_next = ns;
    else
        s->accept_head = ns;
    s->accept_tail = ns;
    s->accept_len++;
    sock_wake(s);
    return ERR_OK;
}

static int tcp_bind_(struct sock *s, const struct kaddr *a)
{
    struct tcp_pcb *pcb = pcb_of(s);
    if (s->state != SS_NEW || !pcb)
        return -EINVAL;
    ip_addr_t ip = a->ip;
    if (s->domain == AF_INET6 && IP_IS_V6_VAL(ip) && ip6_addr_isany(ip_2_ip6(&ip)) && !s->v6only)
        ip = *IP_ANY_TYPE; /* :: takes IPv4 too, unless IPV6_V6ONLY */
    apply(s);
    err_t e = tcp_bind(pcb, &ip, a->port);
    if (e != ERR_OK)
        return -lwip_errno(e);
    s->state = SS_BOUND;
    return 0;
}

static int tcp_listen_(struct sock *s, int backlog)
{
    if (backlog < 0 || backlog > 4096)
        backlog = 4096;
    if (s->state == SS_LISTENING) {
        s->backlog = backlog;
        return 0;
    }
    if (s->state != SS_NEW && s->state != SS_BOUND)
        return -EINVAL;
    if (!s->pcb)
        return -EINVAL;
    if (s->state == SS_NEW) {
        struct kaddr any = {.port = 0};
        ip_addr_set_any(s->domain == AF_INET6, &any.ip);
        int rc = tcp_bind_(s, &any);
        if (rc)
            return rc;
    }
    err_t e;
    struct tcp_pcb *lp = tcp_listen_with_backlog_and_err(pcb_of(s), 255, &e);
    if (!lp)
        return -lwip_errno(e);
    s->pcb = lp; /* lwIP freed the old pcb */
    s->state = SS_LISTENING;
    s->backlog = backlog;
    tcp_arg(lp, s);
    tcp_accept(lp, on_accept);
    return 0;
}

static int take_err(struct sock *s)
{
    int e = s->err;
    s->err = 0;
    return -e;
}

static int tcp_connect_(struct sock *s, const struct kaddr *a, uint64_t *fl)
{
    if (s->connect_async && s->state != SS_CONNECTING) {
        /* The first connect after a non-blocking one finished says how it ended, as Linux. */
        s->connect_async = 0;
        if (s->state == SS_CONNECTED)
            return 0;
        if (s->err)
            return take_err(s);
    }
    if (s->state == SS_CONNECTED)
        return -EISCONN;
    if (s->state == SS_LISTENING)
        return -EISCONN;
    if (s->state == SS_CLOSED)
        return s->err ? -s->err : -EISCONN;
    if (s->state != SS_CONNECTING) {
        struct tcp_pcb *pcb = pcb_of(s);
        if (!pcb)
            return -EINVAL;
        apply(s);
        err_t e = tcp_connect(pcb, &a->ip, a->port, on_connected);
        if (e != ERR_OK)
            return -lwip_errno(e);
        s->state = SS_CONNECTING;
        if (sock_nonblock(s, 0)) {
            s->connect_async = 1;
            return -EINPROGRESS;
        }
    } else if (sock_nonblock(s, 0)) {
        return -EALREADY;
    }
    uint64_t deadline = sock_deadline(s->sndtimeo_ns);
    while (s->state == SS_CONNECTING) {
        int rc = sock_wait(s, fl, deadline);
        if (rc == -EAGAIN)
            return -EINPROGRESS; /* SO_SNDTIMEO ran out: Linux says EINPROGRESS */
        if (rc)
            return rc;
    }
    if (s->state != SS_CONNECTED) {
        int e = s->err ? s->err : ECONNREFUSED;
        s->err = 0;
        return -e;
    }
    return 0;
}


/* Waits until the socket may send (connected) or says why it cannot: 0 or -errno. */
static int wait_connected(struct sock *s, int flags, uint64_t deadline, uint64_t *fl)
{
    if (s->err)
        return take_err(s);
    if (s->state == SS_CONNECTING && sock_nonblock(s, flags))
        return -EAGAIN;
    while (s->state == SS_CONNECTING) {
        int rc = sock_wait(s, fl, deadline);
        if (rc)
            return rc;
    }
    if (s->state != SS_CONNECTED || s->shut_wr || !s->pcb)
        return s->err ? take_err(s) : -EPIPE;
    return 0;
}

static int64_t tcp_send_(struct sock *s, struct uio *u, const struct kaddr *to, int flags, uint64_t *fl)
{
    (void)to; /* a connected stream ignores the address, as Linux does */
    uint64_t deadline = sock_deadline(s->sndtimeo_ns);
    int wrc = wait_connected(s, flags, deadline, fl);
    if (wrc)
        return wrc;
    uint64_t chunk = u->resid < SEND_CHUNK ? u->resid : SEND_CHUNK;
    uint8_t *buf = chunk ? kmalloc(chunk) : 0;
    if (chunk && !buf)
        return -ENOMEM;
    int64_t done = 0, rc = 0;
    uint32_t pending = 0; /* bytes in buf not yet taken by lwIP */
    while (u->resid || pending) {
        struct tcp_pcb *pcb = pcb_of(s);
        if (!pcb || s->shut_wr) {
            rc = s->err ? take_err(s) : -EPIPE;
            break;
        }
        uint32_t room = tcp_sndbuf(pcb);
        if (tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4)
            room = 0;
        if (!pending && room) {
            pending = (uint32_t)(u->resid < room ? u->resid : room);
            if (pending > chunk)
                pending = (uint32_t)chunk;
            if (uio_in(u, buf, pending)) {
                pending = 0;
                rc = -EFAULT;
                break;
            }
        }
        if (pending && room >= pending) {
            u8_t wf = TCP_WRITE_FLAG_COPY | ((u->resid || (flags & MSG_MORE)) ? TCP_WRITE_FLAG_MORE : 0);
            err_t e = ERR_OK;
            uint32_t off = 0;
            while (off < pending) {
                uint32_t n = pending - off > 0xffff ? 0xffff : pending - off;
                e = tcp_write(pcb, buf + off, (u16_t)n, wf);
                if (e != ERR_OK)
                    break;
                off += n;
            }
            done += off;
            memmove(buf, buf + off, pending - off);
            pending -= off;
            if (!pending)
                continue;
        }
        tcp_output(pcb);
        s->tx_nospace = 1;
        if (sock_nonblock(s, flags)) {
            if (!done)
                rc = -EAGAIN;
            break;
        }
        int w = sock_wait(s, fl, deadline);
        if (w) {
            if (!done)
                rc = w;
            break;
        }
    }
    /* Bytes still pending were taken from the program but never accepted by lwIP: the count
     * excludes them, so a program that retries from `done` sends them again. */
    if (s->pcb)
        tcp_output(pcb_of(s));
    kfree(buf);
    return done ? done : rc;
}

int64_t tcp_sendfile(struct sock *s, struct inode *ino, uint64_t *off, uint64_t len, uint64_t *fl)
{
    uint64_t deadline = sock_deadline(s->sndtimeo_ns);
    int rc = wait_connected(s, 0, deadline, fl);
    if (rc)
        return rc;
    uint64_t end = *off + len < *off ? ~0ull : *off + len;
    if (end > ino->size)
        end = ino->size;
    char *bounce = 0;
    int64_t done = 0;
    while (*off < end) {
        struct tcp_pcb *pcb = pcb_of(s);
        if (!pcb || s->shut_wr) {
            rc = s->err ? take_err(s) : -EPIPE;
            break;
        }
        uint32_t room = tcp_sndbuf(pcb);
        if (tcp_sndqueuelen(pcb) >= TCP_SND_QUEUELEN - 4)
            room = 0;
        uint64_t po = *off & 4095;
        uint32_t n = (uint32_t)(4096 - po);
        if (n > end - *off)
            n = (uint32_t)(end - *off);
        err_t e = ERR_MEM;
        if (room >= n) {
            const void *page = inode_page_ptr(ino, *off >> 12);
            if (page) {
                /* The image's own page, referenced by the segment until it is acknowledged:
                 * the root image is read-only and mapped for the VM's whole life. */
                e = tcp_write(pcb, (const char *)page + po, (u16_t)n, TCP_WRITE_FLAG_MORE);
            } else {
                if (!bounce && !(bounce = kmalloc(4096))) {
                    rc = -ENOMEM;
                    break;
                }
                int64_t r = inode_read(ino, *off, bounce, n);
                if (r <= 0) {
                    rc = (int)r;
                    break;
                }
                n = (uint32_t)r;
                e = tcp_write(pcb, bounce, (u16_t)n, TCP_WRITE_FLAG_COPY | TCP_WRITE_FLAG_MORE);
            }
        }
        if (e == ERR_OK) {
            *off += n;
            done += n;
            continue;
        }
        tcp_output(pcb);
        s->tx_nospace = 1;
        if (sock_nonblock(s, 0)) {
            if (!done)
                rc = -EAGAIN;
            break;
        }
        int w = sock_wait(s, fl, deadline);
        if (w) {
            if (!done)
                rc = w;
            break;
        }
    }
    if (s->pcb)
        tcp_output(pcb_of(s));
    kfree(bounce);
    return done ? done : rc;
}

static int64_t tcp_recv_(struct sock *s, struct uio *u, struct kaddr *from, int flags, int *mflags,
                         uint64_t *fl)
{
    (void)from;
    (void)mflags;
    if (flags & MSG_OOB)
        return -EINVAL;
    if (s->state == SS_LISTENING || s->state == SS_NEW || s->state == SS_BOUND)
        return -ENOTCONN;
    uint64_t deadline = sock_deadline(s->rcvtimeo_ns);
    int64_t done = 0;
    for (;;) {
        int fault;
        uint32_t n = sock_rx_copy_stream(s, u, flags & MSG_PEEK, &fault);
        done += n;
        if (!(flags & MSG_PEEK) && n && s->pcb)
            rx_consumed(s, pcb_of(s), n);
        if (fault)
            return done ? done : -EFAULT;
        if (!u->resid || (done && !(flags & MSG_WAITALL)) || (flags & MSG_PEEK && done))
            break;
        if (s->rx_eof || s->shut_rd || !s->pcb) {
            if (!done && s->err)
                return take_err(s);
            break;
        }
        if (s->err && !done)
            return take_err(s);
        if (sock_nonblock(s, flags))
            return done ? done : -EAGAIN;
        int rc = sock_wait(s, fl, deadline);
        if (rc)
            return done ? done : rc;
    }
    return done;
}

static int tcp_shutdown_(struct sock *s, int how)
{
    if (s->state == SS_LISTENING && (how == SHUT_RD || how == SHUT_RDWR)) {
        s->shut_rd = 1; /* Linux wakes accept() waiters with EINVAL */
        s->state = SS_CLOSED;
        struct tcp_pcb *pcb = pcb_of(s);
        if (pcb) {
            unhook(pcb);
            tcp_close(pcb);
            s->pcb = 0;
        }
        sock_wake(s);
        return 0;
    }
    if (s->state != SS_CONNECTED && s->state != SS_CLOSED)
        return -ENOTCONN;
    if (how == SHUT_RD || how == SHUT_RDWR)
        s->shut_rd = 1;
    if ((how == SHUT_WR || how == SHUT_RDWR) && !s->shut_wr) {
        s->shut_wr = 1;
        if (s->pcb)
            tcp_shutdown(pcb_of(s), 0, 1);
    }
    sock_wake(s);
    return 0;
}

static int tcp_name_(struct sock *s, struct kaddr *out, int peer)
{
    struct tcp_pcb *pcb = pcb_of(s);
    memset(out, 0, sizeof *out);
    if (peer) {
        if (s->state != SS_CONNECTED || !pcb)
            return -ENOTCONN;
        out->ip = pcb->remote_ip;
        out->port = pcb->remote_port;
        return 0;
    }
    if (pcb) {
        out->ip = pcb->local_ip;
        out->port = pcb->local_port;
    }
    return 0;
}

static uint32_t tcp_poll_(struct sock *s)
{
    if (s->state == SS_LISTENING)
        return s->accept_head ? EPOLLIN | EPOLLRDNORM : 0;
    uint32_t ev = s->err ? EPOLLERR : 0;
    if (s->state == SS_NEW || s->state == SS_BOUND)
        return ev | EPOLLOUT | EPOLLWRNORM | EPOLLHUP;
    if (s->state == SS_CONNECTING)
        return ev;
    struct tcp_pcb *pcb = pcb_of(s);
    if (s->rx_head || s->rx_eof || s->shut_rd || !pcb)
        ev |= EPOLLIN | EPOLLRDNORM;
    if (s->rx_eof || s->shut_rd)
        ev |= EPOLLRDHUP;
    if (!pcb || (s->rx_eof && s->shut_wr) || (s->shut_rd && s->shut_wr))
        ev |= EPOLLHUP;
    if (!pcb || s->shut_wr || pcb->snd_buf >= WRITE_SPACE)
        ev |= EPOLLOUT | EPOLLWRNORM;
    else
        s->tx_nospace = 1; /* a poller waits for space: on_sent wakes it */
    return ev;
}

static int tcp_close_(struct sock *s)
{
    int unread = s->rx_head != 0;
    sock_rx_clear(s);
    while (s->accept_head) {
        struct sock *ns = s->accept_head;
        s->accept_head = ns->accept_next;
        if (ns->pcb) {
            struct tcp_pcb *np = pcb_of(ns);
            unhook(np);
            tcp_abort(np);
        }
        sock_rx_clear(ns);
        sock_free(ns);
    }
    s->accept_tail = 0;
    struct tcp_pcb *pcb = pcb_of(s);
    if (pcb) {
        int listening = s->state == SS_LISTENING;
        unhook(pcb);
        s->pcb = 0;
        if (!listening && (unread || (s->linger_on && s->linger_s == 0)))
            tcp_abort(pcb); /* unread data or SO_LINGER 0: a reset, as Linux */
        else if (tcp_close(pcb) != ERR_OK)
            tcp_abort(pcb);
    }
    return 1;
}

static int tcp_nread_(struct sock *s) { return (int)s->rx_bytes; }

const struct sock_ops tcp_sock_ops = {
    .bind = tcp_bind_,
    .listen = tcp_listen_,
    .accept = sock_accept_queued,
    .connect = tcp_connect_,
    .send = tcp_send_,
    .recv = tcp_recv_,
    .shutdown = tcp_shutdown_,
    .name = tcp_name_,
    .poll = tcp_poll_,
    .close = tcp_close_,
    .nread = tcp_nread_,
    .apply = apply,
};

/* A new TCP socket with its pcb; 0 when out of memory. */
struct sock *tcp_sock_new(int domain, int protocol)
{
    struct tcp_pcb *pcb = tcp_new_ip_type(domain == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
    if (!pcb)
        return 0;
    struct sock *s = sock_alloc(domain, SOCK_STREAM, protocol, &tcp_sock_ops);
    if (!s) {
        tcp_abort(pcb);
        return 0;
    }
    hook(s, pcb);
    return s;
}
