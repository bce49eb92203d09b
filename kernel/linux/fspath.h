/* Helpers the file syscalls share (linux/fs.c): path arguments, *at() directory descriptors and
 * the umask. */
#pragma once
#include <stdint.h>

struct inode;

/* Copies a path argument into a kmalloc'd buffer (*out); returns 0 or -errno. */
long fs_get_path(uint64_t upath, char **out);
/* The directory a *at() call resolves relative `path` against (*base, no new reference): 0 for
 * the cwd. Returns -EBADF or -ENOTDIR for a bad dirfd. */
long fs_dirfd_inode(int dirfd, const char *path, struct inode **base);
/* The file-mode creation mask. */
uint32_t fs_umask(void);
