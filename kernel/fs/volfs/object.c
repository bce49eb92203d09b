/* volfs objects: datasets (the dataset table in the MOS), dnodes (the dnode array of a dataset),
 * the block tree of an object (growing it, finding block i), file data, directories (v1/v2:
 * scanned linearly; v3: hashed into leaf blocks) and snapshots, all as changes to the open
 * transaction group (docs/volume-format.md). */
#include "errno.h"
#include "fs/volfs/internal.h"
#include "lib/string.h"
#include "mm/kheap.h"

#define DT_DIR 4
#define DT_REG 8
#define DT_LNK 10
#define DIRTY_DATA_LIMIT 8192u /* dirty file blocks (32 MiB) before a write commits the txg */

/* An object: its dnode inside the block `h` that holds it, at pointer slot `slot`. */
struct obj {
    struct vbuf *h;
    uint32_t slot;
    struct volfs_dnode *dn;
};

/* The block whose pointer slot *idx leads to level-0 block blkid of the object; *par is 0 when
 * that part of the tree is a hole (and create is false). With create the tree grows to reach it. */
static int tree_parent(struct volfs *v, struct obj *o, uint64_t blkid, bool create,
                       struct vbuf **par, uint32_t *idx)
{
    *par = 0;
    struct volfs_dnode *dn = o->dn;
    if (dn->nlevels > VOLFS_MAX_LEVELS)
        return -EIO; /* no writer makes a taller tree */
    unsigned L = dn->nlevels ? dn->nlevels : 1;
    while (L < 64 && blkid >> (6 * (L - 1)) != 0) {
        if (!create)
            return 0;
        if (L >= VOLFS_MAX_LEVELS)
            return -EFBIG;
        struct volfs_bp *rbp = vb_slot_bp(o->h, o->slot);
        if (bp_hole(rbp) && !o->h->kids[o->slot]) {
            L++;
            continue;
        }
        struct vbuf *old;
        int r = vb_child(v, o->h, o->slot, L > 1 ? VT_INDIRECT : dn->data_type,
                         (uint8_t)(L - 1), false, false, &old);
        if (r < 0)
            return r;
        /* The new top holds the old root as its pointer 0; the holder's pointer becomes new. */
        struct vbuf *ni;
        struct volfs_bp saved = *rbp;
        memset(rbp, 0, sizeof(*rbp));
        o->h->kids[o->slot] = 0;
        r = vb_child(v, o->h, o->slot, VT_INDIRECT, (uint8_t)L, true, false, &ni);
        if (r < 0) {
            *rbp = saved;
            o->h->kids[o->slot] = old;
            return r;
        }
        memcpy(ni->data, &saved, sizeof(saved));
        ni->kids[0] = old;
        old->parent = ni;
        old->slot = 0;
        L++;
    }
    if (dn->nlevels != L) {
        dn->nlevels = (uint8_t)L;
        vb_dirty(o->h);
    }
    if (L == 1) {
        *par = o->h;
        *idx = o->slot;
        return 0;
    }
    struct vbuf *b;
    int r = vb_child(v, o->h, o->slot, VT_INDIRECT, (uint8_t)(L - 1), create, false, &b);
    for (unsigned lvl = L - 1; r == 0 && b && lvl > 1; lvl--)
        r = vb_child(v, b, (uint32_t)(blkid >> (6 * (lvl - 1))) & 63, VT_INDIRECT,
                     (uint8_t)(lvl - 1), create, false, &b);
    if (r < 0 || !b)
        return r;
    *par = b;
    *idx = (uint32_t)(blkid & 63);
    return 0;
}

/* Level-0 block blkid of a metadata object (dnodes, dataset table), loaded; 0 for a hole. */
static int meta_block(struct volfs *v, struct obj *o, uint64_t blkid, bool create,
                      struct vbuf **out)
{
    struct vbuf *par;
    uint32_t idx;
    *out = 0;
    int r = tree_parent(v, o, blkid, create, &par, &idx);
    if (r < 0 || !par)
        return r;
    return vb_child(v, par, idx, o->dn->data_type, 0, create, false, out);
}

/* Dataset table entry i (its block in *b). */
int vol_dsl_entry(struct volfs *v, uint64_t i, bool create, struct vbuf **b,
                  struct volfs_dsl_entry **e)
{
    struct obj mos = {v->root, 0, (struct volfs_dnode *)v->root->data};
    if (i >= mos.dn->size && !create)
        return -ENOENT;
    int r = meta_block(v, &mos, i / VOLFS_DSL_PER_BLOCK, create, b);
    if (r < 0)
        return r;
    if (!*b)
        return -ENOENT;
    *e = (struct volfs_dsl_entry *)(*b)->data + i % VOLFS_DSL_PER_BLOCK;
    return 0;
}

int vol_get_objset(struct volfs *v, int ds, struct vbuf **os)
{
    struct vbuf *b;
    struct volfs_dsl_entry *e;
    if (ds < 0)
        return -ENOENT;
    int r = vol_dsl_entry(v, (uint64_t)ds, false, &b, &e);
    if (r < 0)
        return r;
    r = vb_child(v, b, (uint32_t)ds % VOLFS_DSL_PER_BLOCK, VT_OBJSET, 0, false, false, os);
    return r < 0 ? r : *os ? 0 : -ENOENT;
}

