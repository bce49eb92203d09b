/* The ELF loader: PT_LOAD segments become file-backed areas (mapped from the root image on
 * demand), PT_INTERP loads the dynamic linker, and the initial stack is laid out as Linux does:
 * argc, argv, envp, auxv, then the strings, AT_RANDOM bytes and AT_EXECFN at the top. */
#include "loader/exec.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/regs.h"
#include "arch/x86_64/cpuinfo.h"
#include "core/cputime.h"
#include "core/random.h"
#include "errno.h"
#include "fs/vfs.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "loader/elf.h"
#include "loader/vdso.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "mm/vma.h"

#define STACK_TOP 0x00007ffffffff000ull
#define STACK_RESERVE (8ull << 20) /* RLIMIT_STACK: the stack area may grow to 8 MiB */
#define MMAP_BASE 0x00007ffff7fff000ull
#define ET_DYN_BASE 0x0000555555554000ull

static struct mm the_mm;
static char exe_path[PATH_MAX];
static char exe_real[PATH_MAX]; /* the program file's absolute path, symlinks resolved */

const char *exec_path(void) { return exe_path; }
const char *exec_real_path(void) { return exe_real[0] ? exe_real : exe_path; }

struct loaded {
    uint64_t bias, entry, phdr, phnum;
    uint64_t end; /* highest mapped address */
    char interp[256];
};

static uint32_t seg_flags(uint32_t pf)
{
    return ((pf & PF_R) ? VM_READ : 0) | ((pf & PF_W) ? VM_WRITE : 0) | ((pf & PF_X) ? VM_EXEC : 0);
}

