/* File syscalls: open/read/write/close (and the positioned and vectored forms), stat family,
 * lseek, readlink, getdents64, getcwd/chdir, access, dup family, fcntl and ioctl, umask, with
 * Linux errno values. Names and metadata are in linux/fs_dir.c. */
#include "errno.h"
#include "fs/fsnotify.h"
#include "fs/pipe.h"
#include "fs/vfs.h"
#include "lib/string.h"
#include "linux/fspath.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"

#define O_LARGEFILE 0100000 /* always set on 64-bit, as Linux does */
#define F_DUPFD 0
#define F_GETFD 1
#define F_SETFD 2
#define F_GETFL 3
#define F_SETFL 4
#define F_GETLK 5
#define F_SETLK 6
#define F_SETLKW 7
#define F_SETOWN 8
#define F_GETOWN 9
#define F_OFD_GETLK 36
#define F_OFD_SETLK 37
#define F_OFD_SETLKW 38
#define F_DUPFD_CLOEXEC 1030
#define F_SETPIPE_SZ 1031
#define F_GETPIPE_SZ 1032
#define F_UNLCK 2
#define FIONREAD 0x541b
#define FIONBIO 0x5421
#define FIONCLEX 0x5450
#define FIOCLEX 0x5451
#define FD_CLOEXEC 1
#define TCGETS 0x5401
#define TIOCGWINSZ 0x5413
#define IOV_MAX 1024

long fs_get_path(uint64_t upath, char **out)
{
    char *buf = kmalloc(PATH_MAX);
    if (!buf)
        return -ENOMEM;
    long n = strncpy_from_user(buf, (const char *)upath, PATH_MAX);
    if (n < 0) {
        kfree(buf);
        return n;
    }
    *out = buf;
    return 0;
}

long fs_dirfd_inode(int dirfd, const char *path, struct inode **base)
{
    *base = 0;
    if (path[0] == '/' || dirfd == AT_FDCWD)
        return 0;
    struct file *f = fd_get(dirfd);
    if (!f)
        return -EBADF;
    if ((f->inode->mode & S_IFMT) != S_IFDIR)
        return -ENOTDIR;
    *base = f->inode;
    return 0;
}

static uint32_t umask_bits = 022;

uint32_t fs_umask(void) { return umask_bits; }

SYS(umask)
{
    UNUSED_ARGS();
    uint32_t old = umask_bits;
    umask_bits = (uint32_t)a0 & 0777;
    return old;
}

static long do_openat(int dirfd, uint64_t upath, uint64_t flags, uint64_t mode)
{
    char *path;
    long rc = fs_get_path(upath, &path);
    if (rc)
        return rc;
    struct inode *base;
    struct file *f;
    rc = fs_dirfd_inode(dirfd, path, &base);
    if (!rc)
        rc = vfs_open(base, path, (uint32_t)flags | O_LARGEFILE,
                      (uint32_t)mode & 07777 & ~umask_bits, &f);
    kfree(path);
    if (rc)
        return rc;
    rc = fd_install(f, 0, (flags & O_CLOEXEC) != 0);
    if (rc < 0)
        file_put(f);
    return rc;
}

SYS(openat) { UNUSED_ARGS(); return do_openat((int)a0, a1, a2, a3); }
SYS(open) { UNUSED_ARGS(); return do_openat(AT_FDCWD, a0, a1, a2); }
SYS(creat) { UNUSED_ARGS(); return do_openat(AT_FDCWD, a0, O_CREAT | O_WRONLY | O_TRUNC, a1); }
SYS(close) { UNUSED_ARGS(); return fd_close((int)a0); }

#define CLOSE_RANGE_UNSHARE 2
#define CLOSE_RANGE_CLOEXEC 4

/* Closes (or marks close-on-exec) every open descriptor in [first, last]. One process shares
 * one table: CLOSE_RANGE_UNSHARE has nothing to unshare. */
SYS(close_range)
{
    UNUSED_ARGS();
    uint32_t first = (uint32_t)a0, last = (uint32_t)a1;
    if (a2 & ~(uint64_t)(CLOSE_RANGE_UNSHARE | CLOSE_RANGE_CLOEXEC) || first > last)
        return -EINVAL;
    for (uint32_t fd = first; fd < MAX_FDS && fd <= last; fd++) {
        if (!fd_get((int)fd))
            continue;
        if (a2 & CLOSE_RANGE_CLOEXEC)
            fd_set_cloexec((int)fd, 1);
        else
            fd_close((int)fd);
    }
    return 0;
}

