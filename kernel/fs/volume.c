/* The data volume as a VFS filesystem: inodes for volfs objects (one per object while it is
 * referenced), files read and written through the volume's transaction group, fsync and the
 * program's exit committing it (volfs_commit: data then a FLUSH, the uberblock, a FLUSH), the
 * virtio-blk disk underneath; and the volume's worker, a kernel thread that commits the open txg
 * every VOLUME_SYNC_NS and carries out the host's requests (a snapshot of the volume in use,
 * `lwjvm:volume` control lines, docs/protocol.md section 4).
 * Locking: vol.lock, a sleeping lock (disk I/O sleeps), guards the volfs state and the inodes
 * (vol.nodes, chained by object number); it is taken alone, by every inode operation here and by
 * the worker. work.lock, a spinlock taken alone (the control interrupt takes it), guards the
 * pending request and the inodes released (their last reference can go where nothing may sleep:
 * the worker finishes them). An unlinked file stays readable while it is open (volfs orphans,
 * freed on release). Mappings: each vnode keeps the pages of its file that are mapped (pc, under
 * pc_lock, a spinlock the page-fault path takes under the address space's lock; taken after
 * vol.lock). A page is read in by v_page_fill, which may sleep, outside the fault's lock; read and
 * write see the mapped pages; a page whose contents changed since it was last written (its
 * checksum) is written back into the txg at fsync, msync, the worker's commit, exit and release.
 */
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
#include "arch/x86_64/paging.h"
#include "arch/x86_64/tsc.h"
#include "mm/palloc.h"
#include "sched/mutex.h"
#include "sched/thread.h"
#include "sched/wait.h"

#define DEV_VOLUME 0x30
#define DT_DIR 4
#define DT_REG 8

/* A page of a file that is (or was) mapped: the frame, and the checksum of what volfs holds. */
struct vpage {
    struct vpage *next;
    uint64_t index, phys;
    struct volfs_cksum written;
};

struct vnode {
    struct inode i; /* first */
    struct vnode *next;
    struct vnode *gone_next; /* on work.gone once released */
    uint64_t obj;
    struct vpage *pages; /* under pc_lock */
};

static struct spinlock pc_lock = SPINLOCK_INIT("volume pages");

static void page_drop(uint64_t phys)
{
    if (page_put(palloc_page(phys)) == 0)
        palloc_free(phys, 0);
}

/* The cached page index of n, or 0; pc_lock held. */
static struct vpage *page_find(struct vnode *n, uint64_t index)
{
    for (struct vpage *p = n->pages; p; p = p->next)
        if (p->index == index)
            return p;
    return 0;
}

#define NODE_BUCKETS 1024u /* the vnodes by object number, chained: lookups stay short */

