/* tmpfs: the writable in-memory filesystem (mounted at /tmp). */
#pragma once
#include <stdint.h>
#include "fs/vfs.h"

/* Makes an empty tmpfs whose files report st_dev `dev`, holding at most half of RAM (then
 * writes fail with ENOSPC); sets *root to its root directory (mode S_IFDIR | mode) with one
 * reference. */
int tmpfs_new(uint32_t dev, uint32_t mode, struct inode **root);
/* The size and free pages of the tmpfs holding ino, or -EINVAL if ino is not on a tmpfs. */
int tmpfs_statfs(struct inode *ino, uint64_t *pages, uint64_t *free_pages);
