/* The data volume as a VFS filesystem: inodes for volfs objects (one per object while it is
 * referenced), files read and written through the volume's transaction group, fsync and the
 * program's exit committing it (volfs_commit: data then a FLUSH, the uberblock, a FLUSH), the
 * virtio-blk disk underneath. Locking: vol.lock, a sleeping lock (disk I/O sleeps), guards the
 * volfs state and the inode list; it is taken alone, by every inode operation here. Not yet:
 * rename, hard links, symlinks, setattr (-EPERM/-EROFS from the VFS), shared mappings, and an
 * unlinked file's data outlives its name only until the unlink. */
#include "fs/volume.h"
#include "core/clock.h"
#include "drivers/virtio_blk.h"
#include "errno.h"
#include "fs/vfs.h"
#include "fs/volfs/volfs.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "mm/kheap.h"
#include "sched/mutex.h"
#include "sched/thread.h"

#define DEV_VOLUME 0x30
#define DT_DIR 4
#define DT_REG 8

struct vnode {
    struct inode i; /* first */
    struct vnode *next;
    uint64_t obj;
};

static struct {
    struct mutex lock; /* the volfs state, nodes */
    struct volfs *v;
    int ds;
    struct vnode *nodes;
    struct thread *holder; /* the thread holding lock, for volume_sync at a fatal exit */
} vol;

static void vlock(void)
{
    mutex_lock(&vol.lock);
    vol.holder = current();
}

static void vunlock(void)
{
    vol.holder = 0;
    mutex_unlock(&vol.lock);
}

static int bd_read(void *ctx, uint64_t blk, void *buf)
{
    (void)ctx;
    return virtio_blk_rw(blk * (VOLFS_BLOCK / 512), buf, VOLFS_BLOCK, 0, 0);
}

static int bd_write(void *ctx, uint64_t blk, const void *buf)
{
    (void)ctx;
    return virtio_blk_rw(blk * (VOLFS_BLOCK / 512), (void *)buf, VOLFS_BLOCK, 1, 0);
}

static int bd_flush(void *ctx)
{
    (void)ctx;
    return virtio_blk_flush();
}

static const struct inode_ops vol_ops;

/* The inode of obj (a new reference); vol.lock held. */
static int node_get(uint64_t obj, struct inode **out)
{
    for (struct vnode *n = vol.nodes; n; n = n->next)
        if (n->obj == obj && __atomic_load_n(&n->i.refcount, __ATOMIC_ACQUIRE)) {
            inode_get(&n->i);
            *out = &n->i;
            return 0;
        }
    struct volfs_stat st;
    int rc = volfs_stat(vol.v, vol.ds, obj, &st);
    if (rc < 0)
        return rc;
    struct vnode *n = kzalloc(sizeof *n);
    if (!n)
        return -ENOMEM;
    n->obj = obj;
    n->i.ops = &vol_ops;
    n->i.ino = obj;
    n->i.mode = st.mode;
    n->i.size = st.size;
    n->i.refcount = 1;
    n->i.fs = &vol;
    n->next = vol.nodes;
    vol.nodes = n;
    *out = &n->i;
    return 0;
}

static uint64_t obj_of(struct inode *i) { return ((struct vnode *)i)->obj; }

/* name[len] as a C string in buf; -ENAMETOOLONG past what volfs holds. */
static int cname(const char *name, size_t len, char *buf)
{
    if (len > VOLFS_NAME_MAX)
        return -ENAMETOOLONG;
    memcpy(buf, name, len);
    buf[len] = 0;
    return 0;
}

static int v_lookup(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    char nm[VOLFS_NAME_MAX + 1];
    if (len > VOLFS_NAME_MAX)
        return len > NAME_MAX ? -ENAMETOOLONG : -ENOENT;
    cname(name, len, nm);
    vlock();
    int64_t obj = volfs_lookup(vol.v, vol.ds, obj_of(dir), nm);
    int rc = obj < 0 ? (int)obj : node_get((uint64_t)obj, out);
    vunlock();
    return rc;
}

static int64_t v_read(struct inode *ino, uint64_t off, void *buf, uint64_t len)
{
    vlock();
    int64_t n = volfs_read(vol.v, vol.ds, obj_of(ino), off, buf, len);
    vunlock();
    return n;
}

struct rd {
    uint64_t skip, seen;
    struct vfs_dirent *out;
    int found;
};

static int rd_cb(void *arg, const char *name, uint64_t obj, uint8_t type)
{
    struct rd *r = arg;
    if (r->seen++ < r->skip)
        return 0;
    size_t n = strlen(name);
    r->out->ino = obj;
    r->out->type = type;
    r->out->name_len = (uint8_t)n;
    memcpy(r->out->name, name, n + 1);
    r->found = 1;
    return 1;
}

/* Cookies: 0 ".", 1 "..", 2 + k the k-th entry in use (linear: v1 directories are small). */
static int v_readdir(struct inode *ino, uint64_t *cookie, struct vfs_dirent *out)
{
    if (*cookie < 2) {
        out->ino = ino->ino;
        out->type = DT_DIR;
        out->name_len = (uint8_t)(*cookie + 1);
        memcpy(out->name, "..", *cookie + 1);
        out->name[*cookie + 1] = 0;
        (*cookie)++;
        return 1;
    }
    struct rd r = {*cookie - 2, 0, out, 0};
    vlock();
    int rc = volfs_readdir(vol.v, vol.ds, obj_of(ino), rd_cb, &r);
    vunlock();
    if (rc < 0)
        return rc;
    if (!r.found)
        return 0;
    (*cookie)++;
    return 1;
}

