/* inotify: inotify_init, inotify_init1, inotify_add_watch, inotify_rm_watch, and the instance
 * files whose reads return the events (blocking or not, FIONREAD, poll readiness). The events come
 * from the fs/fsnotify.h hooks, in the order Linux's fsnotify sends them: a change to a directory
 * entry goes to the directory's watches with the name; a change to a file goes to its directory's
 * watches (with its name) and then to its own. An event identical to the last one queued is merged
 * into it, as Linux does, and a full queue ends with one IN_Q_OVERFLOW.
 *
 * A watch keeps a reference to its inode and recognises it by filesystem and inode number. The
 * directory of a file whose contents change is found by the path the file was first found by
 * (inode.path): a file renamed to another directory after it was opened reports to the old one.
 * IN_UNMOUNT is never sent (nothing is unmounted while the program runs).
 *
 * Locking: inotify_lock guards the instance list, every instance's watches and event queue, and
 * fsnotify_watches. It is never held across a user copy or a wait; an instance's wait queue lock,
 * kheap and palloc are taken inside it (docs/kernel-locking.md). */
#include "errno.h"
#include "fs/fsnotify.h"
#include "fs/vfs.h"
#include "lib/printf.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "linux/fspath.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"
#include "sched/wait.h"

#define IN_ONLYDIR 0x01000000
#define IN_DONT_FOLLOW 0x02000000
#define IN_EXCL_UNLINK 0x04000000
#define IN_MASK_CREATE 0x10000000
#define IN_MASK_ADD 0x20000000
#define IN_ONESHOT 0x80000000
#define ALL_INOTIFY_BITS (IN_ALL_EVENTS | IN_ONLYDIR | IN_DONT_FOLLOW | IN_EXCL_UNLINK | \
                          IN_MASK_ADD | IN_MASK_CREATE | IN_ONESHOT)
/* The events a directory's watch also gets for the entries in it (Linux's FS_EVENTS_POSS_ON_CHILD). */
#define ON_CHILD (IN_ACCESS | IN_MODIFY | IN_ATTRIB | IN_CLOSE_WRITE | IN_CLOSE_NOWRITE | IN_OPEN)
#define FIONREAD 0x541b
#ifndef EPOLLIN
#define EPOLLIN 0x001
#define EPOLLRDNORM 0x040
#endif
/* Linux's defaults (/proc/sys/fs/inotify/max_*). */
#define MAX_QUEUED_EVENTS 16384
#define MAX_USER_INSTANCES 128
#define MAX_USER_WATCHES 65536
#define ANON_INODE_DEV 0x0d

struct linux_inotify_event {
    int32_t wd;
    uint32_t mask, cookie, len;
};
_Static_assert(sizeof(struct linux_inotify_event) == 16, "struct inotify_event");

struct event {
    struct event *next;
    struct linux_inotify_event hdr; /* hdr.len: the name's bytes with padding, a multiple of 16 */
    char name[];
};

struct instance;

struct watch {
    struct watch *next;
    struct instance *in;
    struct inode *ino; /* a reference */
    int32_t wd;
    uint32_t mask;     /* the IN_* bits asked for, with IN_ONESHOT and IN_EXCL_UNLINK */
    int gone_pending;  /* its inode has no name left but is still open: IN_DELETE_SELF at close */
};

struct instance {
    struct inode inode; /* first: what fstat and the file see ("anon_inode:inotify") */
    struct instance *next;
    struct watch *watches;
    struct event *head, *tail;
    uint32_t queued;
    uint64_t bytes;
    int32_t last_wd;
    struct waitq wq;
};

static struct spinlock inotify_lock = SPINLOCK_INIT("inotify");
static struct instance *instances; /* under inotify_lock */
static int ninstances;             /* under inotify_lock */
static uint32_t cookie_counter;    /* under inotify_lock */
int fsnotify_watches;              /* under inotify_lock (read without it by the hooks) */

static const struct inode_ops instance_inode_ops;
static const struct file_ops instance_ops;

