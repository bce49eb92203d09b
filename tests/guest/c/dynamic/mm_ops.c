/* Anonymous memory management with Linux semantics: MAP_FIXED and MAP_FIXED_NOREPLACE, hints,
 * partial munmap, mprotect, mremap (grow, shrink, move), madvise(MADV_DONTNEED) reading back zeros,
 * code written then executed (as a JIT does), and the error codes of each call. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../check.h"
#include "../probe.h"

#define PG 4096UL

#ifndef MAP_FIXED_NOREPLACE
#define MAP_FIXED_NOREPLACE 0x100000
#endif

static char *map(void *addr, size_t len, int prot, int flags)
{
    return mmap(addr, len, prot, flags | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* Fills page i of [p, p+n*PG) with the byte seed+i. */
static void fill(char *p, int n, int seed)
{
    for (int i = 0; i < n; i++)
        memset(p + i * PG, seed + i, PG);
}

/* Returns how many of the n pages at p still hold the fill() pattern (first and last byte). */
static int holds(const char *p, int n, int seed)
{
    int good = 0;
    for (int i = 0; i < n; i++)
        good += p[i * PG] == (char)(seed + i) && p[i * PG + PG - 1] == (char)(seed + i);
    return good;
}

static int is_zero(const char *p, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if (p[i])
            return 0;
    return 1;
}

