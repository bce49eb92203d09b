/* File syscalls that change names and metadata: mkdir, unlink, rmdir, rename, symlink, link (and
 * their *at forms), chmod/chown, utimensat, truncate/ftruncate, fsync, flock, fchdir, statfs.
 * Linux errno values; a read-only filesystem answers -EROFS once the names check out. */
#include "errno.h"
#include "fs/flock.h"
#include "fs/fsnotify.h"
#include "fs/tmpfs.h"
#include "fs/volume.h"
#include "fs/vfs.h"
#include "lib/string.h"
#include "linux/fspath.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "core/clock.h"
#include "mm/kheap.h"
#include "mm/palloc.h"

#define AT_REMOVEDIR 0x200
#define AT_SYMLINK_FOLLOW 0x400
#define RENAME_NOREPLACE 1
#define RENAME_EXCHANGE 2
#define RENAME_WHITEOUT 4
#define UTIME_NOW ((1l << 30) - 1)
#define UTIME_OMIT ((1l << 30) - 2)

/* A path argument resolved to its parent directory and last name. */
struct parent {
    char *path;
    struct inode *dir;
    char name[NAME_MAX + 1];
};

/* Resolves dirfd/upath to *p (free with put_parent); returns 0 or -errno. */
static long get_parent(int dirfd, uint64_t upath, struct parent *p)
{
    p->dir = 0;
    long rc = fs_get_path(upath, &p->path);
    if (rc)
        return rc;
    struct inode *base;
    rc = fs_dirfd_inode(dirfd, p->path, &base);
    if (!rc)
        rc = vfs_lookup_parent(base, p->path, &p->dir, p->name);
    if (rc) {
        kfree(p->path);
        p->dir = 0;
    }
    return rc;
}

static void put_parent(struct parent *p)
{
    inode_put(p->dir);
    kfree(p->path);
}

static int is_dot(const char *n) { return !strcmp(n, ".") || !strcmp(n, ".."); }

/* The inode `name` names in p->dir (a new reference), or -errno. */
static int child(struct parent *p, struct inode **out)
{
    return vfs_lookup(p->dir, p->name, 0, out);
}

static int exists(struct parent *p)
{
    struct inode *ino;
    if (child(p, &ino))
        return 0;
    inode_put(ino);
    return 1;
}

static long do_mkdirat(int dirfd, uint64_t upath, uint64_t mode)
{
    struct parent p;
    long rc = get_parent(dirfd, upath, &p);
    if (rc)
        return rc;
    if (!p.name[0] || is_dot(p.name) || exists(&p)) {
        rc = -EEXIST;
    } else if (!p.dir->ops->create) {
        rc = -EROFS;
    } else {
        struct inode *ino;
        rc = p.dir->ops->create(p.dir, p.name, strlen(p.name),
                                S_IFDIR | ((uint32_t)mode & 07777 & ~fs_umask()), &ino);
        if (!rc) {
            fsnotify_name(p.dir, IN_CREATE, 0, p.name, ino);
            inode_put(ino);
        }
    }
    put_parent(&p);
    return rc;
}

SYS(mkdirat) { UNUSED_ARGS(); return do_mkdirat((int)a0, a1, a2); }
SYS(mkdir) { UNUSED_ARGS(); return do_mkdirat(AT_FDCWD, a0, a1); }

/* The number of names `ino` has left. */
static uint64_t nlink_of(struct inode *ino)
{
    struct linux_stat st;
    return ino->ops->stat && !ino->ops->stat(ino, &st) ? st.st_nlink : 1;
}

/* inotify's events for a name removed from dir, in Linux's order: the file's IN_ATTRIB (its link
 * count changed), its IN_DELETE_SELF if that was its last name, then the directory's IN_DELETE. */
static void notify_unlinked(struct inode *dir, const char *name, struct inode *ino, int rmdir)
{
    if (!fsnotify_watches)
        return;
    if (!rmdir)
        fsnotify_inode(ino, IN_ATTRIB, 1);
    if (rmdir || !nlink_of(ino))
        fsnotify_gone(ino);
    fsnotify_name(dir, IN_DELETE, 0, name, ino);
}

