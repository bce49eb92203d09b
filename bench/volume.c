/* Volume figures (docs/bench.md "Volumes"): run in the guest on a mounted volume, or on the host
 * in a scratch directory, with the directory as argument. Sequential write of 64 MiB in 1 MiB
 * writes then fsync, sequential read of it, 300 random 4 KiB writes each followed by fsync (the
 * intent log), 1,000 empty files created in one directory. One line of figures. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    const char *d = argc > 1 ? argv[1] : "/data";
    char p[4096];
    static char buf[1 << 20];
    memset(buf, 0x3c, sizeof buf);
    snprintf(p, sizeof p, "%s/seq", d);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) {
        perror(p);
        return 1;
    }
    double t = now();
    for (int i = 0; i < 64; i++)
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            return 1;
    if (fsync(fd))
        return 1;
    double w = now() - t;
    close(fd);
    fd = open(p, O_RDONLY);
    t = now();
    while (read(fd, buf, sizeof buf) > 0) {
    }
    double r = now() - t;
    close(fd);
    snprintf(p, sizeof p, "%s/rand", d);
    fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 16 << 20) || fsync(fd))
        return 1;
    srand(1);
    const int n = 300;
    t = now();
    for (int i = 0; i < n; i++)
        if (pwrite(fd, buf, 4096, (off_t)(rand() % 4096) * 4096) != 4096 || fsync(fd))
            return 1;
    double f = now() - t;
    close(fd);
    const int nf = 1000;
    t = now();
    for (int i = 0; i < nf; i++) {
        snprintf(p, sizeof p, "%s/f%d", d, i);
        int x = open(p, O_WRONLY | O_CREAT, 0644);
        if (x < 0)
            return 1;
        close(x);
    }
    double c = now() - t;
    printf("seq_write_MBps %.1f seq_read_MBps %.1f fsync_4k_writes_per_s %.0f creates_per_s %.0f\n",
           64 / w, 64 / r, n / f, nf / c);
    return 0;
}
