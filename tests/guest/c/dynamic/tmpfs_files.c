/* File semantics and error codes in the writable /tmp: create/exclusive, read/write, pread/pwrite,
 * O_APPEND, O_TRUNC, ftruncate and holes, unlink while open, rename, mkdir/rmdir, getdents64
 * (sorted here before printing), stat/statx, chdir/getcwd, *at calls with a directory fd,
 * fallocate. Works in
 * a fresh directory under /tmp and removes it at the end. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../check.h"

struct linux_dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Lists a directory with getdents64 using a buffer of bufsize bytes; prints "name type" lines,
 * sorted. Returns the number of entries, or -1 on error. */
static int list_dir(const char *path, size_t bufsize, int print)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return -1;
    char *names[64];
    int n = 0;
    char *buf = malloc(bufsize);
    long got;
    while ((got = syscall(SYS_getdents64, fd, buf, bufsize)) > 0) {
        for (long off = 0; off < got;) {
            struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
            char type = d->d_type == DT_DIR ? 'd' : d->d_type == DT_REG ? 'f' : '?';
            if (n < 64 && asprintf(&names[n], "%s %c", d->d_name, type) > 0)
                n++;
            off += d->d_reclen;
        }
    }
    free(buf);
    close(fd);
    if (got < 0)
        return -1;
    qsort(names, n, sizeof names[0], cmp_str);
    for (int i = 0; i < n; i++) {
        if (print)
            printf("  %s\n", names[i]);
        free(names[i]);
    }
    return n;
}

static void write_file(const char *path, const char *text)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    write(fd, text, strlen(text));
    close(fd);
}

static int read_text(const char *path, char *out, size_t n)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    long r = read(fd, out, n - 1);
    close(fd);
    out[r < 0 ? 0 : r] = 0;
    return (int)r;
}

