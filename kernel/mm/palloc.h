/* Physical page allocator: a buddy allocator over the RAM ranges the boot memory map gives, with
 * per-page metadata (reference counts for shared pages). Host-testable: it never touches the pages
 * themselves, only its metadata array. An allocation that finds no free block may first ask a
 * reclaimer (the memory balloon, drivers/virtio_balloon.c) to give pages back. */
#pragma once
#include <stdint.h>

#define PAGE_SIZE 4096ull
#define PAGE_SHIFT 12
#define PALLOC_MAX_ORDER 10 /* 4 MiB blocks */

struct page {
    uint32_t next, prev; /* free-list links (page frame numbers), PFN_NONE at the ends; while the
                          * page is allocated, its owner's to use (the balloon chains its pages) */
    uint16_t refcount;   /* users of an allocated page */
    uint8_t order;       /* order of the block this page heads (free or allocated) */
    uint8_t flags;
};
#define PFN_NONE 0xffffffffu
#define PAGE_FREE 1     /* heads a free block */
#define PAGE_MANAGED 2  /* belongs to the allocator (else reserved: kernel, module, holes) */
#define PAGE_SLAB 4     /* heads a kernel-heap slab (order holds the size class) */
#define PAGE_LARGE 8    /* heads a large kernel-heap block */

/* Sets up the allocator for frames [0, npages) with `meta` (npages entries) as metadata; every
 * frame starts reserved. */
void palloc_init(struct page *meta, uint64_t npages);
/* Gives the frames in [start, end) (byte addresses, rounded inwards to pages) to the allocator. */
void palloc_add_range(uint64_t start, uint64_t end);
/* Allocates 2^order contiguous frames aligned to their size; returns the physical address, or 0
 * when no block is free even after the reclaimer (palloc_set_reclaim) gave back what it could.
 * The head page gets refcount 1. */
uint64_t palloc_alloc(unsigned order);
/* Like palloc_alloc, without asking the reclaimer: for callers with a fallback (a 2 MiB page
 * that 4 KiB pages can replace) and for the reclaimer itself. */
uint64_t palloc_try_alloc(unsigned order);
/* Sets the function palloc_alloc calls when no block is free: it frees pages it holds and returns
 * how many, 0 when it has none left to give. It is called with no allocator lock held; it may
 * take its own lock and then the allocator's (docs/kernel-locking.md). 0 removes it. */
void palloc_set_reclaim(uint64_t (*reclaim)(void));
/* Frees a block returned by palloc_alloc with the same order. */
void palloc_free(uint64_t phys, unsigned order);
/* The metadata of the frame holding phys, or 0 if out of range. */
struct page *palloc_page(uint64_t phys);
/* Takes and drops a reference on an allocated page (atomically: no lock); page_put returns the
 * count left, so its caller frees the page at 0. */
static inline void page_get(struct page *pg) { __atomic_add_fetch(&pg->refcount, 1, __ATOMIC_RELAXED); }
static inline unsigned page_put(struct page *pg)
{
    return __atomic_sub_fetch(&pg->refcount, 1, __ATOMIC_ACQ_REL);
}
static inline unsigned page_refs(const struct page *pg)
{
    return __atomic_load_n(&pg->refcount, __ATOMIC_ACQUIRE);
}
/* Free and total managed frames. */
uint64_t palloc_free_pages(void);
uint64_t palloc_total_pages(void);
