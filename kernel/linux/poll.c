/* poll, ppoll, select and pselect6: one engine (do_poll) asks each file for its events through
 * file_ops.poll, queues a thread entry on each file's wait queue on the first pass, and blocks
 * until a queue is woken, the deadline passes or a signal comes; then it scans again. Errors,
 * the remaining-time write-back and the temporary signal mask are Linux's (fs/select.c). A
 * signal ends the wait with -ERESTARTNOHAND: EINTR if a handler runs, else a transparent restart
 * (with the original timeout). */
#include "arch/x86_64/tsc.h"
#include "errno.h"
#include "fs/poll.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"
#include "sched/thread.h"
#include "sched/wait.h"
#include "signal/signal.h"

#define NSEC_PER_SEC 1000000000ll
#define POLLIN_SET (EPOLLRDNORM | EPOLLRDBAND | EPOLLIN | EPOLLHUP | EPOLLERR)
#define POLLOUT_SET (EPOLLWRBAND | EPOLLWRNORM | EPOLLOUT | EPOLLERR)
#define POLLEX_SET EPOLLPRI
#define FD_SETSIZE_MAX MAX_FDS

struct kpollfd { /* struct pollfd */
    int32_t fd;
    int16_t events, revents;
};
_Static_assert(sizeof(struct kpollfd) == 8, "struct pollfd");

struct poll_entry {
    struct wait_entry w;
    struct file *file; /* a reference, while w is on the file's queue */
};

/* Polls pfds until one has events (or, select_mode, until one has events it asked for), the
 * monotonic deadline passes (0: none; nowait: do not block at all) or a signal comes. Returns
 * how many entries have revents, 0 on timeout, -ERESTARTNOHAND or -ENOMEM. In select_mode a
 * descriptor closed meanwhile is skipped instead of reporting POLLNVAL. */
static long do_poll(struct kpollfd *pfds, unsigned n, uint64_t deadline, int nowait, int select_mode)
{
    struct poll_entry *ents = 0;
    if (n && !nowait && !(ents = kmalloc(n * sizeof *ents)))
        return -ENOMEM;
    unsigned nents = 0;
    int first = 1, timed_out = nowait;
    long count;
    uint32_t always = select_mode ? 0 : EPOLLERR | EPOLLHUP;
    for (;;) {
        if (!timed_out) {
            thread_prepare_block();
            current()->wait_on = "poll";
        }
        count = 0;
        for (unsigned i = 0; i < n; i++) {
            struct kpollfd *p = &pfds[i];
            p->revents = 0;
            if (p->fd < 0)
                continue;
            struct file *f = fd_file(p->fd);
            if (!f) {
                if (!select_mode) {
                    p->revents = EPOLLNVAL;
                    count++;
                }
                continue;
            }
            struct waitq *wq = 0;
            uint32_t m = file_poll(f, first && !timed_out && !count ? &wq : 0);
            if (wq) {
                struct poll_entry *e = &ents[nents++];
                e->file = f;
                wait_entry_thread(&e->w, current(), 0);
                waitq_add(wq, &e->w);
            } else {
                file_put(f);
            }
            m &= (uint16_t)p->events | always;
            if (m) {
                p->revents = (int16_t)m;
                count++;
            }
        }
        first = 0;
        if (count || timed_out) {
            if (!timed_out || !nowait)
                thread_unblock();
            break;
        }
        int rc = thread_block(deadline);
        if (rc == -EINTR) {
            count = -ERESTARTNOHAND;
            break;
        }
        if (rc == -ETIMEDOUT)
            timed_out = 1; /* one more scan, without waiting */
    }
    for (unsigned i = 0; i < nents; i++) {
        waitq_remove(&ents[i].w);
        file_put(ents[i].file);
    }
    kfree(ents);
    return count;
}

/* A timeout as Linux's poll_select_set_timeout: *deadline (monotonic, 0 for none) and *nowait
 * for a zero timeout; -EINVAL if malformed. */
