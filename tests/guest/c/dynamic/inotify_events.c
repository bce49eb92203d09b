/* inotify: the errors of inotify_init1, inotify_add_watch and inotify_rm_watch, then the events a
 * directory watch and a file watch see, step by step, for creates, opens, reads, writes, chmod,
 * truncation, renames (cookies), links, unlinks, symlinks, mkdir/rmdir and directory reads; the
 * merging of identical events, IN_ONESHOT, IN_IGNORED, FIONREAD, short read buffers, a blocking
 * read woken by another thread, and the overflow of a full queue. With "poll" as argv[1]: poll
 * readiness instead. Events print as "WATCH MASK [cookie] [name]", cookies numbered in order of
 * appearance. Works in a fresh directory under /tmp and removes it at the end. */
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"

static char dir[64];
static int wd_dir = -100, wd_file = -100, wd_sub = -100;
static uint32_t cookies[16];
static int ncookies;

static const char *watch_name(int wd)
{
    if (wd == wd_dir)
        return "D";
    if (wd == wd_file)
        return "F";
    if (wd == wd_sub)
        return "S";
    if (wd == -1)
        return "-1";
    return "?";
}

static void print_mask(uint32_t mask)
{
    static const struct {
        uint32_t bit;
        const char *name;
    } bits[] = {
        {IN_ACCESS, "ACCESS"},         {IN_MODIFY, "MODIFY"},
        {IN_ATTRIB, "ATTRIB"},         {IN_CLOSE_WRITE, "CLOSE_WRITE"},
        {IN_CLOSE_NOWRITE, "CLOSE_NOWRITE"}, {IN_OPEN, "OPEN"},
        {IN_MOVED_FROM, "MOVED_FROM"}, {IN_MOVED_TO, "MOVED_TO"},
        {IN_CREATE, "CREATE"},         {IN_DELETE, "DELETE"},
        {IN_DELETE_SELF, "DELETE_SELF"}, {IN_MOVE_SELF, "MOVE_SELF"},
        {IN_UNMOUNT, "UNMOUNT"},       {IN_Q_OVERFLOW, "Q_OVERFLOW"},
        {IN_IGNORED, "IGNORED"},       {IN_ISDIR, "ISDIR"},
    };
    const char *sep = "";
    for (size_t i = 0; i < sizeof bits / sizeof bits[0]; i++) {
        if (mask & bits[i].bit) {
            printf("%s%s", sep, bits[i].name);
            sep = "|";
            mask &= ~bits[i].bit;
        }
    }
    if (mask)
        printf("%s0x%x", sep, mask);
}

static int cookie_number(uint32_t c)
{
    for (int i = 0; i < ncookies; i++)
        if (cookies[i] == c)
            return i + 1;
    if (ncookies < 16)
        cookies[ncookies++] = c;
    return ncookies;
}

/* Reads and prints every queued event of fd (non-blocking); returns how many there were. */
static int drain(int fd, const char *step)
{
    char buf[4096] __attribute__((aligned(8)));
    int n = 0;
    printf("%s:\n", step);
    for (;;) {
        ssize_t len = read(fd, buf, sizeof buf);
        if (len < 0)
            break;
        for (char *p = buf; p < buf + len;) {
            struct inotify_event *e = (struct inotify_event *)p;
            printf("  %s ", watch_name(e->wd));
            print_mask(e->mask);
            if (e->cookie)
                printf(" cookie%d", cookie_number(e->cookie));
            if (e->len)
                printf(" %s", e->name);
            printf("\n");
            p += sizeof *e + e->len;
            n++;
        }
    }
    return n;
}

static void path_of(char *out, size_t size, const char *name)
{
    snprintf(out, size, "%s/%s", dir, name);
}

static void write_file(const char *name, int flags, const char *text)
{
    char p[128];
    path_of(p, sizeof p, name);
    int fd = open(p, flags, 0644);
    if (fd < 0) {
        printf("open %s: %s\n", name, errno_name(errno));
        return;
    }
    if (text && write(fd, text, strlen(text)) < 0)
        printf("write %s: %s\n", name, errno_name(errno));
    close(fd);
}