int main(void)
{
    umask(022); /* file modes must not depend on the caller's umask */
    char dir[64];
    snprintf(dir, sizeof dir, "/tmp/lwjvm-tmpfs-%d", getpid());
    CHECK_OK("mkdir the work directory", mkdir(dir, 0755));
    REQUIRE(chdir(dir) == 0);
    char cwd[PATH_MAX];
    CHECK("getcwd is the work directory", getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0);

    /* Create, exclusive create, read back. */
    int fd = open("a.txt", O_RDWR | O_CREAT | O_EXCL, 0644);
    CHECK("O_CREAT|O_EXCL creates", fd >= 0);
    CHECK_ERRNO("O_CREAT|O_EXCL again is EEXIST", open("a.txt", O_RDWR | O_CREAT | O_EXCL, 0644),
                EEXIST);
    CHECK_EQ("write", write(fd, "hello, tmpfs\n", 13), 13);
    CHECK_EQ("offset after write", lseek(fd, 0, SEEK_CUR), 13);
    char buf[256];
    CHECK_EQ("pread does not move the offset", pread(fd, buf, 5, 0), 5);
    CHECK_EQ("offset after pread", lseek(fd, 0, SEEK_CUR), 13);
    CHECK("pread read the start", memcmp(buf, "hello", 5) == 0);
    CHECK_EQ("pwrite in the middle", pwrite(fd, "HELLO", 5, 0), 5);
    CHECK_EQ("read at EOF is 0", read(fd, buf, 10), 0);
    lseek(fd, 0, SEEK_SET);
    CHECK_EQ("read everything", read(fd, buf, sizeof buf), 13);
    CHECK("content after pwrite", memcmp(buf, "HELLO, tmpfs\n", 13) == 0);

    /* Holes and ftruncate. */
    CHECK_EQ("lseek past EOF", lseek(fd, 100, SEEK_SET), 100);
    CHECK_EQ("write past EOF", write(fd, "X", 1), 1);
    struct stat st;
    fstat(fd, &st);
    CHECK_EQ("size includes the hole", st.st_size, 101);
    CHECK_EQ("pread in the hole", pread(fd, buf, 10, 50), 10);
    CHECK("the hole reads zero", memcmp(buf, "\0\0\0\0\0\0\0\0\0\0", 10) == 0);
    CHECK_OK("ftruncate shrink", ftruncate(fd, 5));
    fstat(fd, &st);
    CHECK_EQ("size after shrink", st.st_size, 5);
    CHECK_OK("ftruncate grow", ftruncate(fd, 8192));
    CHECK_EQ("pread the grown part", pread(fd, buf, 8, 8000), 8);
    CHECK("the grown part reads zero", memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
    CHECK_EQ("pread at exact EOF", pread(fd, buf, 8, 8192), 0);
    CHECK_ERRNO("ftruncate to a negative size is EINVAL", ftruncate(fd, -1), EINVAL);
    CHECK_ERRNO("lseek to a negative offset is EINVAL", lseek(fd, -1, SEEK_SET), EINVAL);
    CHECK_EQ("lseek SEEK_END", lseek(fd, -2, SEEK_END), 8190);
    CHECK_OK("fsync", fsync(fd));
    CHECK("fstat: a regular file, mode 0644, one link",
          S_ISREG(st.st_mode) && (st.st_mode & 07777) == 0644 && st.st_nlink == 1);
    close(fd);

    /* O_TRUNC, O_APPEND (pwrite on an O_APPEND fd appends too, as Linux documents). */
    write_file("b.txt", "0123456789");
    fd = open("b.txt", O_WRONLY | O_TRUNC);
    fstat(fd, &st);
    CHECK_EQ("O_TRUNC empties the file", st.st_size, 0);
    close(fd);
    write_file("b.txt", "start\n");
    fd = open("b.txt", O_WRONLY | O_APPEND);
    lseek(fd, 0, SEEK_SET);
    write(fd, "one\n", 4);
    pwrite(fd, "two\n", 4, 0);
    close(fd);
    read_text("b.txt", buf, sizeof buf);
    CHECK("O_APPEND writes go to the end", strcmp(buf, "start\none\ntwo\n") == 0);

    /* Access modes. */
    fd = open("b.txt", O_RDONLY);
    CHECK_ERRNO("write on an O_RDONLY fd is EBADF", write(fd, "x", 1), EBADF);
    close(fd);
    fd = open("b.txt", O_WRONLY);
    CHECK_ERRNO("read on an O_WRONLY fd is EBADF", read(fd, buf, 1), EBADF);
    close(fd);

    /* A larger file, written in odd chunks and read back. */
    fd = open("big.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
    static unsigned char big[1 << 20];
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (unsigned char)(i * 131 + (i >> 9));
    size_t done = 0;
    while (done < sizeof big) {
        size_t n = sizeof big - done < 3001 ? sizeof big - done : 3001;
        done += (size_t)write(fd, big + done, n);
    }
    static unsigned char back[1 << 20];
    CHECK_EQ("1 MiB written", done, sizeof big);
    CHECK_EQ("1 MiB read back", pread(fd, back, sizeof back, 0), (long)sizeof back);
    CHECK("1 MiB matches", memcmp(big, back, sizeof big) == 0);
    close(fd);

    /* fallocate: the range's blocks are the file's (st_blocks), reading as zeros; the size grows
     * (mode 0) or stays (FALLOC_FL_KEEP_SIZE). */
    int fa = open("falloc.bin", O_RDWR | O_CREAT | O_TRUNC, 0644);
    REQUIRE(fa >= 0);
    struct stat fst;
    CHECK_OK("fallocate 1 MiB", fallocate(fa, 0, 0, 1 << 20));
    CHECK("fallocate grows the size and gives the blocks",
          fstat(fa, &fst) == 0 && fst.st_size == 1 << 20 && fst.st_blocks >= 2048);
    CHECK_OK("fallocate KEEP_SIZE to 2 MiB", fallocate(fa, FALLOC_FL_KEEP_SIZE, 0, 2 << 20));
    CHECK("KEEP_SIZE keeps the size and gives the blocks",
          fstat(fa, &fst) == 0 && fst.st_size == 1 << 20 && fst.st_blocks >= 4096);
    static const char zeros[4096];
    CHECK("the allocated range reads as zeros",
          pread(fa, buf, sizeof buf, 512 << 10) == sizeof buf && !memcmp(buf, zeros, sizeof buf));
    CHECK_ERRNO("fallocate of length 0", fallocate(fa, 0, 0, 0), EINVAL);
    CHECK_ERRNO("fallocate of a negative offset", fallocate(fa, 0, -1, 10), EINVAL);
    CHECK_ERRNO("fallocate with an unknown mode", fallocate(fa, 0x4000, 0, 10), EOPNOTSUPP);
    CHECK_ERRNO("fallocate past the largest file", fallocate(fa, 0, INT64_MAX - 10, 100), EFBIG);
    close(fa);
    fa = open("falloc.bin", O_RDONLY);
    CHECK_ERRNO("fallocate on a read-only open", fallocate(fa, 0, 0, 10), EBADF);
    close(fa);
    unlink("falloc.bin");

    /* unlink while open: the data stays reachable through the fd. */
    fd = open("a.txt", O_RDONLY);
    CHECK_OK("unlink an open file", unlink("a.txt"));
    CHECK_ERRNO("open after unlink is ENOENT", open("a.txt", O_RDONLY), ENOENT);
    CHECK_EQ("the open fd still reads", pread(fd, buf, 5, 0), 5);
    fstat(fd, &st);
    CHECK_EQ("and its link count is 0", st.st_nlink, 0);
    close(fd);
    CHECK_ERRNO("unlink a missing file is ENOENT", unlink("a.txt"), ENOENT);

    /* rename. */
    write_file("c.txt", "cee");
    CHECK_OK("rename to a new name", rename("c.txt", "d.txt"));
    CHECK_ERRNO("the old name is gone", access("c.txt", F_OK), ENOENT);
    CHECK_OK("rename over an existing file", rename("d.txt", "b.txt"));
    read_text("b.txt", buf, sizeof buf);
    CHECK("the target has the new content", strcmp(buf, "cee") == 0);
    CHECK_OK("rename onto itself", rename("b.txt", "b.txt"));
    CHECK_ERRNO("rename a missing file is ENOENT", rename("nope", "x"), ENOENT);
    CHECK_ERRNO("rename into a missing directory is ENOENT", rename("b.txt", "nodir/b.txt"),
                ENOENT);

    /* Directories. */
    CHECK_OK("mkdir", mkdir("sub", 0755));
    CHECK_ERRNO("mkdir existing is EEXIST", mkdir("sub", 0755), EEXIST);
    CHECK_ERRNO("mkdir in a missing parent is ENOENT", mkdir("no/sub", 0755), ENOENT);
    write_file("sub/inner.txt", "inner");
    CHECK_ERRNO("rmdir a non-empty directory is ENOTEMPTY", rmdir("sub"), ENOTEMPTY);
    CHECK_ERRNO("rmdir a file is ENOTDIR", rmdir("b.txt"), ENOTDIR);
    CHECK_ERRNO("unlink a directory is EISDIR", unlink("sub"), EISDIR);
    CHECK_ERRNO("open a directory for writing is EISDIR", open("sub", O_WRONLY), EISDIR);
    CHECK_ERRNO("O_DIRECTORY on a file is ENOTDIR", open("b.txt", O_RDONLY | O_DIRECTORY), ENOTDIR);
    CHECK_ERRNO("a file used as a directory is ENOTDIR", open("b.txt/x", O_RDONLY), ENOTDIR);
    CHECK_ERRNO("rename a file over a directory is EISDIR", rename("b.txt", "sub"), EISDIR);
    CHECK_OK("mkdir another", mkdir("other", 0700));
    CHECK_ERRNO("rename a directory over a non-empty one is ENOTEMPTY", rename("other", "sub"),
                ENOTEMPTY);
    CHECK_ERRNO("rmdir a missing directory is ENOENT", rmdir("missing"), ENOENT);
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = 0;
    CHECK_ERRNO("a 299-byte name is ENAMETOOLONG", open(longname, O_RDONLY | O_CREAT, 0644),
                ENAMETOOLONG);
    stat("sub", &st);
    CHECK("stat: a directory", S_ISDIR(st.st_mode));

    /* *at calls relative to a directory fd, and statx. */
    int dfd = open("sub", O_RDONLY | O_DIRECTORY);
    CHECK("open a directory with O_DIRECTORY", dfd >= 0);
    int ffd = openat(dfd, "made-at.txt", O_WRONLY | O_CREAT | O_EXCL, 0600);
    CHECK("openat relative to a directory fd", ffd >= 0);
    write(ffd, "at", 2);
    close(ffd);
    CHECK_OK("fstatat", fstatat(dfd, "made-at.txt", &st, 0));
    CHECK_EQ("fstatat size", st.st_size, 2);
    CHECK_OK("mkdirat", mkdirat(dfd, "deeper", 0755));
    CHECK_OK("faccessat", faccessat(dfd, "deeper", F_OK, 0));
    struct statx stx;
    CHECK_OK("statx", statx(dfd, "made-at.txt", 0, STATX_BASIC_STATS, &stx));
    CHECK("statx: size 2 and a regular file", stx.stx_size == 2 && S_ISREG(stx.stx_mode));
    CHECK_ERRNO("read on a directory fd is EISDIR", read(dfd, buf, 1), EISDIR);

    /* getdents64, with a big buffer and with a small one (several calls). */
    printf("listing of the work directory:\n");
    CHECK_EQ("the work directory has ., .., four entries", list_dir(".", 4096, 1), 6);
    printf("listing of sub:\n");
    int n_big = list_dir("sub", 4096, 1);
    CHECK_EQ("sub has ., .., three entries", n_big, 5);
    CHECK_EQ("a 64-byte buffer lists the same", list_dir("sub", 64, 0), n_big);
    char tiny[8];
    CHECK_ERRNO("getdents64 with a buffer too small for one entry is EINVAL",
                syscall(SYS_getdents64, dfd, tiny, sizeof tiny), EINVAL);
    CHECK_ERRNO("getdents64 on a file fd is ENOTDIR",
                syscall(SYS_getdents64, (fd = open("b.txt", O_RDONLY)), buf, sizeof buf), ENOTDIR);
    close(fd);
    close(dfd);

    /* chdir and relative paths. */
    CHECK_OK("chdir into sub", chdir("sub"));
    CHECK("relative open after chdir", read_text("inner.txt", buf, sizeof buf) == 5);
    CHECK_OK("chdir ..", chdir(".."));
    CHECK_ERRNO("chdir into a file is ENOTDIR", chdir("b.txt"), ENOTDIR);

    /* Clean up: everything we made must be removable. */
    int cleaned = unlink("sub/inner.txt") == 0 && unlink("sub/made-at.txt") == 0 &&
                  rmdir("sub/deeper") == 0 && rmdir("sub") == 0 && rmdir("other") == 0 &&
                  unlink("b.txt") == 0 && unlink("big.bin") == 0;
    CHECK("remove everything", cleaned);
    CHECK_EQ("the directory is empty", list_dir(".", 4096, 0), 2);
    REQUIRE(chdir("/") == 0);
    CHECK_OK("rmdir the work directory", rmdir(dir));
    return check_done();
}