static struct {
    struct mutex lock; /* the volfs state, nodes */
    struct volfs *v;
    int ds;
    struct vnode *nodes[NODE_BUCKETS];
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

static int bd_discard(void *ctx, uint64_t blk, uint64_t n)
{
    (void)ctx;
    return virtio_blk_discard(blk * (VOLFS_BLOCK / 512), n * (VOLFS_BLOCK / 512), 0);
}

static const struct inode_ops vol_ops;

/* The inode of obj (a new reference); vol.lock held. */
static int node_get(uint64_t obj, struct inode **out)
{
    for (struct vnode *n = vol.nodes[obj % NODE_BUCKETS]; n; n = n->next)
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
    n->next = vol.nodes[obj % NODE_BUCKETS];
    vol.nodes[obj % NODE_BUCKETS] = n;
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
    int64_t obj;
    if (len == 2 && name[0] == '.' && name[1] == '.') { /* the VFS asks only below the root */
        struct volfs_stat st;
        int r = volfs_stat(vol.v, vol.ds, obj_of(dir), &st);
        obj = r < 0 ? r : (int64_t)st.parent;
    } else {
        obj = volfs_lookup(vol.v, vol.ds, obj_of(dir), nm);
    }
    int rc = obj < 0 ? (int)obj : node_get((uint64_t)obj, out);
    vunlock();
    return rc;
}

/* Copies between buf (file bytes off..off+len) and the cached pages of n: to_pages for a write,
 * else the pages' bytes (newer than volfs's when written through a mapping) into buf. */
static void page_sync_range(struct vnode *n, uint64_t off, void *buf, uint64_t len, int to_pages)
{
    uint64_t fl = spin_lock_irqsave(&pc_lock);
    for (struct vpage *p = n->pages; p; p = p->next) {
        uint64_t lo = p->index * VOLFS_BLOCK, hi = lo + VOLFS_BLOCK;
        uint64_t a = off > lo ? off : lo, b = off + len < hi ? off + len : hi;
        if (a >= b)
            continue;
        char *pg = (char *)phys_to_virt(p->phys) + (a - lo);
        char *bp = (char *)buf + (a - off);
        if (to_pages)
            memcpy(pg, bp, b - a);
        else
            memcpy(bp, pg, b - a);
    }
    spin_unlock_irqrestore(&pc_lock, fl);
}

static int64_t v_read(struct inode *ino, uint64_t off, void *buf, uint64_t len)
{
    vlock();
    int64_t n = volfs_read(vol.v, vol.ds, obj_of(ino), off, buf, len);
    if (n > 0 && ((struct vnode *)ino)->pages)
        page_sync_range((struct vnode *)ino, off, buf, (uint64_t)n, 0);
    vunlock();
    return n;
}

struct rd {
    struct vfs_dirent *out;
    int found;
};

static int rd_cb(void *arg, const char *name, uint64_t obj, uint8_t type)
{
    struct rd *r = arg;
    size_t n = strlen(name);
    r->out->ino = obj;
    r->out->type = type;
    r->out->name_len = (uint8_t)n;
    memcpy(r->out->name, name, n + 1);
    r->found = 1;
    return 1;
}

/* Cookies: 0 ".", 1 "..", then 2 + volfs's readdir position (the entry after the last one given:
 * entries the directory gains or loses meanwhile do not move the others past it). */
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
    struct rd r = {out, 0};
    uint64_t pos = *cookie - 2;
    vlock();
    int rc = volfs_readdir_at(vol.v, vol.ds, obj_of(ino), &pos, rd_cb, &r);
    vunlock();
    if (rc < 0)
        return rc;
    if (!r.found)
        return 0;
    *cookie = pos + 2;
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
    st->st_atime = vs.atime_ns / 1000000000, st->st_atime_nsec = vs.atime_ns % 1000000000;
    st->st_uid = vs.uid;
    st->st_gid = vs.gid;
    return 0;
}

static void queue_release(struct vnode *n);
static int writeback(struct vnode *n);

/* The last reference went, perhaps where nothing may sleep: the worker finishes it (finish). */
static void v_release(struct inode *ino) { queue_release((struct vnode *)ino); }

/* Takes a released vnode off the list and frees its object if it has no name left; vol.lock
 * held. */
static void finish(struct vnode *n)
{
    int rc = n->pages ? writeback(n) : 0;
    if (rc < 0)
        kprintf("lwjvm: volume: writing back mapped pages of object %lu failed (error %d)\n",
                n->obj, -rc);
    uint64_t fl = spin_lock_irqsave(&pc_lock);
    struct vpage *pages = n->pages;
    n->pages = 0;
    spin_unlock_irqrestore(&pc_lock, fl);
    while (pages) {
        struct vpage *next = pages->next;
        page_drop(pages->phys);
        kfree(pages);
        pages = next;
    }
    for (struct vnode **p = &vol.nodes[n->obj % NODE_BUCKETS]; *p; p = &(*p)->next)
        if (*p == n) {
            *p = n->next;
            break;
        }
    rc = volfs_release(vol.v, vol.ds, n->obj);
    if (rc < 0)
        kprintf("lwjvm: volume: freeing unlinked object %lu failed (error %d)\n", n->obj, -rc);
    kfree(n);
}

