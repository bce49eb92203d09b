/* The kernel heap: power-of-two size classes from 16 bytes to 2 KiB carved from single-page slabs,
 * larger blocks straight from the page allocator. The page metadata says which is which, so kfree
 * needs no header. */
#include "mm/kheap.h"
#include "arch/x86_64/layout.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/palloc.h"
#include <stdint.h>

#define NCLASSES 8 /* 16 .. 2048 */

struct free_obj {
    struct free_obj *next;
};
/* Guards the free lists of the size classes. Taken before the page allocator's lock. */
static struct spinlock kheap_lock = SPINLOCK_INIT("kheap");
static struct free_obj *free_list[NCLASSES];
/* Bytes handed out and not freed (size classes count their whole class, large blocks their
 * pages): /proc/meminfo's Slab, and the leak tests' measure. Atomic: large blocks skip the lock. */
static uint64_t in_use;

uint64_t kheap_in_use(void) { return __atomic_load_n(&in_use, __ATOMIC_RELAXED); }

static unsigned size_class(size_t size)
{
    unsigned c = 0;
    while ((16u << c) < size)
        c++;
    return c;
}

static void *phys_to_virt(uint64_t phys) { return (void *)(phys + DIRECT_MAP_BASE); }
static uint64_t virt_to_phys(const void *p) { return (uint64_t)p - DIRECT_MAP_BASE; }

void *kmalloc(size_t size)
{
    if (size == 0)
        size = 1;
    if (size > 2048) {
        unsigned order = 0;
        while ((PAGE_SIZE << order) < size)
            order++;
        uint64_t phys = palloc_alloc(order);
        if (!phys)
            return 0;
        palloc_page(phys)->flags |= PAGE_LARGE;
        __atomic_add_fetch(&in_use, PAGE_SIZE << order, __ATOMIC_RELAXED);
        return phys_to_virt(phys);
    }
    unsigned c = size_class(size);
    uint64_t fl = spin_lock_irqsave(&kheap_lock);
    if (!free_list[c]) {
        uint64_t phys = palloc_alloc(0);
        if (!phys) {
            spin_unlock_irqrestore(&kheap_lock, fl);
            return 0;
        }
        struct page *pg = palloc_page(phys);
        pg->flags |= PAGE_SLAB;
        pg->order = (uint8_t)c;
        char *base = phys_to_virt(phys);
        size_t objsz = 16u << c;
        for (size_t off = 0; off + objsz <= PAGE_SIZE; off += objsz) {
            struct free_obj *o = (struct free_obj *)(base + off);
            o->next = free_list[c];
            free_list[c] = o;
        }
    }
    struct free_obj *o = free_list[c];
    free_list[c] = o->next;
    __atomic_add_fetch(&in_use, 16u << c, __ATOMIC_RELAXED);
    spin_unlock_irqrestore(&kheap_lock, fl);
    return o;
}

void *kzalloc(size_t size)
{
    void *p = kmalloc(size);
    if (p)
        memset(p, 0, size);
    return p;
}

void kfree(void *p)
{
    if (!p)
        return;
    uint64_t phys = virt_to_phys(p);
    struct page *pg = palloc_page(phys & ~(PAGE_SIZE - 1));
    if (pg->flags & PAGE_LARGE) {
        unsigned order = pg->order;
        memset(p, 0x6b, PAGE_SIZE << order);
        pg->flags &= ~PAGE_LARGE;
        __atomic_sub_fetch(&in_use, PAGE_SIZE << order, __ATOMIC_RELAXED);
        palloc_free(phys, order);
        return;
    }
    unsigned c = pg->order;
    memset(p, 0x6b, 16u << c);
    struct free_obj *o = p;
    uint64_t fl = spin_lock_irqsave(&kheap_lock);
    o->next = free_list[c];
    free_list[c] = o;
    __atomic_sub_fetch(&in_use, 16u << c, __ATOMIC_RELAXED);
    spin_unlock_irqrestore(&kheap_lock, fl);
}
