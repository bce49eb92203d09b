/* Pseudo filesystems (devfs, procfs, sysfs): fixed trees of nodes built at boot whose files are
 * devices, symlinks computed when read, or text generated when opened; directories may add
 * entries computed on demand (/proc/self/fd). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "fs/vfs.h"

/* Generates a file's text into buf (size bytes, NUL-terminated if it fits); returns the full
 * length, which may exceed size (the caller then retries with a larger buffer). */
struct pseudo_node;
typedef int (*pseudo_gen_fn)(struct pseudo_node *n, char *buf, size_t size);
/* Writes a symlink target into buf (size bytes, not NUL-terminated); returns its length or
 * -errno. */
typedef int (*pseudo_link_fn)(struct pseudo_node *n, char *buf, size_t size);

struct pseudo_node {
    struct inode inode; /* first: the VFS inode of this node */
    const char *name;
    struct pseudo_node *parent, *children, *next;
    uint32_t dev, rdev;
    uint64_t data; /* the owner's own value (the descriptor number of /proc/self/fd/N) */
    pseudo_gen_fn gen;
    /* For writable generated files: consumes the bytes written (returns 0 or -errno). */
    int (*store)(const char *buf, size_t len);
    pseudo_link_fn link;
    const struct file_ops *fops; /* character devices */
    /* Directories with computed entries: lookup of a name not among the children, and the
     * entry at `index` (0, 1, ...) after the children: 1 for an entry, 0 at the end. */
    int (*dyn_lookup)(struct pseudo_node *dir, const char *name, size_t len, struct inode **out);
    int (*dyn_readdir)(struct pseudo_node *dir, uint64_t index, struct vfs_dirent *out);
};

/* The root directory of a new pseudo filesystem with st_dev `dev`. */
struct pseudo_node *pseudo_new_fs(uint32_t dev);
struct pseudo_node *pseudo_dir(struct pseudo_node *parent, const char *name);
struct pseudo_node *pseudo_file(struct pseudo_node *parent, const char *name, uint32_t perm,
                                pseudo_gen_fn gen);
struct pseudo_node *pseudo_symlink(struct pseudo_node *parent, const char *name,
                                   pseudo_link_fn link);
struct pseudo_node *pseudo_chardev(struct pseudo_node *parent, const char *name, uint32_t perm,
                                   uint32_t major, uint32_t minor, const struct file_ops *fops);
/* A node made on demand (freed with its last reference), for dyn_lookup. */
struct pseudo_node *pseudo_transient(struct pseudo_node *parent, uint32_t mode, uint64_t ino);
/* Generates n's text into a new kmalloc'd buffer; sets *len. 0 when memory is exhausted. */
char *pseudo_generate(struct pseudo_node *n, size_t *len);
/* Linux's st_rdev encoding of a device number. */
static inline uint32_t pseudo_devnum(uint32_t major, uint32_t minor)
{
    return (minor & 0xff) | (major << 8) | ((minor & ~0xffu) << 12);
}
