/* Volume figures (docs/bench.md "Volumes", `python -m lwjvm.baseline --only volume`): run in the
 * guest on a mounted volume (lwjvm's volfs, or ext4 in the Linux guest), or on the host in a
 * scratch directory, with the directory as argument. Sequential write of 64 MiB in 1 MiB writes
 * then fsync; a sequential read of it after posix_fadvise(DONTNEED) (Linux drops its page cache;
 * lwjvm has no page cache over volfs, its ARC keeps what fits); 300 random 4 KiB writes each
 * followed by fsync (on volfs: the intent log); 1,000 empty files created in one directory;
 * an 8 MiB working set read once, then re-read 3 times (MB/s of the re-reads, and where
 * /proc/lwjvm/volume exists the ARC's hit rate over them). One line of figures. */
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

/* The ARC's hits and misses from /proc/lwjvm/volume; 0 when there is no such file (not lwjvm). */
static int arc_counters(unsigned long *hits, unsigned long *misses)
{
    FILE *f = fopen("/proc/lwjvm/volume", "r");
    if (!f)
        return 0;
    char key[64];
    unsigned long val;
    *hits = *misses = 0;
    while (fscanf(f, "%63s %lu", key, &val) == 2) {
        if (!strcmp(key, "arc_hits"))
            *hits = val;
        else if (!strcmp(key, "arc_misses"))
            *misses = val;
    }
    fclose(f);
    return 1;
}

static void fail(const char *what)
{
    perror(what);
    exit(1);
}

static void read_all(const char *p, char *buf, size_t n)
{
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        fail(p);
    ssize_t got;
    while ((got = read(fd, buf, n)) > 0) {
    }
    if (got < 0)
        fail("read");
    close(fd);
}

int main(int argc, char **argv)
{
    const char *d = argc > 1 ? argv[1] : "/data";
    char p[4096];
    static char buf[1 << 20];
    memset(buf, 0x3c, sizeof buf);
    snprintf(p, sizeof p, "%s/seq", d);
    int fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        fail(p);
    double t = now();
    for (int i = 0; i < 64; i++)
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            fail("write");
    if (fsync(fd))
        fail("fsync");
    double w = now() - t;
    (void)posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    t = now();
    read_all(p, buf, sizeof buf);
    double r = now() - t;
    snprintf(p, sizeof p, "%s/rand", d);
    fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0 || ftruncate(fd, 16 << 20) || fsync(fd))
        fail(p);
    srand(1);
    const int n = 300;
    t = now();
    for (int i = 0; i < n; i++)
        if (pwrite(fd, buf, 4096, (off_t)(rand() % 4096) * 4096) != 4096 || fsync(fd))
            fail("pwrite+fsync");
    double f = now() - t;
    close(fd);
    const int nf = 1000;
    t = now();
    for (int i = 0; i < nf; i++) {
        snprintf(p, sizeof p, "%s/f%d", d, i);
        int x = open(p, O_WRONLY | O_CREAT, 0644);
        if (x < 0)
            fail(p);
        close(x);
    }
    double c = now() - t;
    /* The working set: written, synced, read once; then the timed re-reads. */
    snprintf(p, sizeof p, "%s/ws", d);
    fd = open(p, O_RDWR | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        fail(p);
    for (int i = 0; i < 8; i++)
        if (write(fd, buf, sizeof buf) != (ssize_t)sizeof buf)
            fail("write");
    if (fsync(fd))
        fail("fsync");
    close(fd);
    read_all(p, buf, sizeof buf);
    unsigned long h0 = 0, m0 = 0, h1 = 0, m1 = 0;
    int arc = arc_counters(&h0, &m0);
    t = now();
    for (int i = 0; i < 3; i++)
        read_all(p, buf, sizeof buf);
    double rr = now() - t;
    arc = arc && arc_counters(&h1, &m1);
    printf("seq_write_MBps %.1f seq_read_MBps %.1f fsync_4k_writes_per_s %.0f creates_per_s %.0f "
           "reread_MBps %.1f",
           64 / w, 64 / r, n / f, nf / c, 24 / rr);
    if (arc && h1 + m1 > h0 + m0)
        printf(" arc_reread_hit_percent %.1f", 100.0 * (double)(h1 - h0) / (double)(h1 + m1 - h0 - m0));
    printf("\n");
    return 0;
}
