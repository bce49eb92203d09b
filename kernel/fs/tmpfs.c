/* tmpfs: a writable filesystem in memory (mounted at /tmp): regular files whose pages come from the
 * page allocator, directories and symlinks. A node lives while it has a name or a reference: an
 * unlinked file stays usable through its descriptors and mappings until the last one goes.
 * Host-testable: built with -DTMPFS_HOST, file pages come from the test's page functions. */
#include "fs/tmpfs.h"
#include "errno.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "mm/kheap.h"

#define PAGE 4096ull
#define DT_DIR 4
#define DT_REG 8
#define DT_LNK 10
#define MAX_FILE_SIZE (1ull << 40)

#ifdef TMPFS_HOST
uint64_t tmpfs_host_page_new(void);
void *tmpfs_host_page_addr(uint64_t phys);
void tmpfs_host_page_unref(uint64_t phys);
void tmpfs_host_page_ref(uint64_t phys);
uint64_t tmpfs_host_now_ns(void);
static uint64_t page_new(void) { return tmpfs_host_page_new(); }
static uint64_t ram_pages(void) { return 1 << 20; }
static void *page_addr(uint64_t phys) { return tmpfs_host_page_addr(phys); }
static void page_unref(uint64_t phys) { tmpfs_host_page_unref(phys); }
static void page_ref(uint64_t phys) { tmpfs_host_page_ref(phys); }
static uint64_t now_ns(void) { return tmpfs_host_now_ns(); }
#else
#include "arch/x86_64/paging.h"
#include "core/clock.h"
#include "mm/palloc.h"
/* A zeroed frame with one reference, or 0. */
static uint64_t page_new(void)
{
    uint64_t phys = palloc_alloc(0);
    if (phys)
        memset(phys_to_virt(phys), 0, PAGE);
    return phys;
}
static void *page_addr(uint64_t phys) { return phys_to_virt(phys); }
static void page_unref(uint64_t phys)
{
    if (page_put(palloc_page(phys)) == 0)
        palloc_free(phys, 0);
}
static void page_ref(uint64_t phys) { page_get(palloc_page(phys)); }
static uint64_t ram_pages(void) { return palloc_total_pages(); }
static uint64_t now_ns(void) { return clock_realtime_ns(); }
#endif

struct tmpfs {
    /* Guards every node of this filesystem (names, data pages, times, sizes) and next_ino. Each
     * inode operation runs under it; a node's release (its last reference gone, no name left)
     * runs without it, as nothing else can reach the node then. Taken inside the address
     * space's lock (shared file pages) and before the heap's. */
    struct spinlock lock;
    uint32_t dev;
    uint64_t next_ino;
    uint64_t max_pages, used_pages; /* Linux's default size: half of RAM; used_pages atomic */
    uint64_t max_nodes, nodes;      /* Linux's default nr_inodes: half of RAM's pages; atomic */
};

struct tnode;

struct tdirent {
    struct tdirent *next;
    struct tnode *node;
    uint64_t id; /* readdir cookie: ids only grow, so removing an entry never skips another */
    size_t len;
    char name[];
};

struct tnode {
    struct inode i; /* first: the VFS inode of this node */
    struct tmpfs *fs;
    uint32_t nlink;
    uint64_t atime, mtime, ctime;
    /* directories */
    struct tnode *parent;
    struct tdirent *entries;
    uint64_t next_id;
    /* regular files: frames by page index (0 for a hole), npages slots */
    uint64_t *pages;
    uint64_t npages;
    /* symlinks */
    char *target;
};

static const struct inode_ops tmpfs_ops;

static struct tnode *T(struct inode *i) { return (struct tnode *)i; }
static int is_dir(const struct tnode *n) { return (n->i.mode & S_IFMT) == S_IFDIR; }

/* A new node, or 0 when the heap is out of memory or the filesystem has max_nodes already
 * (*full set: ENOSPC, as Linux's nr_inodes; empty files cost no pages, so the size alone would
 * not bound the kernel heap their nodes and names take). */
static struct tnode *node_new(struct tmpfs *fs, uint32_t mode, int *full)
{
    if (__atomic_add_fetch(&fs->nodes, 1, __ATOMIC_RELAXED) > fs->max_nodes) {
        __atomic_sub_fetch(&fs->nodes, 1, __ATOMIC_RELAXED);
        *full = 1;
        return 0;
    }
    struct tnode *n = kzalloc(sizeof *n);
    if (!n) {
        __atomic_sub_fetch(&fs->nodes, 1, __ATOMIC_RELAXED);
        return 0;
    }
    n->i.ops = &tmpfs_ops;
    n->i.ino = fs->next_ino++;
    n->i.mode = mode;
    n->i.refcount = 1;
    n->i.fs = fs;
    n->fs = fs;
    n->atime = n->mtime = n->ctime = now_ns();
    n->next_id = 2;
    return n;
}

