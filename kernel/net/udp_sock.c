/* UDP sockets over lwIP's raw API: datagrams queued with their sender until read (dropped, as
 * Linux drops them, once SO_RCVBUF's worth is waiting), sendto/send on a connected socket,
 * MSG_PEEK and MSG_TRUNC. Under net_lock like everything in net/. */
#include "errno.h"
#include "fs/poll.h"
#include "lib/string.h"
#include "net/socket.h"
#include "net/stack.h"
#include "lwip/udp.h"

#define UDP_MAX_PAYLOAD 65507

static struct udp_pcb *pcb_of(struct sock *s) { return s->pcb; }

static void on_recv(void *arg, struct udp_pcb *pcb, struct pbuf *p, const ip_addr_t *addr, u16_t port)
{
    struct sock *s = arg;
    (void)pcb;
    if (!s || s->shut_rd || s->rx_bytes + p->tot_len > (uint32_t)s->rcvbuf * 2) {
        pbuf_free(p);
        return;
    }
    struct kaddr from = {.ip = *addr, .port = port, .valid = 1};
    if (sock_rx_push(s, p, &from)) {
        pbuf_free(p);
        return;
    }
    sock_wake(s);
}

static int udp_bind_(struct sock *s, const struct kaddr *a)
{
    if (s->state != SS_NEW)
        return -EINVAL;
    ip_addr_t ip = a->ip;
    if (s->domain == AF_INET6 && IP_IS_V6_VAL(ip) && ip6_addr_isany(ip_2_ip6(&ip)) && !s->v6only)
        ip = *IP_ANY_TYPE;
    if (s->reuseaddr || s->reuseport)
        ip_set_option(pcb_of(s), SOF_REUSEADDR);
    err_t e = udp_bind(pcb_of(s), &ip, a->port);
    if (e == ERR_USE)
        return -EADDRINUSE;
    if (e != ERR_OK)
        return -EINVAL;
    s->state = SS_BOUND;
    return 0;
}

static int udp_connect_(struct sock *s, const struct kaddr *a, uint64_t *fl)
{
    (void)fl;
    if (!a->valid) { /* AF_UNSPEC: dissolve the association */
        udp_disconnect(pcb_of(s));
        s->peer_set = 0;
        return 0;
    }
    err_t e = udp_connect(pcb_of(s), &a->ip, a->port);
    if (e != ERR_OK)
        return e == ERR_USE ? -EADDRINUSE : -EINVAL;
    s->peer = *a;
    s->peer_set = 1;
    if (s->state == SS_NEW)
        s->state = SS_BOUND;
    return 0;
}

static int64_t udp_send_(struct sock *s, struct uio *u, const struct kaddr *to, int flags, uint64_t *fl)
{
    (void)flags;
    (void)fl;
    if (s->err) {
        int e = s->err;
        s->err = 0;
        return -e;
    }
    if (s->shut_wr)
        return -EPIPE;
    const struct kaddr *dst = to ? to : (s->peer_set ? &s->peer : 0);
    if (!dst)
        return -EDESTADDRREQ;
    if (u->resid > UDP_MAX_PAYLOAD)
        return -EMSGSIZE;
    uint16_t len = (uint16_t)u->resid;
    struct pbuf *p = pbuf_alloc(PBUF_TRANSPORT, len, PBUF_RAM);
    if (!p)
        return -ENOBUFS;
    if (len && uio_in(u, p->payload, len)) {
        pbuf_free(p);
        return -EFAULT;
    }
    if (IP_IS_ANY_TYPE_VAL(dst->ip) || (IP_IS_V4_VAL(dst->ip) && ip4_addr_isany_val(*ip_2_ip4(&dst->ip)))) {
        pbuf_free(p);
        return -EINVAL;
    }
    err_t e = udp_sendto(pcb_of(s), p, &dst->ip, dst->port);
    pbuf_free(p);
    if (s->state == SS_NEW)
        s->state = SS_BOUND; /* lwIP bound it to a port of its choosing */
    switch (e) {
    case ERR_OK: return len;
    case ERR_RTE: return -ENETUNREACH;
    case ERR_MEM: return -ENOBUFS;
    case ERR_VAL: return -EINVAL;
    default: return -EIO;
    }
}

static int udp_shutdown_(struct sock *s, int how)
{
    if (!s->peer_set)
        return -ENOTCONN;
    if (how == SHUT_RD || how == SHUT_RDWR)
        s->shut_rd = 1;
    if (how == SHUT_WR || how == SHUT_RDWR)
        s->shut_wr = 1;
    sock_wake(s);
    return 0;
}

static int udp_name_(struct sock *s, struct kaddr *out, int peer)
{
    memset(out, 0, sizeof *out);
    if (peer) {
        if (!s->peer_set)
            return -ENOTCONN;
        *out = s->peer;
        return 0;
    }
    struct udp_pcb *pcb = pcb_of(s);
    out->ip = pcb->local_ip;
    out->port = pcb->local_port;
    return 0;
}

static uint32_t udp_poll_(struct sock *s)
{
    uint32_t ev = EPOLLOUT | EPOLLWRNORM;
    if (s->rx_head || s->shut_rd)
        ev |= EPOLLIN | EPOLLRDNORM;
    if (s->err)
        ev |= EPOLLERR;
    return ev;
}

static int udp_close_(struct sock *s)
{
    sock_rx_clear(s);
    if (s->pcb) {
        udp_remove(pcb_of(s));
        s->pcb = 0;
    }
    return 1;
}

static int udp_nread_(struct sock *s) { return s->rx_head ? s->rx_head->p->tot_len : 0; }

static void udp_apply(struct sock *s)
{
    struct udp_pcb *pcb = pcb_of(s);
    if (s->reuseaddr || s->reuseport)
        ip_set_option(pcb, SOF_REUSEADDR);
    else
        ip_reset_option(pcb, SOF_REUSEADDR);
    if (s->broadcast)
        ip_set_option(pcb, SOF_BROADCAST);
    else
        ip_reset_option(pcb, SOF_BROADCAST);
    pcb->tos = (u8_t)s->tos;
    if (s->domain == AF_INET6)
        udp_set_multicast_ttl(pcb, (u8_t)s->mcast_hops);
}

static int udp_listen_(struct sock *s, int backlog)
{
    (void)s;
    (void)backlog;
    return -EOPNOTSUPP;
}

static int udp_accept_(struct sock *s, struct sock **out, uint64_t *fl)
{
    (void)s;
    (void)out;
    (void)fl;
    return -EOPNOTSUPP;
}

const struct sock_ops udp_sock_ops = {
    .bind = udp_bind_,
    .listen = udp_listen_,
    .accept = udp_accept_,
    .connect = udp_connect_,
    .send = udp_send_,
    .recv = sock_recv_datagram,
    .shutdown = udp_shutdown_,
    .name = udp_name_,
    .poll = udp_poll_,
    .close = udp_close_,
    .nread = udp_nread_,
    .apply = udp_apply,
};

/* A new UDP socket with its pcb; 0 when out of memory. */
struct sock *udp_sock_new(int domain, int protocol)
{
    struct udp_pcb *pcb = udp_new_ip_type(domain == AF_INET ? IPADDR_TYPE_V4 : IPADDR_TYPE_ANY);
    if (!pcb)
        return 0;
    struct sock *s = sock_alloc(domain, SOCK_DGRAM, protocol, &udp_sock_ops);
    if (!s) {
        udp_remove(pcb);
        return 0;
    }
    s->pcb = pcb;
    udp_recv(pcb, on_recv, s);
    return s;
}
