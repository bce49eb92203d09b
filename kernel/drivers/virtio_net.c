/* The virtio-net driver, as lwIP's Ethernet interface: feature negotiation, a receive ring of
 * 2 KiB buffers handed to lwIP without a copy (custom pbufs that return their buffer to the ring
 * when freed), transmit by scatter-gather straight from lwIP's pbuf chains, one notification per
 * batch and interrupt suppression while a batch is processed. Everything here is under net_lock
 * (net/stack.h): lwIP calls linkoutput with it held and the interrupt handler takes it. */
#include "drivers/virtio_pci.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "arch/x86_64/paging.h"
#include "net/stack.h"
#include "lwip/etharp.h"
#include "lwip/ethip6.h"
#include "lwip/netif.h"
#include "lwip/pbuf.h"
#include "netif/ethernet.h"

#define F_CSUM (1ull << 0)       /* the device completes checksums we leave partial */
#define F_GUEST_CSUM (1ull << 1) /* the device tells us which frames it has checked */
#define F_MAC (1ull << 5)
#define F_MRG_RXBUF (1ull << 15)
#define F_STATUS (1ull << 16)

#define NET_HDR 12 /* struct virtio_net_hdr with num_buffers (VERSION_1) */
#define HDR_F_NEEDS_CSUM 1
#define HDR_F_DATA_VALID 2

struct net_hdr {
    uint8_t flags, gso_type;
    uint16_t hdr_len, gso_size, csum_start, csum_offset, num_buffers;
};
_Static_assert(sizeof(struct net_hdr) == NET_HDR, "virtio_net_hdr");

/* Checksums lwIP computes itself: all of them, but TCP's when the device takes it over, and on
 * receive the TCP and UDP checks of frames the device vouches for. */
#define CSUM_ALL NETIF_CHECKSUM_ENABLE_ALL
#define CSUM_NO_TX_TCP (NETIF_CHECKSUM_ENABLE_ALL & ~NETIF_CHECKSUM_GEN_TCP)
#define CSUM_RX_TRUSTED (NETIF_CHECKSUM_CHECK_TCP | NETIF_CHECKSUM_CHECK_UDP)
#define RXBUF_SIZE 2048
#define RX_QUEUE 0
#define TX_QUEUE 1
#define RING_MAX 256
/* Frames this small are copied so their buffer goes straight back to the ring (ACKs, ARP). */
#define COPYBREAK 256
/* Free descriptors that let output resume after the ring was full: room for a few frames. */
#define TX_ROOM 32

struct rxbuf {
    struct pbuf_custom pc; /* first: lwIP hands this back to rx_free */
    struct vnet *vn;
    uint8_t *mem;          /* RXBUF_SIZE bytes of DMA-able memory */
};

struct vnet {
    struct virtio_dev vdev;
    struct virtq rxq, txq;
    struct netif *netif;
    uint8_t mac[6];
    unsigned rx_posted;  /* buffers in the receive ring */
    unsigned rx_total;
    unsigned rx_skip;    /* continuation buffers of an oversized frame still to drop */
    int rx_kick_needed;
    int in_batch;
    int tx_blocked;      /* a frame was refused for want of room: resume TCP once there is some */
    uint64_t rx_frames, tx_frames, rx_copied, tx_copied, tx_dropped, tx_csum_offloaded;
    uint64_t tx_renotified; /* times the transmit queue had to be notified again (virtq_stalled) */
    uint16_t csum_flags; /* the netif's checksum flags outside a received frame */
};

static struct vnet *the_vnet;

int virtio_net_present(void) { return the_vnet != 0; }

static void rx_post(struct vnet *vn, struct rxbuf *rb)
{
    struct virtq_sg sg = {rb->mem, RXBUF_SIZE};
    if (virtq_add(&vn->rxq, &sg, 0, 1, rb) == 0) {
        vn->rx_posted++;
        vn->rx_kick_needed = 1;
    } else {
        kfree(rb); /* cannot happen: there is one descriptor per buffer */
    }
}

static void rx_kick(struct vnet *vn)
{
    if (vn->rx_kick_needed) {
        vn->rx_kick_needed = 0;
        virtq_kick(&vn->rxq);
    }
}

/* lwIP frees a received frame: its buffer goes back to the ring. */
static void rx_free(struct pbuf *p)
{
    struct rxbuf *rb = (struct rxbuf *)p;
    struct vnet *vn = rb->vn;
    rx_post(vn, rb);
    if (!vn->in_batch)
        rx_kick(vn);
}