/* Drops file pages from index `from` on. */
static void drop_pages(struct tnode *n, uint64_t from)
{
    for (uint64_t k = from; k < n->npages; k++) {
        if (n->pages[k]) {
            page_unref(n->pages[k]);
            __atomic_sub_fetch(&n->fs->used_pages, 1, __ATOMIC_RELAXED);
        }
        n->pages[k] = 0;
    }
}

static void t_release(struct inode *i)
{
    struct tnode *n = T(i);
    drop_pages(n, 0);
    kfree(n->pages);
    kfree(n->target);
    __atomic_sub_fetch(&n->fs->nodes, 1, __ATOMIC_RELAXED);
    kfree(n);
}

/* Removes one name of n: the reference the name held goes when the last name does. */
static void drop_link(struct tnode *n)
{
    n->ctime = now_ns();
    if (--n->nlink == 0)
        inode_put(&n->i);
}

static struct tdirent *find(struct tnode *dir, const char *name, size_t len, struct tdirent ***link)
{
    struct tdirent **pp = &dir->entries;
    for (; *pp; pp = &(*pp)->next) {
        if ((*pp)->len == len && !memcmp((*pp)->name, name, len)) {
            if (link)
                *link = pp;
            return *pp;
        }
    }
    return 0;
}

static int add_entry(struct tnode *dir, const char *name, size_t len, struct tnode *n)
{
    struct tdirent *d = kmalloc(sizeof *d + len + 1);
    if (!d)
        return -ENOMEM;
    d->node = n;
    d->id = dir->next_id++;
    d->len = len;
    memcpy(d->name, name, len);
    d->name[len] = 0;
    /* append, so readdir returns entries in creation order */
    struct tdirent **pp = &dir->entries;
    while (*pp)
        pp = &(*pp)->next;
    d->next = 0;
    *pp = d;
    dir->mtime = dir->ctime = now_ns();
    return 0;
}

static int lookup_locked(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    struct tnode *d = T(dir);
    struct tnode *n = 0;
    if (len == 1 && name[0] == '.')
        n = d;
    else if (len == 2 && name[0] == '.' && name[1] == '.')
        n = d->parent ? d->parent : d;
    else {
        struct tdirent *e = find(d, name, len, 0);
        if (!e)
            return -ENOENT;
        n = e->node;
    }
    inode_get(&n->i);
    *out = &n->i;
    return 0;
}

static int64_t read_locked(struct inode *i, uint64_t off, void *buf, uint64_t len)
{
    struct tnode *n = T(i);
    if (off >= i->size)
        return 0;
    if (len > i->size - off)
        len = i->size - off;
    uint64_t done = 0;
    while (done < len) {
        uint64_t pos = off + done, idx = pos / PAGE, in = pos % PAGE;
        uint64_t chunk = PAGE - in < len - done ? PAGE - in : len - done;
        if (idx < n->npages && n->pages[idx])
            memcpy((char *)buf + done, (char *)page_addr(n->pages[idx]) + in, chunk);
        else
            memset((char *)buf + done, 0, chunk);
        done += chunk;
    }
    n->atime = now_ns();
    return (int64_t)done;
}

/* Makes pages[] hold at least `count` slots. */
static int grow_slots(struct tnode *n, uint64_t count)
{
    if (count <= n->npages)
        return 0;
    uint64_t cap = n->npages ? n->npages : 4;
    while (cap < count)
        cap *= 2;
    uint64_t *p = kzalloc(cap * sizeof *p);
    if (!p)
        return -ENOMEM;
    if (n->npages)
        memcpy(p, n->pages, n->npages * sizeof *p);
    kfree(n->pages);
    n->pages = p;
    n->npages = cap;
    return 0;
}

/* The frame of page idx, allocated if absent; 0 when memory is exhausted. */
static uint64_t page_at(struct tnode *n, uint64_t idx)
{
    if (grow_slots(n, idx + 1))
        return 0;
    if (!n->pages[idx]) {
        if (__atomic_load_n(&n->fs->used_pages, __ATOMIC_RELAXED) >= n->fs->max_pages)
            return 0; /* full: ENOSPC */
        n->pages[idx] = page_new();
        if (n->pages[idx])
            __atomic_add_fetch(&n->fs->used_pages, 1, __ATOMIC_RELAXED);
    }
    return n->pages[idx];
}

