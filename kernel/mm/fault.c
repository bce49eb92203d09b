/* The page-fault handler for program memory. Anonymous pages are allocated zeroed on first touch;
 * file pages of the root image are mapped straight from the image (it is in RAM, block = page)
 * and copied only when a private mapping is written; pages are refcounted so a copy-on-write
 * page held by one mapping is simply made writable. */
#include "mm/fault.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/cpuinfo.h"
#include "core/stats.h"
#include "errno.h"
#include "fs/vfs.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/palloc.h"
#include "mm/vma.h"

int mm_wx_split = -1;

int mm_wx_exclusive(uint32_t vm_flags)
{
    return mm_wx_split > 0 && (vm_flags & (VM_WRITE | VM_EXEC)) == (VM_WRITE | VM_EXEC);
}

static uint64_t pte_flags(const struct vma *v, int writable)
{
    uint64_t f = PTE_P | PTE_U;
    if (writable)
        f |= PTE_W;
    if (!(v->flags & VM_EXEC) || (writable && mm_wx_exclusive(v->flags)))
        f |= PTE_NX;
    if (!(v->flags & (VM_READ | VM_WRITE | VM_EXEC)))
        f &= ~PTE_U;
    return f;
}

/* A new zeroed frame, or 0. */
static uint64_t new_page(void)
{
    uint64_t phys = palloc_alloc(0);
    if (phys)
        memset(phys_to_virt(phys), 0, PAGE_SIZE);
    return phys;
}

/* Fills a fresh frame with the file page `index` of the area's inode (zeros past EOF). */
static int read_file_page(const struct vma *v, uint64_t index, uint64_t phys)
{
    int64_t n = inode_read(v->inode, index * PAGE_SIZE, phys_to_virt(phys), PAGE_SIZE);
    if (n < 0)
        return (int)n;
    /* The frame is not zeroed: the last page of a file would show what it held before. */
    memset((char *)phys_to_virt(phys) + n, 0, PAGE_SIZE - (uint64_t)n);
    return 0;
}

#define FAULT_AROUND_PAGES 16

/* After a read fault on a file page mapped straight from the image, maps the other image pages of
 * the same aligned 16-page window that are in the area and not present yet, read-only: a program
 * reading a file mapping sequentially then takes one fault per 64 KiB, not per 4 KiB. */
static void fault_around(struct vma *v, uint64_t page)
{
    uint64_t lo = page & ~(FAULT_AROUND_PAGES * PAGE_SIZE - 1);
    uint64_t hi = lo + FAULT_AROUND_PAGES * PAGE_SIZE;
    if (lo < v->start)
        lo = v->start;
    if (hi > v->end)
        hi = v->end;
    for (uint64_t va = lo; va < hi; va += PAGE_SIZE) {
        if (va == page)
            continue;
        uint64_t *pte = pte_lookup(va, 0);
        if (!pte || (*pte & PTE_P))
            continue;
        uint64_t index = v->pgoff + ((va - v->start) >> PAGE_SHIFT);
        if (index * PAGE_SIZE >= v->inode->size)
            break;
        const void *direct = inode_page_ptr(v->inode, index);
        if (!direct)
            continue;
        *pte = virt_to_phys(direct) | pte_flags(v, 0);
    }
}

/* A file page to read in with the lock dropped (inode_ops.page_fill), then fault again. */
struct fill {
    struct inode *inode; /* a reference, or 0 */
    uint64_t index;
};