static int is_dir(const struct inode *i) { return (i->mode & S_IFMT) == S_IFDIR; }

/* Queues one event on `in` (merged with an identical last one); called under inotify_lock. */
static void queue(struct instance *in, int32_t wd, uint32_t mask, uint32_t cookie,
                  const char *name)
{
    size_t nlen = name ? strlen(name) : 0;
    uint32_t padded = nlen ? (uint32_t)((nlen + 1 + 15) & ~(size_t)15) : 0;
    struct event *t = in->tail;
    if (t && !(t->hdr.mask & IN_IGNORED) && t->hdr.wd == wd && t->hdr.mask == mask &&
        t->hdr.cookie == cookie && t->hdr.len == padded && (!nlen || !strcmp(t->name, name)))
        return;
    if (in->queued >= MAX_QUEUED_EVENTS) {
        if (t && t->hdr.mask == IN_Q_OVERFLOW)
            return;
        wd = -1, mask = IN_Q_OVERFLOW, cookie = 0, nlen = 0, padded = 0;
    }
    struct event *e = kzalloc(sizeof *e + padded);
    if (!e)
        return; /* as an event lost to a full queue, without the overflow notice */
    e->hdr = (struct linux_inotify_event){wd, mask, cookie, padded};
    if (nlen)
        memcpy(e->name, name, nlen);
    if (t)
        t->next = e;
    else
        in->head = e;
    in->tail = e;
    in->queued++;
    in->bytes += sizeof e->hdr + padded;
    waitq_wake_all(&in->wq);
}

/* Removes w from its instance and queues its IN_IGNORED; under inotify_lock. */
static void drop_watch(struct watch *w)
{
    struct instance *in = w->in;
    for (struct watch **pp = &in->watches; *pp; pp = &(*pp)->next) {
        if (*pp == w) {
            *pp = w->next;
            break;
        }
    }
    queue(in, w->wd, IN_IGNORED, 0, 0);
    fsnotify_watches--;
    inode_put(w->ino);
    kfree(w);
}

/* Sends `mask` (one event bit, maybe with IN_ISDIR) to watch w if it asked for it. Returns 1 if
 * w was a one-shot watch and is gone now. Under inotify_lock. */
static int send(struct watch *w, uint32_t mask, uint32_t cookie, const char *name)
{
    if (!(mask & w->mask & IN_ALL_EVENTS))
        return 0;
    queue(w->in, w->wd, mask, cookie, name);
    if (w->mask & IN_ONESHOT) {
        drop_watch(w);
        return 1;
    }
    return 0;
}

/* Sends to every watch on `ino` (in every instance). Under inotify_lock. */
static void send_to_inode(const struct inode *ino, uint32_t mask, uint32_t cookie,
                          const char *name)
{
    for (struct instance *in = instances; in; in = in->next) {
        struct watch *next;
        for (struct watch *w = in->watches; w; w = next) {
            next = w->next;
            if (vfs_same_inode(w->ino, ino))
                send(w, mask, cookie, name);
        }
    }
}

void fsnotify_name_event(struct inode *dir, uint32_t mask, uint32_t cookie, const char *name,
                         const struct inode *child)
{
    if (child && is_dir(child))
        mask |= IN_ISDIR;
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    send_to_inode(dir, mask, cookie, name);
    spin_unlock_irqrestore(&inotify_lock, flags);
}

/* Sends to the watches on the directory whose path is the part of `path` before its last slash,
 * with the last component as the name. Under inotify_lock. */
static void send_to_parent(const char *path, uint32_t mask)
{
    const char *slash = 0;
    for (const char *c = path; *c; c++)
        if (*c == '/')
            slash = c;
    if (!slash || !slash[1])
        return;
    size_t dlen = (size_t)(slash - path);
    const char *name = slash + 1;
    for (struct instance *in = instances; in; in = in->next) {
        struct watch *next;
        for (struct watch *w = in->watches; w; w = next) {
            next = w->next;
            const char *wp = w->ino->path;
            if (!wp || !is_dir(w->ino))
                continue;
            size_t wlen = strlen(wp);
            if (wlen == 1 && wp[0] == '/')
                wlen = 0; /* the root: "/x" has dirname "" here */
            if (wlen == dlen && !memcmp(wp, path, dlen))
                send(w, mask, 0, name);
        }
    }
}