/* The open file at fd if it may be read (is_write 0) or written, with a new reference the caller
 * drops with file_put; else 0. The reference keeps the file alive while a read or write blocks
 * (a pipe, a console) and another thread closes the descriptor. */
static struct file *io_file(int fd, int is_write)
{
    struct file *f = fd_file(fd);
    if (!f)
        return 0;
    uint32_t acc = f->flags & O_ACCMODE;
    if ((f->flags & O_PATH) || (is_write ? acc == O_RDONLY : acc == O_WRONLY)) {
        file_put(f);
        return 0;
    }
    return f;
}

/* Pipes, sockets and the consoles have no position: lseek, pread and the rest are ESPIPE there. */
static int seekable(const struct file *f)
{
    uint32_t type = f->inode->mode & S_IFMT;
    return type != S_IFIFO && type != S_IFSOCK && !f->ops->no_seek;
}

/* One read or write through the file's ops at *pos: -EINVAL for a file that has none (an epoll
 * instance), as Linux answers. */
static long file_rw(struct file *f, uint64_t ubuf, uint64_t len, uint64_t *pos, int is_write)
{
    if (is_write ? !f->ops->write : !f->ops->read)
        return -EINVAL;
    return is_write ? f->ops->write(f, (const void *)ubuf, len, pos)
                    : f->ops->read(f, (void *)ubuf, len, pos);
}

static long read_write(int fd, uint64_t ubuf, uint64_t len, int is_write)
{
    struct file *f = io_file(fd, is_write);
    if (!f)
        return -EBADF;
    long rc = -EFAULT;
    if (user_range_ok((void *)ubuf, len)) {
        int locked = file_pos_lock(f);
        rc = file_rw(f, ubuf, len, &f->pos, is_write);
        file_pos_unlock(f, locked);
    }
    file_put(f);
    return rc;
}

SYS(read) { UNUSED_ARGS(); return read_write((int)a0, a1, a2, 0); }
SYS(write) { UNUSED_ARGS(); return read_write((int)a0, a1, a2, 1); }

static long at_offset_held(struct file *f, uint64_t ubuf, uint64_t len, int64_t off, int is_write);

/* Reads or writes at offset `off`, leaving the file offset alone. */
static long at_offset(int fd, uint64_t ubuf, uint64_t len, int64_t off, int is_write)
{
    struct file *f = io_file(fd, is_write);
    if (!f)
        return -EBADF;
    long rc = at_offset_held(f, ubuf, len, off, is_write);
    file_put(f);
    return rc;
}

/* The position is the call's own: threads reading one file at offsets of their own (a JVM
 * loading classes from lib/modules on several CPUs) never see each other's. */
static long at_offset_held(struct file *f, uint64_t ubuf, uint64_t len, int64_t off, int is_write)
{
    if (off < 0)
        return -EINVAL;
    if (!seekable(f))
        return -ESPIPE;
    if (!user_range_ok((void *)ubuf, len))
        return -EFAULT;
    uint64_t pos = (uint64_t)off;
    return file_rw(f, ubuf, len, &pos, is_write);
}

SYS(pread64) { UNUSED_ARGS(); return at_offset((int)a0, a1, a2, (int64_t)a3, 0); }
SYS(pwrite64) { UNUSED_ARGS(); return at_offset((int)a0, a1, a2, (int64_t)a3, 1); }

static long do_iov(struct file *f, uint64_t uiov, int64_t cnt, uint64_t *pos, int is_write)
{
    if (cnt < 0 || cnt > IOV_MAX)
        return -EINVAL;
    long total = 0;
    for (int64_t i = 0; i < cnt; i++) {
        struct linux_iovec v;
        if (copy_from_user(&v, (const void *)(uiov + 16 * (uint64_t)i), sizeof v))
            return total ? total : -EFAULT;
        if (!v.len)
            continue;
        if (!user_range_ok((void *)v.base, v.len))
            return total ? total : -EFAULT;
        long n = file_rw(f, v.base, v.len, pos, is_write);
        if (n < 0)
            return total ? total : n;
        total += n;
        if ((uint64_t)n < v.len)
            break;
    }
    return total;
}