static int ds_writable(struct volfs *v, int ds)
{
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    struct vbuf *b;
    struct volfs_dsl_entry *e;
    r = vol_dsl_entry(v, (uint64_t)ds, false, &b, &e);
    if (r < 0)
        return r;
    return e->flags & VOLFS_DSL_SNAPSHOT ? -EROFS : 0;
}

/* The dnode of obj in dataset ds (with create: made to exist, possibly free). */
static int get_dnode(struct volfs *v, int ds, uint64_t obj, bool create, struct obj *o)
{
    struct vbuf *os, *b;
    int r = vol_get_objset(v, ds, &os);
    if (r < 0)
        return r;
    struct obj meta = {os, 0, (struct volfs_dnode *)os->data};
    if (obj == 0 || (obj >= meta.dn->size && !create))
        return -ENOENT;
    r = meta_block(v, &meta, obj / VOLFS_DNODES_PER_BLOCK, create, &b);
    if (r < 0)
        return r;
    if (!b)
        return -ENOENT;
    o->h = b;
    o->slot = (uint32_t)(obj % VOLFS_DNODES_PER_BLOCK);
    o->dn = (struct volfs_dnode *)b->data + o->slot;
    return 0;
}

static int load_obj(struct volfs *v, int ds, uint64_t obj, struct obj *o)
{
    int r = get_dnode(v, ds, obj, false, o);
    if (r == 0 && o->dn->kind == VK_FREE)
        r = -ENOENT;
    return r;
}

/* ---- data ---- */

static int64_t obj_read_cache(struct volfs *v, struct obj *o, uint64_t off, void *buf,
                              uint64_t n, bool cache);

static int64_t obj_read(struct volfs *v, struct obj *o, uint64_t off, void *buf, uint64_t n)
{
    return obj_read_cache(v, o, off, buf, n, true);
}

/* Reads n bytes at off; without cache the blocks on disk bypass the ARC (O_DIRECT). */
static int64_t obj_read_cache(struct volfs *v, struct obj *o, uint64_t off, void *buf,
                              uint64_t n, bool cache)
{
    uint64_t size = o->dn->size;
    if (off >= size)
        return 0;
    if (n > size - off)
        n = size - off;
    uint8_t *tmp = 0;
    uint64_t done = 0;
    int r = 0;
    while (done < n) {
        uint64_t pos = off + done, blk = pos / VOLFS_BLOCK, in = pos % VOLFS_BLOCK;
        uint64_t chunk = VOLFS_BLOCK - in < n - done ? VOLFS_BLOCK - in : n - done;
        struct vbuf *par;
        uint32_t idx;
        uint8_t *dst = (uint8_t *)buf + done;
        r = tree_parent(v, o, blk, false, &par, &idx);
        if (r < 0)
            break;
        if (!par) {
            memset(dst, 0, chunk);
        } else if (par->kids[idx]) {
            memcpy(dst, par->kids[idx]->data + in, chunk);
        } else {
            struct volfs_bp *bp = vb_slot_bp(par, idx);
            if (bp_hole(bp)) {
                memset(dst, 0, chunk);
            } else {
                if (!tmp && !(tmp = kmalloc(VOLFS_BLOCK))) {
                    r = -ENOMEM;
                    break;
                }
                if (bp->type != o->dn->data_type || bp->level != 0) {
                    r = -EIO;
                    break;
                }
                r = vol_read_bp_cache(v, bp, tmp, cache);
                if (r < 0)
                    break;
                memcpy(dst, tmp + in, chunk);
            }
        }
        done += chunk;
    }
    kfree(tmp);
    return r < 0 ? r : (int64_t)done;
}

static int64_t obj_write(struct volfs *v, struct obj *o, uint64_t off, const void *buf,
                         uint64_t n)
{
    uint64_t done = 0;
    while (done < n) {
        if (v->dirty_data >= DIRTY_DATA_LIMIT && o->dn->data_type == VT_DATA && !v->ro) {
            int r = volfs_commit(v);
            if (r < 0)
                return r;
        }
        uint64_t pos = off + done, blk = pos / VOLFS_BLOCK, in = pos % VOLFS_BLOCK;
        uint64_t chunk = VOLFS_BLOCK - in < n - done ? VOLFS_BLOCK - in : n - done;
        struct vbuf *par, *b;
        uint32_t idx;
        int r = tree_parent(v, o, blk, true, &par, &idx);
        if (r == 0)
            r = vb_child(v, par, idx, o->dn->data_type, 0, true, chunk == VOLFS_BLOCK, &b);
        if (r < 0)
            return r;
        if (!b->dirty) {
            vb_dirty(b);
            v->dirty_data += b->type == VT_DATA;
        }
        memcpy(b->data + in, (const uint8_t *)buf + done, chunk);
        done += chunk;
        if (pos + chunk > o->dn->size)
            o->dn->size = pos + chunk;
    }
    o->dn->mtime = o->dn->ctime = v->now;
    vb_dirty(o->h);
    return (int64_t)done;
}