static int64_t write_locked(struct inode *i, uint64_t off, const void *buf, uint64_t len)
{
    struct tnode *n = T(i);
    if (off >= MAX_FILE_SIZE)
        return -EFBIG;
    if (len > MAX_FILE_SIZE - off)
        len = MAX_FILE_SIZE - off;
    uint64_t done = 0;
    while (done < len) {
        uint64_t pos = off + done, idx = pos / PAGE, in = pos % PAGE;
        uint64_t chunk = PAGE - in < len - done ? PAGE - in : len - done;
        uint64_t phys = page_at(n, idx);
        if (!phys)
            break;
        memcpy((char *)page_addr(phys) + in, (const char *)buf + done, chunk);
        done += chunk;
    }
    if (!done && len)
        return -ENOSPC;
    if (off + done > i->size)
        i->size = off + done;
    n->mtime = n->ctime = now_ns();
    return (int64_t)done;
}

static int truncate_locked(struct inode *i, uint64_t size)
{
    struct tnode *n = T(i);
    if ((i->mode & S_IFMT) == S_IFDIR)
        return -EISDIR;
    if ((i->mode & S_IFMT) != S_IFREG)
        return -EINVAL;
    if (size > MAX_FILE_SIZE)
        return -EFBIG;
    if (size < i->size) {
        drop_pages(n, (size + PAGE - 1) / PAGE);
        uint64_t idx = size / PAGE;
        if ((size % PAGE) && idx < n->npages && n->pages[idx])
            memset((char *)page_addr(n->pages[idx]) + size % PAGE, 0, PAGE - size % PAGE);
    }
    i->size = size;
    n->mtime = n->ctime = now_ns();
    return 0;
}

/* Allocates every page of the range (zeroed where a hole was), as Linux's tmpfs: first counted
 * against the filesystem's size, so a range that cannot fit fails at once (ENOSPC) without taking
 * anything; memory running out on the way leaves what was allocated (as ext4 does). */
static int allocate_locked(struct inode *i, uint64_t off, uint64_t len, int keep_size)
{
    struct tnode *n = T(i);
    if ((i->mode & S_IFMT) == S_IFDIR)
        return -EISDIR;
    if ((i->mode & S_IFMT) != S_IFREG)
        return -ENODEV;
    if (off >= MAX_FILE_SIZE || len > MAX_FILE_SIZE - off)
        return -EFBIG;
    uint64_t first = off / PAGE, last = (off + len - 1) / PAGE;
    uint64_t need = 0;
    for (uint64_t k = first; k <= last && k < n->npages; k++)
        need += !n->pages[k];
    if (last >= n->npages)
        need += last + 1 - (first > n->npages ? first : n->npages);
    uint64_t used = __atomic_load_n(&n->fs->used_pages, __ATOMIC_RELAXED);
    if (need > n->fs->max_pages - (used < n->fs->max_pages ? used : n->fs->max_pages))
        return -ENOSPC;
    for (uint64_t k = first; k <= last; k++)
        if (!page_at(n, k))
            return -ENOSPC;
    if (!keep_size && off + len > i->size)
        i->size = off + len;
    n->mtime = n->ctime = now_ns();
    return 0;
}

static int readlink_locked(struct inode *i, char *buf, size_t size)
{
    struct tnode *n = T(i);
    size_t len = strlen(n->target);
    if (len > size)
        len = size;
    memcpy(buf, n->target, len);
    return (int)len;
}

static int readdir_locked(struct inode *i, uint64_t *cookie, struct vfs_dirent *out)
{
    struct tnode *d = T(i);
    if (*cookie < 2) {
        struct tnode *n = *cookie == 0 ? d : d->parent ? d->parent : d;
        out->ino = n->i.ino;
        out->type = DT_DIR;
        out->name_len = (uint8_t)(*cookie + 1);
        memcpy(out->name, "..", *cookie + 1);
        out->name[*cookie + 1] = 0;
        (*cookie)++;
        return 1;
    }
    for (struct tdirent *e = d->entries; e; e = e->next) {
        if (e->id < *cookie)
            continue;
        uint32_t fmt = e->node->i.mode & S_IFMT;
        out->ino = e->node->i.ino;
        out->type = fmt == S_IFDIR ? DT_DIR : fmt == S_IFLNK ? DT_LNK : DT_REG;
        out->name_len = (uint8_t)e->len;
        memcpy(out->name, e->name, e->len + 1);
        *cookie = e->id + 1;
        return 1;
    }
    return 0;
}

