/* The buddy allocator for physical pages (see mm/palloc.h). Free blocks of each order sit on a
 * doubly linked list threaded through the metadata array; freeing merges with the buddy while the
 * buddy is a free block of the same order. */
#include "mm/palloc.h"
#include "lib/spinlock.h"

/* Guards the free lists, the counters and the order/flags/links of free blocks. A page's
 * refcount is not under it: its users change it atomically (page_ref/page_unref). Taken last:
 * nothing is locked inside it. */
static struct spinlock palloc_lock = SPINLOCK_INIT("palloc");
static struct page *pages;
static uint64_t npages_total, managed, nfree;
static uint32_t free_head[PALLOC_MAX_ORDER + 1];
/* Set once at boot by the balloon driver, read without the lock (an atomic pointer). */
static uint64_t (*reclaimer)(void);

void palloc_init(struct page *meta, uint64_t npages)
{
    pages = meta;
    npages_total = npages;
    managed = nfree = 0;
    for (uint64_t i = 0; i < npages; i++)
        pages[i] = (struct page){PFN_NONE, PFN_NONE, 0, 0, 0};
    for (int o = 0; o <= PALLOC_MAX_ORDER; o++)
        free_head[o] = PFN_NONE;
}

static void list_push(unsigned order, uint32_t pfn)
{
    struct page *p = &pages[pfn];
    p->prev = PFN_NONE;
    p->next = free_head[order];
    if (p->next != PFN_NONE)
        pages[p->next].prev = pfn;
    free_head[order] = pfn;
    p->order = (uint8_t)order;
    p->flags |= PAGE_FREE;
}

static void list_remove(unsigned order, uint32_t pfn)
{
    struct page *p = &pages[pfn];
    if (p->prev != PFN_NONE)
        pages[p->prev].next = p->next;
    else
        free_head[order] = p->next;
    if (p->next != PFN_NONE)
        pages[p->next].prev = p->prev;
    p->flags &= ~PAGE_FREE;
    p->next = p->prev = PFN_NONE;
}

static void free_block(uint64_t pfn, unsigned order)
{
    while (order < PALLOC_MAX_ORDER) {
        uint64_t buddy = pfn ^ (1ull << order);
        if (buddy + (1ull << order) > npages_total)
            break;
        struct page *b = &pages[buddy];
        if (!(b->flags & PAGE_FREE) || b->order != order)
            break;
        list_remove(order, (uint32_t)buddy);
        pfn &= ~(1ull << order);
        order++;
    }
    list_push(order, (uint32_t)pfn);
}

void palloc_add_range(uint64_t start, uint64_t end)
{
    uint64_t fl = spin_lock_irqsave(&palloc_lock);
    uint64_t first = (start + PAGE_SIZE - 1) >> PAGE_SHIFT, last = end >> PAGE_SHIFT;
    if (last > npages_total)
        last = npages_total;
    for (uint64_t pfn = first; pfn < last; pfn++) {
        if (pages[pfn].flags & PAGE_MANAGED)
            continue;
        pages[pfn].flags = PAGE_MANAGED;
        managed++;
        nfree++;
        free_block(pfn, 0);
    }
    spin_unlock_irqrestore(&palloc_lock, fl);
}

uint64_t palloc_try_alloc(unsigned order)
{
    if (order > PALLOC_MAX_ORDER)
        return 0;
    uint64_t fl = spin_lock_irqsave(&palloc_lock);
    unsigned o = order;
    while (o <= PALLOC_MAX_ORDER && free_head[o] == PFN_NONE)
        o++;
    if (o > PALLOC_MAX_ORDER) {
        spin_unlock_irqrestore(&palloc_lock, fl);
        return 0;
    }
    uint32_t pfn = free_head[o];
    list_remove(o, pfn);
    while (o > order) { /* split, keeping the lower half */
        o--;
        list_push(o, pfn + (1u << o));
    }
    pages[pfn].order = (uint8_t)order;
    pages[pfn].refcount = 1;
    nfree -= 1ull << order;
    spin_unlock_irqrestore(&palloc_lock, fl);
    return (uint64_t)pfn << PAGE_SHIFT;
}

uint64_t palloc_alloc(unsigned order)
{
    for (;;) {
        uint64_t phys = palloc_try_alloc(order);
        if (phys || order > PALLOC_MAX_ORDER)
            return phys;
        uint64_t (*reclaim)(void) = __atomic_load_n(&reclaimer, __ATOMIC_ACQUIRE);
        if (!reclaim || !reclaim())
            return 0;
    }
}

void palloc_set_reclaim(uint64_t (*reclaim)(void))
{
    __atomic_store_n(&reclaimer, reclaim, __ATOMIC_RELEASE);
}

void palloc_free(uint64_t phys, unsigned order)
{
    uint64_t pfn = phys >> PAGE_SHIFT;
    uint64_t fl = spin_lock_irqsave(&palloc_lock);
    pages[pfn].refcount = 0;
    pages[pfn].flags &= PAGE_MANAGED;
    nfree += 1ull << order;
    free_block(pfn, order);
    spin_unlock_irqrestore(&palloc_lock, fl);
}

struct page *palloc_page(uint64_t phys)
{
    uint64_t pfn = phys >> PAGE_SHIFT;
    return pfn < npages_total ? &pages[pfn] : 0;
}

uint64_t palloc_free_pages(void) { return __atomic_load_n(&nfree, __ATOMIC_RELAXED); }
uint64_t palloc_total_pages(void) { return managed; }
