/* Filesystem change events, the hooks the VFS and the file syscalls call after a change succeeds.
 * inotify (linux/inotify.c) turns them into events on its watches; while no watch exists each hook
 * is one load and a branch. Masks are inotify's IN_* bits; IN_ISDIR is added when the subject is
 * a directory, except on the events only its own watches see (as Linux). */
#pragma once
#include <stdint.h>

struct inode;
struct file;

#define IN_ACCESS 0x00000001
#define IN_MODIFY 0x00000002
#define IN_ATTRIB 0x00000004
#define IN_CLOSE_WRITE 0x00000008
#define IN_CLOSE_NOWRITE 0x00000010
#define IN_OPEN 0x00000020
#define IN_MOVED_FROM 0x00000040
#define IN_MOVED_TO 0x00000080
#define IN_CREATE 0x00000100
#define IN_DELETE 0x00000200
#define IN_DELETE_SELF 0x00000400
#define IN_MOVE_SELF 0x00000800
#define IN_UNMOUNT 0x00002000
#define IN_Q_OVERFLOW 0x00004000
#define IN_IGNORED 0x00008000
#define IN_ISDIR 0x40000000
#define IN_ALL_EVENTS 0x00000fff

extern int fsnotify_watches; /* watches that exist now, in all inotify instances */

void fsnotify_name_event(struct inode *dir, uint32_t mask, uint32_t cookie, const char *name,
                         const struct inode *child);
void fsnotify_inode_event(struct inode *ino, uint32_t mask, int self_only);
void fsnotify_gone_event(struct inode *ino);
void fsnotify_close_event(struct file *f);
uint32_t fsnotify_next_cookie(void);

/* `name` was created in (IN_CREATE), removed from (IN_DELETE) or moved out of or into
 * (IN_MOVED_FROM/TO with a shared cookie) directory `dir`; `child` is the inode it names. */
static inline void fsnotify_name(struct inode *dir, uint32_t mask, uint32_t cookie,
                                 const char *name, const struct inode *child)
{
    if (fsnotify_watches)
        fsnotify_name_event(dir, mask, cookie, name, child);
}

/* Something happened to `ino` (IN_ACCESS, IN_MODIFY, IN_ATTRIB, IN_OPEN...): its own watches
 * see it, and so does a watch on its directory (with its name) unless self_only (IN_MOVE_SELF,
 * the IN_ATTRIB of a link count change). */
static inline void fsnotify_inode(struct inode *ino, uint32_t mask, int self_only)
{
    if (fsnotify_watches)
        fsnotify_inode_event(ino, mask, self_only);
}

/* `ino` lost its last name: IN_DELETE_SELF now if no descriptor holds it open, else at its
 * last close (fsnotify_close), then IN_IGNORED and its watches are gone. */
static inline void fsnotify_gone(struct inode *ino)
{
    if (fsnotify_watches)
        fsnotify_gone_event(ino);
}

/* The last reference to an open file is being dropped: IN_CLOSE_WRITE or IN_CLOSE_NOWRITE. */
static inline void fsnotify_close(struct file *f)
{
    if (fsnotify_watches)
        fsnotify_close_event(f);
}
