/* The virtio-pci transport (see drivers/virtio_pci.h). Structures: virtio 1.x, 4.1.4; the INTx
 * fallback: 4.1.4.5 (ISR status) and 4.1.5.3-4 (notifications without MSI-X). */
#include "drivers/virtio_pci.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/tsc.h"
#include "core/stats.h"
#include "core/waitlimit.h"
#include "drivers/pci_intx.h"
#include "errno.h"
#include "lib/printf.h"

#define CAP_COMMON 1
#define CAP_NOTIFY 2
#define CAP_ISR 3
#define CAP_DEVICE 4

/* struct virtio_pci_common_cfg offsets */
#define C_DFSELECT 0x00
#define C_DF 0x04
#define C_GFSELECT 0x08
#define C_GF 0x0c
#define C_MSIX_CONFIG 0x10
#define C_NUM_QUEUES 0x12
#define C_STATUS 0x14
#define C_Q_SELECT 0x16
#define C_Q_SIZE 0x18
#define C_Q_MSIX 0x1a
#define C_Q_ENABLE 0x1c
#define C_Q_NOFF 0x1e
#define C_Q_DESC 0x20
#define C_Q_DRIVER 0x28
#define C_Q_DEVICE 0x30

#define S_ACK 1
#define S_DRIVER 2
#define S_DRIVER_OK 4
#define S_FEATURES_OK 8
#define S_FAILED 0x80
#define NO_VECTOR 0xffff
#define ISR_QUEUE 1  /* a queue has used buffers */
#define ISR_CONFIG 2 /* the device configuration changed */

static inline void w8(volatile uint8_t *b, unsigned o, uint8_t v) { b[o] = v; }
static inline void w16(volatile uint8_t *b, unsigned o, uint16_t v) { *(volatile uint16_t *)(b + o) = v; }
static inline void w32(volatile uint8_t *b, unsigned o, uint32_t v) { *(volatile uint32_t *)(b + o) = v; }
static inline void w64(volatile uint8_t *b, unsigned o, uint64_t v)
{
    w32(b, o, (uint32_t)v);
    w32(b, o + 4, (uint32_t)(v >> 32));
}
static inline uint8_t r8(volatile uint8_t *b, unsigned o) { return b[o]; }
static inline uint16_t r16(volatile uint8_t *b, unsigned o) { return *(volatile uint16_t *)(b + o); }
static inline uint32_t r32(volatile uint8_t *b, unsigned o) { return *(volatile uint32_t *)(b + o); }

static const char *type_name(unsigned type);

int virtio_pci_init(struct virtio_dev *v, struct pci_dev *d, unsigned type)
{
    *v = (struct virtio_dev){.pci = d, .type = type};
    for (unsigned cap = pci_find_cap(d, PCI_CAP_VENDOR, 0); cap;
         cap = pci_find_cap(d, PCI_CAP_VENDOR, cap)) {
        uint8_t kind = pci_read8(d, cap + 3), bar = pci_read8(d, cap + 4);
        uint32_t off = pci_read32(d, cap + 8), len = pci_read32(d, cap + 12);
        if (kind < CAP_COMMON || kind > CAP_DEVICE || bar > 5)
            continue;
        volatile uint8_t *base = pci_map_bar(d, bar);
        if (!base || (uint64_t)off + len > d->bar_size[bar])
            continue;
        volatile uint8_t *p = base + off;
        if (kind == CAP_COMMON && !v->common)
            v->common = p;
        else if (kind == CAP_ISR && !v->isr)
            v->isr = p;
        else if (kind == CAP_DEVICE && !v->device_cfg)
            v->device_cfg = p;
        else if (kind == CAP_NOTIFY && !v->notify) {
            v->notify = p;
            v->notify_mul = pci_read32(d, cap + 16);
        }
    }
    if (!v->common || !v->notify || !v->isr)
        return -ENODEV;
    v->msix_entries = pci_msix_count(d);
    v->gsi = -1;
    pci_enable(d); /* INTx off until virtio_irq_setup wants it */
    w8(v->common, C_STATUS, 0); /* reset: done when the status reads 0 (virtio 1.x 4.1.4.3.2) */
    struct bwait w = BWAIT_INIT;
    while (r8(v->common, C_STATUS)) {
        if (bwait_expired(&w)) {
            kprintf("lwjvm: virtio device %s at %02x:%02x.%x did not reset within %u s: not used\n",
                    type_name(type), d->bus, d->dev, d->fn, wait_limit_s);
            return -ENODEV;
        }
        __asm__ volatile("pause");
    }
    w8(v->common, C_STATUS, S_ACK);
    w8(v->common, C_STATUS, S_ACK | S_DRIVER);
    if (v->msix_entries)
        w16(v->common, C_MSIX_CONFIG, NO_VECTOR);
    return 0;
}

