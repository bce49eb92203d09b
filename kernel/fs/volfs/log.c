/* volfs intent log (docs/volume-format.md "Intent log"): fsync without a whole txg. The changes
 * of the logged dataset since the last commit are kept as records (file writes and truncations);
 * fsync writes them into log blocks chained from the header in the dataset's objset block (each
 * block at the address its predecessor preallocated), flushes once and returns. A commit makes
 * them part of the txg and starts a new chain; an open replays a chain whose blocks verify
 * before anything else. Changes the log does not carry (names, attributes) make the next fsync
 * commit the txg instead, as does a dataset with no committed chain yet. */
#include "errno.h"
#include "fs/volfs/internal.h"
#include "lib/string.h"
#include "mm/kheap.h"

#define LOG_MAX_BYTES (8u << 20) /* pending payload past which an fsync commits instead */

static bool logging(struct volfs *v, int ds) { return ds >= 0 && ds == v->log_ds; }

static void push(struct volfs *v, struct vol_lrec *r)
{
    r->next = 0;
    if (!v->log_head)
        v->log_tail = &v->log_head;
    *v->log_tail = r;
    v->log_tail = &r->next;
}

void vol_log_write(struct volfs *v, int ds, uint64_t obj, uint64_t off, const void *buf,
                   uint64_t n)
{
    if (!logging(v, ds) || v->log_commit)
        return;
    if (v->log_bytes + n > LOG_MAX_BYTES) { /* too much to log: the fsync commits */
        v->log_commit = true;
        return;
    }
    /* Records fit a log block each: a long write is several. */
    const uint64_t max = VOLFS_LOG_SPACE - sizeof(struct volfs_log_rec);
    for (uint64_t done = 0; done < n || n == 0;) {
        uint64_t k = n - done < max ? n - done : max;
        struct vol_lrec *r = kmalloc(sizeof(*r) + k);
        if (!r) {
            v->log_commit = true;
            return;
        }
        r->type = VOLFS_LR_WRITE;
        r->obj = obj;
        r->off = off + done;
        r->n = k;
        memcpy(r->data, (const uint8_t *)buf + done, k);
        push(v, r);
        v->log_bytes += k;
        done += k;
        if (n == 0)
            break;
    }
}

void vol_log_truncate(struct volfs *v, int ds, uint64_t obj, uint64_t size)
{
    if (!logging(v, ds) || v->log_commit)
        return;
    struct vol_lrec *r = kmalloc(sizeof(*r));
    if (!r) {
        v->log_commit = true;
        return;
    }
    r->type = VOLFS_LR_TRUNCATE;
    r->obj = obj;
    r->off = size;
    r->n = 0;
    push(v, r);
}

void vol_log_namespace(struct volfs *v, int ds)
{
    if (logging(v, ds))
        v->log_commit = true;
}

static void drop_records(struct volfs *v)
{
    while (v->log_head) {
        struct vol_lrec *n = v->log_head->next;
        kfree(v->log_head);
        v->log_head = n;
    }
    v->log_tail = &v->log_head;
    v->log_bytes = 0;
}

static struct volfs_zil_header *header_of(struct vbuf *os)
{
    return (struct volfs_zil_header *)(os->data + VOLFS_OS_ZIL_OFF);
}

/* A chain's guid: unique per pool, txg and dataset. */
static uint64_t chain_guid(struct volfs *v, uint64_t txg, int ds)
{
    uint64_t g = v->guid ^ (txg * 0x9e3779b97f4a7c15ull) ^ ((uint64_t)(ds + 1) << 56);
    return g ? g : 1;
}

int vol_log_new_chain(struct volfs *v, uint64_t txg)
{
    if (v->log_ds < 0)
        return 0;
    struct vbuf *os;
    int r = vol_get_objset(v, v->log_ds, &os);
    if (r < 0)
        return r;
    uint64_t first;
    if ((r = vol_alloc(v, v->log_next, &first)) < 0)
        return r;
    /* The old chain's blocks are reached from the header older uberblocks hold: freed as the
     * txg's other frees. */
    for (uint64_t i = 0; i < v->log_blocks.n; i++)
        vol_defer_free(v, v->log_blocks.blk[i]);
    v->log_blocks.n = 0;
    (void)vol_defer_push(&v->log_blocks, first); /* no room: leaked until the next open */
    struct volfs_zil_header *h = header_of(os);
    h->first_blk = first;
    h->seq = 1;
    h->chain_guid = chain_guid(v, txg, v->log_ds);
    h->dataset = (uint64_t)v->log_ds + 1;
    vb_dirty(os);
    v->log_next = first;
    v->log_seq = 1;
    v->log_guid = h->chain_guid;
    return 0;
}

void vol_log_committed(struct volfs *v)
{
    drop_records(v);
    v->log_commit = false;
    v->log_on = v->log_ds >= 0;
}

int volfs_log_enable(struct volfs *v, int ds)
{
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    v->log_ds = ds;
    v->log_on = false; /* until a commit names a chain of its own */
    v->log_commit = true;
    return 0;
}

