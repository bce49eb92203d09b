/* Regression (issue 15, found reading the TLB shootdown timeout of fuzz seed 9101): mprotect,
 * madvise, mremap and munmap over a huge, sparsely touched area. The kernel walked such a range a
 * page at a time with its memory lock held and interrupts off: mprotect of a 32 TiB PROT_NONE
 * reservation kept one CPU busy for 411 s under TCG (madvise and munmap skipped 2 MiB at a time:
 * 0.6-0.9 s), long enough for another CPU's TLB shootdown to give up and panic. Now whole absent
 * page tables are skipped; the same calls take no time, and the few pages touched behave as on
 * Linux. */
#include <stdint.h>
#include <sys/mman.h>

#include "../check.h"

#define TIB (1ul << 40)
#define LEN (32 * TIB)

int main(void)
{
    char *p = mmap(NULL, LEN, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    REQUIRE(p != MAP_FAILED);
    char *spots[] = {p, p + LEN / 2 + 12345, p + LEN - 1};
    CHECK_OK("mprotect 32 TiB read-write", mprotect(p, LEN, PROT_READ | PROT_WRITE));
    for (int i = 0; i < 3; i++)
        *spots[i] = (char)(i + 1);
    CHECK_OK("mprotect 32 TiB read-only", mprotect(p, LEN, PROT_READ));
    CHECK("the pages touched keep their bytes", *spots[0] == 1 && *spots[1] == 2 && *spots[2] == 3);
    CHECK_OK("madvise(DONTNEED) 32 TiB", madvise(p, LEN, MADV_DONTNEED));
    CHECK("and they read back as zeros", *spots[0] == 0 && *spots[1] == 0 && *spots[2] == 0);

    CHECK_OK("mprotect read-write again", mprotect(p, LEN, PROT_READ | PROT_WRITE));
    *(p + TIB - 4096) = 7;
    char *q = mremap(p, TIB, 2 * TIB, MREMAP_MAYMOVE); /* the rest is in the way: it moves */
    CHECK("mremap moves 1 TiB of it, grown to 2", q != MAP_FAILED && q != p);
    if (q != MAP_FAILED) {
        CHECK("the page touched moved with it", *(q + TIB - 4096) == 7);
        CHECK("the growth reads as zeros", *(q + TIB) == 0 && *(q + 2 * TIB - 1) == 0);
        CHECK_OK("munmap the moved 2 TiB", munmap(q, 2 * TIB));
    }
    CHECK_OK("munmap the rest", munmap(p + TIB, LEN - TIB));
    return check_done();
}
