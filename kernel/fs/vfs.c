/* Inodes, path lookup with symlinks, the working directory, open files and the descriptor table
 * (see fs/vfs.h). */
#include "fs/vfs.h"
#include "errno.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "linux/uaccess.h"
#include "mm/kheap.h"

#define MAX_SYMLINKS 40

static struct inode *root;
static struct inode *cwd;
static char cwd_path[PATH_MAX] = "/";
static struct file *fds[MAX_FDS];
static uint8_t fd_cloexec[MAX_FDS];

void inode_get(struct inode *ino) { ino->refcount++; }

void inode_put(struct inode *ino)
{
    if (ino && --ino->refcount == 0 && ino->ops->release)
        ino->ops->release(ino);
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
}

static int is_dir(const struct inode *i) { return (i->mode & S_IFMT) == S_IFDIR; }

/* Walks `path` from `dir` (a reference the walk consumes). `buf` holds the remaining path and is
 * rewritten in place when a symlink is expanded. */
static int walk(struct inode *dir, char *buf, int follow_last, struct inode **out)
{
    int links = 0;
    char *p = buf;
    for (;;) {
        while (*p == '/')
            p++;
        if (!*p) {
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
        int rc = dir->ops->lookup(dir, p, len, &next);
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
            }
            continue;
        }
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
    char *buf = kmalloc(PATH_MAX);
    if (!buf)
        return -ENOMEM;
    memcpy(buf, path, len + 1);
    struct inode *start = path[0] == '/' ? root : base ? base : cwd;
    inode_get(start);
    int rc = walk(start, buf, follow_last, out);
    kfree(buf);
    return rc;
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
    inode_put(cwd);
    cwd = ino;
    update_cwd_path(path);
    return 0;
}

const char *vfs_getcwd(void) { return cwd_path; }

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
    return f;
}

void file_put(struct file *f)
{
    if (--f->refcount)
        return;
    if (f->inode)
        inode_put(f->inode);
    kfree(f);
}

int fd_install(struct file *f, int min, int cloexec)
{
    for (int fd = min < 0 ? 0 : min; fd < MAX_FDS; fd++) {
        if (!fds[fd]) {
            fds[fd] = f;
            fd_cloexec[fd] = (uint8_t)(cloexec != 0);
            return fd;
        }
    }
    return -EMFILE;
}

struct file *fd_get(int fd) { return fd >= 0 && fd < MAX_FDS ? fds[fd] : 0; }

int fd_get_cloexec(int fd) { return fd_get(fd) ? fd_cloexec[fd] : 0; }

void fd_set_cloexec(int fd, int on)
{
    if (fd_get(fd))
        fd_cloexec[fd] = (uint8_t)(on != 0);
}

int fd_close(int fd)
{
    struct file *f = fd_get(fd);
    if (!f)
        return -EBADF;
    fds[fd] = 0;
    file_put(f);
    return 0;
}

static int64_t inode_file_read(struct file *f, void *ubuf, uint64_t len)
{
    struct inode *ino = f->inode;
    if (is_dir(ino))
        return -EISDIR;
    uint64_t done = 0;
    char *bounce = 0;
    while (done < len) {
        uint64_t off = f->pos;
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
        f->pos += (uint64_t)n;
        if ((uint64_t)n < chunk)
            break;
    }
    kfree(bounce);
    return (int64_t)done;
}

static int64_t inode_file_write(struct file *f, const void *ubuf, uint64_t len)
{
    (void)f, (void)ubuf, (void)len;
    return -EBADF; /* opened read-only: the root filesystem is read-only */
}

const struct file_ops inode_file_ops = {.read = inode_file_read, .write = inode_file_write};

int vfs_open(struct inode *base, const char *path, uint32_t flags, struct file **out)
{
    struct inode *ino;
    int rc = vfs_lookup(base, path, !(flags & O_NOFOLLOW), &ino);
    if (rc == -ENOENT && (flags & O_CREAT))
        return -EROFS;
    if (rc)
        return rc;
    if ((flags & O_CREAT) && (flags & O_EXCL)) {
        inode_put(ino);
        return -EEXIST;
    }
    if ((ino->mode & S_IFMT) == S_IFLNK) {
        inode_put(ino);
        return -ELOOP;
    }
    if ((flags & O_DIRECTORY) && !is_dir(ino)) {
        inode_put(ino);
        return -ENOTDIR;
    }
    if ((flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC)) {
        inode_put(ino);
        return is_dir(ino) ? -EISDIR : -EROFS;
    }
    struct file *f = file_new(&inode_file_ops, ino, flags & ~(O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC));
    inode_put(ino);
    if (!f)
        return -ENOMEM;
    *out = f;
    return 0;
}
