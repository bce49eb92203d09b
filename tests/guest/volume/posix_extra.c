/* File behaviour on a volume beyond the random scripts (tests/guest/test_volume_posix.py): run in
 * DIR on the host (a scratch directory: the oracle) and in the guest on a volume, the output lines
 * must be equal. Shared mappings (MAP_SHARED writes reach the file, read and write see them,
 * msync), private mappings, SEEK_DATA/SEEK_HOLE, posix_fallocate, a file over 4 GiB, statfs, flock and
 * fcntl locks. Usage: posix_extra DIR [pause]: with pause it ends by printing "durable" after its
 * last msync and waits to be killed (the test then reads the volume on the host). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

static char path[4096];

static const char *at(const char *dir, const char *name)
{
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return path;
}

#define SHOW(fmt, ...) printf(fmt "\n", __VA_ARGS__)
#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            printf("FAILED line %d: %s (errno %d)\n", __LINE__, #c, errno);                        \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    const char *dir = argv[1];
    long pg = 4096;

    /* Shared mapping: 3 pages, written through the mapping and with write(2). */
    int fd = open(at(dir, "shared"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(ftruncate(fd, 3 * pg) == 0);
    char *m = mmap(0, 3 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED);
    memset(m, 'a', pg);
    memcpy(m + pg + 10, "through the mapping", 19);
    char buf[64] = {0};
    CHECK(pread(fd, buf, 19, pg + 10) == 19);
    SHOW("read sees the mapping: %s", buf);
    CHECK(pwrite(fd, "written", 7, 2 * pg + 5) == 7);
    SHOW("the mapping sees write: %.7s", m + 2 * pg + 5);
    CHECK(msync(m, 3 * pg, MS_SYNC) == 0);
    SHOW("msync bad flags: %d", msync(m, pg, MS_SYNC | MS_ASYNC) == -1 ? errno : 0);
    CHECK(munmap(m, 3 * pg) == 0);
    struct stat st;
    CHECK(fstat(fd, &st) == 0);
    SHOW("size after: %ld", (long)st.st_size);
    CHECK(pread(fd, buf, 4, 0) == 4);
    SHOW("first bytes after munmap: %.4s", buf);

    /* Private mapping: sees the file, its writes do not reach it. */
    m = mmap(0, pg, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, pg);
    CHECK(m != MAP_FAILED);
    SHOW("private sees: %.19s", m + 10);
    memcpy(m + 10, "PRIVATE", 7);
    CHECK(pread(fd, buf, 7, pg + 10) == 7);
    SHOW("file after a private write: %.7s", buf);
    CHECK(munmap(m, pg) == 0);
    close(fd);

    /* Sparse file, SEEK_DATA/SEEK_HOLE, over 4 GiB. */
    fd = open(at(dir, "sparse"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    long long big = 5ll << 30;
    CHECK(pwrite(fd, "head", 4, 8192) == 4);
    CHECK(pwrite(fd, "tail", 4, big) == 4);
    CHECK(fstat(fd, &st) == 0);
    SHOW("big size: %lld", (long long)st.st_size);
    SHOW("data from 0: %lld", (long long)lseek(fd, 0, SEEK_DATA));
    SHOW("hole from 0: %lld", (long long)lseek(fd, 0, SEEK_HOLE));
    SHOW("hole from 8192: %lld", (long long)lseek(fd, 8192, SEEK_HOLE));
    SHOW("data from 12288: %lld", (long long)lseek(fd, 12288, SEEK_DATA));
    SHOW("hole past the tail: %lld", (long long)lseek(fd, big + 1, SEEK_HOLE));
    errno = 0;
    long long past = lseek(fd, big + 4, SEEK_DATA);
    SHOW("data past the end: %lld errno %d", past, errno);
    CHECK(pread(fd, buf, 4, big) == 4);
    SHOW("tail reads: %.4s", buf);
    CHECK(pread(fd, buf, 8, 1 << 20) == 8);
    SHOW("a hole reads zeros: %d", !memcmp(buf, "\0\0\0\0\0\0\0\0", 8));
    close(fd);

    /* posix_fallocate: the file grows to the length asked for (the volume answers fallocate
     * itself with EOPNOTSUPP, as copy-on-write cannot set blocks aside: glibc then writes the
     * zeros itself). */
    fd = open(at(dir, "falloc"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0);
    CHECK(posix_fallocate(fd, 0, 10000) == 0);
    CHECK(fstat(fd, &st) == 0);
    SHOW("fallocate size: %ld", (long)st.st_size);
    CHECK(pwrite(fd, "end", 3, 9997) == 3);
    CHECK(posix_fallocate(fd, 4096, 100) == 0);
    CHECK(fstat(fd, &st) == 0);
    SHOW("inside the file keeps the size: %ld", (long)st.st_size);
    SHOW("bad length: %d", posix_fallocate(fd, 0, 0));
    close(fd);

    /* statfs: the space goes down as a file is written and synced. */
    struct statfs s1, s2;
    CHECK(statfs(dir, &s1) == 0);
    fd = open(at(dir, "fill"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    static char mb[1 << 20];
    memset(mb, 7, sizeof mb);
    for (int i = 0; i < 4; i++)
        CHECK(write(fd, mb, sizeof mb) == (ssize_t)sizeof mb);
    CHECK(fsync(fd) == 0);
    CHECK(fstatfs(fd, &s2) == 0);
    if (s2.f_bfree >= s1.f_bfree) /* for the test's report */
        fprintf(stderr, "statfs free: %ld before, %ld after\n", (long)s1.f_bfree,
                (long)s2.f_bfree);
    SHOW("statfs: blocks %d, block size %ld, free went down %d, name max %ld",
         s1.f_blocks > 0, (long)s1.f_bsize, s2.f_bfree < s1.f_bfree, (long)(s1.f_namelen > 0));
    close(fd);

    /* flock between two open files of one process; fcntl locks never conflict within one. */
    int f1 = open(at(dir, "lock"), O_RDWR | O_CREAT, 0644), f2 = open(at(dir, "lock"), O_RDWR);
    CHECK(f1 >= 0 && f2 >= 0);
    CHECK(flock(f1, LOCK_EX) == 0);
    SHOW("second flock: %d", flock(f2, LOCK_EX | LOCK_NB) == -1 ? errno : 0);
    SHOW("shared on the holder: %d", flock(f1, LOCK_SH | LOCK_NB));
    CHECK(flock(f1, LOCK_UN) == 0);
    SHOW("after unlock: %d", flock(f2, LOCK_EX | LOCK_NB));
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 10};
    SHOW("fcntl setlk: %d", fcntl(f1, F_SETLK, &fl));
    fl.l_type = F_WRLCK;
    int got = fcntl(f2, F_GETLK, &fl);
    SHOW("fcntl getlk: %d type unlocked %d", got, fl.l_type == F_UNLCK);
    close(f1);
    close(f2);

    /* The last shared mapping stays for the durability check. */
    fd = open(at(dir, "durable"), O_RDWR | O_CREAT | O_TRUNC, 0644);
    CHECK(fd >= 0 && ftruncate(fd, 2 * pg) == 0);
    m = mmap(0, 2 * pg, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    CHECK(m != MAP_FAILED);
    for (long i = 0; i < 2 * pg; i++)
        m[i] = (char)('A' + i % 26);
    CHECK(msync(m, 2 * pg, MS_SYNC) == 0);
    printf("durable\n");
    fflush(stdout);
    if (argc > 2 && !strcmp(argv[2], "pause"))
        for (;;)
            pause();
    return 0;
}
