/* madvise's answers as Linux gives them: hints accepted, unknown advice and an unaligned start
 * EINVAL, a hole in the range ENOMEM, MADV_FREE on anonymous memory only, MADV_REMOVE refused on
 * private mappings, MADV_POPULATE_READ/WRITE faulting pages in (EINVAL without the access, EFAULT
 * past the end of a file), MADV_DONTNEED(_LOCKED) reading back zeros. The kernel answered 0 to any
 * advice but DONTNEED, populate included, without doing it; and the last page of a private file
 * mapping showed, past the file's end, what its frame held before instead of zeros. No advice that acts on the machine
 * (HWPOISON, SOFT_OFFLINE) is tried: this runs on the host as the oracle. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "../check.h"

#define PG 4096UL

#ifndef MADV_COLD
#define MADV_COLD 20
#define MADV_PAGEOUT 21
#endif
#ifndef MADV_POPULATE_READ
#define MADV_POPULATE_READ 22
#define MADV_POPULATE_WRITE 23
#endif
#ifndef MADV_DONTNEED_LOCKED
#define MADV_DONTNEED_LOCKED 24
#endif

static char *anon(size_t len, int prot)
{
    return mmap(NULL, len, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
}

/* "name: ok" when madvise(p, len, advice) returns 0, or fails with the errno `want`. */
static void expect(const char *name, void *p, size_t len, int advice, int want)
{
    errno = 0;
    int rc = madvise(p, len, advice);
    int got = rc == 0 ? 0 : errno;
    check_detail(name, got == want, "madvise returned %d, errno %s, want %s", rc, errno_name(got),
                 errno_name(want));
}

