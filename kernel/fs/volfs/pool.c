/* volfs pool: the block layer under the objects. Checksummed reads with ditto fallback and repair,
 * the block allocator with deferred frees and its space map (v2: written with each commit, read
 * at open), the in-memory buffer tree, transaction-group commit (dirty blocks copy-on-write,
 * space map, flush, uberblock, flush), format and open (uberblock ring scan; the space map, or
 * free space rebuilt from what the newest uberblocks reach). docs/volume-format.md is the spec. */
#include "errno.h"
#include "fs/volfs/internal.h"
#include "lib/string.h"
#include "mm/kheap.h"

void volfs_fletcher4(const void *buf, uint64_t n, struct volfs_cksum *out)
{
    const uint8_t *p = buf;
    uint64_t a = 0, b = 0, c = 0, d = 0;
    for (uint64_t i = 0; i + 4 <= n; i += 4) {
        uint32_t w = (uint32_t)p[i] | (uint32_t)p[i + 1] << 8 | (uint32_t)p[i + 2] << 16 |
                     (uint32_t)p[i + 3] << 24;
        a += w;
        b += a;
        c += b;
        d += c;
    }
    out->w[0] = a;
    out->w[1] = b;
    out->w[2] = c;
    out->w[3] = d;
}

/* Blocks that carry their own checksum at VOLFS_CKSUM_OFF (label, uberblock, log). */
static void self_cksum(uint8_t *blk, struct volfs_cksum *out)
{
    struct volfs_cksum saved;
    memcpy(&saved, blk + VOLFS_CKSUM_OFF, sizeof(saved));
    memset(blk + VOLFS_CKSUM_OFF, 0, sizeof(saved));
    volfs_fletcher4(blk, VOLFS_BLOCK, out);
    memcpy(blk + VOLFS_CKSUM_OFF, &saved, sizeof(saved));
}

static void self_seal(uint8_t *blk)
{
    struct volfs_cksum c;
    memset(blk + VOLFS_CKSUM_OFF, 0, sizeof(c));
    volfs_fletcher4(blk, VOLFS_BLOCK, &c);
    memcpy(blk + VOLFS_CKSUM_OFF, &c, sizeof(c));
}

static bool self_ok(uint8_t *blk)
{
    struct volfs_cksum c;
    self_cksum(blk, &c);
    return vol_cksum_eq(&c, blk + VOLFS_CKSUM_OFF);
}

uint32_t vb_nslots(uint8_t type)
{
    switch (type) {
    case VT_INDIRECT: return VOLFS_BPS_PER_BLOCK;
    case VT_DNODES: return VOLFS_DNODES_PER_BLOCK;
    case VT_OBJSET: return 1;
    case VT_DSL: return VOLFS_DSL_PER_BLOCK;
    default: return 0;
    }
}

uint32_t vb_slot_off(uint8_t type, uint32_t slot)
{
    switch (type) {
    case VT_INDIRECT: return slot * 64u;
    case VT_DNODES: return slot * 256u + 64u;
    case VT_OBJSET: return 64u;
    default: return slot * 128u; /* VT_DSL */
    }
}

void vol_self_seal(uint8_t *blk) { self_seal(blk); }
bool vol_self_ok(uint8_t *blk) { return self_ok(blk); }

/* ---- allocator ---- */

/* The allocation state of block b (VOLFS_SM_*), and setting it (its space-map page becomes
 * dirty for both areas). */
static unsigned nib_get(const struct volfs *v, uint64_t b) { return v->nib[b / 2] >> (b % 2 * 4) & 15; }
static void nib_set(struct volfs *v, uint64_t b, unsigned x)
{
    uint8_t *p = &v->nib[b / 2];
    unsigned sh = (unsigned)(b % 2 * 4);
    *p = (uint8_t)((*p & ~(15u << sh)) | (x << sh));
    uint64_t pg = b / VOLFS_SM_PER_PAGE;
    v->sm_dirty[pg / 4] |= (uint8_t)(3u << (pg % 4 * 2));
}
static bool bit_get(const struct volfs *v, uint64_t b) { return nib_get(v, b) != VOLFS_SM_FREE; }
static void bit_set(struct volfs *v, uint64_t b) { nib_set(v, b, VOLFS_SM_USED); }

bool vol_block_free(const struct volfs *v, uint64_t blk)
{
    return blk < v->nblocks && !bit_get(v, blk);
}

/* Space-map pages the volume has (for v1 too: the in-memory state has the same shape). */
static uint64_t sm_pages_for(uint64_t nblocks)
{
    return (nblocks + VOLFS_SM_PER_PAGE - 1) / VOLFS_SM_PER_PAGE;
}

/* The in-memory allocation state, all free, both areas' pages dirty. */
static int alloc_state(struct volfs *v)
{
    uint64_t pages = sm_pages_for(v->nblocks);
    v->nib = kzalloc(pages * VOLFS_SM_BYTES);
    v->sm_dirty = kmalloc(pages / 4 + 1);
    if (!v->nib || !v->sm_dirty)
        return -ENOMEM;
    memset(v->sm_dirty, 0xff, pages / 4 + 1);
    return 0;
}

