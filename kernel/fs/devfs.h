/* devfs: the character devices under /dev, and the disk's block device when there is one. */
#pragma once
#include <stdint.h>
#include "fs/vfs.h"

/* Builds the /dev tree (st_dev `dev`); sets *root to its root directory (a static node). */
int devfs_new(uint32_t dev, struct inode **root);
/* Adds the block device /dev/NAME (major:minor) whose open files use ops; after devfs_new, at
 * boot (before the program runs). Returns 0 or -ENOMEM. */
int devfs_add_blockdev(const char *name, uint32_t major, uint32_t minor,
                       const struct file_ops *ops);
