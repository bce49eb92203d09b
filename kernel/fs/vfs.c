/* Inodes, path lookup with symlinks and mounts, the working directory, open files and the
 * descriptor table (see fs/vfs.h). */
#include "fs/vfs.h"
#include "fs/fsnotify.h"
#include "errno.h"
#include "fs/flock.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "linux/uaccess.h"
#include "mm/kheap.h"
#include "sched/thread.h"

#define MAX_SYMLINKS 40

static struct inode *root; /* set once at boot */
/* Guards the working directory: cwd (a reference) and cwd_path. */
static struct spinlock cwd_lock = SPINLOCK_INIT("cwd");
static struct inode *cwd;
static char cwd_path[PATH_MAX] = "/";
/* Guards the descriptor table: fds and fd_cloexec. Nothing is called under it but file_get. */
static struct spinlock fdtable_lock = SPINLOCK_INIT("fdtable");
static struct file *fds[MAX_FDS];
static uint8_t fd_cloexec[MAX_FDS];
/* Guards adding mounts. The table only grows, and an entry is complete before nmounts counts
 * it (release/acquire), so lookups read it without the lock. */
static struct spinlock mounts_lock = SPINLOCK_INIT("mounts");
static struct mount mounts[MAX_MOUNTS];
static int nmounts;

static int mount_count(void) { return __atomic_load_n(&nmounts, __ATOMIC_ACQUIRE); }

void inode_get(struct inode *ino) { __atomic_add_fetch(&ino->refcount, 1, __ATOMIC_RELAXED); }

void inode_put(struct inode *ino)
{
    if (!ino || __atomic_sub_fetch(&ino->refcount, 1, __ATOMIC_ACQ_REL))
        return;
    kfree(ino->path);
    ino->path = 0;
    if (ino->ops->release)
        ino->ops->release(ino);
}

static char *kstrdup(const char *s)
{
    size_t n = strlen(s) + 1;
    char *d = kmalloc(n);
    if (d)
        memcpy(d, s, n);
    return d;
}

int vfs_same_inode(const struct inode *a, const struct inode *b)
{
    return a == b || (a->ops == b->ops && a->fs == b->fs && a->ino == b->ino);
}

void vfs_set_child_path(struct inode *ino, const struct inode *dir, const char *name)
{
    if (ino->path || !dir->path)
        return;
    size_t d = strlen(dir->path), n = strlen(name);
    if (d + n + 2 > PATH_MAX || !(ino->path = kmalloc(d + n + 2)))
        return;
    memcpy(ino->path, dir->path, d);
    if (d > 1)
        ino->path[d++] = '/';
    memcpy(ino->path + d, name, n + 1);
}

int64_t inode_read(struct inode *ino, uint64_t off, void *buf, uint64_t len)
{
    if (!ino->ops->read)
        return -EINVAL;
    return ino->ops->read(ino, off, buf, len);
}

const void *inode_page_ptr(struct inode *ino, uint64_t index)
{
    return ino->ops->page_ptr ? ino->ops->page_ptr(ino, index) : 0;
}

void vfs_set_root(struct inode *r)
{
    inode_get(r);
    root = r;
    inode_get(r);
    cwd = r;
    if (!r->path)
        r->path = kstrdup("/");
}

struct inode *vfs_root(void) { return root; }
struct inode *vfs_cwd(void) { return cwd; }

static int is_dir(const struct inode *i) { return (i->mode & S_IFMT) == S_IFDIR; }

/* Looks `name` up in dir, seeing mounts: a mountpoint name gives the mounted root, ".." of a
 * mounted root gives the mountpoint's parent, "." gives dir itself. */
static int lookup_one(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    int dotdot = len == 2 && name[0] == '.' && name[1] == '.';
    if (len == 1 && name[0] == '.') {
        inode_get(dir);
        *out = dir;
        return 0;
    }
    for (int i = 0, n = mount_count(); i < n; i++) {
        struct mount *m = &mounts[i];
        struct inode *hit = 0;
        if (dotdot && vfs_same_inode(m->root, dir))
            hit = m->parent;
        else if (!dotdot && strlen(m->name) == len && !memcmp(m->name, name, len) &&
                 vfs_same_inode(m->parent, dir))
            hit = m->root;
        if (hit) {
            inode_get(hit);
            *out = hit;
            return 0;
        }
    }
    return dir->ops->lookup(dir, name, len, out);
}

