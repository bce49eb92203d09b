/* Readiness: poll, ppoll, select and pselect6 on pipes, socketpairs and eventfds (timeouts,
 * POLLNVAL, POLLHUP and POLLERR, a wait woken by another thread, ppoll's and pselect6's signal
 * mask), epoll (level- and edge-triggered, EPOLLONESHOT and its re-arm by EPOLL_CTL_MOD,
 * EPOLLRDHUP and EPOLLHUP on a closed socketpair peer, an epoll inside an epoll, loops refused,
 * the errno of every misuse, an item outliving one of two descriptors), and eventfd (counter and
 * semaphore modes, EFD_NONBLOCK, overflow). Every event mask is printed in full, so the host's
 * exact bits are the oracle. */
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../check.h"

static int pipe_w; /* for the thread that writes late */

/* Writes one byte after 50 ms; returns the write's result (checked by the main thread after the
 * join, so the output's order does not depend on scheduling). */
static void *late_writer(void *arg)
{
    (void)arg;
    usleep(50000);
    return (void *)(long)write(pipe_w, "x", 1);
}

static volatile sig_atomic_t usr1_hits;
static void on_usr1(int sig) { (void)sig; usr1_hits++; }

static int revents_of(int fd, short events, int timeout)
{
    struct pollfd p = {fd, events, 0};
    int n = poll(&p, 1, timeout);
    return n < 0 ? -errno : p.revents;
}

static void check_mask(const char *name, int got, int want)
{
    check_detail(name, got == want, "got 0x%x, want 0x%x", got, want);
}

static uint32_t one_event(int ep, int timeout, uint64_t *data)
{
    struct epoll_event ev[4];
    int n = epoll_wait(ep, ev, 4, timeout);
    if (n != 1)
        return n < 0 ? 0x80000000u | (uint32_t)errno : 0x40000000u | (uint32_t)n;
    if (data)
        *data = ev[0].data.u64;
    return ev[0].events;
}

static void test_poll(void)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    check_mask("poll empty pipe times out", revents_of(p[0], POLLIN, 0), 0);
    CHECK_EQ("poll empty pipe returns 0", poll(&(struct pollfd){p[0], POLLIN, 0}, 1, 20), 0);
    check_mask("pipe write end is writable", revents_of(p[1], POLLOUT, 0), POLLOUT);
    REQUIRE(write(p[1], "ab", 2) == 2);
    check_mask("pipe with data", revents_of(p[0], POLLIN | POLLOUT | POLLRDNORM, 0),
               POLLIN | POLLRDNORM);
    struct pollfd two[3] = {{p[0], POLLIN, 0}, {-1, POLLIN, 0}, {999, POLLIN, 0}};
    CHECK_EQ("poll counts ready and invalid entries", poll(two, 3, 0), 2);
    check_mask("negative fd is ignored", two[1].revents, 0);
    check_mask("closed fd is POLLNVAL", two[2].revents, POLLNVAL);
    close(p[1]);
    check_mask("writer gone: POLLIN|POLLHUP", revents_of(p[0], POLLIN, 0), POLLIN | POLLHUP);
    char buf[8];
    REQUIRE(read(p[0], buf, sizeof buf) == 2);
    check_mask("drained, writer gone: POLLHUP even unasked", revents_of(p[0], 0, 0), POLLHUP);
    close(p[0]);

    REQUIRE(pipe(p) == 0);
    close(p[0]);
    check_mask("reader gone: POLLOUT|POLLERR", revents_of(p[1], POLLOUT, 0), POLLOUT | POLLERR);
    close(p[1]);

    /* A full pipe is not writable. */
    REQUIRE(pipe2(p, O_NONBLOCK) == 0);
    static char chunk[4096];
    while (write(p[1], chunk, sizeof chunk) > 0) {
    }
    check_mask("full pipe: not writable", revents_of(p[1], POLLOUT, 0), 0);
    while (read(p[0], chunk, sizeof chunk) > 0) {
    }
    check_mask("drained pipe: writable again", revents_of(p[1], POLLOUT, 0), POLLOUT);
    close(p[0]);
    close(p[1]);

    /* A blocking poll woken by another thread's write. */
    REQUIRE(pipe(p) == 0);
    pipe_w = p[1];
    pthread_t t;
    start_thread(&t, NULL, late_writer, NULL);
    struct pollfd pf = {p[0], POLLIN, 0};
    CHECK_EQ("poll waits for the other thread's write", poll(&pf, 1, 5000), 1);
    check_mask("and sees POLLIN", pf.revents, POLLIN);
    CHECK("late write", join_thread(t, 10) == (void *)1L);
    close(p[0]);
    close(p[1]);

    CHECK_ERRNO("poll with a bad array is EFAULT", poll(opaque_ptr(8), 1, 0), EFAULT);
    struct timespec bad = {0, 1000000000};
    CHECK_ERRNO("ppoll with nsec out of range is EINVAL", ppoll(&pf, 1, &bad, NULL), EINVAL);
}