static long do_unlinkat(int dirfd, uint64_t upath, uint64_t flags)
{
    if (flags & ~(uint64_t)AT_REMOVEDIR)
        return -EINVAL;
    int rmdir = (flags & AT_REMOVEDIR) != 0;
    struct parent p;
    long rc = get_parent(dirfd, upath, &p);
    if (rc)
        return rc;
    size_t plen = strlen(p.path);
    struct inode *ino = 0;
    if (!p.name[0]) {
        rc = rmdir ? -EBUSY : -EISDIR;
    } else if (rmdir && !strcmp(p.name, ".")) {
        rc = -EINVAL;
    } else if (rmdir && !strcmp(p.name, "..")) {
        rc = -ENOTEMPTY;
    } else if ((rc = child(&p, &ino)) == 0) {
        uint32_t type = ino->mode & S_IFMT;
        if (!rmdir && p.path[plen - 1] == '/' && type != S_IFDIR)
            rc = -ENOTDIR;
        else if (!rmdir && type == S_IFDIR)
            rc = -EISDIR;
        else if (rmdir && type != S_IFDIR)
            rc = -ENOTDIR;
        else if (ino->fs != p.dir->fs || ino->ops != p.dir->ops)
            rc = -EBUSY; /* a mountpoint */
        else if (!p.dir->ops->unlink)
            rc = -EROFS;
        else
            rc = p.dir->ops->unlink(p.dir, p.name, strlen(p.name), rmdir);
        if (!rc)
            notify_unlinked(p.dir, p.name, ino, rmdir);
        inode_put(ino);
    }
    put_parent(&p);
    return rc;
}

SYS(unlinkat) { UNUSED_ARGS(); return do_unlinkat((int)a0, a1, a2); }
SYS(unlink) { UNUSED_ARGS(); return do_unlinkat(AT_FDCWD, a0, 0); }
SYS(rmdir) { UNUSED_ARGS(); return do_unlinkat(AT_FDCWD, a0, AT_REMOVEDIR); }

static long do_renameat2(int odfd, uint64_t uold, int ndfd, uint64_t unew, uint64_t flags)
{
    if (flags & ~(uint64_t)(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT))
        return -EINVAL;
    if ((flags & RENAME_EXCHANGE) && (flags & RENAME_NOREPLACE))
        return -EINVAL;
    if (flags & (RENAME_EXCHANGE | RENAME_WHITEOUT))
        return -EINVAL; /* not supported by our filesystems */
    struct parent o, n;
    long rc = get_parent(odfd, uold, &o);
    if (rc)
        return rc;
    rc = get_parent(ndfd, unew, &n);
    if (rc) {
        put_parent(&o);
        return rc;
    }
    /* The checks in Linux's order. */
    struct inode *src = 0;
    if (o.dir->ops != n.dir->ops || o.dir->fs != n.dir->fs)
        rc = -EXDEV;
    else if (!o.name[0] || is_dot(o.name))
        rc = -EBUSY;
    else if (!n.name[0] || is_dot(n.name))
        rc = (flags & RENAME_NOREPLACE) ? -EEXIST : -EBUSY;
    else if ((rc = child(&o, &src)) != 0)
        ;
    else if ((flags & RENAME_NOREPLACE) && exists(&n))
        rc = -EEXIST;
    else if ((src->mode & S_IFMT) != S_IFDIR &&
             (o.path[strlen(o.path) - 1] == '/' || n.path[strlen(n.path) - 1] == '/'))
        rc = -ENOTDIR; /* a trailing slash names a directory */
    else if (src->fs != o.dir->fs || src->ops != o.dir->ops)
        rc = -EBUSY; /* a mountpoint */
    else if (!o.dir->ops->rename)
        rc = -EROFS;
    else {
        struct inode *target = 0;
        if (fsnotify_watches && child(&n, &target))
            target = 0;
        rc = o.dir->ops->rename(o.dir, o.name, strlen(o.name), n.dir, n.name, strlen(n.name));
        if (!rc && fsnotify_watches && !(target && vfs_same_inode(target, src))) {
            /* Linux's order: both directories' events with one cookie, the replaced file's
             * link count, the moved inode's IN_MOVE_SELF, then the replaced file's end. */
            uint32_t cookie = fsnotify_next_cookie();
            fsnotify_name(o.dir, IN_MOVED_FROM, cookie, o.name, src);
            fsnotify_name(n.dir, IN_MOVED_TO, cookie, n.name, src);
            if (target)
                fsnotify_inode(target, IN_ATTRIB, 1);
            fsnotify_inode(src, IN_MOVE_SELF, 1);
            if (target && ((target->mode & S_IFMT) == S_IFDIR || !nlink_of(target)))
                fsnotify_gone(target);
        }
        inode_put(target);
    }
    inode_put(src);
    put_parent(&n);
    put_parent(&o);
    return rc;
}

