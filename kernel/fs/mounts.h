/* The filesystems mounted at boot. */
#pragma once
#include "fs/vfs.h"

/* Mounts devfs at /dev, procfs at /proc, sysfs at /sys and tmpfs at /tmp over the root (whether
 * or not the root image has those directories). Returns 0 or -errno. */
int fs_mount_boot(void);