static void test_socketpair_and_eventfd_poll(void)
{
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    check_mask("socketpair idle", revents_of(sv[0], POLLIN | POLLOUT | POLLRDHUP, 0),
               POLLOUT);
    REQUIRE(write(sv[1], "hi", 2) == 2);
    check_mask("socketpair with data", revents_of(sv[0], POLLIN | POLLOUT | POLLRDHUP, 0),
               POLLIN | POLLOUT);
    close(sv[1]);
    check_mask("socketpair peer closed",
               revents_of(sv[0], POLLIN | POLLOUT | POLLRDHUP | POLLRDNORM | POLLWRNORM, 0),
               POLLIN | POLLOUT | POLLRDHUP | POLLHUP | POLLRDNORM | POLLWRNORM);
    close(sv[0]);

    int e = eventfd(0, 0);
    REQUIRE(e >= 0);
    check_mask("eventfd at 0: writable only", revents_of(e, POLLIN | POLLOUT, 0), POLLOUT);
    uint64_t v = 3;
    REQUIRE(write(e, &v, 8) == 8);
    check_mask("eventfd at 3: readable", revents_of(e, POLLIN | POLLOUT, 0), POLLIN | POLLOUT);
    close(e);
}

static void test_select(void)
{
    int p[2], sv[2];
    REQUIRE(pipe(p) == 0);
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    fd_set r, w;
    FD_ZERO(&r);
    FD_ZERO(&w);
    FD_SET(p[0], &r);
    FD_SET(p[1], &w);
    FD_SET(sv[0], &r);
    FD_SET(sv[0], &w);
    int maxfd = (p[1] > sv[0] ? p[1] : sv[0]) + 1;
    struct timeval tv = {0, 0};
    CHECK_EQ("select: two writable", select(maxfd, &r, &w, NULL, &tv), 2);
    CHECK("select: pipe read end not set", !FD_ISSET(p[0], &r) && !FD_ISSET(sv[0], &r));
    CHECK("select: write ends set", FD_ISSET(p[1], &w) && FD_ISSET(sv[0], &w));

    FD_ZERO(&r);
    FD_SET(p[0], &r);
    tv = (struct timeval){0, 30000};
    CHECK_EQ("select times out", select(p[0] + 1, &r, NULL, NULL, &tv), 0);
    CHECK("select timeout: set cleared", !FD_ISSET(p[0], &r));
    CHECK("select timeout: timeval counted down to 0", tv.tv_sec == 0 && tv.tv_usec == 0);

    REQUIRE(write(sv[1], "z", 1) == 1);
    FD_ZERO(&r);
    FD_SET(sv[0], &r);
    FD_SET(p[0], &r);
    CHECK_EQ("select: socketpair readable", select(maxfd, &r, NULL, NULL, NULL), 1);
    CHECK("select: only it", FD_ISSET(sv[0], &r) && !FD_ISSET(p[0], &r));

    /* A closed descriptor below the table's size (Linux ignores bits past it). */
    int dead = dup(p[0]);
    REQUIRE(dead >= 0);
    close(dead);
    FD_ZERO(&r);
    FD_SET(dead, &r);
    tv = (struct timeval){0, 0};
    CHECK_ERRNO("select on a closed fd is EBADF", select(dead + 1, &r, NULL, NULL, &tv), EBADF);
    CHECK_ERRNO("select with n < 0 is EINVAL", select(-1, NULL, NULL, NULL, &tv), EINVAL);
    tv = (struct timeval){-1, 0};
    CHECK_ERRNO("select with a negative timeout is EINVAL", select(1, NULL, NULL, NULL, &tv),
                EINVAL);

    struct timespec ts = {0, 0};
    FD_ZERO(&w);
    FD_SET(p[1], &w);
    CHECK_EQ("pselect: pipe writable", pselect(p[1] + 1, NULL, &w, NULL, &ts, NULL), 1);
    close(p[0]);
    close(p[1]);
    close(sv[0]);
    close(sv[1]);
}

