/* The virtio-blk driver's interface: one disk (the first virtio-blk device), read and written
 * in 512-byte sectors, several requests in flight per call, and a flush that returns once what
 * was written before it is on stable storage. Calls sleep; they are made from threads only. */
#pragma once
#include <stdint.h>

/* 1 if a disk was found at boot. */
int virtio_blk_present(void);
/* The disk's size in 512-byte sectors. */
uint64_t virtio_blk_sectors(void);
/* Reads or writes n bytes (a multiple of 512) at sector; buf is a user address when user is
 * set, else kernel memory. Returns 0, -EIO (the device failed a request), -EFAULT, -EINVAL or
 * -ENOSPC (past the end), -EROFS (a read-only disk). */
int virtio_blk_rw(uint64_t sector, void *buf, uint64_t n, int write, int user);
/* FLUSH: every write completed before the call is durable when it returns 0. */
int virtio_blk_flush(void);
/* DISCARD (zeroes 0: the sectors' contents may go, the host may give back their space) or
 * WRITE_ZEROES (zeroes 1: they read as zeros after) of count sectors at sector. Returns 0,
 * -EOPNOTSUPP when the device does not offer it, -EIO, -ENOSPC (past the end), -EROFS. */
int virtio_blk_discard(uint64_t sector, uint64_t count, int zeroes);
