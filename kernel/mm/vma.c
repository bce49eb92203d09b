/* Virtual memory areas of the program (see mm/vma.h) and the page-table work of unmapping and
 * re-protecting them. The areas are found through their index (mm/vma_tree.c); everything here
 * runs under mm->lock. */
#include "mm/vma.h"
#include "arch/x86_64/paging.h"
#include "errno.h"
#include "fs/vfs.h"
#include "mm/kheap.h"
#include "mm/fault.h"
#include "mm/palloc.h"
#include "mm/vma_tree.h"

struct mm *current_mm;

struct vma *vma_find(struct mm *mm, uint64_t addr)
{
    struct vma *v = vma_tree_first_after(mm, addr);
    return v && v->start <= addr ? v : 0;
}

struct vma *vma_find_after(struct mm *mm, uint64_t addr) { return vma_tree_first_after(mm, addr); }

void vma_set_end(struct mm *mm, struct vma *v, uint64_t end) { vma_tree_set_end(mm, v, end); }

int vma_range_free(struct mm *mm, uint64_t start, uint64_t end)
{
    struct vma *v = vma_find_after(mm, start);
    return !v || v->start >= end;
}

/* Frees the frames of dropped entries once no CPU can reach them (tlb_shootdown first). */
struct drop_batch {
    int n;
    uint64_t phys[32];
};

static void drop_flush(struct drop_batch *b)
{
    tlb_shootdown();
    for (int i = 0; i < b->n; i++)
        if (page_put(palloc_page(b->phys[i])) == 0)
            palloc_free(b->phys[i], 0);
    b->n = 0;
}

void vma_drop_pages(uint64_t start, uint64_t end)
{
    struct drop_batch b = {0, {0}};
    for (uint64_t va = pt_next_mapped(start, end); va < end; va = pt_next_mapped(va + PAGE_SIZE, end)) {
        uint64_t *pte = pte_lookup(va, 0);
        if (!pte)
            continue; /* a 2 MiB page that could not be split (no memory): left mapped */
        uint64_t e = *pte;
        if (!(e & PTE_P))
            continue;
        *pte = 0;
        tlb_flush_page(va);
        if (e & PTE_OWNED) {
            b.phys[b.n++] = e & PTE_ADDR;
            if (b.n == 32)
                drop_flush(&b);
        }
    }
    drop_flush(&b);
}

static struct vma *vma_clone_at(struct mm *mm, struct vma *v, uint64_t at)
{
    if (mm->nvmas >= MAX_MAP_COUNT)
        return 0;
    struct vma *n = kmalloc(sizeof *n);
    if (!n)
        return 0;
    mm->nvmas++;
    *n = *v;
    n->start = at;
    if (v->inode) {
        n->pgoff = v->pgoff + ((at - v->start) >> PAGE_SHIFT);
        inode_get(v->inode);
    }
    v->end = at; /* the gap after v is n's, 0: set as n is linked */
    vma_tree_link(mm, n, v);
    return n;
}

/* Splits areas so that start and end fall on area boundaries. */
static int split_at(struct mm *mm, uint64_t addr)
{
    struct vma *v = vma_find(mm, addr);
    if (!v || v->start == addr)
        return 0;
    return vma_clone_at(mm, v, addr) ? 0 : -ENOMEM;
}

static void vma_free(struct mm *mm, struct vma *v)
{
    if (v->inode)
        inode_put(v->inode);
    kfree(v);
    mm->nvmas--;
}

int vma_unmap(struct mm *mm, uint64_t start, uint64_t end)
{
    if (split_at(mm, start) || split_at(mm, end))
        return -ENOMEM;
    /* The areas now lie wholly inside [start, end) or outside it. */
    for (struct vma *v = vma_find_after(mm, start), *next; v && v->start < end; v = next) {
        next = v->next;
        vma_tree_unlink(mm, v);
        vma_drop_pages(v->start, v->end);
        vma_free(mm, v);
    }
    return 0;
}

struct vma *vma_map(struct mm *mm, uint64_t start, uint64_t end, uint32_t flags, struct inode *inode,
                    uint64_t pgoff, const char *name)
{
    if (vma_unmap(mm, start, end))
        return 0;
    if (mm->nvmas >= MAX_MAP_COUNT)
        return 0;
    struct vma *n = kmalloc(sizeof *n);
    if (!n)
        return 0;
    mm->nvmas++;
    *n = (struct vma){.start = start, .end = end, .flags = flags, .inode = inode, .pgoff = pgoff,
                      .name = name};
    if (inode)
        inode_get(inode);
    struct vma *after = vma_find_after(mm, start); /* [start, end) is free: after starts past it */
    vma_tree_link(mm, n, after ? after->prev : vma_tree_last(mm));
    return n;
}

