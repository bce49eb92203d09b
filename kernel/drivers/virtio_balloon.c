/* virtio-balloon (virtio 1.x, 5.5): the guest's memory figures for the host, and memory lent back
 * to it.
 *
 * Statistics (VIRTIO_BALLOON_F_STATS_VQ, 5.5.6.3): one buffer of (tag, value) pairs on the stats
 * queue. The device keeps it until it wants fresh figures (QEMU: every
 * guest-stats-polling-interval seconds), then returns it; the interrupt fills it again from the
 * page allocator's counters and hands it back. Figures: MEMTOT (the allocator's managed frames:
 * /proc/meminfo's MemTotal), MEMFREE and AVAIL (its free frames: MemFree and MemAvailable, the
 * kernel keeping no cache it could drop), MINFLT (page faults taken: getrusage's ru_minflt).
 *
 * Inflate and deflate (5.5.6.1): the host sets num_pages in the configuration (QMP `balloon`)
 * and interrupts; the driver takes 4 KiB frames from the allocator, up to BATCH per buffer on the
 * inflate queue, and once the device has taken a buffer they are the balloon's (chained through
 * their struct page, counted in `actual`). When the target falls, frames go back to the
 * allocator at once and their numbers to the device on the deflate queue (no MUST_TELL_HOST: the
 * driver may reuse them before the device has read them). With DEFLATE_ON_OOM, an allocation
 * that finds no free frame asks the balloon first (palloc_set_reclaim): it gives BATCH frames
 * back, tells the device, and inflates no more until the host sets another target (or it would
 * take them again at the next interrupt).
 *
 * Everything is driven from the device's interrupt (queues and configuration on one handler) and
 * from the allocator's reclaim; both run under `balloon`, which is taken after `kheap` and before
 * `palloc` (docs/kernel-locking.md): nothing here allocates from the kernel heap after the probe. */
#include "arch/x86_64/paging.h"
#include "core/stats.h"
#include "core/waitlimit.h"
#include "drivers/virtio_pci.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "mm/palloc.h"

#define F_STATS_VQ (1ull << 1)
#define F_DEFLATE_ON_OOM (1ull << 2)

#define Q_INFLATE 0
#define Q_DEFLATE 1
#define Q_STATS 2

#define CFG_NUM_PAGES 0 /* le32, set by the device: the pages it asks for */
#define CFG_ACTUAL 4    /* le32, set by the driver: the pages the balloon holds */

#define BATCH 256 /* frame numbers per inflate or deflate buffer (1 KiB) */

/* Statistics tags (5.5.6.3). */
#define S_MINFLT 3
#define S_MEMFREE 4
#define S_MEMTOT 5
#define S_AVAIL 6
#define NSTATS 4

struct stat_pair {
    uint16_t tag;
    uint64_t val;
} __attribute__((packed));
_Static_assert(sizeof(struct stat_pair) == 10, "virtio_balloon_stat");

struct vballoon {
    struct spinlock lock; /* guards everything below, and the device's queues and `actual` */
    struct virtio_dev vdev;
    struct virtq inflq, deflq, statq;
    uint32_t *infl_pfns;      /* the inflate buffer: BATCH frame numbers */
    uint32_t *defl_pfns;      /* the deflate buffer */
    unsigned infl_n;          /* frames in the inflate buffer while the device has it, else 0 */
    int infl_busy, defl_busy; /* the buffer is with the device */
    struct stat_pair *stats;  /* NSTATS pairs, with the device between its polls */
    uint32_t head;            /* the balloon's frames, chained through struct page.next */
    uint32_t pages;           /* how many (what `actual` says) */
    int hold;                 /* an allocation took frames back while num_pages was hold_at: */
    uint32_t hold_at;         /* no inflating until the host asks for another size */
    int stuck;                /* the device kept the deflate buffer past wait_limit_s */
};

static struct vballoon *the_balloon;

static uint32_t num_pages(struct vballoon *b)
{
    return *(volatile uint32_t *)(b->vdev.device_cfg + CFG_NUM_PAGES);
}

