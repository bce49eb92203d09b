/* The filesystems mounted at boot over the read-only root: /dev (devfs), /proc (procfs), /sys
 * (sysfs) and /tmp (tmpfs). Each has its own st_dev, as on Linux. The tmpfs starts with a copy of
 * what the image holds under /tmp (which the mount would otherwise hide), so files an image puts
 * there (lwjvm exec --add, a program built in /tmp) are seen and writable. */
#include "fs/mounts.h"
#include "errno.h"
#include "fs/devfs.h"
#include "fs/procfs.h"
#include "fs/sysfs.h"
#include "fs/tmpfs.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "mm/kheap.h"

#define DEV_DEVFS 0x05
#define DEV_PROCFS 0x15
#define DEV_SYSFS 0x16
#define DEV_TMPFS 0x17

/* Mounts one filesystem made by `make`; returns 0 or -errno. */
static int mount_one(const char *path, int rc, struct inode *root, const char *fstype,
                     const char *source, const char *options, uint32_t dev)
{
    if (rc)
        return rc;
    rc = vfs_mount(path, root, fstype, source, options, dev);
    inode_put(root);
    return rc;
}

#define SEED_DEPTH 32

/* Copies one file's bytes from src to dst; 0 or -errno. */
static int seed_file(struct inode *src, struct inode *dst)
{
    char *buf = kmalloc(4096);
    if (!buf)
        return -ENOMEM;
    int rc = 0;
    for (uint64_t off = 0; off < src->size && !rc;) {
        int64_t n = inode_read(src, off, buf, 4096);
        if (n <= 0) {
            rc = n ? (int)n : -EIO;
            break;
        }
        int64_t w = dst->ops->write(dst, off, buf, (uint64_t)n);
        rc = w == n ? 0 : w < 0 ? (int)w : -ENOSPC;
        off += (uint64_t)n;
    }
    kfree(buf);
    return rc;
}

/* Copies directory src's entries (files, directories, symlinks, with their permission bits)
 * into the tmpfs directory dst; 0 or -errno. */
static int seed_dir(struct inode *src, struct inode *dst, int depth)
{
    if (depth > SEED_DEPTH || !src->ops->readdir)
        return depth > SEED_DEPTH ? -ELOOP : 0;
    struct vfs_dirent *d = kmalloc(sizeof *d);
    char *target = kmalloc(PATH_MAX);
    if (!d || !target) {
        kfree(d);
        kfree(target);
        return -ENOMEM;
    }
    int rc = 0;
    uint64_t cookie = 0;
    while (!rc && src->ops->readdir(src, &cookie, d) == 1) {
        if (!strcmp(d->name, ".") || !strcmp(d->name, ".."))
            continue;
        struct inode *child, *made;
        if (src->ops->lookup(src, d->name, d->name_len, &child))
            continue;
        uint32_t type = child->mode & S_IFMT;
        if (type == S_IFLNK) {
            int n = child->ops->readlink ? child->ops->readlink(child, target, PATH_MAX - 1) : -1;
            if (n >= 0) {
                target[n] = 0;
                rc = dst->ops->symlink(dst, d->name, d->name_len, target);
            }
        } else if (type == S_IFDIR || type == S_IFREG) {
            rc = dst->ops->create(dst, d->name, d->name_len, child->mode, &made);
            if (!rc) {
                rc = type == S_IFDIR ? seed_dir(child, made, depth + 1) : seed_file(child, made);
                inode_put(made);
            }
        }
        inode_put(child);
    }
    kfree(target);
    kfree(d);
    return rc;
}

int fs_mount_boot(void)
{
    struct inode *r = 0;
    int rc = devfs_new(DEV_DEVFS, &r);
    rc = mount_one("/dev", rc, r, "devtmpfs", "devtmpfs", "rw,nosuid,relatime", DEV_DEVFS);
    if (!rc)
        rc = procfs_new(DEV_PROCFS, &r);
    if (!rc)
        rc = mount_one("/proc", rc, r, "proc", "proc", "rw,nosuid,nodev,noexec,relatime",
                       DEV_PROCFS);
    if (!rc)
        rc = sysfs_new(DEV_SYSFS, &r);
    if (!rc)
        rc = mount_one("/sys", rc, r, "sysfs", "sysfs", "rw,nosuid,nodev,noexec,relatime",
                       DEV_SYSFS);
    if (!rc)
        rc = tmpfs_new(DEV_TMPFS, 01777, &r);
    struct inode *image_tmp;
    if (!rc && !vfs_lookup(0, "/tmp", 1, &image_tmp)) {
        if ((image_tmp->mode & S_IFMT) == S_IFDIR)
            rc = seed_dir(image_tmp, r, 0);
        inode_put(image_tmp);
        if (rc)
            inode_put(r);
    }
    if (!rc)
        rc = mount_one("/tmp", rc, r, "tmpfs", "tmpfs", "rw,nosuid,nodev,relatime", DEV_TMPFS);
    return rc;
}