SYS(renameat2) { UNUSED_ARGS(); return do_renameat2((int)a0, a1, (int)a2, a3, a4); }
SYS(renameat) { UNUSED_ARGS(); return do_renameat2((int)a0, a1, (int)a2, a3, 0); }
SYS(rename) { UNUSED_ARGS(); return do_renameat2(AT_FDCWD, a0, AT_FDCWD, a1, 0); }

static long do_symlinkat(uint64_t utarget, int dirfd, uint64_t upath)
{
    char *target;
    long rc = fs_get_path(utarget, &target);
    if (rc)
        return rc;
    struct parent p;
    if (!target[0]) {
        rc = -ENOENT;
    } else if ((rc = get_parent(dirfd, upath, &p)) == 0) {
        if (!p.name[0] || is_dot(p.name) || exists(&p))
            rc = -EEXIST;
        else if (p.path[strlen(p.path) - 1] == '/')
            rc = -ENOENT; /* a trailing slash asks for a directory, and there is none */
        else if (!p.dir->ops->symlink)
            rc = -EROFS;
        else
            rc = p.dir->ops->symlink(p.dir, p.name, strlen(p.name), target);
        if (!rc)
            fsnotify_name(p.dir, IN_CREATE, 0, p.name, 0);
        put_parent(&p);
    }
    kfree(target);
    return rc;
}

SYS(symlinkat) { UNUSED_ARGS(); return do_symlinkat(a0, (int)a1, a2); }
SYS(symlink) { UNUSED_ARGS(); return do_symlinkat(a0, AT_FDCWD, a1); }