static long set_timeout(int64_t sec, int64_t nsec, uint64_t *deadline, int *nowait)
{
    if (sec < 0 || nsec < 0 || nsec >= NSEC_PER_SEC)
        return -EINVAL;
    *nowait = !sec && !nsec;
    uint64_t now = tsc_ns_since_boot();
    if (sec > (int64_t)(1ull << 34)) /* about 544 years: forever */
        *deadline = 0;
    else
        *deadline = now + (uint64_t)sec * NSEC_PER_SEC + (uint64_t)nsec;
    return 0;
}

/* The time left before deadline, for the write-back of select, pselect6 and ppoll. */
static struct timespec64 time_left(uint64_t deadline)
{
    uint64_t now = tsc_ns_since_boot();
    uint64_t left = deadline > now ? deadline - now : 0;
    return (struct timespec64){(int64_t)(left / NSEC_PER_SEC), (int64_t)(left % NSEC_PER_SEC)};
}

/* poll_select_finish: restores the signal mask unless interrupted, writes the time left back
 * (not for a zero or infinite timeout; a failed write is ignored, as Linux does). */
static long finish(long ret, uint64_t utime, int is_timeval, uint64_t deadline, int nowait)
{
    signal_wait_mask_done(ret == -ERESTARTNOHAND);
    if (!utime || nowait || !deadline)
        return ret;
    struct timespec64 ts = time_left(deadline);
    if (is_timeval) {
        struct timeval64 tv = {ts.sec, ts.nsec / 1000};
        (void)copy_to_user((void *)utime, &tv, sizeof tv);
    } else {
        (void)copy_to_user((void *)utime, &ts, sizeof ts);
    }
    return ret;
}

/* The signal mask argument of ppoll, pselect6 and epoll_pwait: sets it for the wait if given. */
long poll_set_sigmask(uint64_t umask, uint64_t size)
{
    if (!umask)
        return 0;
    if (size != 8)
        return -EINVAL;
    uint64_t set;
    if (copy_from_user(&set, (const void *)umask, sizeof set))
        return -EFAULT;
    signal_wait_mask(set);
    return 0;
}

static long sys_poll_common(uint64_t ufds, uint64_t nfds, uint64_t deadline, int nowait)
{
    if (nfds > MAX_FDS)
        return -EINVAL;
    struct kpollfd *pfds = 0;
    if (nfds) {
        pfds = kmalloc(nfds * sizeof *pfds);
        if (!pfds)
            return -ENOMEM;
        if (copy_from_user(pfds, (const void *)ufds, nfds * sizeof *pfds)) {
            kfree(pfds);
            return -EFAULT;
        }
    }
    long rc = do_poll(pfds, (unsigned)nfds, deadline, nowait, 0);
    for (uint64_t i = 0; i < nfds && rc != -ENOMEM; i++) {
        if (copy_to_user((char *)ufds + i * sizeof *pfds + 6, &pfds[i].revents, 2)) {
            rc = -EFAULT;
            break;
        }
    }
    kfree(pfds);
    return rc;
}

SYS(poll)
{
    UNUSED_ARGS();
    int timeout_ms = (int)a2;
    uint64_t deadline = 0;
    int nowait = 0;
    if (timeout_ms >= 0)
        set_timeout(timeout_ms / 1000, (int64_t)(timeout_ms % 1000) * 1000000, &deadline, &nowait);
    return sys_poll_common(a0, a1, deadline, nowait);
}

SYS(ppoll)
{
    UNUSED_ARGS();
    uint64_t deadline = 0;
    int nowait = 0;
    if (a2) {
        struct timespec64 ts;
        if (copy_from_user(&ts, (const void *)a2, sizeof ts))
            return -EFAULT;
        long rc = set_timeout(ts.sec, ts.nsec, &deadline, &nowait);
        if (rc)
            return rc;
    }
    long rc = poll_set_sigmask(a3, a4);
    if (rc)
        return rc;
    rc = sys_poll_common(a0, a1, deadline, nowait);
    return finish(rc, a2, 0, deadline, nowait);
}

