/* Pseudo filesystems (see fs/pseudo.h): the node tree, its inode operations, and open files of
 * generated text (produced once at open, then read and seeked like a small file). */
#include "fs/pseudo.h"
#include "core/clock.h"
#include "errno.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"

#define DT_CHR 2
#define DT_DIR 4
#define DT_REG 8
#define DT_LNK 10

static const struct inode_ops pseudo_ops, transient_ops;
static uint64_t next_ino = 1;

static struct pseudo_node *P(struct inode *i) { return (struct pseudo_node *)i; }

static struct pseudo_node *node_new(struct pseudo_node *parent, const char *name, uint32_t mode)
{
    struct pseudo_node *n = kzalloc(sizeof *n);
    if (!n)
        return 0;
    n->inode.ops = &pseudo_ops;
    n->inode.ino = __atomic_fetch_add(&next_ino, 1, __ATOMIC_RELAXED);
    n->inode.mode = mode;
    n->inode.refcount = 1; /* the tree's reference: static nodes are never freed */
    n->name = name;
    n->parent = parent;
    if (parent) {
        n->dev = parent->dev;
        n->inode.fs = parent->inode.fs;
        struct pseudo_node **pp = &parent->children;
        while (*pp)
            pp = &(*pp)->next;
        *pp = n;
    }
    return n;
}

struct pseudo_node *pseudo_new_fs(uint32_t dev)
{
    struct pseudo_node *n = node_new(0, "", S_IFDIR | 0555);
    if (n) {
        n->dev = dev;
        n->inode.fs = n;
    }
    return n;
}

struct pseudo_node *pseudo_dir(struct pseudo_node *parent, const char *name)
{
    return node_new(parent, name, S_IFDIR | 0555);
}

struct pseudo_node *pseudo_file(struct pseudo_node *parent, const char *name, uint32_t perm,
                                pseudo_gen_fn gen)
{
    struct pseudo_node *n = node_new(parent, name, S_IFREG | perm);
    if (n)
        n->gen = gen;
    return n;
}

struct pseudo_node *pseudo_symlink(struct pseudo_node *parent, const char *name,
                                   pseudo_link_fn link)
{
    struct pseudo_node *n = node_new(parent, name, S_IFLNK | 0777);
    if (n)
        n->link = link;
    return n;
}

struct pseudo_node *pseudo_chardev(struct pseudo_node *parent, const char *name, uint32_t perm,
                                   uint32_t major, uint32_t minor, const struct file_ops *fops)
{
    struct pseudo_node *n = node_new(parent, name, S_IFCHR | perm);
    if (n) {
        n->rdev = pseudo_devnum(major, minor);
        n->fops = fops;
    }
    return n;
}

struct pseudo_node *pseudo_transient(struct pseudo_node *parent, uint32_t mode, uint64_t ino)
{
    struct pseudo_node *n = kzalloc(sizeof *n);
    if (!n)
        return 0;
    n->inode.ops = &transient_ops;
    n->inode.ino = ino;
    n->inode.mode = mode;
    n->inode.refcount = 1;
    n->inode.fs = parent->inode.fs;
    n->parent = parent;
    n->dev = parent->dev;
    n->name = "";
    return n;
}

static int p_lookup(struct inode *dir, const char *name, size_t len, struct inode **out)
{
    struct pseudo_node *d = P(dir), *hit = 0;
    if (len == 2 && name[0] == '.' && name[1] == '.')
        hit = d->parent ? d->parent : d;
    for (struct pseudo_node *c = d->children; c && !hit; c = c->next)
        if (strlen(c->name) == len && !memcmp(c->name, name, len))
            hit = c;
    if (!hit)
        return d->dyn_lookup ? d->dyn_lookup(d, name, len, out) : -ENOENT;
    inode_get(&hit->inode);
    *out = &hit->inode;
    return 0;
}

static int p_readlink(struct inode *i, char *buf, size_t size)
{
    struct pseudo_node *n = P(i);
    return n->link ? n->link(n, buf, size) : -EINVAL;
}

static uint8_t dtype(uint32_t mode)
{
    switch (mode & S_IFMT) {
    case S_IFDIR: return DT_DIR;
    case S_IFLNK: return DT_LNK;
    case S_IFCHR: return DT_CHR;
    case S_IFBLK: return 6; /* DT_BLK */
    default: return DT_REG;
    }
}