static void set_actual(struct vballoon *b)
{
    *(volatile uint32_t *)(b->vdev.device_cfg + CFG_ACTUAL) = b->pages;
}

/* Fills the statistics buffer with the figures of now (lock held). */
static void fill_stats(struct vballoon *b)
{
    uint64_t fr = palloc_free_pages() * PAGE_SIZE;
    b->stats[0] = (struct stat_pair){S_MEMTOT, palloc_total_pages() * PAGE_SIZE};
    b->stats[1] = (struct stat_pair){S_MEMFREE, fr};
    b->stats[2] = (struct stat_pair){S_AVAIL, fr};
    b->stats[3] = (struct stat_pair){S_MINFLT, __atomic_load_n(&kstats.faults, __ATOMIC_RELAXED)};
}

static void give_stats(struct vballoon *b)
{
    fill_stats(b);
    struct virtq_sg sg = {b->stats, NSTATS * sizeof *b->stats};
    if (!virtq_add(&b->statq, &sg, 1, 0, b->stats))
        virtq_kick(&b->statq);
}

/* Sends the first n frame numbers of `pfns` on queue q (lock held). */
static void send_pfns(struct virtq *q, uint32_t *pfns, unsigned n)
{
    struct virtq_sg sg = {pfns, n * (uint32_t)sizeof *pfns};
    if (!virtq_add(q, &sg, 1, 0, pfns))
        virtq_kick(q);
}

/* Takes up to n frames from the allocator for the inflate buffer (lock held). Without one to
 * spare, the next interrupt tries again. */
static void inflate(struct vballoon *b, unsigned n)
{
    unsigned got = 0;
    while (got < n) {
        uint64_t phys = palloc_try_alloc(0);
        if (!phys)
            break;
        b->infl_pfns[got++] = (uint32_t)(phys >> PAGE_SHIFT);
    }
    if (!got)
        return;
    b->infl_n = got;
    b->infl_busy = 1;
    send_pfns(&b->inflq, b->infl_pfns, got);
}

/* The device took the inflate buffer: its frames are the balloon's (lock held). */
static void inflated(struct vballoon *b)
{
    for (unsigned i = 0; i < b->infl_n; i++) {
        palloc_page((uint64_t)b->infl_pfns[i] << PAGE_SHIFT)->next = b->head;
        b->head = b->infl_pfns[i];
    }
    b->pages += b->infl_n;
    b->infl_n = 0;
    b->infl_busy = 0;
    set_actual(b);
}

/* Gives up to n of the balloon's frames back to the allocator and their numbers to the device;
 * returns how many (lock held, the deflate buffer free). */
static unsigned deflate(struct vballoon *b, unsigned n)
{
    unsigned k = 0;
    while (k < n && b->head != PFN_NONE) {
        uint64_t phys = (uint64_t)b->head << PAGE_SHIFT;
        b->head = palloc_page(phys)->next;
        b->defl_pfns[k++] = (uint32_t)(phys >> PAGE_SHIFT);
        palloc_free(phys, 0);
    }
    if (!k)
        return 0;
    b->pages -= k;
    set_actual(b);
    b->defl_busy = 1;
    send_pfns(&b->deflq, b->defl_pfns, k);
    return k;
}

/* Takes back what the device has finished with and moves the balloon one buffer towards the
 * host's target (lock held). */
static void work(struct vballoon *b)
{
    if (virtq_get(&b->statq, 0))
        give_stats(b);
    if (virtq_get(&b->inflq, 0))
        inflated(b);
    if (virtq_get(&b->deflq, 0))
        b->defl_busy = 0;
    uint32_t target = num_pages(b);
    if (b->hold && target != b->hold_at)
        b->hold = 0;
    uint32_t have = b->pages + b->infl_n;
    if (target > have && !b->infl_busy && !b->hold)
        inflate(b, target - have < BATCH ? target - have : BATCH);
    else if (target < b->pages && !b->defl_busy)
        deflate(b, b->pages - target < BATCH ? b->pages - target : BATCH);
}