static long do_linkat(int odfd, uint64_t uold, int ndfd, uint64_t unew, uint64_t flags)
{
    if (flags & ~(uint64_t)(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    char *path;
    long rc = fs_get_path(uold, &path);
    if (rc)
        return rc;
    struct inode *base, *src = 0;
    rc = fs_dirfd_inode(odfd, path, &base);
    if (!rc)
        rc = vfs_lookup(base, path, (flags & AT_SYMLINK_FOLLOW) != 0, &src);
    kfree(path);
    if (rc)
        return rc;
    struct parent n;
    rc = get_parent(ndfd, unew, &n);
    if (!rc) {
        if (!n.name[0] || is_dot(n.name) || exists(&n))
            rc = -EEXIST;
        else if (n.path[strlen(n.path) - 1] == '/')
            rc = -ENOENT; /* a trailing slash asks for a directory, and there is none */
        else if ((src->mode & S_IFMT) == S_IFDIR)
            rc = -EPERM;
        else if (src->ops != n.dir->ops || src->fs != n.dir->fs)
            rc = -EXDEV;
        else if (!n.dir->ops->link)
            rc = -EROFS;
        else
            rc = n.dir->ops->link(n.dir, n.name, strlen(n.name), src);
        if (!rc) {
            fsnotify_inode(src, IN_ATTRIB, 1);
            fsnotify_name(n.dir, IN_CREATE, 0, n.name, src);
        }
        put_parent(&n);
    }
    inode_put(src);
    return rc;
}

SYS(linkat) { UNUSED_ARGS(); return do_linkat((int)a0, a1, (int)a2, a3, a4); }
SYS(link) { UNUSED_ARGS(); return do_linkat(AT_FDCWD, a0, AT_FDCWD, a1, 0); }

/* Resolves dirfd/upath (or the descriptor itself for an empty path with AT_EMPTY_PATH, or a null
 * path when null_is_fd) to *out, a new reference. */
static long get_inode(int dirfd, uint64_t upath, uint64_t flags, int null_is_fd, struct inode **out)
{
    if (!upath && null_is_fd) {
        struct file *f = fd_get(dirfd);
        if (!f)
            return -EBADF;
        inode_get(f->inode);
        *out = f->inode;
        return 0;
    }
    char *path;
    long rc = fs_get_path(upath, &path);
    if (rc)
        return rc;
    if (!path[0]) {
        kfree(path);
        if (!(flags & AT_EMPTY_PATH))
            return -ENOENT;
        return get_inode(dirfd, 0, 0, 1, out);
    }
    struct inode *base;
    rc = fs_dirfd_inode(dirfd, path, &base);
    if (!rc)
        rc = vfs_lookup(base, path, !(flags & AT_SYMLINK_NOFOLLOW), out);
    kfree(path);
    return rc;
}

static long set_attr(struct inode *ino, const struct vfs_attr *a)
{
    long rc = ino->ops->setattr ? ino->ops->setattr(ino, a) : -EROFS;
    if (!rc) {
        /* As Linux's fsnotify_change: both times or the mode are IN_ATTRIB, the access time
         * alone IN_ACCESS, the modification time alone IN_MODIFY. */
        uint32_t times = a->mask & (VFS_ATTR_ATIME | VFS_ATTR_MTIME);
        uint32_t ev = (a->mask & VFS_ATTR_MODE) ? IN_ATTRIB
                      : times == (VFS_ATTR_ATIME | VFS_ATTR_MTIME) ? IN_ATTRIB
                      : times == VFS_ATTR_ATIME ? IN_ACCESS
                      : times == VFS_ATTR_MTIME ? IN_MODIFY : 0;
        if (ev)
            fsnotify_inode(ino, ev, 0);
    }
    inode_put(ino);
    return rc;
}

static long do_fchmodat(int dirfd, uint64_t upath, uint64_t mode, uint64_t flags)
{
    if (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct inode *ino;
    long rc = get_inode(dirfd, upath, flags, 0, &ino);
    if (rc)
        return rc;
    if ((ino->mode & S_IFMT) == S_IFLNK) {
        inode_put(ino);
        return -EOPNOTSUPP;
    }
    struct vfs_attr a = {VFS_ATTR_MODE, (uint32_t)mode & 07777, 0, 0};
    return set_attr(ino, &a);
}

SYS(fchmodat) { UNUSED_ARGS(); return do_fchmodat((int)a0, a1, a2, 0); }
SYS(fchmodat2) { UNUSED_ARGS(); return do_fchmodat((int)a0, a1, a2, a3); }
SYS(chmod) { UNUSED_ARGS(); return do_fchmodat(AT_FDCWD, a0, a1, 0); }

SYS(fchmod)
{
    UNUSED_ARGS();
    struct inode *ino;
    long rc = get_inode((int)a0, 0, 0, 1, &ino);
    if (rc)
        return rc;
    struct vfs_attr a = {VFS_ATTR_MODE, (uint32_t)a1 & 07777, 0, 0};
    return set_attr(ino, &a);
}

/* Everything belongs to root (0:0) and stays so: chown succeeds where it could apply. */
static long do_fchownat(int dirfd, uint64_t upath, uint64_t flags, int null_is_fd)
{
    if (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct inode *ino;
    long rc = get_inode(dirfd, upath, flags, null_is_fd, &ino);
    if (rc)
        return rc;
    rc = ino->ops->setattr ? 0 : -EROFS;
    inode_put(ino);
    return rc;
}

SYS(fchownat) { UNUSED_ARGS(); return do_fchownat((int)a0, a1, a4, 0); }
SYS(chown) { UNUSED_ARGS(); return do_fchownat(AT_FDCWD, a0, 0, 0); }
SYS(lchown) { UNUSED_ARGS(); return do_fchownat(AT_FDCWD, a0, AT_SYMLINK_NOFOLLOW, 0); }
SYS(fchown) { UNUSED_ARGS(); return do_fchownat((int)a0, 0, 0, 1); }

struct linux_timespec {
    int64_t sec, nsec;
};

SYS(utimensat)
{
    UNUSED_ARGS();
    if (a3 & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    struct linux_timespec ts[2];
    uint64_t now = clock_realtime_ns();
    struct vfs_attr a = {VFS_ATTR_ATIME | VFS_ATTR_MTIME, 0, now, now};
    if (a2) {
        if (copy_from_user(ts, (const void *)a2, sizeof ts))
            return -EFAULT;
        for (int k = 0; k < 2; k++) {
            uint64_t *t = k ? &a.mtime_ns : &a.atime_ns;
            if (ts[k].nsec == UTIME_OMIT)
                a.mask &= ~(uint32_t)(k ? VFS_ATTR_MTIME : VFS_ATTR_ATIME);
            else if (ts[k].nsec == UTIME_NOW)
                *t = now;
            else if (ts[k].nsec < 0 || ts[k].nsec >= 1000000000)
                return -EINVAL;
            else
                *t = (uint64_t)ts[k].sec * 1000000000 + (uint64_t)ts[k].nsec;
        }
    }
    struct inode *ino;
    long rc = get_inode((int)a0, a1, a3, 1, &ino);
    if (rc)
        return rc;
    return set_attr(ino, &a);
}

static long truncate_inode(struct inode *ino, int64_t len)
{
    uint32_t type = ino->mode & S_IFMT;
    if (type == S_IFDIR)
        return -EISDIR;
    if (type != S_IFREG)
        return -EINVAL;
    long rc = ino->ops->truncate ? ino->ops->truncate(ino, (uint64_t)len) : -EROFS;
    if (!rc)
        fsnotify_inode(ino, IN_MODIFY, 0);
    return rc;
}

SYS(truncate)
{
    UNUSED_ARGS();
    if ((int64_t)a1 < 0)
        return -EINVAL;
    struct inode *ino;
    long rc = get_inode(AT_FDCWD, a0, 0, 0, &ino);
    if (rc)
        return rc;
    if ((ino->mode & S_IFMT) == S_IFREG && ino->ops->truncate &&
        __atomic_load_n(&ino->deny_write, __ATOMIC_ACQUIRE))
        rc = -ETXTBSY; /* the running program's file (a read-only one is EROFS first) */
    else
        rc = truncate_inode(ino, (int64_t)a1);
    inode_put(ino);
    return rc;
}

SYS(ftruncate)
{
    UNUSED_ARGS();
    if ((int64_t)a1 < 0)
        return -EINVAL;
    struct file *f = fd_get((int)a0);
    if (!f || (f->flags & O_PATH))
        return -EBADF;
    if ((f->flags & O_ACCMODE) == O_RDONLY)
        return -EINVAL;
    return truncate_inode(f->inode, (int64_t)a1);
}

SYS(fallocate)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f)
        return -EBADF;
    if ((int64_t)a2 < 0 || (int64_t)a3 <= 0)
        return -EINVAL;
    if ((f->flags & O_ACCMODE) == O_RDONLY)
        return -EBADF;
    uint32_t type = f->inode->mode & S_IFMT;
    if (type == S_IFIFO)
        return -ESPIPE;
    if (type == S_IFDIR)
        return -EISDIR;
    if (type != S_IFREG)
        return -ENODEV;
    if (a1 & ~1ull) /* only mode 0 and FALLOC_FL_KEEP_SIZE */
        return -EOPNOTSUPP;
    if (a2 + a3 < a2 || a2 + a3 > (uint64_t)INT64_MAX)
        return -EFBIG;
    if (!f->inode->ops->allocate)
        return -EOPNOTSUPP; /* the volume: copy-on-write cannot set blocks aside */
    return f->inode->ops->allocate(f->inode, a2, a3, (int)(a1 & 1));
}

/* Files in memory or in the read-only image have nothing to flush; the disk (/dev/vda) and the
 * volume do. */
static long sync_fd(int fd)
{
    struct file *f = fd_get(fd);
    if (!f)
        return -EBADF;
    if ((f->inode->mode & S_IFMT) == S_IFIFO)
        return -EINVAL;
    if (f->ops->fsync)
        return f->ops->fsync(f);
    return f->inode->ops->fsync ? f->inode->ops->fsync(f->inode) : 0;
}

SYS(fsync) { UNUSED_ARGS(); return sync_fd((int)a0); }
SYS(fdatasync) { UNUSED_ARGS(); return sync_fd((int)a0); }
SYS(syncfs) { UNUSED_ARGS(); return fd_get((int)a0) ? 0 : -EBADF; }
SYS(sync) { UNUSED_ARGS(); return 0; }

SYS(flock)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f || (f->flags & O_PATH))
        return -EBADF;
    return flock_apply(f, (int)a1);
}

SYS(fchdir)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f)
        return -EBADF;
    return vfs_fchdir(f->inode);
}