static int fault_in(struct vma *v, uint64_t page, uint64_t *pte, int write, int fetch,
                    struct fill *need)
{
    if (!v->inode) {
        uint64_t phys = new_page();
        if (!phys)
            return -ENOMEM;
        kstats.zero_fills++;
        /* Split (mm_wx_split): a first fetch maps the page executable, anything else writable. */
        int w = (v->flags & VM_WRITE) && !(fetch && mm_wx_exclusive(v->flags));
        *pte = phys | PTE_OWNED | pte_flags(v, w);
        return 0;
    }
    uint64_t index = v->pgoff + ((page - v->start) >> PAGE_SHIFT);
    if (index * PAGE_SIZE >= v->inode->size)
        return -ERANGE; /* wholly past the end of the file: SIGBUS */
    if (v->inode->ops->page_fill) {
        uint64_t phys = v->inode->ops->page_share(v->inode, index);
        if (!phys) {
            inode_get(v->inode);
            need->inode = v->inode;
            need->index = index;
            return -EAGAIN;
        }
        /* Private: read-only until a write copies it (the cache holds the frame too). */
        int w = (v->flags & VM_WRITE) && (v->flags & VM_SHARED);
        *pte = phys | PTE_OWNED | pte_flags(v, w);
        return 0;
    }
    if ((v->flags & VM_SHARED) && v->inode->ops->page_share) {
        /* The file's own page (allocated if a hole), so writes through the mapping and write(2)
         * see each other; the mapping holds a reference on it. */
        uint64_t phys = v->inode->ops->page_share(v->inode, index);
        if (!phys)
            return -ENOMEM;
        *pte = phys | PTE_OWNED | pte_flags(v, v->flags & VM_WRITE);
        return 0;
    }
    if (!write || (v->flags & VM_SHARED)) {
        const void *direct = inode_page_ptr(v->inode, index);
        if (direct) {
            /* Map the image page itself, read-only; a write to a private mapping copies it. */
            *pte = virt_to_phys(direct) | pte_flags(v, 0);
            kstats.file_maps++;
            fault_around(v, page);
            return 0;
        }
    }
    uint64_t phys = palloc_alloc(0);
    if (!phys)
        return -ENOMEM;
    int rc = read_file_page(v, index, phys);
    if (rc) {
        palloc_free(phys, 0);
        return rc;
    }
    *pte = phys | PTE_OWNED | pte_flags(v, v->flags & VM_WRITE && !(v->flags & VM_SHARED));
    return 0;
}

/* A page of a split area (mm_wx_split) given write access: no longer executable, and written only
 * once no other CPU can still translate it from a stale TLB entry. */
static void split_to_write(uint64_t *pte, uint64_t page)
{
    *pte |= PTE_W | PTE_NX; /* one store: never writable and executable at once */
    kstats.wx_flips++;
    tlb_flush_page(page);
    tlb_shootdown();
}

/* A fetch from a present page of a split area mapped writable: read-only and executable, once no
 * other CPU can still write it through a stale TLB entry. */
static void split_to_exec(uint64_t *pte, uint64_t page)
{
    *pte &= ~(PTE_W | PTE_NX);
    kstats.wx_flips++;
    tlb_flush_page(page);
    tlb_shootdown();
}

/* A write to a present, read-only page of a writable private area: copy it (or take it over if we
 * are its only user). */
static int copy_on_write(struct vma *v, uint64_t *pte, uint64_t page)
{
    uint64_t e = *pte, old = e & PTE_ADDR;
    if (e & PTE_OWNED) {
        struct page *pg = palloc_page(old);
        if (page_refs(pg) == 1) {
            if (mm_wx_exclusive(v->flags))
                split_to_write(pte, page);
            else
                *pte = e | PTE_W;
            return 0;
        }
    }
    uint64_t phys = palloc_alloc(0);
    if (!phys)
        return -ENOMEM;
    memcpy(phys_to_virt(phys), phys_to_virt(old), PAGE_SIZE);
    kstats.cow_copies++;
    *pte = phys | PTE_OWNED | pte_flags(v, 1);
    /* Other CPUs may still translate to the old page: not one of them reads it after this. */
    tlb_flush_page(page);
    tlb_shootdown();
    if ((e & PTE_OWNED) && page_put(palloc_page(old)) == 0)
        palloc_free(old, 0); /* its other user let go meanwhile */
    return 0;
}

int mm_hugepages = -1; /* -1: decided at the first fault */

/* Maps the whole 2 MiB block around page with one zeroed 2 MiB page when the area covers it and
 * nothing in it is mapped yet (large anonymous areas: the Java heap). Returns 0 if it did. */
static int map_anon_huge(struct vma *v, uint64_t page)
{
    uint64_t base = page & ~(HUGE_PAGE_SIZE - 1);
    if (mm_hugepages < 0) {
        /* QEMU's TCG flushes its whole TLB on any invlpg inside a large page's range, which costs
         * more than the faults large pages save: there they stay off unless asked for. */
        mm_hugepages = cpu_features.hypervisor != HV_TCG;
    }
    if (!mm_hugepages || base < v->start || base + HUGE_PAGE_SIZE > v->end)
        return -1;
    uint64_t *pde = pde_lookup(base, 0);
    if (pde && *pde)
        return -1;
    uint64_t phys = palloc_try_alloc(HUGE_PAGE_ORDER);
    if (!phys)
        return -1; /* fragmented or short of memory: 4 KiB pages will do (they may deflate the
                    * balloon; a 2 MiB page is not worth that) */
    memset(phys_to_virt(phys), 0, HUGE_PAGE_SIZE);
    if (map_huge_page(base, phys, PTE_OWNED | pte_flags(v, v->flags & VM_WRITE))) {
        palloc_free(phys, HUGE_PAGE_ORDER);
        return -1;
    }
    kstats.huge_fills++;
    return 0;
}

