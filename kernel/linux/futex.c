/* futex(2): WAIT, WAKE, REQUEUE, CMP_REQUEUE, WAKE_OP, WAIT_BITSET and WAKE_BITSET, private or not
 * (one address space, so both key on the address), with relative or absolute timeouts on the
 * monotonic or real-time clock. Waiters sit on hashed buckets, each under its own lock; the value
 * check and the queueing are one step under it, as Linux requires. */
#include "linux/futex.h"
#include "arch/x86_64/tsc.h"
#include "core/clock.h"
#include "errno.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "sched/thread.h"
#include "lib/spinlock.h"
#include "sched/wait.h"
#include "linux_abi.h"

#define FUTEX_WAIT 0
#define FUTEX_WAKE 1
#define FUTEX_REQUEUE 3
#define FUTEX_CMP_REQUEUE 4
#define FUTEX_WAKE_OP 5
#define FUTEX_WAIT_BITSET 9
#define FUTEX_WAKE_BITSET 10
#define FUTEX_PRIVATE_FLAG 128
#define FUTEX_CLOCK_REALTIME 256
#define FUTEX_BITSET_ALL 0xffffffffu

#define NBUCKETS 64

/* A thread waiting on a futex: on its bucket's list until a waker takes it off. */
struct futex_waiter {
    struct futex_waiter *next, *prev;
    struct thread *thread;
    uint64_t addr;
    uint32_t bitset;
    int queued; /* on a bucket's list (under that bucket's lock) */
    struct futex_bucket *bucket; /* the bucket it is on (a requeue moves it) */
};

struct futex_bucket {
    struct spinlock lock; /* guards this bucket's waiter list and each waiter's links and fields */
    struct futex_waiter *head, *tail;
};

static struct futex_bucket buckets[NBUCKETS];

static struct futex_bucket *bucket(uint64_t addr) { return &buckets[(addr >> 2) % NBUCKETS]; }

static void bucket_add(struct futex_bucket *b, struct futex_waiter *w)
{
    w->next = 0;
    w->prev = b->tail;
    if (b->tail)
        b->tail->next = w;
    else
        b->head = w;
    b->tail = w;
    w->queued = 1;
    w->bucket = b;
}

static void bucket_del(struct futex_bucket *b, struct futex_waiter *w)
{
    if (w->prev)
        w->prev->next = w->next;
    else
        b->head = w->next;
    if (w->next)
        w->next->prev = w->prev;
    else
        b->tail = w->prev;
    w->next = w->prev = 0;
    w->queued = 0;
}

static int wake(uint64_t addr, int n, uint32_t bitset)
{
    struct futex_bucket *b = bucket(addr);
    int woken = 0;
    uint64_t fl = spin_lock_irqsave(&b->lock);
    for (struct futex_waiter *w = b->head, *next; w && woken < n; w = next) {
        next = w->next;
        if (w->addr == addr && (w->bitset & bitset)) {
            bucket_del(b, w);
            thread_wake(w->thread, 0);
            woken++;
        }
    }
    spin_unlock_irqrestore(&b->lock, fl);
    return woken;
}

int futex_wake_addr(uint64_t addr, int n) { return wake(addr, n, FUTEX_BITSET_ALL); }


/* Converts the timeout argument into a monotonic deadline (0 for none). */
static long deadline_of(uint64_t utime, int absolute, int realtime, uint64_t *deadline)
{
    *deadline = WAIT_FOREVER;
    if (!utime)
        return 0;
    struct timespec64 ts;
    if (copy_from_user(&ts, (const void *)utime, sizeof ts))
        return -EFAULT;
    if (ts.sec < 0 || ts.nsec < 0 || ts.nsec >= 1000000000)
        return -EINVAL;
    uint64_t t = (uint64_t)ts.sec * 1000000000ull + (uint64_t)ts.nsec;
    uint64_t mono = tsc_ns_since_boot();
    if (!absolute) {
        *deadline = mono + t;
    } else if (realtime) {
        uint64_t real = clock_realtime_ns();
        *deadline = t > real ? mono + (t - real) : mono;
    } else {
        *deadline = t;
    }
    if (!*deadline)
        *deadline = 1; /* 0 means "no deadline": an already-expired one must still expire */
    return 0;
}

