/* tmpfs: the writable in-memory filesystem (mounted at /tmp). */
#pragma once
#include <stdint.h>
#include "fs/vfs.h"

/* Makes an empty tmpfs whose files report st_dev `dev`; sets *root to its root directory (mode
 * S_IFDIR | mode) with one reference. */
int tmpfs_new(uint32_t dev, uint32_t mode, struct inode **root);