void fsnotify_inode_event(struct inode *ino, uint32_t mask, int self_only)
{
    if (is_dir(ino) && !self_only)
        mask |= IN_ISDIR; /* Linux: not on IN_MOVE_SELF, IN_DELETE_SELF, link-count IN_ATTRIB */
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    if (!self_only && (mask & ON_CHILD) && ino->path)
        send_to_parent(ino->path, mask);
    send_to_inode(ino, mask, 0, 0);
    spin_unlock_irqrestore(&inotify_lock, flags);
}

/* Whether a descriptor other than `except` holds a file open on `ino`. */
static int held_open(const struct inode *ino, const struct file *except)
{
    for (int fd = 0; fd < MAX_FDS; fd++) {
        struct file *f = fd_get(fd);
        if (f && f != except && f->inode && vfs_same_inode(f->inode, ino))
            return 1;
    }
    return 0;
}

/* IN_DELETE_SELF and IN_IGNORED for every watch on `ino`, which are then gone. Under the lock. */
static void remove_self(const struct inode *ino)
{
    for (struct instance *in = instances; in; in = in->next) {
        struct watch *next;
        for (struct watch *w = in->watches; w; w = next) {
            next = w->next;
            if (vfs_same_inode(w->ino, ino) && !send(w, IN_DELETE_SELF, 0, 0))
                drop_watch(w);
        }
    }
}

void fsnotify_gone_event(struct inode *ino)
{
    int open = held_open(ino, 0);
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    if (!open) {
        remove_self(ino);
    } else {
        for (struct instance *in = instances; in; in = in->next)
            for (struct watch *w = in->watches; w; w = w->next)
                if (vfs_same_inode(w->ino, ino))
                    w->gone_pending = 1;
    }
    spin_unlock_irqrestore(&inotify_lock, flags);
}

void fsnotify_close_event(struct file *f)
{
    struct inode *ino = f->inode;
    if (!ino || (f->flags & O_PATH) || ino->ops == &instance_inode_ops)
        return;
    int writer = (f->flags & O_ACCMODE) != O_RDONLY;
    fsnotify_inode_event(ino, writer ? IN_CLOSE_WRITE : IN_CLOSE_NOWRITE, 0);
    int pending = 0;
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    for (struct instance *in = instances; in && !pending; in = in->next)
        for (struct watch *w = in->watches; w; w = w->next)
            if (w->gone_pending && vfs_same_inode(w->ino, ino))
                pending = 1;
    spin_unlock_irqrestore(&inotify_lock, flags);
    if (pending && !held_open(ino, f)) {
        flags = spin_lock_irqsave(&inotify_lock);
        remove_self(ino);
        spin_unlock_irqrestore(&inotify_lock, flags);
    }
}

uint32_t fsnotify_next_cookie(void)
{
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    uint32_t c = ++cookie_counter;
    spin_unlock_irqrestore(&inotify_lock, flags);
    return c;
}

/* ---- the instance file ---- */

static struct instance *instance_of(struct file *f) { return (struct instance *)f->inode; }

/* Copies whole events from the queue head into the user buffer; -EINVAL if the first does not
 * fit, -EAGAIN (or a wait) when there are none. */