static long iov_at_held(struct file *f, uint64_t uiov, int64_t cnt, int64_t off, int is_write);

static long iov_at(int fd, uint64_t uiov, int64_t cnt, int64_t off, int is_write)
{
    struct file *f = io_file(fd, is_write);
    if (!f)
        return -EBADF;
    long rc = iov_at_held(f, uiov, cnt, off, is_write);
    file_put(f);
    return rc;
}

static long iov_at_held(struct file *f, uint64_t uiov, int64_t cnt, int64_t off, int is_write)
{
    if (off == -1) {
        int locked = file_pos_lock(f);
        long rc = do_iov(f, uiov, cnt, &f->pos, is_write);
        file_pos_unlock(f, locked);
        return rc;
    }
    if (off < 0)
        return -EINVAL;
    if (!seekable(f))
        return -ESPIPE;
    uint64_t pos = (uint64_t)off;
    return do_iov(f, uiov, cnt, &pos, is_write);
}

SYS(readv) { UNUSED_ARGS(); return iov_at((int)a0, a1, (int64_t)a2, -1, 0); }
SYS(writev) { UNUSED_ARGS(); return iov_at((int)a0, a1, (int64_t)a2, -1, 1); }
SYS(preadv) { UNUSED_ARGS(); return iov_at((int)a0, a1, (int64_t)a2, (int64_t)a3, 0); }
SYS(pwritev) { UNUSED_ARGS(); return iov_at((int)a0, a1, (int64_t)a2, (int64_t)a3, 1); }

/* lseek with f's position lock held (file_pos_lock). */
static long lseek_locked(struct file *f, int64_t off, uint64_t whence)
{
    int64_t base;
    int64_t size = (int64_t)f->inode->size;
    switch (whence) {
    case SEEK_SET:
        base = 0;
        break;
    case SEEK_CUR:
        base = (int64_t)f->pos;
        break;
    case SEEK_END:
        if ((f->inode->mode & S_IFMT) == S_IFDIR)
            return -EINVAL; /* as tmpfs directories on Linux */
        base = size;
        break;
    case SEEK_DATA:
    case SEEK_HOLE: {
        if ((f->inode->mode & S_IFMT) != S_IFREG)
            return -EINVAL;
        if (off < 0 || off >= size)
            return -ENXIO;
        int64_t at = !f->inode->ops->seek_data ? (whence == SEEK_DATA ? off : size)
                     : f->inode->ops->seek_data(f->inode, (uint64_t)off, whence == SEEK_HOLE);
        if (at < 0)
            return at;
        f->pos = (uint64_t)at;
        return (long)f->pos;
    }
    default:
        return -EINVAL;
    }
    if (base + off < 0)
        return -EINVAL;
    f->pos = (uint64_t)(base + off);
    return (long)f->pos;
}

SYS(lseek)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f)
        return -EBADF;
    if (!seekable(f))
        return -ESPIPE;
    int locked = file_pos_lock(f);
    long rc = lseek_locked(f, (int64_t)a1, a2);
    file_pos_unlock(f, locked);
    return rc;
}

static long stat_inode(struct inode *ino, uint64_t ust)
{
    struct linux_stat st;
    long rc = ino->ops->stat(ino, &st);
    if (rc)
        return rc;
    return copy_to_user((void *)ust, &st, sizeof st) ? -EFAULT : 0;
}

static long do_fstatat(int dirfd, uint64_t upath, uint64_t ust, uint64_t flags)
{
    if (flags & ~(uint64_t)(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | 0x800 /* AT_NO_AUTOMOUNT */))
        return -EINVAL;
    char *path;
    long rc = fs_get_path(upath, &path);
    if (rc)
        return rc;
    if (!path[0]) {
        kfree(path);
        if (!(flags & AT_EMPTY_PATH))
            return -ENOENT;
        struct file *f = fd_get(dirfd);
        if (!f)
            return -EBADF;
        return stat_inode(f->inode, ust);
    }
    struct inode *base, *ino;
    rc = fs_dirfd_inode(dirfd, path, &base);
    if (!rc)
        rc = vfs_lookup(base, path, !(flags & AT_SYMLINK_NOFOLLOW), &ino);
    kfree(path);
    if (rc)
        return rc;
    rc = stat_inode(ino, ust);
    inode_put(ino);
    return rc;
}