static int obj_truncate(struct volfs *v, struct obj *o, uint64_t size)
{
    uint64_t old = o->dn->size;
    if (size == 0) {
        vb_free_slot(v, o->h, o->slot);
        o->dn->nlevels = 1;
    } else if (size < old) {
        uint64_t first = (size + VOLFS_BLOCK - 1) / VOLFS_BLOCK;
        uint64_t last = (old + VOLFS_BLOCK - 1) / VOLFS_BLOCK;
        for (uint64_t b = first; b < last; b++) {
            struct vbuf *par;
            uint32_t idx;
            int r = tree_parent(v, o, b, false, &par, &idx);
            if (r < 0)
                return r;
            if (par && (par->kids[idx] || !bp_hole(vb_slot_bp(par, idx))))
                vb_free_slot(v, par, idx);
        }
        if (size % VOLFS_BLOCK) { /* the tail of the last block reads as zeros if regrown */
            struct vbuf *par, *b = 0;
            uint32_t idx;
            int r = tree_parent(v, o, size / VOLFS_BLOCK, false, &par, &idx);
            if (r == 0 && par)
                r = vb_child(v, par, idx, o->dn->data_type, 0, false, false, &b);
            if (r < 0)
                return r;
            if (b) {
                memset(b->data + size % VOLFS_BLOCK, 0, VOLFS_BLOCK - size % VOLFS_BLOCK);
                if (!b->dirty) {
                    vb_dirty(b);
                    v->dirty_data += b->type == VT_DATA;
                }
            }
        }
    }
    o->dn->size = size;
    o->dn->mtime = o->dn->ctime = v->now;
    vb_dirty(o->h);
    return 0;
}

int64_t volfs_read(struct volfs *v, int ds, uint64_t obj, uint64_t off, void *buf, uint64_t n)
{
    struct obj o;
    int r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    if (o.dn->kind == VK_DIR)
        return -EISDIR;
    return obj_read(v, &o, off, buf, n);
}

int64_t volfs_write(struct volfs *v, int ds, uint64_t obj, uint64_t off, const void *buf,
                    uint64_t n)
{
    struct obj o;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    if (o.dn->kind == VK_DIR)
        return -EISDIR;
    if (off + n < off || off + n > (1ull << 46))
        return -EFBIG;
    int64_t w = obj_write(v, &o, off, buf, n);
    if (w > 0)
        vol_log_write(v, ds, obj, off, buf, (uint64_t)w);
    return w;
}

int64_t volfs_read_direct(struct volfs *v, int ds, uint64_t obj, uint64_t off, void *buf,
                          uint64_t n)
{
    struct obj o;
    int r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    if (o.dn->kind == VK_DIR)
        return -EISDIR;
    return obj_read_cache(v, &o, off, buf, n, false);
}

int64_t volfs_write_direct(struct volfs *v, int ds, uint64_t obj, uint64_t off, const void *buf,
                           uint64_t n)
{
    struct obj o;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    if (o.dn->kind != VK_FILE)
        return o.dn->kind == VK_DIR ? -EISDIR : -EINVAL;
    if (off + n < off || off + n > (1ull << 46))
        return -EFBIG;
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    uint64_t done = 0;
    while (done < n && r == 0) {
        uint64_t pos = off + done, bi = pos / VOLFS_BLOCK, in = pos % VOLFS_BLOCK;
        uint64_t chunk = VOLFS_BLOCK - in < n - done ? VOLFS_BLOCK - in : n - done;
        struct vbuf *par;
        uint32_t idx;
        if ((r = tree_parent(v, &o, bi, true, &par, &idx)) < 0)
            break;
        if (chunk < VOLFS_BLOCK) { /* part of a block: the rest is what the file holds */
            int64_t got = obj_read_cache(v, &o, bi * VOLFS_BLOCK, blk, VOLFS_BLOCK, false);
            if (got < 0) {
                r = (int)got;
                break;
            }
            memset(blk + got, 0, VOLFS_BLOCK - (uint64_t)got);
        }
        memcpy(blk + in, (const uint8_t *)buf + done, chunk);
        if ((r = vol_write_direct(v, par, idx, o.dn->data_type, blk)) < 0)
            break;
        done += chunk;
        if (pos + chunk > o.dn->size)
            o.dn->size = pos + chunk;
    }
    kfree(blk);
    if (done == 0)
        return r;
    o.dn->mtime = o.dn->ctime = v->now;
    vb_dirty(o.h);
    vol_log_write(v, ds, obj, off, buf, done);
    return (int64_t)done;
}

int volfs_truncate(struct volfs *v, int ds, uint64_t obj, uint64_t size)
{
    struct obj o;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    if (o.dn->kind == VK_DIR)
        return -EISDIR;
    if (size > (1ull << 46))
        return -EFBIG;
    r = obj_truncate(v, &o, size);
    if (r == 0)
        vol_log_truncate(v, ds, obj, size);
    return r;
}

int volfs_stat(struct volfs *v, int ds, uint64_t obj, struct volfs_stat *st)
{
    struct obj o;
    int r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    st->kind = o.dn->kind;
    st->mode = o.dn->mode;
    st->uid = o.dn->uid;
    st->gid = o.dn->gid;
    st->size = o.dn->size;
    st->nlink = o.dn->nlink;
    st->atime_ns = o.dn->atime;
    st->mtime_ns = o.dn->mtime;
    st->ctime_ns = o.dn->ctime;
    st->parent = o.dn->parent;
    return 0;
}

