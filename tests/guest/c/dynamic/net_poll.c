/* Readiness of TCP sockets over loopback: non-blocking connect (EINPROGRESS, then POLLOUT and
 * SO_ERROR 0; a refused one gives POLLERR and SO_ERROR ECONNREFUSED), poll and select on a
 * listener and a connection, a full send buffer (EAGAIN, then POLLOUT once the peer reads),
 * EPOLLRDHUP when the peer shuts down, and an edge-triggered epoll server serving 40 clients from
 * threads. Ports are ephemeral and never printed. */
#include "../check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/epoll.h>
#include <sys/select.h>
#include <sys/socket.h>

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int listener(struct sockaddr_in *bound, int flags)
{
    int s = socket(AF_INET, SOCK_STREAM | flags, 0);
    struct sockaddr_in a = loopback(0);
    socklen_t len = sizeof *bound;
    if (s < 0 || bind(s, (void *)&a, sizeof a) || listen(s, 64) || getsockname(s, (void *)bound, &len))
        return -1;
    return s;
}

static short poll1(int fd, short events, int timeout_ms)
{
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, timeout_ms);
    return n == 1 ? p.revents : (short)(n == 0 ? 0 : -1);
}

static int sockerr(int fd)
{
    int e = -1;
    socklen_t len = sizeof e;
    getsockopt(fd, SOL_SOCKET, SO_ERROR, &e, &len);
    return e;
}

#define CLIENTS 40
#define ROUNDS 5

static struct sockaddr_in server_addr;

static void *client(void *arg)
{
    long id = (long)arg;
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (void *)&server_addr, sizeof server_addr))
        return (void *)1;
    for (int r = 0; r < ROUNDS; r++) {
        char msg[32], back[32];
        int n = snprintf(msg, sizeof msg, "client %ld round %d", id, r);
        if (send(c, msg, n, 0) != n)
            return (void *)1;
        int got = 0;
        while (got < n) {
            ssize_t k = recv(c, back + got, n - got, 0);
            if (k <= 0)
                return (void *)1;
            got += k;
        }
        if (memcmp(msg, back, n))
            return (void *)1;
    }
    close(c);
    return 0;
}

/* Serves until every client has connected, echoed and closed: edge-triggered, non-blocking. */
static int epoll_server(int l)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLET, .data.fd = l};
    if (ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, l, &ev))
        return -1;
    int accepted = 0, closed = 0;
    while (closed < CLIENTS) {
        struct epoll_event evs[16];
        int n = epoll_wait(ep, evs, 16, 20000);
        if (n <= 0)
            return -2;
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == l) {
                int c;
                while ((c = accept4(l, 0, 0, SOCK_NONBLOCK)) >= 0) {
                    struct epoll_event cev = {.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.fd = c};
                    epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
                    accepted++;
                }
                if (errno != EAGAIN)
                    return -3;
                continue;
            }
            char buf[256];
            ssize_t k;
            int eof = 0;
            while ((k = recv(fd, buf, sizeof buf, 0)) > 0)
                if (send(fd, buf, k, 0) != k)
                    return -4;
            if (k == 0)
                eof = 1;
            else if (errno != EAGAIN)
                return -5;
            if (eof) {
                epoll_ctl(ep, EPOLL_CTL_DEL, fd, 0);
                close(fd);
                closed++;
            }
        }
    }
    close(ep);
    return accepted;
}

