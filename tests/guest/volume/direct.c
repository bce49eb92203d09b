/* O_DIRECT on a file (issue 13: O_DIRECT as Linux has it), run on a volume in the guest and in a
 * scratch directory on the host, outputs compared: a buffer, offset or length not a multiple of
 * 512 is EINVAL (nothing written); aligned writes of whole and part blocks read back the same
 * through O_DIRECT and through a buffered descriptor, and so do buffered writes through
 * O_DIRECT; a read at the end is short. With /proc/lwjvm/volume (lwjvm) it also prints on
 * stderr how many ARC hits and misses the 74-block direct read caused (its data bypasses the ARC;
 * the file's indirect blocks go through it).
 * Usage: direct DIR */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static unsigned long arc(const char *key)
{
    FILE *f = fopen("/proc/lwjvm/volume", "r");
    char k[64];
    unsigned long v, got = 0;
    while (f && fscanf(f, "%63s %lu", k, &v) == 2)
        if (!strcmp(k, key))
            got = v;
    if (f)
        fclose(f);
    return got;
}

static const char *res(ssize_t r)
{
    static char buf[32];
    if (r < 0)
        return errno == EINVAL ? "EINVAL" : strerror(errno);
    snprintf(buf, sizeof buf, "%zd", r);
    return buf;
}

int main(int argc, char **argv)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/direct", argc > 1 ? argv[1] : "/data");
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_DIRECT, 0644);
    if (fd < 0) {
        printf("open O_DIRECT: %s\n", strerror(errno));
        return 1;
    }
    int bfd = open(path, O_RDWR);
    unsigned char *buf, *back;
    if (posix_memalign((void **)&buf, 4096, 1 << 20) || posix_memalign((void **)&back, 4096, 1 << 20))
        return 1;
    for (int i = 0; i < 1 << 20; i++)
        buf[i] = (unsigned char)(i * 7 + i / 4096);
    printf("misaligned buffer: %s\n", res(pwrite(fd, buf + 1, 4096, 0)));
    printf("misaligned offset: %s\n", res(pwrite(fd, buf, 4096, 100)));
    printf("misaligned length: %s\n", res(pwrite(fd, buf, 1000, 0)));
    printf("size after refused writes: %ld\n", (long)lseek(bfd, 0, SEEK_END));
    printf("write 256 KiB at 0: %s\n", res(pwrite(fd, buf, 256 << 10, 0)));
    printf("write 512 B at 5120: %s\n", res(pwrite(fd, buf + 8192, 512, 5120)));
    printf("write 1536 B at 300032: %s\n", res(pwrite(fd, buf, 1536, 300032)));
    memcpy(buf + 5120, buf + 8192, 512); /* what the file now holds at 0..256 KiB */
    unsigned long h0 = arc("arc_hits"), m0 = arc("arc_misses");
    memset(back, 0, 1 << 20);
    ssize_t r = pread(fd, back, 512 << 10, 0);
    printf("direct read of 512 KiB: %s (the file's size)\n", res(r));
    unsigned long h1 = arc("arc_hits"), m1 = arc("arc_misses");
    printf("same bytes: %s\n", !memcmp(back, buf, 256 << 10) && !memcmp(back + 300032, buf, 1536)
                                   ? "yes" : "no");
    memset(back, 0, 1 << 20);
    r = pread(bfd, back, 512 << 10, 0);
    printf("buffered read: %s, same: %s\n", res(r), !memcmp(back, buf, 256 << 10) ? "yes" : "no");
    memset(back + 512, 0x5a, 512);
    printf("buffered write: %s\n", res(pwrite(bfd, back + 512, 512, 512)));
    memset(back, 0, 4096);
    r = pread(fd, back, 4096, 0);
    printf("direct read after it: %s, sees it: %s\n", res(r),
           back[512] == 0x5a && back[1023] == 0x5a && back[1024] == buf[1024] ? "yes" : "no");
    r = pread(fd, back, 4096, 7);
    printf("misaligned read: %s\n", res(r));
    printf("fsync: %s\n", res(fsync(fd)));
    fprintf(stderr, "direct: ARC hits +%lu, misses +%lu during the direct reads\n", h1 - h0, m1 - m0);
    close(fd);
    close(bfd);
    return 0;
}