/* The value check and the queueing are one step under the bucket's lock, which every waker of
 * the address takes: a wake after the check finds the waiter (Linux's guarantee). Reading the
 * word may fault under the lock; the fault handler never takes a futex lock. */
static long futex_wait(uint64_t addr, uint32_t val, uint64_t deadline, uint32_t bitset)
{
    uint32_t cur;
    if (addr & 3)
        return -EINVAL;
    if (deadline && deadline <= tsc_ns_since_boot()) {
        if (copy_from_user(&cur, (const void *)addr, sizeof cur))
            return -EFAULT;
        return cur != val ? -EAGAIN : -ETIMEDOUT;
    }
    struct futex_waiter w = {0, 0, current(), addr, bitset, 0, 0};
    struct futex_bucket *b = bucket(addr);
    uint64_t fl = spin_lock_irqsave(&b->lock);
    if (copy_from_user(&cur, (const void *)addr, sizeof cur)) {
        spin_unlock_irqrestore(&b->lock, fl);
        return -EFAULT;
    }
    if (cur != val) {
        spin_unlock_irqrestore(&b->lock, fl);
        return -EAGAIN;
    }
    thread_prepare_block();
    current()->wait_on = "futex";
    bucket_add(b, &w);
    spin_unlock_irqrestore(&b->lock, fl);
    int rc = thread_block(deadline);
    /* Still queued: not woken by a futex wake (a timeout or a signal); a requeue may have moved
     * it to another bucket meanwhile, so lock the one it is on now. */
    for (;;) {
        struct futex_bucket *on = __atomic_load_n(&w.bucket, __ATOMIC_ACQUIRE);
        fl = spin_lock_irqsave(&on->lock);
        if (on == w.bucket) {
            if (w.queued)
                bucket_del(on, &w);
            else
                rc = 0; /* a wake took it off: that wake counted, so report it */
            spin_unlock_irqrestore(&on->lock, fl);
            break;
        }
        spin_unlock_irqrestore(&on->lock, fl);
    }
    return rc;
}

/* REQUEUE and CMP_REQUEUE: with both buckets locked (in address order), checks the word (CMP),
 * wakes up to nwake waiters of `from` and moves up to nmove others to `to`, as one step. */
static long requeue(uint64_t from, uint64_t to, int nwake, int nmove, int cmp, uint32_t val3)
{
    struct futex_bucket *src = bucket(from), *dst = bucket(to);
    struct futex_bucket *first = src < dst ? src : dst, *second = src < dst ? dst : src;
    uint64_t fl = spin_lock_irqsave(&first->lock), fl2 = 0;
    if (second != first)
        fl2 = spin_lock_irqsave(&second->lock);
    long rc = 0;
    if (cmp) {
        uint32_t cur;
        if (copy_from_user(&cur, (const void *)from, sizeof cur))
            rc = -EFAULT;
        else if (cur != val3)
            rc = -EAGAIN;
    }
    int woken = 0, moved = 0;
    for (struct futex_waiter *w = src->head, *next; !rc && w; w = next) {
        next = w->next;
        if (w->addr != from)
            continue;
        if (woken < nwake) {
            bucket_del(src, w);
            thread_wake(w->thread, 0);
            woken++;
        } else if (moved < nmove) {
            bucket_del(src, w);
            w->addr = to;
            bucket_add(dst, w);
            moved++;
        } else {
            break;
        }
    }
    if (second != first)
        spin_unlock_irqrestore(&second->lock, fl2);
    spin_unlock_irqrestore(&first->lock, fl);
    return rc ? rc : woken + moved;
}

