/* Pipes: a 64 KiB ring between a read end and a write end, both open files. */
#pragma once
#include "fs/vfs.h"

/* Makes a pipe; sets *rd and *wr to its two ends (flags: O_NONBLOCK applies to both). */
int pipe_create(uint32_t flags, struct file **rd, struct file **wr);