/* Moves the tracked absolute path `abs` (PATH_MAX bytes; "" when unknown) one component down,
 * or up for "..". */
static void path_step(char *abs, const char *name, size_t len)
{
    if (!abs[0] || (len == 1 && name[0] == '.'))
        return;
    size_t n = strlen(abs);
    if (len == 2 && name[0] == '.' && name[1] == '.') {
        while (n > 1 && abs[n - 1] != '/')
            n--;
        if (n > 1)
            n--;
        abs[n] = 0;
        return;
    }
    if (n + len + 2 > PATH_MAX) {
        abs[0] = 0;
        return;
    }
    if (n > 1)
        abs[n++] = '/';
    memcpy(abs + n, name, len);
    abs[n + len] = 0;
}

/* Walks `path` from `dir` (a reference the walk consumes). `buf` holds the remaining path and is
 * rewritten in place when a symlink is expanded. `abs` holds dir's absolute path ("" if unknown)
 * and follows the walk; the inode found gets it as its path if it has none. */
static int walk(struct inode *dir, char *buf, int follow_last, struct inode **out, char *abs)
{
    int links = 0, must_be_dir = 0;
    char *p = buf;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p) {
            if (must_be_dir && !is_dir(dir)) {
                inode_put(dir);
                return -ENOTDIR;
            }
            if (!dir->path && abs[0])
                dir->path = kstrdup(abs);
            *out = dir;
            return 0;
        }
        char *end = p;
        while (*end && *end != '/')
            end++;
        size_t len = (size_t)(end - p);
        if (len > NAME_MAX) {
            inode_put(dir);
            return -ENAMETOOLONG;
        }
        if (!is_dir(dir)) {
            inode_put(dir);
            return -ENOTDIR;
        }
        struct inode *next;
        int rc = lookup_one(dir, p, len, &next);
        if (rc) {
            inode_put(dir);
            return rc;
        }
        char *rest = end;
        while (*rest == '/')
            rest++;
        int last = *rest == 0;
        if ((next->mode & S_IFMT) == S_IFLNK && (!last || follow_last || *end == '/')) {
            if (++links > MAX_SYMLINKS) {
                inode_put(next);
                inode_put(dir);
                return -ELOOP;
            }
            char target[PATH_MAX];
            int n = next->ops->readlink ? next->ops->readlink(next, target, sizeof target - 1)
                                        : -EINVAL;
            inode_put(next);
            if (n < 0) {
                inode_put(dir);
                return n;
            }
            size_t restlen = strlen(end);
            if ((size_t)n + restlen + 1 > PATH_MAX) {
                inode_put(dir);
                return -ENAMETOOLONG;
            }
            memmove(buf + n, end, restlen + 1);
            memcpy(buf, target, (size_t)n);
            p = buf;
            if (target[0] == '/') {
                inode_put(dir);
                dir = root;
                inode_get(dir);
                abs[0] = '/', abs[1] = 0;
            }
            continue;
        }
        path_step(abs, p, len);
        must_be_dir = *end == '/';
        inode_put(dir);
        dir = next;
        p = end;
    }
}

int vfs_lookup(struct inode *base, const char *path, int follow_last, struct inode **out)
{
    size_t len = strnlen(path, PATH_MAX);
    if (len == 0)
        return -ENOENT;
    if (len >= PATH_MAX)
        return -ENAMETOOLONG;
    char *buf = kmalloc(2 * PATH_MAX);
    if (!buf)
        return -ENOMEM;
    char *abs = buf + PATH_MAX;
    memcpy(buf, path, len + 1);
    uint64_t fl = spin_lock_irqsave(&cwd_lock);
    struct inode *start = path[0] == '/' ? root : base ? base : cwd;
    const char *start_path = path[0] == '/' ? "/" : base ? base->path : cwd_path;
    abs[0] = 0;
    if (start_path)
        memcpy(abs, start_path, strlen(start_path) + 1);
    inode_get(start);
    spin_unlock_irqrestore(&cwd_lock, fl);
    int rc = walk(start, buf, follow_last, out, abs);
    kfree(buf);
    return rc;
}