static int stat_locked(struct inode *i, struct linux_stat *st)
{
    struct tnode *n = T(i);
    memset(st, 0, sizeof *st);
    st->st_dev = n->fs->dev;
    st->st_ino = i->ino;
    st->st_nlink = n->nlink;
    st->st_mode = i->mode;
    st->st_size = is_dir(n) ? 40 + 20 * (int64_t)(n->next_id - 2) : (int64_t)i->size;
    st->st_blksize = 4096;
    uint64_t pages = 0;
    for (uint64_t k = 0; k < n->npages; k++)
        pages += n->pages[k] != 0;
    st->st_blocks = (int64_t)pages * 8;
    st->st_atime = n->atime / 1000000000, st->st_atime_nsec = n->atime % 1000000000;
    st->st_mtime = n->mtime / 1000000000, st->st_mtime_nsec = n->mtime % 1000000000;
    st->st_ctime = n->ctime / 1000000000, st->st_ctime_nsec = n->ctime % 1000000000;
    return 0;
}

static int create_locked(struct inode *dir, const char *name, size_t len, uint32_t mode,
                    struct inode **out)
{
    struct tnode *d = T(dir);
    if (d->nlink == 0)
        return -ENOENT; /* a removed directory takes no new entries */
    if (len > NAME_MAX)
        return -ENAMETOOLONG;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.') ||
        find(d, name, len, 0))
        return -EEXIST;
    int full = 0;
    struct tnode *n = node_new(d->fs, mode, &full);
    if (!n)
        return full ? -ENOSPC : -ENOMEM;
    int rc = add_entry(d, name, len, n);
    if (rc) {
        __atomic_sub_fetch(&d->fs->nodes, 1, __ATOMIC_RELAXED);
        kfree(n);
        return rc;
    }
    n->nlink = 1;
    if (is_dir(n)) {
        n->parent = d;
        n->nlink = 2;
        d->nlink++;
    }
    /* n's first reference belongs to its name; the caller gets another */
    inode_get(&n->i);
    *out = &n->i;
    return 0;
}

static int symlink_locked(struct inode *dir, const char *name, size_t len, const char *target)
{
    struct inode *ino;
    int rc = create_locked(dir, name, len, S_IFLNK | 0777, &ino);
    if (rc)
        return rc;
    size_t n = strlen(target);
    char *t = kmalloc(n + 1);
    if (!t) {
        struct tdirent **link;
        struct tdirent *e = find(T(dir), name, len, &link);
        *link = e->next;
        kfree(e);
        drop_link(T(ino));
        inode_put(ino);
        return -ENOMEM;
    }
    memcpy(t, target, n + 1);
    T(ino)->target = t;
    ino->size = n;
    inode_put(ino);
    return 0;
}

static int link_locked(struct inode *dir, const char *name, size_t len, struct inode *target)
{
    struct tnode *d = T(dir), *n = T(target);
    if (target->ops != &tmpfs_ops || n->fs != d->fs)
        return -EXDEV;
    if (is_dir(n))
        return -EPERM;
    if (n->nlink == 0)
        return -ENOENT;
    if (find(d, name, len, 0) || (len == 1 && name[0] == '.') ||
        (len == 2 && name[0] == '.' && name[1] == '.'))
        return -EEXIST;
    int rc = add_entry(d, name, len, n);
    if (rc)
        return rc;
    n->nlink++;
    n->ctime = now_ns();
    return 0;
}

static int dir_empty(const struct tnode *d) { return d->entries == 0; }

/* Unlinks entry e (at *link) of directory d. */
static void remove_entry(struct tnode *d, struct tdirent **link)
{
    struct tdirent *e = *link;
    struct tnode *n = e->node;
    *link = e->next;
    kfree(e);
    d->mtime = d->ctime = now_ns();
    if (is_dir(n)) {
        d->nlink--;
        n->nlink = 1; /* "." goes with it */
        kfree(n->i.path);
        n->i.path = 0;
    }
    drop_link(n);
}

