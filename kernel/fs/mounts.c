/* The filesystems mounted at boot over the read-only root: /dev (devfs), /proc (procfs), /sys
 * (sysfs) and /tmp (tmpfs). Each has its own st_dev, as on Linux. */
#include "fs/mounts.h"
#include "fs/devfs.h"
#include "fs/procfs.h"
#include "fs/sysfs.h"
#include "fs/tmpfs.h"

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
    if (!rc)
        rc = mount_one("/tmp", rc, r, "tmpfs", "tmpfs", "rw,nosuid,nodev,relatime", DEV_TMPFS);
    return rc;
}
