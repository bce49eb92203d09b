/* Runs tests/kernel/test_fs.py's random scripts of file operations with real system calls, in
 * the guest on a volume (tests/guest/test_volume_posix.py), printing one result line per
 * operation exactly as that test's Linux oracle (_oracle) does: "ok", "-ERRNO", data. Usage:
 *   fs_script TOP SCRIPT...   script i runs in TOP/s<i> (made mode 1777, as /tmp), after a
 *                             line "=== i" */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *root;
static int fds[3] = {-1, -1, -1};

static const char *at(const char *p)
{
    static char buf[2][4096];
    static int k;
    k ^= 1;
    snprintf(buf[k], sizeof buf[k], "%s/%s", root, p);
    return buf[k];
}

static int open_flags(const char *s)
{
    if (!strcmp(s, "r")) return O_RDONLY;
    if (!strcmp(s, "w")) return O_WRONLY;
    if (!strcmp(s, "rw")) return O_RDWR;
    if (!strcmp(s, "wc")) return O_WRONLY | O_CREAT;
    if (!strcmp(s, "rwa")) return O_RDWR | O_APPEND | O_CREAT;
    return O_RDWR | O_TRUNC; /* rwt */
}

static unsigned fnv(const unsigned char *p, size_t n, unsigned h)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static void pattern(unsigned char *b, long n, int seed, int mul)
{
    for (long i = 0; i < n; i++)
        b[i] = (unsigned char)((seed + i * mul) & 0xff);
}

/* Prints "ok" for rc 0, "-ERRNO" for a failure. */
static void res(int rc)
{
    if (rc < 0)
        printf("-%d\n", errno);
    else
        printf("ok\n");
}

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void print_stat(const struct stat *st)
{
    long size = S_ISDIR(st->st_mode) ? 0 : (long)st->st_size;
    printf("%o %lu %ld\n", st->st_mode, (unsigned long)st->st_nlink, size);
}

static unsigned char big[1 << 16];

static int run(const char *script);

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    umask(0);
    for (int i = 2; i < argc; i++) {
        static char dir[4096];
        snprintf(dir, sizeof dir, "%s/s%d", argv[1], i - 2);
        if (mkdir(dir, 0777) < 0 || chmod(dir, 01777) < 0) {
            perror(dir);
            return 2;
        }
        root = dir;
        printf("=== %d\n", i - 2);
        int rc = run(argv[i]);
        if (rc)
            return rc;
    }
    return 0;
}

