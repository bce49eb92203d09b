/* volfs check: verifies every copy of every block reachable from the committed state (all
 * datasets and snapshots) and that the allocation state (v2: the space map open read) has each
 * of them in use; with repair rewrites bad copies from a good ditto copy and marks in use, and
 * commits, what the space map had free. */
#include "errno.h"
#include "fs/volfs/internal.h"
#include "lib/string.h"
#include "mm/kheap.h"

struct walk {
    struct volfs *v;
    bool repair;
    uint8_t *seen;
    struct volfs_check_report *r;
};

static bool seen_get(struct walk *w, uint64_t b) { return w->seen[b / 8] >> (b % 8) & 1; }
static void seen_set(struct walk *w, uint64_t b) { w->seen[b / 8] |= (uint8_t)(1u << (b % 8)); }

static bool copy_good(struct walk *w, uint64_t blk, const struct volfs_cksum *want, uint8_t *buf)
{
    struct volfs *v = w->v;
    if (blk < v->first_data || blk >= v->nblocks || v->dev.read(v->dev.ctx, blk, buf) < 0)
        return false;
    struct volfs_cksum c;
    volfs_fletcher4(buf, VOLFS_BLOCK, &c);
    return vol_cksum_eq(&c, want);
}

static int walk_bp(struct walk *w, const struct volfs_bp *bp)
{
    if (bp_hole(bp))
        return 0;
    struct volfs *v = w->v;
    if (bp->dva[0] < v->nblocks && seen_get(w, bp->dva[0]))
        return 0; /* shared with a snapshot, already checked */
    uint8_t *buf[2] = {kmalloc(VOLFS_BLOCK), kmalloc(VOLFS_BLOCK)};
    if (!buf[0] || !buf[1]) {
        kfree(buf[0]);
        kfree(buf[1]);
        return -ENOMEM;
    }
    int good = -1;
    bool ok[2] = {false, false};
    for (int i = 0; i < 2; i++) {
        if (!bp->dva[i])
            continue;
        w->r->blocks++;
        ok[i] = copy_good(w, bp->dva[i], &bp->cksum, buf[i]);
        if (ok[i] && good < 0)
            good = i;
        if (!ok[i])
            w->r->bad++;
        if (bp->dva[i] < v->nblocks && !seen_get(w, bp->dva[i])) {
            seen_set(w, bp->dva[i]);
            w->r->used_blocks++;
        }
    }
    int rc = 0;
    if (good < 0) {
        w->r->unrecoverable++;
    } else {
        for (int i = 0; i < 2; i++)
            if (bp->dva[i] && !ok[i] && w->repair && bp->dva[i] >= v->first_data &&
                bp->dva[i] < v->nblocks && v->dev.write(v->dev.ctx, bp->dva[i], buf[good]) == 0)
                w->r->repaired++;
        for (uint32_t i = 0; i < vb_nslots(bp->type) && rc == 0; i++)
            rc = walk_bp(w, (struct volfs_bp *)(buf[good] + vb_slot_off(bp->type, i)));
    }
    kfree(buf[0]);
    kfree(buf[1]);
    return rc;
}

int volfs_check(struct volfs *v, bool repair, struct volfs_check_report *r)
{
    memset(r, 0, sizeof(*r));
    if (repair && (v->ro || v->broken))
        return -EROFS;
    struct walk w = {v, repair, kzalloc(v->nblocks / 8 + 1), r};
    if (!w.seen)
        return -ENOMEM;
    r->txg = v->txg;
    int rc = walk_bp(&w, &v->rootbp);
    for (uint64_t b = 0; rc == 0 && b < v->nblocks; b++)
        if (seen_get(&w, b) && vol_block_free(v, b)) {
            r->unmarked++; /* would be handed out while in use */
            if (repair)
                vol_mark_used(v, b);
        }
    if (rc == 0 && repair && r->repaired)
        rc = v->dev.flush(v->dev.ctx);
    if (rc == 0 && repair && r->unmarked) {
        vb_dirty(v->root); /* the allocation state goes down with a commit */
        rc = volfs_commit(v);
    }
    kfree(w.seen);
    return rc;
}