int vfs_lookup_parent(struct inode *base, const char *path, struct inode **dir, char *name)
{
    size_t len = strnlen(path, PATH_MAX);
    if (len == 0)
        return -ENOENT;
    if (len >= PATH_MAX)
        return -ENAMETOOLONG;
    char *buf = kmalloc(PATH_MAX);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, path, len + 1);
    while (len > 1 && buf[len - 1] == '/')
        buf[--len] = 0;
    char *slash = 0;
    for (char *q = buf; *q; q++)
        if (*q == '/')
            slash = q;
    char *last = slash ? slash + 1 : buf;
    int rc = 0;
    if (strlen(last) > NAME_MAX) {
        rc = -ENAMETOOLONG;
    } else {
        memcpy(name, last, strlen(last) + 1);
        if (!slash) {
            uint64_t fl = spin_lock_irqsave(&cwd_lock);
            *dir = base ? base : cwd;
            inode_get(*dir);
            spin_unlock_irqrestore(&cwd_lock, fl);
        } else {
            if (slash == buf)
                slash[1] = 0; /* the parent is "/" */
            else
                *slash = 0;
            rc = vfs_lookup(base, buf, 1, dir);
            if (!rc && !is_dir(*dir)) {
                inode_put(*dir);
                rc = -ENOTDIR;
            }
        }
    }
    kfree(buf);
    return rc;
}

int vfs_mount(const char *path, struct inode *mroot, const char *fstype, const char *source,
              const char *options, uint32_t dev)
{
    if (strlen(path) >= sizeof mounts[0].path)
        return -ENOMEM;
    struct inode *parent;
    char name[NAME_MAX + 1];
    int rc = vfs_lookup_parent(0, path, &parent, name);
    if (rc)
        return rc;
    uint64_t fl = spin_lock_irqsave(&mounts_lock);
    if (nmounts == MAX_MOUNTS) {
        spin_unlock_irqrestore(&mounts_lock, fl);
        inode_put(parent);
        return -ENOMEM;
    }
    struct mount *m = &mounts[nmounts];
    m->parent = parent;
    memcpy(m->name, name, sizeof name);
    inode_get(mroot);
    m->root = mroot;
    if (!mroot->path)
        mroot->path = kstrdup(path);
    memcpy(m->path, path, strlen(path) + 1);
    m->fstype = fstype;
    m->source = source;
    m->options = options;
    m->dev = dev;
    __atomic_store_n(&nmounts, nmounts + 1, __ATOMIC_RELEASE);
    spin_unlock_irqrestore(&mounts_lock, fl);
    return 0;
}

const struct mount *vfs_mount_at(int i) { return i >= 0 && i < mount_count() ? &mounts[i] : 0; }

int vfs_readdir(struct inode *ino, uint64_t *cookie, struct vfs_dirent *out)
{
    if (*cookie < VFS_MOUNT_COOKIE) {
        int rc = ino->ops->readdir(ino, cookie, out);
        if (rc)
            return rc;
        *cookie = VFS_MOUNT_COOKIE;
    }
    int n = mount_count();
    for (uint64_t i = *cookie - VFS_MOUNT_COOKIE; i < (uint64_t)n; i++) {
        struct mount *m = &mounts[i];
        struct inode *there;
        if (!vfs_same_inode(m->parent, ino))
            continue;
        if (!ino->ops->lookup(ino, m->name, strlen(m->name), &there)) {
            inode_put(there); /* listed by the filesystem itself */
            continue;
        }
        out->ino = m->root->ino;
        out->type = 4; /* DT_DIR */
        out->name_len = (uint8_t)strlen(m->name);
        memcpy(out->name, m->name, (size_t)out->name_len + 1);
        *cookie = VFS_MOUNT_COOKIE + i + 1;
        return 1;
    }
    *cookie = VFS_MOUNT_COOKIE + (uint64_t)n;
    return 0;
}