static void balloon_irq(void *arg)
{
    struct vballoon *b = arg;
    uint64_t fl = spin_lock_irqsave(&b->lock);
    work(b);
    spin_unlock_irqrestore(&b->lock, fl);
}

/* The allocator found no free frame (palloc_set_reclaim): gives BATCH of the balloon's frames
 * back; returns how many. Waits for the deflate buffer if the device still has it, at most
 * wait_limit_s (core/waitlimit.h): a device that keeps it longer gets no more requests, and the
 * allocation fails as it would without a balloon. */
static uint64_t balloon_reclaim(void)
{
    struct vballoon *b = the_balloon;
    uint64_t fl = spin_lock_irqsave(&b->lock);
    struct bwait w = BWAIT_INIT;
    while (b->defl_busy && !b->stuck) {
        if (virtq_get(&b->deflq, 0)) {
            b->defl_busy = 0;
        } else if (bwait_expired(&w)) {
            b->stuck = 1;
            kprintf("lwjvm: virtio-balloon: the device kept the deflate buffer for %u s: no "
                    "memory is taken back from the balloon any more\n", wait_limit_s);
        } else {
            __asm__ volatile("pause");
        }
    }
    unsigned n = b->defl_busy ? 0 : deflate(b, BATCH);
    if (n) {
        b->hold = 1;
        b->hold_at = num_pages(b);
    }
    spin_unlock_irqrestore(&b->lock, fl);
    return n;
}

int virtio_balloon_probe(struct pci_dev *d, unsigned type)
{
    (void)type;
    if (the_balloon)
        return -EBUSY;
    struct vballoon *b = kzalloc(sizeof *b);
    if (!b)
        return -ENOMEM;
    b->lock = (struct spinlock)SPINLOCK_INIT("balloon");
    b->head = PFN_NONE;
    uint64_t page = palloc_alloc(0);
    int rc = page ? virtio_pci_init(&b->vdev, d, VIRTIO_ID_BALLOON) : -ENOMEM;
    if (!rc && !b->vdev.device_cfg)
        rc = -ENODEV;
    if (!rc)
        rc = virtio_negotiate(&b->vdev, F_STATS_VQ | F_DEFLATE_ON_OOM);
    if (!rc && !(b->vdev.features & F_STATS_VQ))
        rc = -ENODEV; /* a balloon without figures is of no use to lwjvm's host */
    if (!rc)
        rc = virtio_irq_setup(&b->vdev, 3, balloon_irq, b);
    if (!rc)
        rc = virtio_queue_setup(&b->vdev, &b->inflq, Q_INFLATE, 4, 0);
    if (!rc)
        rc = virtio_queue_setup(&b->vdev, &b->deflq, Q_DEFLATE, 4, 1);
    if (!rc)
        rc = virtio_queue_setup(&b->vdev, &b->statq, Q_STATS, 4, 2);
    if (!rc)
        rc = virtio_config_irq(&b->vdev);
    if (rc) {
        virtio_fail(&b->vdev);
        return rc; /* the structure stays: an interrupt handler may name it */
    }
    /* One page: the two frame-number buffers (1 KiB each) and the statistics. */
    uint8_t *mem = phys_to_virt(page);
    memset(mem, 0, PAGE_SIZE);
    b->infl_pfns = (uint32_t *)mem;
    b->defl_pfns = (uint32_t *)(mem + BATCH * sizeof(uint32_t));
    b->stats = (struct stat_pair *)(mem + 2 * BATCH * sizeof(uint32_t));
    uint64_t fl = spin_lock_irqsave(&b->lock);
    virtio_ready(&b->vdev);
    the_balloon = b;
    give_stats(b); /* the device's first figures (5.5.6.3: the driver supplies the first) */
    work(b);       /* a size the host asked for before the driver ran */
    spin_unlock_irqrestore(&b->lock, fl);
    if (b->vdev.features & F_DEFLATE_ON_OOM)
        palloc_set_reclaim(balloon_reclaim);
    return 0;
}
