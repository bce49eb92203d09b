/* The program's address space: its virtual memory areas (what /proc/self/maps shows) in a sorted
 * list indexed by a balanced tree (mm/vma_tree.c), the brk heap and the mmap allocation cursor. */
#pragma once
#include <stdint.h>

#include "lib/spinlock.h"

struct inode;

#define VM_READ 1
#define VM_WRITE 2
#define VM_EXEC 4
#define VM_SHARED 8     /* MAP_SHARED: writes go to the object (only read-only ones so far) */
#define VM_GROWSDOWN 16 /* the main stack */

struct vma {
    uint64_t start, end; /* [start, end), page-aligned */
    uint32_t flags;      /* VM_* */
    struct inode *inode; /* backing file, or 0 for anonymous memory */
    uint64_t pgoff;      /* file page at `start` */
    const char *name;    /* "[heap]", "[stack]", ... for anonymous areas, or 0 */
    struct vma *next;    /* the area above, in address order (0: the last) */
    /* The index (mm/vma_tree.c): the area below, the tree's children, the subtree's height and
     * the largest free gap below any area of the subtree. */
    struct vma *prev, *left, *right;
    uint64_t max_gap;
    int height;
};

struct mm {
    /* Guards the areas, brk, mmap_base and the user half of the page table (entries and the
     * page references they hold). Taken by the page-fault handler and the memory syscalls; the
     * fault handler takes it inside any lock held while copying to or from the program, so
     * nothing under it touches program memory. Taken before filesystem locks (file pages). */
    struct spinlock lock;
    struct vma *vmas; /* sorted by address, non-overlapping: the first */
    struct vma *tree; /* the same areas, by address (mm/vma_tree.c) */
    unsigned nvmas;   /* how many: at most MAX_MAP_COUNT */
    uint64_t brk_start, brk;
    uint64_t mmap_base; /* top-down allocation starts below this */
    uint64_t stack_top;
};

/* Linux's vm.max_map_count: an mmap, or an mprotect or munmap that would split an area, past
 * it is ENOMEM; it bounds the kernel heap the areas take (PROT_NONE pages cost the program no
 * memory, so its own memory would not). */
#define MAX_MAP_COUNT 65530

extern struct mm *current_mm;

/* The area containing addr, or 0. */
struct vma *vma_find(struct mm *mm, uint64_t addr);
/* The first area ending above addr, or 0. */
struct vma *vma_find_after(struct mm *mm, uint64_t addr);
/* Inserts a new area over [start, end); any existing mappings there are removed first (their
 * pages freed). Returns the area, or 0 when memory is exhausted. */
struct vma *vma_map(struct mm *mm, uint64_t start, uint64_t end, uint32_t flags, struct inode *inode,
                    uint64_t pgoff, const char *name);
/* Removes every mapping in [start, end), splitting areas at the edges and freeing their pages.
 * Returns 0 or -ENOMEM. */
int vma_unmap(struct mm *mm, uint64_t start, uint64_t end);
/* Moves the end of area v to end: it grows into free space (the caller checked) or shrinks (the
 * pages past it already dropped). */
void vma_set_end(struct mm *mm, struct vma *v, uint64_t end);
/* Changes the protection of [start, end) to flags' VM_READ/WRITE/EXEC; -ENOMEM if any page of the
 * range is unmapped. */
int vma_protect(struct mm *mm, uint64_t start, uint64_t end, uint32_t prot);
/* Drops the pages of [start, end) from the page table (freeing frames no one else holds); the
 * areas stay, so the next touch faults in fresh pages. */
void vma_drop_pages(uint64_t start, uint64_t end);
/* Moves the page-table entries of [from, from+len) to [to, to+len) (frames move with them);
 * returns 0, or -ENOMEM (nothing moved) if a page table cannot be allocated. */
int vma_move_pages(uint64_t from, uint64_t to, uint64_t len);
/* Finds a free gap of len bytes, highest first below mm->mmap_base; returns 0 if none. */
uint64_t vma_find_gap(struct mm *mm, uint64_t len);
/* True if no area intersects [start, end). */
int vma_range_free(struct mm *mm, uint64_t start, uint64_t end);