static int64_t instance_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    struct instance *in = instance_of(f);
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    while (!in->head) {
        if (f->flags & O_NONBLOCK) {
            spin_unlock_irqrestore(&inotify_lock, flags);
            return -EAGAIN;
        }
        int rc = waitq_wait_unlock(&in->wq, &inotify_lock, flags, WAIT_FOREVER);
        if (rc == -EINTR)
            return -ERESTARTSYS;
        flags = spin_lock_irqsave(&inotify_lock);
    }
    /* Take the events that fit off the queue under the lock, copy them out without it. */
    struct event *taken = 0, **tail = &taken;
    uint64_t used = 0;
    while (in->head && used + sizeof in->head->hdr + in->head->hdr.len <= len) {
        struct event *e = in->head;
        in->head = e->next;
        if (!in->head)
            in->tail = 0;
        in->queued--;
        in->bytes -= sizeof e->hdr + e->hdr.len;
        used += sizeof e->hdr + e->hdr.len;
        e->next = 0;
        *tail = e;
        tail = &e->next;
    }
    spin_unlock_irqrestore(&inotify_lock, flags);
    if (!taken)
        return -EINVAL;
    uint64_t off = 0;
    int64_t rc = 0;
    while (taken) {
        struct event *e = taken;
        taken = e->next;
        if (!rc && (copy_to_user((char *)ubuf + off, &e->hdr, sizeof e->hdr) ||
                    copy_to_user((char *)ubuf + off + sizeof e->hdr, e->name, e->hdr.len)))
            rc = -EFAULT;
        off += sizeof e->hdr + e->hdr.len;
        kfree(e);
    }
    return rc ? rc : (int64_t)used;
}

static int64_t instance_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
    return -EINVAL;
}

static long instance_ioctl(struct file *f, uint32_t cmd, uint64_t arg)
{
    if (cmd != FIONREAD)
        return -ENOTTY;
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    int value = (int)instance_of(f)->bytes;
    spin_unlock_irqrestore(&inotify_lock, flags);
    return copy_to_user((void *)arg, &value, sizeof value) ? -EFAULT : 0;
}

static uint32_t instance_poll(struct file *f, struct waitq **wq)
{
    struct instance *in = instance_of(f);
    *wq = &in->wq;
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    uint32_t ready = in->head ? EPOLLIN | EPOLLRDNORM : 0;
    spin_unlock_irqrestore(&inotify_lock, flags);
    return ready;
}

/* The descriptor's last reference is gone: its watches go (no IN_IGNORED: nobody reads them). */
static void instance_release(struct file *f)
{
    struct instance *in = instance_of(f);
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    for (struct instance **pp = &instances; *pp; pp = &(*pp)->next) {
        if (*pp == in) {
            *pp = in->next;
            break;
        }
    }
    ninstances--;
    while (in->watches) {
        struct watch *w = in->watches;
        in->watches = w->next;
        fsnotify_watches--;
        inode_put(w->ino);
        kfree(w);
    }
    while (in->head) {
        struct event *e = in->head;
        in->head = e->next;
        kfree(e);
    }
    in->tail = 0;
    spin_unlock_irqrestore(&inotify_lock, flags);
}

static int instance_stat(struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = ANON_INODE_DEV;
    st->st_ino = ino->ino;
    st->st_nlink = 1;
    st->st_mode = ino->mode;
    st->st_blksize = 4096;
    return 0;
}

static void instance_free(struct inode *ino) { kfree(ino); }

static const struct inode_ops instance_inode_ops = {.stat = instance_stat,
                                                    .release = instance_free};
static const struct file_ops instance_ops = {.read = instance_read,
                                             .write = instance_write,
                                             .release = instance_release,
                                             .ioctl = instance_ioctl,
                                             .poll = instance_poll};