static void tx_reclaim(struct vnet *vn)
{
    struct pbuf *p;
    while ((p = virtq_get(&vn->txq, 0)))
        pbuf_free(p);
}

static struct pbuf *rx_frame(struct vnet *vn, struct rxbuf *rb, uint32_t len)
{
    vn->rx_posted--;
    if (vn->rx_skip) { /* the rest of a frame dropped below: no header of its own */
        vn->rx_skip--;
        rx_post(vn, rb);
        return 0;
    }
    if (len <= NET_HDR || len > RXBUF_SIZE) {
        rx_post(vn, rb); /* a malformed length from the device: drop the frame */
        return 0;
    }
    const struct net_hdr *h = (const struct net_hdr *)rb->mem;
    if (h->num_buffers > 1) {
        /* Longer than one buffer (MRG_RXBUF): more than the 1500-byte MTU allows. Dropped, with
         * the buffers that carry its rest. */
        vn->rx_skip = h->num_buffers - 1u;
        rx_post(vn, rb);
        return 0;
    }
    uint16_t frame = (uint16_t)(len - NET_HDR);
    /* lwIP processes the frame within netif->input, under net_lock: the flags are per frame. */
    int trusted = (vn->vdev.features & F_GUEST_CSUM) && (h->flags & (HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID));
    NETIF_SET_CHECKSUM_CTRL(vn->netif, trusted ? (vn->csum_flags & ~CSUM_RX_TRUSTED) : vn->csum_flags);
    /* Zero copy while the ring is well stocked; small frames, or a ring running dry because the
     * program is not reading, are copied so the buffer goes straight back. */
    if (frame > COPYBREAK && vn->rx_posted > vn->rx_total / 4) {
        struct pbuf *p = pbuf_alloced_custom(PBUF_RAW, frame, PBUF_REF, &rb->pc, rb->mem + NET_HDR,
                                             RXBUF_SIZE - NET_HDR);
        if (p)
            return p;
    }
    struct pbuf *p = pbuf_alloc(PBUF_RAW, frame, PBUF_RAM);
    if (p) {
        memcpy(p->payload, rb->mem + NET_HDR, frame);
        vn->rx_copied++;
    }
    rx_post(vn, rb);
    return p;
}

static void vnet_irq(void *arg)
{
    struct vnet *vn = arg;
    uint64_t fl = net_lock_take();
    vn->in_batch = 1;
    for (;;) {
        virtq_disable_irq(&vn->rxq);
        struct rxbuf *rb;
        uint32_t len;
        while ((rb = virtq_get(&vn->rxq, &len))) {
            if (!vn->netif) { /* before net_init configured the interface: nobody to take it */
                vn->rx_posted--;
                rx_post(vn, rb);
                continue;
            }
            struct pbuf *p = rx_frame(vn, rb, len);
            if (!p)
                continue;
            vn->rx_frames++;
            if (vn->netif->input(p, vn->netif) != ERR_OK)
                pbuf_free(p);
        }
        rx_kick(vn);
        if (!virtq_enable_irq(&vn->rxq))
            break;
    }
    vn->in_batch = 0;
    tx_reclaim(vn);
    virtq_enable_irq(&vn->txq);
    if (vn->tx_blocked && vn->txq.num_free >= TX_ROOM) {
        vn->tx_blocked = 0;
        net_tx_resume();
    }
    net_lock_give(fl);
}

static uint32_t sum16(const uint8_t *b, unsigned n, uint32_t sum)
{
    for (unsigned i = 0; i + 1 < n; i += 2)
        sum += (uint32_t)(b[i] << 8 | b[i + 1]);
    if (n & 1)
        sum += (uint32_t)b[n - 1] << 8;
    return sum;
}

static uint16_t fold(uint32_t sum)
{
    while (sum >> 16)
        sum = (sum & 0xffff) + (sum >> 16);
    return (uint16_t)sum;
}

/* For a TCP frame whose checksum lwIP left to the device: the header asking for it, and the
 * pseudo-header sum in the checksum field, as virtio 1.x 5.1.6.2 wants. The Ethernet, IP and TCP
 * headers are in the first pbuf (lwIP builds them there). Returns 1 if the frame is such a frame. */
