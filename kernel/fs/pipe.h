/* Pipes: a ring between a read end and a write end, both open files; 64 KiB by default, resized
 * by F_SETPIPE_SZ, bounded in total as Linux bounds a user's (fs/pipe.c). */
#pragma once
#include "fs/vfs.h"

/* Makes a pipe; sets *rd and *wr to its two ends (flags: O_NONBLOCK applies to both). */
int pipe_create(uint32_t flags, struct file **rd, struct file **wr);
/* fcntl F_GETPIPE_SZ and F_SETPIPE_SZ on f: the ring's size in bytes, or -EBADF (not a pipe),
 * -EINVAL, -EPERM (past pipe-max-size or the soft limit), -EBUSY (the data would not fit),
 * -ENOMEM. */
long pipe_fcntl(struct file *f, unsigned cmd, uint64_t arg);
/* Linux's fs.pipe-max-size, fs.pipe-user-pages-soft and fs.pipe-user-pages-hard here, as
 * /proc/sys/fs shows them. */
uint64_t pipe_max_size(void);
uint64_t pipe_user_pages_soft(void);
uint64_t pipe_user_pages_hard(void);