/* A free block at or after hint (wrapping), marked in use; 0 when the volume is full. */
static uint64_t alloc_block(struct volfs *v, uint64_t hint)
{
    uint64_t span = v->nblocks - v->first_data;
    if (hint < v->first_data || hint >= v->nblocks)
        hint = v->first_data;
    for (uint64_t i = 0; i < span; i++) {
        uint64_t b = v->first_data + (hint - v->first_data + i) % span;
        if (!bit_get(v, b)) {
            bit_set(v, b);
            v->nfree--;
            return b;
        }
    }
    return 0;
}

static int defer_push(struct volfs_defer *d, uint64_t blk)
{
    if (d->n == d->cap) {
        uint64_t cap = d->cap ? d->cap * 2 : 64;
        uint64_t *n = kmalloc(cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        if (d->blk)
            memcpy(n, d->blk, d->n * sizeof(*n));
        kfree(d->blk);
        d->blk = n;
        d->cap = cap;
    }
    d->blk[d->n++] = blk;
    return 0;
}

int vol_defer_push(struct volfs_defer *d, uint64_t blk) { return defer_push(d, blk); }

/* Block blk, in use, is freed: released by the commit that releases defer list k. Its state says
 * so even when the list has no room (the space map then releases it after the next open). */
static void defer_add(struct volfs *v, unsigned k, uint64_t blk)
{
    (void)defer_push(&v->defer[k], blk);
    if (bit_get(v, blk))
        nib_set(v, blk, VOLFS_SM_FREED + k);
}

void vol_mark_used(struct volfs *v, uint64_t blk)
{
    if (blk < v->nblocks && !bit_get(v, blk)) {
        bit_set(v, blk);
        v->nfree--;
    }
}

int vol_alloc(struct volfs *v, uint64_t hint, uint64_t *out)
{
    *out = alloc_block(v, hint);
    return *out ? 0 : -ENOSPC;
}

void vol_defer_free(struct volfs *v, uint64_t blk)
{
    if (blk >= v->first_data && blk < v->nblocks)
        defer_add(v, (v->txg + 1) % VOLFS_KEEP_TXGS, blk);
}

/* Frees bp's copies, VOLFS_KEEP_TXGS txgs from now, unless a snapshot of ds owns the block. A
 * free that cannot be recorded leaks the block until the next open (never reuses it early). */
static void free_bp(struct volfs *v, int ds, const struct volfs_bp *bp)
{
    if (bp_hole(bp))
        return;
    if (ds >= 0 && ds < v->nkeep && bp->birth <= v->keep[ds])
        return;
    for (int i = 0; i < 2; i++)
        if (bp->dva[i] >= v->first_data && bp->dva[i] < v->nblocks)
            defer_add(v, (v->txg + 1) % VOLFS_KEEP_TXGS, bp->dva[i]);
}

/* ---- reads ---- */

static bool copy_ok(struct volfs *v, uint64_t blk, const struct volfs_cksum *want, void *buf)
{
    if (blk < v->first_data || blk >= v->nblocks)
        return false;
    if (v->dev.read(v->dev.ctx, blk, buf) < 0)
        return false;
    struct volfs_cksum c;
    volfs_fletcher4(buf, VOLFS_BLOCK, &c);
    return vol_cksum_eq(&c, want);
}

int vol_read_bp(struct volfs *v, const struct volfs_bp *bp, void *buf)
{
    return vol_read_bp_cache(v, bp, buf, true);
}

int vol_read_bp_cache(struct volfs *v, const struct volfs_bp *bp, void *buf, bool cache)
{
    if (cache && vol_arc_get(v, bp->dva[0], buf)) {
        struct volfs_cksum c; /* cheap next to a read, and no stale copy can ever answer */
        volfs_fletcher4(buf, VOLFS_BLOCK, &c);
        if (vol_cksum_eq(&c, &bp->cksum))
            return 0;
        vol_arc_forget(v, bp->dva[0]);
    }
    if (copy_ok(v, bp->dva[0], &bp->cksum, buf)) {
        if (cache)
            vol_arc_put(v, bp->dva[0], buf);
        return 0;
    }
    v->errors++;
    if (bp->dva[1] && copy_ok(v, bp->dva[1], &bp->cksum, buf)) {
        if (!v->ro && bp->dva[0] >= v->first_data && bp->dva[0] < v->nblocks &&
            v->dev.write(v->dev.ctx, bp->dva[0], buf) == 0)
            v->repaired++;
        if (cache)
            vol_arc_put(v, bp->dva[0], buf);
        return 0;
    }
    memset(buf, 0, VOLFS_BLOCK); /* never hand out a block that failed its checksum */
    return -EIO;
}

/* ---- buffers ---- */

static struct vbuf *vb_new(uint8_t type, uint8_t level)
{
    struct vbuf *b = kzalloc(sizeof(*b));
    if (!b)
        return 0;
    b->type = type;
    b->level = level;
    b->data = kzalloc(VOLFS_BLOCK);
    uint32_t n = vb_nslots(type);
    b->kids = n ? kzalloc(n * sizeof(*b->kids)) : 0;
    if (!b->data || (n && !b->kids)) {
        kfree(b->data);
        kfree(b);
        return 0;
    }
    return b;
}

void vb_drop(struct vbuf *b)
{
    if (!b)
        return;
    for (uint32_t i = 0; i < vb_nslots(b->type); i++)
        vb_drop(b->kids[i]);
    kfree(b->kids);
    kfree(b->data);
    kfree(b);
}

void vb_dirty(struct vbuf *b)
{
    for (; b && !b->dirty; b = b->parent)
        b->dirty = true;
}

int vb_child(struct volfs *v, struct vbuf *p, uint32_t slot, uint8_t type, uint8_t level,
             bool create, bool noread, struct vbuf **out)
{
    *out = 0;
    if (slot >= vb_nslots(p->type))
        return -EINVAL;
    if (p->kids[slot]) {
        if (p->kids[slot]->type != type || p->kids[slot]->level != level)
            return -EIO;
        *out = p->kids[slot];
        return 0;
    }
    struct volfs_bp *bp = vb_slot_bp(p, slot);
    if (bp_hole(bp) && !create)
        return 0;
    if (!bp_hole(bp) && (bp->type != type || bp->level != level)) {
        v->errors++;
        return -EIO;
    }
    struct vbuf *b = vb_new(type, level);
    if (!b)
        return -ENOMEM;
    b->parent = p;
    b->slot = slot;
    b->ds = p->type == VT_DSL ? (int)(p->blkid * VOLFS_DSL_PER_BLOCK + slot) : p->ds;
    b->blkid = p->type == VT_INDIRECT ? p->blkid * VOLFS_BPS_PER_BLOCK + slot : 0;
    b->bp = *bp;
    if (!bp_hole(bp) && !noread) {
        int r = vol_read_bp(v, bp, b->data);
        if (r < 0) {
            vb_drop(b);
            return r;
        }
    }
    p->kids[slot] = b;
    if (bp_hole(bp) || noread) {
        vb_dirty(b);
        if (type == VT_DATA)
            v->dirty_data++;
    }
    *out = b;
    return 0;
}

/* Frees an on-disk subtree no buffer covers. */
static void free_ondisk(struct volfs *v, int ds, const struct volfs_bp *bp)
{
    if (bp_hole(bp) || (ds >= 0 && ds < v->nkeep && bp->birth <= v->keep[ds]))
        return;
    /* A dataset table block is never freed with its datasets (v1 destroys no dataset). */
    uint32_t n = bp->type == VT_DSL ? 0 : vb_nslots(bp->type);
    if (n) {
        uint8_t *blk = kmalloc(VOLFS_BLOCK);
        if (blk && vol_read_bp(v, bp, blk) == 0)
            for (uint32_t i = 0; i < n; i++)
                free_ondisk(v, ds, (struct volfs_bp *)(blk + vb_slot_off(bp->type, i)));
        kfree(blk);
    }
    free_bp(v, ds, bp);
}

void vb_free_slot(struct volfs *v, struct vbuf *p, uint32_t slot)
{
    struct vbuf *k = p->kids[slot];
    struct volfs_bp *bp = vb_slot_bp(p, slot);
    if (k) {
        for (uint32_t i = 0; i < vb_nslots(k->type); i++)
            vb_free_slot(v, k, i);
        free_bp(v, k->ds, &k->bp);
        if (k->dirty && k->type == VT_DATA && v->dirty_data)
            v->dirty_data--;
        vb_drop(k);
        p->kids[slot] = 0;
    } else {
        free_ondisk(v, p->ds, bp);
    }
    memset(bp, 0, sizeof(*bp));
    vb_dirty(p);
}

void vol_free_tree(struct volfs *v, int ds, const struct volfs_bp *bp) { free_ondisk(v, ds, bp); }

static bool bm_get(const uint8_t *bm, uint64_t b) { return bm[b / 8] >> (b % 8) & 1; }
static void bm_set(uint8_t *bm, uint64_t b) { bm[b / 8] |= (uint8_t)(1u << (b % 8)); }

int64_t vol_mark(struct volfs *v, const struct volfs_bp *bp, uint64_t floor, uint8_t *bm)
{
    if (bp_hole(bp) || bp->birth <= floor)
        return 0;
    if (bp->dva[0] < v->first_data || bp->dva[0] >= v->nblocks)
        return -EIO;
    if (bm_get(bm, bp->dva[0]))
        return 0; /* a subtree already marked (shared between datasets) */
    int64_t n = 0;
    for (int i = 0; i < 2; i++)
        if (bp->dva[i] && bp->dva[i] < v->nblocks && !bm_get(bm, bp->dva[i])) {
            bm_set(bm, bp->dva[i]);
            n++;
        }
    uint32_t slots = bp->type == VT_DATA ? 0 : vb_nslots(bp->type);
    if (!slots)
        return n;
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    int64_t r = vol_read_bp(v, bp, blk);
    for (uint32_t i = 0; r == 0 && i < slots; i++) {
        int64_t k = vol_mark(v, (struct volfs_bp *)(blk + vb_slot_off(bp->type, i)), floor, bm);
        if (k < 0)
            r = k;
        else
            n += k;
    }
    kfree(blk);
    return r < 0 ? r : n;
}

/* Defers the frees of the blocks of bp's tree that are in neither reach nor seen. */
static int free_unreached(struct volfs *v, const struct volfs_bp *bp, const uint8_t *reach,
                          uint8_t *seen)
{
    if (bp_hole(bp) || bp->dva[0] < v->first_data || bp->dva[0] >= v->nblocks)
        return 0;
    if (bm_get(reach, bp->dva[0]) || bm_get(seen, bp->dva[0]))
        return 0; /* still reached: so is everything under it */
    bm_set(seen, bp->dva[0]);
    uint32_t slots = bp->type == VT_DATA ? 0 : vb_nslots(bp->type);
    if (slots) {
        uint8_t *blk = kmalloc(VOLFS_BLOCK);
        if (!blk)
            return -ENOMEM;
        int r = vol_read_bp(v, bp, blk);
        for (uint32_t i = 0; r == 0 && i < slots; i++)
            r = free_unreached(v, (struct volfs_bp *)(blk + vb_slot_off(bp->type, i)), reach,
                               seen);
        kfree(blk);
        if (r < 0)
            return r;
    }
    /* Unreached from the committed txg on: freed in it, as open would count it. */
    for (int i = 0; i < 2; i++)
        if (bp->dva[i] >= v->first_data && bp->dva[i] < v->nblocks &&
            !bm_get(reach, bp->dva[i]))
            defer_add(v, v->txg % VOLFS_KEEP_TXGS, bp->dva[i]);
    return 0;
}

int vol_free_unreached(struct volfs *v, const struct volfs_bp *gone)
{
    uint8_t *reach = kzalloc(v->nblocks / 8 + 1), *seen = kzalloc(v->nblocks / 8 + 1);
    int r = reach && seen ? 0 : -ENOMEM;
    if (r == 0) {
        int64_t k = vol_mark(v, &v->rootbp, 0, reach);
        r = k < 0 ? (int)k : 0;
    }
    /* A walk that failed frees nothing: the blocks stay in use until the next open. */
    if (r == 0)
        r = free_unreached(v, gone, reach, seen);
    kfree(reach);
    kfree(seen);
    return r;
}

/* O_DIRECT: the level-0 block at slot of p becomes data (4096 bytes), written now to a newly
 * allocated block, not cached; the old block (and a buffer of it) is freed as a rewrite at commit
 * would free it, and p is dirty (its pointer changes at the next commit). */
int vol_write_direct(struct volfs *v, struct vbuf *p, uint32_t slot, uint8_t type,
                     const void *data)
{
    struct volfs_bp *bp = vb_slot_bp(p, slot), nbp;
    memset(&nbp, 0, sizeof(nbp));
    nbp.dva[0] = alloc_block(v, bp->dva[0] ? bp->dva[0] : v->cursor);
    if (!nbp.dva[0])
        return -ENOSPC;
    nbp.birth = v->txg + 1; /* born in the open txg, as the commit would stamp it */
    nbp.type = type;
    volfs_fletcher4(data, VOLFS_BLOCK, &nbp.cksum);
    int r = v->dev.write(v->dev.ctx, nbp.dva[0], data);
    if (r < 0) {
        nib_set(v, nbp.dva[0], VOLFS_SM_FREE); /* never referenced: free again at once */
        v->nfree++;
        return r;
    }
    struct vbuf *k = p->kids[slot];
    if (k) {
        if (k->dirty && v->dirty_data)
            v->dirty_data--;
        vb_drop(k);
        p->kids[slot] = 0;
    }
    free_bp(v, p->ds, bp);
    *bp = nbp;
    vb_dirty(p);
    return 0;
}

/* ---- commit ---- */

static int write_buf(struct volfs *v, struct vbuf *b, uint64_t txg)
{
    struct volfs_bp nbp;
    memset(&nbp, 0, sizeof(nbp));
    int copies = b->type == VT_DATA ? 1 : 2;
    uint64_t hint = b->bp.dva[0] ? b->bp.dva[0] : v->cursor;
    for (int i = 0; i < copies; i++) {
        uint64_t h = i == 0 ? hint : nbp.dva[0] + (v->nblocks - v->first_data) / 2;
        nbp.dva[i] = alloc_block(v, h);
        if (!nbp.dva[i])
            return -ENOSPC;
    }
    v->cursor = nbp.dva[0] + 1;
    nbp.birth = txg;
    nbp.type = b->type;
    nbp.level = b->level;
    volfs_fletcher4(b->data, VOLFS_BLOCK, &nbp.cksum);
    for (int i = 0; i < copies; i++) {
        int r = v->dev.write(v->dev.ctx, nbp.dva[i], b->data);
        if (r < 0)
            return r;
    }
    vol_arc_put(v, nbp.dva[0], b->data); /* written is read soon: the cache has it */
    if (copies > 1)
        vol_arc_forget(v, nbp.dva[1]);
    free_bp(v, b->ds, &b->bp);
    b->bp = nbp;
    if (b->parent)
        *vb_slot_bp(b->parent, b->slot) = nbp;
    else
        v->rootbp = nbp;
    b->dirty = false;
    return 0;
}

static int sync_buf(struct volfs *v, struct vbuf *b, uint64_t txg)
{
    for (uint32_t i = 0; i < vb_nslots(b->type); i++) {
        struct vbuf *k = b->kids[i];
        if (!k)
            continue;
        if (k->dirty) {
            int r = sync_buf(v, k, txg);
            if (r < 0)
                return r;
        }
        if (k->type == VT_DATA) { /* file data is not cached once it is on disk */
            vb_drop(k);
            b->kids[i] = 0;
        }
    }
    return write_buf(v, b, txg);
}

static int write_uberblock(struct volfs *v, uint64_t txg)
{
    uint8_t *blk = kzalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    struct volfs_uberblock *ub = (struct volfs_uberblock *)blk;
    ub->magic = VOLFS_UB_MAGIC;
    ub->guid = v->guid;
    ub->txg = txg;
    ub->timestamp = v->now;
    ub->rootbp = v->rootbp;
    ub->nblocks = v->nblocks;
    ub->version = v->version;
    ub->flags = v->version >= 2 ? VOLFS_UB_SPACEMAP : 0;
    self_seal(blk);
    int r = v->dev.write(v->dev.ctx, 1 + txg % VOLFS_RING, blk);
    kfree(blk);
    return r;
}

/* v2: writes the pages of space-map area txg % 2 that changed since that area was last written,
 * the allocation state as txg's commit leaves it (its frees of VOLFS_KEEP_TXGS txgs ago already
 * released). Nothing may allocate or free between this and the uberblock. */
static int sm_write(struct volfs *v, uint64_t txg)
{
    unsigned area = (unsigned)(txg % 2);
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    int r = 0;
    for (uint64_t pg = 0; pg < v->sm_pages && r == 0; pg++) {
        uint8_t bit = (uint8_t)(1u << (pg % 4 * 2 + area));
        if (!(v->sm_dirty[pg / 4] & bit))
            continue;
        memset(blk, 0, VOLFS_BLOCK);
        struct volfs_sm_page *h = (struct volfs_sm_page *)blk;
        h->magic = VOLFS_SM_MAGIC;
        h->guid = v->guid;
        h->txg = txg;
        h->page = (uint32_t)pg;
        memcpy(blk + sizeof(*h), v->nib + pg * VOLFS_SM_BYTES, VOLFS_SM_BYTES);
        self_seal(blk);
        r = v->dev.write(v->dev.ctx, v->sm_start + area * v->sm_pages + pg, blk);
        if (r == 0)
            v->sm_dirty[pg / 4] &= (uint8_t)~bit;
    }
    kfree(blk);
    return r;
}

/* v2: the allocation state from space-map area txg % 2, as txg's commit wrote it; the defer lists
 * rebuilt from it. -EIO (and nothing kept) when a page does not verify or says what no writer
 * does: open then walks the trees instead. */
static int sm_read(struct volfs *v, uint64_t txg)
{
    unsigned area = (unsigned)(txg % 2);
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    int r = 0;
    for (uint64_t pg = 0; pg < v->sm_pages && r == 0; pg++) {
        struct volfs_sm_page *h = (struct volfs_sm_page *)blk;
        r = v->dev.read(v->dev.ctx, v->sm_start + area * v->sm_pages + pg, blk);
        if (r == 0 && (h->magic != VOLFS_SM_MAGIC || h->guid != v->guid || h->txg > txg ||
                       h->page != pg || !self_ok(blk)))
            r = -EIO;
        if (r == 0)
            memcpy(v->nib + pg * VOLFS_SM_BYTES, blk + sizeof(*h), VOLFS_SM_BYTES);
    }
    kfree(blk);
    v->nfree = 0;
    for (uint64_t b = 0; b < v->nblocks && r == 0; b++) {
        unsigned x = nib_get(v, b);
        if (x > VOLFS_SM_FREED + VOLFS_KEEP_TXGS - 1 || (b < v->first_data && x != VOLFS_SM_USED))
            r = -EIO;
        else if (x == VOLFS_SM_FREE)
            v->nfree++;
        else if (x >= VOLFS_SM_FREED)
            (void)defer_push(&v->defer[x - VOLFS_SM_FREED], b); /* no room: kept till next open */
    }
    if (r < 0) {
        memset(v->nib, 0, v->sm_pages * VOLFS_SM_BYTES);
        for (unsigned i = 0; i < VOLFS_KEEP_TXGS; i++)
            v->defer[i].n = 0;
        v->nfree = 0;
    }
    return r;
}

/* Tells the device the blocks just freed hold nothing, in runs of neighbours (sorted in place:
 * a free list is not ordered). Still free when looked at: a block handed out again meanwhile
 * cannot be, as nothing allocates between the release and this. */
static void discard_free(struct volfs *v, struct volfs_defer *d)
{
    uint64_t *b = d->blk, n = d->n;
    for (uint64_t gap = n / 2; gap > 0; gap /= 2) /* Shell sort: no recursion, no memory */
        for (uint64_t i = gap; i < n; i++)
            for (uint64_t j = i; j >= gap && b[j - gap] > b[j]; j -= gap) {
                uint64_t t = b[j];
                b[j] = b[j - gap];
                b[j - gap] = t;
            }
    for (uint64_t i = 0; i < n;) {
        uint64_t j = i + 1;
        while (j < n && (b[j] == b[j - 1] || b[j] == b[j - 1] + 1))
            j++;
        if (!bit_get(v, b[i]))
            (void)v->dev.discard(v->dev.ctx, b[i], b[j - 1] - b[i] + 1);
        i = j;
    }
}

int vol_check_writable(struct volfs *v)
{
    if (v->broken)
        return -EIO;
    return v->ro && !v->replaying ? -EROFS : 0;
}

int volfs_commit(struct volfs *v)
{
    if (v->ro)
        return -EROFS;
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    if (!v->root->dirty)
        return 0;
    uint64_t txg = v->txg + 1;
    r = vol_log_new_chain(v, txg);
    if (r == 0)
        r = sync_buf(v, v->root, txg);
    /* Blocks freed VOLFS_KEEP_TXGS - 1 txgs ago: no uberblock of the newest four will reach them
     * once txg is written. Released now, so the space map says so; nothing allocates after this
     * until the uberblock is down (a failure below leaves the volume broken: no more writes). */
    struct volfs_defer *d = &v->defer[(txg + 1) % VOLFS_KEEP_TXGS];
    unsigned k = (unsigned)((txg + 1) % VOLFS_KEEP_TXGS);
    for (uint64_t i = 0; r == 0 && i < d->n; i++)
        if (nib_get(v, d->blk[i]) == VOLFS_SM_FREED + k) {
            nib_set(v, d->blk[i], VOLFS_SM_FREE);
            v->nfree++;
        }
    if (r == 0 && v->version >= 2)
        r = sm_write(v, txg);
    if (r == 0)
        r = v->dev.flush(v->dev.ctx);
    if (r == 0)
        r = write_uberblock(v, txg);
    if (r == 0)
        r = v->dev.flush(v->dev.ctx);
    if (r < 0) {
        /* The committed state on disk is intact; the one in memory is not: refuse to go on. */
        v->broken = true;
        return r;
    }
    v->txg = txg;
    v->dirty_data = 0;
    vol_log_committed(v);
    if (v->dev.discard)
        discard_free(v, d);
    d->n = 0;
    return 0;
}

/* ---- format ---- */

static int write_block(const struct volfs_bdev *dev, uint64_t blk, const void *buf)
{
    return dev->write(dev->ctx, blk, buf);
}

/* Where the v2 layout puts things for a device of nblocks: the space-map areas after the ring. */
static void layout(struct volfs *v)
{
    if (v->version >= 2) {
        v->sm_start = 1 + VOLFS_RING;
        v->sm_pages = sm_pages_for(v->nblocks);
        v->first_data = v->sm_start + 2 * v->sm_pages;
    } else {
        v->sm_start = v->sm_pages = 0;
        v->first_data = VOLFS_FIRST_DATA;
    }
}

int volfs_format(const struct volfs_bdev *dev, const char *name, uint64_t guid, uint64_t now_ns)
{
    return volfs_format_version(dev, name, guid, now_ns, VOLFS_VERSION);
}

int volfs_format_version(const struct volfs_bdev *dev, const char *name, uint64_t guid,
                         uint64_t now_ns, uint32_t version)
{
    if (dev->nblocks < VOLFS_MIN_BLOCKS || version < VOLFS_VERSION_MIN || version > VOLFS_VERSION)
        return -EINVAL;
    struct volfs shape = {.nblocks = dev->nblocks, .version = version};
    layout(&shape);
    if (shape.first_data + VOLFS_MIN_BLOCKS / 2 > dev->nblocks)
        return -EINVAL;
    uint8_t *blk = kzalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    int r = 0;
    for (uint64_t b = 1; b <= VOLFS_RING && r == 0; b++) /* no stale uberblock survives */
        r = write_block(dev, b, blk);
    if (r == 0)
        r = dev->flush(dev->ctx);
    struct volfs_label *l = (struct volfs_label *)blk;
    l->magic = VOLFS_LABEL_MAGIC;
    l->version = version;
    l->block_size = VOLFS_BLOCK;
    l->guid = guid;
    l->nblocks = dev->nblocks;
    l->sm_start = shape.sm_start;
    l->sm_pages = shape.sm_pages;
    for (int i = 0; name && name[i] && i < 63; i++)
        l->name[i] = name[i];
    self_seal(blk);
    if (r == 0)
        r = write_block(dev, 0, blk);
    kfree(blk);
    if (r < 0)
        return r;

    /* Txg 1 is built in memory like any other: an empty MOS, then the root dataset. */
    struct volfs *v = kzalloc(sizeof(*v));
    if (!v)
        return -ENOMEM;
    v->dev = *dev;
    v->guid = guid;
    v->nblocks = dev->nblocks;
    v->version = version;
    layout(v);
    v->now = now_ns;
    v->log_ds = -1;
    v->root = vb_new(VT_OBJSET, 0);
    if (alloc_state(v) < 0 || !v->root) {
        volfs_close(v);
        return -ENOMEM;
    }
    for (uint64_t b = 0; b < v->first_data; b++)
        bit_set(v, b);
    v->nfree = v->nblocks - v->first_data;
    v->root->ds = -1;
    struct volfs_dnode *mos = (struct volfs_dnode *)v->root->data;
    mos->kind = VK_DSL;
    mos->nlevels = 1;
    mos->data_type = VT_DSL;
    mos->size = 1;
    vb_dirty(v->root);
    struct vbuf *dsl, *os, *dn;
    r = vb_child(v, v->root, 0, VT_DSL, 0, true, false, &dsl);
    if (r == 0)
        r = vb_child(v, dsl, 0, VT_OBJSET, 0, true, false, &os);
    if (r == 0) {
        struct volfs_dsl_entry *e = (struct volfs_dsl_entry *)dsl->data;
        memcpy(e->name, "root", 5);
        e->created_txg = 1;
        struct volfs_dnode *meta = (struct volfs_dnode *)os->data;
        meta->kind = VK_DNODES;
        meta->nlevels = 1;
        meta->data_type = VT_DNODES;
        meta->size = 2;
        r = vb_child(v, os, 0, VT_DNODES, 0, true, false, &dn);
    }
    if (r == 0) {
        struct volfs_dnode *rd = (struct volfs_dnode *)dn->data + VOLFS_ROOT_OBJ;
        rd->kind = VK_DIR;
        rd->nlevels = 1;
        rd->data_type = VT_DIR;
        rd->flags = version >= 3 ? VOLFS_DN_HASHED : 0;
        rd->mode = 040755;
        rd->nlink = 2;
        rd->atime = rd->mtime = rd->ctime = now_ns;
        rd->gen = 1;
        rd->parent = VOLFS_ROOT_OBJ;
        v->txg = 0;
        r = volfs_commit(v);
    }
    volfs_close(v);
    return r;
}

/* ---- open ---- */

/* Marks every block reachable from bp in use (shared subtrees once); with d, the blocks newly
 * marked are also recorded there, to be freed like the frees of a txg. Returns the number of
 * blocks that could not be read. */
static uint64_t mark_tree(struct volfs *v, const struct volfs_bp *bp, struct volfs_defer *d)
{
    if (bp_hole(bp))
        return 0;
    uint64_t bad = 0;
    bool seen = bp->dva[0] < v->nblocks && bit_get(v, bp->dva[0]);
    for (int i = 0; i < 2; i++) {
        if (!bp->dva[i])
            continue;
        if (bp->dva[i] < v->first_data || bp->dva[i] >= v->nblocks)
            return bad + 1;
        if (!bit_get(v, bp->dva[i])) {
            bit_set(v, bp->dva[i]);
            v->nfree--;
            if (d)
                defer_add(v, (unsigned)(d - v->defer), bp->dva[i]);
        }
    }
    uint32_t n = vb_nslots(bp->type);
    if (seen || !n)
        return bad;
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk || vol_read_bp(v, bp, blk) < 0) {
        kfree(blk);
        return bad + 1;
    }
    for (uint32_t i = 0; i < n; i++)
        bad += mark_tree(v, (struct volfs_bp *)(blk + vb_slot_off(bp->type, i)), d);
    kfree(blk);
    return bad;
}