SYS(newfstatat) { UNUSED_ARGS(); return do_fstatat((int)a0, a1, a2, a3); }
SYS(stat) { UNUSED_ARGS(); return do_fstatat(AT_FDCWD, a0, a1, 0); }
SYS(lstat) { UNUSED_ARGS(); return do_fstatat(AT_FDCWD, a0, a1, AT_SYMLINK_NOFOLLOW); }

SYS(fstat)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f)
        return -EBADF;
    return stat_inode(f->inode, a1);
}

struct statx_ts {
    int64_t sec;
    uint32_t nsec;
    int32_t pad;
};
struct linux_statx {
    uint32_t mask, blksize;
    uint64_t attributes;
    uint32_t nlink, uid, gid;
    uint16_t mode, pad0;
    uint64_t ino, size, blocks, attributes_mask;
    struct statx_ts atime, btime, ctime, mtime;
    uint32_t rdev_major, rdev_minor, dev_major, dev_minor;
    uint64_t spare[14];
};
_Static_assert(sizeof(struct linux_statx) == 256, "struct statx");

SYS(statx)
{
    UNUSED_ARGS();
    /* Resolve through newfstatat into a kernel buffer, then convert. */
    struct linux_stat st;
    char *path;
    long rc = fs_get_path(a1, &path);
    if (rc)
        return rc;
    struct inode *ino = 0;
    if (!path[0] && (a2 & AT_EMPTY_PATH)) {
        struct file *f = fd_get((int)a0);
        rc = !f ? -EBADF : 0;
        if (f) {
            ino = f->inode;
            inode_get(ino);
        }
    } else if (!path[0]) {
        rc = -ENOENT;
    } else {
        struct inode *base;
        rc = fs_dirfd_inode((int)a0, path, &base);
        if (!rc)
            rc = vfs_lookup(base, path, !(a2 & AT_SYMLINK_NOFOLLOW), &ino);
    }
    kfree(path);
    if (rc)
        return rc;
    if (ino) {
        rc = ino->ops->stat(ino, &st);
        inode_put(ino);
        if (rc)
            return rc;
    }
    struct linux_statx sx;
    memset(&sx, 0, sizeof sx);
    sx.mask = 0x7ff; /* STATX_BASIC_STATS */
    sx.blksize = (uint32_t)st.st_blksize;
    sx.nlink = (uint32_t)st.st_nlink;
    sx.uid = st.st_uid;
    sx.gid = st.st_gid;
    sx.mode = (uint16_t)st.st_mode;
    sx.ino = st.st_ino;
    sx.size = (uint64_t)st.st_size;
    sx.blocks = (uint64_t)st.st_blocks;
    sx.atime = (struct statx_ts){(int64_t)st.st_atime, (uint32_t)st.st_atime_nsec, 0};
    sx.mtime = (struct statx_ts){(int64_t)st.st_mtime, (uint32_t)st.st_mtime_nsec, 0};
    sx.ctime = (struct statx_ts){(int64_t)st.st_ctime, (uint32_t)st.st_ctime_nsec, 0};
    sx.rdev_major = (uint32_t)(st.st_rdev >> 8);
    sx.rdev_minor = (uint32_t)(st.st_rdev & 0xff);
    sx.dev_major = (uint32_t)(st.st_dev >> 8);
    sx.dev_minor = (uint32_t)(st.st_dev & 0xff);
    return copy_to_user((void *)a4, &sx, sizeof sx) ? -EFAULT : 0;
}

static long do_readlinkat(int dirfd, uint64_t upath, uint64_t ubuf, int64_t size)
{
    if (size <= 0)
        return -EINVAL;
    char *path;
    long rc = fs_get_path(upath, &path);
    if (rc)
        return rc;
    char *target = kmalloc(PATH_MAX);
    long n;
    if (!target) {
        n = -ENOMEM;
    } else {
        struct inode *base, *ino;
        n = fs_dirfd_inode(dirfd, path, &base);
        if (!n)
            n = vfs_lookup(base, path, 0, &ino);
        if (!n) {
            n = (ino->mode & S_IFMT) == S_IFLNK ? ino->ops->readlink(ino, target, PATH_MAX)
                                                : -EINVAL;
            inode_put(ino);
        }
    }
    if (n >= 0) {
        if (n > size)
            n = size;
        if (copy_to_user((void *)ubuf, target, (uint64_t)n))
            n = -EFAULT;
    }
    kfree(target);
    kfree(path);
    return n;
}

