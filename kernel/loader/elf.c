/* Validation of ELF64 x86_64 executables before anything is mapped (see loader/elf.h). */
#include "loader/elf.h"
#include "errno.h"

#define EM_X86_64 62
#define PAGE 4096ull
#define USER_LIMIT 0x00007ffffffff000ull /* Linux's TASK_SIZE, layout.h's USER_TOP */

int elf_check_header(const struct elf64_ehdr *e, uint64_t file_size)
{
    if (file_size < sizeof *e)
        return -ENOEXEC;
    if (e->ident[0] != 0x7f || e->ident[1] != 'E' || e->ident[2] != 'L' || e->ident[3] != 'F')
        return -ENOEXEC;
    if (e->ident[4] != 2 || e->ident[5] != 1) /* ELFCLASS64, little-endian */
        return -ENOEXEC;
    if (e->machine != EM_X86_64 || (e->type != ET_EXEC && e->type != ET_DYN))
        return -ENOEXEC;
    if (e->phentsize != sizeof(struct elf64_phdr) || e->phnum == 0 || e->phnum > ELF_MAX_PHNUM)
        return -ENOEXEC;
    uint64_t end = e->phoff + (uint64_t)e->phnum * sizeof(struct elf64_phdr);
    if (end < e->phoff || end > file_size)
        return -ENOEXEC;
    return 0;
}

int elf_check_phdrs(const struct elf64_phdr *ph, unsigned phnum, uint64_t file_size, uint64_t *lo,
                    uint64_t *hi)
{
    uint64_t low = ~0ull, high = 0;
    int interps = 0;
    for (unsigned i = 0; i < phnum; i++) {
        const struct elf64_phdr *p = &ph[i];
        if (p->type == PT_INTERP) {
            if (++interps > 1 || p->filesz < 2 || p->filesz > 4096 ||
                p->offset + p->filesz > file_size || p->offset + p->filesz < p->offset)
                return -ENOEXEC;
        }
        if (p->type != PT_LOAD)
            continue;
        if (p->filesz > p->memsz || (p->offset % PAGE) != (p->vaddr % PAGE))
            return -ENOEXEC;
        if (p->offset + p->filesz < p->offset || p->offset + p->filesz > file_size)
            return -ENOEXEC;
        uint64_t end = p->vaddr + p->memsz;
        if (end < p->vaddr || end > USER_LIMIT)
            return -ENOEXEC;
        if (p->vaddr / PAGE * PAGE < low)
            low = p->vaddr / PAGE * PAGE;
        if ((end + PAGE - 1) / PAGE * PAGE > high)
            high = (end + PAGE - 1) / PAGE * PAGE;
    }
    if (high == 0)
        return -ENOEXEC;
    *lo = low;
    *hi = high;
    return 0;
}
