/* futex(2) called directly: WAIT/WAKE (shared and PRIVATE), relative and absolute timeouts
 * (ETIMEDOUT), REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET/WAKE_BITSET, and the error codes.
 * A waker never assumes a waiter is already asleep: it repeats its call until the expected number
 * of waiters has been woken or moved, so every count printed is exact. */
#include <limits.h>
#include <linux/futex.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"

#define MS 1000000LL

static long futex(uint32_t *uaddr, int op, uint32_t val, const void *timeout_or_val2,
                  uint32_t *uaddr2, uint32_t val3)
{
    return syscall(SYS_futex, uaddr, op, val, timeout_or_val2, uaddr2, val3);
}

static int64_t now_ns(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void pause_ms(int ms)
{
    struct timespec ts = {0, ms * MS};
    nanosleep(&ts, NULL);
}

/* A waiter thread: one futex wait with the given op, value, mask; its result is kept. */
struct waiter {
    pthread_t thread;
    uint32_t *addr;
    int op;
    uint32_t val, mask;
    const struct timespec *timeout;
    long result;
    int err;
};

static void *wait_once(void *arg)
{
    struct waiter *w = arg;
    errno = 0;
    w->result = futex(w->addr, w->op, w->val, w->timeout, NULL, w->mask);
    w->err = errno;
    return NULL;
}

static void start(struct waiter *w, uint32_t *addr, int op, uint32_t mask)
{
    w->addr = addr;
    w->op = op;
    w->val = *addr;
    w->mask = mask;
    start_thread(&w->thread, NULL, wait_once, w);
}

/* Repeats a wake-like call until it has accounted for `want` waiters; returns the total. */
#define REPEAT_UNTIL(want, call)                                                                   \
    ({                                                                                             \
        long total_ = 0;                                                                           \
        for (int tries_ = 0; total_ < (want) && tries_ < 10000; tries_++) {                        \
            long n_ = (call);                                                                      \
            if (n_ > 0)                                                                            \
                total_ += n_;                                                                      \
            else                                                                                   \
                pause_ms(1);                                                                       \
        }                                                                                          \
        total_;                                                                                    \
    })

static int all_woken(struct waiter *w, int n)
{
    int ok = 0;
    for (int i = 0; i < n; i++) {
        join_thread(w[i].thread, 10);
        ok += w[i].result == 0;
    }
    return ok;
}

int main(void)
{
    static uint32_t f1, f2, f3;

    CHECK_ERRNO("WAIT with a changed value is EAGAIN", futex(&f1, FUTEX_WAIT, 1, NULL, NULL, 0),
                EAGAIN);
    CHECK_EQ("WAKE with no waiters wakes 0", futex(&f1, FUTEX_WAKE, 1, NULL, NULL, 0), 0);

    /* Timeouts. */
    struct timespec rel = {0, 20 * MS};
    int64_t t0 = now_ns(CLOCK_MONOTONIC);
    CHECK_ERRNO("WAIT with a 20 ms timeout is ETIMEDOUT", futex(&f1, FUTEX_WAIT, 0, &rel, NULL, 0),
                ETIMEDOUT);
    CHECK("it waited at least 20 ms", now_ns(CLOCK_MONOTONIC) - t0 >= 20 * MS);
    int64_t deadline = now_ns(CLOCK_MONOTONIC) + 20 * MS;
    struct timespec abs = {deadline / 1000000000, deadline % 1000000000};
    CHECK_ERRNO("WAIT_BITSET with an absolute MONOTONIC deadline is ETIMEDOUT",
                futex(&f1, FUTEX_WAIT_BITSET_PRIVATE, 0, &abs, NULL, FUTEX_BITSET_MATCH_ANY),
                ETIMEDOUT);
    CHECK("it woke at or after the deadline", now_ns(CLOCK_MONOTONIC) >= deadline);
    deadline = now_ns(CLOCK_REALTIME) + 20 * MS;
    abs = (struct timespec){deadline / 1000000000, deadline % 1000000000};
    CHECK_ERRNO("WAIT_BITSET with an absolute REALTIME deadline is ETIMEDOUT",
                futex(&f1, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &abs, NULL,
                      FUTEX_BITSET_MATCH_ANY),
                ETIMEDOUT);
    CHECK("it woke at or after the REALTIME deadline", now_ns(CLOCK_REALTIME) >= deadline);
    struct timespec past = {0, 0};
    CHECK_ERRNO("an absolute deadline in the past is ETIMEDOUT at once",
                futex(&f1, FUTEX_WAIT_BITSET, 0, &past, NULL, FUTEX_BITSET_MATCH_ANY), ETIMEDOUT);

    /* WAIT/WAKE across threads, shared and private, one with a long timeout woken early. */
    struct waiter w[8] = {0};
    start(&w[0], &f1, FUTEX_WAIT, 0);
    CHECK_EQ("WAKE wakes the waiter", REPEAT_UNTIL(1, futex(&f1, FUTEX_WAKE, 1, NULL, NULL, 0)), 1);
    CHECK_EQ("the waiter returned 0", all_woken(w, 1), 1);
    start(&w[0], &f1, FUTEX_WAIT_PRIVATE, 0);
    CHECK_EQ("WAKE_PRIVATE wakes a WAIT_PRIVATE waiter",
             REPEAT_UNTIL(1, futex(&f1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0)), 1);
    CHECK_EQ("the private waiter returned 0", all_woken(w, 1), 1);
    static const struct timespec five_s = {5, 0};
    w[0].timeout = &five_s;
    start(&w[0], &f1, FUTEX_WAIT, 0);
    REPEAT_UNTIL(1, futex(&f1, FUTEX_WAKE, 1, NULL, NULL, 0));
    CHECK_EQ("a waiter with a 5 s timeout woken early returns 0 (not ETIMEDOUT)", all_woken(w, 1),
             1);
    w[0].timeout = NULL;

    /* WAKE with a count: 4 waiters, woken by WAKE 2 calls that never wake more than 2. */
    for (int i = 0; i < 4; i++)
        start(&w[i], &f1, FUTEX_WAIT_PRIVATE, 0);
    long most = 0, woken = 0;
    for (int tries = 0; woken < 4 && tries < 10000; tries++) {
        long n = futex(&f1, FUTEX_WAKE_PRIVATE, 2, NULL, NULL, 0);
        most = n > most ? n : most;
        woken += n > 0 ? n : 0;
        if (n <= 0)
            pause_ms(1);
    }
    CHECK_EQ("WAKE 2 calls woke all 4", woken, 4);
    CHECK("no WAKE 2 call woke more than 2", most <= 2);
    CHECK_EQ("all four returned 0", all_woken(w, 4), 4);

    /* REQUEUE: 4 waiters moved from f1 to f2 without waking, then woken on f2. */
    for (int i = 0; i < 4; i++)
        start(&w[i], &f1, FUTEX_WAIT_PRIVATE, 0);
    long moved = REPEAT_UNTIL(
        4, futex(&f1, FUTEX_REQUEUE_PRIVATE, 0, (void *)(uintptr_t)INT_MAX, &f2, 0));
    CHECK_EQ("REQUEUE moved all 4 waiters", moved, 4);
    CHECK_EQ("nobody is left on f1", futex(&f1, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0), 0);
    CHECK_EQ("WAKE on f2 wakes the 4",
             REPEAT_UNTIL(4, futex(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0)), 4);
    CHECK_EQ("all four requeued waiters returned 0", all_woken(w, 4), 4);

    /* CMP_REQUEUE: refused when *uaddr != val3; otherwise wakes 1 and moves the rest. */
    CHECK_ERRNO("CMP_REQUEUE with a stale value is EAGAIN",
                futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)(uintptr_t)INT_MAX, &f2, 7),
                EAGAIN);
    for (int i = 0; i < 3; i++)
        start(&w[i], &f1, FUTEX_WAIT_PRIVATE, 0);
    long handled = REPEAT_UNTIL(
        3, futex(&f1, FUTEX_CMP_REQUEUE_PRIVATE, 1, (void *)(uintptr_t)INT_MAX, &f2, 0));
    CHECK_EQ("CMP_REQUEUE woke or moved all 3", handled, 3);
    futex(&f2, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0); /* the moved ones all sleep on f2 */
    CHECK_EQ("all three returned 0", all_woken(w, 3), 3);

    /* WAKE_OP: the operation on *uaddr2, and the conditional wake. */
    f2 = 5;
    CHECK_EQ("WAKE_OP ADD with no waiters wakes 0",
             futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &f2,
                   FUTEX_OP(FUTEX_OP_ADD, 3, FUTEX_OP_CMP_EQ, 5)),
             0);
    CHECK_EQ("ADD 3 made *uaddr2 8", f2, 8);
    CHECK_EQ("WAKE_OP OR with OPARG_SHIFT",
             futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &f2,
                   FUTEX_OP((FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT), 4, FUTEX_OP_CMP_NE, 0)),
             0);
    CHECK_EQ("OR 1<<4 made *uaddr2 24", f2, 24);
    f2 = 0;
    start(&w[0], &f1, FUTEX_WAIT_PRIVATE, 0);
    start(&w[1], &f2, FUTEX_WAIT_PRIVATE, 0);
    long woke = REPEAT_UNTIL(2, futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &f2,
                                      FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_EQ, 0)));
    CHECK_EQ("WAKE_OP with a true condition wakes on both words", woke, 2);
    CHECK_EQ("both returned 0", all_woken(w, 2), 2);
    f3 = 0;
    start(&w[0], &f3, FUTEX_WAIT_PRIVATE, 0);
    long none = 0;
    for (int i = 0; i < 20; i++) {
        f3 = 0;
        none += futex(&f1, FUTEX_WAKE_OP_PRIVATE, 1, (void *)1, &f3,
                      FUTEX_OP(FUTEX_OP_SET, 0, FUTEX_OP_CMP_GT, 0));
        pause_ms(1);
    }
    CHECK_EQ("WAKE_OP with a false condition wakes nobody", none, 0);
    REPEAT_UNTIL(1, futex(&f3, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0));
    all_woken(w, 1);

    /* Bitsets. */
    start(&w[0], &f1, FUTEX_WAIT_BITSET_PRIVATE, 0x1);
    long wrong_bits = 0;
    for (int i = 0; i < 20; i++) {
        wrong_bits += futex(&f1, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x2);
        pause_ms(1);
    }
    CHECK_EQ("WAKE_BITSET with a disjoint mask wakes nobody", wrong_bits, 0);
    CHECK_EQ("WAKE_BITSET with an overlapping mask wakes it",
             REPEAT_UNTIL(1, futex(&f1, FUTEX_WAKE_BITSET_PRIVATE, INT_MAX, NULL, NULL, 0x3)), 1);
    CHECK_EQ("the bitset waiter returned 0", all_woken(w, 1), 1);
    start(&w[0], &f1, FUTEX_WAIT_BITSET_PRIVATE, 0x4);
    CHECK_EQ("plain WAKE wakes a bitset waiter",
             REPEAT_UNTIL(1, futex(&f1, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0)), 1);
    all_woken(w, 1);

    /* Errors. */
    CHECK_ERRNO("WAIT_BITSET with mask 0 is EINVAL",
                futex(&f1, FUTEX_WAIT_BITSET, 0, NULL, NULL, 0), EINVAL);
    CHECK_ERRNO("WAKE_BITSET with mask 0 is EINVAL",
                futex(&f1, FUTEX_WAKE_BITSET, 1, NULL, NULL, 0), EINVAL);
    CHECK_ERRNO("WAIT on a bad address is EFAULT",
                futex(opaque_ptr(16), FUTEX_WAIT, 0, NULL, NULL, 0), EFAULT);
    CHECK_ERRNO("WAIT on an unaligned address is EINVAL",
                futex((uint32_t *)((char *)&f1 + 1), FUTEX_WAIT, 0, NULL, NULL, 0), EINVAL);
    struct timespec bad = {0, 1000000000};
    CHECK_ERRNO("WAIT with tv_nsec = 1e9 is EINVAL", futex(&f1, FUTEX_WAIT, 0, &bad, NULL, 0),
                EINVAL);
    CHECK_ERRNO("an unknown op is ENOSYS", futex(&f1, 99, 0, NULL, NULL, 0), ENOSYS);
    return check_done();
}
