/* Linux's view of the interfaces, read from lwIP's netifs under net_lock: their names (lo, eth0)
 * and indexes, /proc/net/if_inet6 (the JDK decides that IPv6 is available from its first line, and
 * then speaks IPv4 through v4-mapped addresses on AF_INET6 sockets, as on Linux), and the netdevice
 * ioctls java.net.NetworkInterface and if_nametoindex enumerate and query them with. */
#include "net/netdev.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "lwip/netif.h"
#include "net/stack.h"

/* Linux's interface names: lo, and eth0 for the virtio-net device. */
static void linux_name(const struct netif *n, char out[16])
{
    if (n->name[0] == 'l' && n->name[1] == 'o')
        snprintf(out, 16, "lo");
    else
        snprintf(out, 16, "eth%u", (unsigned)(netif_get_index(n) - 2));
}

int net_gen_if_inet6(char *buf, size_t size)
{
    size_t off = 0;
    uint64_t fl = net_lock_take();
    struct netif *n;
    NETIF_FOREACH(n) {
        char name[16];
        linux_name(n, name);
        for (int i = 0; i < LWIP_IPV6_NUM_ADDRESSES; i++) {
            if (!ip6_addr_isvalid(netif_ip6_addr_state(n, i)))
                continue;
            const ip6_addr_t *a = netif_ip6_addr(n, i);
            const uint8_t *b = (const uint8_t *)a->addr;
            char hex[33];
            for (int k = 0; k < 16; k++)
                snprintf(hex + 2 * k, 3, "%02x", b[k]);
            /* Scope as Linux prints it: 0x10 host, 0x20 link, 0 global; flags 0x80 permanent. */
            unsigned scope = ip6_addr_isloopback(a) ? 0x10 : ip6_addr_islinklocal(a) ? 0x20 : 0;
            unsigned plen = ip6_addr_isloopback(a) ? 128 : 64;
            int w = snprintf(buf + off, off < size ? size - off : 0, "%s %02x %02x %02x %02x %8s\n",
                             hex, (unsigned)netif_get_index(n), plen, scope, 0x80u, name);
            if (w > 0)
                off += (size_t)w;
        }
    }
    net_lock_give(fl);
    return (int)off; /* the length it needs, as snprintf: a longer buffer is tried if short */
}

/* The ioctls (Linux's numbers) and struct ifreq / struct ifconf as x86-64 Linux lays them out. */
#define SIOCGIFNAME 0x8910
#define SIOCGIFCONF 0x8912
#define SIOCGIFFLAGS 0x8913
#define SIOCGIFADDR 0x8915
#define SIOCGIFBRDADDR 0x8919
#define SIOCGIFNETMASK 0x891b
#define SIOCGIFMTU 0x8921
#define SIOCGIFHWADDR 0x8927
#define SIOCGIFINDEX 0x8933

#define IFF_UP 0x1
#define IFF_BROADCAST 0x2
#define IFF_LOOPBACK 0x8
#define IFF_RUNNING 0x40
#define IFF_MULTICAST 0x1000
#define ARPHRD_ETHER 1
#define ARPHRD_LOOPBACK 772
#define LINUX_AF_INET 2

struct linux_ifreq {
    char name[16];
    union {
        struct {
            uint16_t family;
            uint8_t data[14];
        } addr;
        int16_t flags;
        int32_t ivalue;
        uint8_t pad[24];
    } u;
};
_Static_assert(sizeof(struct linux_ifreq) == 40, "struct ifreq is 40 bytes on x86-64");

struct linux_ifconf {
    int32_t len;
    int32_t pad;
    uint64_t buf;
};

static struct netif *by_name(const char *name)
{
    struct netif *n;
    NETIF_FOREACH(n) {
        char own[16];
        linux_name(n, own);
        if (!strncmp(own, name, 16))
            return n;
    }
    return 0;
}

static void put_ipv4(struct linux_ifreq *r, uint32_t be_addr)
{
    memset(&r->u, 0, sizeof r->u);
    r->u.addr.family = LINUX_AF_INET;
    memcpy(r->u.addr.data + 2, &be_addr, 4); /* sin_port stays 0 */
}

static int has_ipv4(const struct netif *n) { return !ip4_addr_isany_val(*netif_ip4_addr(n)); }

