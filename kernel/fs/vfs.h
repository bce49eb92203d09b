/* The virtual filesystem: inodes with per-filesystem operations, open files, the descriptor
 * table, path lookup with symlinks, and the mount table. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#include "sched/mutex.h"

struct inode;
struct file;
struct linux_stat;
struct vfs_attr;
struct waitq;
struct epitem;

#define PATH_MAX 4096
#define NAME_MAX 255
#define MAX_FDS 1024

struct vfs_dirent {
    uint64_t ino;
    uint8_t type; /* DT_* */
    uint8_t name_len;
    char name[NAME_MAX + 1];
};

struct inode_ops {
    /* Finds `name` in directory `dir`; sets *out (a new reference) or returns -ENOENT/-ENOTDIR. */
    int (*lookup)(struct inode *dir, const char *name, size_t len, struct inode **out);
    /* Copies file content from `off` into a kernel buffer; returns bytes read (0 at EOF). */
    int64_t (*read)(struct inode *ino, uint64_t off, void *buf, uint64_t len);
    /* Returns the address of file page `index` if it may be mapped directly, else 0. */
    const void *(*page_ptr)(struct inode *ino, uint64_t index);
    int (*readlink)(struct inode *ino, char *buf, size_t size);
    /* Reads the entry at *cookie and advances it: 1 for an entry, 0 at the end, or -errno. */
    int (*readdir)(struct inode *ino, uint64_t *cookie, struct vfs_dirent *out);
    int (*stat)(struct inode *ino, struct linux_stat *st);
    void (*release)(struct inode *ino);

    /* Writable filesystems only (0 elsewhere: the VFS answers -EROFS). */
    /* Copies a kernel buffer into the file at `off`, growing it; returns bytes written. */
    int64_t (*write)(struct inode *ino, uint64_t off, const void *buf, uint64_t len);
    /* Optional: read and write for files opened O_DIRECT, bypassing the filesystem's cache (the
     * VFS has checked Linux's alignment: EINVAL otherwise). Without them O_DIRECT is ignored. */
    int64_t (*direct_read)(struct inode *ino, uint64_t off, void *buf, uint64_t len);
    int64_t (*direct_write)(struct inode *ino, uint64_t off, const void *buf, uint64_t len);
    int (*truncate)(struct inode *ino, uint64_t size);
    /* Optional: fallocate mode 0 or FALLOC_FL_KEEP_SIZE (keep_size): the space of [off, off + len)
     * is the file's, so writing there cannot fail for lack of room (holes become zeros), and the
     * size grows to off + len unless keep_size; -ENOSPC when there is not room for it all, -EFBIG
     * past the largest file. Without it fallocate is EOPNOTSUPP (glibc's posix_fallocate then
     * writes zeros itself). */
    int (*allocate)(struct inode *ino, uint64_t off, uint64_t len, int keep_size);
    /* Creates `name` in dir: a regular file or a directory (by S_IFMT of mode); -EEXIST if the
     * name exists. Sets *out (a new reference). */
    int (*create)(struct inode *dir, const char *name, size_t len, uint32_t mode,
                  struct inode **out);
    int (*symlink)(struct inode *dir, const char *name, size_t len, const char *target);
    int (*link)(struct inode *dir, const char *name, size_t len, struct inode *target);
    /* Removes `name`: a non-directory (rmdir 0: -EISDIR for a directory) or an empty directory
     * (rmdir 1: -ENOTDIR, -ENOTEMPTY). */
    int (*unlink)(struct inode *dir, const char *name, size_t len, int rmdir);
    /* Moves a name within the filesystem, replacing a compatible target, as rename(2). */
    int (*rename)(struct inode *odir, const char *oname, size_t olen, struct inode *ndir,
                  const char *nname, size_t nlen);
    int (*setattr)(struct inode *ino, const struct vfs_attr *attr);
    /* Called when a file is opened on the inode (after the VFS checks): may set f->ops and
     * f->priv. Returns 0 or -errno. */
    int (*open)(struct inode *ino, struct file *f);
    /* For shared mappings: the physical frame of file page `index` (allocated if it is a hole),
     * with a page reference (struct page.refcount) taken for the caller, or 0. */
    uint64_t (*page_share)(struct inode *ino, uint64_t index);
    /* Filesystems whose pages are read with sleeping I/O (the volume): page_share never sleeps
     * and answers 0 for a page not in memory; the fault then calls page_fill(ino, index) with no
     * lock held to read it in, and retries. Every mapping, private or shared, maps those pages
     * (a private one copies on its first write). */
    int (*page_fill)(struct inode *ino, uint64_t index);
    /* lseek SEEK_DATA/SEEK_HOLE from off (< size): the offset found, or -ENXIO. Without it the
     * whole file is data. */
    int64_t (*seek_data)(struct inode *ino, uint64_t off, int hole);
    /* fsync/fdatasync of a file on it: returns once its data is durable (0 elsewhere: nothing
     * to flush). */
    int (*fsync)(struct inode *ino);
};