struct linux_statfs {
    int64_t f_type, f_bsize;
    uint64_t f_blocks, f_bfree, f_bavail, f_files, f_ffree;
    int32_t f_fsid[2];
    int64_t f_namelen, f_frsize, f_flags, f_spare[4];
};
_Static_assert(sizeof(struct linux_statfs) == 120, "struct statfs");

#define ST_RDONLY 1
#define ST_NOSUID 2
#define ST_NODEV 4
#define ST_NOEXEC 8
#define ST_RELATIME 4096

static long statfs_inode(struct inode *ino, uint64_t ubuf)
{
    struct linux_stat st;
    uint64_t tmp_pages = 0, tmp_free = 0;
    long rc = ino->ops->stat(ino, &st);
    int on_tmpfs = !rc && !tmpfs_statfs(ino, &tmp_pages, &tmp_free);
    inode_put(ino);
    if (rc)
        return rc;
    struct linux_statfs s;
    memset(&s, 0, sizeof s);
    s.f_type = 0xef53; /* the ext4 root unless a mount says otherwise */
    s.f_flags = ST_RDONLY;
    s.f_bsize = s.f_frsize = 4096;
    s.f_namelen = NAME_MAX;
    const struct mount *m;
    for (int i = 0; (m = vfs_mount_at(i)); i++) {
        if (m->dev != st.st_dev)
            continue;
        if (!strcmp(m->fstype, "tmpfs") || !strcmp(m->fstype, "devtmpfs"))
            s.f_type = 0x01021994;
        else if (!strcmp(m->fstype, "proc"))
            s.f_type = 0x9fa0;
        else if (!strcmp(m->fstype, "sysfs"))
            s.f_type = 0x62656572;
        s.f_flags = ST_NOSUID | ST_NODEV | (strcmp(m->fstype, "tmpfs") ? ST_NOEXEC : 0);
        if (!strcmp(m->fstype, "lwjvm-volfs")) { /* the data volume: its own space */
            uint64_t total = 0, avail = 0;
            volume_statfs(&total, &avail);
            s.f_type = VOLUME_FS_MAGIC;
            s.f_flags = ST_RELATIME;
            s.f_blocks = s.f_files = total;
            s.f_bfree = s.f_bavail = s.f_ffree = avail;
            s.f_namelen = VOLUME_NAME_MAX;
        }
        if (on_tmpfs) {
            uint64_t ram_free = palloc_free_pages();
            s.f_blocks = s.f_files = tmp_pages;
            s.f_bfree = s.f_bavail = s.f_ffree = tmp_free < ram_free ? tmp_free : ram_free;
        }
    }
    s.f_fsid[0] = (int32_t)st.st_dev;
    return copy_to_user((void *)ubuf, &s, sizeof s) ? -EFAULT : 0;
}