static int tx_csum(struct pbuf *first, struct net_hdr *h)
{
    uint8_t *f = first->payload;
    unsigned len = first->len;
    if (len < 14 + 20)
        return 0;
    uint16_t type = (uint16_t)(f[12] << 8 | f[13]);
    unsigned l4, l4len;
    uint32_t sum;
    if (type == 0x0800) {
        unsigned ihl = (f[14] & 0xf) * 4u;
        if (f[14 + 9] != 6 || ihl < 20 || (f[14 + 6] & 0x3f) || f[14 + 7])
            return 0; /* not TCP, or a fragment */
        l4 = 14 + ihl;
        l4len = (unsigned)(f[16] << 8 | f[17]) - ihl;
        sum = sum16(f + 14 + 12, 8, 0) + 6 + l4len;
    } else if (type == 0x86dd) {
        if (len < 14 + 40 || f[14 + 6] != 6)
            return 0; /* not TCP right after the fixed header */
        l4 = 14 + 40;
        l4len = (unsigned)(f[18] << 8 | f[19]);
        sum = sum16(f + 14 + 8, 32, 0) + 6 + l4len;
    } else {
        return 0;
    }
    if (l4 + 18 > len)
        return 0;
    uint16_t ps = fold(sum);
    f[l4 + 16] = (uint8_t)(ps >> 8);
    f[l4 + 17] = (uint8_t)ps;
    h->flags = HDR_F_NEEDS_CSUM;
    h->csum_start = (uint16_t)l4;
    h->csum_offset = 16;
    return 1;
}

static err_t vnet_linkoutput(struct netif *n, struct pbuf *p)
{
    struct vnet *vn = n->state;
    tx_reclaim(vn);
    unsigned segs = 0;
    int dma_ok = 1;
    for (struct pbuf *q = p; q; q = q->next) {
        if (q->len) {
            segs++;
            if (!dma_addr(q->payload))
                dma_ok = 0;
        }
    }
    struct pbuf *out = p;
    if (!dma_ok || segs + 1 > 16 || pbuf_add_header(p, NET_HDR)) {
        /* Not DMA-able in place (no headroom, memory outside the direct map, a long chain): one
         * copy into a fresh buffer. */
        out = pbuf_alloc(PBUF_RAW, (u16_t)(p->tot_len + NET_HDR), PBUF_RAM);
        if (!out) {
            vn->tx_dropped++;
            return ERR_MEM;
        }
        pbuf_copy_partial(p, (uint8_t *)out->payload + NET_HDR, p->tot_len, 0);
        segs = 1;
        vn->tx_copied++;
    } else {
        pbuf_ref(p);
    }
    memset(out->payload, 0, NET_HDR);
    if (!(vn->csum_flags & NETIF_CHECKSUM_GEN_TCP)) {
        struct net_hdr *h = out->payload;
        /* The frame follows the header in the same pbuf: look at it there. */
        struct pbuf view = *out;
        view.payload = (uint8_t *)out->payload + NET_HDR;
        view.len = (u16_t)(out->len - NET_HDR);
        if (tx_csum(&view, h))
            vn->tx_csum_offloaded++;
    }
    struct virtq_sg sg[17];
    unsigned k = 0;
    for (struct pbuf *q = out; q; q = q->next)
        if (q->len)
            sg[k++] = (struct virtq_sg){q->payload, q->len};
    int rc = virtq_add(&vn->txq, sg, k, 0, out);
    if (rc) {
        /* Full: from here on a completion interrupts (EVENT_IDX: used_event moves to now), and
         * what completed meanwhile is taken back before one more try. */
        virtq_enable_irq(&vn->txq);
        tx_reclaim(vn);
        rc = virtq_add(&vn->txq, sg, k, 0, out);
    }
    if (out == p)
        pbuf_remove_header(p, NET_HDR); /* the descriptors hold the addresses already */
    if (rc) {
        pbuf_free(out);
        vn->tx_dropped++;
        /* Still full, every descriptor with the device: its completion interrupt resumes TCP's
         * output (vnet_irq). */
        vn->tx_blocked = 1;
        return ERR_MEM;
    }
    virtq_kick(&vn->txq);
    vn->tx_frames++;
    return ERR_OK;
}

