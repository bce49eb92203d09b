/* flock(2) locks (see fs/flock.h): a list of (inode, open file, shared/exclusive) entries; the
 * same file seen through two lookups is one file (vfs_same_inode). Waiters sleep on one queue
 * woken at every unlock, and recheck. */
#include "fs/flock.h"
#include "errno.h"
#include "mm/kheap.h"
#include "sched/wait.h"

#define LOCK_SH 1
#define LOCK_EX 2
#define LOCK_NB 4
#define LOCK_UN 8

struct flock_entry {
    struct flock_entry *next;
    struct inode *inode; /* a reference */
    struct file *owner;
    int exclusive;
};

/* Guards the list of locks. Taken before a wait queue's lock (waking `unlocked`). */
static struct spinlock flock_lock = SPINLOCK_INIT("flock");
static struct flock_entry *locks;
static struct waitq unlocked = WAITQ_INIT("flock waiters");

static struct flock_entry **find_own(struct file *f)
{
    struct flock_entry **pp = &locks;
    while (*pp && (*pp)->owner != f)
        pp = &(*pp)->next;
    return pp;
}

/* True if another open file holds a lock on f's inode that conflicts with `exclusive`. */
static int conflicts(struct file *f, int exclusive)
{
    for (struct flock_entry *e = locks; e; e = e->next)
        if (e->owner != f && vfs_same_inode(e->inode, f->inode) && (exclusive || e->exclusive))
            return 1;
    return 0;
}

/* Drops f's lock, with flock_lock held; returns the entry to free (after the unlock: its inode
 * reference may be the last), or 0. */
static struct flock_entry *unlock_locked(struct file *f)
{
    struct flock_entry **pp = find_own(f);
    struct flock_entry *e = *pp;
    if (e) {
        *pp = e->next;
        waitq_wake_all(&unlocked);
    }
    return e;
}

static void free_entry(struct flock_entry *e)
{
    if (e) {
        inode_put(e->inode);
        kfree(e);
    }
}

static void unlock(struct file *f)
{
    uint64_t fl = spin_lock_irqsave(&flock_lock);
    struct flock_entry *e = unlock_locked(f);
    spin_unlock_irqrestore(&flock_lock, fl);
    free_entry(e);
}

int flock_apply(struct file *f, int op)
{
    int kind = op & ~LOCK_NB;
    if (kind != LOCK_SH && kind != LOCK_EX && kind != LOCK_UN)
        return -EINVAL;
    if (!f->inode)
        return kind == LOCK_UN ? 0 : -EINVAL;
    if (kind == LOCK_UN) {
        unlock(f);
        return 0;
    }
    int exclusive = kind == LOCK_EX;
    struct flock_entry *e = kmalloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    uint64_t fl = spin_lock_irqsave(&flock_lock);
    struct flock_entry *own = *find_own(f);
    if (own && own->exclusive == exclusive) {
        spin_unlock_irqrestore(&flock_lock, fl);
        kfree(e);
        return 0;
    }
    /* Converting a lock drops the old one first, as Linux does. */
    struct flock_entry *old = own ? unlock_locked(f) : 0;
    int rc = 0;
    while (conflicts(f, exclusive)) {
        if (op & LOCK_NB) {
            rc = -EAGAIN; /* EWOULDBLOCK */
            break;
        }
        int w = waitq_wait_unlock(&unlocked, &flock_lock, fl, WAIT_FOREVER);
        fl = spin_lock_irqsave(&flock_lock);
        if (w == -EINTR) {
            rc = -ERESTARTSYS;
            break;
        }
    }
    if (!rc) {
        e->inode = f->inode;
        inode_get(f->inode);
        e->owner = f;
        e->exclusive = exclusive;
        e->next = locks;
        locks = e;
        e = 0;
    }
    spin_unlock_irqrestore(&flock_lock, fl);
    kfree(e);
    free_entry(old);
    return rc;
}

void flock_release(struct file *f)
{
    if (__atomic_load_n(&locks, __ATOMIC_RELAXED))
        unlock(f);
}
