/* Memory syscalls: brk, mmap (anonymous and file-backed, private and read-only shared), munmap,
 * mprotect and madvise, over the areas of mm/vma.c. Pages are allocated on first touch. */
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

SYS(brk)
{
    UNUSED_ARGS();
    struct mm *mm = current_mm;
    uint64_t want = a0;
    if (want < mm->brk_start)
        return (long)mm->brk;
    uint64_t old_end = PAGE_ALIGN(mm->brk), new_end = PAGE_ALIGN(want);
    if (new_end > old_end) {
        if (!vma_range_free(mm, old_end, new_end))
            return (long)mm->brk;
        struct vma *v = old_end > mm->brk_start ? vma_find(mm, old_end - 1) : 0;
        if (v && v->end == old_end && !v->inode && v->name) {
            v->end = new_end; /* grow [heap] in place */
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

SYS(mmap)
{
    UNUSED_ARGS();
    uint64_t addr = a0, len = a1, prot = a2, flags = a3, off = a5;
    int fd = (int)a4;
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
        if (!f->inode || (f->inode->mode & S_IFMT) != S_IFREG)
            return -ENODEV;
        if ((f->flags & O_ACCMODE) == O_WRONLY)
            return -EACCES;
        if (type != MAP_PRIVATE && (prot & PROT_WRITE))
            return -EACCES; /* the root filesystem is read-only */
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
    if (flags & MAP_POPULATE)
        mm_populate(start, start + len, (prot & PROT_WRITE) && type == MAP_PRIVATE);
    return (long)start;
}

SYS(munmap)
{
    UNUSED_ARGS();
    if ((a0 & (PAGE_SIZE - 1)) || !a1)
        return -EINVAL;
    uint64_t end = a0 + PAGE_ALIGN(a1);
    if (end > USER_TOP || end < a0)
        return -EINVAL;
    return vma_unmap(current_mm, a0, end);
}

SYS(mprotect)
{
    UNUSED_ARGS();
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

SYS(madvise)
{
    UNUSED_ARGS();
    if (a0 & (PAGE_SIZE - 1))
        return -EINVAL;
    uint64_t end = a0 + PAGE_ALIGN(a1);
    if (end < a0)
        return -EINVAL;
    if (a2 != MADV_DONTNEED)
        return 0; /* advice only */
    /* Drop the pages: anonymous memory reads back as zeros, file pages are read again. */
    for (uint64_t a = a0; a < end;) {
        struct vma *v = vma_find(current_mm, a);
        if (!v)
            return -ENOMEM;
        a = v->end;
    }
    vma_drop_pages(a0, end);
    return 0;
}