static long do_init(uint64_t flags)
{
    if (flags & ~(uint64_t)(O_NONBLOCK | O_CLOEXEC))
        return -EINVAL;
    struct instance *in = kzalloc(sizeof *in);
    if (!in)
        return -ENOMEM;
    /* Linux's anonymous inodes: mode 0600 without a file type, one inode number for all. */
    in->inode = (struct inode){.ops = &instance_inode_ops, .ino = 1, .mode = 0600, .refcount = 1};
    waitq_init(&in->wq, "inotify");
    static const char anon[] = "anon_inode:inotify";
    in->inode.path = kmalloc(sizeof anon);
    if (in->inode.path)
        memcpy(in->inode.path, anon, sizeof anon);
    uint64_t lf = spin_lock_irqsave(&inotify_lock);
    int full = ninstances >= MAX_USER_INSTANCES;
    if (!full)
        ninstances++;
    spin_unlock_irqrestore(&inotify_lock, lf);
    if (full) {
        inode_put(&in->inode);
        return -EMFILE;
    }
    struct file *f = file_new(&instance_ops, &in->inode, O_RDONLY | ((uint32_t)flags & O_NONBLOCK));
    inode_put(&in->inode); /* the file holds it now (or it is freed) */
    if (!f) {
        lf = spin_lock_irqsave(&inotify_lock);
        ninstances--;
        spin_unlock_irqrestore(&inotify_lock, lf);
        return -ENOMEM;
    }
    lf = spin_lock_irqsave(&inotify_lock);
    in->next = instances;
    instances = in;
    spin_unlock_irqrestore(&inotify_lock, lf);
    int fd = fd_install(f, 0, (flags & O_CLOEXEC) != 0);
    if (fd < 0)
        file_put(f);
    return fd;
}

SYS(inotify_init1) { UNUSED_ARGS(); return do_init(a0); }
SYS(inotify_init) { UNUSED_ARGS(); return do_init(0); }

/* The instance behind descriptor fd: -EBADF, or -EINVAL for another kind of file. */
static long get_instance(int fd, struct instance **out)
{
    struct file *f = fd_get(fd);
    if (!f)
        return -EBADF;
    if (f->ops != &instance_ops)
        return -EINVAL;
    *out = instance_of(f);
    return 0;
}

SYS(inotify_add_watch)
{
    UNUSED_ARGS();
    uint32_t mask = (uint32_t)a2;
    /* Linux's order: the mask, then the descriptor, then the path. */
    if (!(mask & ALL_INOTIFY_BITS))
        return -EINVAL;
    if ((mask & IN_MASK_ADD) && (mask & IN_MASK_CREATE))
        return -EINVAL;
    struct instance *in;
    long rc = get_instance((int)a0, &in);
    if (rc)
        return rc;
    char *path;
    rc = fs_get_path(a1, &path);
    if (rc)
        return rc;
    struct inode *ino;
    rc = vfs_lookup(0, path, !(mask & IN_DONT_FOLLOW), &ino);
    kfree(path);
    if (rc)
        return rc;
    if ((mask & IN_ONLYDIR) && !is_dir(ino)) {
        inode_put(ino);
        return -ENOTDIR;
    }
    uint32_t keep = mask & (IN_ALL_EVENTS | IN_ONESHOT | IN_EXCL_UNLINK);
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    for (struct watch *w = in->watches; w; w = w->next) {
        if (!vfs_same_inode(w->ino, ino))
            continue;
        if (mask & IN_MASK_CREATE) {
            rc = -EEXIST;
        } else {
            w->mask = (mask & IN_MASK_ADD) ? w->mask | keep : keep;
            rc = w->wd;
        }
        spin_unlock_irqrestore(&inotify_lock, flags);
        inode_put(ino);
        return rc;
    }
    struct watch *w = 0;
    if (fsnotify_watches < MAX_USER_WATCHES)
        w = kzalloc(sizeof *w);
    if (!w) {
        spin_unlock_irqrestore(&inotify_lock, flags);
        inode_put(ino);
        return -ENOSPC;
    }
    *w = (struct watch){.in = in, .ino = ino, .wd = ++in->last_wd, .mask = keep};
    w->next = in->watches;
    in->watches = w;
    fsnotify_watches++;
    rc = w->wd;
    spin_unlock_irqrestore(&inotify_lock, flags);
    return rc;
}

SYS(inotify_rm_watch)
{
    UNUSED_ARGS();
    struct instance *in;
    long rc = get_instance((int)a0, &in);
    if (rc)
        return rc;
    rc = -EINVAL;
    uint64_t flags = spin_lock_irqsave(&inotify_lock);
    for (struct watch *w = in->watches; w; w = w->next) {
        if (w->wd == (int32_t)a1) {
            drop_watch(w);
            rc = 0;
            break;
        }
    }
    spin_unlock_irqrestore(&inotify_lock, flags);
    return rc;
}
