/* sysfs: the few /sys files programs read. */
#pragma once
#include <stdint.h>
#include "fs/vfs.h"

/* Builds the /sys tree (st_dev `dev`); sets *root to its root directory. */
int sysfs_new(uint32_t dev, struct inode **root);