/* ppoll and pselect with a signal mask: SIGUSR1 is blocked outside the call and let through
 * inside it; the handler runs, the call fails with EINTR, and the mask is blocked again after. */
static void test_signal_masks(void)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = SA_RESTART; /* poll and select are EINTR anyway */
    sigaction(SIGUSR1, &sa, NULL);
    sigset_t block, empty, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigemptyset(&empty);
    sigprocmask(SIG_BLOCK, &block, NULL);
    raise(SIGUSR1);
    CHECK_EQ("SIGUSR1 pending while blocked", usr1_hits, 0);
    int p[2];
    REQUIRE(pipe(p) == 0);
    struct pollfd pf = {p[0], POLLIN, 0};
    struct timespec ts = {5, 0};
    CHECK_ERRNO("ppoll lets SIGUSR1 in: EINTR", ppoll(&pf, 1, &ts, &empty), EINTR);
    CHECK_EQ("ppoll: the handler ran once", usr1_hits, 1);
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK("ppoll: SIGUSR1 blocked again after", sigismember(&now, SIGUSR1));
    CHECK_EQ("ppoll with the old mask times out", ppoll(&pf, 1, &(struct timespec){0, 1000000}, &block), 0);

    raise(SIGUSR1);
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    CHECK_ERRNO("pselect lets SIGUSR1 in: EINTR", pselect(p[0] + 1, &r, NULL, NULL, &ts, &empty),
                EINTR);
    CHECK_EQ("pselect: the handler ran", usr1_hits, 2);
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK("pselect: SIGUSR1 blocked again after", sigismember(&now, SIGUSR1));

    int ep = epoll_create1(0);
    REQUIRE(ep >= 0);
    struct epoll_event ev;
    raise(SIGUSR1);
    CHECK_ERRNO("epoll_pwait lets SIGUSR1 in: EINTR", epoll_pwait(ep, &ev, 1, 5000, &empty), EINTR);
    CHECK_EQ("epoll_pwait: the handler ran", usr1_hits, 3);
    sigprocmask(SIG_BLOCK, NULL, &now);
    CHECK("epoll_pwait: SIGUSR1 blocked again after", sigismember(&now, SIGUSR1));
    close(ep);
    close(p[0]);
    close(p[1]);
    sigprocmask(SIG_UNBLOCK, &block, NULL);
}

