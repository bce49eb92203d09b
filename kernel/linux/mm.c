/* Memory syscalls: brk, mmap (anonymous and file-backed, private and read-only shared), munmap,
 * mprotect and madvise (hints taken, DONTNEED, POPULATE), over the areas of mm/vma.c. Pages are
 * allocated on first touch. Each runs under the address space's lock (mm->lock). */
#include "arch/x86_64/paging.h"
#include "errno.h"
#include "fs/vfs.h"
#include "linux/syscall.h"
#include "linux_abi.h"
#include "mm/fault.h"
#include "mm/palloc.h"
#include "mm/vma.h"

#define PAGE_ALIGN(x) (((x) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1))
#define MADV_DONTNEED 4
#define MADV_FREE 8
#define MADV_REMOVE 9
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#define MADV_DONTNEED_LOCKED 24

static long brk_locked(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    (void)a1, (void)a2, (void)a3, (void)a4;
    struct mm *mm = current_mm;
    uint64_t want = a0;
    /* Above the user half (PAGE_ALIGN would also wrap -1 to 0 and unmap the program): refused. */
    if (want < mm->brk_start || want > USER_TOP)
        return (long)mm->brk;
    uint64_t old_end = PAGE_ALIGN(mm->brk), new_end = PAGE_ALIGN(want);
    if (new_end > old_end) {
        if (!vma_range_free(mm, old_end, new_end))
            return (long)mm->brk;
        struct vma *v = old_end > mm->brk_start ? vma_find(mm, old_end - 1) : 0;
        if (v && v->end == old_end && !v->inode && v->name) {
            vma_set_end(mm, v, new_end); /* grow [heap] in place */
        } else if (!vma_map(mm, old_end, new_end, VM_READ | VM_WRITE, 0, 0, "[heap]")) {
            return (long)mm->brk;
        }
    } else if (new_end < old_end) {
        vma_unmap(mm, new_end, old_end);
    }
    mm->brk = want;
    return (long)want;
}

static uint32_t prot_flags(uint64_t prot)
{
    return ((prot & PROT_READ) ? VM_READ : 0) | ((prot & PROT_WRITE) ? VM_WRITE : 0) |
           ((prot & PROT_EXEC) ? VM_EXEC : 0);
}

static long mmap_locked(uint64_t addr, uint64_t len, uint64_t prot, uint64_t flags, int fd,
                        uint64_t off)
{
    struct mm *mm = current_mm;
    if (!len || (off & (PAGE_SIZE - 1)) || (addr & (PAGE_SIZE - 1) && (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE))))
        return -EINVAL;
    uint64_t type = flags & MAP_TYPE;
    if (type != MAP_PRIVATE && type != MAP_SHARED && type != MAP_SHARED_VALIDATE)
        return -EINVAL;
    if (prot & ~7ull)
        return -EINVAL;
    len = PAGE_ALIGN(len);
    if (!len || len > USER_TOP)
        return -ENOMEM;
    struct inode *ino = 0;
    if (!(flags & MAP_ANONYMOUS)) {
        struct file *f = fd_get(fd);
        if (!f)
            return -EBADF;
        if ((f->inode->mode & S_IFMT) != S_IFREG)
            return -ENODEV;
        if ((f->flags & O_ACCMODE) == O_WRONLY)
            return -EACCES;
        /* A shared writable mapping writes to the file: it needs a descriptor open for reading
         * and writing, on a filesystem whose pages can be shared (tmpfs; the root is read-only). */
        if (type != MAP_PRIVATE && (prot & PROT_WRITE) &&
            ((f->flags & O_ACCMODE) != O_RDWR || !f->inode->ops->page_share))
            return -EACCES;
        ino = f->inode;
    }
    uint64_t start;
    if (flags & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
        start = addr;
        if (start + len > USER_TOP || start + len < start)
            return -ENOMEM;
        if ((flags & MAP_FIXED_NOREPLACE) && !(flags & MAP_FIXED) && !vma_range_free(mm, start, start + len))
            return -EEXIST;
    } else {
        start = 0;
        if (addr && addr + len <= USER_TOP && addr + len > addr) {
            uint64_t hint = addr & ~(PAGE_SIZE - 1);
            if (vma_range_free(mm, hint, hint + len))
                start = hint;
        }
        if (!start)
            start = vma_find_gap(mm, len);
        if (!start)
            return -ENOMEM;
    }
    uint32_t vf = prot_flags(prot) | (type != MAP_PRIVATE ? VM_SHARED : 0);
    if (!vma_map(mm, start, start + len, vf, ino, off >> PAGE_SHIFT, 0))
        return -ENOMEM;
    return (long)start;
}