/* Answers one query about the interface named in r (net_lock held); 0 or a negative errno. */
static long query(uint32_t cmd, struct linux_ifreq *r)
{
    struct netif *n;
    if (cmd == SIOCGIFNAME) {
        n = r->u.ivalue > 0 && r->u.ivalue < 256 ? netif_get_by_index((u8_t)r->u.ivalue) : 0;
        if (!n)
            return -ENODEV;
        memset(r->name, 0, sizeof r->name);
        linux_name(n, r->name);
        return 0;
    }
    r->name[15] = 0;
    n = by_name(r->name);
    if (!n)
        return -ENODEV;
    int lo = n->name[0] == 'l' && n->name[1] == 'o';
    uint32_t addr = ip4_addr_get_u32(netif_ip4_addr(n));
    uint32_t mask = ip4_addr_get_u32(netif_ip4_netmask(n));
    switch (cmd) {
    case SIOCGIFFLAGS: {
        int flags = lo ? IFF_LOOPBACK : IFF_BROADCAST | IFF_MULTICAST;
        if (netif_is_up(n))
            flags |= IFF_UP;
        if (netif_is_up(n) && netif_is_link_up(n))
            flags |= IFF_RUNNING;
        r->u.flags = (int16_t)flags;
        return 0;
    }
    case SIOCGIFADDR:
    case SIOCGIFNETMASK:
    case SIOCGIFBRDADDR:
        if (!has_ipv4(n))
            return -EADDRNOTAVAIL;
        put_ipv4(r, cmd == SIOCGIFADDR ? addr : cmd == SIOCGIFNETMASK ? mask : (addr | ~mask));
        return 0;
    case SIOCGIFMTU: r->u.ivalue = lo ? 65536 : n->mtu; return 0;
    case SIOCGIFINDEX: r->u.ivalue = netif_get_index(n); return 0;
    case SIOCGIFHWADDR:
        memset(&r->u, 0, sizeof r->u);
        r->u.addr.family = lo ? ARPHRD_LOOPBACK : ARPHRD_ETHER;
        if (!lo)
            memcpy(r->u.addr.data, n->hwaddr, n->hwaddr_len < 14 ? n->hwaddr_len : 14);
        return 0;
    default: return -ENOTTY;
    }
}

/* SIOCGIFCONF: an ifreq (name and IPv4 address) per interface with an IPv4 address; with a null
 * buffer only the length all of them need (net_lock held). */
static long ifconf(struct linux_ifconf *c)
{
    int32_t room = c->buf ? c->len : 0, used = 0;
    struct netif *n;
    NETIF_FOREACH(n) {
        if (!has_ipv4(n))
            continue;
        if (c->buf) {
            if (room - used < (int32_t)sizeof(struct linux_ifreq))
                break;
            struct linux_ifreq r;
            memset(&r, 0, sizeof r);
            linux_name(n, r.name);
            put_ipv4(&r, ip4_addr_get_u32(netif_ip4_addr(n)));
            if (copy_to_user((void *)(c->buf + (uint64_t)used), &r, sizeof r))
                return -EFAULT;
        }
        used += (int32_t)sizeof(struct linux_ifreq);
    }
    c->len = used;
    return 0;
}

long netdev_ioctl(uint32_t cmd, uint64_t arg)
{
    if (cmd == SIOCGIFCONF) {
        struct linux_ifconf c;
        if (copy_from_user(&c, (void *)arg, sizeof c))
            return -EFAULT; /* with a null buffer the length is not read (the JDK leaves it unset) */
        uint64_t fl = net_lock_take();
        long rc = ifconf(&c);
        net_lock_give(fl);
        if (!rc && copy_to_user((void *)arg, &c, sizeof c.len))
            return -EFAULT;
        return rc;
    }
    if (cmd != SIOCGIFNAME && cmd != SIOCGIFFLAGS && cmd != SIOCGIFADDR && cmd != SIOCGIFBRDADDR &&
        cmd != SIOCGIFNETMASK && cmd != SIOCGIFMTU && cmd != SIOCGIFHWADDR && cmd != SIOCGIFINDEX)
        return -ENOTTY;
    struct linux_ifreq r;
    if (copy_from_user(&r, (void *)arg, sizeof r))
        return -EFAULT;
    uint64_t fl = net_lock_take();
    long rc = query(cmd, &r);
    net_lock_give(fl);
    if (!rc && copy_to_user((void *)arg, &r, sizeof r))
        return -EFAULT;
    return rc;
}