static int run(const char *script)
{
    FILE *in = fopen(script, "r");
    if (!in) {
        perror(script);
        return 2;
    }
    char line[4096];
    while (fgets(line, sizeof line, in)) {
        char op[16], a[1024] = "", b[1024] = "", c[64] = "";
        int n = sscanf(line, "%15s %1023s %1023s %63s", op, a, b, c);
        if (n < 1)
            continue;
        int isfd = !strcmp(op, "fwrite") || !strcmp(op, "fread") || !strcmp(op, "fseek") ||
                   !strcmp(op, "ftrunc") || !strcmp(op, "fstat") || !strcmp(op, "fclose");
        int k = atoi(a);
        if (isfd && fds[k] < 0) {
            printf("nofd\n");
            continue;
        }
        if (!strcmp(op, "open")) {
            if (fds[k] >= 0)
                close(fds[k]);
            fds[k] = open(at(b), open_flags(c), 0640);
            res(fds[k]);
        } else if (!strcmp(op, "fwrite")) {
            long len = atol(b);
            pattern(big, len, atoi(c), 3);
            long w = write(fds[k], big, (size_t)len);
            if (w < 0)
                printf("-%d\n", errno);
            else
                printf("%ld\n", w);
        } else if (!strcmp(op, "fread")) {
            long r = read(fds[k], big, (size_t)atol(b));
            if (r < 0)
                printf("-%d\n", errno);
            else
                printf("%ld %08x\n", r, fnv(big, (size_t)r, 2166136261u));
        } else if (!strcmp(op, "fseek")) {
            off_t r = lseek(fds[k], atol(b), atoi(c));
            if (r < 0)
                printf("-%d\n", errno);
            else
                printf("%ld\n", (long)r);
        } else if (!strcmp(op, "ftrunc")) {
            res(ftruncate(fds[k], atol(b)));
        } else if (!strcmp(op, "fstat")) {
            struct stat st;
            if (fstat(fds[k], &st) < 0)
                printf("-%d\n", errno);
            else
                print_stat(&st);
        } else if (!strcmp(op, "fclose")) {
            close(fds[k]);
            fds[k] = -1;
            printf("ok\n");
        } else if (!strcmp(op, "mkdir")) {
            res(mkdir(at(a), (mode_t)strtol(b, 0, 8)));
        } else if (!strcmp(op, "rmdir")) {
            res(rmdir(at(a)));
        } else if (!strcmp(op, "unlink")) {
            res(unlink(at(a)));
        } else if (!strcmp(op, "rename")) {
            res(rename(at(a), at(b)));
        } else if (!strcmp(op, "renamenr")) {
            res(renameat2(AT_FDCWD, at(a), AT_FDCWD, at(b), RENAME_NOREPLACE));
        } else if (!strcmp(op, "link")) {
            res(linkat(AT_FDCWD, at(a), AT_FDCWD, at(b), 0));
        } else if (!strcmp(op, "symlink")) {
            res(symlink(a, at(b)));
        } else if (!strcmp(op, "write") || !strcmp(op, "append")) {
            int app = !strcmp(op, "append");
            /* write PATH OFF N SEED, append PATH N SEED */
            long off = 0, len = atol(app ? b : c);
            int seed = atoi(c);
            if (!app) {
                char d[64] = "";
                sscanf(line, "%*s %*s %*s %*s %63s", d);
                off = atol(b);
                seed = atoi(d);
            }
            int fd = open(at(a), O_WRONLY | O_CREAT | (app ? O_APPEND : 0), 0644);
            if (fd < 0) {
                printf("-%d\n", errno);
                continue;
            }
            pattern(big, len, seed, 7);
            long w = app ? write(fd, big, (size_t)len) : pwrite(fd, big, (size_t)len, off);
            int e = errno;
            close(fd);
            if (w < 0)
                printf("-%d\n", e);
            else
                printf("ok\n");
        } else if (!strcmp(op, "truncate")) {
            res(truncate(at(a), atol(b)));
        } else if (!strcmp(op, "excl") || !strcmp(op, "trunc")) {
            int fl = !strcmp(op, "excl") ? O_CREAT | O_EXCL : O_TRUNC;
            int fd = open(at(a), O_WRONLY | fl, 0600);
            if (fd >= 0)
                close(fd);
            res(fd);
        } else if (!strcmp(op, "readlink")) {
            char t[4096];
            ssize_t r = readlink(at(a), t, sizeof t - 1);
            if (r < 0) {
                printf("-%d\n", errno);
            } else {
                t[r] = 0;
                printf("=%s\n", t);
            }
        } else if (!strcmp(op, "chmod")) {
            res(chmod(at(a), (mode_t)strtol(b, 0, 8)));
        } else if (!strcmp(op, "read")) {
            int fd = open(at(a), O_RDONLY);
            if (fd < 0) {
                printf("-%d\n", errno);
                continue;
            }
            long total = 0;
            unsigned h = 2166136261u;
            ssize_t r;
            while ((r = read(fd, big, sizeof big)) > 0) {
                h = fnv(big, (size_t)r, h);
                total += r;
            }
            int e = errno;
            close(fd);
            if (r < 0)
                printf("-%d\n", e);
            else
                printf("%ld %08x\n", total, h);
        } else if (!strcmp(op, "list")) {
            DIR *d = opendir(at(a));
            if (!d) {
                printf("-%d\n", errno);
                continue;
            }
            char *names[256];
            int nn = 0;
            struct dirent *e;
            while ((e = readdir(d)) && nn < 256) {
                if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                    continue;
                char full[4096];
                struct stat st;
                snprintf(full, sizeof full, "%s/%s", at(a), e->d_name);
                int t = lstat(full, &st) == 0 && S_ISLNK(st.st_mode) ? 10
                        : stat(full, &st) == 0 && S_ISDIR(st.st_mode) ? 4 : 8;
                names[nn] = malloc(strlen(e->d_name) + 4);
                sprintf(names[nn++], "%s:%d", e->d_name, t);
            }
            closedir(d);
            qsort(names, (size_t)nn, sizeof *names, cmp);
            for (int i = 0; i < nn; i++) {
                printf("%s%s", i ? " " : "", names[i]);
                free(names[i]);
            }
            printf("|\n");
        } else if (!strcmp(op, "opendir")) {
            int fd = open(at(a), O_RDONLY | O_DIRECTORY);
            if (fd >= 0)
                close(fd);
            res(fd);
        } else if (!strcmp(op, "stat") || !strcmp(op, "statf")) {
            struct stat st;
            int r = !strcmp(op, "stat") ? lstat(at(a), &st) : stat(at(a), &st);
            if (r < 0)
                printf("-%d\n", errno);
            else
                print_stat(&st);
        } else {
            fprintf(stderr, "bad script line: %s", line);
            return 2;
        }
    }
    for (int i = 0; i < 3; i++)
        if (fds[i] >= 0)
            close(fds[i]);
    for (int i = 0; i < 3; i++)
        fds[i] = -1;
    fclose(in);
    fflush(stdout);
    return 0;
}