int main(void)
{
    probe_init();
    const int RW = PROT_READ | PROT_WRITE;

    /* MAP_FIXED replaces what was there with fresh zero pages. */
    char *a = map(NULL, 4 * PG, RW, 0);
    REQUIRE(a != MAP_FAILED);
    fill(a, 4, 10);
    CHECK("MAP_FIXED over a mapping returns the address", map(a + PG, PG, RW, MAP_FIXED) == a + PG);
    CHECK("the replaced page reads zero", is_zero(a + PG, PG));
    CHECK_EQ("the pages around it keep their data", holds(a, 1, 10) + holds(a + 2 * PG, 2, 12), 3);

    /* MAP_FIXED_NOREPLACE: EEXIST over a mapping, the exact address in a hole. */
    CHECK_ERRNO("MAP_FIXED_NOREPLACE over a mapping is EEXIST",
                map(a + PG, PG, RW, MAP_FIXED_NOREPLACE), EEXIST);
    CHECK_ERRNO("MAP_FIXED_NOREPLACE overlapping the end is EEXIST",
                map(a + 3 * PG, 2 * PG, RW, MAP_FIXED_NOREPLACE), EEXIST);
    CHECK_OK("munmap one page", munmap(a + 2 * PG, PG));
    CHECK("MAP_FIXED_NOREPLACE in the hole returns that address",
          map(a + 2 * PG, PG, RW, MAP_FIXED_NOREPLACE) == a + 2 * PG);

    /* A hint at a free address is honoured. */
    char *b = map(NULL, 8 * PG, RW, 0);
    REQUIRE(b != MAP_FAILED);
    munmap(b, 8 * PG);
    CHECK("a free hint address is used", map(b + 2 * PG, PG, RW, 0) == b + 2 * PG);
    munmap(b + 2 * PG, PG);

    /* munmap of the middle page of three. */
    char *c = map(NULL, 3 * PG, RW, 0);
    REQUIRE(c != MAP_FAILED);
    fill(c, 3, 20);
    CHECK_OK("munmap the middle page", munmap(c + PG, PG));
    CHECK_EQ("the outer pages keep their data", holds(c, 1, 20) + holds(c + 2 * PG, 1, 22), 2);
    CHECK_EQ("the middle page faults", probe_read(c + PG + 5), SIGSEGV);
    CHECK_EQ("with SEGV_MAPERR", probe_last.code, SEGV_MAPERR);
    CHECK("at the address touched", probe_last.addr == c + PG + 5);
    CHECK_OK("munmap of an already unmapped range is fine", munmap(c + PG, PG));
    CHECK_OK("munmap across a hole", munmap(c, 3 * PG));
    CHECK_EQ("all three pages are gone", !!probe_read(c) + !!probe_read(c + 2 * PG), 2);

    /* mprotect. */
    char *d = map(NULL, 2 * PG, RW, 0);
    REQUIRE(d != MAP_FAILED);
    fill(d, 2, 30);
    CHECK_OK("mprotect read-only", mprotect(d, PG, PROT_READ));
    CHECK_EQ("read-only: reads work", probe_read(d), 0);
    CHECK_EQ("read-only: writes fault", probe_write(d, 1), SIGSEGV);
    CHECK_EQ("with SEGV_ACCERR", probe_last.code, SEGV_ACCERR);
    CHECK_EQ("the other page is still writable", probe_write(d + PG, 31), 0);
    CHECK_OK("mprotect PROT_NONE", mprotect(d, PG, PROT_NONE));
    CHECK_EQ("PROT_NONE: reads fault", probe_read(d), SIGSEGV);
    CHECK_OK("mprotect back to read-write", mprotect(d, 2 * PG, RW));
    CHECK_EQ("the data survived the protection changes", holds(d, 2, 30), 2);
    CHECK_ERRNO("mprotect of an unaligned address is EINVAL", mprotect(d + 1, PG, PROT_READ),
                EINVAL);
    CHECK_OK("mprotect across two mappings with different protections",
             mprotect(d, 2 * PG, PROT_READ));
    CHECK_EQ("both pages are now read-only",
             !!probe_write(d, 1) + !!probe_write(d + PG, 1), 2);
    mprotect(d, 2 * PG, RW);
    char *h = map(NULL, 3 * PG, RW, 0);
    REQUIRE(h != MAP_FAILED);
    munmap(h + PG, PG);
    CHECK_ERRNO("mprotect across a hole is ENOMEM", mprotect(h, 3 * PG, PROT_READ), ENOMEM);
    munmap(h, 3 * PG);
    munmap(d, 2 * PG);
    CHECK_ERRNO("mprotect of an unmapped range is ENOMEM", mprotect(d, PG, PROT_READ), ENOMEM);

    /* mremap. */
    char *e = map(NULL, 4 * PG, RW, 0);
    REQUIRE(e != MAP_FAILED);
    fill(e, 4, 40);
    char *e2 = mremap(e, 4 * PG, 64 * PG, MREMAP_MAYMOVE);
    CHECK("mremap grow", e2 != MAP_FAILED);
    CHECK_EQ("grown: the old pages keep their data", holds(e2, 4, 40), 4);
    CHECK("grown: the new pages read zero", is_zero(e2 + 4 * PG, 60 * PG));
    CHECK("mremap shrink stays in place", mremap(e2, 64 * PG, 2 * PG, 0) == e2);
    CHECK_EQ("shrunk: the cut pages are gone", probe_read(e2 + 2 * PG), SIGSEGV);
    char *blocker = map(e2 + 2 * PG, PG, RW, MAP_FIXED_NOREPLACE);
    CHECK("a page after it blocks growth in place", blocker == e2 + 2 * PG);
    CHECK_ERRNO("mremap grow without MAYMOVE when blocked is ENOMEM",
                mremap(e2, 2 * PG, 4 * PG, 0), ENOMEM);
    char *dest = map(NULL, 16 * PG, PROT_NONE, 0);
    REQUIRE(dest != MAP_FAILED);
    char *moved = mremap(e2, 2 * PG, 2 * PG, MREMAP_MAYMOVE | MREMAP_FIXED, dest + 4 * PG);
    CHECK("mremap MREMAP_FIXED moves to the given address", moved == dest + 4 * PG);
    CHECK_EQ("moved: the data came along", holds(moved, 2, 40), 2);
    CHECK_EQ("moved: the old address is gone", probe_read(e2), SIGSEGV);
    CHECK_ERRNO("mremap of an unmapped address is EFAULT", mremap(e2, PG, 2 * PG, MREMAP_MAYMOVE),
                EFAULT);
    munmap(dest, 16 * PG);
    munmap(blocker, PG);

    /* madvise(MADV_DONTNEED) on private anonymous memory: the page reads back as zero. */
    char *f = map(NULL, 3 * PG, RW, 0);
    REQUIRE(f != MAP_FAILED);
    fill(f, 3, 50);
    CHECK_OK("madvise DONTNEED", madvise(f + PG, PG, MADV_DONTNEED));
    CHECK("the page reads zero", is_zero(f + PG, PG));
    CHECK_EQ("its neighbours keep their data", holds(f, 1, 50) + holds(f + 2 * PG, 1, 52), 2);
    CHECK_OK("madvise WILLNEED", madvise(f, 3 * PG, MADV_WILLNEED));
    CHECK_OK("madvise NORMAL", madvise(f, 3 * PG, MADV_NORMAL));
    CHECK_ERRNO("madvise of an unaligned address is EINVAL", madvise(f + 1, PG, MADV_DONTNEED),
                EINVAL);
    munmap(f, 3 * PG);

    /* Code written into memory and run, as a JIT does: W then X, and RWX. */
    static const unsigned char ret42[] = {0xb8, 42, 0, 0, 0, 0xc3}; /* mov eax, 42; ret */
    char *code = map(NULL, PG, RW, 0);
    REQUIRE(code != MAP_FAILED);
    memcpy(code, ret42, sizeof ret42);
    CHECK_OK("mprotect code read+exec", mprotect(code, PG, PROT_READ | PROT_EXEC));
    CHECK_EQ("generated code runs", ((int (*)(void))(void *)code)(), 42);
    char *rwx = map(NULL, PG, RW | PROT_EXEC, 0);
    REQUIRE(rwx != MAP_FAILED);
    memcpy(rwx, ret42, sizeof ret42);
    rwx[1] = 43;
    CHECK_EQ("code in an RWX mapping runs", ((int (*)(void))(void *)rwx)(), 43);
    rwx[1] = 44; /* patched in place, as the JIT patches call sites */
    CHECK_EQ("patched code runs the new version", ((int (*)(void))(void *)rwx)(), 44);

    /* mmap and munmap errors. */
    CHECK_ERRNO("mmap of length 0 is EINVAL", map(NULL, 0, RW, 0), EINVAL);
    CHECK_ERRNO("mmap without PRIVATE or SHARED is EINVAL",
                mmap(NULL, PG, RW, MAP_ANONYMOUS, -1, 0), EINVAL);
    CHECK_ERRNO("MAP_FIXED at an unaligned address is EINVAL",
                map((char *)code + 1, PG, RW, MAP_FIXED), EINVAL);
    CHECK_ERRNO("mmap of a bad fd is EBADF", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, 999, 0),
                EBADF);
    CHECK_ERRNO("munmap of an unaligned address is EINVAL", munmap(code + 1, PG), EINVAL);
    CHECK_ERRNO("munmap of length 0 is EINVAL", munmap(code, 0), EINVAL);
    CHECK_ERRNO("mmap beyond the user address space is ENOMEM",
                map(NULL, (size_t)1 << 50, PROT_NONE, MAP_NORESERVE), ENOMEM);
    return check_done();
}