/* Appends `path` to the absolute `cwd_path`, folding "." and ".." lexically. */
static void update_cwd_path(const char *path)
{
    char *buf = kmalloc(PATH_MAX);
    if (!buf)
        return;
    size_t n = 0;
    if (path[0] != '/') {
        n = strlen(cwd_path);
        memcpy(buf, cwd_path, n);
    }
    const char *p = path;
    while (*p) {
        while (*p == '/')
            p++;
        const char *e = p;
        while (*e && *e != '/')
            e++;
        size_t len = (size_t)(e - p);
        if (len == 0 || (len == 1 && p[0] == '.')) {
        } else if (len == 2 && p[0] == '.' && p[1] == '.') {
            while (n > 0 && buf[n - 1] != '/')
                n--;
            if (n > 0)
                n--;
        } else if (n + 1 + len < PATH_MAX) {
            buf[n++] = '/';
            memcpy(buf + n, p, len);
            n += len;
        }
        p = e;
    }
    if (n == 0)
        buf[n++] = '/';
    buf[n] = 0;
    memcpy(cwd_path, buf, n + 1);
    kfree(buf);
}

int vfs_chdir(const char *path)
{
    struct inode *ino;
    int rc = vfs_lookup(0, path, 1, &ino);
    if (rc)
        return rc;
    if (!is_dir(ino)) {
        inode_put(ino);
        return -ENOTDIR;
    }
    uint64_t fl = spin_lock_irqsave(&cwd_lock);
    struct inode *old = cwd;
    cwd = ino;
    update_cwd_path(path);
    spin_unlock_irqrestore(&cwd_lock, fl);
    inode_put(old);
    return 0;
}

const char *vfs_getcwd(void) { return cwd_path; }

int vfs_fchdir(struct inode *dir)
{
    if (!is_dir(dir))
        return -ENOTDIR;
    inode_get(dir);
    uint64_t fl = spin_lock_irqsave(&cwd_lock);
    struct inode *old = cwd;
    cwd = dir;
    if (dir->path)
        memcpy(cwd_path, dir->path, strlen(dir->path) + 1);
    spin_unlock_irqrestore(&cwd_lock, fl);
    inode_put(old);
    return 0;
}

struct file *file_new(const struct file_ops *ops, struct inode *ino, uint32_t flags)
{
    struct file *f = kzalloc(sizeof *f);
    if (!f)
        return 0;
    f->ops = ops;
    f->inode = ino;
    if (ino)
        inode_get(ino);
    f->flags = flags;
    f->refcount = 1;
    mutex_init(&f->pos_lock, "file position");
    return f;
}

int file_pos_lock(struct file *f)
{
    uint32_t type = f->inode ? f->inode->mode & S_IFMT : 0;
    if (type != S_IFREG && type != S_IFDIR && type != S_IFBLK)
        return 0;
    mutex_lock(&f->pos_lock);
    return 1;
}

void file_pos_unlock(struct file *f, int locked)
{
    if (locked)
        mutex_unlock(&f->pos_lock);
}

void file_get(struct file *f) { __atomic_add_fetch(&f->refcount, 1, __ATOMIC_RELAXED); }

void file_put(struct file *f)
{
    if (__atomic_sub_fetch(&f->refcount, 1, __ATOMIC_ACQ_REL))
        return;
    fsnotify_close(f);
    if (__atomic_load_n(&f->epitems, __ATOMIC_ACQUIRE))
        epoll_file_release(f);
    if (f->ops->release)
        f->ops->release(f);
    flock_release(f);
    if (f->inode)
        inode_put(f->inode);
    kfree(f);
}

int fd_install(struct file *f, int min, int cloexec)
{
    uint64_t fl = spin_lock_irqsave(&fdtable_lock);
    for (int fd = min < 0 ? 0 : min; fd < MAX_FDS; fd++) {
        if (!fds[fd]) {
            fds[fd] = f;
            fd_cloexec[fd] = (uint8_t)(cloexec != 0);
            spin_unlock_irqrestore(&fdtable_lock, fl);
            return fd;
        }
    }
    spin_unlock_irqrestore(&fdtable_lock, fl);
    return -EMFILE;
}

int fd_install_at(struct file *f, int fd, int cloexec)
{
    if (fd < 0 || fd >= MAX_FDS)
        return -EBADF;
    uint64_t fl = spin_lock_irqsave(&fdtable_lock);
    struct file *old = fds[fd];
    fds[fd] = f;
    fd_cloexec[fd] = (uint8_t)(cloexec != 0);
    spin_unlock_irqrestore(&fdtable_lock, fl);
    if (old)
        file_put(old);
    return fd;
}