SYS(readlinkat) { UNUSED_ARGS(); return do_readlinkat((int)a0, a1, a2, (int64_t)a3); }
SYS(readlink) { UNUSED_ARGS(); return do_readlinkat(AT_FDCWD, a0, a1, (int64_t)a2); }

#define AT_EACCESS 0x200

/* Checks `mode` access to ino (consuming the reference): as root, only write access to a
 * read-only filesystem is refused, and execute needs an x bit somewhere. */
static long access_check(struct inode *ino, uint64_t mode)
{
    long rc = 0;
    uint32_t type = ino->mode & S_IFMT;
    if ((mode & 2) &&
        ((type == S_IFREG && !ino->ops->write) || (type == S_IFDIR && !ino->ops->create)))
        rc = -EROFS;
    else if ((mode & 1) && (ino->mode & S_IFMT) != S_IFDIR && !(ino->mode & 0111))
        rc = -EACCES;
    inode_put(ino);
    return rc;
}

static long do_faccessat(int dirfd, uint64_t upath, uint64_t mode, uint64_t flags)
{
    if (mode & ~7ull)
        return -EINVAL;
    if (flags & ~(uint64_t)(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH))
        return -EINVAL;
    char *path;
    long rc = fs_get_path(upath, &path);
    if (rc)
        return rc;
    struct inode *base, *ino;
    if (!path[0] && (flags & AT_EMPTY_PATH)) {
        struct file *f = fd_get(dirfd);
        kfree(path);
        if (!f)
            return -EBADF;
        ino = f->inode;
        inode_get(ino);
        return access_check(ino, mode);
    }
    rc = fs_dirfd_inode(dirfd, path, &base);
    if (!rc)
        rc = vfs_lookup(base, path, !(flags & AT_SYMLINK_NOFOLLOW), &ino);
    kfree(path);
    if (rc)
        return rc;
    return access_check(ino, mode);
}

SYS(access) { UNUSED_ARGS(); return do_faccessat(AT_FDCWD, a0, a1, 0); }
SYS(faccessat) { UNUSED_ARGS(); return do_faccessat((int)a0, a1, a2, 0); }
SYS(faccessat2) { UNUSED_ARGS(); return do_faccessat((int)a0, a1, a2, a3); }

SYS(getdents64)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f || (f->flags & O_PATH))
        return -EBADF;
    if ((f->inode->mode & S_IFMT) != S_IFDIR)
        return -ENOTDIR;
    struct vfs_dirent *d = kmalloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    uint64_t used = 0;
    long rc = 0;
    int locked = file_pos_lock(f);
    for (;;) {
        uint64_t cookie = f->pos;
        int r = vfs_readdir(f->inode, &cookie, d);
        if (r <= 0) {
            rc = r;
            break;
        }
        uint64_t reclen = (19 + (uint64_t)d->name_len + 1 + 7) & ~7ull;
        if (used + reclen > a2) {
            rc = used ? 0 : -EINVAL;
            break;
        }
        char rec[sizeof(struct linux_dirent64) + NAME_MAX + 8];
        memset(rec, 0, reclen);
        struct linux_dirent64 *de = (struct linux_dirent64 *)rec;
        de->d_ino = d->ino;
        de->d_off = (int64_t)cookie;
        de->d_reclen = (uint16_t)reclen;
        de->d_type = d->type;
        memcpy(rec + 19, d->name, d->name_len);
        if (copy_to_user((char *)a1 + used, rec, reclen)) {
            rc = -EFAULT;
            break;
        }
        used += reclen;
        f->pos = cookie;
    }
    file_pos_unlock(f, locked);
    kfree(d);
    if (rc >= 0)
        fsnotify_inode(f->inode, IN_ACCESS, 0);
    return rc < 0 ? rc : (long)used;
}

SYS(getcwd)
{
    UNUSED_ARGS();
    struct linux_stat st;
    struct inode *dir = vfs_cwd();
    if (dir->ops->stat && !dir->ops->stat(dir, &st) && st.st_nlink == 0)
        return -ENOENT; /* the working directory was removed */
    const char *cwd = vfs_getcwd();
    uint64_t n = strlen(cwd) + 1;
    if (a1 < n)
        return -ERANGE;
    return copy_to_user((void *)a0, cwd, n) ? -EFAULT : (long)n;
}