/* core_sys_select: the three sets in, a count of the bits set out. */
static long do_select(int64_t n, uint64_t uin, uint64_t uout, uint64_t uex, uint64_t deadline,
                      int nowait)
{
    if (n < 0)
        return -EINVAL;
    if (n > FD_SETSIZE_MAX)
        n = FD_SETSIZE_MAX;
    uint64_t words = ((uint64_t)n + 63) / 64, bytes = words * 8;
    uint64_t sets[3][FD_SETSIZE_MAX / 64], out[3][FD_SETSIZE_MAX / 64];
    uint64_t uptr[3] = {uin, uout, uex};
    for (int k = 0; k < 3; k++) {
        memset(sets[k], 0, sizeof sets[k]);
        memset(out[k], 0, sizeof out[k]);
        if (uptr[k] && bytes && copy_from_user(sets[k], (const void *)uptr[k], bytes))
            return -EFAULT;
        if (n % 64)
            sets[k][words - 1] &= (1ull << (n % 64)) - 1;
    }
    /* Every descriptor named must be open (max_select_fd). */
    unsigned count = 0;
    for (int64_t fd = 0; fd < n; fd++) {
        uint64_t bit = 1ull << (fd % 64);
        if ((sets[0][fd / 64] | sets[1][fd / 64] | sets[2][fd / 64]) & bit) {
            struct file *f = fd_file((int)fd);
            if (!f)
                return -EBADF;
            file_put(f);
            count++;
        }
    }
    struct kpollfd *pfds = count ? kmalloc(count * sizeof *pfds) : 0;
    if (count && !pfds)
        return -ENOMEM;
    unsigned i = 0;
    for (int64_t fd = 0; fd < n; fd++) {
        uint64_t w = (uint64_t)fd / 64, bit = 1ull << (fd % 64);
        uint32_t ev = ((sets[0][w] & bit) ? POLLIN_SET : 0) | ((sets[1][w] & bit) ? POLLOUT_SET : 0) |
                      ((sets[2][w] & bit) ? POLLEX_SET : 0);
        if (ev)
            pfds[i++] = (struct kpollfd){(int32_t)fd, (int16_t)ev, 0};
    }
    long rc = do_poll(pfds, count, deadline, nowait, 1);
    long bits = 0;
    for (unsigned j = 0; rc >= 0 && j < count; j++) {
        int fd = pfds[j].fd;
        uint64_t w = (uint64_t)fd / 64, bit = 1ull << (fd % 64);
        uint32_t m = (uint16_t)pfds[j].revents;
        if ((m & POLLIN_SET) && (sets[0][w] & bit))
            out[0][w] |= bit, bits++;
        if ((m & POLLOUT_SET) && (sets[1][w] & bit))
            out[1][w] |= bit, bits++;
        if ((m & POLLEX_SET) && (sets[2][w] & bit))
            out[2][w] |= bit, bits++;
    }
    kfree(pfds);
    if (rc < 0)
        return rc;
    for (int k = 0; k < 3; k++)
        if (uptr[k] && bytes && copy_to_user((void *)uptr[k], out[k], bytes))
            return -EFAULT;
    return bits;
}

SYS(select)
{
    UNUSED_ARGS();
    uint64_t deadline = 0;
    int nowait = 0;
    if (a4) {
        struct timeval64 tv;
        if (copy_from_user(&tv, (const void *)a4, sizeof tv))
            return -EFAULT;
        /* Linux folds whole seconds of tv_usec into tv_sec first. */
        long rc = set_timeout(tv.sec + tv.usec / 1000000, (tv.usec % 1000000) * 1000, &deadline,
                              &nowait);
        if (rc)
            return rc;
    }
    long rc = do_select((int32_t)a0, a1, a2, a3, deadline, nowait);
    return finish(rc, a4, 1, deadline, nowait);
}

SYS(pselect6)
{
    UNUSED_ARGS();
    uint64_t deadline = 0;
    int nowait = 0;
    if (a4) {
        struct timespec64 ts;
        if (copy_from_user(&ts, (const void *)a4, sizeof ts))
            return -EFAULT;
        long rc = set_timeout(ts.sec, ts.nsec, &deadline, &nowait);
        if (rc)
            return rc;
    }
    if (a5) {
        struct {
            uint64_t set, size;
        } pack;
        if (copy_from_user(&pack, (const void *)a5, sizeof pack))
            return -EFAULT;
        long rc = poll_set_sigmask(pack.set, pack.size);
        if (rc)
            return rc;
    }
    long rc = do_select((int32_t)a0, a1, a2, a3, deadline, nowait);
    return finish(rc, a4, 0, deadline, nowait);
}
