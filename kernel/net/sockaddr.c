/* Program socket addresses (struct sockaddr_in, sockaddr_in6) to lwIP addresses and back. An
 * AF_INET6 socket speaks IPv4 through v4-mapped addresses (::ffff:a.b.c.d), as on Linux. */
#include "errno.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "net/socket.h"

struct sockaddr_in_l {
    uint16_t family;
    uint16_t port; /* network order */
    uint32_t addr; /* network order */
    uint8_t zero[8];
};
_Static_assert(sizeof(struct sockaddr_in_l) == 16, "sockaddr_in");

struct sockaddr_in6_l {
    uint16_t family;
    uint16_t port;
    uint32_t flowinfo;
    uint8_t addr[16];
    uint32_t scope_id;
};
_Static_assert(sizeof(struct sockaddr_in6_l) == 28, "sockaddr_in6");

static const uint8_t v4mapped_prefix[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};

int kaddr_from_user(const struct sock *s, const void *uaddr, uint32_t len, struct kaddr *out)
{
    uint16_t family;
    if (len < sizeof family)
        return -EINVAL;
    if (copy_from_user(&family, uaddr, sizeof family))
        return -EFAULT;
    memset(out, 0, sizeof *out);
    if (s->domain == AF_UNIX) {
        if (family != AF_UNIX)
            return -EINVAL;
        if (len > 2 + sizeof out->path)
            return -EINVAL;
        uint32_t n = len - 2;
        if (n && copy_from_user(out->path, (const char *)uaddr + 2, n))
            return -EFAULT;
        if (n && out->path[0]) /* a path: up to its NUL, if any */
            n = (uint32_t)strnlen(out->path, n);
        out->path_len = (uint16_t)n;
        out->valid = 1;
        return 0;
    }
    if (family == AF_UNSPEC) {
        /* connect: dissolve a datagram association; bind: the wildcard address */
        ip_addr_set_any(s->domain == AF_INET6, &out->ip);
        return 0;
    }
    out->valid = 1;
    if (s->domain == AF_INET) {
        struct sockaddr_in_l sin;
        if (len < sizeof sin)
            return -EINVAL;
        if (copy_from_user(&sin, uaddr, sizeof sin))
            return -EFAULT;
        if (sin.family != AF_INET)
            return -EAFNOSUPPORT;
        ip_addr_set_ip4_u32_val(out->ip, sin.addr);
        out->port = lwip_ntohs(sin.port);
        return 0;
    }
    struct sockaddr_in6_l sin6;
    if (len < 24) /* SIN6_LEN_RFC2133: scope_id is optional */
        return -EINVAL;
    memset(&sin6, 0, sizeof sin6);
    if (copy_from_user(&sin6, uaddr, len < sizeof sin6 ? len : sizeof sin6))
        return -EFAULT;
    if (sin6.family != AF_INET6)
        return -EAFNOSUPPORT;
    out->port = lwip_ntohs(sin6.port);
    if (!memcmp(sin6.addr, v4mapped_prefix, 12)) {
        uint32_t v4;
        memcpy(&v4, sin6.addr + 12, 4);
        ip_addr_set_ip4_u32_val(out->ip, v4);
        return 0;
    }
    IP_SET_TYPE_VAL(out->ip, IPADDR_TYPE_V6);
    memcpy(ip_2_ip6(&out->ip)->addr, sin6.addr, 16);
    ip6_addr_clear_zone(ip_2_ip6(&out->ip));
    return 0;
}

int kaddr_to_user(const struct sock *s, const struct kaddr *a, void *uaddr, uint32_t *ulen)
{
    uint32_t have;
    if (copy_from_user(&have, ulen, sizeof have))
        return -EFAULT;
    if ((int32_t)have < 0)
        return -EINVAL;
    union {
        struct sockaddr_in_l in;
        struct sockaddr_in6_l in6;
    } u;
    memset(&u, 0, sizeof u);
    uint32_t full;
    if (s->domain == AF_UNIX) {
        char un[2 + 108 + 1];
        memset(un, 0, sizeof un);
        un[0] = AF_UNIX;
        memcpy(un + 2, a->path, a->path_len);
        /* Linux's length: the family, the bytes, and a path's terminating NUL. */
        full = 2u + a->path_len + (a->path_len && a->path[0] ? 1u : 0u);
        if (copy_to_user(uaddr, un, have < full ? have : full))
            return -EFAULT;
        return copy_to_user(ulen, &full, sizeof full) ? -EFAULT : 0;
    }
    if (s->domain == AF_INET) {
        u.in.family = AF_INET;
        u.in.port = lwip_htons(a->port);
        u.in.addr = IP_IS_V4_VAL(a->ip) ? ip4_addr_get_u32(ip_2_ip4(&a->ip)) : 0;
        full = sizeof u.in;
    } else {
        u.in6.family = AF_INET6;
        u.in6.port = lwip_htons(a->port);
        if (IP_IS_V6_VAL(a->ip)) {
            memcpy(u.in6.addr, ip_2_ip6(&a->ip)->addr, 16);
        } else {
            uint32_t v4 = ip4_addr_get_u32(ip_2_ip4(&a->ip));
            if (v4 || !IP_IS_ANY_TYPE_VAL(a->ip)) {
                memcpy(u.in6.addr, v4mapped_prefix, 12);
                memcpy(u.in6.addr + 12, &v4, 4);
            }
            if (!v4) /* the wildcard: :: rather than ::ffff:0.0.0.0 */
                memset(u.in6.addr, 0, 16);
        }
        full = sizeof u.in6;
    }
    if (copy_to_user(uaddr, &u, have < full ? have : full))
        return -EFAULT;
    return copy_to_user(ulen, &full, sizeof full) ? -EFAULT : 0;
}