int main(void)
{
    struct sockaddr_in la;
    int l = CHECK_OK("listen", listener(&la, 0));
    CHECK("listener_idle", poll1(l, POLLIN, 0) == 0);

    /* Non-blocking connect over loopback. */
    int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    int rc = connect(c, (void *)&la, sizeof la);
    CHECK("connect_nonblock", rc == 0 || errno == EINPROGRESS);
    CHECK("connect_pollout", (poll1(c, POLLOUT, 5000) & POLLOUT) != 0);
    CHECK("connect_so_error", sockerr(c) == 0);
    CHECK("listener_pollin", poll1(l, POLLIN, 5000) == POLLIN);
    fd_set rs;
    FD_ZERO(&rs);
    FD_SET(l, &rs);
    struct timeval tv = {5, 0};
    CHECK("select_listener", select(l + 1, &rs, 0, 0, &tv) == 1 && FD_ISSET(l, &rs));
    int a = CHECK_OK("accept", accept4(l, 0, 0, SOCK_NONBLOCK));
    CHECK("accepted_pollout_only", poll1(a, POLLIN | POLLOUT, 0) == POLLOUT);
    CHECK_ERRNO("recv_would_block", recv(a, &rc, 1, 0), EAGAIN);
    send(c, "x", 1, 0);
    CHECK("data_pollin", poll1(a, POLLIN, 5000) == POLLIN);
    char ch;
    recv(a, &ch, 1, 0);

    /* Fill the send buffer: EAGAIN, then writable again once the peer drains it. */
    static char chunk[65536];
    long sent = 0;
    for (int i = 0; i < 10000; i++) {
        ssize_t k = send(c, chunk, sizeof chunk, 0);
        if (k < 0)
            break;
        sent += k;
    }
    CHECK("send_buffer_full_eagain", errno == EAGAIN && sent > 0);
    CHECK("full_not_pollout", (poll1(c, POLLOUT, 0) & POLLOUT) == 0);
    long drained = 0;
    while (drained < sent) {
        if (!(poll1(a, POLLIN, 5000) & POLLIN))
            break;
        ssize_t k = recv(a, chunk, sizeof chunk, 0);
        if (k <= 0)
            break;
        drained += k;
    }
    CHECK("drained_all", drained == sent);
    CHECK("writable_again", (poll1(c, POLLOUT, 5000) & POLLOUT) != 0);

    /* The peer shuts its side: EPOLLRDHUP and EPOLLIN, no EPOLLHUP while we may still write. */
    int ep = epoll_create1(0);
    struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP, .data.u32 = 7};
    CHECK_OK("epoll_add", epoll_ctl(ep, EPOLL_CTL_ADD, a, &ev));
    shutdown(c, SHUT_WR);
    struct epoll_event out;
    CHECK("epoll_rdhup", epoll_wait(ep, &out, 1, 5000) == 1 && out.data.u32 == 7 &&
                             out.events == (EPOLLIN | EPOLLRDHUP));
    CHECK("eof_read", recv(a, &ch, 1, 0) == 0);
    close(c);
    CHECK("peer_closed_pollhup", (poll1(a, POLLIN, 5000) & POLLIN) != 0);
    close(ep);
    close(a);

    /* A refused non-blocking connect. */
    struct sockaddr_in gone;
    int l2 = listener(&gone, 0);
    close(l2);
    int r = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    rc = connect(r, (void *)&gone, sizeof gone);
    int e = rc ? errno : 0;
    short rev = e == EINPROGRESS ? poll1(r, POLLOUT, 5000) : POLLERR;
    CHECK("refused_pollerr", (rev & POLLERR) != 0);
    CHECK("refused_so_error", e == ECONNREFUSED || sockerr(r) == ECONNREFUSED);
    close(r);
    close(l);

    /* An edge-triggered epoll server with many clients. */
    int sl = CHECK_OK("server_listen", listener(&server_addr, SOCK_NONBLOCK));
    pthread_t t[CLIENTS];
    for (long i = 0; i < CLIENTS; i++)
        pthread_create(&t[i], 0, client, (void *)i);
    int served = epoll_server(sl);
    int clients_ok = 1;
    for (int i = 0; i < CLIENTS; i++) {
        void *res;
        pthread_join(t[i], &res);
        clients_ok = clients_ok && res == 0;
    }
    CHECK("epoll_et_server", served == CLIENTS);
    CHECK("clients_echoed", clients_ok);
    close(sl);
    return check_failures ? 1 : 0;
}