struct file *fd_get(int fd)
{
    struct file *f = fd_file(fd);
    if (f && !thread_hold_file(f))
        file_put(f); /* no room: as before, valid while nobody closes fd (not in the table: ours
                      * was not the last reference, the table's is still there) */
    return f;
}

struct file *fd_file(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return 0;
    uint64_t fl = spin_lock_irqsave(&fdtable_lock);
    struct file *f = fds[fd];
    if (f)
        file_get(f);
    spin_unlock_irqrestore(&fdtable_lock, fl);
    return f;
}

int fd_get_cloexec(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return 0;
    uint64_t fl = spin_lock_irqsave(&fdtable_lock);
    int on = fds[fd] ? fd_cloexec[fd] : 0;
    spin_unlock_irqrestore(&fdtable_lock, fl);
    return on;
}

void fd_set_cloexec(int fd, int on)
{
    if (fd < 0 || fd >= MAX_FDS)
        return;
    uint64_t fl = spin_lock_irqsave(&fdtable_lock);
    if (fds[fd])
        fd_cloexec[fd] = (uint8_t)(on != 0);
    spin_unlock_irqrestore(&fdtable_lock, fl);
}

int fd_close(int fd)
{
    if (fd < 0 || fd >= MAX_FDS)
        return -EBADF;
    uint64_t fl = spin_lock_irqsave(&fdtable_lock);
    struct file *f = fds[fd];
    fds[fd] = 0;
    spin_unlock_irqrestore(&fdtable_lock, fl);
    if (!f)
        return -EBADF;
    file_put(f);
    return 0;
}

/* O_DIRECT on a filesystem that has it: the buffer, the file position and the length must be
 * multiples of O_DIRECT_ALIGN (EINVAL, as Linux); the data moves in chunks through a bounce
 * buffer, bypassing the filesystem's cache. */
#define DIRECT_CHUNK (64u * 1024)
static int64_t direct_io(struct file *f, void *ubuf, uint64_t len, uint64_t *pos, int write)
{
    struct inode *ino = f->inode;
    if (((uint64_t)ubuf | *pos | len) % O_DIRECT_ALIGN)
        return -EINVAL;
    if (write && (f->flags & O_APPEND))
        *pos = ino->size;
    char *bounce = kmalloc(DIRECT_CHUNK);
    if (!bounce)
        return -ENOMEM;
    uint64_t done = 0;
    int64_t rc = 0;
    while (done < len) {
        uint64_t n = len - done < DIRECT_CHUNK ? len - done : DIRECT_CHUNK;
        int64_t got;
        if (write) {
            if (copy_from_user(bounce, (const char *)ubuf + done, n)) {
                rc = -EFAULT;
                break;
            }
            got = ino->ops->direct_write(ino, *pos, bounce, n);
        } else {
            got = ino->ops->direct_read(ino, *pos, bounce, n);
            if (got > 0 && copy_to_user((char *)ubuf + done, bounce, (uint64_t)got))
                got = -EFAULT;
        }
        if (got <= 0) {
            rc = got;
            break;
        }
        done += (uint64_t)got;
        *pos += (uint64_t)got;
        if ((uint64_t)got < n)
            break;
    }
    kfree(bounce);
    if (done)
        fsnotify_inode(ino, write ? IN_MODIFY : IN_ACCESS, 0);
    if (done && write && (f->flags & 010000) && ino->ops->fsync) {
        int r = ino->ops->fsync(ino); /* O_DSYNC/O_SYNC as for other writes */
        if (r < 0)
            return r;
    }
    return done ? (int64_t)done : rc;
}

static int64_t inode_file_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    struct inode *ino = f->inode;
    if (is_dir(ino))
        return -EISDIR;
    if ((f->flags & O_DIRECT) && ino->ops->direct_read)
        return direct_io(f, ubuf, len, pos, 0);
    uint64_t done = 0;
    char *bounce = 0;
    while (done < len) {
        uint64_t off = *pos;
        uint64_t chunk = 4096 - (off & 4095);
        if (chunk > len - done)
            chunk = len - done;
        const void *src = 0;
        int64_t n;
        const void *page = inode_page_ptr(ino, off >> 12);
        if (page) {
            uint64_t avail = off < ino->size ? ino->size - off : 0;
            n = (int64_t)(chunk < avail ? chunk : avail);
            src = (const char *)page + (off & 4095);
        } else {
            if (!bounce && !(bounce = kmalloc(4096))) {
                n = -ENOMEM;
            } else {
                n = inode_read(ino, off, bounce, chunk);
                src = bounce;
            }
        }
        if (n <= 0) {
            if (n < 0 && done == 0) {
                kfree(bounce);
                return n;
            }
            break;
        }
        if (copy_to_user((char *)ubuf + done, src, (uint64_t)n)) {
            kfree(bounce);
            return done ? (int64_t)done : -EFAULT;
        }
        done += (uint64_t)n;
        *pos += (uint64_t)n;
        if ((uint64_t)n < chunk)
            break;
    }
    kfree(bounce);
    if (done)
        fsnotify_inode(ino, IN_ACCESS, 0);
    return (int64_t)done;
}

