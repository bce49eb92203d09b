/* Pipe buffers are bounded as Linux bounds an unprivileged user's (fs.pipe-max-size,
 * fs.pipe-user-pages-soft; issue 15): a new pipe holds 64 KiB, F_SETPIPE_SZ rounds to a power of
 * two pages and moves what the pipe holds, refuses to grow a pipe past pipe-max-size or the pages
 * of all pipes past the soft limit (EPERM), and once past the soft limit new pipes get two pages.
 * The soft limit differs (the host's is 16,384 pages, the guest's an eighth of its RAM if less):
 * the program checks relations to the value /proc/sys/fs/pipe-user-pages-soft shows. On the host
 * as root it first becomes nobody (root's pipes are not bounded; the guest's kernel bounds every
 * program's as an unprivileged user's). */
#include <fcntl.h>
#include <grp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../check.h"

#define MIB (1 << 20)

static long read_number(const char *path)
{
    FILE *f = fopen(path, "r");
    long v = -1;
    if (!f || fscanf(f, "%ld", &v) != 1)
        v = -1;
    if (f)
        fclose(f);
    return v;
}

static const char *res(long rc) { return rc >= 0 ? "ok" : errno_name(errno); }

static int fds[1024][2];
static int npipes;

static int new_pipe(void)
{
    if (pipe(fds[npipes]) != 0) {
        printf("pipe: %s\n", errno_name(errno));
        exit(2);
    }
    return fds[npipes++][1];
}

static void close_all(void)
{
    while (npipes) {
        npipes--;
        close(fds[npipes][0]);
        close(fds[npipes][1]);
    }
}

int main(void)
{
    struct utsname u;
    uname(&u);
    if (!strstr(u.release, "lwjvm") && geteuid() == 0) {
        if (setgroups(0, NULL) || setgid(65534) || setuid(65534)) {
            printf("cannot become nobody\n");
            return 2;
        }
    }
    long max = read_number("/proc/sys/fs/pipe-max-size");
    long soft = read_number("/proc/sys/fs/pipe-user-pages-soft");
    long hard = read_number("/proc/sys/fs/pipe-user-pages-hard");
    printf("pipe-max-size: %ld\n", max);
    printf("pipe-user-pages-hard: %ld\n", hard);
    CHECK("pipe-user-pages-soft holds at least 4 full pipes", soft >= 4 * 256);

    int w = new_pipe(), r = fds[0][0];
    printf("a new pipe: %d\n", fcntl(w, F_GETPIPE_SZ));
    printf("F_GETPIPE_SZ on the read end: %d\n", fcntl(r, F_GETPIPE_SZ));
    unsigned long asks[] = {0, 1, 4096, 5000, 65536, 65537, MIB, MIB + 1, 0x80000000ul,
                            0x80000001ul, 0x100001000ul};
    for (unsigned i = 0; i < sizeof asks / sizeof asks[0]; i++) {
        long got = fcntl(w, F_SETPIPE_SZ, asks[i]);
        printf("F_SETPIPE_SZ %#lx: %s", asks[i], res(got));
        printf(got >= 0 ? " %ld\n" : "\n", got);
    }
    /* What the pipe holds moves with it, in order, also when the ring had wrapped. */
    fcntl(w, F_SETPIPE_SZ, 8192);
    char out[8192], in[8192];
    for (int i = 0; i < 8192; i++)
        out[i] = (char)(i * 7 + i / 251);
    CHECK("write 6000", write(w, out, 6000) == 6000);
    CHECK("read 5000", read(r, in, 5000) == 5000 && !memcmp(in, out, 5000));
    CHECK("write 6000 more (the ring wraps)", write(w, out + 6000, 2192) == 2192 &&
                                                  write(w, out, 3808) == 3808);
    printf("shrinking below what it holds: %s\n", res(fcntl(w, F_SETPIPE_SZ, 4096)));
    CHECK("growing keeps the bytes", fcntl(w, F_SETPIPE_SZ, 65536) == 65536);
    int n = (int)read(r, in, sizeof in);
    CHECK("they come out in order", n == 7000 && !memcmp(in, out + 5000, 3192) &&
                                         !memcmp(in + 3192, out, 3808));
    int file = open("/proc/self/stat", O_RDONLY);
    printf("F_GETPIPE_SZ on a file: %s\n", res(fcntl(file, F_GETPIPE_SZ)));
    close(file);
    int dummy;
    printf("ioctl F_GETPIPE_SZ: %s\n", res(ioctl(w, F_GETPIPE_SZ, &dummy)));
    close_all();

    /* The soft limit: pipes grown to 1 MiB until the total would pass it. */
    int grown = 0;
    long err = 0;
    for (;;) {
        int p = new_pipe();
        if (fcntl(p, F_SETPIPE_SZ, MIB) < 0) {
            err = errno;
            break;
        }
        grown++;
    }
    printf("growing past the soft limit: %s\n", errno_name((int)err));
    CHECK_EQ("pipes grown to 1 MiB: the soft limit's pages / 256", grown, (int)(soft / 256));
    long total = grown * 256L;
    int last = fds[npipes - 1][1];
    CHECK_EQ("the pipe that could not grow", fcntl(last, F_GETPIPE_SZ),
             total + 16 > soft ? 8192 : 65536);
    total += fcntl(last, F_GETPIPE_SZ) / 4096;
    int small = 0, full = 0;
    for (int i = 0; i < 40 && !small; i++) {
        long size = fcntl(new_pipe(), F_GETPIPE_SZ);
        int want = total + 16 > soft ? 8192 : 65536;
        full += size == want && want == 65536;
        small += size == want && want == 8192;
        if (size != want)
            printf("pipe %d: %ld bytes, not %d\n", npipes, size, want);
        total += size / 4096;
    }
    CHECK("past the soft limit new pipes get two pages", small == 1);
    int p = fds[npipes - 1][1];
    printf("growing a two-page pipe to 16 KiB: %s\n", res(fcntl(p, F_SETPIPE_SZ, 16384)));
    printf("shrinking a 1 MiB pipe to a page: %s\n", res(fcntl(fds[0][1], F_SETPIPE_SZ, 1)));
    total -= 255;
    CHECK("growing it back is refused only past the soft limit",
          (fcntl(fds[0][1], F_SETPIPE_SZ, MIB) < 0) == (total + 255 > soft));
    close_all();
    int again = new_pipe();
    printf("after closing them, a new pipe: %d\n", fcntl(again, F_GETPIPE_SZ));
    printf("grown to 1 MiB: %s\n", res(fcntl(again, F_SETPIPE_SZ, MIB)));
    close_all();
    return check_done();
}