static int map_segment(struct inode *ino, const struct elf64_phdr *p, uint64_t bias)
{
    uint64_t start = (p->vaddr + bias) & ~(PAGE_SIZE - 1);
    uint64_t file_end = p->vaddr + bias + p->filesz;
    uint64_t mem_end = (p->vaddr + bias + p->memsz + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint64_t file_map_end = (file_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint32_t flags = seg_flags(p->flags);
    if (p->filesz) {
        if (!vma_map(current_mm, start, file_map_end, flags, ino, p->offset >> PAGE_SHIFT, 0))
            return -ENOMEM;
        if (p->memsz > p->filesz && (file_end & (PAGE_SIZE - 1))) {
            /* The bss begins inside the last file page: zero the rest of that page. */
            struct vma *v = vma_find(current_mm, file_end);
            v->flags |= VM_WRITE;
            long rc = clear_user((void *)file_end, file_map_end - file_end);
            if (!(flags & VM_WRITE))
                vma_protect(current_mm, v->start, v->end, flags);
            if (rc)
                return -ENOMEM;
        }
    } else {
        file_map_end = start;
    }
    if (mem_end > file_map_end && !vma_map(current_mm, file_map_end, mem_end, flags, 0, 0, 0))
        return -ENOMEM;
    return 0;
}

static int load_elf(const char *path, int is_interp, struct loaded *out)
{
    struct inode *ino;
    int rc = vfs_lookup(0, path, 1, &ino);
    if (rc)
        return rc;
    rc = -EACCES;
    if ((ino->mode & S_IFMT) != S_IFREG)
        goto out;
    if (!is_interp && ino->path && strlen(ino->path) < sizeof exe_real)
        memcpy(exe_real, ino->path, strlen(ino->path) + 1);
    struct elf64_ehdr eh;
    rc = -ENOEXEC;
    if (inode_read(ino, 0, &eh, sizeof eh) != sizeof eh || elf_check_header(&eh, ino->size))
        goto out;
    struct elf64_phdr *ph = kmalloc(sizeof(struct elf64_phdr) * eh.phnum);
    rc = -ENOMEM;
    if (!ph)
        goto out;
    uint64_t phsize = sizeof(struct elf64_phdr) * eh.phnum, lo, hi;
    rc = -ENOEXEC;
    if (inode_read(ino, eh.phoff, ph, phsize) != (int64_t)phsize ||
        elf_check_phdrs(ph, eh.phnum, ino->size, &lo, &hi))
        goto out_ph;
    uint64_t bias = 0;
    if (eh.type == ET_DYN) {
        if (is_interp) {
            uint64_t at = vma_find_gap(current_mm, hi - lo);
            rc = -ENOMEM;
            if (!at)
                goto out_ph;
            bias = at - lo;
        } else {
            bias = ET_DYN_BASE - lo;
        }
    }
    out->bias = bias;
    out->entry = eh.entry + bias;
    out->phnum = eh.phnum;
    out->phdr = 0;
    out->end = hi + bias;
    out->interp[0] = 0;
    for (unsigned i = 0; i < eh.phnum; i++) {
        if (ph[i].type == PT_INTERP && !is_interp) {
            uint64_t n = ph[i].filesz < sizeof out->interp ? ph[i].filesz : sizeof out->interp - 1;
            if (inode_read(ino, ph[i].offset, out->interp, n) != (int64_t)n)
                goto out_ph;
            out->interp[n] = 0;
        }
        if (ph[i].type == PT_PHDR)
            out->phdr = ph[i].vaddr + bias;
        if (ph[i].type == PT_LOAD && ph[i].offset == 0 && !out->phdr)
            out->phdr = ph[i].vaddr + eh.phoff + bias;
    }
    for (unsigned i = 0; i < eh.phnum; i++) {
        if (ph[i].type != PT_LOAD)
            continue;
        rc = map_segment(ino, &ph[i], bias);
        if (rc)
            goto out_ph;
    }
    /* Text file busy from now on, as Linux's open_exec makes the program and its interpreter: a
     * write would change the code under the program (a truncation: SIGBUS on its next fetch). */
    __atomic_store_n(&ino->deny_write, 1, __ATOMIC_RELEASE);
    inode_get(ino); /* kept for the VM's life, so the mark stays with the file */
    rc = 0;
out_ph:
    kfree(ph);
out:
    inode_put(ino);
    return rc;
}

/* Pushes bytes onto the new stack (growing down); returns their user address. */
static uint64_t push_bytes(uint64_t *sp, const void *data, uint64_t len)
{
    *sp -= len;
    if (copy_to_user((void *)*sp, data, len))
        return 0;
    return *sp;
}

static int count(char *const v[])
{
    int n = 0;
    while (v[n])
        n++;
    return n;
}

static int build_stack(const struct loaded *prog, const struct loaded *interp, uint64_t vdso,
                       const char *path, char *const argv[], char *const envp[], uint64_t *sp_out)
{
    uint64_t sp = STACK_TOP;
    int argc = count(argv), envc = count(envp);
    sp -= 8; /* Linux leaves a null word at the very top */
    uint64_t execfn = push_bytes(&sp, path, strlen(path) + 1);
    uint64_t *envp_u = kmalloc(sizeof(uint64_t) * (size_t)(envc + 1));
    uint64_t *argv_u = kmalloc(sizeof(uint64_t) * (size_t)(argc + 1));
    if (!envp_u || !argv_u || !execfn)
        goto fail;
    for (int i = envc - 1; i >= 0; i--)
        if (!(envp_u[i] = push_bytes(&sp, envp[i], strlen(envp[i]) + 1)))
            goto fail;
    for (int i = argc - 1; i >= 0; i--)
        if (!(argv_u[i] = push_bytes(&sp, argv[i], strlen(argv[i]) + 1)))
            goto fail;
    sp &= ~15ull;
    uint64_t platform = push_bytes(&sp, "x86_64", 7);
    uint8_t rnd[16];
    random_bytes(rnd, sizeof rnd);
    uint64_t random = push_bytes(&sp, rnd, sizeof rnd);
    sp &= ~15ull;

    uint32_t c[4];
    cpuid(1, 0, c);
    uint64_t aux[][2] = {
        {AT_SYSINFO_EHDR, vdso},
        {AT_HWCAP, c[3]},
        {AT_PAGESZ, PAGE_SIZE},
        {AT_CLKTCK, 100},
        {AT_PHDR, prog->phdr},
        {AT_PHENT, sizeof(struct elf64_phdr)},
        {AT_PHNUM, prog->phnum},
        {AT_BASE, interp ? interp->bias : 0},
        {AT_FLAGS, 0},
        {AT_ENTRY, prog->entry},
        {AT_UID, 0},
        {AT_EUID, 0},
        {AT_GID, 0},
        {AT_EGID, 0},
        {AT_SECURE, 0},
        {AT_RANDOM, random},
        {AT_HWCAP2, cpu_features.fsgsbase ? 2 : 0},
        {AT_EXECFN, execfn},
        {AT_PLATFORM, platform},
        {AT_NULL, 0},
    };
    uint64_t words = 1 + (uint64_t)argc + 1 + (uint64_t)envc + 1 + 2 * (sizeof aux / sizeof aux[0]);
    sp -= words * 8;
    sp &= ~15ull;
    uint64_t p = sp, v = (uint64_t)argc;
    int ok = !copy_to_user((void *)p, &v, 8);
    p += 8;
    argv_u[argc] = 0;
    envp_u[envc] = 0;
    ok = ok && !copy_to_user((void *)p, argv_u, 8 * (uint64_t)(argc + 1));
    p += 8 * (uint64_t)(argc + 1);
    ok = ok && !copy_to_user((void *)p, envp_u, 8 * (uint64_t)(envc + 1));
    p += 8 * (uint64_t)(envc + 1);
    ok = ok && !copy_to_user((void *)p, aux, sizeof aux);
    kfree(envp_u);
    kfree(argv_u);
    if (!ok || !platform || !random)
        return -ENOMEM;
    *sp_out = sp;
    return 0;
fail:
    kfree(envp_u);
    kfree(argv_u);
    return -E2BIG;
}

int exec_load(const char *path, char *const argv[], char *const envp[], struct regs *frame)
{
    memset(&the_mm, 0, sizeof the_mm);
    the_mm.lock = (struct spinlock)SPINLOCK_INIT("mm");
    the_mm.mmap_base = MMAP_BASE;
    the_mm.stack_top = STACK_TOP;
    current_mm = &the_mm;
    if (strlen(path) >= sizeof exe_path)
        return -ENAMETOOLONG;
    memcpy(exe_path, path, strlen(path) + 1);

    if (!vma_map(current_mm, STACK_TOP - STACK_RESERVE, STACK_TOP, VM_READ | VM_WRITE | VM_GROWSDOWN,
                 0, 0, "[stack]"))
        return -ENOMEM;
    /* The vDSO goes right below the stack area (and a guard page), so the interpreter lands
     * just below it, as on Linux. */
    uint64_t vdso = vdso_map(current_mm, STACK_TOP - STACK_RESERVE - PAGE_SIZE);
    if (!vdso)
        return -ENOMEM;
    struct loaded prog, interp;
    int rc = load_elf(path, 0, &prog);
    if (rc)
        return rc;
    if (prog.interp[0]) {
        rc = load_elf(prog.interp, 1, &interp);
        if (rc)
            return rc == -ENOENT ? -ENOENT : rc;
    }
    the_mm.brk_start = the_mm.brk = prog.end;
    uint64_t sp;
    rc = build_stack(&prog, prog.interp[0] ? &interp : 0, vdso, path, argv, envp, &sp);
    if (rc)
        return rc;
    memset(frame, 0, sizeof *frame);
    cputime_start();
    frame->rip = prog.interp[0] ? interp.entry : prog.entry;
    frame->rsp = sp;
    frame->cs = SEL_UCODE;
    frame->ss = SEL_UDATA;
    frame->rflags = 0x202;
    return 0;
}
