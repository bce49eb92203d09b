/* Anonymous inodes: for files with no name (eventfd, epoll, and sockets until they have their
 * own), as Linux's anon_inodefs: mode 0600 with no file type, and /proc/self/fd/N reads
 * "anon_inode:[KIND]". */
#pragma once
#include "fs/vfs.h"

/* A new inode of kind `kind` ("eventfd", "eventpoll"...) with one reference, or 0. */
struct inode *anon_inode_new(const char *kind);
/* A new open file on a new anonymous inode (ops, flags and priv set), or 0. */
struct file *anon_file_new(const char *kind, const struct file_ops *ops, uint32_t flags,
                           void *priv);
