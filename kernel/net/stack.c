/* The network stack (see net/stack.h): lwIP's start, its timers, and the interfaces. */
#include "net/stack.h"
#include "core/bootconf.h"
#include "core/clock.h"
#include "core/timer.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "lwip/init.h"
#include "lwip/ip4_addr.h"
#include "lwip/ip6_addr.h"
#include "lwip/netif.h"
#include "lwip/timeouts.h"
#include "lwip/priv/tcp_priv.h"
#include "netif/ethernet.h"

struct spinlock net_lock = SPINLOCK_INIT("net");

/* Under net_lock: the lwIP timer, when it is armed for, and the interface. */
static struct ktimer lwip_timer;
static uint64_t lwip_timer_at;
static struct netif vnet_netif;
static int started;
static char hostname[65] = "lwjvm";

uint64_t net_lock_take(void) { return spin_lock_irqsave(&net_lock); }

void net_timer_rearm(void)
{
    if (!started)
        return;
    u32_t ms = sys_timeouts_sleeptime();
    if (ms == SYS_TIMEOUTS_SLEEPTIME_INFINITE)
        return;
    uint64_t at = clock_monotonic_ns() + (uint64_t)ms * 1000000u;
    if (!lwip_timer_at || at < lwip_timer_at) {
        lwip_timer_at = at;
        ktimer_arm(&lwip_timer, at);
    }
}

/* Delivers what was sent to the loopback addresses (and to our own address): lwIP queues it on
 * the interface and, without threads, leaves delivery to us. Replies queue more, so go on until
 * nothing is left (bounded, in case two sockets echo to each other forever). */
static int loopback_deliver(void)
{
    if (!started)
        return 0;
    for (int round = 0; round < 256; round++) {
        int pending = 0;
        struct netif *n;
        NETIF_FOREACH(n) {
            if (n->loop_first)
                pending = 1;
        }
        if (!pending)
            return round > 0;
        netif_poll_all();
    }
    return 1;
}

int net_flush(void)
{
    int delivered = loopback_deliver();
    net_timer_rearm();
    return delivered;
}

void net_lock_give(uint64_t flags)
{
    net_flush();
    spin_unlock_irqrestore(&net_lock, flags);
}

static void lwip_timer_fire(struct ktimer *t)
{
    (void)t;
    /* Take back what the device has sent first: a segment whose frame the transmit ring still
     * references counts as busy to lwIP (tcp_output_segment_busy), and its retransmission timer
     * would skip it for as long as no interrupt comes to reclaim it (a lost segment with nothing
     * else in flight: the connection would stall for good). */
    virtio_net_poll();
    uint64_t fl = net_lock_take();
    lwip_timer_at = 0;
    sys_check_timeouts();
    net_lock_give(fl);
}

/* Parses A.B.C.D (and /LEN when len is given); returns 0 or -1. */
static int parse_ipv4(const char *s, uint32_t *addr, int *len)
{
    uint32_t a = 0;
    for (int part = 0; part < 4; part++) {
        if (*s < '0' || *s > '9')
            return -1;
        uint32_t v = 0;
        while (*s >= '0' && *s <= '9') {
            v = v * 10 + (uint32_t)(*s++ - '0');
            if (v > 255)
                return -1;
        }
        a = (a << 8) | v;
        if (part < 3 && *s++ != '.')
            return -1;
    }
    if (len) {
        *len = 32;
        if (*s == '/') {
            s++;
            int l = 0;
            if (*s < '0' || *s > '9')
                return -1;
            while (*s >= '0' && *s <= '9')
                l = l * 10 + (*s++ - '0');
            if (l > 32)
                return -1;
            *len = l;
        }
    }
    if (*s)
        return -1;
    *addr = a;
    return 0;
}

const char *net_hostname(void) { return hostname; }

