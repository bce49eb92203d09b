/* volfs-fuse: a volume's dataset mounted read-only on the host through FUSE (libfuse 3), on the
 * kernel's own volfs code (docs/volume-format.md), for `lwjvm volume mount` (lwjvm/volume.py).
 *   volfs-fuse FILE DATASET DIR [-f]
 * mounts dataset DATASET ("root", "root@snap", a clone) of volume file FILE at DIR and goes into
 * the background once mounted (-f: stays in the foreground). Read-only: the volume is opened
 * read-only (the intent log replayed in memory), so it may be mounted while a VM uses it, but
 * what the VM commits afterwards is not seen: mount a snapshot for a stable view. volfs is used
 * by one thread at a time (libfuse's single-threaded loop). Unmount: fusermount3 -u DIR. */
#define _GNU_SOURCE
#define FUSE_USE_VERSION 31
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "fs/volfs/volfs.h"

void *kmalloc(size_t size) { return malloc(size ? size : 1); }
void *kzalloc(size_t size) { return calloc(1, size ? size : 1); }
void kfree(void *p) { free(p); }

static struct volfs *v;
static int ds, fd;
static uint64_t nblocks;

static int f_read(void *ctx, uint64_t blk, void *buf)
{
    (void)ctx;
    return pread(fd, buf, VOLFS_BLOCK, (off_t)(blk * VOLFS_BLOCK)) == VOLFS_BLOCK ? 0 : -EIO;
}

static int f_write(void *ctx, uint64_t blk, const void *buf)
{
    (void)ctx, (void)blk, (void)buf;
    return -EROFS;
}

static int f_flush(void *ctx)
{
    (void)ctx;
    return 0;
}

/* The object at path (absolute, from FUSE), or a negative errno. */
static int64_t walk(const char *path)
{
    int64_t obj = VOLFS_ROOT_OBJ;
    char name[VOLFS_NAME_MAX + 2];
    for (const char *p = path; *p;) {
        while (*p == '/')
            p++;
        if (!*p)
            break;
        size_t n = strcspn(p, "/");
        if (n > VOLFS_NAME_MAX)
            return -ENAMETOOLONG;
        memcpy(name, p, n);
        name[n] = 0;
        obj = volfs_lookup(v, ds, (uint64_t)obj, name);
        if (obj < 0)
            return obj;
        p += n;
    }
    return obj;
}

static void fill(struct stat *st, uint64_t obj, const struct volfs_stat *s)
{
    memset(st, 0, sizeof *st);
    st->st_ino = obj;
    st->st_mode = s->mode;
    st->st_nlink = s->nlink;
    st->st_uid = s->uid;
    st->st_gid = s->gid;
    st->st_size = (off_t)s->size;
    st->st_blksize = VOLFS_BLOCK;
    st->st_blocks = (blkcnt_t)((s->size + 511) / 512);
    st->st_atim = (struct timespec){(time_t)(s->atime_ns / 1000000000), (long)(s->atime_ns % 1000000000)};
    st->st_mtim = (struct timespec){(time_t)(s->mtime_ns / 1000000000), (long)(s->mtime_ns % 1000000000)};
    st->st_ctim = (struct timespec){(time_t)(s->ctime_ns / 1000000000), (long)(s->ctime_ns % 1000000000)};
}

static int op_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    int64_t obj = walk(path);
    if (obj < 0)
        return (int)obj;
    struct volfs_stat s;
    int r = volfs_stat(v, ds, (uint64_t)obj, &s);
    if (r < 0)
        return r;
    fill(st, (uint64_t)obj, &s);
    return 0;
}

struct dir_fill {
    void *buf;
    fuse_fill_dir_t filler;
};

static int dir_cb(void *arg, const char *name, uint64_t obj, uint8_t type)
{
    struct dir_fill *d = arg;
    struct stat st;
    memset(&st, 0, sizeof st);
    st.st_ino = obj;
    st.st_mode = (mode_t)type << 12; /* DT_* is the S_IFMT value shifted */
    return d->filler(d->buf, name, &st, 0, 0);
}

static int op_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off, (void)fi, (void)flags;
    int64_t obj = walk(path);
    if (obj < 0)
        return (int)obj;
    filler(buf, ".", 0, 0, 0);
    filler(buf, "..", 0, 0, 0);
    struct dir_fill d = {buf, filler};
    return volfs_readdir(v, ds, (uint64_t)obj, dir_cb, &d);
}

static int op_open(const char *path, struct fuse_file_info *fi)
{
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EROFS;
    int64_t obj = walk(path);
    if (obj < 0)
        return (int)obj;
    fi->fh = (uint64_t)obj;
    fi->keep_cache = 1;
    return 0;
}

static int op_read(const char *path, char *buf, size_t size, off_t off, struct fuse_file_info *fi)
{
    (void)path;
    int64_t n = volfs_read(v, ds, fi->fh, (uint64_t)off, buf, size);
    return (int)n;
}

static int op_readlink(const char *path, char *buf, size_t size)
{
    int64_t obj = walk(path);
    if (obj < 0)
        return (int)obj;
    int64_t n = volfs_read(v, ds, (uint64_t)obj, 0, buf, size - 1);
    if (n < 0)
        return (int)n;
    buf[n] = 0;
    return 0;
}

static int op_statfs(const char *path, struct statvfs *s)
{
    (void)path;
    memset(s, 0, sizeof *s);
    s->f_bsize = s->f_frsize = VOLFS_BLOCK;
    s->f_blocks = volfs_data_blocks(v);
    s->f_bfree = s->f_bavail = volfs_free_blocks(v);
    s->f_namemax = VOLFS_NAME_MAX;
    s->f_flag = ST_RDONLY;
    return 0;
}

static const struct fuse_operations ops = {
    .getattr = op_getattr,
    .readdir = op_readdir,
    .open = op_open,
    .read = op_read,
    .readlink = op_readlink,
    .statfs = op_statfs,
};

int main(int argc, char **argv)
{
    if (argc < 4) {
        fprintf(stderr, "usage: volfs-fuse FILE DATASET DIR [-f]\n");
        return 2;
    }
    fd = open(argv[1], O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st)) {
        fprintf(stderr, "volfs-fuse: %s: %s\n", argv[1], strerror(errno));
        return 2;
    }
    nblocks = (uint64_t)st.st_size / VOLFS_BLOCK;
    struct volfs_bdev d = {0, nblocks, f_read, f_write, f_flush, 0};
    int r = volfs_open(&d, true, &v);
    if (r < 0) {
        fprintf(stderr, "volfs-fuse: %s: not a volume (%s)\n", argv[1], strerror(-r));
        return 2;
    }
    (void)volfs_set_cache(v, 64u << 20);
    ds = volfs_dataset(v, argv[2]);
    if (ds < 0) {
        fprintf(stderr, "volfs-fuse: %s: no dataset %s\n", argv[1], argv[2]);
        return 2;
    }
    /* libfuse's own arguments: the mount point, single-threaded, read-only, named. */
    char *fargv[8];
    int fargc = 0;
    fargv[fargc++] = argv[0];
    fargv[fargc++] = argv[3];
    fargv[fargc++] = "-s";
    fargv[fargc++] = "-oro,default_permissions,fsname=lwjvm-volume,subtype=volfs";
    if (argc > 4 && !strcmp(argv[4], "-f"))
        fargv[fargc++] = "-f";
    fargv[fargc] = 0;
    return fuse_main(fargc, fargv, &ops, 0);
}