int64_t volfs_seek_data(struct volfs *v, int ds, uint64_t obj, uint64_t off, bool hole)
{
    struct obj o;
    int r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    uint64_t size = o.dn->size;
    for (uint64_t blk = off / VOLFS_BLOCK; blk * VOLFS_BLOCK < size; blk++) {
        struct vbuf *par;
        uint32_t idx;
        if ((r = tree_parent(v, &o, blk, false, &par, &idx)) < 0)
            return r;
        bool data = par && (par->kids[idx] || !bp_hole(vb_slot_bp(par, idx)));
        if (data != hole) {
            uint64_t at = blk * VOLFS_BLOCK > off ? blk * VOLFS_BLOCK : off;
            return (int64_t)(at < size ? at : size);
        }
    }
    return hole ? (int64_t)size : -ENXIO;
}

int volfs_setattr(struct volfs *v, int ds, uint64_t obj, uint32_t mask,
                  const struct volfs_stat *st)
{
    struct obj o;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    vol_log_namespace(v, ds);
    if (mask & VOLFS_SET_MODE)
        o.dn->mode = (o.dn->mode & 0170000) | (st->mode & 07777);
    if (mask & VOLFS_SET_UID)
        o.dn->uid = st->uid;
    if (mask & VOLFS_SET_GID)
        o.dn->gid = st->gid;
    if (mask & VOLFS_SET_ATIME)
        o.dn->atime = st->atime_ns;
    if (mask & VOLFS_SET_MTIME)
        o.dn->mtime = st->mtime_ns;
    o.dn->ctime = v->now;
    vb_dirty(o.h);
    return 0;
}

/* ---- directories ---- */

static bool name_ok(const char *name, size_t *len)
{
    size_t n = strnlen(name, VOLFS_NAME_MAX + 1);
    *len = n;
    if (n == 0 || n > VOLFS_NAME_MAX || strchr(name, '/'))
        return false;
    return strcmp(name, ".") != 0 && strcmp(name, "..") != 0;
}

uint64_t volfs_name_hash(const char *name, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ull; /* FNV-1a, then splitmix64's finalizer for the top bits */
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)name[i];
        h *= 0x100000001b3ull;
    }
    h ^= h >> 30;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 27;
    h *= 0x94d049bb133111ebull;
    h ^= h >> 31;
    return h >> (64 - VOLFS_HASH_BITS);
}

static bool dir_hashed(const struct obj *d) { return d->dn->flags & VOLFS_DN_HASHED; }

/* A hashed directory's leaves are 2^bits blocks. */
static unsigned leaf_bits(const struct obj *d)
{
    unsigned bits = 0;
    while ((VOLFS_BLOCK << bits) < d->dn->size)
        bits++;
    return bits;
}

static uint64_t leaf_of(uint64_t hash, unsigned bits)
{
    return bits ? hash >> (VOLFS_HASH_BITS - bits) : 0;
}

/* Reads leaf block i of a hashed directory into blk. */
static int leaf_read(struct volfs *v, struct obj *d, uint64_t i, uint8_t *blk)
{
    int64_t got = obj_read(v, d, i * VOLFS_BLOCK, blk, VOLFS_BLOCK);
    return got < 0 ? (int)got : got == VOLFS_BLOCK ? 0 : -EIO;
}

/* Finds name in dir: its entry and byte offset; -ENOENT if absent. With name 0 (linear
 * directories only), the first free entry (or the end of the directory). A hashed directory
 * reads the one leaf the name's hash picks. */
static int dir_find(struct volfs *v, struct obj *dir, const char *name, struct volfs_dirent *out,
                    uint64_t *at)
{
    size_t len = name ? strlen(name) : 0;
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    int r = -ENOENT;
    uint64_t from = 0, to = dir->dn->size;
    if (dir_hashed(dir) && name) {
        from = leaf_of(volfs_name_hash(name, len), leaf_bits(dir)) * VOLFS_BLOCK;
        to = from + VOLFS_BLOCK < to ? from + VOLFS_BLOCK : to;
    }
    for (uint64_t off = from; off < to && r == -ENOENT; off += VOLFS_BLOCK) {
        int64_t got = obj_read(v, dir, off, blk, VOLFS_BLOCK);
        if (got < 0) {
            r = (int)got;
            break;
        }
        for (int64_t i = 0; i + 64 <= got; i += 64) {
            struct volfs_dirent *d = (struct volfs_dirent *)(blk + i);
            bool hit = name ? d->obj && d->namelen == len && memcmp(d->name, name, len) == 0
                            : d->obj == 0;
            if (hit) {
                *out = *d;
                *at = off + (uint64_t)i;
                r = 0;
                break;
            }
        }
    }
    if (r == -ENOENT && !name) {
        *at = dir->dn->size;
        r = 0;
    }
    kfree(blk);
    return r;
}

