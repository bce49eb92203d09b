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

static struct flock_entry *locks;
static struct waitq unlocked;

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

static void unlock(struct file *f)
{
    struct flock_entry **pp = find_own(f);
    struct flock_entry *e = *pp;
    if (!e)
        return;
    *pp = e->next;
    inode_put(e->inode);
    kfree(e);
    waitq_wake_all(&unlocked);
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
    struct flock_entry *own = *find_own(f);
    if (own && own->exclusive == exclusive)
        return 0;
    /* Converting a lock drops the old one first, as Linux does. */
    if (own)
        unlock(f);
    while (conflicts(f, exclusive)) {
        if (op & LOCK_NB)
            return -EAGAIN; /* EWOULDBLOCK */
        if (waitq_wait(&unlocked, WAIT_FOREVER) == -EINTR)
            return -ERESTARTSYS;
    }
    struct flock_entry *e = kmalloc(sizeof *e);
    if (!e)
        return -ENOMEM;
    e->inode = f->inode;
    inode_get(f->inode);
    e->owner = f;
    e->exclusive = exclusive;
    e->next = locks;
    locks = e;
    return 0;
}

void flock_release(struct file *f)
{
    if (locks)
        unlock(f);
}