static void test_epoll(void)
{
    int ep = epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(ep >= 0);
    char buf8[8] = {0};
    CHECK("epoll_create1(EPOLL_CLOEXEC) sets FD_CLOEXEC", fcntl(ep, F_GETFD) == FD_CLOEXEC);
    int p[2];
    REQUIRE(pipe(p) == 0);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = 0x1122334455667788ull};
    CHECK_OK("EPOLL_CTL_ADD a pipe", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev));
    CHECK_ERRNO("add twice is EEXIST", epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev), EEXIST);
    CHECK_ERRNO("mod of an unknown fd is ENOENT", epoll_ctl(ep, EPOLL_CTL_MOD, p[1], &ev), ENOENT);
    CHECK_ERRNO("del of an unknown fd is ENOENT", epoll_ctl(ep, EPOLL_CTL_DEL, p[1], NULL), ENOENT);
    CHECK_ERRNO("an epoll cannot watch itself", epoll_ctl(ep, EPOLL_CTL_ADD, ep, &ev), EINVAL);
    CHECK_ERRNO("bad epfd is EBADF", epoll_ctl(999, EPOLL_CTL_ADD, p[0], &ev), EBADF);
    CHECK_ERRNO("epfd not an epoll is EINVAL", epoll_ctl(p[1], EPOLL_CTL_ADD, p[0], &ev), EINVAL);
    CHECK_ERRNO("bad op is EINVAL", epoll_ctl(ep, 42, p[1], &ev), EINVAL);
    CHECK_ERRNO("bad event pointer is EFAULT", epoll_ctl(ep, EPOLL_CTL_ADD, p[1], opaque_ptr(8)),
                EFAULT);
    char path[64];
    snprintf(path, sizeof path, "/tmp/lwjvm-epoll-%d", getpid());
    int reg = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(reg >= 0);
    unlink(path);
    CHECK_ERRNO("a regular file is EPERM", epoll_ctl(ep, EPOLL_CTL_ADD, reg, &ev), EPERM);
    close(reg);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    CHECK_ERRNO("EPOLLEXCLUSIVE with mod is EINVAL", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev),
                EINVAL);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE | EPOLLONESHOT;
    CHECK_ERRNO("EPOLLEXCLUSIVE with EPOLLONESHOT is EINVAL",
                epoll_ctl(ep, EPOLL_CTL_ADD, p[1], &ev), EINVAL);
    struct epoll_event evs[2];
    CHECK_ERRNO("maxevents 0 is EINVAL", epoll_wait(ep, evs, 0, 0), EINVAL);
    CHECK_ERRNO("epoll_wait on a pipe is EINVAL", epoll_wait(p[0], evs, 1, 0), EINVAL);
    CHECK_ERRNO("epoll_create(0) is EINVAL", epoll_create(0), EINVAL);
    CHECK_ERRNO("read of an epoll is EINVAL", read(ep, buf8, sizeof buf8), EINVAL);
    CHECK_ERRNO("write to an epoll is EINVAL", write(ep, buf8, sizeof buf8), EINVAL);
    CHECK_ERRNO("epoll_create1(1) is EINVAL", epoll_create1(1), EINVAL);

    /* Level-triggered: reported while data is there. */
    CHECK_EQ("LT: nothing yet", epoll_wait(ep, evs, 2, 0), 0);
    CHECK_EQ("LT: times out after 20 ms", epoll_wait(ep, evs, 2, 20), 0);
    REQUIRE(write(p[1], "abc", 3) == 3);
    uint64_t data = 0;
    check_mask("LT: EPOLLIN", (int)one_event(ep, 1000, &data), EPOLLIN);
    CHECK("LT: data round-trips", data == 0x1122334455667788ull);
    check_mask("LT: again while unread", (int)one_event(ep, 0, NULL), EPOLLIN);
    char buf[8];
    REQUIRE(read(p[0], buf, sizeof buf) == 3);
    CHECK_EQ("LT: gone once read", epoll_wait(ep, evs, 2, 0), 0);

    /* Edge-triggered: once per new write. */
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLET, .data.u64 = 2};
    CHECK_OK("MOD to EPOLLET", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    REQUIRE(write(p[1], "a", 1) == 1);
    check_mask("ET: first report", (int)one_event(ep, 1000, NULL), EPOLLIN);
    CHECK_EQ("ET: not again while unread", epoll_wait(ep, evs, 2, 0), 0);
    REQUIRE(write(p[1], "b", 1) == 1);
    check_mask("ET: new data reports again", (int)one_event(ep, 1000, NULL), EPOLLIN);
    REQUIRE(read(p[0], buf, sizeof buf) == 2);

    /* One-shot: disabled after one report until MOD re-arms it. */
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLONESHOT, .data.u64 = 3};
    CHECK_OK("MOD to EPOLLONESHOT", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    REQUIRE(write(p[1], "c", 1) == 1);
    check_mask("ONESHOT: reported once", (int)one_event(ep, 1000, NULL), EPOLLIN);
    REQUIRE(write(p[1], "d", 1) == 1);
    CHECK_EQ("ONESHOT: then silent", epoll_wait(ep, evs, 2, 0), 0);
    CHECK_OK("ONESHOT: re-armed by MOD", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    check_mask("ONESHOT: reported after MOD", (int)one_event(ep, 1000, NULL), EPOLLIN);
    REQUIRE(read(p[0], buf, sizeof buf) == 2);

    /* Writer closed: EPOLLHUP, which is always watched. */
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 4};
    CHECK_OK("MOD back to LT", epoll_ctl(ep, EPOLL_CTL_MOD, p[0], &ev));
    close(p[1]);
    check_mask("writer closed: EPOLLHUP", (int)one_event(ep, 1000, NULL), EPOLLHUP);
    CHECK_OK("DEL", epoll_ctl(ep, EPOLL_CTL_DEL, p[0], NULL));
    CHECK_EQ("nothing after DEL", epoll_wait(ep, evs, 2, 0), 0);
    close(p[0]);

    /* A socketpair peer closing: EPOLLRDHUP and EPOLLHUP. */
    int sv[2];
    REQUIRE(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLRDHUP | EPOLLET, .data.u64 = 5};
    CHECK_OK("ADD socketpair end", epoll_ctl(ep, EPOLL_CTL_ADD, sv[0], &ev));
    CHECK_EQ("socketpair: quiet", epoll_wait(ep, evs, 2, 0), 0);
    close(sv[1]);
    check_mask("peer closed: EPOLLIN|EPOLLRDHUP|EPOLLHUP", (int)one_event(ep, 1000, NULL),
               EPOLLIN | EPOLLRDHUP | EPOLLHUP);

    /* The item belongs to the open file, not to one descriptor: a dup keeps it alive. */
    int e = eventfd(0, EFD_NONBLOCK);
    REQUIRE(e >= 0);
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 6};
    CHECK_OK("ADD eventfd", epoll_ctl(ep, EPOLL_CTL_ADD, e, &ev));
    int e2 = dup(e);
    close(e);
    uint64_t one = 1;
    REQUIRE(write(e2, &one, 8) == 8);
    CHECK_EQ("closed fd, file still open: still reported", epoll_wait(ep, evs, 2, 0), 1);
    CHECK("with its data", evs[0].data.u64 == 6);
    close(e2);
    CHECK_EQ("last descriptor closed: gone", epoll_wait(ep, evs, 2, 0), 0);
    close(sv[0]);

    /* An epoll inside an epoll. */
    int inner = epoll_create1(0), outer = epoll_create1(0);
    REQUIRE(inner >= 0 && outer >= 0);
    REQUIRE(pipe(p) == 0);
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 7};
    CHECK_OK("inner watches a pipe", epoll_ctl(inner, EPOLL_CTL_ADD, p[0], &ev));
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 8};
    CHECK_OK("outer watches inner", epoll_ctl(outer, EPOLL_CTL_ADD, inner, &ev));
    CHECK_ERRNO("inner watching outer is a loop: ELOOP",
                epoll_ctl(inner, EPOLL_CTL_ADD, outer, &ev), ELOOP);
    ev.events = EPOLLIN | EPOLLEXCLUSIVE;
    CHECK_ERRNO("EPOLLEXCLUSIVE on an epoll is EINVAL", epoll_ctl(ep, EPOLL_CTL_ADD, inner, &ev),
                EINVAL);
    CHECK_EQ("outer: quiet", epoll_wait(outer, evs, 2, 0), 0);
    check_mask("poll of an idle epoll", revents_of(inner, POLLIN, 0), 0);
    REQUIRE(write(p[1], "n", 1) == 1);
    check_mask("outer sees inner readable", (int)one_event(outer, 1000, &data), EPOLLIN);
    CHECK("outer's data", data == 8);
    check_mask("poll of a ready epoll", revents_of(inner, POLLIN, 0), POLLIN);
    check_mask("inner reports the pipe", (int)one_event(inner, 0, &data), EPOLLIN);
    REQUIRE(read(p[0], buf, 1) == 1);
    CHECK_EQ("drained: outer quiet again", epoll_wait(outer, evs, 2, 0), 0);
    close(inner);
    close(outer);
    close(p[0]);
    close(p[1]);

    /* EPOLLEXCLUSIVE: with nobody waiting in epoll_wait, every epoll still gets the event. */
    int x1 = epoll_create1(0), x2 = epoll_create1(0), xe = eventfd(0, EFD_NONBLOCK);
    REQUIRE(x1 >= 0 && x2 >= 0 && xe >= 0);
    ev = (struct epoll_event){.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u64 = 10};
    CHECK_OK("EPOLLEXCLUSIVE add to one epoll", epoll_ctl(x1, EPOLL_CTL_ADD, xe, &ev));
    CHECK_OK("EPOLLEXCLUSIVE add to another", epoll_ctl(x2, EPOLL_CTL_ADD, xe, &ev));
    ev.events = EPOLLIN;
    CHECK_ERRNO("MOD of an EPOLLEXCLUSIVE item is EINVAL", epoll_ctl(x1, EPOLL_CTL_MOD, xe, &ev),
                EINVAL);
    REQUIRE(write(xe, &(uint64_t){1}, 8) == 8);
    check_mask("EPOLLEXCLUSIVE: the first epoll reports", (int)one_event(x1, 0, NULL), EPOLLIN);
    check_mask("EPOLLEXCLUSIVE: the second too", (int)one_event(x2, 0, NULL), EPOLLIN);
    close(x1);
    close(x2);
    close(xe);

    /* epoll_wait woken by another thread's write. */
    REQUIRE(pipe(p) == 0);
    ev = (struct epoll_event){.events = EPOLLIN, .data.u64 = 9};
    REQUIRE(epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
    pipe_w = p[1];
    pthread_t t;
    start_thread(&t, NULL, late_writer, NULL);
    check_mask("epoll_wait waits for the other thread", (int)one_event(ep, 5000, &data), EPOLLIN);
    CHECK("late write for epoll", join_thread(t, 10) == (void *)1L);
    struct timespec ts = {0, 1000000};
    CHECK_EQ("epoll_pwait2 with a timeout", epoll_pwait2(ep, evs, 2, &ts, NULL), 1);
    ts.tv_nsec = -1;
    CHECK_ERRNO("epoll_pwait2 with a bad timeout is EINVAL", epoll_pwait2(ep, evs, 2, &ts, NULL),
                EINVAL);
    close(p[0]);
    close(p[1]);
    close(ep);
}