static int load_dir(struct volfs *v, int ds, uint64_t dir, struct obj *o)
{
    int r = load_obj(v, ds, dir, o);
    if (r == 0 && o->dn->kind != VK_DIR)
        r = -ENOTDIR;
    if (r == 0 && (o->dn->size > VOLFS_MAX_DIR_BYTES || o->dn->size % 64))
        r = -EIO; /* no writer makes such a directory (scans would not end) */
    if (r == 0 && dir_hashed(o) && o->dn->size && o->dn->size != VOLFS_BLOCK << leaf_bits(o))
        r = -EIO; /* a hashed directory has 2^n leaves */
    return r;
}

/* A hashed directory's leaves double: leaf i's entries go to leaves 2i and 2i+1 by the next bit
 * of their hash, from the last leaf down, so no leaf is overwritten before it is read. Every
 * entry keeps its place in hash order (readdir's cookies stay valid). */
static int dir_split(struct volfs *v, struct obj *d)
{
    unsigned bits = leaf_bits(d);
    uint64_t n = d->dn->size / VOLFS_BLOCK;
    uint8_t *src = kmalloc(VOLFS_BLOCK), *half[2] = {kmalloc(VOLFS_BLOCK), kmalloc(VOLFS_BLOCK)};
    int r = src && half[0] && half[1] ? 0 : -ENOMEM;
    for (uint64_t i = n; r == 0 && i-- > 0;) {
        if ((r = leaf_read(v, d, i, src)) < 0)
            break;
        memset(half[0], 0, VOLFS_BLOCK);
        memset(half[1], 0, VOLFS_BLOCK);
        unsigned used[2] = {0, 0};
        for (int k = 0; k < (int)VOLFS_DIRENTS_PER_BLOCK && r == 0; k++) {
            struct volfs_dirent *e = (struct volfs_dirent *)src + k;
            if (!e->obj)
                continue;
            if (e->namelen == 0 || e->namelen > VOLFS_NAME_MAX) {
                r = -EIO;
                break;
            }
            uint64_t to = leaf_of(volfs_name_hash(e->name, e->namelen), bits + 1);
            if (to >> 1 != i) {
                r = -EIO; /* in a leaf its hash does not pick: not ours */
                break;
            }
            memcpy((struct volfs_dirent *)half[to & 1] + used[to & 1]++, e, sizeof(*e));
        }
        for (int k = 1; k >= 0 && r == 0; k--) {
            uint64_t to = 2 * i + (uint64_t)k;
            if (!used[k] && to >= n)
                continue; /* past the old leaves: a hole reads as an empty leaf */
            int64_t w = obj_write(v, d, to * VOLFS_BLOCK, half[k], VOLFS_BLOCK);
            r = w < 0 ? (int)w : 0;
        }
    }
    if (r == 0) {
        d->dn->size = 2 * n * VOLFS_BLOCK;
        vb_dirty(d->h);
    }
    kfree(src);
    kfree(half[0]);
    kfree(half[1]);
    return r;
}

/* Adds the entry name -> obj (of kind) to dir: in its first free slot (linear), or in the leaf
 * its hash picks, doubling the leaves while that one is full (hashed: -ENOSPC past
 * VOLFS_MAX_DIR_BYTES). */
static int dir_add(struct volfs *v, struct obj *d, const char *name, size_t len, uint64_t obj,
                   uint8_t kind)
{
    struct volfs_dirent e;
    uint64_t at;
    int r;
    if (!dir_hashed(d)) {
        r = dir_find(v, d, 0, &e, &at);
    } else {
        uint8_t *blk = kmalloc(VOLFS_BLOCK);
        if (!blk)
            return -ENOMEM;
        uint64_t h = volfs_name_hash(name, len);
        for (r = -ENOSPC;;) {
            if (d->dn->size == 0) { /* the first leaf */
                memset(blk, 0, VOLFS_BLOCK);
                int64_t w = obj_write(v, d, 0, blk, VOLFS_BLOCK);
                if (w < 0) {
                    r = (int)w;
                    break;
                }
            }
            uint64_t leaf = leaf_of(h, leaf_bits(d));
            if ((r = leaf_read(v, d, leaf, blk)) < 0)
                break;
            int k = 0;
            while (k < (int)VOLFS_DIRENTS_PER_BLOCK && ((struct volfs_dirent *)blk)[k].obj)
                k++;
            if (k < (int)VOLFS_DIRENTS_PER_BLOCK) {
                at = leaf * VOLFS_BLOCK + (uint64_t)k * sizeof(e);
                break;
            }
            if (d->dn->size * 2 > VOLFS_MAX_DIR_BYTES) {
                r = -ENOSPC;
                break;
            }
            if ((r = dir_split(v, d)) < 0)
                break;
        }
        kfree(blk);
    }
    if (r < 0)
        return r;
    memset(&e, 0, sizeof(e));
    e.obj = obj;
    e.type = kind == VK_DIR ? DT_DIR : kind == VK_SYMLINK ? DT_LNK : DT_REG;
    e.namelen = (uint8_t)len;
    memcpy(e.name, name, len);
    int64_t w = obj_write(v, d, at, &e, sizeof(e));
    if (w < 0)
        return (int)w;
    if (dir_hashed(d))
        d->dn->entries++;
    return 0;
}