/* "inode write": a write to a regular file holds its inode's lock for the whole call, as Linux's
 * inode lock, so an O_APPEND write lands whole at the end as it is then (appenders through opens
 * of their own never write over each other) and two writes to the same bytes do not interleave
 * page by page. Locks are hashed by inode (a struct inode is embedded in each filesystem's own
 * node, allocated its own way): two files rarely share one. */
#define WRITE_LOCKS 64
static struct mutex write_locks[WRITE_LOCKS] = {[0 ... WRITE_LOCKS - 1] = MUTEX_INIT("inode write")};

static struct mutex *write_lock_of(const struct inode *ino)
{
    uint64_t h = (uint64_t)(uintptr_t)ino * 0x9e3779b97f4a7c15ull;
    return &write_locks[h >> 58]; /* the top 6 bits: WRITE_LOCKS = 64 */
}

static int64_t write_locked(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos);

static int64_t inode_file_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    struct mutex *m = write_lock_of(f->inode);
    mutex_lock(m);
    int64_t rc = write_locked(f, ubuf, len, pos);
    mutex_unlock(m);
    return rc;
}

static int64_t write_locked(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    struct inode *ino = f->inode;
    if (!ino->ops->write)
        return -EROFS;
    if ((f->flags & O_DIRECT) && ino->ops->direct_write)
        return direct_io(f, (void *)ubuf, len, pos, 1);
    if (f->flags & O_APPEND)
        *pos = ino->size;
    char *bounce = kmalloc(4096);
    if (!bounce)
        return -ENOMEM;
    uint64_t done = 0;
    int64_t rc = 0;
    while (done < len) {
        uint64_t n = len - done < 4096 ? len - done : 4096;
        if (copy_from_user(bounce, (const char *)ubuf + done, n)) {
            rc = -EFAULT;
            break;
        }
        int64_t w = ino->ops->write(ino, *pos, bounce, n);
        if (w <= 0) {
            rc = w;
            break;
        }
        done += (uint64_t)w;
        *pos += (uint64_t)w;
        if ((uint64_t)w < n)
            break;
    }
    kfree(bounce);
    if (done)
        fsnotify_inode(ino, IN_MODIFY, 0);
    /* O_DSYNC, and O_SYNC (which includes its bit): durable before write returns. */
    if (done && (f->flags & 010000) && ino->ops->fsync) {
        int r = ino->ops->fsync(ino);
        if (r < 0)
            return r;
    }
    return done ? (int64_t)done : rc;
}

const struct file_ops inode_file_ops = {.read = inode_file_read, .write = inode_file_write};

/* Creates the regular file `path` (its last component absent, or with follow, a dangling
 * symlink: then its target is created, as Linux does). */
