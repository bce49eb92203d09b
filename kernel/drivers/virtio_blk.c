/* The virtio-blk driver (virtio 1.x, section 5.2) on the virtio-pci transport: a single request
 * queue; a read or write is cut into requests of up to CHUNK_PAGES pages, as many in flight at
 * once as the ring holds, published with one notification; completions come by MSI-X, with
 * interrupts suppressed (VIRTIO_F_EVENT_IDX) while nobody waits; FLUSH when the device has a
 * volatile write cache (VIRTIO_BLK_F_FLUSH); DISCARD and WRITE_ZEROES (VIRTIO_BLK_F_DISCARD,
 * _F_WRITE_ZEROES: one segment per request, cut to the device's maximum, several in flight) when
 * the device offers them. The data moves through bounce pages, so user
 * buffers need no pinning. Locking: io (a mutex) serialises callers and owns the bounce pages;
 * lock (a spinlock, taken by the interrupt handler) guards the queue and the in-flight count. */
#include "drivers/virtio_blk.h"
#include "arch/x86_64/paging.h"
#include "drivers/virtio_pci.h"
#include "fs/disk.h"
#include "errno.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "sched/mutex.h"
#include "sched/wait.h"

#define F_SEG_MAX (1ull << 2)
#define F_RO (1ull << 5)
#define F_BLK_SIZE (1ull << 6)
#define F_FLUSH (1ull << 9)
#define F_DISCARD (1ull << 13)
#define F_WRITE_ZEROES (1ull << 14)

#define T_IN 0
#define T_OUT 1
#define T_FLUSH 4
#define T_DISCARD 11
#define T_WRITE_ZEROES 13
#define S_OK 0

#define SECTOR 512u
#define PAGE 4096u
#define CHUNK_PAGES 8u
#define RING 128u
#define MAX_REQS (RING / (CHUNK_PAGES + 2))

struct blk_req { /* in a page of the direct map: the device reads hdr and writes status */
    uint32_t type, reserved;
    uint64_t sector;
    uint8_t status;
    uint8_t done;
};

struct vblk {
    struct virtio_dev vdev;
    struct virtq q;
    struct spinlock lock; /* q, inflight, every req's done */
    struct waitq wq;      /* woken when a request completes */
    struct mutex io;      /* one caller at a time: reqs and bounce belong to it */
    unsigned inflight;
    uint64_t sectors;
    unsigned chunk_pages;
    struct blk_req *reqs;            /* MAX_REQS */
    uint8_t *bounce[MAX_REQS][CHUNK_PAGES];
    uint64_t requests, interrupts, flushes;
    uint32_t max_discard, max_zeroes; /* sectors per request (0: the device did not say) */
};

/* The segment a DISCARD or WRITE_ZEROES request carries. */
struct blk_range {
    uint64_t sector;
    uint32_t num_sectors;
    uint32_t flags; /* WRITE_ZEROES: bit 0, the device may unmap */
};

static struct vblk *the_blk;

int virtio_blk_present(void) { return the_blk != 0; }
uint64_t virtio_blk_sectors(void) { return the_blk ? the_blk->sectors : 0; }

/* Takes finished requests off the ring; the caller holds b->lock. */
static void reap(struct vblk *b)
{
    struct blk_req *r;
    while ((r = virtq_get(&b->q, 0))) {
        r->done = 1;
        b->inflight--;
    }
}

static void vblk_irq(void *arg)
{
    struct vblk *b = arg;
    uint64_t fl = spin_lock_irqsave(&b->lock);
    b->interrupts++;
    reap(b);
    spin_unlock_irqrestore(&b->lock, fl);
    waitq_wake_all(&b->wq);
}

/* Publishes the n requests added, then sleeps until all are done; the caller holds b->io. */
static void submit_and_wait(struct vblk *b)
{
    uint64_t fl = spin_lock_irqsave(&b->lock);
    virtq_kick(&b->q);
    for (;;) {
        reap(b);
        if (b->inflight == 0)
            break;
        if (virtq_enable_irq(&b->q))
            continue; /* completions arrived meanwhile */
        /* A signal does not end the wait: the device still owns the buffers. */
        (void)waitq_wait_unlock(&b->wq, &b->lock, fl, WAIT_FOREVER);
        fl = spin_lock_irqsave(&b->lock);
    }
    virtq_disable_irq(&b->q); /* nobody waits: no interrupts until the next call */
    spin_unlock_irqrestore(&b->lock, fl);
}