/* Clears the entry at byte offset at of dir. */
static int dir_clear(struct volfs *v, struct obj *d, uint64_t at)
{
    struct volfs_dirent z;
    memset(&z, 0, sizeof(z));
    int64_t w = obj_write(v, d, at, &z, sizeof(z));
    if (w < 0)
        return (int)w;
    if (dir_hashed(d) && d->dn->entries)
        d->dn->entries--;
    return 0;
}

int64_t volfs_lookup(struct volfs *v, int ds, uint64_t dir, const char *name)
{
    struct obj d;
    struct volfs_dirent e;
    uint64_t at;
    int r = load_dir(v, ds, dir, &d);
    if (r == 0)
        r = dir_find(v, &d, name, &e, &at);
    return r < 0 ? r : (int64_t)e.obj;
}

int64_t volfs_create(struct volfs *v, int ds, uint64_t dir, const char *name, uint32_t mode)
{
    vol_log_namespace(v, ds);
    struct obj d, o;
    struct volfs_dirent e;
    uint64_t at;
    size_t len;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_dir(v, ds, dir, &d);
    if (r < 0)
        return r;
    if (!name_ok(name, &len))
        return len > VOLFS_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
    r = dir_find(v, &d, name, &e, &at);
    if (r == 0)
        return -EEXIST;
    if (r != -ENOENT)
        return r;
    uint8_t kind = (mode & 0170000) == 040000   ? VK_DIR
                   : (mode & 0170000) == 0120000 ? VK_SYMLINK
                                                 : VK_FILE;
    /* v1 numbers objects in order and does not reuse freed dnodes. */
    struct vbuf *os;
    r = vol_get_objset(v, ds, &os);
    if (r < 0)
        return r;
    struct volfs_dnode *meta = (struct volfs_dnode *)os->data;
    uint64_t obj = meta->size;
    r = get_dnode(v, ds, obj, true, &o);
    if (r < 0)
        return r;
    meta->size = obj + 1;
    vb_dirty(os);
    memset(o.dn, 0, sizeof(*o.dn));
    o.dn->kind = kind;
    o.dn->nlevels = 1;
    o.dn->data_type = kind == VK_DIR ? VT_DIR : VT_DATA;
    if (kind == VK_DIR && v->version >= 3)
        o.dn->flags = VOLFS_DN_HASHED;
    o.dn->mode = mode;
    o.dn->nlink = kind == VK_DIR ? 2 : 1;
    o.dn->atime = o.dn->mtime = o.dn->ctime = v->now;
    o.dn->gen = v->txg + 1;
    o.dn->parent = dir;
    vb_dirty(o.h);
    r = dir_add(v, &d, name, len, obj, kind);
    if (r < 0)
        return r;
    if (kind == VK_DIR)
        d.dn->nlink++;
    return (int64_t)obj;
}

int volfs_link(struct volfs *v, int ds, uint64_t dir, const char *name, uint64_t obj)
{
    vol_log_namespace(v, ds);
    struct obj d, o;
    struct volfs_dirent e;
    uint64_t at;
    size_t len;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_dir(v, ds, dir, &d);
    if (r == 0)
        r = load_obj(v, ds, obj, &o);
    if (r < 0)
        return r;
    if (o.dn->kind == VK_DIR)
        return -EPERM;
    if (!name_ok(name, &len))
        return len > VOLFS_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
    r = dir_find(v, &d, name, &e, &at);
    if (r == 0)
        return -EEXIST;
    if (r != -ENOENT)
        return r;
    r = dir_add(v, &d, name, len, obj, o.dn->kind);
    if (r < 0)
        return r;
    o.dn->nlink++;
    o.dn->ctime = v->now;
    vb_dirty(o.h);
    return 0;
}

/* 0 if directory o holds no entry, -ENOTEMPTY if it does. */
static int dir_empty(struct volfs *v, struct obj *o)
{
    if (o->dn->size > VOLFS_MAX_DIR_BYTES)
        return -EIO;
    if (dir_hashed(o))
        return o->dn->entries ? -ENOTEMPTY : 0;
    struct volfs_dirent x;
    for (uint64_t at = 0; at < o->dn->size; at += sizeof(x)) {
        int64_t got = obj_read(v, o, at, &x, sizeof(x));
        if (got < 0)
            return (int)got;
        if (x.obj)
            return -ENOTEMPTY;
    }
    return 0;
}

/* v4: adds obj to dataset ds's orphan table (add) or takes it out. A full table records nothing:
 * that orphan is not freed after a crash (it is when released). */
static void orphan_note(struct volfs *v, int ds, uint64_t obj, bool add)
{
    struct vbuf *os;
    if (v->version < 4 || vol_get_objset(v, ds, &os) < 0)
        return;
    uint64_t *t = (uint64_t *)(os->data + VOLFS_OS_ORPHAN_OFF);
    int slot = -1;
    for (int i = 0; i < (int)VOLFS_ORPHANS; i++) {
        if (t[i] == obj) {
            if (!add) {
                t[i] = 0;
                vb_dirty(os);
            }
            return;
        }
        if (!t[i] && slot < 0)
            slot = i;
    }
    if (add && slot >= 0) {
        t[slot] = obj;
        vb_dirty(os);
    }
}

