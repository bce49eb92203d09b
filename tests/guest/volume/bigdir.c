/* One directory with many files (issue 13: 100,000 in one directory), run on a volume in the
 * guest and in a scratch directory on the host, outputs compared: N files created in DIR/big,
 * each looked up (stat) and a missing name not found, the directory listed (each name exactly
 * once), a tenth renamed within it and back, then removed the way rm -r does (each name unlinked
 * as readdir gives it), listed empty and removed. stdout is the same on every Linux file system;
 * the time of each step goes to stderr. Usage: bigdir DIR N */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void fail(const char *what)
{
    printf("FAIL %s: %s\n", what, strerror(errno));
    exit(1);
}

static double t0;
static void step(const char *what, long n)
{
    double t = now();
    fprintf(stderr, "bigdir: %-28s %8.2f s  %10.0f /s\n", what, t - t0, n / (t - t0));
    t0 = now();
}

/* Lists dfd: counts the entries, checks each f<index> is seen once (seen[] reset by the caller);
 * with unlink, unlinks each as it is read. Returns the entries other than . and .. */
static long list(int dfd, unsigned char *seen, long n, int unlink)
{
    int fd = dup(dfd);
    if (fd < 0)
        fail("dup");
    DIR *d = fdopendir(fd);
    if (!d)
        fail("fdopendir");
    rewinddir(d); /* the duplicate shares dfd's offset, where the last listing ended */
    long count = 0;
    struct dirent *e;
    errno = 0;
    while ((e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        count++;
        char *end;
        long i = strtol(e->d_name + 1, &end, 10);
        if (e->d_name[0] != 'f' || *end || i < 0 || i >= n) {
            printf("FAIL unexpected entry %s\n", e->d_name);
            exit(1);
        }
        if (seen[i]++) {
            printf("FAIL %s listed twice\n", e->d_name);
            exit(1);
        }
        if (unlink && unlinkat(dfd, e->d_name, 0))
            fail("unlinkat");
    }
    if (errno)
        fail("readdir");
    closedir(d);
    return count;
}

int main(int argc, char **argv)
{
    if (argc != 3)
        return 2;
    long n = atol(argv[2]);
    char path[4096], name[32], to[32];
    snprintf(path, sizeof path, "%s/big", argv[1]);
    if (mkdir(path, 0755))
        fail("mkdir");
    int dfd = open(path, O_RDONLY | O_DIRECTORY);
    if (dfd < 0)
        fail("open dir");
    unsigned char *seen = calloc((size_t)n, 1);
    t0 = now();
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f%ld", i);
        int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
        if (fd < 0)
            fail("create");
        close(fd);
    }
    printf("created %ld\n", n);
    step("create", n);
    struct stat st;
    for (long i = 0; i < n; i++) {
        snprintf(name, sizeof name, "f%ld", i);
        if (fstatat(dfd, name, &st, 0) || !S_ISREG(st.st_mode) || st.st_size != 0)
            fail("stat");
    }
    printf("looked up %ld; f%ld: %s\n", n, n,
           fstatat(dfd, "f-1", &st, 0) && errno == ENOENT ? "ENOENT" : "found?");
    step("lookup (fstatat)", n);
    snprintf(name, sizeof name, "f%ld", n / 2);
    int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_EXCL, 0644);
    printf("create of an existing name: %s\n", fd < 0 && errno == EEXIST ? "EEXIST" : "created?");
    long listed = list(dfd, seen, n, 0);
    long once = 0;
    for (long i = 0; i < n; i++)
        once += seen[i] == 1;
    printf("listed %ld entries, %ld names once each\n", listed, once);
    step("readdir", n);
    long moved = 0;
    for (long i = 0; i < n; i += 10, moved++) {
        snprintf(name, sizeof name, "f%ld", i);
        snprintf(to, sizeof to, "r%ld", i);
        if (renameat(dfd, name, dfd, to))
            fail("rename");
    }
    for (long i = 0; i < n; i += 10) {
        snprintf(name, sizeof name, "f%ld", i);
        snprintf(to, sizeof to, "r%ld", i);
        if (!fstatat(dfd, name, &st, 0) || renameat(dfd, to, dfd, name))
            fail("rename back");
    }
    printf("renamed %ld and back\n", moved);
    step("rename x2", 2 * moved);
    memset(seen, 0, (size_t)n);
    long removed = list(dfd, seen, n, 1);
    printf("removed %ld while listing\n", removed);
    step("readdir + unlink", n);
    memset(seen, 0, (size_t)n);
    printf("listed after: %ld\n", list(dfd, seen, n, 0));
    close(dfd);
    if (rmdir(path))
        fail("rmdir");
    printf("rmdir ok\n");
    return 0;
}