/* Joins v and the area after it when nothing tells them apart (as Linux's vma_merge), so that
 * mprotect calls that undo each other leave no more areas than before. */
static void merge_next(struct mm *mm, struct vma *v)
{
    struct vma *n = v->next;
    if (!n || v->end != n->start || v->flags != n->flags || v->inode != n->inode ||
        v->name != n->name || (v->inode && n->pgoff != v->pgoff + ((v->end - v->start) >> PAGE_SHIFT)))
        return;
    uint64_t end = n->end;
    vma_tree_unlink(mm, n);
    vma_tree_set_end(mm, v, end);
    vma_free(mm, n);
}

int vma_protect(struct mm *mm, uint64_t start, uint64_t end, uint32_t prot)
{
    for (uint64_t a = start; a < end;) {
        struct vma *v = vma_find(mm, a);
        if (!v)
            return -ENOMEM;
        a = v->end;
    }
    if (split_at(mm, start) || split_at(mm, end))
        return -ENOMEM;
    for (struct vma *v = vma_find(mm, start); v && v->start < end; v = v->next) {
        v->flags = (v->flags & ~(VM_READ | VM_WRITE | VM_EXEC)) | prot;
        /* Present pages take the new rights now; writes stay trapped (copy-on-write) where the
         * page is not exclusively ours. */
        for (uint64_t va = pt_next_mapped(v->start, v->end); va < v->end;
             va = pt_next_mapped(va + PAGE_SIZE, v->end)) {
            uint64_t *pte = pte_lookup(va, 0);
            if (!pte || !(*pte & PTE_P))
                continue;
            uint64_t e = (*pte & ~(PTE_W | PTE_NX)) | PTE_U;
            if (!prot)
                e &= ~PTE_U; /* PROT_NONE: keep the frame, trap every access from the program */
            if (!(prot & VM_EXEC))
                e |= PTE_NX;
            if ((prot & VM_WRITE) && (e & PTE_OWNED) &&
                ((v->flags & VM_SHARED) || page_refs(palloc_page(e & PTE_ADDR)) == 1))
                e |= PTE_W;
            if ((e & PTE_W) && mm_wx_exclusive(v->flags))
                e |= PTE_NX; /* writable first; executing it splits it back (mm/fault.h) */
            *pte = e;
            tlb_flush_page(va);
        }
    }
    tlb_shootdown();
    /* The areas changed and their neighbours, joined where they now match: from the area before
     * the first one ending at or past start. */
    struct vma *first = start ? vma_find_after(mm, start - 1) : mm->vmas;
    for (struct vma *v = first && first->prev ? first->prev : first; v && v->start <= end;) {
        struct vma *n = v->next;
        merge_next(mm, v);
        if (v->next == n)
            v = n; /* not joined: go on; joined: try v with its new next */
    }
    return 0;
}

int vma_move_pages(uint64_t from, uint64_t to, uint64_t len)
{
    /* First make every destination table exist, so the move itself cannot fail half-way. Only
     * the source's mapped tables are walked (pt_next_mapped): a huge, mostly empty area moves in
     * the time its pages take. */
    uint64_t end = from + len;
    for (uint64_t va = pt_next_mapped(from, end); va < end; va = pt_next_mapped(va + PAGE_SIZE, end)) {
        uint64_t *src = pte_lookup(va, 0);
        if (src && (*src & PTE_P) && !pte_lookup(to + (va - from), 1))
            return -ENOMEM;
    }
    for (uint64_t va = pt_next_mapped(from, end); va < end; va = pt_next_mapped(va + PAGE_SIZE, end)) {
        uint64_t off = va - from;
        uint64_t *src = pte_lookup(va, 0);
        if (!src || !(*src & PTE_P))
            continue;
        *pte_lookup(to + off, 0) = *src;
        *src = 0;
        tlb_flush_page(from + off);
        tlb_flush_page(to + off);
    }
    tlb_shootdown();
    return 0;
}

uint64_t vma_find_gap(struct mm *mm, uint64_t len)
{
    /* Right below mmap_base if that is free; else in the highest gap of len bytes below the
     * first area in the way (every gap between it and mmap_base is shorter). The lowest 16
     * pages are never handed out. */
    uint64_t top = mm->mmap_base;
    if (top < len + PAGE_SIZE * 16)
        return 0;
    struct vma *v = vma_find_after(mm, top - len);
    if (!v || v->start >= top)
        return top - len;
    v = vma_tree_gap_below(mm, v->start, len);
    if (!v || v->start < len + PAGE_SIZE * 16)
        return 0;
    return v->start - len;
}
