/* The virtual filesystem: inodes with per-filesystem operations, open files, the descriptor
 * table, and path lookup with symlinks. */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct inode;
struct file;
struct linux_stat;

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
};

struct inode {
    const struct inode_ops *ops;
    uint64_t ino;
    uint32_t mode; /* S_IFMT and permissions */
    uint64_t size;
    uint32_t refcount;
    void *fs;      /* the filesystem's own data */
};

struct file_ops {
    /* Reads into / writes from a user buffer; return bytes or -errno. */
    int64_t (*read)(struct file *f, void *ubuf, uint64_t len);
    int64_t (*write)(struct file *f, const void *ubuf, uint64_t len);
};

struct file {
    const struct file_ops *ops;
    struct inode *inode; /* 0 for the consoles */
    uint64_t pos;
    uint32_t flags; /* O_* status flags */
    uint32_t refcount;
};

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
void file_put(struct file *f);
/* Installs f at the lowest free descriptor >= min; returns it or -EMFILE. Takes f's reference. */
int fd_install(struct file *f, int min, int cloexec);
/* The file at descriptor fd (no new reference), or 0. */
struct file *fd_get(int fd);
int fd_close(int fd);
int fd_get_cloexec(int fd);
void fd_set_cloexec(int fd, int on);
/* Opens `path` with O_* flags for reading (the root filesystem is read-only); returns the file. */
int vfs_open(struct inode *base, const char *path, uint32_t flags, struct file **out);
/* The operations of files opened on an inode. */
extern const struct file_ops inode_file_ops;