static int fault_locked(struct mm *mm, uint64_t addr, uint64_t err, struct fill *need)
{
    struct vma *v = vma_find(mm, addr);
    if (!v)
        return -EFAULT;
    int write = (err & FAULT_WRITE) != 0;
    if (write && !(v->flags & VM_WRITE))
        return -EACCES;
    if ((err & FAULT_FETCH) && !(v->flags & VM_EXEC))
        return -EACCES;
    if (!(v->flags & (VM_READ | VM_WRITE | VM_EXEC)))
        return -EACCES;
    uint64_t page = addr & ~(PAGE_SIZE - 1);
    uint64_t now = pte_peek(page);
    int fetch = (err & FAULT_FETCH) != 0;
    if ((now & PTE_P) && (now & PTE_U) && (!write || (now & PTE_W)) &&
        (!fetch || !(now & PTE_NX))) {
        tlb_flush_local(page); /* already resolved: a stale TLB entry */
        return 0;
    }
    if (!(now & PTE_P) && !v->inode && map_anon_huge(v, page) == 0)
        return 0;
    uint64_t *pte = pte_lookup(page, 1);
    if (!pte)
        return -ENOMEM;
    int rc;
    if (!(*pte & PTE_P))
        rc = fault_in(v, page, pte, write, fetch, need);
    else if (fetch && (*pte & PTE_NX)) {
        split_to_exec(pte, page); /* only a split area has a present page it may not execute */
        rc = 0;
    } else if (write && !(*pte & PTE_W) && (v->flags & VM_SHARED)) {
        if (mm_wx_exclusive(v->flags)) /* a shared page is written in place, never copied */
            split_to_write(pte, page);
        else
            *pte |= PTE_W;
        rc = 0;
    } else if (write && !(*pte & PTE_W))
        rc = copy_on_write(v, pte, page);
    else
        rc = 0; /* already resolved (e.g. a stale TLB entry) */
    if (rc == 0 && write && !(*pte & PTE_W))
        rc = copy_on_write(v, pte, page);
    tlb_flush_local(page); /* a new or wider mapping: other CPUs fault and see it */
    return rc;
}

int mm_fault(uint64_t addr, uint64_t err)
{
    struct mm *mm = current_mm;
    if (!mm || addr >= USER_TOP)
        return -EFAULT;
    for (;;) {
        struct fill need = {0, 0};
        uint64_t fl = spin_lock_irqsave(&mm->lock);
        int rc = fault_locked(mm, addr, err, &need);
        spin_unlock_irqrestore(&mm->lock, fl);
        if (!need.inode)
            return rc;
        /* It may sleep, as a system call does: no lock is held here. */
        rc = need.inode->ops->page_fill(need.inode, need.index);
        inode_put(need.inode);
        if (rc)
            return rc == -ENOMEM ? rc : -ERANGE; /* the file cannot be read: SIGBUS */
    }
}

/* The end of the area holding va (0 if none), and whether it is anonymous memory. */
static uint64_t area_end(uint64_t va, int *anon)
{
    struct mm *mm = current_mm;
    uint64_t fl = spin_lock_irqsave(&mm->lock);
    struct vma *v = vma_find(mm, va);
    uint64_t end = v ? v->end : 0;
    *anon = v && !v->inode;
    spin_unlock_irqrestore(&mm->lock, fl);
    return end;
}

int mm_populate(uint64_t start, uint64_t end, int write)
{
    uint64_t looked = 0; /* for a read: below this, the area is one of a file, looked up once */
    for (uint64_t va = start & ~(PAGE_SIZE - 1); va < end; va += PAGE_SIZE) {
        /* Reading anonymous memory populates nothing: Linux maps its shared zero page there and
         * this kernel allocates at the first touch, so a read populate would only use up RAM (a
         * 43 TiB MAP_POPULATE|MAP_NORESERVE read-only map took all of it, fuzz seed 9512). */
        if (!write && va >= looked) {
            int anon;
            looked = area_end(va, &anon);
            if (anon) {
                va = looked - PAGE_SIZE;
                continue;
            }
        }
        uint64_t e = pte_peek(va);
        if ((e & PTE_P) && (!write || (e & PTE_W)))
            continue;
        int rc = mm_fault(va, write ? FAULT_WRITE : 0);
        if (rc)
            return rc;
        spinlock_poll(); /* a long populate must not keep another CPU's TLB shootdown waiting */
    }
    return 0;
}