/* Writes the pending records into log blocks and flushes. */
static int write_log(struct volfs *v)
{
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    int r = 0;
    struct vol_lrec *rec = v->log_head;
    while (rec && r == 0) {
        memset(blk, 0, VOLFS_BLOCK);
        struct volfs_log_block *lb = (struct volfs_log_block *)blk;
        uint32_t used = 0;
        for (; rec; rec = rec->next) {
            uint32_t len = (uint32_t)((sizeof(struct volfs_log_rec) + rec->n + 7) & ~7ull);
            if (used + len > VOLFS_LOG_SPACE)
                break;
            struct volfs_log_rec *lr = (struct volfs_log_rec *)(blk + 64 + used);
            lr->type = rec->type;
            lr->len = len;
            lr->obj = rec->obj;
            lr->off = rec->off;
            lr->n = rec->n;
            memcpy(lr + 1, rec->data, rec->type == VOLFS_LR_WRITE ? rec->n : 0);
            used += len;
        }
        uint64_t next;
        if ((r = vol_alloc(v, v->log_next + 1, &next)) < 0)
            break;
        (void)vol_defer_push(&v->log_blocks, next);
        lb->magic = VOLFS_LOG_MAGIC;
        lb->chain_guid = v->log_guid;
        lb->seq = v->log_seq;
        lb->next = next;
        lb->used = used;
        vol_self_seal(blk);
        vol_arc_forget(v, v->log_next);
        r = v->dev.write(v->dev.ctx, v->log_next, blk);
        if (r == 0) {
            v->log_next = next;
            v->log_seq++;
            v->log_writes++;
        }
    }
    kfree(blk);
    if (r == 0)
        r = v->dev.flush(v->dev.ctx);
    if (r < 0) {
        v->broken = true; /* the chain on disk may now end anywhere: commit nothing more */
        return r;
    }
    drop_records(v);
    return 0;
}

int volfs_fsync(struct volfs *v, int ds)
{
    int r = vol_check_writable(v);
    if (r < 0)
        return r;
    if (!logging(v, ds) || !v->log_on || v->log_commit)
        return volfs_commit(v);
    return v->log_head ? write_log(v) : 0;
}

uint64_t volfs_log_blocks_written(const struct volfs *v) { return v->log_writes; }

/* ---- open: mark and replay ---- */

/* Follows the chain of header h: calls fn on each block that verifies (replay); or, without fn,
 * marks each in use and records it in log_blocks, with the unwritten block the last one
 * preallocated. Returns the blocks that verify. */
static int64_t walk_chain(struct volfs *v, const struct volfs_zil_header *h, uint8_t *blk,
                          int (*fn)(struct volfs *v, int ds, uint8_t *blk), int ds)
{
    int64_t n = 0;
    uint64_t at = h->first_blk, seq = h->seq;
    while (at >= v->first_data && at < v->nblocks && n < (int64_t)v->nblocks) {
        if (!fn) {
            vol_mark_used(v, at);
            (void)vol_defer_push(&v->log_blocks, at);
        }
        if (v->dev.read(v->dev.ctx, at, blk) < 0)
            break;
        struct volfs_log_block *lb = (struct volfs_log_block *)blk;
        if (lb->magic != VOLFS_LOG_MAGIC || lb->chain_guid != h->chain_guid || lb->seq != seq ||
            lb->used > VOLFS_LOG_SPACE || !vol_self_ok(blk))
            break;
        if (fn) {
            int r = fn(v, ds, blk);
            if (r < 0)
                return r;
        }
        n++;
        seq++;
        at = lb->next;
    }
    return n;
}

/* Applies the records of one log block to dataset ds. */
static int replay_block(struct volfs *v, int ds, uint8_t *blk)
{
    struct volfs_log_block *lb = (struct volfs_log_block *)blk;
    for (uint32_t used = 0; used + sizeof(struct volfs_log_rec) <= lb->used;) {
        struct volfs_log_rec *lr = (struct volfs_log_rec *)(blk + 64 + used);
        if (lr->len < sizeof(*lr) || lr->len % 8 || used + lr->len > lb->used ||
            (lr->type == VOLFS_LR_WRITE && lr->n > lr->len - sizeof(*lr)))
            return -EIO; /* checksummed, so written so: not ours */
        int64_t r = 0;
        if (lr->type == VOLFS_LR_WRITE)
            r = volfs_write(v, ds, lr->obj, lr->off, lr + 1, lr->n);
        else if (lr->type == VOLFS_LR_TRUNCATE)
            r = volfs_truncate(v, ds, lr->obj, lr->off);
        if (r < 0 && r != -ENOENT)
            return (int)r;
        used += lr->len;
    }
    return 0;
}

int vol_log_open(struct volfs *v)
{
    uint8_t *blk = kmalloc(VOLFS_BLOCK);
    if (!blk)
        return -ENOMEM;
    uint64_t n = ((struct volfs_dnode *)v->root->data)->size;
    int rc = 0;
    bool replayed = false;
    for (uint64_t ds = 0; ds < n && rc == 0; ds++) {
        char name[44];
        uint32_t flags;
        uint64_t txg;
        struct vbuf *os;
        if (volfs_dataset_info(v, (int)ds, name, &flags, &txg) < 0 ||
            (flags & VOLFS_DSL_SNAPSHOT) || vol_get_objset(v, (int)ds, &os) < 0)
            continue;
        struct volfs_zil_header h = *header_of(os);
        if (!h.first_blk || h.dataset != ds + 1)
            continue; /* no chain, or a copy of another dataset's header (a clone's) */
        /* In use until a commit replaces the header: marked, and freed with the chain. */
        int64_t found = walk_chain(v, &h, blk, 0, (int)ds);
        if (found <= 0)
            continue;
        v->replaying = true;
        int64_t r = walk_chain(v, &h, blk, replay_block, (int)ds);
        v->replaying = false;
        if (r < 0) {
            rc = (int)r;
            break;
        }
        /* Replayed: the header goes, so the next open does not replay it again. */
        memset(header_of(os), 0, sizeof(h));
        vb_dirty(os);
        replayed = true;
    }
    kfree(blk);
    if (rc == 0 && replayed && !v->ro)
        rc = volfs_commit(v);
    return rc;
}