static const char *type_name(unsigned type)
{
    switch (type) {
    case VIRTIO_ID_NET:
        return "net";
    case VIRTIO_ID_BLOCK:
        return "blk";
    case VIRTIO_ID_CONSOLE:
        return "console";
    case VIRTIO_ID_RNG:
        return "rng";
    case VIRTIO_ID_BALLOON:
        return "balloon";
    default:
        return "device";
    }
}

/* The INTx line fired: reading the ISR lowers this device's part of it (read to acknowledge). */
static int intx_irq(void *arg)
{
    struct virtio_dev *v = arg;
    uint64_t t0 = kstats_enabled ? rdtsc() : 0;
    uint8_t isr = r8(v->isr, 0);
    if (t0) {
        __atomic_fetch_add(&v->isr_reads, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&v->isr_tsc, rdtsc() - t0, __ATOMIC_RELAXED);
    }
    void (*handler)(void *) = __atomic_load_n(&v->handler, __ATOMIC_ACQUIRE);
    if (((isr & ISR_QUEUE) || ((isr & ISR_CONFIG) && v->config_irq)) && handler)
        handler(v->handler_arg);
    return isr != 0; /* ISR_CONFIG of a driver that did not ask for it: acknowledged */
}

int virtio_irq_setup(struct virtio_dev *v, unsigned nqueues, void (*handler)(void *), void *arg)
{
    v->handler = handler;
    v->handler_arg = arg;
    if (v->msix_entries) {
        v->vector = irq_alloc(handler, arg);
        if (!v->vector)
            return -EBUSY;
        v->irq_mode = v->msix_entries >= nqueues ? VIRTIO_IRQ_MSIX : VIRTIO_IRQ_MSIX_SHARED;
        if (v->irq_mode == VIRTIO_IRQ_MSIX_SHARED)
            kprintf("lwjvm: virtio %s at 00:%02x.0: %u MSI-X entries for %u queues: one vector "
                    "for all\n",
                    type_name(v->type), v->pci->dev, v->msix_entries, nqueues);
        return 0;
    }
    int gsi = pci_intx_attach(v->pci, intx_irq, v);
    if (gsi < 0)
        return gsi;
    v->gsi = gsi;
    v->irq_mode = VIRTIO_IRQ_INTX;
    kprintf("lwjvm: virtio %s at 00:%02x.0: no MSI-X: interrupts through INTx, GSI %d\n",
            type_name(v->type), v->pci->dev, gsi);
    return 0;
}

int virtio_config_irq(struct virtio_dev *v)
{
    if (v->irq_mode == VIRTIO_IRQ_INTX) {
        v->config_irq = 1;
        return 0;
    }
    if (v->irq_mode != VIRTIO_IRQ_MSIX && v->irq_mode != VIRTIO_IRQ_MSIX_SHARED)
        return -EIO;
    if (pci_msix_route(v->pci, 0, v->vector))
        return -EIO;
    w16(v->common, C_MSIX_CONFIG, 0);
    return r16(v->common, C_MSIX_CONFIG) == 0 ? 0 : -EIO;
}