static int p_readdir(struct inode *i, uint64_t *cookie, struct vfs_dirent *out)
{
    struct pseudo_node *d = P(i);
    uint64_t k = *cookie;
    if (k < 2) {
        struct pseudo_node *n = k == 0 ? d : d->parent ? d->parent : d;
        out->ino = n->inode.ino;
        out->type = DT_DIR;
        out->name_len = (uint8_t)(k + 1);
        memcpy(out->name, "..", k + 1);
        out->name[k + 1] = 0;
        (*cookie)++;
        return 1;
    }
    uint64_t idx = 2;
    for (struct pseudo_node *c = d->children; c; c = c->next, idx++) {
        if (idx == k) {
            size_t len = strlen(c->name);
            out->ino = c->inode.ino;
            out->type = dtype(c->inode.mode);
            out->name_len = (uint8_t)len;
            memcpy(out->name, c->name, len + 1);
            (*cookie)++;
            return 1;
        }
    }
    if (!d->dyn_readdir)
        return 0;
    int rc = d->dyn_readdir(d, k - idx, out);
    if (rc == 1)
        (*cookie)++;
    return rc;
}

static int p_stat(struct inode *i, struct linux_stat *st)
{
    struct pseudo_node *n = P(i);
    memset(st, 0, sizeof *st);
    st->st_dev = n->dev;
    st->st_ino = i->ino;
    st->st_nlink = (i->mode & S_IFMT) == S_IFDIR ? 2 : 1;
    st->st_mode = i->mode;
    st->st_rdev = n->rdev;
    st->st_blksize = 1024;
    if (n->link) {
        char buf[256];
        int len = n->link(n, buf, sizeof buf);
        st->st_size = len > 0 ? len : 0;
    }
    uint64_t now = clock_realtime_ns();
    st->st_atime = st->st_mtime = st->st_ctime = now / 1000000000;
    st->st_atime_nsec = st->st_mtime_nsec = st->st_ctime_nsec = now % 1000000000;
    return 0;
}

/* Writes to pseudo files go through the open file's ops; this only tells the VFS that opening
 * them for writing is allowed. */
static int64_t p_write(struct inode *i, uint64_t off, const void *buf, uint64_t len)
{
    (void)i, (void)off, (void)buf, (void)len;
    return -EINVAL;
}

static int p_truncate(struct inode *i, uint64_t size)
{
    (void)i, (void)size;
    return 0;
}

struct gen_text {
    char *data;
    size_t len;
};

char *pseudo_generate(struct pseudo_node *n, size_t *len)
{
    size_t size = 4096;
    for (;;) {
        char *buf = kmalloc(size);
        if (!buf)
            return 0;
        int need = n->gen(n, buf, size);
        if (need < 0)
            need = 0;
        if ((size_t)need < size) {
            *len = (size_t)need;
            return buf;
        }
        kfree(buf);
        size = (size_t)need + 1;
    }
}

static int64_t gen_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    struct gen_text *t = f->priv;
    if (*pos >= t->len)
        return 0;
    uint64_t n = t->len - *pos < len ? t->len - *pos : len;
    if (copy_to_user(ubuf, t->data + *pos, n))
        return -EFAULT;
    *pos += n;
    return (int64_t)n;
}

static int64_t gen_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    struct pseudo_node *n = P(f->inode);
    if (!n->store)
        return -EINVAL;
    char buf[256];
    if (len >= sizeof buf)
        return -EINVAL;
    if (copy_from_user(buf, ubuf, len))
        return -EFAULT;
    buf[len] = 0;
    int rc = n->store(buf, len);
    return rc ? rc : (int64_t)len;
}

static void gen_release(struct file *f)
{
    struct gen_text *t = f->priv;
    if (t) {
        kfree(t->data);
        kfree(t);
    }
}

static const struct file_ops gen_ops = {.read = gen_read, .write = gen_write,
                                        .release = gen_release};

static int p_open(struct inode *i, struct file *f)
{
    struct pseudo_node *n = P(i);
    if (n->fops) {
        f->ops = n->fops;
        return 0;
    }
    if (!n->gen)
        return 0;
    struct gen_text *t = kmalloc(sizeof *t);
    if (!t)
        return -ENOMEM;
    t->data = pseudo_generate(n, &t->len);
    if (!t->data) {
        kfree(t);
        return -ENOMEM;
    }
    f->priv = t;
    f->ops = &gen_ops;
    return 0;
}

static void transient_release(struct inode *i) { kfree(i); }

static const struct inode_ops pseudo_ops = {
    .lookup = p_lookup,
    .readlink = p_readlink,
    .readdir = p_readdir,
    .stat = p_stat,
    .write = p_write,
    .truncate = p_truncate,
    .open = p_open,
};

static const struct inode_ops transient_ops = {
    .lookup = p_lookup,
    .readlink = p_readlink,
    .readdir = p_readdir,
    .stat = p_stat,
    .release = transient_release,
    .write = p_write,
    .truncate = p_truncate,
    .open = p_open,
};
