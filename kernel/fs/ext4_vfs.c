/* The read-only root filesystem: ext4 (fs/ext4.c) on the root image, seen through the VFS. */
#include "fs/ext4_vfs.h"
#include "errno.h"
#include "fs/ext4.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "mm/kheap.h"

#define ROOT_DEV 0x801 /* st_dev of the root filesystem, as a Linux /dev/sda1 would show */

static const struct inode_ops ext4_ops;

static struct ext4_fs *fs_of(struct inode *i) { return i->fs; }

static int make_inode(struct ext4_fs *fs, uint32_t ino, struct inode **out)
{
    struct ext4_stat st;
    int rc = ext4_stat(fs, ino, &st);
    if (rc)
        return rc;
    struct inode *i = kzalloc(sizeof *i);
    if (!i)
        return -ENOMEM;
    i->ops = &ext4_ops;
    i->ino = ino;
    i->mode = st.mode;
    i->size = st.size;
    i->refcount = 1;
    i->fs = fs;
    *out = i;
    return 0;
}

static int e_lookup(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    uint32_t ino;
    int rc = ext4_lookup(fs_of(dir), (uint32_t)dir->ino, name, len, &ino);
    return rc ? rc : make_inode(fs_of(dir), ino, out);
}

static int64_t e_read(struct inode *i, uint64_t off, void *buf, uint64_t len)
{
    return ext4_read(fs_of(i), (uint32_t)i->ino, off, buf, len);
}

static int tail_is_zero(const uint8_t *p, uint64_t from)
{
    for (uint64_t k = from; k < 4096; k++)
        if (p[k])
            return 0;
    return 1;
}

static const void *e_page_ptr(struct inode *i, uint64_t index)
{
    struct ext4_fs *fs = fs_of(i);
    if (fs->block_size != 4096 || index * 4096 >= i->size)
        return 0;
    const void *p;
    if (ext4_block_ptr(fs, (uint32_t)i->ino, index, &p, 0) || !p || ((uint64_t)p & 4095))
        return 0;
    uint64_t valid = i->size - index * 4096;
    if (valid < 4096 && !tail_is_zero(p, valid))
        return 0; /* bytes past EOF must read as zeros: let the caller copy */
    return p;
}

static int e_readlink(struct inode *i, char *buf, size_t size)
{
    return ext4_readlink(fs_of(i), (uint32_t)i->ino, buf, size);
}

static int e_readdir(struct inode *i, uint64_t *cookie, struct vfs_dirent *out)
{
    struct ext4_dirent *d = kmalloc(sizeof *d);
    if (!d)
        return -ENOMEM;
    int rc = ext4_readdir(fs_of(i), (uint32_t)i->ino, cookie, d);
    if (rc == 1) {
        out->ino = d->ino;
        out->type = d->type;
        out->name_len = d->name_len;
        memcpy(out->name, d->name, (size_t)d->name_len + 1);
    }
    kfree(d);
    return rc;
}

static int e_stat(struct inode *i, struct linux_stat *st)
{
    struct ext4_stat es;
    int rc = ext4_stat(fs_of(i), (uint32_t)i->ino, &es);
    if (rc)
        return rc;
    memset(st, 0, sizeof *st);
    st->st_dev = ROOT_DEV;
    st->st_ino = es.ino;
    st->st_nlink = es.nlink;
    st->st_mode = es.mode;
    st->st_uid = es.uid;
    st->st_gid = es.gid;
    st->st_size = (int64_t)es.size;
    st->st_blksize = 4096;
    st->st_blocks = (int64_t)es.blocks;
    st->st_atime = (uint64_t)es.atime_sec;
    st->st_atime_nsec = es.atime_nsec;
    st->st_mtime = (uint64_t)es.mtime_sec;
    st->st_mtime_nsec = es.mtime_nsec;
    st->st_ctime = (uint64_t)es.ctime_sec;
    st->st_ctime_nsec = es.ctime_nsec;
    return 0;
}

static void e_release(struct inode *i) { kfree(i); }

static const struct inode_ops ext4_ops = {
    .lookup = e_lookup,
    .read = e_read,
    .page_ptr = e_page_ptr,
    .readlink = e_readlink,
    .readdir = e_readdir,
    .stat = e_stat,
    .release = e_release,
};

int ext4_vfs_mount(const uint8_t *image, uint64_t size, struct inode **root)
{
    struct ext4_fs *fs = kzalloc(sizeof *fs);
    if (!fs)
        return -ENOMEM;
    int rc = ext4_mount(fs, image, size);
    if (rc) {
        kfree(fs);
        return rc;
    }
    return make_inode(fs, EXT4_ROOT_INO, root);
}