static int32_t sext12(uint32_t v) { return (int32_t)(v << 20) >> 20; }

static long wake_op(uint64_t addr1, int n1, uint64_t addr2, int n2, uint32_t op)
{
    uint32_t kind = (op >> 28) & 7, cmp = (op >> 24) & 15;
    int32_t oparg = sext12(op >> 12), cmparg = sext12(op);
    if ((op >> 28) & 8)
        oparg = 1 << (oparg & 31);
    if (addr2 & 3)
        return -EINVAL;
    if (!user_range_ok((void *)addr2, 4))
        return -EFAULT; /* Linux's access_ok comes before the operation's check */
    if (kind > 4)
        return -ENOSYS;
    int32_t old;
    if (copy_from_user(&old, (const void *)addr2, sizeof old))
        return -EFAULT;
    /* The read-modify-write is one atomic step on the word, as Linux's futex_atomic_op_inuser:
     * other threads may change it meanwhile. */
    for (;;) {
        int32_t nv;
        switch (kind) {
        case 0: nv = oparg; break;
        case 1: nv = (int32_t)((uint32_t)old + (uint32_t)oparg); break;
        case 2: nv = old | oparg; break;
        case 3: nv = old & ~oparg; break;
        default: nv = old ^ oparg; break;
        }
        long seen = cmpxchg_user32((uint32_t *)addr2, (uint32_t)old, (uint32_t)nv);
        if (seen < 0)
            return -EFAULT;
        if ((int32_t)(uint32_t)seen == old)
            break;
        old = (int32_t)(uint32_t)seen;
    }
    int hit;
    switch (cmp) {
    case 0: hit = old == cmparg; break;
    case 1: hit = old != cmparg; break;
    case 2: hit = old < cmparg; break;
    case 3: hit = old <= cmparg; break;
    case 4: hit = old > cmparg; break;
    case 5: hit = old >= cmparg; break;
    default: return -ENOSYS;
    }
    int woken = wake(addr1, n1, FUTEX_BITSET_ALL);
    if (hit)
        woken += wake(addr2, n2, FUTEX_BITSET_ALL);
    return woken;
}

SYS(futex)
{
    UNUSED_ARGS();
    uint64_t addr = a0, utime = a3, addr2 = a4;
    int op = (int)a1 & ~(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    int realtime = (a1 & FUTEX_CLOCK_REALTIME) != 0;
    uint32_t val = (uint32_t)a2, val3 = (uint32_t)a5;
    uint64_t deadline;
    long rc;
    if (realtime && op != FUTEX_WAIT_BITSET && op != FUTEX_WAIT)
        return -ENOSYS;
    switch (op) {
    case FUTEX_WAIT:
        if ((rc = deadline_of(utime, 0, 0, &deadline)))
            return rc;
        return futex_wait(addr, val, deadline, FUTEX_BITSET_ALL);
    case FUTEX_WAIT_BITSET:
        if (!val3)
            return -EINVAL;
        if ((rc = deadline_of(utime, 1, realtime, &deadline)))
            return rc;
        return futex_wait(addr, val, deadline, val3);
    case FUTEX_WAKE:
        return wake(addr, (int)val, FUTEX_BITSET_ALL);
    case FUTEX_WAKE_BITSET:
        if (!val3)
            return -EINVAL;
        return wake(addr, (int)val, val3);
    case FUTEX_REQUEUE:
    case FUTEX_CMP_REQUEUE: {
        if ((int)val < 0 || (int64_t)utime < 0)
            return -EINVAL;
        /* for requeue, the fourth argument is the number of waiters to move */
        return requeue(addr, addr2, (int)val, (int)(utime > 0x7fffffff ? 0x7fffffff : utime),
                       op == FUTEX_CMP_REQUEUE, val3);
    }
    case FUTEX_WAKE_OP:
        return wake_op(addr, (int)val, addr2, (int)(uint32_t)utime, val3);
    default:
        return -ENOSYS;
    }
}