void net_init(const struct bootconf *bc)
{
    if (bc->net_hostname) {
        size_t n = strnlen(bc->net_hostname, sizeof hostname - 1);
        memcpy(hostname, bc->net_hostname, n);
        hostname[n] = 0;
    }
    uint64_t fl = net_lock_take();
    lwip_init(); /* brings up the loopback interface: 127.0.0.1 and ::1 */
    struct netif *lo;
    NETIF_FOREACH(lo) {
        if (lo->name[0] == 'l' && lo->name[1] == 'o')
            NETIF_SET_CHECKSUM_CTRL(lo, NETIF_CHECKSUM_DISABLE_ALL); /* memory to memory */
    }
    lwip_timer.fire = lwip_timer_fire;
    started = 1;
    if (virtio_net_present() && bc->net_ipv4) {
        uint32_t addr, gw = 0;
        int len;
        if (parse_ipv4(bc->net_ipv4, &addr, &len) ||
            (bc->net_gateway && parse_ipv4(bc->net_gateway, &gw, 0))) {
            kprintf("lwjvm: boot.conf: bad net.ipv4 or net.gateway; the network stays down\n");
        } else {
            uint32_t mask = len ? ~0u << (32 - len) : 0;
            ip4_addr_t a, m, g;
            ip4_addr_set_u32(&a, lwip_htonl(addr));
            ip4_addr_set_u32(&m, lwip_htonl(mask));
            ip4_addr_set_u32(&g, lwip_htonl(gw));
            if (netif_add(&vnet_netif, &a, &m, &g, 0, virtio_net_netif_init, ethernet_input)) {
                vnet_netif.hostname = hostname;
                netif_create_ip6_linklocal_address(&vnet_netif, 1);
                vnet_netif.ip6_autoconfig_enabled = 1;
                netif_set_default(&vnet_netif);
                netif_set_up(&vnet_netif);
                netif_set_link_up(&vnet_netif);
            }
        }
    }
    net_lock_give(fl);
}

/* Whether a TCP connection still has data on its way out (net_lock held). */
static int tcp_pending(void)
{
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        if (p->unsent || p->unacked)
            return 1;
    return 0;
}

void net_report(void)
{
    if (!started)
        return;
    uint64_t fl = net_lock_take();
    uint64_t v[5];
    virtio_net_stats(v);
    virtio_net_report();
    kprintf("lwjvm: net: rx_frames=%lu tx_frames=%lu rx_copied=%lu tx_copied=%lu tx_dropped=%lu\n",
            v[0], v[1], v[2], v[3], v[4]);
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        kprintf("lwjvm: net: tcp %u->%u state=%d snd_wnd=%u cwnd=%u snd_buf=%u queuelen=%u "
                "unsent=%u unacked=%u persist=%u/%u rtime=%d rto=%d sa=%d sv=%d nrtx=%u flags=0x%x\n",
                p->local_port, p->remote_port, (int)p->state, (unsigned)p->snd_wnd,
                (unsigned)p->cwnd, (unsigned)p->snd_buf, (unsigned)p->snd_queuelen,
                p->unsent ? (unsigned)p->unsent->len : 0, p->unacked ? (unsigned)p->unacked->len : 0,
                (unsigned)p->persist_backoff, (unsigned)p->persist_cnt, (int)p->rtime,
                (int)p->rto, (int)p->sa, (int)p->sv, (unsigned)p->nrtx, (unsigned)p->flags);
    net_lock_give(fl);
}

void net_tx_resume(void)
{
    for (struct tcp_pcb *p = tcp_active_pcbs; p; p = p->next)
        if (p->unsent)
            tcp_output(p);
}

void net_drain(uint64_t max_ns)
{
    if (!started || spin_held_here(&net_lock))
        return; /* exiting from inside the stack (a fault): nothing can be delivered safely */
    uint64_t deadline = clock_monotonic_ns() + max_ns;
    for (;;) {
        uint64_t fl = net_lock_take();
        sys_check_timeouts();
        int pending = tcp_pending();
        net_lock_give(fl);
        if (!pending || clock_monotonic_ns() >= deadline)
            return;
        virtio_net_poll();
        for (int i = 0; i < 1000; i++)
            __asm__ volatile("pause");
    }
}