static int unlink_locked(struct inode *dir, const char *name, size_t len, int rmdir)
{
    struct tnode *d = T(dir);
    if (rmdir && len == 1 && name[0] == '.')
        return -EINVAL;
    if (rmdir && len == 2 && name[0] == '.' && name[1] == '.')
        return -ENOTEMPTY;
    struct tdirent **link;
    struct tdirent *e = find(d, name, len, &link);
    if (!e)
        return (len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.')
                   ? -EISDIR
                   : -ENOENT;
    struct tnode *n = e->node;
    if (!rmdir && is_dir(n))
        return -EISDIR;
    if (rmdir && !is_dir(n))
        return -ENOTDIR;
    if (rmdir && !dir_empty(n))
        return -ENOTEMPTY;
    remove_entry(d, link);
    return 0;
}

/* True if a is b or one of b's ancestors. */
static int is_ancestor(const struct tnode *a, const struct tnode *b)
{
    for (; b; b = b->parent)
        if (a == b)
            return 1;
    return 0;
}

static int rename_locked(struct inode *odir, const char *oname, size_t olen, struct inode *ndir,
                    const char *nname, size_t nlen)
{
    struct tnode *od = T(odir), *nd = T(ndir);
    if (ndir->ops != &tmpfs_ops || nd->fs != od->fs)
        return -EXDEV;
    int odot = (olen == 1 && oname[0] == '.') || (olen == 2 && oname[0] == '.' && oname[1] == '.');
    int ndot = (nlen == 1 && nname[0] == '.') || (nlen == 2 && nname[0] == '.' && nname[1] == '.');
    if (odot || ndot)
        return -EBUSY;
    if (nlen > NAME_MAX)
        return -ENAMETOOLONG;
    struct tdirent **olink, **nlink;
    struct tdirent *oe = find(od, oname, olen, &olink);
    if (!oe)
        return -ENOENT;
    struct tnode *n = oe->node;
    if (is_dir(n) && is_ancestor(n, nd))
        return -EINVAL; /* into itself */
    struct tdirent *ne = find(nd, nname, nlen, &nlink);
    if (ne && is_dir(ne->node) && is_ancestor(ne->node, od))
        return -ENOTEMPTY; /* over a directory holding the source */
    if (ne && ne->node == n)
        return 0; /* both names are the same file: nothing to do */
    if (ne) {
        struct tnode *t = ne->node;
        if (is_dir(n) && !is_dir(t))
            return -ENOTDIR;
        if (!is_dir(n) && is_dir(t))
            return -EISDIR;
        if (is_dir(t) && !dir_empty(t))
            return -ENOTEMPTY;
        remove_entry(nd, nlink);
    }
    /* Re-find the old entry: removing the target may have changed the list links. */
    oe = find(od, oname, olen, &olink);
    int rc = add_entry(nd, nname, nlen, n);
    if (rc)
        return rc;
    *olink = oe->next;
    kfree(oe);
    od->mtime = od->ctime = now_ns();
    if (is_dir(n) && od != nd) {
        od->nlink--;
        nd->nlink++;
        n->parent = nd;
    }
    n->ctime = now_ns();
    /* The path shown in /proc is found again at the next lookup. */
    kfree(n->i.path);
    n->i.path = 0;
    return 0;
}

static int setattr_locked(struct inode *i, const struct vfs_attr *a)
{
    struct tnode *n = T(i);
    if (a->mask & VFS_ATTR_MODE)
        i->mode = (i->mode & S_IFMT) | (a->mode & 07777);
    if (a->mask & VFS_ATTR_ATIME)
        n->atime = a->atime_ns;
    if (a->mask & VFS_ATTR_MTIME)
        n->mtime = a->mtime_ns;
    n->ctime = now_ns();
    return 0;
}

static uint64_t page_share_locked(struct inode *i, uint64_t index)
{
    struct tnode *n = T(i);
    if ((i->mode & S_IFMT) != S_IFREG)
        return 0;
    uint64_t phys = page_at(n, index);
    if (phys)
        page_ref(phys);
    return phys;
}

/* Data is the pages written (or shared); holes are pages never allocated, as Linux's tmpfs. */
static int64_t seek_data_locked(struct inode *i, uint64_t off, int hole)
{
    struct tnode *n = T(i);
    for (uint64_t idx = off / PAGE; idx * PAGE < i->size; idx++) {
        int present = idx < n->npages && n->pages[idx];
        if (present != hole) {
            uint64_t at = idx * PAGE > off ? idx * PAGE : off;
            return (int64_t)(at < i->size ? at : i->size);
        }
    }
    return hole ? (int64_t)i->size : -ENXIO;
}

/* The inode operations: each runs its _locked body under the filesystem's lock. */
#define FS_OF(ino) (T(ino)->fs)
#define LOCKED(type, name, ino, params, args)                                                      \
    static type t_##name params                                                                    \
    {                                                                                              \
        struct tmpfs *fs_ = FS_OF(ino);                                                            \
        uint64_t fl_ = spin_lock_irqsave(&fs_->lock);                                              \
        type rc_ = name##_locked args;                                                             \
        spin_unlock_irqrestore(&fs_->lock, fl_);                                                   \
        return rc_;                                                                                \
    }
LOCKED(int, lookup, dir, (struct inode *dir, const char *name, size_t len, struct inode **out),
       (dir, name, len, out))
LOCKED(int64_t, read, i, (struct inode *i, uint64_t off, void *buf, uint64_t len), (i, off, buf, len))
LOCKED(int, readlink, i, (struct inode *i, char *buf, size_t size), (i, buf, size))
LOCKED(int, readdir, i, (struct inode *i, uint64_t *cookie, struct vfs_dirent *out), (i, cookie, out))
LOCKED(int, stat, i, (struct inode *i, struct linux_stat *st), (i, st))
LOCKED(int64_t, write, i, (struct inode *i, uint64_t off, const void *buf, uint64_t len),
       (i, off, buf, len))
LOCKED(int, truncate, i, (struct inode *i, uint64_t size), (i, size))
LOCKED(int, allocate, i, (struct inode *i, uint64_t off, uint64_t len, int keep_size),
       (i, off, len, keep_size))
LOCKED(int, create, dir,
       (struct inode *dir, const char *name, size_t len, uint32_t mode, struct inode **out),
       (dir, name, len, mode, out))
LOCKED(int, symlink, dir, (struct inode *dir, const char *name, size_t len, const char *target),
       (dir, name, len, target))
LOCKED(int, link, dir, (struct inode *dir, const char *name, size_t len, struct inode *target),
       (dir, name, len, target))
LOCKED(int, unlink, dir, (struct inode *dir, const char *name, size_t len, int rmdir),
       (dir, name, len, rmdir))
LOCKED(int, rename, odir,
       (struct inode *odir, const char *oname, size_t olen, struct inode *ndir, const char *nname,
        size_t nlen),
       (odir, oname, olen, ndir, nname, nlen))
LOCKED(int, setattr, i, (struct inode *i, const struct vfs_attr *a), (i, a))
LOCKED(uint64_t, page_share, i, (struct inode *i, uint64_t index), (i, index))
LOCKED(int64_t, seek_data, i, (struct inode *i, uint64_t off, int hole), (i, off, hole))

static const struct inode_ops tmpfs_ops = {
    .lookup = t_lookup,
    .read = t_read,
    .readlink = t_readlink,
    .readdir = t_readdir,
    .stat = t_stat,
    .release = t_release,
    .write = t_write,
    .truncate = t_truncate,
    .allocate = t_allocate,
    .create = t_create,
    .symlink = t_symlink,
    .link = t_link,
    .unlink = t_unlink,
    .rename = t_rename,
    .setattr = t_setattr,
    .page_share = t_page_share,
    .seek_data = t_seek_data,
};

int tmpfs_new(uint32_t dev, uint32_t mode, struct inode **root)
{
    struct tmpfs *fs = kzalloc(sizeof *fs);
    if (!fs)
        return -ENOMEM;
    fs->lock = (struct spinlock)SPINLOCK_INIT("tmpfs");
    fs->dev = dev;
    fs->next_ino = 1;
    fs->max_pages = ram_pages() / 2;
    fs->max_nodes = fs->max_pages > 2 ? fs->max_pages : 2;
    int full = 0;
    struct tnode *n = node_new(fs, S_IFDIR | (mode & 07777), &full);
    if (!n) {
        kfree(fs);
        return -ENOMEM;
    }
    n->nlink = 2;
    *root = &n->i;
    return 0;
}

int tmpfs_statfs(struct inode *ino, uint64_t *pages, uint64_t *free_pages)
{
    if (ino->ops != &tmpfs_ops)
        return -EINVAL;
    struct tmpfs *fs = T(ino)->fs;
    *pages = fs->max_pages;
    *free_pages = fs->max_pages - __atomic_load_n(&fs->used_pages, __ATOMIC_RELAXED);
    return 0;
}