static int create_file(struct inode *base, const char *path, uint32_t mode, int follow,
                       struct inode **out)
{
    char *buf = kmalloc(PATH_MAX + NAME_MAX + 1);
    if (!buf)
        return -ENOMEM;
    char *name = buf + PATH_MAX;
    memcpy(buf, path, strlen(path) + 1);
    struct inode *held = 0; /* keeps base alive once it is a symlink's directory */
    int rc;
    for (int links = 0;; links++) {
        struct inode *dir, *link;
        rc = vfs_lookup_parent(base, buf, &dir, name);
        if (rc)
            break;
        size_t plen = strlen(buf);
        if (follow && name[0] && buf[plen - 1] != '/' &&
            !lookup_one(dir, name, strlen(name), &link)) {
            int is_link = (link->mode & S_IFMT) == S_IFLNK;
            int n = !is_link ? -EEXIST
                    : links >= MAX_SYMLINKS ? -ELOOP
                    : link->ops->readlink ? link->ops->readlink(link, buf, PATH_MAX - 1)
                                          : -EINVAL;
            inode_put(link);
            if (n <= 0) {
                inode_put(dir);
                rc = n ? n : -ENOENT;
                break;
            }
            buf[n] = 0;
            inode_put(held);
            held = base = dir; /* a relative target starts at the link's directory */
            continue;
        }
        if (!name[0] || buf[plen - 1] == '/')
            rc = -EISDIR;
        else if (!dir->ops->create)
            rc = -EROFS;
        else
            rc = dir->ops->create(dir, name, strlen(name), S_IFREG | (mode & 07777), out);
        if (!rc) {
            vfs_set_child_path(*out, dir, name);
            fsnotify_name(dir, IN_CREATE, 0, name, *out);
        }
        inode_put(dir);
        break;
    }
    inode_put(held);
    kfree(buf);
    return rc;
}

int vfs_open(struct inode *base, const char *path, uint32_t flags, uint32_t mode,
             struct file **out)
{
    struct inode *ino;
    int follow = !(flags & O_NOFOLLOW) && !(flags & O_EXCL);
    size_t plen = strnlen(path, PATH_MAX);
    if ((flags & O_CREAT) && plen > 1 && plen < PATH_MAX && path[plen - 1] == '/') {
        /* O_CREAT makes regular files: a trailing slash is EISDIR once the parent resolves */
        char *name = kmalloc(NAME_MAX + 1);
        if (!name)
            return -ENOMEM;
        struct inode *dir;
        int rc = vfs_lookup_parent(base, path, &dir, name);
        int dots = !strcmp(name, ".") || !strcmp(name, "..");
        kfree(name);
        if (rc)
            return rc;
        inode_put(dir);
        if (!dots)
            return -EISDIR;
        /* "." and "..": an existing directory, refused below */
    }
    int rc = vfs_lookup(base, path, follow, &ino);
    int created = 0;
    if (rc == -ENOENT && (flags & O_CREAT))
        created = !(rc = create_file(base, path, mode, follow, &ino));
    else if (!rc && (flags & O_CREAT) && (flags & O_EXCL)) {
        inode_put(ino);
        rc = -EEXIST;
    }
    if (rc)
        return rc;
    uint32_t type = ino->mode & S_IFMT;
    rc = 0;
    if (type == S_IFLNK && !(flags & O_PATH))
        rc = -ELOOP;
    else if ((flags & O_DIRECTORY) && type != S_IFDIR)
        rc = -ENOTDIR;
    else if (!(flags & O_PATH) &&
             ((flags & O_ACCMODE) != O_RDONLY || (flags & (O_TRUNC | O_CREAT))) &&
             type == S_IFDIR)
        rc = -EISDIR;
    else if (!(flags & O_PATH) && (flags & O_ACCMODE) != O_RDONLY && type == S_IFREG &&
             !ino->ops->write)
        rc = -EROFS;
    else if (!(flags & O_PATH) && type == S_IFREG &&
             ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) &&
             __atomic_load_n(&ino->deny_write, __ATOMIC_ACQUIRE))
        rc = -ETXTBSY;
    else if (!(flags & O_PATH) && (flags & O_TRUNC) && type == S_IFREG && ino->size)
        rc = ino->ops->truncate ? ino->ops->truncate(ino, 0) : -EROFS;
    struct file *f = 0;
    if (!rc) {
        f = file_new(&inode_file_ops, ino, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
        rc = f ? 0 : -ENOMEM;
    }
    if (!rc && ino->ops->open && !(flags & O_PATH)) {
        rc = ino->ops->open(ino, f);
        if (rc) {
            f->ops = &inode_file_ops;
            file_put(f);
        }
    }
    if (!rc && !(flags & O_PATH)) {
        /* Linux's order: IN_OPEN, then the truncation's IN_MODIFY */
        fsnotify_inode(ino, IN_OPEN, 0);
        if ((flags & O_TRUNC) && !created && type == S_IFREG)
            fsnotify_inode(ino, IN_MODIFY, 0);
    }
    inode_put(ino);
    if (rc)
        return rc;
    *out = f;
    return 0;
}
