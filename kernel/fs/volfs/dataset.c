/* volfs datasets: the dataset table in the MOS (docs/volume-format.md "Dataset table"), and what
 * is done to its entries: snapshots and clones (a copied objset pointer: constant time),
 * rollback, destroy (the blocks no other entry reaches are freed), and space accounting by
 * birth txg (which blocks a snapshot owns, which are unique to an entry). */
#include "errno.h"
#include "fs/volfs/internal.h"
#include "lib/string.h"
#include "mm/kheap.h"

static uint64_t ntable(struct volfs *v) { return ((struct volfs_dnode *)v->root->data)->size; }

/* Entry i, or 0 when it is free, past the end or unreadable. */
static struct volfs_dsl_entry *entry(struct volfs *v, uint64_t i, struct vbuf **b)
{
    struct volfs_dsl_entry *e;
    struct vbuf *bb;
    if (i >= ntable(v) || vol_dsl_entry(v, i, false, &bb, &e) < 0 || bp_hole(&e->objset))
        return 0;
    if (b)
        *b = bb;
    return e;
}

/* The length of the dataset part of `name` ("fs" of "fs@snap"). */
static size_t base_len(const char *name)
{
    size_t k = 0;
    while (name[k] && name[k] != '@')
        k++;
    return k;
}

static bool is_snapshot_of(const struct volfs_dsl_entry *e, const char *base, size_t blen)
{
    return (e->flags & VOLFS_DSL_SNAPSHOT) && base_len(e->name) == blen &&
           memcmp(e->name, base, blen) == 0;
}

int volfs_dataset_info(struct volfs *v, int i, char name[44], uint32_t *flags, uint64_t *txg)
{
    struct vbuf *b;
    struct volfs_dsl_entry *e;
    if (i < 0)
        return -ENOENT;
    int r = vol_dsl_entry(v, (uint64_t)i, false, &b, &e);
    if (r < 0)
        return r;
    memcpy(name, e->name, 44);
    name[43] = 0;
    *flags = e->flags;
    *txg = e->created_txg;
    return bp_hole(&e->objset) ? -ENODATA : 0;
}

int volfs_dataset(struct volfs *v, const char *name)
{
    char n[44];
    uint32_t flags;
    uint64_t txg;
    for (int i = 0;; i++) {
        int r = volfs_dataset_info(v, i, n, &flags, &txg);
        if (r == -ENOENT || r == -EIO)
            return r;
        if (r == 0 && strcmp(n, name) == 0)
            return i;
    }
}

void vol_recompute_keep(struct volfs *v)
{
    uint64_t n = ntable(v);
    uint64_t *keep = kzalloc((n ? n : 1) * sizeof(*keep));
    if (!keep) { /* keep everything rather than free what a snapshot may own */
        v->ro = true;
        return;
    }
    for (uint64_t i = 0; i < n; i++) {
        struct volfs_dsl_entry *e = entry(v, i, 0);
        if (!e)
            continue;
        if (e->flags & VOLFS_DSL_SNAPSHOT) {
            keep[i] = ~0ull; /* a snapshot frees nothing */
            char base[44];
            size_t k = base_len(e->name);
            memcpy(base, e->name, k);
            base[k] = 0;
            int d = volfs_dataset(v, base);
            if (d >= 0 && (uint64_t)d < n && keep[d] < e->created_txg)
                keep[d] = e->created_txg;
        } else if (e->origin) { /* a clone: what it shares with its origin is the origin's */
            struct volfs_dsl_entry *o = entry(v, e->origin - 1, 0);
            if (o && keep[i] < o->created_txg)
                keep[i] = o->created_txg;
        }
    }
    kfree(v->keep);
    v->keep = keep;
    v->nkeep = (int)n;
}

/* A free entry of the table (the first one, else a new one at the end), its block dirtied. */
static int new_entry(struct volfs *v, struct vbuf **b, struct volfs_dsl_entry **e)
{
    uint64_t n = ntable(v), i = 0;
    while (i < n && entry(v, i, 0))
        i++;
    int r = vol_dsl_entry(v, i, true, b, e);
    if (r < 0)
        return r;
    memset(*e, 0, sizeof(**e));
    if (i == n) {
        ((struct volfs_dnode *)v->root->data)->size = n + 1;
        vb_dirty(v->root);
    }
    vb_dirty(*b);
    return (int)i;
}

/* A name for a new entry: not taken, within the table's 43 bytes, components without '/'. */
static int check_new_name(struct volfs *v, const char *name)
{
    size_t n = strnlen(name, 44);
    if (n == 0 || strchr(name, '/'))
        return -EINVAL;
    if (n > 43)
        return -ENAMETOOLONG;
    return volfs_dataset(v, name) >= 0 ? -EEXIST : 0;
}