SYS(chdir)
{
    UNUSED_ARGS();
    char *path;
    long rc = fs_get_path(a0, &path);
    if (rc)
        return rc;
    rc = vfs_chdir(path);
    kfree(path);
    return rc;
}

static long dup_to(int oldfd, int newfd, int cloexec)
{
    struct file *f = fd_file(oldfd);
    if (!f)
        return -EBADF;
    if (newfd < 0 || newfd >= MAX_FDS) {
        file_put(f);
        return -EBADF;
    }
    return fd_install_at(f, newfd, cloexec);
}

SYS(dup)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f)
        return -EBADF;
    file_get(f);
    long fd = fd_install(f, 0, 0);
    if (fd < 0)
        file_put(f);
    return fd;
}

SYS(dup2)
{
    UNUSED_ARGS();
    if (!fd_get((int)a0))
        return -EBADF;
    if (a0 == a1)
        return (long)a1;
    return dup_to((int)a0, (int)a1, 0);
}

SYS(dup3)
{
    UNUSED_ARGS();
    if (a2 & ~(uint64_t)O_CLOEXEC)
        return -EINVAL;
    if (a0 == a1)
        return -EINVAL;
    return dup_to((int)a0, (int)a1, (a2 & O_CLOEXEC) != 0);
}

SYS(fcntl)
{
    UNUSED_ARGS();
    int fd = (int)a0;
    struct file *f = fd_get(fd);
    if (!f)
        return -EBADF;
    switch (a1) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        if ((int64_t)a2 < 0 || a2 >= MAX_FDS)
            return -EINVAL;
        file_get(f);
        long nfd = fd_install(f, (int)a2, a1 == F_DUPFD_CLOEXEC);
        if (nfd < 0)
            file_put(f);
        return nfd;
    }
    case F_GETFD:
        return fd_get_cloexec(fd) ? FD_CLOEXEC : 0;
    case F_SETFD:
        fd_set_cloexec(fd, a2 & FD_CLOEXEC);
        return 0;
    case F_GETFL:
        return f->flags;
    case F_SETFL: {
        uint32_t changeable = O_APPEND | O_NONBLOCK | 0x2000 /* O_ASYNC */ | 040000 /* O_DIRECT */ |
                              01000000 /* O_NOATIME */;
        f->flags = (f->flags & ~changeable) | ((uint32_t)a2 & changeable);
        return 0;
    }
    case F_GETLK:
    case F_OFD_GETLK: {
        /* One process holds every lock: nothing ever conflicts. */
        int16_t type = F_UNLCK;
        return copy_to_user((void *)a2, &type, sizeof type) ? -EFAULT : 0;
    }
    case F_SETLK:
    case F_SETLKW:
    case F_OFD_SETLK:
    case F_OFD_SETLKW: {
        int16_t type;
        return copy_from_user(&type, (const void *)a2, sizeof type) ? -EFAULT : 0;
    }
    case F_SETOWN:
    case F_GETOWN:
        return 0;
    case F_GETPIPE_SZ:
    case F_SETPIPE_SZ:
        return pipe_fcntl(f, (unsigned)a1, a2);
    default:
        return -EINVAL;
    }
}

SYS(ioctl)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f)
        return -EBADF;
    uint32_t cmd = (uint32_t)a1;
    int value;
    switch (cmd) {
    case FIOCLEX:
    case FIONCLEX:
        fd_set_cloexec((int)a0, cmd == FIOCLEX);
        return 0;
    case FIONBIO:
        if (copy_from_user(&value, (const void *)a2, sizeof value))
            return -EFAULT;
        f->flags = value ? f->flags | O_NONBLOCK : f->flags & ~(uint32_t)O_NONBLOCK;
        return 0;
    case FIONREAD:
        if ((f->inode->mode & S_IFMT) == S_IFREG) {
            value = f->pos < f->inode->size ? (int)(f->inode->size - f->pos) : 0;
            return copy_to_user((void *)a2, &value, sizeof value) ? -EFAULT : 0;
        }
        break;
    default:
        break;
    }
    if (f->ops->ioctl)
        return f->ops->ioctl(f, cmd, a2);
    /* No descriptor is a terminal: TCGETS and TIOCGWINSZ answer as for a pipe or file. */
    (void)TCGETS, (void)TIOCGWINSZ;
    return -ENOTTY;
}
