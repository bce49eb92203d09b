/* UDP over loopback: datagram boundaries, sendto/recvfrom addresses, MSG_PEEK and MSG_TRUNC,
 * connect and send, sendmmsg/recvmmsg, AF_INET6 sockets talking IPv4 through v4-mapped addresses,
 * and Linux's errno for the usual mistakes. Ports are ephemeral and never printed. */
#include "../check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

static struct sockaddr_in loopback(uint16_t port)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

static int bound(struct sockaddr_in *out)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = loopback(0);
    if (s < 0 || bind(s, (void *)&a, sizeof a))
        return -1;
    socklen_t len = sizeof *out;
    getsockname(s, (void *)out, &len);
    return s;
}

int main(void)
{
    struct sockaddr_in ra, sa;
    int r = CHECK_OK("bind_receiver", bound(&ra));
    int s = CHECK_OK("bind_sender", bound(&sa));
    int v = -1;
    socklen_t vl = sizeof v;
    CHECK("so_type", getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &vl) == 0 && v == SOCK_DGRAM);

    CHECK("sendto_3", sendto(s, "one", 3, 0, (void *)&ra, sizeof ra) == 3);
    CHECK("sendto_5", sendto(s, "three", 5, 0, (void *)&ra, sizeof ra) == 5);
    CHECK("sendto_empty", sendto(s, "", 0, 0, (void *)&ra, sizeof ra) == 0);
    char buf[64];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    memset(buf, 0, sizeof buf);
    CHECK("peek", recvfrom(r, buf, sizeof buf, MSG_PEEK, 0, 0) == 3 && !memcmp(buf, "one", 3));
    CHECK("recvfrom_boundary", recvfrom(r, buf, sizeof buf, 0, (void *)&from, &fl) == 3 &&
                                   !memcmp(buf, "one", 3));
    CHECK("recvfrom_sender", fl == sizeof from && from.sin_port == sa.sin_port &&
                                 from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    struct iovec iov = {buf, 2};
    struct msghdr m = {.msg_iov = &iov, .msg_iovlen = 1};
    CHECK("recvmsg_trunc", recvmsg(r, &m, 0) == 2 && (m.msg_flags & MSG_TRUNC) && !memcmp(buf, "th", 2));
    CHECK("recv_empty_datagram", recv(r, buf, sizeof buf, 0) == 0);
    CHECK_ERRNO("recv_dontwait", recv(r, buf, sizeof buf, MSG_DONTWAIT), EAGAIN);

    CHECK_ERRNO("send_no_destination", send(s, "x", 1, 0), EDESTADDRREQ);
    CHECK_ERRNO("peername_unconnected", getpeername(s, (void *)&from, &fl), ENOTCONN);
    CHECK_OK("connect", connect(s, (void *)&ra, sizeof ra));
    CHECK("send_connected", send(s, "abc", 3, 0) == 3);
    CHECK("recv_connected", recv(r, buf, sizeof buf, 0) == 3 && !memcmp(buf, "abc", 3));
    fl = sizeof from;
    CHECK("peername", getpeername(s, (void *)&from, &fl) == 0 && from.sin_port == ra.sin_port);
    struct sockaddr_in unspec = {.sin_family = AF_UNSPEC};
    CHECK_OK("disconnect", connect(s, (void *)&unspec, sizeof unspec));
    CHECK_ERRNO("disconnected", send(s, "x", 1, 0), EDESTADDRREQ);

    /* Big datagrams: up to 65507 bytes go through whole; one more is EMSGSIZE. */
    static char big[65508];
    memset(big, 'b', sizeof big);
    CHECK("sendto_max", sendto(s, big, 65507, 0, (void *)&ra, sizeof ra) == 65507);
    static char bigin[70000];
    CHECK("recv_max", recv(r, bigin, sizeof bigin, 0) == 65507 && bigin[65506] == 'b');
    CHECK_ERRNO("sendto_too_big", sendto(s, big, 65508, 0, (void *)&ra, sizeof ra), EMSGSIZE);

    /* sendmmsg / recvmmsg */
    struct mmsghdr mm[3];
    struct iovec iovs[3];
    const char *words[3] = {"alpha", "be", "gamma!"};
    for (int i = 0; i < 3; i++) {
        iovs[i] = (struct iovec){(void *)words[i], strlen(words[i])};
        mm[i] = (struct mmsghdr){.msg_hdr = {.msg_name = &ra, .msg_namelen = sizeof ra,
                                             .msg_iov = &iovs[i], .msg_iovlen = 1}};
    }
    CHECK("sendmmsg", sendmmsg(s, mm, 3, 0) == 3 && mm[2].msg_len == 6);
    char rb[3][16];
    struct iovec riov[3];
    struct mmsghdr rm[3];
    for (int i = 0; i < 3; i++) {
        riov[i] = (struct iovec){rb[i], sizeof rb[i]};
        rm[i] = (struct mmsghdr){.msg_hdr = {.msg_iov = &riov[i], .msg_iovlen = 1}};
    }
    CHECK("recvmmsg", recvmmsg(r, rm, 3, 0, 0) == 3 && rm[0].msg_len == 5 && rm[1].msg_len == 2 &&
                          rm[2].msg_len == 6 && !memcmp(rb[2], "gamma!", 6));

    /* An AF_INET6 socket reaches IPv4 through ::ffff:127.0.0.1. */
    int s6 = CHECK_OK("socket6", socket(AF_INET6, SOCK_DGRAM, 0));
    struct sockaddr_in6 to6 = {.sin6_family = AF_INET6, .sin6_port = ra.sin_port};
    inet_pton(AF_INET6, "::ffff:127.0.0.1", &to6.sin6_addr);
    CHECK("sendto_v4mapped", sendto(s6, "six", 3, 0, (void *)&to6, sizeof to6) == 3);
    CHECK("recv_from_v6_socket", recv(r, buf, sizeof buf, 0) == 3 && !memcmp(buf, "six", 3));
    int off = 0;
    CHECK_ERRNO("v6only_after_bind", setsockopt(s6, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off), EINVAL);
    CHECK_ERRNO("v6only_on_v4", setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off), ENOPROTOOPT);
    CHECK_ERRNO("sendto_wrong_family", sendto(s, "x", 1, 0, (void *)&to6, sizeof to6), EAFNOSUPPORT);
    CHECK_ERRNO("listen_udp", listen(s, 1), EOPNOTSUPP);
    close(s6);
    close(s);
    close(r);
    return check_failures ? 1 : 0;
}