static void test_eventfd(void)
{
    int e = eventfd(5, EFD_NONBLOCK | EFD_CLOEXEC);
    REQUIRE(e >= 0);
    CHECK("EFD_CLOEXEC", fcntl(e, F_GETFD) == FD_CLOEXEC);
    CHECK("EFD_NONBLOCK", (fcntl(e, F_GETFL) & O_NONBLOCK) != 0);
    uint64_t v = 0;
    CHECK_EQ("read takes the count", read(e, &v, 8), 8);
    CHECK_EQ("which was 5", (long)v, 5);
    CHECK_ERRNO("empty: EAGAIN", read(e, &v, 8), EAGAIN);
    CHECK_ERRNO("short read: EINVAL", read(e, &v, 4), EINVAL);
    v = ~0ull;
    CHECK_ERRNO("writing 2^64-1: EINVAL", write(e, &v, 8), EINVAL);
    v = ~0ull - 1;
    CHECK_EQ("writing 2^64-2", write(e, &v, 8), 8);
    v = 1;
    CHECK_ERRNO("overflow would block: EAGAIN", write(e, &v, 8), EAGAIN);
    check_mask("full counter: readable, not writable", revents_of(e, POLLIN | POLLOUT, 0), POLLIN);
    close(e);

    e = eventfd(3, EFD_SEMAPHORE | EFD_NONBLOCK);
    REQUIRE(e >= 0);
    int ones = 0;
    while (read(e, &v, 8) == 8 && v == 1)
        ones++;
    CHECK_EQ("semaphore mode: three reads of 1", ones, 3);
    CHECK_ERRNO("then EAGAIN", read(e, &v, 8), EAGAIN);
    close(e);
    CHECK_ERRNO("eventfd2 with bad flags is EINVAL", eventfd(0, 0x40), EINVAL);
}

int main(void)
{
    signal(SIGPIPE, SIG_IGN);
    test_poll();
    test_socketpair_and_eventfd_poll();
    test_select();
    test_signal_masks();
    test_epoll();
    test_eventfd();
    return check_done();
}
