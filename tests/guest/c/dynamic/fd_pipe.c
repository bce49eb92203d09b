/* File descriptors and pipes: dup/dup2/dup3 (lowest free number, shared offset, close-on-exec),
 * fcntl (F_GETFL/F_SETFL/F_GETFD/F_SETFD/F_DUPFD/F_DUPFD_CLOEXEC), pipe2 with O_NONBLOCK and
 * O_CLOEXEC, EOF and EPIPE, a 1 MiB transfer between threads, readv/writev, the /dev files and
 * ioctl answering "not a terminal". */
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/uio.h>
#include <termios.h>
#include <unistd.h>

#include "../check.h"

#define TRANSFER (1 << 20)

static int xfer[2];

static void *writer(void *arg)
{
    (void)arg;
    static unsigned char chunk[5000];
    size_t sent = 0;
    while (sent < TRANSFER) {
        size_t n = TRANSFER - sent < sizeof chunk ? TRANSFER - sent : sizeof chunk;
        for (size_t i = 0; i < n; i++)
            chunk[i] = (unsigned char)((sent + i) * 13);
        ssize_t w = write(xfer[1], chunk, n);
        if (w <= 0)
            break;
        sent += (size_t)w;
    }
    close(xfer[1]);
    return NULL;
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    char path[64];
    snprintf(path, sizeof path, "/tmp/lwjvm-fd-%d", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    unlink(path);
    write(fd, "abcdefghij", 10);

    /* dup: the lowest free number, sharing the offset. */
    int lowest = open("/dev/null", O_RDONLY);
    close(lowest);
    int d = dup(fd);
    CHECK_EQ("dup returns the lowest free fd", d, lowest);
    lseek(fd, 2, SEEK_SET);
    char c;
    read(d, &c, 1);
    CHECK("dup'ed fds share the offset", c == 'c' && lseek(fd, 0, SEEK_CUR) == 3);
    CHECK_EQ("dup2 to a chosen number", dup2(fd, 100), 100);
    CHECK_EQ("dup2 onto itself returns it", dup2(fd, fd), fd);
    CHECK_ERRNO("dup2 of a bad fd is EBADF", dup2(555, 101), EBADF);
    CHECK_EQ("dup3 with O_CLOEXEC", dup3(fd, 102, O_CLOEXEC), 102);
    CHECK_EQ("dup3 set FD_CLOEXEC", fcntl(102, F_GETFD), FD_CLOEXEC);
    CHECK_EQ("dup2 leaves FD_CLOEXEC clear", fcntl(100, F_GETFD), 0);
    CHECK_ERRNO("dup3 onto itself is EINVAL", dup3(fd, fd, 0), EINVAL);
    CHECK_ERRNO("dup3 with bad flags is EINVAL", dup3(fd, 103, 0x1234), EINVAL);
    CHECK_OK("close", close(100));
    CHECK_ERRNO("close twice is EBADF", close(100), EBADF);
    CHECK_ERRNO("close of a never-open fd is EBADF", close(999), EBADF);
    CHECK_ERRNO("dup2 to a huge fd number is EBADF", dup2(fd, 1 << 30), EBADF);

    /* fcntl. */
    CHECK_EQ("F_GETFL access mode", fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
    CHECK_OK("F_SETFL O_APPEND|O_NONBLOCK", fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK));
    int fl = fcntl(fd, F_GETFL);
    CHECK("F_GETFL shows O_APPEND and O_NONBLOCK", (fl & O_APPEND) && (fl & O_NONBLOCK));
    CHECK("the flags are shared with the dup", fcntl(d, F_GETFL) & O_APPEND);
    fcntl(fd, F_SETFL, O_RDONLY);
    CHECK_EQ("F_SETFL cannot change the access mode", fcntl(fd, F_GETFL) & O_ACCMODE, O_RDWR);
    CHECK_EQ("F_GETFD is 0 by default", fcntl(fd, F_GETFD), 0);
    int ce = open("/dev/null", O_RDONLY | O_CLOEXEC);
    CHECK_EQ("open with O_CLOEXEC sets FD_CLOEXEC", fcntl(ce, F_GETFD), FD_CLOEXEC);
    close(ce);
    CHECK_OK("F_SETFD FD_CLOEXEC", fcntl(fd, F_SETFD, FD_CLOEXEC));
    CHECK_EQ("F_GETFD shows it", fcntl(fd, F_GETFD), FD_CLOEXEC);
    CHECK_EQ("the dup keeps its own FD flags", fcntl(d, F_GETFD), 0);
    int d10 = fcntl(fd, F_DUPFD, 10);
    CHECK("F_DUPFD gives a number >= 10", d10 >= 10);
    CHECK_EQ("F_DUPFD clears FD_CLOEXEC", fcntl(d10, F_GETFD), 0);
    int dc = fcntl(fd, F_DUPFD_CLOEXEC, 20);
    CHECK("F_DUPFD_CLOEXEC gives a number >= 20", dc >= 20);
    CHECK_EQ("F_DUPFD_CLOEXEC sets FD_CLOEXEC", fcntl(dc, F_GETFD), FD_CLOEXEC);
    CHECK_ERRNO("fcntl on a bad fd is EBADF", fcntl(999, F_GETFD), EBADF);
    CHECK_ERRNO("fcntl with an unknown command is EINVAL", fcntl(fd, 99999), EINVAL);

    /* pipe2. */
    int p[2];
    CHECK_OK("pipe2 O_NONBLOCK|O_CLOEXEC", pipe2(p, O_NONBLOCK | O_CLOEXEC));
    CHECK("both ends close-on-exec",
          fcntl(p[0], F_GETFD) == FD_CLOEXEC && fcntl(p[1], F_GETFD) == FD_CLOEXEC);
    CHECK("both ends non-blocking",
          (fcntl(p[0], F_GETFL) & O_NONBLOCK) && (fcntl(p[1], F_GETFL) & O_NONBLOCK));
    CHECK_EQ("read end is read-only", fcntl(p[0], F_GETFL) & O_ACCMODE, O_RDONLY);
    CHECK_EQ("write end is write-only", fcntl(p[1], F_GETFL) & O_ACCMODE, O_WRONLY);
    char buf[64];
    CHECK_ERRNO("reading an empty non-blocking pipe is EAGAIN", read(p[0], buf, 1), EAGAIN);
    CHECK_EQ("write to the pipe", write(p[1], "pipe!", 5), 5);
    CHECK_EQ("read it back", read(p[0], buf, sizeof buf), 5);
    CHECK("same bytes", memcmp(buf, "pipe!", 5) == 0);
    CHECK_ERRNO("lseek on a pipe is ESPIPE", lseek(p[0], 0, SEEK_SET), ESPIPE);
    CHECK_ERRNO("write to the read end is EBADF", write(p[0], "x", 1), EBADF);
    struct stat st;
    fstat(p[0], &st);
    CHECK("fstat: a FIFO", S_ISFIFO(st.st_mode));
    write(p[1], "z", 1);
    close(p[1]);
    CHECK_EQ("data written before close is still read", read(p[0], buf, sizeof buf), 1);
    CHECK_EQ("then EOF once the write end is closed", read(p[0], buf, sizeof buf), 0);
    close(p[0]);
    CHECK_OK("pipe2 plain", pipe2(p, 0));
    close(p[0]);
    CHECK_ERRNO("writing with no reader is EPIPE", write(p[1], "x", 1), EPIPE);
    close(p[1]);
    CHECK_ERRNO("pipe2 with bad flags is EINVAL", pipe2(p, 0x1234), EINVAL);

    /* 1 MiB through a blocking pipe from another thread. */
    REQUIRE(pipe(xfer) == 0);
    pthread_t t;
    start_thread(&t, NULL, writer, NULL);
    static unsigned char in[4096];
    size_t got = 0, bad = 0;
    ssize_t r;
    while ((r = read(xfer[0], in, sizeof in)) > 0) {
        for (ssize_t i = 0; i < r; i++)
            bad += in[i] != (unsigned char)((got + (size_t)i) * 13);
        got += (size_t)r;
    }
    pthread_join(t, NULL);
    close(xfer[0]);
    CHECK_EQ("1 MiB arrived through the pipe", got, TRANSFER);
    CHECK_EQ("in order and intact", bad, 0);

    /* readv / writev. */
    REQUIRE(pipe(p) == 0);
    struct iovec out[3] = {{"one ", 4}, {"two ", 4}, {"three", 5}};
    CHECK_EQ("writev gathers", writev(p[1], out, 3), 13);
    char a[6] = {0}, b[9] = {0}; /* b: 8 bytes read and the NUL strcmp needs */
    struct iovec iv[2] = {{a, 5}, {b, 8}};
    CHECK_EQ("readv scatters", readv(p[0], iv, 2), 13);
    CHECK("readv filled both", strcmp(a, "one t") == 0 && strcmp(b, "wo three") == 0);
    close(p[0]);
    close(p[1]);

    /* /dev files. */
    int dn = open("/dev/null", O_RDWR);
    CHECK_EQ("/dev/null swallows writes", write(dn, "gone", 4), 4);
    CHECK_EQ("/dev/null reads EOF", read(dn, buf, 10), 0);
    fstat(dn, &st);
    CHECK("/dev/null is char device 1:3",
          S_ISCHR(st.st_mode) && major(st.st_rdev) == 1 && minor(st.st_rdev) == 3);
    close(dn);
    int dz = open("/dev/zero", O_RDONLY);
    memset(buf, 0x77, sizeof buf);
    CHECK_EQ("/dev/zero reads", read(dz, buf, sizeof buf), (long)sizeof buf);
    CHECK("/dev/zero gives zeros", buf[0] == 0 && buf[63] == 0);
    close(dz);
    const char *rand_devs[] = {"/dev/urandom", "/dev/random"};
    for (int i = 0; i < 2; i++) {
        int dr = open(rand_devs[i], O_RDONLY);
        char x[32] = {0}, y[32] = {0};
        char name[64];
        snprintf(name, sizeof name, "%s gives different bytes each read", rand_devs[i]);
        CHECK(name, read(dr, x, 32) == 32 && read(dr, y, 32) == 32 && memcmp(x, y, 32) != 0);
        close(dr);
    }
    CHECK_OK("/dev/console exists", stat("/dev/console", &st));
    CHECK("/dev/console is a character device", S_ISCHR(st.st_mode));

    /* ioctl: a pipe and a regular file are not terminals. */
    REQUIRE(pipe(p) == 0);
    struct termios tio;
    struct winsize ws;
    CHECK_ERRNO("TCGETS on a pipe is ENOTTY", ioctl(p[0], TCGETS, &tio), ENOTTY);
    CHECK_ERRNO("TIOCGWINSZ on a pipe is ENOTTY", ioctl(p[1], TIOCGWINSZ, &ws), ENOTTY);
    CHECK_ERRNO("TCGETS on a file is ENOTTY", ioctl(d, TCGETS, &tio), ENOTTY);
    CHECK("isatty on a pipe is false", !isatty(p[0]));
    CHECK_ERRNO("ioctl on a bad fd is EBADF", ioctl(999, TCGETS, &tio), EBADF);
    return check_done();
}