/* Metadata changes (chmod, utimensat); fields apply when their bit is in `mask`. */
#define VFS_ATTR_MODE 1
#define VFS_ATTR_ATIME 2
#define VFS_ATTR_MTIME 4
struct vfs_attr {
    uint32_t mask;
    uint32_t mode; /* permission bits */
    uint64_t atime_ns, mtime_ns;
};

struct inode {
    const struct inode_ops *ops;
    uint64_t ino;
    uint32_t mode; /* S_IFMT and permissions */
    uint64_t size;
    uint32_t refcount; /* atomic: inode_get/inode_put */
    void *fs;      /* the filesystem's own data */
    char *path;    /* absolute path it was first found by (kmalloc'd, freed with it), or 0:
                    * for /proc/self/maps and /proc/self/fd */
    uint32_t deny_write; /* atomic: the program or its interpreter runs from it (loader/exec.c),
                          * so opening it for writing or truncating it is ETXTBSY */
};

struct file_ops {
    /* Reads into / writes from a user buffer at *pos, advancing it by what moved; return bytes
     * or -errno. *pos is the file's own position under its pos_lock (read, write) or the
     * caller's copy (pread, pwrite): a file with a position uses *pos, never f->pos; others
     * ignore it. */
    int64_t (*read)(struct file *f, void *ubuf, uint64_t len, uint64_t *pos);
    int64_t (*write)(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos);
    /* Optional: the last reference to the open file is gone. */
    void (*release)(struct file *f);
    /* Optional: device-specific ioctl (the VFS answers -ENOTTY without it). */
    long (*ioctl)(struct file *f, uint32_t cmd, uint64_t arg);
    /* Optional: the EPOLL* events ready now (EPOLLIN, EPOLLOUT, EPOLLRDHUP, EPOLLHUP, EPOLLERR);
     * never blocks. Sets *wq to the wait queue the file wakes (waitq_wake_all) whenever they may
     * have changed, or 0 if they never change. Without it a file is always readable and writable,
     * as a regular file is on Linux. poll, select, epoll and blocking reads all go through it. */
    uint32_t (*poll)(struct file *f, struct waitq **wq);
    /* Optional: fsync/fdatasync: returns once what was written is durable (0 or -errno). */
    int (*fsync)(struct file *f);
    /* Set for a stream with no position (the consoles, as a terminal on Linux): lseek, pread and
     * pwrite are ESPIPE, as for a pipe or a socket. */
    int no_seek;
};

struct file {
    const struct file_ops *ops;
    struct inode *inode; /* every open file has one (anonymous files: fs/anon.h) */
    uint64_t pos;   /* under pos_lock (file_pos_lock) */
    struct mutex pos_lock; /* "file position" */
    uint32_t flags; /* O_* status flags */
    uint32_t refcount; /* atomic: file_get/file_put */
    void *priv; /* the file ops' own data */
    struct epitem *epitems; /* the epoll items watching this file (linux/epoll.c's lock) */
};

/* Removes the file from every epoll watching it: the last reference is gone (linux/epoll.c). */
void epoll_file_release(struct file *f);

void inode_get(struct inode *ino);
void inode_put(struct inode *ino);
int64_t inode_read(struct inode *ino, uint64_t off, void *buf, uint64_t len);
const void *inode_page_ptr(struct inode *ino, uint64_t index);

