/* The JVM's way with memory: reserve a large range (PROT_NONE, MAP_NORESERVE) that costs nothing,
 * commit pieces of it (mprotect, or mmap MAP_FIXED), touch them, release them again (mmap over
 * them with PROT_NONE, or madvise DONTNEED) and commit them again, reading zeros. Committing and
 * releasing 16 MiB sixteen times touches more memory than a small guest has, so released memory
 * must really be given back. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../check.h"
#include "../probe.h"

#define GiB (1UL << 30)
#define MiB (1UL << 20)
#define PG 4096UL
#define RESERVE (32 * GiB)

/* Writes one word in every page of [p, p+len); returns how many pages were zero before. */
static size_t touch(char *p, size_t len, uint64_t tag)
{
    size_t zero = 0;
    for (size_t off = 0; off < len; off += PG) {
        uint64_t *w = (uint64_t *)(p + off);
        zero += *w == 0;
        *w = tag ^ off;
    }
    return zero;
}

static size_t count_tagged(const char *p, size_t len, uint64_t tag)
{
    size_t n = 0;
    for (size_t off = 0; off < len; off += PG)
        n += *(const uint64_t *)(p + off) == (tag ^ off);
    return n;
}

int main(void)
{
    probe_init();
    const int RW = PROT_READ | PROT_WRITE;
    char *r = mmap(NULL, RESERVE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK("reserve 32 GiB", r != MAP_FAILED);
    REQUIRE(r != MAP_FAILED);
    CHECK_EQ("the reservation is not accessible", probe_read(r + 5 * GiB), SIGSEGV);
    CHECK_EQ("with SEGV_ACCERR", probe_last.code, SEGV_ACCERR);

    /* Commit with mprotect, in pieces far apart. */
    size_t offs[] = {0, 3 * GiB, 17 * GiB, RESERVE - 8 * MiB};
    for (int i = 0; i < 4; i++) {
        char *p = r + offs[i];
        char name[64];
        snprintf(name, sizeof name, "commit 8 MiB at piece %d (mprotect)", i);
        CHECK_OK(name, mprotect(p, 8 * MiB, RW));
        snprintf(name, sizeof name, "piece %d reads zero first", i);
        CHECK_EQ(name, touch(p, 8 * MiB, 0x1000 + i), 8 * MiB / PG);
    }
    int intact = 0;
    for (int i = 0; i < 4; i++)
        intact += count_tagged(r + offs[i], 8 * MiB, 0x1000 + i) == 8 * MiB / PG;
    CHECK_EQ("all four pieces hold their data", intact, 4);
    CHECK_EQ("memory just past a piece is still reserved only", probe_read(r + 3 * GiB + 8 * MiB),
             SIGSEGV);

    /* Release by mapping PROT_NONE over it (how the JVM uncommits), then commit with MAP_FIXED. */
    char *p = r + 3 * GiB;
    CHECK("uncommit with mmap PROT_NONE MAP_FIXED",
          mmap(p, 8 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1,
               0) == p);
    CHECK_EQ("uncommitted memory faults", probe_read(p), SIGSEGV);
    CHECK("recommit with mmap MAP_FIXED",
          mmap(p, 8 * MiB, RW, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) == p);
    CHECK_EQ("recommitted memory reads zero", touch(p, 8 * MiB, 7), 8 * MiB / PG);

    /* Churn: commit, touch, release 16 MiB sixteen times (256 MiB touched in all). */
    char *q = r + 9 * GiB;
    size_t zero_pages = 0, data_ok = 0;
    for (int round = 0; round < 16; round++) {
        mprotect(q, 16 * MiB, RW);
        zero_pages += touch(q, 16 * MiB, round);
        data_ok += count_tagged(q, 16 * MiB, round);
        if (round % 2)
            madvise(q, 16 * MiB, MADV_DONTNEED);
        else
            mmap(q, 16 * MiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
                 -1, 0);
        mprotect(q, 16 * MiB, PROT_NONE);
    }
    CHECK_EQ("churn: every commit read zero", zero_pages, 16 * (16 * MiB / PG));
    CHECK_EQ("churn: every commit held its data", data_ok, 16 * (16 * MiB / PG));

    /* A hint far from everything else is honoured (the JVM asks for its class space this way). */
    char *hint = (char *)(64 * GiB);
    char *at = mmap(hint, GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK("a 1 GiB reservation at a free 64 GiB hint lands there", at == hint);
    if (at != MAP_FAILED)
        munmap(at, GiB);

    /* Give it all back; a second big reservation then works as well. */
    CHECK_OK("munmap the reservation", munmap(r, RESERVE));
    CHECK_EQ("released memory faults", probe_read(r), SIGSEGV);
    char *r2 = mmap(NULL, 64 * GiB, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK("reserve 64 GiB", r2 != MAP_FAILED);
    if (r2 != MAP_FAILED) {
        CHECK_OK("commit its last page", mprotect(r2 + 64 * GiB - PG, PG, RW));
        r2[64 * GiB - 1] = 1;
        CHECK_EQ("the last byte of 64 GiB is writable", r2[64 * GiB - 1], 1);
        munmap(r2, 64 * GiB);
    }
    return check_done();
}
