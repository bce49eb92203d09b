/* Mounting the root image's ext4 filesystem into the VFS. */
#pragma once
#include <stdint.h>
#include "fs/vfs.h"

/* Mounts the in-memory image read-only and sets *root to its root directory. */
int ext4_vfs_mount(const uint8_t *image, uint64_t size, struct inode **root);
