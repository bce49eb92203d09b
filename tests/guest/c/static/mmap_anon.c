/* A 64 MiB anonymous private mapping touched page by page: every page reads as zero first, then
 * holds the pattern written to it; prints a checksum of the pattern and unmaps. */
#include <stdint.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../check.h"

#define SIZE (64UL << 20)
#define PAGE 4096UL
#define WORDS_PER_PAGE (PAGE / sizeof(uint64_t))

static uint64_t pattern(size_t page, size_t word)
{
    return (page * 0x9e3779b97f4a7c15ULL) ^ (word * 0x2545f4914f6cdd1dULL) ^ 0x5a5a;
}

int main(void)
{
    CHECK_EQ("page size is 4096", sysconf(_SC_PAGESIZE), 4096);
    uint64_t *p = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    CHECK("mapping is page aligned", ((uintptr_t)p & (PAGE - 1)) == 0);

    size_t pages = SIZE / PAGE, nonzero = 0;
    /* First touch of each page is a read: demand-zero. Sample three words per page. */
    for (size_t i = 0; i < pages; i++) {
        uint64_t *pg = p + i * WORDS_PER_PAGE;
        nonzero += (pg[0] | pg[WORDS_PER_PAGE / 2] | pg[WORDS_PER_PAGE - 1]) != 0;
    }
    CHECK_EQ("fresh pages read as zero", nonzero, 0);

    /* Write: the first, middle and last word of every page, and every word of every 64th page. */
    for (size_t i = 0; i < pages; i++) {
        uint64_t *pg = p + i * WORDS_PER_PAGE;
        if (i % 64 == 0) {
            for (size_t w = 0; w < WORDS_PER_PAGE; w++)
                pg[w] = pattern(i, w);
        } else {
            pg[0] = pattern(i, 0);
            pg[WORDS_PER_PAGE / 2] = pattern(i, WORDS_PER_PAGE / 2);
            pg[WORDS_PER_PAGE - 1] = pattern(i, WORDS_PER_PAGE - 1);
        }
    }

    size_t bad = 0;
    uint64_t sum = 0;
    for (size_t i = 0; i < pages; i++) {
        uint64_t *pg = p + i * WORDS_PER_PAGE;
        for (size_t w = 0; w < WORDS_PER_PAGE; w++) {
            int written =
                i % 64 == 0 || w == 0 || w == WORDS_PER_PAGE / 2 || w == WORDS_PER_PAGE - 1;
            uint64_t want = written ? pattern(i, w) : 0;
            bad += pg[w] != want;
            sum = sum * 31 + pg[w];
        }
    }
    CHECK_EQ("every word reads back as written", bad, 0);
    printf("pages=%zu checksum=%016llx\n", pages, (unsigned long long)sum);

    CHECK_OK("munmap", munmap(p, SIZE));
    /* A second mapping of the same size works too (the first was given back). */
    uint64_t *q = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    CHECK("second 64 MiB mmap", q != MAP_FAILED);
    if (q != MAP_FAILED) {
        q[SIZE / sizeof(uint64_t) - 1] = 7;
        CHECK_EQ("last word of second mapping", q[SIZE / sizeof(uint64_t) - 1], 7);
        CHECK_EQ("first word of second mapping is zero", q[0], 0);
        munmap(q, SIZE);
    }
    return check_done();
}