SYS(mmap)
{
    UNUSED_ARGS();
    uint64_t len = a1, prot = a2, flags = a3;
    uint64_t fl = spin_lock_irqsave(&current_mm->lock);
    long rc = mmap_locked(a0, a1, a2, a3, (int)a4, a5);
    spin_unlock_irqrestore(&current_mm->lock, fl);
    if (rc < 0 || !(flags & MAP_POPULATE))
        return rc;
    uint64_t start = (uint64_t)rc, type = flags & MAP_TYPE;
    len = PAGE_ALIGN(len);
    mm_populate(start, start + len, (prot & PROT_WRITE) && type == MAP_PRIVATE);
    return (long)start;
}

static long munmap_locked(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    (void)a1, (void)a2, (void)a3, (void)a4;
    if ((a0 & (PAGE_SIZE - 1)) || !a1)
        return -EINVAL;
    uint64_t end = a0 + PAGE_ALIGN(a1);
    if (end > USER_TOP || end < a0)
        return -EINVAL;
    return vma_unmap(current_mm, a0, end);
}

static long mprotect_locked(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    (void)a1, (void)a2, (void)a3, (void)a4;
    if (a0 & (PAGE_SIZE - 1))
        return -EINVAL;
    if (a2 & ~(uint64_t)(PROT_READ | PROT_WRITE | PROT_EXEC | 0x01000000 /* PROT_GROWSDOWN */))
        return -EINVAL;
    uint64_t end = a0 + PAGE_ALIGN(a1);
    if (end < a0 || end > USER_TOP)
        return -ENOMEM;
    if (end == a0)
        return 0;
    return vma_protect(current_mm, a0, end, prot_flags(a2));
}

enum advice { ADV_HINT, ADV_DROP, ADV_FREE, ADV_REMOVE, ADV_POPULATE_READ, ADV_POPULATE_WRITE,
              ADV_UNKNOWN };

/* What madvise's advice (Linux 6.1's values) asks of this kernel. */
static enum advice advice_kind(uint64_t advice)
{
    switch (advice) {
    case 0: case 1: case 2: case 3: /* NORMAL, RANDOM, SEQUENTIAL, WILLNEED: read-ahead hints */
    case 10: case 11: case 18: case 19: /* (DONT|DO)FORK, WIPE/KEEPONFORK: there is no fork */
    case 12: case 13: case 14: case 15: case 25: /* (UN)MERGEABLE, (NO)HUGEPAGE, COLLAPSE */
    case 16: case 17: /* DONTDUMP, DODUMP: there are no core dumps */
    case 20: case 21: /* COLD, PAGEOUT: there is no reclaim to hint */
        return ADV_HINT;
    case MADV_DONTNEED: case MADV_DONTNEED_LOCKED: /* (nothing is locked) */
        return ADV_DROP;
    case MADV_FREE:
        return ADV_FREE;
    case MADV_REMOVE:
        return ADV_REMOVE;
    case MADV_POPULATE_READ:
        return ADV_POPULATE_READ;
    case MADV_POPULATE_WRITE:
        return ADV_POPULATE_WRITE;
    default: /* unknown, and HWPOISON and SOFT_OFFLINE: no memory-failure support, as Linux
              * built without it */
        return ADV_UNKNOWN;
    }
}