err_t virtio_net_netif_init(struct netif *n)
{
    struct vnet *vn = the_vnet;
    n->state = vn;
    n->name[0] = 'e';
    n->name[1] = 'n';
    n->output = etharp_output;
    n->output_ip6 = ethip6_output;
    n->linkoutput = vnet_linkoutput;
    n->mtu = 1500;
    n->mtu6 = 1500;
    n->hwaddr_len = 6;
    memcpy(n->hwaddr, vn->mac, 6);
    n->flags = NETIF_FLAG_BROADCAST | NETIF_FLAG_ETHARP | NETIF_FLAG_ETHERNET | NETIF_FLAG_MLD6 |
               NETIF_FLAG_LINK_UP;
    vn->netif = n;
    vn->csum_flags = (vn->vdev.features & F_CSUM) ? CSUM_NO_TX_TCP : CSUM_ALL;
    NETIF_SET_CHECKSUM_CTRL(n, vn->csum_flags);
    return ERR_OK;
}

static int vnet_probe(struct pci_dev *d, unsigned type)
{
    (void)type;
    if (the_vnet)
        return -EBUSY; /* one interface for now */
    struct vnet *vn = kzalloc(sizeof *vn);
    if (!vn)
        return -ENOMEM;
    int rc = virtio_pci_init(&vn->vdev, d, VIRTIO_ID_NET);
    if (!rc)
        rc = virtio_negotiate(&vn->vdev, F_CSUM | F_GUEST_CSUM | F_MAC | F_STATUS | F_MRG_RXBUF |
                                             VIRTIO_F_RING_EVENT_IDX);
    if (rc)
        goto fail;
    if (vn->vdev.features & F_MAC)
        for (int i = 0; i < 6; i++)
            vn->mac[i] = vn->vdev.device_cfg[i];
    else
        memcpy(vn->mac, (uint8_t[6]){0x52, 0x54, 0x00, 0x12, 0x34, 0x56}, 6);
    rc = virtio_irq_setup(&vn->vdev, 2, vnet_irq, vn);
    if (!rc)
        rc = virtio_queue_setup(&vn->vdev, &vn->rxq, RX_QUEUE, RING_MAX, 0);
    if (!rc)
        rc = virtio_queue_setup(&vn->vdev, &vn->txq, TX_QUEUE, RING_MAX, 1);
    if (rc)
        goto fail;
    vn->rx_total = vn->rxq.size;
    for (unsigned i = 0; i < vn->rx_total; i++) {
        struct rxbuf *rb = kzalloc(sizeof *rb);
        uint64_t page = (i & 1) ? 0 : palloc_alloc(0);
        if (!rb) {
            rc = -ENOMEM;
            goto fail;
        }
        static uint8_t *half;
        if (page) {
            rb->mem = phys_to_virt(page);
            half = rb->mem + RXBUF_SIZE;
        } else {
            rb->mem = half;
        }
        if (!rb->mem) {
            rc = -ENOMEM;
            goto fail;
        }
        rb->vn = vn;
        rb->pc.custom_free_function = rx_free;
        rx_post(vn, rb);
    }
    virtio_ready(&vn->vdev);
    rx_kick(vn);
    the_vnet = vn;
    return 0;
fail:
    virtio_fail(&vn->vdev);
    if (vn->vdev.irq_mode == VIRTIO_IRQ_NONE) /* else an interrupt handler names it */
        kfree(vn); /* queues and buffers allocated before the failure are not reclaimed (boot only) */
    return rc;
}

void virtio_net_poll(void)
{
    struct vnet *vn = the_vnet;
    if (!vn)
        return;
    vnet_irq(vn);
    uint64_t fl = net_lock_take();
    if (virtq_stalled(&vn->txq))
        vn->tx_renotified++;
    net_lock_give(fl);
}

/* The virtio drivers: drivers/virtio.c matches them by device type. */
int virtio_net_probe(struct pci_dev *d, unsigned type) { return vnet_probe(d, type); }

void virtio_net_report(void)
{
    struct vnet *vn = the_vnet;
    if (!vn)
        return;
    virtq_report(&vn->rxq, "virtio-net rx");
    virtq_report(&vn->txq, "virtio-net tx");
    kprintf("lwjvm: virtio-net: transmit queue notified again %lu times\n", vn->tx_renotified);
    virtio_irq_report(&vn->vdev, "virtio-net");
}

/* Counters for /proc/net/dev-style reporting and the benchmarks. */
void virtio_net_stats(uint64_t out[5])
{
    struct vnet *vn = the_vnet;
    if (!vn) {
        memset(out, 0, 5 * sizeof *out);
        return;
    }
    out[0] = vn->rx_frames;
    out[1] = vn->tx_frames;
    out[2] = vn->rx_copied;
    out[3] = vn->tx_copied;
    out[4] = vn->tx_dropped;
}