int volfs_snapshot(struct volfs *v, const char *dsname, const char *snap)
{
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    int ds = volfs_dataset(v, dsname);
    if (ds < 0)
        return ds;
    size_t a = strlen(dsname), s = strlen(snap);
    if (s == 0 || strchr(snap, '@') || strchr(snap, '/') || strchr(dsname, '@'))
        return -EINVAL;
    if (a + 1 + s > 43)
        return -ENAMETOOLONG;
    char full[44];
    memcpy(full, dsname, a);
    full[a] = '@';
    memcpy(full + a + 1, snap, s + 1);
    if ((r = check_new_name(v, full)) < 0)
        return r;
    r = volfs_commit(v); /* the snapshot is of committed state */
    if (r < 0)
        return r;
    struct vbuf *nb;
    struct volfs_dsl_entry *e;
    int idx = new_entry(v, &nb, &e);
    if (idx < 0)
        return idx;
    struct volfs_dsl_entry *src = entry(v, (uint64_t)ds, 0);
    if (!src)
        return -EIO;
    e->objset = src->objset;
    e->created_txg = v->txg;
    e->flags = VOLFS_DSL_SNAPSHOT;
    memcpy(e->name, full, a + s + 2);
    vol_recompute_keep(v);
    return volfs_commit(v);
}

int volfs_clone(struct volfs *v, const char *snapname, const char *name)
{
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    int s = volfs_dataset(v, snapname);
    if (s < 0)
        return s;
    struct volfs_dsl_entry *src = entry(v, (uint64_t)s, 0);
    if (!src || !(src->flags & VOLFS_DSL_SNAPSHOT))
        return -EINVAL; /* clones are made of snapshots */
    if (strchr(name, '@'))
        return -EINVAL;
    if ((r = check_new_name(v, name)) < 0)
        return r;
    struct vbuf *nb;
    struct volfs_dsl_entry *e;
    int idx = new_entry(v, &nb, &e);
    if (idx < 0)
        return idx;
    src = entry(v, (uint64_t)s, 0); /* the table may have grown */
    if (!src)
        return -EIO;
    e->objset = src->objset;
    e->created_txg = v->txg + 1;
    e->origin = (uint64_t)s + 1;
    memcpy(e->name, name, strlen(name) + 1);
    vol_recompute_keep(v);
    return volfs_commit(v);
}

int volfs_rollback(struct volfs *v, const char *snapname)
{
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    int s = volfs_dataset(v, snapname);
    if (s < 0)
        return s;
    struct volfs_dsl_entry *snap = entry(v, (uint64_t)s, 0);
    if (!snap || !(snap->flags & VOLFS_DSL_SNAPSHOT))
        return -EINVAL;
    char base[44];
    size_t k = base_len(snapname);
    memcpy(base, snapname, k);
    base[k] = 0;
    int ds = volfs_dataset(v, base);
    if (ds < 0)
        return ds;
    uint64_t stxg = snap->created_txg;
    for (uint64_t i = 0; i < ntable(v); i++) {
        struct volfs_dsl_entry *e = entry(v, i, 0);
        if (e && is_snapshot_of(e, base, k) && e->created_txg > stxg)
            return -EEXIST; /* only to the newest snapshot: later ones would lose their base */
    }
    r = volfs_commit(v);
    if (r < 0)
        return r;
    struct vbuf *b;
    struct volfs_dsl_entry *live = entry(v, (uint64_t)ds, &b);
    snap = entry(v, (uint64_t)s, 0);
    if (!live || !snap)
        return -EIO;
    /* What the dataset wrote since the snapshot (born after it) is freed; the rest is the
     * snapshot's and stays. */
    uint32_t slot = (uint32_t)ds % VOLFS_DSL_PER_BLOCK;
    if (b->kids[slot]) {
        vb_free_slot(v, b, slot); /* the loaded tree, as dataset ds's (keep applies) */
    } else {
        vol_free_tree(v, ds, &live->objset);
    }
    live->objset = snap->objset;
    vb_dirty(b);
    /* The snapshot's copy of the log header names a chain the dataset wrote after it. */
    struct vbuf *os;
    if ((r = vol_get_objset(v, ds, &os)) < 0)
        return r;
    memset(os->data + VOLFS_OS_ZIL_OFF, 0, sizeof(struct volfs_zil_header));
    vb_dirty(os);
    return volfs_commit(v);
}