static void check_errors(void)
{
    errno = 0;
    CHECK_ERRNO("init1_bad_flags", inotify_init1(1), EINVAL);
    int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    CHECK("init1", fd >= 0);
    CHECK("init1_cloexec", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
    CHECK("init1_nonblock", (fcntl(fd, F_GETFL) & O_NONBLOCK) != 0);
    char buf[64];
    CHECK_ERRNO("read_empty_nonblocking", (int)read(fd, buf, sizeof buf), EAGAIN);
    CHECK_ERRNO("write_ebadf", (int)write(fd, "x", 1), EBADF);
    CHECK_ERRNO("add_mask_zero", inotify_add_watch(fd, dir, 0), EINVAL);
    CHECK_ERRNO("add_mask_add_and_create",
                inotify_add_watch(fd, dir, IN_MODIFY | IN_MASK_ADD | IN_MASK_CREATE), EINVAL);
    CHECK_ERRNO("add_bad_fd", inotify_add_watch(999, dir, IN_MODIFY), EBADF);
    int pipefd[2];
    if (pipe(pipefd) == 0) {
        CHECK_ERRNO("add_not_inotify", inotify_add_watch(pipefd[0], dir, IN_MODIFY), EINVAL);
        CHECK_ERRNO("rm_not_inotify", inotify_rm_watch(pipefd[0], 1), EINVAL);
        close(pipefd[0]);
        close(pipefd[1]);
    }
    CHECK_ERRNO("add_missing", inotify_add_watch(fd, "/nonexistent/x", IN_MODIFY), ENOENT);
    write_file("plain", O_CREAT | O_WRONLY, 0);
    char p[128];
    path_of(p, sizeof p, "plain");
    CHECK_ERRNO("add_onlydir_file", inotify_add_watch(fd, p, IN_MODIFY | IN_ONLYDIR), ENOTDIR);
    int wd = inotify_add_watch(fd, dir, IN_CREATE);
    CHECK("add_dir", wd >= 1);
    CHECK("add_again_same_wd", inotify_add_watch(fd, dir, IN_DELETE) == wd);
    CHECK_ERRNO("add_mask_create_exists", inotify_add_watch(fd, dir, IN_MODIFY | IN_MASK_CREATE),
                EEXIST);
    int wd2 = inotify_add_watch(fd, p, IN_MODIFY);
    CHECK("second_watch_new_wd", wd2 > wd);
    CHECK_ERRNO("rm_unknown_wd", inotify_rm_watch(fd, 12345), EINVAL);
    CHECK("rm_ok", inotify_rm_watch(fd, wd2) == 0);
    CHECK_ERRNO("rm_twice", inotify_rm_watch(fd, wd2), EINVAL);
    struct stat st;
    CHECK("fstat", fstat(fd, &st) == 0 && (st.st_mode & 0777) == 0600 && !S_ISREG(st.st_mode));
    unlink(p);
    close(fd);
}

struct late_writer {
    int delay_ms;
};

static void *write_later(void *arg)
{
    struct late_writer *lw = arg;
    usleep((useconds_t)lw->delay_ms * 1000);
    write_file("late", O_CREAT | O_WRONLY, "x");
    return 0;
}

/* "poll": an inotify descriptor is readable exactly when events are queued, for poll() with
 * and without a timeout, and a poll() that waits is woken by another thread's change. */
static int poll_checks(void)
{
    int fd = inotify_init1(IN_NONBLOCK);
    wd_dir = inotify_add_watch(fd, dir, IN_CREATE);
    struct pollfd pfd = {fd, POLLIN, 0};
    CHECK("poll_empty", poll(&pfd, 1, 0) == 0);
    write_file("polled", O_CREAT | O_WRONLY, 0);
    CHECK("poll_ready", poll(&pfd, 1, 0) == 1 && pfd.revents == POLLIN);
    drain(fd, "create polled");
    CHECK("poll_empty_again", poll(&pfd, 1, 0) == 0);
    pthread_t t;
    struct late_writer lw = {50};
    pthread_create(&t, 0, write_later, &lw);
    CHECK("poll_woken", poll(&pfd, 1, 5000) == 1 && pfd.revents == POLLIN);
    pthread_join(t, 0);
    drain(fd, "create late");
    close(fd);
    char p[128];
    path_of(p, sizeof p, "polled");
    unlink(p);
    path_of(p, sizeof p, "late");
    unlink(p);
    CHECK("cleanup", rmdir(dir) == 0);
    return check_done();
}

int main(int argc, char **argv)
{
    snprintf(dir, sizeof dir, "/tmp/lwjvm-inotify-%d", getpid());
    if (mkdir(dir, 0755) != 0) {
        printf("mkdir: %s\n", errno_name(errno));
        return 2;
    }
    if (argc > 1 && !strcmp(argv[1], "poll"))
        return poll_checks();
    check_errors();

    int fd = inotify_init1(IN_NONBLOCK);
    wd_dir = inotify_add_watch(fd, dir, IN_ALL_EVENTS);
    CHECK("watch_dir", wd_dir >= 1);
    char p[128], q[128];

    write_file("a", O_CREAT | O_WRONLY, "hello");
    drain(fd, "create a, write, close");

    path_of(p, sizeof p, "a");
    wd_file = inotify_add_watch(fd, p, IN_ALL_EVENTS);
    CHECK("watch_file", wd_file > wd_dir);
    int rfd = open(p, O_RDONLY);
    char buf[16];
    CHECK("read_a", read(rfd, buf, sizeof buf) == 5);
    CHECK("read_eof", read(rfd, buf, sizeof buf) == 0);
    close(rfd);
    drain(fd, "open a, read, read at EOF, close");

    chmod(p, 0600);
    drain(fd, "chmod a");
    write_file("a", O_WRONLY | O_TRUNC, 0);
    drain(fd, "open a O_TRUNC, close");
    truncate(p, 100);
    drain(fd, "truncate a");

    path_of(q, sizeof q, "sub");
    mkdir(q, 0755);
    drain(fd, "mkdir sub");

    path_of(q, sizeof q, "c");
    rename(p, q);
    drain(fd, "rename a c");
    write_file("c", O_WRONLY | O_APPEND, "more");
    drain(fd, "append to c");

    char r[128];
    path_of(r, sizeof r, "d");
    link(q, r);
    drain(fd, "link c d");
    unlink(r);
    drain(fd, "unlink d");
    path_of(r, sizeof r, "sub/c2");
    rename(q, r);
    drain(fd, "rename c sub/c2 (out of the watched directory)");
    rename(r, q);
    drain(fd, "rename sub/c2 c (back)");
    unlink(q);
    drain(fd, "unlink c (its last name)");

    path_of(q, sizeof q, "s");
    symlink("c", q);
    drain(fd, "symlink s");
    unlink(q);
    drain(fd, "unlink s");

    path_of(q, sizeof q, "sub");
    rmdir(q);
    drain(fd, "rmdir sub");

    path_of(q, sizeof q, "sub2");
    mkdir(q, 0755);
    wd_sub = inotify_add_watch(fd, q, IN_ALL_EVENTS);
    drain(fd, "mkdir sub2, watch it");
    write_file("sub2/x", O_CREAT | O_WRONLY, "x");
    drain(fd, "create sub2/x");
    path_of(r, sizeof r, "sub2/x");
    unlink(r);
    rmdir(q);
    drain(fd, "unlink sub2/x, rmdir sub2");

    path_of(q, sizeof q, "sub3");
    mkdir(q, 0755);
    wd_sub = inotify_add_watch(fd, q, IN_ALL_EVENTS);
    path_of(r, sizeof r, "sub4");
    rename(q, r);
    drain(fd, "mkdir sub3, watch it, rename sub3 sub4");
    rmdir(r);
    drain(fd, "rmdir sub4");

    DIR *dp = opendir(dir);
    while (dp && readdir(dp))
        ;
    if (dp)
        closedir(dp);
    drain(fd, "opendir, readdir, closedir");

    /* A file still open when its last name goes: IN_DELETE_SELF waits for the close. */
    write_file("open", O_CREAT | O_WRONLY, "x");
    path_of(p, sizeof p, "open");
    wd_file = inotify_add_watch(fd, p, IN_ALL_EVENTS);
    drain(fd, "create open, watch it");
    int ofd = open(p, O_RDONLY);
    unlink(p);
    drain(fd, "open it, unlink it");
    close(ofd);
    drain(fd, "close it");

    /* One-shot: the first event, then IN_IGNORED. */
    write_file("once", O_CREAT | O_WRONLY, 0);
    path_of(p, sizeof p, "once");
    inotify_rm_watch(fd, wd_dir);
    drain(fd, "rm_watch D");
    wd_dir = -100;
    wd_file = inotify_add_watch(fd, p, IN_MODIFY | IN_ONESHOT);
    write_file("once", O_WRONLY, "1");
    write_file("once", O_WRONLY, "2");
    drain(fd, "oneshot watch, two writes");

    /* IN_MASK_ADD widens a watch; merging of identical events. */
    wd_file = inotify_add_watch(fd, p, IN_OPEN);
    CHECK("mask_add_same_wd", inotify_add_watch(fd, p, IN_MODIFY | IN_MASK_ADD) == wd_file);
    int wfd = open(p, O_WRONLY);
    for (int i = 0; i < 3; i++)
        write(wfd, "abc", 3);
    close(wfd);
    int pending = -1;
    ioctl(fd, FIONREAD, &pending);
    check_detail("fionread", pending == 32, "%d", pending);
    char small[16];
    CHECK_ERRNO("read_too_small", (int)read(fd, small, 8), EINVAL);
    drain(fd, "open|modify watch, open, 3 writes, close");
    inotify_rm_watch(fd, wd_file);
    drain(fd, "rm_watch F");

    /* A name needs room too: 16 bytes are not enough for an event with a name. */
    wd_dir = inotify_add_watch(fd, dir, IN_CREATE);
    write_file("n", O_CREAT | O_WRONLY, 0);
    CHECK_ERRNO("read_no_room_for_name", (int)read(fd, small, 16), EINVAL);
    drain(fd, "create n");
    close(fd);

    /* A blocking read waits for the event another thread causes. */
    int bfd = inotify_init();
    wd_dir = inotify_add_watch(bfd, dir, IN_CREATE);
    pthread_t t;
    struct late_writer lw = {50};
    pthread_create(&t, 0, write_later, &lw);
    char ebuf[256] __attribute__((aligned(8)));
    ssize_t n = read(bfd, ebuf, sizeof ebuf);
    struct inotify_event *e = (struct inotify_event *)ebuf;
    CHECK("blocking_read_woken", n > 0 && (e->mask & IN_CREATE) && !strcmp(e->name, "late"));
    pthread_join(t, 0);

    close(bfd);

    /* A full queue: 16384 events, then one IN_Q_OVERFLOW; later events are lost. */
    int ofd2 = inotify_init1(IN_NONBLOCK);
    wd_dir = inotify_add_watch(ofd2, dir, IN_CREATE | IN_DELETE);
    path_of(p, sizeof p, "churn");
    for (int i = 0; i < 8200; i++) { /* CREATE, DELETE, CREATE...: no two alike in a row */
        close(open(p, O_CREAT | O_WRONLY, 0644));
        unlink(p);
    }
    int events = 0, overflow_last = 0;
    char big[4096] __attribute__((aligned(8)));
    ssize_t len;
    while ((len = read(ofd2, big, sizeof big)) > 0) {
        for (char *c = big; c < big + len;) {
            struct inotify_event *ev = (struct inotify_event *)c;
            events++;
            overflow_last = ev->mask == IN_Q_OVERFLOW && ev->wd == -1;
            c += sizeof *ev + ev->len;
        }
    }
    check_detail("overflow", events == 16385 && overflow_last, "%d events", events);
    close(ofd2);

    const char *names[] = {"n", "once", "late"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        path_of(p, sizeof p, names[i]);
        unlink(p);
    }
    CHECK("cleanup", rmdir(dir) == 0);
    return check_done();
}