/* madvise under mm->lock; for MADV_POPULATE_*, 1 once the range is checked: the caller then
 * faults it in without the lock. As Linux: an area without the access asked for, or of the wrong
 * kind, is -EINVAL; a hole in the range -ENOMEM (a hint is still taken where there are areas). */
static long madvise_locked(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    (void)a3, (void)a4;
    enum advice kind = advice_kind(a2);
    if ((a0 & (PAGE_SIZE - 1)) || kind == ADV_UNKNOWN)
        return -EINVAL;
    uint64_t end = a0 + PAGE_ALIGN(a1);
    if (end < a0 || PAGE_ALIGN(a1) < a1)
        return -EINVAL;
    long hole = 0;
    for (uint64_t a = a0; a < end;) {
        struct vma *v = vma_find(current_mm, a);
        if (!v || v->start > a) {
            hole = -ENOMEM;
            if (!(v = vma_find_after(current_mm, a)) || v->start >= end)
                break;
        }
        if (kind == ADV_FREE && v->inode)
            return -EINVAL; /* anonymous memory only */
        if (kind == ADV_REMOVE)
            return !v->inode ? -EINVAL : !((v->flags & VM_SHARED) && (v->flags & VM_WRITE))
                ? -EACCES : -EOPNOTSUPP; /* no file system here punches holes through a map */
        if (kind == ADV_POPULATE_READ && !(v->flags & VM_READ))
            return -EINVAL;
        if (kind == ADV_POPULATE_WRITE && !(v->flags & VM_WRITE))
            return -EINVAL;
        a = v->end;
    }
    if (hole || end == a0)
        return hole;
    if (kind == ADV_POPULATE_READ || kind == ADV_POPULATE_WRITE)
        return 1;
    /* DONTNEED drops the pages: anonymous memory reads back as zeros, file pages are read again.
     * FREE may keep them as they are, and does. */
    if (kind == ADV_DROP)
        vma_drop_pages(a0, end);
    return 0;
}

#define MREMAP_MAYMOVE 1
#define MREMAP_FIXED 2
#define MREMAP_DONTUNMAP 4

static long mremap_locked(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    (void)a1, (void)a2, (void)a3, (void)a4;
    uint64_t old = a0, old_len = PAGE_ALIGN(a1), new_len = PAGE_ALIGN(a2), flags = a3, want = a4;
    struct mm *mm = current_mm;
    if ((old & (PAGE_SIZE - 1)) || (flags & ~7ull) || !new_len)
        return -EINVAL;
    if ((flags & MREMAP_FIXED) && !(flags & MREMAP_MAYMOVE))
        return -EINVAL;
    if (flags & MREMAP_DONTUNMAP)
        return -EINVAL; /* not supported: no program we run needs it */
    if ((flags & MREMAP_FIXED) && (want & (PAGE_SIZE - 1)))
        return -EINVAL;
    struct vma *v = vma_find(mm, old);
    if (!v || old + old_len > v->end || old + old_len < old)
        return -EFAULT;
    if (!(flags & MREMAP_FIXED)) {
        if (new_len <= old_len) {
            if (new_len < old_len)
                vma_unmap(mm, old + new_len, old + old_len);
            return (long)old;
        }
        /* Grow in place when the area ends here and the space after it is free. */
        if (v->end == old + old_len && old + new_len <= USER_TOP &&
            vma_range_free(mm, v->end, old + new_len)) {
            vma_set_end(mm, v, old + new_len);
            return (long)old;
        }
        if (!(flags & MREMAP_MAYMOVE))
            return -ENOMEM;
    }
    uint64_t to = (flags & MREMAP_FIXED) ? want : vma_find_gap(mm, new_len);
    if (!to || to + new_len > USER_TOP || to + new_len < to)
        return -ENOMEM;
    if (to < old + old_len && old < to + new_len)
        return -EINVAL; /* the ranges overlap */
    uint64_t pgoff = v->pgoff + ((old - v->start) >> PAGE_SHIFT);
    if (!vma_map(mm, to, to + new_len, v->flags, v->inode, pgoff, v->name))
        return -ENOMEM;
    if (vma_move_pages(old, to, old_len < new_len ? old_len : new_len)) {
        vma_unmap(mm, to, to + new_len);
        return -ENOMEM;
    }
    vma_unmap(mm, old, old + old_len);
    return (long)to;
}