SYS(statfs)
{
    UNUSED_ARGS();
    struct inode *ino;
    long rc = get_inode(AT_FDCWD, a0, 0, 0, &ino);
    return rc ? rc : statfs_inode(ino, a1);
}

SYS(fstatfs)
{
    UNUSED_ARGS();
    struct inode *ino;
    long rc = get_inode((int)a0, 0, 0, 1, &ino);
    if (rc == -EPERM)
        return -EINVAL;
    return rc ? rc : statfs_inode(ino, a1);
}

/* Extended attributes: our filesystems keep none, and take none. */
static long xattr_target(int fd, uint64_t upath, int follow)
{
    struct inode *ino;
    long rc = upath ? get_inode(AT_FDCWD, upath, follow ? 0 : AT_SYMLINK_NOFOLLOW, 0, &ino)
                    : get_inode(fd, 0, 0, 1, &ino);
    if (rc == -EPERM)
        rc = -EOPNOTSUPP; /* a console has no inode */
    if (!rc)
        inode_put(ino);
    return rc;
}

static long xattr_get(int fd, uint64_t upath, int follow)
{
    long rc = xattr_target(fd, upath, follow);
    return rc ? rc : -ENODATA;
}

static long xattr_list(int fd, uint64_t upath, int follow)
{
    return xattr_target(fd, upath, follow);
}

static long xattr_set(int fd, uint64_t upath, int follow)
{
    long rc = xattr_target(fd, upath, follow);
    return rc ? rc : -EOPNOTSUPP;
}

SYS(getxattr) { UNUSED_ARGS(); return xattr_get(0, a0, 1); }
SYS(lgetxattr) { UNUSED_ARGS(); return xattr_get(0, a0, 0); }
SYS(fgetxattr) { UNUSED_ARGS(); return xattr_get((int)a0, 0, 0); }
SYS(listxattr) { UNUSED_ARGS(); return xattr_list(0, a0, 1); }
SYS(llistxattr) { UNUSED_ARGS(); return xattr_list(0, a0, 0); }
SYS(flistxattr) { UNUSED_ARGS(); return xattr_list((int)a0, 0, 0); }
SYS(setxattr) { UNUSED_ARGS(); return xattr_set(0, a0, 1); }
SYS(lsetxattr) { UNUSED_ARGS(); return xattr_set(0, a0, 0); }
SYS(fsetxattr) { UNUSED_ARGS(); return xattr_set((int)a0, 0, 0); }
SYS(removexattr) { UNUSED_ARGS(); return xattr_get(0, a0, 1); }
SYS(lremovexattr) { UNUSED_ARGS(); return xattr_get(0, a0, 0); }
SYS(fremovexattr) { UNUSED_ARGS(); return xattr_get((int)a0, 0, 0); }
