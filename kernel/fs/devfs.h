/* devfs: the character devices under /dev. */
#pragma once
#include <stdint.h>
#include "fs/vfs.h"

/* Builds the /dev tree (st_dev `dev`); sets *root to its root directory (a static node). */
int devfs_new(uint32_t dev, struct inode **root);
