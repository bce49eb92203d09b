/* TCP over loopback, both ends in this process: socket facts and options, bind/listen/accept,
 * blocking connect, send/recv with MSG_PEEK and MSG_WAITALL, a 4 MiB echo through a thread,
 * shutdown and EOF, FIONREAD, SO_RCVTIMEO, and Linux's errno for the usual mistakes. Ports are
 * ephemeral (bind to port 0) and never printed, so the host run and the guest run print the same. */
#include "../check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int listener(struct sockaddr_in *bound)
{
    int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = loopback(0);
    if (s < 0 || bind(s, (void *)&a, sizeof a) || listen(s, 8))
        return -1;
    socklen_t len = sizeof *bound;
    getsockname(s, (void *)bound, &len);
    return s;
}

static int connect_to(const struct sockaddr_in *a)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (const void *)a, sizeof *a))
        return -1;
    return c;
}

static int getint(int s, int level, int name)
{
    int v = -1;
    socklen_t len = sizeof v;
    if (getsockopt(s, level, name, &v, &len))
        return -1000 - errno;
    return v;
}

#define BIG (4 << 20)

struct echo_arg {
    int fd;
    long total;
};

static void *echo_thread(void *p)
{
    struct echo_arg *e = p;
    static char buf[65536];
    long r;
    while ((r = read(e->fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < r;) {
            long w = write(e->fd, buf + off, r - off);
            if (w <= 0)
                return 0;
            off += w;
        }
        e->total += r;
    }
    shutdown(e->fd, SHUT_WR);
    return 0;
}

static unsigned char pattern(long i) { return (unsigned char)(i * 31 + (i >> 13)); }

struct writer_arg {
    int fd;
};

static void *writer_thread(void *p)
{
    struct writer_arg *w = p;
    static unsigned char buf[BIG];
    for (long i = 0; i < BIG; i++)
        buf[i] = pattern(i);
    long off = 0;
    while (off < BIG) {
        long n = send(w->fd, buf + off, BIG - off > 100000 ? 100000 : BIG - off, 0);
        if (n <= 0)
            break;
        off += n;
    }
    shutdown(w->fd, SHUT_WR);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);

    int s = CHECK_OK("socket", socket(AF_INET, SOCK_STREAM, 0));
    struct stat st;
    CHECK("fstat_is_socket", fstat(s, &st) == 0 && S_ISSOCK(st.st_mode));
    CHECK("so_type", getint(s, SOL_SOCKET, SO_TYPE) == SOCK_STREAM);
    CHECK("so_domain", getint(s, SOL_SOCKET, SO_DOMAIN) == AF_INET);
    CHECK("so_protocol", getint(s, SOL_SOCKET, SO_PROTOCOL) == IPPROTO_TCP);
    CHECK("so_acceptconn_before", getint(s, SOL_SOCKET, SO_ACCEPTCONN) == 0);
    CHECK("so_error_none", getint(s, SOL_SOCKET, SO_ERROR) == 0);
    int one = 1, v;
    CHECK_OK("reuseaddr_set", setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
    CHECK("reuseaddr_get", getint(s, SOL_SOCKET, SO_REUSEADDR) == 1);
    CHECK_OK("nodelay_set", setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
    CHECK("nodelay_get", getint(s, IPPROTO_TCP, TCP_NODELAY) == 1);
    v = 65536;
    CHECK_OK("rcvbuf_set", setsockopt(s, SOL_SOCKET, SO_RCVBUF, &v, sizeof v));
    CHECK("rcvbuf_doubled", getint(s, SOL_SOCKET, SO_RCVBUF) == 131072);
    v = 30;
    CHECK_OK("keepidle_set", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v));
    CHECK("keepidle_get", getint(s, IPPROTO_TCP, TCP_KEEPIDLE) == 30);
    v = 0;
    CHECK_ERRNO("keepidle_zero", setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof v), EINVAL);
    struct linger lg = {1, 5}, lg2;
    socklen_t lglen = sizeof lg2;
    CHECK_OK("linger_set", setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg));
    CHECK("linger_get", getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &lglen) == 0 && lg2.l_onoff == 1 &&
                            lg2.l_linger == 5 && lglen == sizeof lg2);
    CHECK_ERRNO("option_unknown", setsockopt(s, SOL_SOCKET, 12345, &one, sizeof one), ENOPROTOOPT);
    CHECK_ERRNO("option_short", setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, 2), EINVAL);
    CHECK_ERRNO("send_unconnected", send(s, "x", 1, MSG_NOSIGNAL), EPIPE);
    CHECK_ERRNO("recv_unconnected", recv(s, &v, 1, 0), ENOTCONN);
    CHECK_ERRNO("peername_unconnected", getpeername(s, (void *)&(struct sockaddr_in){0}, &(socklen_t){16}), ENOTCONN);
    CHECK_ERRNO("accept_not_listening", accept(s, 0, 0), EINVAL);
    close(s);

    CHECK_ERRNO("family_unknown", socket(12345, SOCK_STREAM, 0), EAFNOSUPPORT);
    CHECK_ERRNO("protocol_mismatch", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP), EPROTONOSUPPORT);
    CHECK_ERRNO("notsock", getsockopt(0, SOL_SOCKET, SO_TYPE, &v, &(socklen_t){4}), ENOTSOCK);
    CHECK_ERRNO("badfd", bind(999, (void *)&(struct sockaddr_in){0}, 16), EBADF);

    struct sockaddr_in la;
    int l = CHECK_OK("listen", listener(&la));
    CHECK("bound_port_chosen", la.sin_port != 0 && la.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK("so_acceptconn_after", getint(l, SOL_SOCKET, SO_ACCEPTCONN) == 1);
    int dup = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_ERRNO("bind_in_use", bind(dup, (void *)&la, sizeof la), EADDRINUSE);
    struct sockaddr_in short_addr = la;
    CHECK_ERRNO("bind_short_addr", bind(dup, (void *)&short_addr, 8), EINVAL);
    close(dup);
    CHECK_ERRNO("bind_twice", bind(l, (void *)&la, sizeof la), EINVAL);

    int c = CHECK_OK("connect", connect_to(&la));
    struct sockaddr_in peer, cname;
    socklen_t plen = sizeof peer, clen = sizeof cname;
    int a = CHECK_OK("accept4", accept4(l, (void *)&peer, &plen, SOCK_CLOEXEC));
    getsockname(c, (void *)&cname, &clen);
    CHECK("accept_peer_is_client", plen == sizeof peer && peer.sin_family == AF_INET &&
                                       peer.sin_port == cname.sin_port &&
                                       peer.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK("accept_cloexec", (fcntl(a, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK("accepted_inherits_nodelay_default", getint(a, IPPROTO_TCP, TCP_NODELAY) == 0);
    CHECK_ERRNO("connect_again", connect(c, (void *)&la, sizeof la), EISCONN);

    CHECK("send_hello", send(c, "hello", 5, 0) == 5);
    char buf[64] = {0};
    int avail = 0;
    for (int i = 0; i < 200 && avail < 5; i++) {
        ioctl(a, FIONREAD, &avail);
        if (avail < 5)
            usleep(5000);
    }
    CHECK("fionread", avail == 5);
    CHECK("peek", recv(a, buf, sizeof buf, MSG_PEEK) == 5 && !memcmp(buf, "hello", 5));
    memset(buf, 0, sizeof buf);
    CHECK("recv_waitall", recv(a, buf, 5, MSG_WAITALL) == 5 && !memcmp(buf, "hello", 5));
    CHECK_ERRNO("recv_dontwait_empty", recv(a, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);
    struct timeval tv = {0, 50000};
    CHECK_OK("rcvtimeo_set", setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv));
    CHECK_ERRNO("recv_timeout", recv(a, buf, sizeof buf, 0), EAGAIN);
    tv = (struct timeval){0, 0};
    setsockopt(a, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

    /* 4 MiB through an echo thread, written and read at once. */
    struct echo_arg ea = {a, 0};
    struct writer_arg wa = {c};
    pthread_t et, wt;
    pthread_create(&et, 0, echo_thread, &ea);
    pthread_create(&wt, 0, writer_thread, &wa);
    static unsigned char in[BIG];
    long got = 0, r;
    while ((r = recv(c, in + got, BIG - got > 65536 ? 65536 : BIG - got, 0)) > 0)
        got += r;
    pthread_join(wt, 0);
    pthread_join(et, 0);
    int same = got == BIG;
    for (long i = 0; same && i < BIG; i++)
        same = in[i] == pattern(i);
    CHECK("echo_4mib", same && ea.total == BIG);
    CHECK("eof_after_shutdown", recv(c, buf, sizeof buf, 0) == 0);
    CHECK_ERRNO("send_after_shut_wr", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
    close(a);
    close(c);

    /* A closed port refuses. */
    struct sockaddr_in gone;
    int l2 = listener(&gone);
    close(l2);
    int c2 = socket(AF_INET, SOCK_STREAM, 0);
    CHECK_ERRNO("connect_refused", connect(c2, (void *)&gone, sizeof gone), ECONNREFUSED);
    close(c2);

    /* Many connections, opened and closed in turn. */
    int ok = 1;
    for (int i = 0; i < 200 && ok; i++) {
        int cc = connect_to(&la);
        int aa = accept(l, 0, 0);
        ok = cc >= 0 && aa >= 0 && send(cc, "p", 1, 0) == 1 && recv(aa, buf, 1, 0) == 1;
        close(cc);
        ok = ok && recv(aa, buf, 1, 0) == 0;
        close(aa);
    }
    CHECK("connect_accept_close_200", ok);
    close(l);

    /* A server restarting on its port: the old listener and a connection it accepted are gone
     * (the connection, closed by the server first, in TIME_WAIT); SO_REUSEADDR binds again. */
    int r1 = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(r1, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in ra = loopback(0);
    socklen_t ralen = sizeof ra;
    CHECK_OK("rebind_first", bind(r1, (void *)&ra, sizeof ra) || listen(r1, 4) ||
                                 getsockname(r1, (void *)&ra, &ralen) ? -1 : 0);
    int rc1 = connect_to(&ra), rs1 = accept(r1, 0, 0);
    close(rs1); /* the server closes first: its side goes to TIME_WAIT */
    recv(rc1, buf, 1, 0);
    close(rc1);
    close(r1);
    int r2 = socket(AF_INET, SOCK_STREAM, 0);
    setsockopt(r2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    CHECK_OK("rebind_with_reuseaddr", bind(r2, (void *)&ra, sizeof ra));
    CHECK_OK("relisten", listen(r2, 4));
    close(r2);
    return check_failures ? 1 : 0;
}
