/* What the rest of the kernel may ask of a socket without seeing lwIP: whether a file is one, and
 * sendfile into it (net/socket.c). */
#pragma once
#include <stdint.h>

struct file;

/* 1 if f is a socket. */
int file_is_socket(const struct file *f);
/* sendfile from regular file `in` at *off (advanced) into socket `out`: up to len bytes; pages of
 * the read-only root image are sent without a copy. Returns bytes sent or -errno (-EINVAL for a
 * socket that is not a connected TCP stream: callers fall back to read and write). */
long sock_sendfile(struct file *out, struct file *in, uint64_t *off, uint64_t len);
/* socketpair(AF_UNIX, type) for the types net/unix_sock.c implements (SOCK_DGRAM): installs two
 * connected sockets and writes their descriptors to usv. 0 or -errno. */
long unix_socketpair(int type, int flags, void *usv);