int virtio_negotiate(struct virtio_dev *v, uint64_t wanted)
{
    w32(v->common, C_DFSELECT, 0);
    uint64_t have = r32(v->common, C_DF);
    w32(v->common, C_DFSELECT, 1);
    have |= (uint64_t)r32(v->common, C_DF) << 32;
    if (!(have & VIRTIO_F_VERSION_1))
        return -ENODEV;
    uint64_t f = have & (wanted | VIRTIO_F_VERSION_1);
    w32(v->common, C_GFSELECT, 0);
    w32(v->common, C_GF, (uint32_t)f);
    w32(v->common, C_GFSELECT, 1);
    w32(v->common, C_GF, (uint32_t)(f >> 32));
    w8(v->common, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK);
    if (!(r8(v->common, C_STATUS) & S_FEATURES_OK))
        return -ENODEV;
    v->features = f;
    return 0;
}

int virtio_queue_setup(struct virtio_dev *v, struct virtq *q, uint16_t index, uint16_t max_size,
                       int irq)
{
    w16(v->common, C_Q_SELECT, index);
    uint16_t size = r16(v->common, C_Q_SIZE);
    if (!size)
        return -ENOENT;
    if (size > max_size)
        size = max_size;
    if (size & (size - 1))
        return -EINVAL;
    int rc = virtq_alloc(q, index, size, !!(v->features & VIRTIO_F_RING_EVENT_IDX));
    if (rc)
        return rc;
    w16(v->common, C_Q_SIZE, size);
    w64(v->common, C_Q_DESC, virtq_desc_phys(q));
    w64(v->common, C_Q_DRIVER, virtq_avail_phys(q));
    w64(v->common, C_Q_DEVICE, virtq_used_phys(q));
    int msix = v->irq_mode == VIRTIO_IRQ_MSIX || v->irq_mode == VIRTIO_IRQ_MSIX_SHARED;
    if (msix && irq != VIRTIO_POLLED) {
        unsigned entry = v->irq_mode == VIRTIO_IRQ_MSIX ? (unsigned)irq : 0;
        if (pci_msix_route(v->pci, entry, v->vector))
            return -EIO;
        w16(v->common, C_Q_MSIX, (uint16_t)entry);
        if (r16(v->common, C_Q_MSIX) != entry)
            return -EIO;
    } else if (v->msix_entries) {
        w16(v->common, C_Q_MSIX, NO_VECTOR); /* a polled queue, or a polled device */
    }
    uint16_t noff = r16(v->common, C_Q_NOFF);
    q->notify = (volatile uint16_t *)(v->notify + (uint64_t)noff * v->notify_mul);
    q->notify_data = index;
    w16(v->common, C_Q_ENABLE, 1);
    return 0;
}

void virtio_ready(struct virtio_dev *v)
{
    w8(v->common, C_STATUS, S_ACK | S_DRIVER | S_FEATURES_OK | S_DRIVER_OK);
}

void virtio_fail(struct virtio_dev *v)
{
    if (v->irq_mode == VIRTIO_IRQ_INTX) { /* the line's handler stays, calling no driver */
        __atomic_store_n(&v->handler, 0, __ATOMIC_RELEASE);
        pci_set_intx(v->pci, 0);
    }
    if (v->common)
        w8(v->common, C_STATUS, r8(v->common, C_STATUS) | S_FAILED);
}

void virtio_irq_report(const struct virtio_dev *v, const char *name)
{
    uint64_t n = __atomic_load_n(&v->isr_reads, __ATOMIC_RELAXED);
    if (v->irq_mode == VIRTIO_IRQ_INTX && n)
        kprintf("lwjvm: %s: %lu ISR reads, %lu ns each\n", name, n,
                tsc_to_ns(__atomic_load_n(&v->isr_tsc, __ATOMIC_RELAXED)) / n);
}