#define MS_ASYNC 1
#define MS_INVALIDATE 2
#define MS_SYNC 4

/* Shared mappings map the file's own pages (tmpfs), the read-only image, or the pages a
 * filesystem with storage keeps for them (the volume): msync checks its arguments and that the
 * range is mapped, and with MS_SYNC has each such file written back and made durable (its fsync)
 * after the lock is dropped (SYS(msync) below). MS_ASYNC: the volume commits within seconds. */
static long msync_locked(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    (void)a1, (void)a2, (void)a3, (void)a4;
    if ((a0 & (PAGE_SIZE - 1)) || (a2 & ~7ull) || ((a2 & MS_ASYNC) && (a2 & MS_SYNC)))
        return -EINVAL;
    uint64_t end = a0 + PAGE_ALIGN(a1);
    if (end < a0)
        return -ENOMEM;
    for (uint64_t a = a0; a < end;) {
        struct vma *v = vma_find(current_mm, a);
        if (!v)
            return -ENOMEM;
        a = v->end;
    }
    return 0;
}

#define LOCKED(name)                                                                               \
    SYS(name)                                                                                      \
    {                                                                                              \
        (void)a5;                                                                                  \
        uint64_t fl = spin_lock_irqsave(&current_mm->lock);                                        \
        long rc = name##_locked(a0, a1, a2, a3, a4);                                               \
        spin_unlock_irqrestore(&current_mm->lock, fl);                                             \
        return rc;                                                                                 \
    }
LOCKED(brk)
LOCKED(munmap)
LOCKED(mprotect)

SYS(madvise)
{
    (void)a5;
    uint64_t fl = spin_lock_irqsave(&current_mm->lock);
    long rc = madvise_locked(a0, a1, a2, a3, a4);
    spin_unlock_irqrestore(&current_mm->lock, fl);
    if (rc != 1)
        return rc;
    /* MADV_POPULATE_READ/WRITE: as if each page were touched (a write breaks copy-on-write). */
    rc = mm_populate(a0, a0 + PAGE_ALIGN(a1), a2 == MADV_POPULATE_WRITE);
    return rc == 0 ? 0 : rc == -ENOMEM ? -ENOMEM : -EFAULT; /* EFAULT: SIGBUS or SIGSEGV */
}
LOCKED(mremap)

SYS(msync)
{
    (void)a5;
    struct inode *files[8]; /* the distinct files with storage mapped shared in the range */
    int n = 0;
    uint64_t fl = spin_lock_irqsave(&current_mm->lock);
    long rc = msync_locked(a0, a1, a2, a3, a4);
    uint64_t end = a0 + PAGE_ALIGN(a1);
    for (uint64_t a = a0; rc == 0 && (a2 & MS_SYNC) && a < end;) {
        struct vma *v = vma_find(current_mm, a);
        if (!v)
            break;
        a = v->end;
        if (!v->inode || !(v->flags & VM_SHARED) || !v->inode->ops->fsync)
            continue;
        int seen = 0;
        for (int i = 0; i < n; i++)
            seen |= files[i] == v->inode;
        if (!seen && n < 8) {
            inode_get(v->inode);
            files[n++] = v->inode;
        }
    }
    spin_unlock_irqrestore(&current_mm->lock, fl);
    for (int i = 0; i < n; i++) {
        long r = files[i]->ops->fsync(files[i]);
        if (rc == 0 && r)
            rc = r;
        inode_put(files[i]);
    }
    return rc;
}