/* volfs's question: does the kernel still have obj open? vol.lock held. */
static bool busy(void *ctx, uint64_t obj)
{
    (void)ctx;
    for (struct vnode *n = vol.nodes[obj % NODE_BUCKETS]; n; n = n->next)
        if (n->obj == obj && __atomic_load_n(&n->i.refcount, __ATOMIC_ACQUIRE))
            return true;
    return false;
}

/* O_DIRECT (the VFS checked the alignment): past the ARC; mapped pages of the file are kept
 * coherent as for other reads and writes. */
static int64_t v_read_direct(struct inode *ino, uint64_t off, void *buf, uint64_t len)
{
    vlock();
    int64_t n = volfs_read_direct(vol.v, vol.ds, obj_of(ino), off, buf, len);
    if (n > 0 && ((struct vnode *)ino)->pages)
        page_sync_range((struct vnode *)ino, off, buf, (uint64_t)n, 0);
    vunlock();
    return n;
}

/* A write through the volume (cached, or past the ARC for O_DIRECT): the size grows with it and
 * mapped pages of the file see the new bytes. */
static int64_t write_with(struct inode *ino, uint64_t off, const void *buf, uint64_t len,
                          int64_t (*write)(struct volfs *, int, uint64_t, uint64_t, const void *,
                                           uint64_t))
{
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    int64_t n = write(vol.v, vol.ds, obj_of(ino), off, buf, len);
    if (n > 0 && off + (uint64_t)n > ino->size)
        ino->size = off + (uint64_t)n;
    if (n > 0 && ((struct vnode *)ino)->pages)
        page_sync_range((struct vnode *)ino, off, (void *)buf, (uint64_t)n, 1);
    vunlock();
    return n;
}

static int64_t v_write_direct(struct inode *ino, uint64_t off, const void *buf, uint64_t len)
{
    return write_with(ino, off, buf, len, volfs_write_direct);
}

static int64_t v_write(struct inode *ino, uint64_t off, const void *buf, uint64_t len)
{
    return write_with(ino, off, buf, len, volfs_write);
}

