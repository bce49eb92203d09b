/* Virtual memory areas of the program (see mm/vma.h) and the page-table work of unmapping and
 * re-protecting them. */
#include "mm/vma.h"
#include "arch/x86_64/paging.h"
#include "errno.h"
#include "fs/vfs.h"
#include "mm/kheap.h"
#include "mm/fault.h"
#include "mm/palloc.h"

struct mm *current_mm;

struct vma *vma_find(struct mm *mm, uint64_t addr)
{
    for (struct vma *v = mm->vmas; v && v->start <= addr; v = v->next)
        if (addr < v->end)
            return v;
    return 0;
}

struct vma *vma_find_after(struct mm *mm, uint64_t addr)
{
    for (struct vma *v = mm->vmas; v; v = v->next)
        if (v->end > addr)
            return v;
    return 0;
}

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
    for (uint64_t va = start; va < end; va += PAGE_SIZE) {
        uint64_t *pte = pte_lookup(va, 0);
        if (!pte) {
            /* skip to the next 2 MiB table boundary when the whole table is absent */
            uint64_t next = (va | 0x1fffff) + 1;
            va = (next < end ? next : end) - PAGE_SIZE;
            continue;
        }
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
    v->end = at;
    v->next = n;
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
    struct vma **pp = &mm->vmas;
    while (*pp) {
        struct vma *v = *pp;
        if (v->start >= start && v->end <= end) {
            *pp = v->next;
            vma_drop_pages(v->start, v->end);
            vma_free(mm, v);
            continue;
        }
        pp = &v->next;
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
    *n = (struct vma){start, end, flags, inode, pgoff, name, 0};
    if (inode)
        inode_get(inode);
    struct vma **pp = &mm->vmas;
    while (*pp && (*pp)->start < start)
        pp = &(*pp)->next;
    n->next = *pp;
    *pp = n;
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
    v->end = n->end;
    v->next = n->next;
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
        for (uint64_t va = v->start; va < v->end; va += PAGE_SIZE) {
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
    /* The areas changed and their neighbours, joined where they now match. */
    struct vma *prev = 0;
    for (struct vma *v = mm->vmas; v && v->end < start; v = v->next)
        prev = v;
    for (struct vma *v = prev ? prev : mm->vmas; v && v->start <= end;) {
        struct vma *n = v->next;
        merge_next(mm, v);
        if (v->next == n)
            v = n; /* not joined: go on; joined: try v with its new next */
    }
    return 0;
}

int vma_move_pages(uint64_t from, uint64_t to, uint64_t len)
{
    /* First make every destination table exist, so the move itself cannot fail half-way. */
    for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
        uint64_t *src = pte_lookup(from + off, 0);
        if (src && (*src & PTE_P) && !pte_lookup(to + off, 1))
            return -ENOMEM;
    }
    for (uint64_t off = 0; off < len; off += PAGE_SIZE) {
        uint64_t *src = pte_lookup(from + off, 0);
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
    /* Walk areas from the top: collect candidate gaps below mmap_base. */
    uint64_t top = mm->mmap_base;
    for (;;) {
        if (top < len + PAGE_SIZE * 16)
            return 0;
        uint64_t start = top - len;
        struct vma *v = vma_find_after(mm, start);
        if (!v || v->start >= top)
            return start;
        top = v->start; /* the gap must end below this area */
    }
}