/* Sets the root directory (a reference is taken). */
void vfs_set_root(struct inode *root);
/* Resolves `path` (absolute, or relative to `base`, or to the cwd when base is 0); follows a
 * symlink in the last component only if follow_last. Sets *out to a new reference. */
int vfs_lookup(struct inode *base, const char *path, int follow_last, struct inode **out);
/* Changes the working directory; `path` is kept for getcwd. */
int vfs_chdir(const char *path);
const char *vfs_getcwd(void);

/* Open-file objects and the descriptor table. */
struct file *file_new(const struct file_ops *ops, struct inode *ino, uint32_t flags);
/* Locks f's position for one read, write, lseek or getdents when f is a regular file, a
 * directory or a block device (Linux's FMODE_ATOMIC_POS), so threads sharing the open file move
 * it one call at a time; pipes, sockets and terminals are not locked (a read blocking there must
 * not hold up a write). Returns whether it locked, for file_pos_unlock. */
int file_pos_lock(struct file *f);
void file_pos_unlock(struct file *f, int locked);
/* Takes / drops a reference to an open file (atomic); the last put releases it. */
void file_get(struct file *f);
void file_put(struct file *f);
/* Installs f at the lowest free descriptor >= min; returns it or -EMFILE. Takes f's reference. */
int fd_install(struct file *f, int min, int cloexec);
/* Installs f at descriptor fd, closing what was there, in one step (dup2); returns fd or -EBADF.
 * Takes f's reference. */
int fd_install_at(struct file *f, int fd, int cloexec);
/* The file at descriptor fd with a new reference (file_put it), or 0. */
struct file *fd_file(int fd);
/* The file at descriptor fd, or 0, lent to the syscall in progress: it stays valid until the
 * syscall returns even if another thread closes fd (sched/thread.h: thread_hold_file). Past 8
 * files in one syscall it is lent without a reference; code that takes many (poll, select) or
 * keeps one beyond the syscall uses fd_file. */
struct file *fd_get(int fd);
int fd_close(int fd);
int fd_get_cloexec(int fd);
void fd_set_cloexec(int fd, int on);
/* Opens `path` with O_* flags (O_CREAT makes a regular file with permission bits `mode`, already
 * masked by the umask); sets *out. */
int vfs_open(struct inode *base, const char *path, uint32_t flags, uint32_t mode,
             struct file **out);
/* Resolves all but the last component of `path` (following symlinks): sets *dir (a new reference
 * to a directory) and copies the last component into name (NAME_MAX + 1 bytes; "" for "/",
 * trailing slashes dropped). */
int vfs_lookup_parent(struct inode *base, const char *path, struct inode **dir, char *name);
/* The same inode (filesystem and number), even through two lookups. */
int vfs_same_inode(const struct inode *a, const struct inode *b);
/* Sets ino->path to dir's path joined with name, if ino has no path yet and dir has one. */
void vfs_set_child_path(struct inode *ino, const struct inode *dir, const char *name);

/* Mounts: a filesystem root over the name `path` (absolute; its parent must exist, the name
 * itself need not exist in the parent filesystem). */
struct mount {
    struct inode *parent; /* the directory holding the mountpoint */
    char name[NAME_MAX + 1];
    struct inode *root;
    char path[64];
    const char *fstype, *source, *options;
    uint32_t dev; /* st_dev of the mounted filesystem */
};
#define MAX_MOUNTS 16
int vfs_mount(const char *path, struct inode *root, const char *fstype, const char *source,
              const char *options, uint32_t dev);
/* Mount i (0 is the first mount after the root), or 0 past the end. */
const struct mount *vfs_mount_at(int i);
/* Reads directory entries as the filesystem's readdir does, then the mountpoints in ino that
 * its filesystem lacks (cookies from VFS_MOUNT_COOKIE on). */
#define VFS_MOUNT_COOKIE (1ull << 62)
int vfs_readdir(struct inode *ino, uint64_t *cookie, struct vfs_dirent *out);
/* The root directory (no new reference). */
struct inode *vfs_root(void);
/* The working directory (no new reference). */
struct inode *vfs_cwd(void);
/* Changes the working directory to an inode whose path is known (fchdir). */
int vfs_fchdir(struct inode *dir);
/* The operations of files opened on an inode. */
extern const struct file_ops inode_file_ops;