int vol_free_orphans(struct volfs *v)
{
    if (v->version < 4 || v->ro)
        return 0;
    struct vbuf *root = v->root;
    struct volfs_dnode *mos = (struct volfs_dnode *)root->data;
    bool changed = false;
    for (uint64_t ds = 0; ds < mos->size; ds++) {
        struct vbuf *b, *os;
        struct volfs_dsl_entry *e;
        if (vol_dsl_entry(v, ds, false, &b, &e) < 0 || bp_hole(&e->objset) ||
            (e->flags & VOLFS_DSL_SNAPSHOT) || vol_get_objset(v, (int)ds, &os) < 0)
            continue; /* a snapshot keeps its orphans as they were: they are read-only */
        for (int i = 0; i < (int)VOLFS_ORPHANS; i++) {
            uint64_t obj = ((uint64_t *)(os->data + VOLFS_OS_ORPHAN_OFF))[i];
            if (!obj)
                continue;
            struct obj o;
            if (get_dnode(v, (int)ds, obj, false, &o) == 0 && o.dn->kind != VK_FREE &&
                o.dn->nlink == 0) {
                int r = obj_truncate(v, &o, 0);
                if (r < 0)
                    return r;
                memset(o.dn, 0, sizeof(*o.dn));
                vb_dirty(o.h);
            }
            /* os may have been reloaded by the lookups: find it again to clear the slot */
            if (vol_get_objset(v, (int)ds, &os) < 0)
                break;
            ((uint64_t *)(os->data + VOLFS_OS_ORPHAN_OFF))[i] = 0;
            vb_dirty(os);
            changed = true;
        }
    }
    return changed ? volfs_commit(v) : 0;
}

/* Object o (number obj) lost a name in directory d: its link count goes down (a directory's to
 * 0, and d loses its `..` link); at 0 it is freed, unless the kernel still has it open (then it
 * is an orphan until volfs_release, in the dataset's orphan table meanwhile). */
static int drop_link(struct volfs *v, struct obj *d, struct obj *o, uint64_t obj)
{
    if (o->dn->kind == VK_DIR) {
        o->dn->nlink = 0;
        d->dn->nlink--;
        vb_dirty(d->h);
    } else if (o->dn->nlink) {
        o->dn->nlink--;
    }
    o->dn->ctime = v->now;
    vb_dirty(o->h);
    if (o->dn->nlink)
        return 0;
    if (v->busy && v->busy(v->busy_ctx, obj)) {
        orphan_note(v, o->h->ds, obj, true);
        return 0;
    }
    int r = obj_truncate(v, o, 0);
    if (r == 0)
        memset(o->dn, 0, sizeof(*o->dn));
    return r;
}

int volfs_unlink(struct volfs *v, int ds, uint64_t dir, const char *name)
{
    vol_log_namespace(v, ds);
    struct obj d, o;
    struct volfs_dirent e;
    uint64_t at;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_dir(v, ds, dir, &d);
    if (r == 0)
        r = dir_find(v, &d, name, &e, &at);
    if (r == 0)
        r = load_obj(v, ds, e.obj, &o);
    if (r == 0 && o.dn->kind == VK_DIR)
        r = dir_empty(v, &o);
    if (r < 0)
        return r;
    uint64_t obj = e.obj;
    if ((r = dir_clear(v, &d, at)) < 0)
        return r;
    d.dn->mtime = d.dn->ctime = v->now;
    return drop_link(v, &d, &o, obj);
}

void volfs_set_busy(struct volfs *v, bool (*busy)(void *ctx, uint64_t obj), void *ctx)
{
    v->busy = busy;
    v->busy_ctx = ctx;
}

int volfs_release(struct volfs *v, int ds, uint64_t obj)
{
    struct obj o;
    if (vol_check_writable(v) < 0)
        return 0;
    int r = get_dnode(v, ds, obj, false, &o);
    if (r < 0 || o.dn->kind == VK_FREE || o.dn->nlink)
        return r == -ENOENT ? 0 : r;
    r = obj_truncate(v, &o, 0);
    if (r == 0)
        memset(o.dn, 0, sizeof(*o.dn));
    orphan_note(v, ds, obj, false);
    return r;
}

