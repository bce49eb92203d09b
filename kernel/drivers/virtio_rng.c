/* virtio-rng (virtio 1.x, 5.4): entropy from the host (QEMU reads its /dev/urandom). The kernel's
 * random source (core/random.c) draws on it when the CPU has no RDRAND; requests are polled, one
 * at a time, under the device's lock. */
#include "arch/x86_64/paging.h"
#include "drivers/virtio_pci.h"
#include "errno.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "mm/palloc.h"

struct vrng {
    struct spinlock lock; /* guards the queue and the buffer */
    struct virtio_dev vdev;
    struct virtq q;
    uint8_t *buf; /* one page the device fills */
};

static struct vrng *the_rng;

/* Fills up to n bytes from the device; returns how many (0 without a device). */
size_t virtio_rng_read(void *out, size_t n)
{
    struct vrng *r = the_rng;
    if (!r || !n)
        return 0;
    if (n > 4096)
        n = 4096;
    uint64_t fl = spin_lock_irqsave(&r->lock);
    struct virtq_sg sg = {r->buf, (uint32_t)n};
    size_t got = 0;
    if (virtq_add(&r->q, &sg, 0, 1, r->buf) == 0) {
        virtq_kick(&r->q);
        uint32_t len = 0;
        for (long spins = 0; spins < 100000000; spins++) {
            if (virtq_get(&r->q, &len)) {
                got = len < n ? len : n;
                memcpy(out, r->buf, got);
                break;
            }
            __asm__ volatile("pause");
        }
    }
    spin_unlock_irqrestore(&r->lock, fl);
    return got;
}

int virtio_rng_probe(struct pci_dev *d, unsigned type)
{
    (void)type;
    if (the_rng)
        return -EBUSY;
    struct vrng *r = kzalloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    r->lock = (struct spinlock)SPINLOCK_INIT("virtio-rng");
    uint64_t page = palloc_alloc(0);
    int rc = page ? virtio_pci_init(&r->vdev, d, VIRTIO_ID_RNG) : -ENOMEM;
    if (!rc)
        rc = virtio_negotiate(&r->vdev, 0);
    if (!rc)
        rc = virtio_queue_setup(&r->vdev, &r->q, 0, 8, VIRTIO_POLLED);
    if (rc) {
        virtio_fail(&r->vdev);
        return rc;
    }
    r->buf = phys_to_virt(page);
    virtq_disable_irq(&r->q);
    virtio_ready(&r->vdev);
    the_rng = r;
    return 0;
}