static int v_truncate(struct inode *ino, uint64_t size)
{
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    int rc = volfs_truncate(vol.v, vol.ds, obj_of(ino), size);
    if (rc == 0) {
        ino->size = size;
        /* Cached pages past the end go (mappings keep their frames); the last one's tail is
         * zero, as the file reads. */
        struct vnode *n = (struct vnode *)ino;
        uint64_t fl = spin_lock_irqsave(&pc_lock);
        for (struct vpage **pp = &n->pages; *pp;) {
            struct vpage *p = *pp;
            if (p->index * VOLFS_BLOCK >= size) {
                *pp = p->next;
                page_drop(p->phys);
                kfree(p);
                continue;
            }
            if (size < (p->index + 1) * VOLFS_BLOCK)
                memset((char *)phys_to_virt(p->phys) + size % VOLFS_BLOCK, 0,
                       VOLFS_BLOCK - size % VOLFS_BLOCK);
            pp = &p->next;
        }
        spin_unlock_irqrestore(&pc_lock, fl);
    }
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

/* Writes the cached pages of n whose contents changed into the open txg; vol.lock held. */
static int writeback(struct vnode *n)
{
    int rc = 0;
    for (;;) {
        /* One changed page at a time: volfs_write may sleep, so no pc_lock across it. */
        uint64_t fl = spin_lock_irqsave(&pc_lock);
        struct vpage *p = n->pages;
        struct volfs_cksum c;
        for (; p; p = p->next) {
            volfs_fletcher4(phys_to_virt(p->phys), VOLFS_BLOCK, &c);
            if (memcmp(&c, &p->written, sizeof c))
                break;
        }
        uint64_t index = p ? p->index : 0, phys = p ? p->phys : 0;
        if (p) {
            p->written = c; /* the bytes as of now; a later change is seen next time */
            page_get(palloc_page(phys));
        }
        spin_unlock_irqrestore(&pc_lock, fl);
        if (!p)
            return rc;
        uint64_t off = index * VOLFS_BLOCK;
        if (off < n->i.size) {
            uint64_t len = n->i.size - off < VOLFS_BLOCK ? n->i.size - off : VOLFS_BLOCK;
            int64_t w = volfs_write(vol.v, vol.ds, n->obj, off, phys_to_virt(phys), len);
            if (w < 0 && rc == 0)
                rc = (int)w;
        }
        page_drop(phys);
    }
}

/* Every vnode's changed pages; vol.lock held. */
static int writeback_all(void)
{
    int rc = 0;
    for (unsigned b = 0; b < NODE_BUCKETS; b++)
        for (struct vnode *n = vol.nodes[b]; n; n = n->next)
            if (n->pages) {
                int r = writeback(n);
                if (r < 0 && rc == 0)
                    rc = r;
            }
    return rc;
}

/* For a fault under the address space's lock: the frame of cached page index with a reference
 * for the mapping, or 0 when it is not cached yet (the fault then calls v_page_fill). */
static uint64_t v_page_share(struct inode *ino, uint64_t index)
{
    uint64_t fl = spin_lock_irqsave(&pc_lock);
    struct vpage *p = page_find((struct vnode *)ino, index);
    uint64_t phys = p ? p->phys : 0;
    if (p)
        page_get(palloc_page(phys));
    spin_unlock_irqrestore(&pc_lock, fl);
    return phys;
}

/* Reads page index of the file into the cache (it may sleep: no lock is held). */
static int v_page_fill(struct inode *ino, uint64_t index)
{
    struct vnode *n = (struct vnode *)ino;
    uint64_t phys = palloc_alloc(0);
    if (!phys)
        return -ENOMEM;
    struct vpage *p = kzalloc(sizeof *p);
    if (!p) {
        palloc_free(phys, 0);
        return -ENOMEM;
    }
    void *va = phys_to_virt(phys);
    memset(va, 0, VOLFS_BLOCK);
    vlock();
    int64_t r = volfs_read(vol.v, vol.ds, n->obj, index * VOLFS_BLOCK, va, VOLFS_BLOCK);
    if (r >= 0) {
        uint64_t fl = spin_lock_irqsave(&pc_lock);
        if (!page_find(n, index)) {
            p->index = index;
            p->phys = phys;
            volfs_fletcher4(va, VOLFS_BLOCK, &p->written);
            p->next = n->pages;
            n->pages = p;
            p = 0;
            phys = 0;
        }
        spin_unlock_irqrestore(&pc_lock, fl);
    }
    vunlock();
    if (phys)
        palloc_free(phys, 0);
    kfree(p);
    return r < 0 ? (int)r : 0;
}

static int v_symlink(struct inode *dir, const char *name, size_t len, const char *target)
{
    char nm[VOLFS_NAME_MAX + 1];
    int rc = cname(name, len, nm);
    if (rc < 0)
        return rc;
    size_t tlen = strlen(target);
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    int64_t obj = volfs_create(vol.v, vol.ds, obj_of(dir), nm, S_IFLNK | 0777);
    if (obj >= 0) {
        int64_t w = volfs_write(vol.v, vol.ds, (uint64_t)obj, 0, target, tlen);
        if (w < 0) {
            (void)volfs_unlink(vol.v, vol.ds, obj_of(dir), nm);
            obj = w;
        }
    }
    vunlock();
    return obj < 0 ? (int)obj : 0;
}

static int v_readlink(struct inode *ino, char *buf, size_t size)
{
    vlock();
    int64_t n = volfs_read(vol.v, vol.ds, obj_of(ino), 0, buf, size);
    vunlock();
    return (int)n;
}

static int v_link(struct inode *dir, const char *name, size_t len, struct inode *target)
{
    char nm[VOLFS_NAME_MAX + 1];
    int rc = cname(name, len, nm);
    if (rc < 0)
        return rc;
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    rc = volfs_link(vol.v, vol.ds, obj_of(dir), nm, obj_of(target));
    vunlock();
    return rc;
}

static int v_rename(struct inode *odir, const char *oname, size_t olen, struct inode *ndir,
                    const char *nname, size_t nlen)
{
    char on[VOLFS_NAME_MAX + 1], nn[VOLFS_NAME_MAX + 1];
    if (olen > VOLFS_NAME_MAX)
        return -ENOENT;
    int rc = cname(nname, nlen, nn);
    if (rc < 0)
        return rc;
    cname(oname, olen, on);
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    rc = volfs_rename(vol.v, vol.ds, obj_of(odir), on, obj_of(ndir), nn);
    vunlock();
    return rc;
}

static int v_setattr(struct inode *ino, const struct vfs_attr *a)
{
    struct volfs_stat st;
    memset(&st, 0, sizeof st);
    uint32_t mask = 0;
    if (a->mask & VFS_ATTR_MODE) {
        mask |= VOLFS_SET_MODE;
        st.mode = a->mode;
    }
    if (a->mask & VFS_ATTR_ATIME) {
        mask |= VOLFS_SET_ATIME;
        st.atime_ns = a->atime_ns;
    }
    if (a->mask & VFS_ATTR_MTIME) {
        mask |= VOLFS_SET_MTIME;
        st.mtime_ns = a->mtime_ns;
    }
    vlock();
    volfs_set_time(vol.v, clock_realtime_ns());
    int rc = volfs_setattr(vol.v, vol.ds, obj_of(ino), mask, &st);
    if (rc == 0 && (mask & VOLFS_SET_MODE))
        ino->mode = (ino->mode & S_IFMT) | (a->mode & 07777);
    vunlock();
    return rc;
}

static int64_t v_seek_data(struct inode *ino, uint64_t off, int hole)
{
    vlock();
    int64_t at = volfs_seek_data(vol.v, vol.ds, obj_of(ino), off, hole);
    vunlock();
    return at;
}

static int v_fsync(struct inode *ino)
{
    vlock();
    int rc = ((struct vnode *)ino)->pages ? writeback((struct vnode *)ino) : 0;
    if (rc == 0)
        rc = volfs_fsync(vol.v, vol.ds); /* the intent log, or the txg when it cannot */
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
    .direct_read = v_read_direct,
    .direct_write = v_write_direct,
    .truncate = v_truncate,
    .create = v_create,
    .unlink = v_unlink,
    .fsync = v_fsync,
    .symlink = v_symlink,
    .readlink = v_readlink,
    .link = v_link,
    .rename = v_rename,
    .setattr = v_setattr,
    .seek_data = v_seek_data,
    .page_share = v_page_share,
    .page_fill = v_page_fill,
};

/* ---- the worker ---- */

#define VOLUME_SYNC_NS 5000000000ull /* the open txg commits at least this often, as ZFS's */

static struct {
    struct spinlock lock; /* pending, id, name, gone */
    struct waitq wq;      /* the worker waits here */
    int pending;          /* a request is in name/id and not yet taken */
    unsigned id;
    char name[88];        /* "DS@SNAP" */
    struct vnode *gone;   /* released vnodes for the worker to finish */
} work = {SPINLOCK_INIT("volume work"), WAITQ_INIT("volume work"), 0, 0, {0}, 0};

static void queue_release(struct vnode *n)
{
    uint64_t fl = spin_lock_irqsave(&work.lock);
    n->gone_next = work.gone;
    work.gone = n;
    spin_unlock_irqrestore(&work.lock, fl);
    waitq_wake_all(&work.wq);
}

/* Finishes the released vnodes; vol.lock held. */
static void finish_released(void)
{
    uint64_t fl = spin_lock_irqsave(&work.lock);
    struct vnode *n = work.gone;
    work.gone = 0;
    spin_unlock_irqrestore(&work.lock, fl);
    while (n) {
        struct vnode *next = n->gone_next;
        finish(n);
        n = next;
    }
}

static void reply(unsigned id, int rc, uint64_t txg)
{
    klog_start_line();
    kprintf("\x1elwjvm:volume id=%u rc=%d txg=%lu\n", id, rc, txg);
}

static int snapshot(const char *name)
{
    char ds[44];
    const char *at = strchr(name, '@');
    if (!at || at == name || (size_t)(at - name) >= sizeof ds)
        return -EINVAL;
    memcpy(ds, name, (size_t)(at - name));
    ds[at - name] = 0;
    return volfs_snapshot(vol.v, ds, at + 1);
}

/* Finishes released files as they come; commits the open txg every VOLUME_SYNC_NS (a release
 * alone does not commit: a program that creates and closes files by the thousand would commit
 * once per file), and takes the snapshots asked for. */
static void worker(void)
{
    uint64_t next_commit = tsc_ns_since_boot() + VOLUME_SYNC_NS;
    for (;;) {
        uint64_t fl = spin_lock_irqsave(&work.lock);
        if (!work.pending && !work.gone && tsc_ns_since_boot() < next_commit) {
            (void)waitq_wait_unlock(&work.wq, &work.lock, fl, next_commit);
            fl = spin_lock_irqsave(&work.lock);
        }
        char name[sizeof work.name];
        int req = work.pending;
        unsigned id = work.id;
        memcpy(name, work.name, sizeof name);
        spin_unlock_irqrestore(&work.lock, fl);
        bool due = tsc_ns_since_boot() >= next_commit;
        vlock();
        volfs_set_time(vol.v, clock_realtime_ns());
        finish_released();
        int rc = 0;
        if (req || due) {
            rc = writeback_all();
            if (rc == 0)
                rc = req ? snapshot(name) : volfs_commit(vol.v);
            next_commit = tsc_ns_since_boot() + VOLUME_SYNC_NS;
        }
        uint64_t txg = volfs_txg(vol.v);
        vunlock();
        if (req) {
            fl = spin_lock_irqsave(&work.lock);
            work.pending = 0;
            spin_unlock_irqrestore(&work.lock, fl);
            reply(id, rc, txg);
        } else if (rc < 0) {
            kprintf("lwjvm: volume: the background commit failed (error %d)\n", -rc);
        }
    }
}

/* `lwjvm:volume op=snapshot id=N name=DS@SNAP`, from the control interrupt. Answered by a
 * `lwjvm:volume id=N rc=ERRNO txg=T` record once done (at once when there is nothing to do). */
void volume_control(const char *line)
{
    static const char pre[] = "lwjvm:volume op=snapshot id=";
    if (strncmp(line, pre, sizeof pre - 1))
        return;
    const char *p = line + sizeof pre - 1;
    unsigned id = 0;
    while (*p >= '0' && *p <= '9' && id < 100000000)
        id = id * 10 + (unsigned)(*p++ - '0');
    if (strncmp(p, " name=", 6)) {
        reply(id, -EINVAL, 0);
        return;
    }
    p += 6;
    if (!vol.v) {
        reply(id, -ENXIO, 0);
        return;
    }
    size_t n = strlen(p);
    uint64_t fl = spin_lock_irqsave(&work.lock);
    int busy = work.pending;
    if (!busy && n < sizeof work.name) {
        work.pending = 1;
        work.id = id;
        memcpy(work.name, p, n + 1);
    }
    spin_unlock_irqrestore(&work.lock, fl);
    if (busy || n >= sizeof work.name)
        reply(id, busy ? -EBUSY : -ENAMETOOLONG, 0);
    else
        waitq_wake_all(&work.wq);
}

int volume_mount(const char *path, const char *dataset)
{
    if (!virtio_blk_present())
        return -ENXIO;
    static const struct volfs_bdev dev0 = {0, 0, bd_read, bd_write, bd_flush, bd_discard};
    struct volfs_bdev dev = dev0;
    dev.nblocks = virtio_blk_sectors() / (VOLFS_BLOCK / 512);
    mutex_init(&vol.lock, "volume");
    int rc = volfs_open(&dev, false, &vol.v);
    if (rc < 0)
        return rc;
    volfs_set_busy(vol.v, busy, 0);
    /* The block cache: an eighth of the VM's memory (the program keeps the rest). */
    if (volfs_set_cache(vol.v, palloc_total_pages() * 4096 / 8) < 0)
        kprintf("lwjvm: volume: no memory for its block cache\n");
    vol.ds = volfs_dataset(vol.v, dataset[0] ? dataset : "root");
    if (vol.ds < 0)
        return vol.ds;
    char name[44];
    uint32_t flags;
    uint64_t txg;
    if (volfs_dataset_info(vol.v, vol.ds, name, &flags, &txg) == 0 &&
        (flags & VOLFS_DSL_SNAPSHOT))
        return -EROFS; /* a snapshot is read-only: mount a clone of it */
    if ((rc = volfs_log_enable(vol.v, vol.ds)) < 0)
        return rc;
    struct inode *root;
    vlock();
    rc = node_get(VOLFS_ROOT_OBJ, &root);
    vunlock();
    if (rc < 0)
        return rc;
    rc = vfs_mount(path, root, "lwjvm-volfs", "/dev/vda", "rw,relatime", DEV_VOLUME);
    inode_put(root);
    if (rc == 0 && !thread_create_kernel(worker))
        kprintf("lwjvm: volume: no memory for its worker: commits at fsync and exit only\n");
    return rc;
}

int volume_proc_stats(char *buf, size_t size)
{
    if (!vol.v)
        return snprintf(buf, size, "mounted 0\n");
    struct volfs_arc_stats a;
    vlock(); /* a consistent set of counters */
    volfs_arc_stats(vol.v, &a);
    uint64_t txg = volfs_txg(vol.v), logw = volfs_log_blocks_written(vol.v);
    uint64_t freeb = volfs_free_blocks(vol.v);
    vunlock();
    uint64_t reads = a.hits + a.misses;
    return snprintf(buf, size,
                    "mounted 1\ntxg %lu\nfree_bytes %lu\nlog_blocks_written %lu\n"
                    "arc_max_bytes %lu\narc_size_bytes %lu\narc_target_recent_bytes %lu\n"
                    "arc_hits %lu\narc_misses %lu\narc_hit_rate_percent %lu\n"
                    "arc_ghost_hits_recent %lu\narc_ghost_hits_frequent %lu\n"
                    "arc_evictions %lu\narc_recent_blocks %lu\narc_frequent_blocks %lu\n"
                    "arc_ghost_recent_blocks %lu\narc_ghost_frequent_blocks %lu\n",
                    txg, freeb * VOLFS_BLOCK, logw, a.max_bytes, a.size_bytes,
                    a.target_recent_bytes, a.hits, a.misses, reads ? a.hits * 100 / reads : 0,
                    a.ghost_hits_recent, a.ghost_hits_frequent, a.evictions, a.recent,
                    a.frequent, a.ghost_recent, a.ghost_frequent);
}

void volume_statfs(uint64_t *blocks, uint64_t *free_blocks)
{
    *blocks = *free_blocks = 0;
    if (!vol.v)
        return;
    vlock();
    *blocks = volfs_data_blocks(vol.v);
    *free_blocks = volfs_free_blocks(vol.v);
    vunlock();
}

void volume_sync(void)
{
    if (!vol.v || vol.holder == current())
        return; /* a fault inside a volume operation: its state is not to be committed */
    vlock();
    finish_released();
    int rc = writeback_all();
    if (rc == 0)
        rc = volfs_commit(vol.v);
    vunlock();
    if (rc < 0)
        kprintf("lwjvm: volume: the last changes could not be committed (error %d)\n", -rc);
}