int volfs_rename(struct volfs *v, int ds, uint64_t odir, const char *oname, uint64_t ndir,
                 const char *nname)
{
    vol_log_namespace(v, ds);
    struct obj od, nd, o, t;
    struct volfs_dirent e, te;
    uint64_t oat, nat;
    size_t nlen;
    int r = ds_writable(v, ds);
    if (r == 0)
        r = load_dir(v, ds, odir, &od);
    if (r == 0)
        r = load_dir(v, ds, ndir, &nd);
    if (r == 0)
        r = dir_find(v, &od, oname, &e, &oat);
    if (r == 0)
        r = load_obj(v, ds, e.obj, &o);
    if (r < 0)
        return r;
    if (!name_ok(nname, &nlen))
        return nlen > VOLFS_NAME_MAX ? -ENAMETOOLONG : -EINVAL;
    bool isdir = o.dn->kind == VK_DIR;
    /* A directory cannot move under itself. */
    for (uint64_t p = ndir, hops = 0; isdir; hops++) {
        struct obj po;
        if (p == e.obj)
            return -EINVAL;
        if (p == VOLFS_ROOT_OBJ || hops > 4096)
            break;
        if ((r = load_obj(v, ds, p, &po)) < 0)
            return r;
        p = po.dn->parent;
    }
    r = dir_find(v, &nd, nname, &te, &nat);
    if (r < 0 && r != -ENOENT)
        return r;
    bool replace = r == 0;
    if (replace) {
        if (te.obj == e.obj)
            return 0; /* two names of one file: rename does nothing */
        if ((r = load_obj(v, ds, te.obj, &t)) < 0)
            return r;
        bool tdir = t.dn->kind == VK_DIR;
        if (isdir != tdir)
            return isdir ? -ENOTDIR : -EISDIR;
        if (tdir && (r = dir_empty(v, &t)) < 0)
            return r;
    }
    /* Everything below is in the open txg, which no commit splits (directory writes never
     * commit on their own): on disk the rename is all there or not at all. */
    uint64_t gone = te.obj;
    if (replace) {
        te.obj = e.obj;
        te.type = e.type;
        int64_t w = obj_write(v, &nd, nat, &te, sizeof(te));
        if (w < 0)
            return (int)w;
    } else if ((r = dir_add(v, &nd, nname, nlen, e.obj, o.dn->kind)) < 0) {
        return r;
    } else if (odir == ndir && dir_hashed(&od) && (r = dir_find(v, &od, oname, &e, &oat)) < 0) {
        return r; /* the add may have split the leaves: the old name moved */
    }
    if ((r = dir_clear(v, &od, oat)) < 0)
        return r;
    if (isdir && odir != ndir) {
        od.dn->nlink--;
        nd.dn->nlink++;
        o.dn->parent = ndir;
    }
    od.dn->mtime = od.dn->ctime = nd.dn->mtime = nd.dn->ctime = v->now;
    o.dn->ctime = v->now;
    vb_dirty(o.h);
    vb_dirty(od.h);
    vb_dirty(nd.h);
    return replace ? drop_link(v, &nd, &t, gone) : 0;
}

/* The entry of a hashed directory's leaf (of 2^bits) with the smallest hash at or above *pos;
 * its index, or -1 when none: *pos moves to the next leaf's first hash. */
static int leaf_next(const uint8_t *blk, uint64_t leaf, unsigned bits, uint64_t *pos,
                     uint64_t *hash)
{
    int best = -1;
    for (int k = 0; k < (int)VOLFS_DIRENTS_PER_BLOCK; k++) {
        const struct volfs_dirent *e = (const struct volfs_dirent *)blk + k;
        if (!e->obj || e->namelen == 0 || e->namelen > VOLFS_NAME_MAX)
            continue;
        uint64_t h = volfs_name_hash(e->name, e->namelen);
        if (h >= *pos && (best < 0 || h < *hash)) {
            best = k;
            *hash = h;
        }
    }
    if (best < 0)
        *pos = bits ? (leaf + 1) << (VOLFS_HASH_BITS - bits) : 1ull << VOLFS_HASH_BITS;
    return best;
}

int volfs_readdir_at(struct volfs *v, int ds, uint64_t dir, uint64_t *pos,
                     int (*fn)(void *arg, const char *name, uint64_t obj, uint8_t type),
                     void *arg)
{
    struct obj d;
    int r = load_dir(v, ds, dir, &d);
    if (r < 0)
        return r;
    char name[VOLFS_NAME_MAX + 1];
    if (!dir_hashed(&d)) {
        struct volfs_dirent e;
        for (uint64_t at = *pos * sizeof(e); at < d.dn->size; at += sizeof(e)) {
            int64_t got = obj_read(v, &d, at, &e, sizeof(e));
            if (got < 0)
                return (int)got;
            *pos = at / sizeof(e) + 1;
            if (!e.obj)
                continue;
            if (e.namelen == 0 || e.namelen > VOLFS_NAME_MAX)
                return -EIO; /* a directory entry no writer makes: corrupt */
            memcpy(name, e.name, e.namelen);
            name[e.namelen] = 0;
            if (fn(arg, name, e.obj, e.type))
                return 0;
        }
        return 0;
    }
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    unsigned bits = leaf_bits(&d);
    uint64_t n = d.dn->size / VOLFS_BLOCK;
    while (r == 0 && *pos < 1ull << VOLFS_HASH_BITS) {
        uint64_t leaf = leaf_of(*pos, bits);
        if (leaf >= n)
            break;
        if ((r = leaf_read(v, &d, leaf, blk)) < 0)
            break;
        uint64_t h = 0;
        int k;
        while ((k = leaf_next(blk, leaf, bits, pos, &h)) >= 0) {
            const struct volfs_dirent *e = (const struct volfs_dirent *)blk + k;
            *pos = h + 1;
            memcpy(name, e->name, e->namelen);
            name[e->namelen] = 0;
            if (fn(arg, name, e->obj, e->type)) {
                kfree(blk);
                return 0;
            }
        }
    }
    kfree(blk);
    return r;
}

int volfs_readdir(struct volfs *v, int ds, uint64_t dir,
                  int (*fn)(void *arg, const char *name, uint64_t obj, uint8_t type), void *arg)
{
    uint64_t pos = 0;
    return volfs_readdir_at(v, ds, dir, &pos, fn, arg);
}