struct ub_cand {
    uint64_t txg;
    struct volfs_bp rootbp;
    uint32_t flags;
};

int volfs_open(const struct volfs_bdev *dev, bool readonly, struct volfs **out)
{
    *out = 0;
    if (dev->nblocks < VOLFS_MIN_BLOCKS)
        return -EINVAL;
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    struct ub_cand *c = kzalloc(VOLFS_RING * sizeof(*c));
    struct volfs *v = kzalloc(sizeof(*v));
    if (!blk || !c || !v) {
        kfree(blk);
        kfree(c);
        kfree(v);
        return -ENOMEM;
    }
    v->dev = *dev;
    v->ro = readonly;
    v->log_ds = -1;
    int r = dev->read(dev->ctx, 0, blk);
    struct volfs_label *l = (struct volfs_label *)blk;
    if (r == 0 && (l->magic != VOLFS_LABEL_MAGIC || !self_ok(blk)))
        r = -EINVAL;
    if (r == 0 && (l->version < VOLFS_VERSION_MIN || l->version > VOLFS_VERSION ||
                   l->block_size != VOLFS_BLOCK))
        r = -EINVAL;
    if (r == 0 && (l->nblocks > dev->nblocks || l->nblocks < VOLFS_MIN_BLOCKS))
        r = -EINVAL;
    if (r == 0) {
        v->version = l->version;
        v->nblocks = l->nblocks;
        layout(v);
        if (v->version >= 2 && (l->sm_start != v->sm_start || l->sm_pages != v->sm_pages ||
                                v->first_data + VOLFS_MIN_BLOCKS / 2 > v->nblocks))
            r = -EINVAL; /* not where this version puts them */
    }
    int n = 0;
    if (r == 0) {
        v->guid = l->guid;
        for (uint64_t s = 1; s <= VOLFS_RING; s++) {
            if (dev->read(dev->ctx, s, blk) < 0)
                continue;
            struct volfs_uberblock *ub = (struct volfs_uberblock *)blk;
            if (ub->magic != VOLFS_UB_MAGIC || ub->version != v->version ||
                ub->guid != v->guid || ub->nblocks != v->nblocks || !self_ok(blk) ||
                1 + ub->txg % VOLFS_RING != s)
                continue;
            int j = n++;
            while (j > 0 && c[j - 1].txg < ub->txg) { /* newest first */
                c[j] = c[j - 1];
                j--;
            }
            c[j].txg = ub->txg;
            c[j].rootbp = ub->rootbp;
            c[j].flags = ub->flags;
        }
        if (n == 0)
            r = -EINVAL;
    }
    if (r == 0)
        r = alloc_state(v);
    int chosen = -1;
    for (int i = 0; r == 0 && i < n && chosen < 0; i++)
        if (c[i].rootbp.type == VT_OBJSET && vol_read_bp(v, &c[i].rootbp, blk) == 0)
            chosen = i;
    if (r == 0 && chosen < 0)
        r = -EIO;
    if (r == 0) {
        v->txg = c[0].txg; /* later txgs number after every uberblock in the ring */
        v->rootbp = c[chosen].rootbp;
        /* v2: the newest txg's space map says what is free, without reading the trees. The
         * other area is a txg older: all of it is rewritten by the next commit. */
        if (chosen == 0 && (c[0].flags & VOLFS_UB_SPACEMAP) && v->version >= 2 &&
            sm_read(v, c[0].txg) == 0) {
            v->sm_loaded = true;
            for (uint64_t pg = 0; pg < v->sm_pages; pg++)
                v->sm_dirty[pg / 4] = (uint8_t)((v->sm_dirty[pg / 4] &
                                                 ~(3u << (pg % 4 * 2))) |
                                                (1u << (pg % 4 * 2 + (c[0].txg + 1) % 2)));
        } else {
            /* v1, or a fallback to an older txg, or a space map that does not verify: free
             * space is what the newest four uberblocks do not reach (both areas rewritten). */
            memset(v->sm_dirty, 0xff, v->sm_pages / 4 + 1);
            for (uint64_t b = 0; b < v->first_data; b++)
                bit_set(v, b);
            v->nfree = v->nblocks - v->first_data;
            if (mark_tree(v, &v->rootbp, 0) > 0)
                v->ro = true; /* blocks we cannot see must not be handed out */
            /* What only an older txg t of the newest four reaches is as if freed in txg t + 1:
             * it is released once t is no longer among the newest four. */
            for (int i = chosen + 1; i < n && i < chosen + (int)VOLFS_KEEP_TXGS; i++)
                (void)mark_tree(v, &c[i].rootbp, &v->defer[(c[i].txg + 1) % VOLFS_KEEP_TXGS]);
        }
        v->root = vb_new(VT_OBJSET, 0);
        if (!v->root)
            r = -ENOMEM;
    }
    if (r == 0) {
        v->root->ds = -1;
        v->root->bp = v->rootbp;
        r = vol_read_bp(v, &v->rootbp, v->root->data);
    }
    kfree(blk);
    kfree(c);
    if (r == 0) {
        struct volfs_dnode *mos = (struct volfs_dnode *)v->root->data;
        if (mos->kind != VK_DSL || mos->size > VOLFS_MAX_DATASETS || mos->nlevels > VOLFS_MAX_LEVELS)
            r = -EIO; /* not a MOS any writer makes */
    }
    if (r == 0) {
        vol_recompute_keep(v);
        r = vol_log_open(v); /* before anything else: what fsync made durable is replayed */
    }
    if (r == 0)
        r = vol_free_orphans(v);
    if (r < 0) {
        volfs_close(v);
        return r;
    }
    *out = v;
    return 0;
}

void volfs_close(struct volfs *v)
{
    if (!v)
        return;
    vb_drop(v->root);
    for (unsigned i = 0; i < VOLFS_KEEP_TXGS; i++)
        kfree(v->defer[i].blk);
    while (v->log_head) {
        struct vol_lrec *n = v->log_head->next;
        kfree(v->log_head);
        v->log_head = n;
    }
    kfree(v->log_blocks.blk);
    vol_arc_free(v);
    kfree(v->nib);
    kfree(v->sm_dirty);
    kfree(v->keep);
    kfree(v);
}

uint64_t volfs_txg(const struct volfs *v) { return v->txg; }
uint64_t volfs_errors(const struct volfs *v) { return v->errors; }
uint64_t volfs_free_blocks(const struct volfs *v) { return v->nfree; }
uint64_t volfs_data_blocks(const struct volfs *v) { return v->nblocks - v->first_data; }
uint32_t volfs_version(const struct volfs *v) { return v->version; }
void volfs_set_time(struct volfs *v, uint64_t now_ns) { v->now = now_ns; }
