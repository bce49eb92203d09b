/* procfs: the process and system files under /proc. */
#pragma once
#include <stdint.h>
#include "fs/vfs.h"

/* Builds the /proc tree (st_dev `dev`); sets *root to its root directory. */
int procfs_new(uint32_t dev, struct inode **root);
/* Keeps copies of the program's argv and envp for /proc/self/cmdline and environ. */
void procfs_set_args(char *const argv[], char *const envp[]);