int volfs_destroy(struct volfs *v, const char *name)
{
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    int ds = volfs_dataset(v, name);
    if (ds < 0)
        return ds;
    if (ds == 0)
        return -EBUSY; /* the volume's own dataset goes with the volume */
    struct volfs_dsl_entry *e = entry(v, (uint64_t)ds, 0);
    if (!e)
        return -EIO;
    bool snap = e->flags & VOLFS_DSL_SNAPSHOT;
    size_t k = strlen(e->name);
    for (uint64_t i = 0; i < ntable(v); i++) {
        struct volfs_dsl_entry *o = entry(v, i, 0);
        if (!o || i == (uint64_t)ds)
            continue;
        if (snap ? o->origin == (uint64_t)ds + 1 : is_snapshot_of(o, e->name, k))
            return -EBUSY; /* a snapshot with clones, a dataset with snapshots */
    }
    r = volfs_commit(v);
    if (r < 0)
        return r;
    struct vbuf *b;
    e = entry(v, (uint64_t)ds, &b);
    if (!e)
        return -EIO;
    struct volfs_bp gone = e->objset;
    uint32_t slot = (uint32_t)ds % VOLFS_DSL_PER_BLOCK;
    vb_drop(b->kids[slot]); /* committed just now: nothing in it is dirty */
    b->kids[slot] = 0;
    memset(e, 0, sizeof(*e));
    vb_dirty(b);
    vol_recompute_keep(v);
    r = volfs_commit(v);
    if (r == 0)
        r = vol_free_unreached(v, &gone);
    if (r < 0 || v->version < 2)
        return r;
    /* v2: the frees are in the allocation state, which only a commit writes down. */
    vb_dirty(v->root);
    return volfs_commit(v);
}

/* The txg at or before which ds's blocks belong to an older entry: the newest snapshot of its
 * dataset before it (for a snapshot) or at all (for a dataset), else a clone's origin. */
static uint64_t floor_txg(struct volfs *v, uint64_t ds, const struct volfs_dsl_entry *e)
{
    size_t k = base_len(e->name);
    bool snap = e->flags & VOLFS_DSL_SNAPSHOT;
    uint64_t floor = 0;
    const struct volfs_dsl_entry *base = e;
    for (uint64_t i = 0; i < ntable(v); i++) {
        struct volfs_dsl_entry *o = entry(v, i, 0);
        if (!o || i == ds)
            continue;
        if (is_snapshot_of(o, e->name, k) && (!snap || o->created_txg < e->created_txg) &&
            o->created_txg > floor)
            floor = o->created_txg;
        if (snap && !(o->flags & VOLFS_DSL_SNAPSHOT) && strlen(o->name) == k &&
            memcmp(o->name, e->name, k) == 0)
            base = o;
    }
    if (floor == 0 && base->origin) {
        struct volfs_dsl_entry *o = entry(v, base->origin - 1, 0);
        if (o)
            floor = o->created_txg;
    }
    return floor;
}

int volfs_space(struct volfs *v, int ds, struct volfs_space *sp)
{
    memset(sp, 0, sizeof(*sp));
    struct volfs_dsl_entry *e = ds >= 0 ? entry(v, (uint64_t)ds, 0) : 0;
    if (!e)
        return -ENOENT;
    struct volfs_bp root = e->objset;
    uint64_t floor = floor_txg(v, (uint64_t)ds, e);
    uint8_t *a = kzalloc(v->nblocks / 8 + 1), *o = kzalloc(v->nblocks / 8 + 1);
    int r = a && o ? 0 : -ENOMEM;
    int64_t k = 0;
    if (r == 0 && (k = vol_mark(v, &root, 0, a)) < 0)
        r = (int)k;
    sp->refer = (uint64_t)k * VOLFS_BLOCK;
    if (r == 0) {
        memset(a, 0, v->nblocks / 8 + 1);
        k = vol_mark(v, &root, floor, a);
        r = k < 0 ? (int)k : 0;
        sp->written = (uint64_t)(k < 0 ? 0 : k) * VOLFS_BLOCK;
    }
    for (uint64_t i = 0; r == 0 && i < ntable(v); i++) {
        struct volfs_dsl_entry *x = entry(v, i, 0);
        if (x && i != (uint64_t)ds && (k = vol_mark(v, &x->objset, floor, o)) < 0)
            r = (int)k;
    }
    for (uint64_t b = 0; r == 0 && b < v->nblocks; b++)
        if ((a[b / 8] >> (b % 8) & 1) && !(o[b / 8] >> (b % 8) & 1))
            sp->unique += VOLFS_BLOCK;
    kfree(a);
    kfree(o);
    sp->floor_txg = floor;
    return r;
}