int main(void)
{
    char *p = anon(8 * PG, PROT_READ | PROT_WRITE);
    if (p == MAP_FAILED)
        return 2;
    memset(p, 'a', 8 * PG);

    static const struct {
        const char *name;
        int advice;
    } hints[] = {
        {"NORMAL", MADV_NORMAL},         {"RANDOM", MADV_RANDOM},
        {"SEQUENTIAL", MADV_SEQUENTIAL}, {"WILLNEED", MADV_WILLNEED},
        {"DONTFORK", MADV_DONTFORK},     {"DOFORK", MADV_DOFORK},
        {"DONTDUMP", MADV_DONTDUMP},     {"DODUMP", MADV_DODUMP},
        {"WIPEONFORK", MADV_WIPEONFORK}, {"KEEPONFORK", MADV_KEEPONFORK},
        {"COLD", MADV_COLD},             {"PAGEOUT", MADV_PAGEOUT},
    };
    char name[64];
    for (size_t i = 0; i < sizeof hints / sizeof hints[0]; i++) {
        snprintf(name, sizeof name, "hint %s is taken", hints[i].name);
        expect(name, p, 8 * PG, hints[i].advice, 0);
    }
    CHECK("hints keep the contents", p[0] == 'a' && p[8 * PG - 1] == 'a');

    static const int unknown[] = {5, 6, 7, 99, 1000, -1};
    for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
        snprintf(name, sizeof name, "unknown advice %d is EINVAL", unknown[i]);
        expect(name, p, PG, unknown[i], EINVAL);
    }
    expect("an unaligned start is EINVAL", p + 1, PG, MADV_WILLNEED, EINVAL);
    expect("a length of 0 is taken", p, 0, MADV_WILLNEED, 0);
    expect("a length that wraps is EINVAL", p, (size_t)-1, MADV_WILLNEED, EINVAL);

    /* A hole: pages 0 and 2 mapped, 1 not. */
    char *h = anon(3 * PG, PROT_READ | PROT_WRITE);
    if (h == MAP_FAILED || munmap(h + PG, PG))
        return 2;
    h[0] = 'x';
    h[2 * PG] = 'y';
    expect("a hint over a hole is ENOMEM", h, 3 * PG, MADV_WILLNEED, ENOMEM);
    expect("DONTNEED over a hole is ENOMEM", h, 3 * PG, MADV_DONTNEED, ENOMEM);
    expect("POPULATE_WRITE over a hole is ENOMEM", h, 3 * PG, MADV_POPULATE_WRITE, ENOMEM);
    expect("a hint on the unmapped page alone is ENOMEM", h + PG, PG, MADV_NORMAL, ENOMEM);

    expect("FREE on anonymous memory is taken", p, 2 * PG, MADV_FREE, 0);
    CHECK("after FREE a page reads as it was or as zeros", p[0] == 'a' || p[0] == 0);
    expect("REMOVE on private anonymous memory is EINVAL", p, PG, MADV_REMOVE, EINVAL);

    expect("DONTNEED is taken", p + 2 * PG, 2 * PG, MADV_DONTNEED, 0);
    CHECK("DONTNEED pages read back as zeros", p[2 * PG] == 0 && p[4 * PG - 1] == 0);
    CHECK("the page after them is kept", p[4 * PG] == 'a');
    expect("DONTNEED_LOCKED is taken", p + 4 * PG, PG, MADV_DONTNEED_LOCKED, 0);
    CHECK("DONTNEED_LOCKED pages read back as zeros", p[4 * PG] == 0);

    expect("POPULATE_WRITE on read-write memory is taken", p, 8 * PG, MADV_POPULATE_WRITE, 0);
    CHECK("POPULATE_WRITE keeps the contents", p[5 * PG] == 'a' && p[2 * PG] == 0);
    expect("POPULATE_READ on read-write memory is taken", p, 8 * PG, MADV_POPULATE_READ, 0);
    char *none = anon(2 * PG, PROT_NONE);
    char *ro = anon(2 * PG, PROT_READ);
    if (none == MAP_FAILED || ro == MAP_FAILED)
        return 2;
    expect("POPULATE_READ of PROT_NONE is EINVAL", none, 2 * PG, MADV_POPULATE_READ, EINVAL);
    expect("POPULATE_WRITE of PROT_NONE is EINVAL", none, 2 * PG, MADV_POPULATE_WRITE, EINVAL);
    expect("POPULATE_WRITE of read-only memory is EINVAL", ro, 2 * PG, MADV_POPULATE_WRITE,
           EINVAL);
    expect("POPULATE_READ of read-only memory is taken", ro, 2 * PG, MADV_POPULATE_READ, 0);
    CHECK("read-only memory populated reads zeros", ro[0] == 0 && ro[2 * PG - 1] == 0);

    /* A file of one page and a half, mapped for three pages. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/lwjvm-madvise-%d", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    int rd = open(path, O_RDONLY); /* (shared through a writable one, REMOVE would punch a hole) */
    if (fd < 0 || rd < 0)
        return 2;
    unlink(path);
    static char data[PG + PG / 2];
    memset(data, 'f', sizeof data);
    if (write(fd, data, sizeof data) != (ssize_t)sizeof data)
        return 2;
    char *f = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
    char *fr = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, rd, 0);
    if (f == MAP_FAILED || fr == MAP_FAILED)
        return 2;
    CHECK("a private file page reads zeros past the file's end (a read fault)",
          f[PG + PG / 2] == 0 && f[2 * PG - 1] == 0);
    if (munmap(f, 3 * PG) || (f = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd,
                                        0)) == MAP_FAILED)
        return 2;
    expect("FREE on a file mapping is EINVAL", f, PG, MADV_FREE, EINVAL);
    expect("REMOVE on a private file mapping is EACCES", f, PG, MADV_REMOVE, EACCES);
    expect("REMOVE on a read-only shared file mapping is EACCES", fr, PG, MADV_REMOVE, EACCES);
    expect("POPULATE_WRITE of the file's pages is taken", f, 2 * PG, MADV_POPULATE_WRITE, 0);
    CHECK("a populated private file page holds the file", f[0] == 'f' && f[PG + PG / 2 - 1] == 'f');
    CHECK("and zeros past the file's end", f[PG + PG / 2] == 0);
    expect("POPULATE_READ past the file's end is EFAULT", f, 3 * PG, MADV_POPULATE_READ, EFAULT);
    expect("POPULATE_READ of a shared file mapping is taken", fr, 2 * PG, MADV_POPULATE_READ, 0);
    CHECK("which holds the file", fr[0] == 'f');
    close(fd);
    close(rd);
    return check_done();
}