static int add_req(struct vblk *b, unsigned i, uint32_t type, uint64_t sector, unsigned pages,
                   uint32_t last_len)
{
    struct blk_req *r = &b->reqs[i];
    r->type = type;
    r->reserved = 0;
    r->sector = sector;
    r->status = 0xff;
    r->done = 0;
    struct virtq_sg sg[CHUNK_PAGES + 2];
    sg[0] = (struct virtq_sg){r, 16};
    for (unsigned p = 0; p < pages; p++)
        sg[1 + p] = (struct virtq_sg){b->bounce[i][p], p + 1 == pages ? last_len : PAGE};
    sg[1 + pages] = (struct virtq_sg){&r->status, 1};
    unsigned out = type == T_IN ? 1 : 1 + pages;
    uint64_t fl = spin_lock_irqsave(&b->lock);
    int rc = virtq_add(&b->q, sg, out, 2 + pages - out, r);
    if (rc == 0) {
        b->inflight++;
        b->requests++;
    }
    spin_unlock_irqrestore(&b->lock, fl);
    return rc;
}

static int copy_in(void *dst, const uint8_t *src, uint64_t n, int user)
{
    if (user)
        return copy_from_user(dst, src, n) ? -EFAULT : 0;
    memcpy(dst, src, n);
    return 0;
}

static int copy_out(uint8_t *dst, const void *src, uint64_t n, int user)
{
    if (user)
        return copy_to_user(dst, src, n) ? -EFAULT : 0;
    memcpy(dst, src, n);
    return 0;
}

int virtio_blk_rw(uint64_t sector, void *buf, uint64_t n, int write, int user)
{
    struct vblk *b = the_blk;
    if (!b)
        return -ENXIO;
    if (n % SECTOR)
        return -EINVAL;
    if (sector > b->sectors || n / SECTOR > b->sectors - sector)
        return -ENOSPC;
    if (write && (b->vdev.features & F_RO))
        return -EROFS;
    uint8_t *p = buf;
    uint64_t chunk = (uint64_t)b->chunk_pages * PAGE;
    int rc = 0;
    mutex_lock(&b->io);
    while (n && rc == 0) {
        unsigned nreq = 0;
        uint64_t lens[MAX_REQS];
        for (; nreq < MAX_REQS && n; nreq++) {
            uint64_t len = n < chunk ? n : chunk;
            unsigned pages = (unsigned)((len + PAGE - 1) / PAGE);
            for (unsigned pg = 0; write && pg < pages && rc == 0; pg++) {
                uint64_t part = len - (uint64_t)pg * PAGE < PAGE ? len - (uint64_t)pg * PAGE : PAGE;
                rc = copy_in(b->bounce[nreq][pg], p + (uint64_t)pg * PAGE, part, user);
            }
            if (rc == 0)
                rc = add_req(b, nreq, write ? T_OUT : T_IN, sector, pages,
                             (uint32_t)(len - (uint64_t)(pages - 1) * PAGE));
            if (rc < 0)
                break;
            lens[nreq] = len;
            sector += len / SECTOR;
            n -= len;
            p += len;
        }
        submit_and_wait(b); /* also when something failed: what was added must finish */
        uint8_t *q = p;
        for (unsigned i = nreq; i-- > 0;)
            q -= lens[i];
        for (unsigned i = 0; i < nreq; i++) {
            if (b->reqs[i].status != S_OK && rc == 0)
                rc = -EIO;
            for (unsigned pg = 0; !write && rc == 0 && pg * PAGE < lens[i]; pg++) {
                uint64_t part = lens[i] - pg * PAGE < PAGE ? lens[i] - pg * PAGE : PAGE;
                rc = copy_out(q + (uint64_t)pg * PAGE, b->bounce[i][pg], part, user);
            }
            q += lens[i];
        }
    }
    mutex_unlock(&b->io);
    return rc;
}

int virtio_blk_flush(void)
{
    struct vblk *b = the_blk;
    if (!b)
        return -ENXIO;
    if (!(b->vdev.features & F_FLUSH))
        return 0; /* no volatile cache: a completed write is already durable */
    mutex_lock(&b->io);
    int rc = add_req(b, 0, T_FLUSH, 0, 0, 0);
    if (rc == 0) {
        submit_and_wait(b);
        b->flushes++;
        rc = b->reqs[0].status == S_OK ? 0 : -EIO;
    }
    mutex_unlock(&b->io);
    return rc;
}