static int v_stat(struct inode *ino, struct linux_stat *st)
{
    struct volfs_stat vs;
    vlock();
    int rc = volfs_stat(vol.v, vol.ds, obj_of(ino), &vs);
    vunlock();
    if (rc < 0)
        return rc;
    memset(st, 0, sizeof *st);
    st->st_dev = DEV_VOLUME;
    st->st_ino = ino->ino;
    st->st_nlink = vs.nlink;
    st->st_mode = vs.mode;
    st->st_size = (int64_t)vs.size;
    st->st_blksize = VOLFS_BLOCK;
    st->st_blocks = (int64_t)((vs.size + 511) / 512);
    st->st_mtime = vs.mtime_ns / 1000000000, st->st_mtime_nsec = vs.mtime_ns % 1000000000;
    st->st_ctime = vs.ctime_ns / 1000000000, st->st_ctime_nsec = vs.ctime_ns % 1000000000;
    st->st_atime = st->st_mtime, st->st_atime_nsec = st->st_mtime_nsec;
    return 0;
}

static void v_release(struct inode *ino)
{
    vlock();
    for (struct vnode **p = &vol.nodes; *p; p = &(*p)->next)
        if (&(*p)->i == ino) {
            *p = (*p)->next;
            break;
        }
    vunlock();
    kfree(ino);
}

static int64_t v_write(struct inode *ino, uint64_t off, const void *buf, uint64_t len)
{
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    int64_t n = volfs_write(vol.v, vol.ds, obj_of(ino), off, buf, len);
    if (n > 0 && off + (uint64_t)n > ino->size)
        ino->size = off + (uint64_t)n;
    vunlock();
    return n;
}

static int v_truncate(struct inode *ino, uint64_t size)
{
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    int rc = volfs_truncate(vol.v, vol.ds, obj_of(ino), size);
    if (rc == 0)
        ino->size = size;
    vunlock();
    return rc;
}

static int v_create(struct inode *dir, const char *name, size_t len, uint32_t mode,
                    struct inode **out)
{
    char nm[VOLFS_NAME_MAX + 1];
    int rc = cname(name, len, nm);
    if (rc < 0)
        return rc;
    if ((mode & S_IFMT) != S_IFDIR && (mode & S_IFMT) != S_IFREG)
        return -EPERM; /* devices, fifos and sockets: not on a volume in v1 */
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    int64_t obj = volfs_create(vol.v, vol.ds, obj_of(dir), nm, mode);
    rc = obj < 0 ? (int)obj : node_get((uint64_t)obj, out);
    vunlock();
    return rc;
}

static int v_unlink(struct inode *dir, const char *name, size_t len, int rmdir)
{
    char nm[VOLFS_NAME_MAX + 1];
    if (len > VOLFS_NAME_MAX)
        return -ENOENT;
    cname(name, len, nm);
    vlock();
    struct volfs_stat st;
    int64_t obj = volfs_lookup(vol.v, vol.ds, obj_of(dir), nm);
    int rc = obj < 0 ? (int)obj : volfs_stat(vol.v, vol.ds, (uint64_t)obj, &st);
    if (rc == 0 && !rmdir && st.kind == 2)
        rc = -EISDIR;
    if (rc == 0 && rmdir && st.kind != 2)
        rc = -ENOTDIR;
    if (rc == 0) {
        volfs_set_time(vol.v, clock_realtime_ns());
        rc = volfs_unlink(vol.v, vol.ds, obj_of(dir), nm);
    }
    vunlock();
    return rc;
}

static int v_fsync(struct inode *ino)
{
    (void)ino;
    vlock();
    int rc = volfs_commit(vol.v); /* v1 has no intent log yet: the whole txg */
    vunlock();
    return rc;
}

static const struct inode_ops vol_ops = {
    .lookup = v_lookup,
    .read = v_read,
    .readdir = v_readdir,
    .stat = v_stat,
    .release = v_release,
    .write = v_write,
    .truncate = v_truncate,
    .create = v_create,
    .unlink = v_unlink,
    .fsync = v_fsync,
};

int volume_mount(const char *path)
{
    if (!virtio_blk_present())
        return -ENXIO;
    static const struct volfs_bdev dev0 = {0, 0, bd_read, bd_write, bd_flush};
    struct volfs_bdev dev = dev0;
    dev.nblocks = virtio_blk_sectors() / (VOLFS_BLOCK / 512);
    mutex_init(&vol.lock, "volume");
    int rc = volfs_open(&dev, false, &vol.v);
    if (rc < 0)
        return rc;
    vol.ds = volfs_dataset(vol.v, "root");
    if (vol.ds < 0)
        return vol.ds;
    struct inode *root;
    vlock();
    rc = node_get(VOLFS_ROOT_OBJ, &root);
    vunlock();
    if (rc < 0)
        return rc;
    rc = vfs_mount(path, root, "lwjvm-volfs", "/dev/vda", "rw,relatime", DEV_VOLUME);
    inode_put(root);
    return rc;
}

void volume_sync(void)
{
    if (!vol.v || vol.holder == current())
        return; /* a fault inside a volume operation: its state is not to be committed */
    vlock();
    int rc = volfs_commit(vol.v);
    vunlock();
    if (rc < 0)
        kprintf("lwjvm: volume: the last changes could not be committed (error %d)\n", -rc);
}
