/* File-backed mappings of a read-only file (argv[1]: 3 pages and 123 bytes, byte i = f(i)):
 * MAP_PRIVATE read and copy-on-write, MAP_SHARED read, offsets, the zero tail of the last page,
 * SIGBUS past the end of the file, MADV_DONTNEED bringing back the file's bytes, and the errors. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"
#include "../probe.h"

#define PG 4096L
#define SIZE (3 * PG + 123)

static unsigned char expect(long i)
{
    return (unsigned char)(((i * 7) ^ (i >> 12) * 0x45) & 0xff);
}

static long mismatches(const unsigned char *p, long off, long len)
{
    long bad = 0;
    for (long i = 0; i < len; i++)
        bad += p[i] != expect(off + i);
    return bad;
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    probe_init();
    int fd = open(argv[1], O_RDONLY);
    REQUIRE(fd >= 0);
    struct stat st;
    fstat(fd, &st);
    CHECK_EQ("file size", st.st_size, SIZE);
    static unsigned char buf[SIZE];
    CHECK_EQ("pread the whole file", pread(fd, buf, SIZE, 0), SIZE);
    CHECK_EQ("the file holds the expected bytes", mismatches(buf, 0, SIZE), 0);

    /* MAP_PRIVATE, read-only, whole file. */
    unsigned char *m = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    REQUIRE(m != MAP_FAILED);
    CHECK_EQ("private mapping matches the file", mismatches(m, 0, SIZE), 0);
    long tail_nonzero = 0;
    for (long i = SIZE; i < 4 * PG; i++)
        tail_nonzero += m[i] != 0;
    CHECK_EQ("the rest of the last page reads zero", tail_nonzero, 0);
    CHECK_EQ("writing a read-only file mapping faults", probe_write(m, 1), SIGSEGV);
    CHECK_EQ("with SEGV_ACCERR", probe_last.code, SEGV_ACCERR);
    munmap(m, SIZE);

    /* An offset mapping. */
    unsigned char *o = mmap(NULL, 2 * PG, PROT_READ, MAP_PRIVATE, fd, PG);
    REQUIRE(o != MAP_FAILED);
    CHECK_EQ("mapping at offset 4096 starts at byte 4096", mismatches(o, PG, 2 * PG), 0);
    munmap(o, 2 * PG);
    CHECK_ERRNO("an unaligned offset is EINVAL", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 100),
                EINVAL);

    /* Copy-on-write: writes to a private mapping stay private. */
    unsigned char *w = mmap(NULL, SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    unsigned char *w2 = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 0);
    REQUIRE(w != MAP_FAILED && w2 != MAP_FAILED);
    for (long i = PG; i < 2 * PG; i++)
        w[i] = 0xAA;
    w[SIZE - 1] = 0x55;
    CHECK("the private copy holds the writes", w[PG] == 0xAA && w[2 * PG - 1] == 0xAA &&
                                                    w[SIZE - 1] == 0x55);
    CHECK_EQ("untouched pages of it still match the file", mismatches(w, 0, PG), 0);
    CHECK_EQ("another private mapping does not see them", mismatches(w2, 0, SIZE), 0);
    unsigned char c;
    pread(fd, &c, 1, PG);
    CHECK_EQ("the file does not see them", c, expect(PG));
    CHECK_OK("madvise DONTNEED on the written page", madvise(w + PG, PG, MADV_DONTNEED));
    CHECK_EQ("after DONTNEED the page holds the file's bytes again", mismatches(w + PG, PG, PG), 0);
    CHECK_OK("mprotect a private file mapping read-only", mprotect(w, SIZE, PROT_READ));
    CHECK("the written last page survived", w[SIZE - 1] == 0x55);
    munmap(w, SIZE);
    munmap(w2, SIZE);

    /* MAP_SHARED, read-only. */
    unsigned char *s = mmap(NULL, SIZE, PROT_READ, MAP_SHARED, fd, 0);
    CHECK("MAP_SHARED read-only mapping", s != MAP_FAILED);
    if (s != MAP_FAILED) {
        CHECK_EQ("shared mapping matches the file", mismatches(s, 0, SIZE), 0);
        munmap(s, SIZE);
    }
    CHECK_ERRNO("MAP_SHARED writable on an O_RDONLY fd is EACCES",
                mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), EACCES);

    /* Past the end of the file: the page after the last one with data raises SIGBUS. */
    unsigned char *big = mmap(NULL, 6 * PG, PROT_READ, MAP_PRIVATE, fd, 0);
    REQUIRE(big != MAP_FAILED);
    CHECK_EQ("the last page with data reads", probe_read(big + 3 * PG + 200), 0);
    CHECK_EQ("a page wholly past EOF raises SIGBUS", probe_read(big + 4 * PG + 8), SIGBUS);
    CHECK_EQ("with BUS_ADRERR", probe_last.code, BUS_ADRERR);
    CHECK("at the address touched", probe_last.addr == big + 4 * PG + 8);
    munmap(big, 6 * PG);

    /* Mapped with MAP_FIXED into a PROT_NONE reservation, as the JVM maps its CDS archive. */
    unsigned char *res = mmap(NULL, 16 * PG, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                              -1, 0);
    REQUIRE(res != MAP_FAILED);
    unsigned char *fx = mmap(res + 4 * PG, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_FIXED,
                             fd, PG);
    CHECK("a file mapped MAP_FIXED into a reservation lands there", fx == res + 4 * PG);
    if (fx == res + 4 * PG) {
        CHECK_EQ("it holds the file's bytes from the offset", mismatches(fx, PG, 2 * PG), 0);
        fx[10] = 0x11;
        CHECK("and takes private writes", fx[10] == 0x11);
        CHECK_EQ("the reservation around it stays inaccessible",
                 !!probe_read(res + 3 * PG) + !!probe_read(res + 6 * PG), 2);
    }
    munmap(res, 16 * PG);

    /* The mapping outlives the descriptor. */
    unsigned char *keep = mmap(NULL, SIZE, PROT_READ, MAP_PRIVATE, fd, 2 * PG);
    REQUIRE(keep != MAP_FAILED);
    close(fd);
    CHECK_EQ("a mapping still reads after close", mismatches(keep, 2 * PG, PG + 123), 0);
    CHECK_ERRNO("mmap of a closed fd is EBADF", mmap(NULL, PG, PROT_READ, MAP_PRIVATE, fd, 0),
                EBADF);
    return check_done();
}