int virtio_blk_discard(uint64_t sector, uint64_t count, int zeroes)
{
    struct vblk *b = the_blk;
    if (!b)
        return -ENXIO;
    if (!(b->vdev.features & (zeroes ? F_WRITE_ZEROES : F_DISCARD)))
        return -EOPNOTSUPP;
    if (sector > b->sectors || count > b->sectors - sector)
        return -ENOSPC;
    if (b->vdev.features & F_RO)
        return -EROFS;
    uint64_t max = zeroes ? b->max_zeroes : b->max_discard;
    if (!max || max > 0xffffffffu)
        max = 0xffffffffu;
    int rc = 0;
    mutex_lock(&b->io);
    while (count && rc == 0) {
        unsigned nreq = 0;
        for (; nreq < MAX_REQS && count && rc == 0; nreq++) {
            uint64_t n = count < max ? count : max;
            struct blk_range *r = (struct blk_range *)b->bounce[nreq][0];
            r->sector = sector;
            r->num_sectors = (uint32_t)n;
            r->flags = zeroes ? 1 : 0;
            rc = add_req(b, nreq, zeroes ? T_WRITE_ZEROES : T_DISCARD, 0, 1, sizeof *r);
            sector += n;
            count -= n;
        }
        submit_and_wait(b);
        for (unsigned i = 0; i < nreq; i++)
            if (b->reqs[i].status != S_OK && rc == 0)
                rc = b->reqs[i].status == 2 ? -EOPNOTSUPP : -EIO; /* VIRTIO_BLK_S_UNSUPP */
    }
    mutex_unlock(&b->io);
    return rc;
}

static void *page_new(void)
{
    uint64_t phys = palloc_alloc(0);
    return phys ? phys_to_virt(phys) : 0;
}

static int vblk_probe(struct pci_dev *d, unsigned type)
{
    (void)type;
    if (the_blk)
        return -EBUSY; /* one disk for now */
    struct vblk *b = kzalloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    b->lock = (struct spinlock)SPINLOCK_INIT("virtio_blk");
    waitq_init(&b->wq, "virtio_blk.wq");
    _Static_assert(MAX_REQS * sizeof(struct blk_req) <= PAGE, "requests fit their page");
    mutex_init(&b->io, "virtio_blk.io");
    int rc = virtio_pci_init(&b->vdev, d, VIRTIO_ID_BLOCK);
    if (!rc)
        rc = virtio_negotiate(&b->vdev, F_SEG_MAX | F_RO | F_BLK_SIZE | F_FLUSH | F_DISCARD |
                                            F_WRITE_ZEROES | VIRTIO_F_RING_EVENT_IDX);
    if (rc)
        goto fail;
    volatile uint8_t *cfg = b->vdev.device_cfg;
    b->sectors = *(volatile uint64_t *)cfg;
    b->chunk_pages = CHUNK_PAGES;
    if (b->vdev.features & F_DISCARD)
        b->max_discard = *(volatile uint32_t *)(cfg + 36);
    if (b->vdev.features & F_WRITE_ZEROES)
        b->max_zeroes = *(volatile uint32_t *)(cfg + 48);
    if (b->vdev.features & F_SEG_MAX) {
        uint32_t seg_max = *(volatile uint32_t *)(cfg + 12);
        if (seg_max && seg_max < b->chunk_pages)
            b->chunk_pages = seg_max;
    }
    b->reqs = page_new();
    if (!b->reqs) {
        rc = -ENOMEM;
        goto fail;
    }
    memset(b->reqs, 0, PAGE);
    for (unsigned i = 0; i < MAX_REQS; i++)
        for (unsigned p = 0; p < b->chunk_pages; p++)
            if (!(b->bounce[i][p] = page_new())) {
                rc = -ENOMEM;
                goto fail;
            }
    rc = virtio_irq_setup(&b->vdev, 1, vblk_irq, b);
    if (!rc)
        rc = virtio_queue_setup(&b->vdev, &b->q, 0, RING, 0);
    if (rc)
        goto fail;
    virtq_disable_irq(&b->q);
    virtio_ready(&b->vdev);
    the_blk = b;
    disk_register();
    return 0;
fail:
    virtio_fail(&b->vdev);
    if (b->vdev.irq_mode == VIRTIO_IRQ_NONE) /* else an interrupt handler names it */
        kfree(b); /* pages allocated before the failure are not reclaimed (boot only) */
    return rc;
}

/* The virtio drivers: drivers/virtio.c matches them by device type. */
int virtio_blk_probe(struct pci_dev *d, unsigned type) { return vblk_probe(d, type); }
