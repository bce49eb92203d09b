/* AF_UNIX sockets: a stream server bound to a path in /tmp (a socket node), connect/accept,
 * names, a 1 MiB exchange, shutdown and EOF, EPIPE after the peer closed, EADDRINUSE, ENOENT and
 * ECONNREFUSED; the abstract namespace and autobind; datagrams by path with the sender's name, and
 * socketpair(SOCK_DGRAM). Paths carry the pid and are removed; nothing printed varies. */
#include "../check.h"

#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <stddef.h>
#include <sys/un.h>

static socklen_t addr_of(struct sockaddr_un *a, const char *path, int abstract)
{
    memset(a, 0, sizeof *a);
    a->sun_family = AF_UNIX;
    size_t n = strlen(path);
    memcpy(a->sun_path + (abstract ? 1 : 0), path, n);
    /* a path with its terminating NUL; an abstract name after its leading NUL */
    return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + 1);
}

#define BIG (1 << 20)

static void *writer(void *p)
{
    int fd = *(int *)p;
    static char buf[BIG];
    for (long i = 0; i < BIG; i++)
        buf[i] = (char)(i * 13);
    long off = 0;
    while (off < BIG) {
        ssize_t n = write(fd, buf + off, BIG - off);
        if (n <= 0)
            break;
        off += n;
    }
    shutdown(fd, SHUT_WR);
    return 0;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    char path[64], other[64], dpath[64], dpath2[64];
    snprintf(path, sizeof path, "/tmp/lwjvm-unix-%d.sock", getpid());
    snprintf(other, sizeof other, "/tmp/lwjvm-unix-%d.file", getpid());
    snprintf(dpath, sizeof dpath, "/tmp/lwjvm-unix-%d.dgram", getpid());
    snprintf(dpath2, sizeof dpath2, "/tmp/lwjvm-unix-%d.dgram2", getpid());
    unlink(path);

    struct sockaddr_un a, got;
    socklen_t alen = addr_of(&a, path, 0), glen;
    int l = CHECK_OK("socket", socket(AF_UNIX, SOCK_STREAM, 0));
    CHECK_OK("bind", bind(l, (void *)&a, alen));
    struct stat st;
    CHECK("socket_node", stat(path, &st) == 0 && S_ISSOCK(st.st_mode));
    int dup = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERRNO("bind_in_use", bind(dup, (void *)&a, alen), EADDRINUSE);
    CHECK_ERRNO("connect_not_listening", connect(dup, (void *)&a, alen), ECONNREFUSED);
    CHECK_OK("listen", listen(l, 8));
    int c = CHECK_OK("connect", connect(dup, (void *)&a, alen));
    (void)c;
    c = dup;
    struct pollfd p = {l, POLLIN, 0};
    CHECK("listener_pollin", poll(&p, 1, 5000) == 1 && p.revents == POLLIN);
    int s = CHECK_OK("accept", accept(l, 0, 0));
    glen = sizeof got;
    CHECK("peername_is_path", getpeername(c, (void *)&got, &glen) == 0 && glen == alen &&
                                  !strcmp(got.sun_path, path));
    glen = sizeof got;
    CHECK("sockname_is_path", getsockname(s, (void *)&got, &glen) == 0 && !strcmp(got.sun_path, path));
    glen = sizeof got;
    CHECK("client_unnamed", getsockname(c, (void *)&got, &glen) == 0 && glen == sizeof(sa_family_t));
    int one = 1;
    CHECK_ERRNO("tcp_option_refused", setsockopt(c, IPPROTO_TCP, 1, &one, sizeof one), EOPNOTSUPP);

    pthread_t t;
    pthread_create(&t, 0, writer, &c);
    static char in[BIG];
    long n = 0, r;
    while ((r = read(s, in + n, BIG - n)) > 0)
        n += r;
    pthread_join(t, 0);
    int same = n == BIG;
    for (long i = 0; same && i < BIG; i++)
        same = in[i] == (char)(i * 13);
    CHECK("stream_1mib", same);
    CHECK("eof", read(s, in, 10) == 0);
    CHECK("reply", write(s, "pong", 4) == 4 && read(c, in, 10) == 4 && !memcmp(in, "pong", 4));
    close(s);
    CHECK("peer_closed_eof", read(c, in, 10) == 0);
    CHECK_ERRNO("peer_closed_epipe", send(c, "x", 1, MSG_NOSIGNAL), EPIPE);
    close(c);
    close(l);
    CHECK_OK("unlink", unlink(path));

    struct sockaddr_un none;
    socklen_t nlen = addr_of(&none, "/tmp/lwjvm-unix-no-such-path", 0);
    int x = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_ERRNO("connect_missing", connect(x, (void *)&none, nlen), ENOENT);
    int fd = open(other, O_CREAT | O_WRONLY, 0600);
    close(fd);
    struct sockaddr_un reg;
    socklen_t rlen = addr_of(&reg, other, 0);
    CHECK_ERRNO("connect_regular_file", connect(x, (void *)&reg, rlen), ECONNREFUSED);
    unlink(other);
    close(x);

    /* The abstract namespace, and autobind. */
    char aname[64];
    snprintf(aname, sizeof aname, "lwjvm-abstract-%d", getpid());
    struct sockaddr_un ab;
    socklen_t ablen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(aname));
    addr_of(&ab, aname, 1);
    int al = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_OK("abstract_bind", bind(al, (void *)&ab, ablen));
    listen(al, 1);
    int ac = socket(AF_UNIX, SOCK_STREAM, 0);
    CHECK_OK("abstract_connect", connect(ac, (void *)&ab, ablen));
    int as = accept(al, 0, 0);
    CHECK("abstract_data", write(ac, "abc", 3) == 3 && read(as, in, 3) == 3);
    close(as);
    close(ac);
    close(al);
    int au = socket(AF_UNIX, SOCK_DGRAM, 0);
    struct sockaddr_un fam = {.sun_family = AF_UNIX};
    CHECK_OK("autobind", bind(au, (void *)&fam, sizeof(sa_family_t)));
    glen = sizeof got;
    CHECK("autobind_name", getsockname(au, (void *)&got, &glen) == 0 &&
                               glen == sizeof(sa_family_t) + 6 && got.sun_path[0] == 0);
    close(au);

    /* Datagrams by path. */
    unlink(dpath);
    unlink(dpath2);
    struct sockaddr_un d1, d2;
    socklen_t d1len = addr_of(&d1, dpath, 0), d2len = addr_of(&d2, dpath2, 0);
    int r1 = socket(AF_UNIX, SOCK_DGRAM, 0), r2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK_OK("dgram_bind", bind(r1, (void *)&d1, d1len) || bind(r2, (void *)&d2, d2len) ? -1 : 0);
    CHECK("dgram_send", sendto(r2, "first", 5, 0, (void *)&d1, d1len) == 5 &&
                            sendto(r2, "second!", 7, 0, (void *)&d1, d1len) == 7);
    struct sockaddr_un from;
    socklen_t flen = sizeof from;
    CHECK("dgram_boundary_and_sender", recvfrom(r1, in, sizeof in, 0, (void *)&from, &flen) == 5 &&
                                           !strcmp(from.sun_path, dpath2));
    CHECK("dgram_second", recv(r1, in, sizeof in, 0) == 7 && !memcmp(in, "second!", 7));
    CHECK_ERRNO("dgram_no_destination", send(r2, "x", 1, 0), ENOTCONN);
    CHECK_OK("dgram_connect", connect(r2, (void *)&d1, d1len));
    CHECK("dgram_send_connected", send(r2, "third", 5, 0) == 5 && recv(r1, in, sizeof in, 0) == 5);
    close(r1);
    CHECK_ERRNO("dgram_receiver_gone", send(r2, "x", 1, 0), ECONNREFUSED);
    close(r2);
    unlink(dpath);
    unlink(dpath2);

    int sv[2];
    CHECK_OK("socketpair_dgram", socketpair(AF_UNIX, SOCK_DGRAM, 0, sv));
    CHECK("pair_boundaries", send(sv[0], "ab", 2, 0) == 2 && send(sv[0], "cde", 3, 0) == 3 &&
                                 recv(sv[1], in, sizeof in, 0) == 2 && recv(sv[1], in, sizeof in, 0) == 3);
    /* A socket has no position: ESPIPE, as for a pipe. */
    CHECK_ERRNO("lseek on a socket", lseek(sv[0], 0, SEEK_SET), ESPIPE);
    CHECK_ERRNO("pread on a socket", pread(sv[1], in, sizeof in, 0), ESPIPE);
    CHECK_ERRNO("pwrite on a socket", pwrite(sv[0], "x", 1, 0), ESPIPE);
    close(sv[0]);
    close(sv[1]);
    return check_failures ? 1 : 0;
}
