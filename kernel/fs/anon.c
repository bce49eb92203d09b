/* Anonymous inodes (see fs/anon.h). */
#include "fs/anon.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "mm/kheap.h"

#define ANON_INODE_DEV 0x0e

static uint64_t next_ino = 1; /* atomic */

static int anon_stat(struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = ANON_INODE_DEV;
    st->st_ino = ino->ino;
    st->st_nlink = 1;
    st->st_mode = ino->mode;
    st->st_blksize = 4096;
    return 0;
}

static void anon_release(struct inode *ino) { kfree(ino); }

static const struct inode_ops anon_ops = {.stat = anon_stat, .release = anon_release};

struct inode *anon_inode_new(const char *kind)
{
    struct inode *ino = kzalloc(sizeof *ino);
    char *path = kmalloc(64);
    if (!ino || !path) {
        kfree(ino);
        kfree(path);
        return 0;
    }
    snprintf(path, 64, "anon_inode:[%s]", kind);
    ino->ops = &anon_ops;
    ino->ino = __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED);
    ino->mode = 0600;
    ino->refcount = 1;
    ino->path = path;
    return ino;
}

struct file *anon_file_new(const char *kind, const struct file_ops *ops, uint32_t flags,
                           void *priv)
{
    struct inode *ino = anon_inode_new(kind);
    if (!ino)
        return 0;
    struct file *f = file_new(ops, ino, flags);
    inode_put(ino); /* the file holds it now (or it is freed) */
    if (f)
        f->priv = priv;
    return f;
}
