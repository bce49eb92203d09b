/* flock(2) locks: whole-file advisory locks held by open files (not by descriptors). */
#pragma once
#include "fs/vfs.h"

/* Applies flock operation op (LOCK_SH, LOCK_EX or LOCK_UN, maybe | LOCK_NB) for open file f;
 * blocks while another open file holds a conflicting lock unless LOCK_NB. Returns 0,
 * -EAGAIN (EWOULDBLOCK), -EINVAL, -ERESTARTSYS (interrupted) or -ENOMEM. */
int flock_apply(struct file *f, int op);
/* Drops f's lock, if any (its last reference is going). */
void flock_release(struct file *f);
