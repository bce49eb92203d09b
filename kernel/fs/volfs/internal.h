/* volfs internals shared by its files: the in-memory block buffers (a copy of the part of the
 * on-disk tree in use, dirty ones rewritten copy-on-write at commit), the volume state, and the
 * helpers pool.c gives object.c and check.c. */
#pragma once
#include "fs/volfs/volfs.h"

/* The format fuzzer (tests/kernel/test_volfs.py) builds volfs with -DVOLFS_FUZZ: every checksum
 * matches, so mutated structures reach every parser instead of stopping at the first checksum. */
#ifdef VOLFS_FUZZ
#define vol_cksum_eq(a, b) ((void)(a), (void)(b), true)
#else
#define vol_cksum_eq(a, b) (memcmp((a), (b), sizeof(struct volfs_cksum)) == 0)
#endif

struct vbuf {
    struct vbuf *parent; /* 0 for the MOS block: its pointer is v->rootbp */
    uint32_t slot;       /* which pointer of the parent points here */
    uint8_t type, level;
    bool dirty;
    int ds;         /* dataset whose tree holds it, -1 for the MOS */
    uint64_t blkid; /* index among the level's blocks of its object */
    struct volfs_bp bp; /* the pointer it was read through: its copies are freed on rewrite */
    uint8_t *data;      /* VOLFS_BLOCK bytes */
    struct vbuf **kids; /* nslots(type) entries, loaded children */
};

struct volfs_defer {
    uint64_t *blk;
    uint64_t n, cap;
};

struct volfs {
    struct volfs_bdev dev;
    bool ro, broken;
    uint32_t version;    /* the label's: 1 (free space by a walk at open) or 2 (space map) */
    uint64_t guid, nblocks;
    uint64_t first_data; /* first allocatable block */
    uint64_t sm_start, sm_pages; /* v2: the two space-map areas (format.h) */
    uint64_t txg; /* newest committed txg */
    uint64_t now;
    struct volfs_bp rootbp;
    struct vbuf *root;
    uint8_t *nib;      /* the allocation state, 4 bits per block (VOLFS_SM_*), as on disk */
    uint8_t *sm_dirty; /* 2 bits per space-map page: changed since area 0 / area 1 was written */
    bool sm_loaded;    /* open read the space map (no walk) */
    uint64_t cursor, nfree;
    struct volfs_defer defer[VOLFS_KEEP_TXGS];
    uint64_t errors, repaired;
    uint64_t dirty_data; /* dirty file blocks, committed when too many */
    uint64_t *keep; /* per dataset: blocks born at or before it belong to a snapshot */
    int nkeep;
    bool (*busy)(void *ctx, uint64_t obj); /* volfs_set_busy */
    void *busy_ctx;

    /* The intent log (log.c) of one dataset, log_ds (-1: none). */
    int log_ds;
    bool replaying;    /* open applies a log: writes go to memory even on a read-only volume */
    bool log_commit;   /* the open txg changed names or attributes: an fsync commits it */
    bool log_on;       /* a chain is committed for log_ds: fsync may write log blocks */
    struct vol_lrec *log_head, **log_tail; /* records since the last commit or log write */
    uint64_t log_bytes;                    /* their payload */
    uint64_t log_next, log_seq, log_guid;  /* the next block's address and seq, the chain guid */
    struct volfs_defer log_blocks;         /* blocks of the committed chain: freed with it */
    uint64_t log_writes;                   /* log blocks written (statistics) */
    struct vol_arc *arc;                   /* the block cache (arc.c), or 0 */
};

struct vol_lrec {
    struct vol_lrec *next;
    uint32_t type;
    uint64_t obj, off, n;
    uint8_t data[]; /* n bytes for a WRITE */
};

uint32_t vb_nslots(uint8_t type);
uint32_t vb_slot_off(uint8_t type, uint32_t slot);
static inline struct volfs_bp *vb_slot_bp(struct vbuf *b, uint32_t slot)
{
    return (struct volfs_bp *)(b->data + vb_slot_off(b->type, slot));
}
static inline bool bp_hole(const struct volfs_bp *bp) { return bp->dva[0] == 0; }

/* Reads the block bp names into buf (VOLFS_BLOCK bytes), verifying its checksum, falling back to
 * the ditto copy and repairing the first from it. -EIO when no copy verifies. */
int vol_read_bp(struct volfs *v, const struct volfs_bp *bp, void *buf);
/* The same, through the ARC only with cache (O_DIRECT reads neither look in it nor fill it). */
int vol_read_bp_cache(struct volfs *v, const struct volfs_bp *bp, void *buf, bool cache);
int vol_write_direct(struct volfs *v, struct vbuf *p, uint32_t slot, uint8_t type,
                     const void *data);
/* The child at slot of p (loaded and cached), expected of type/level. With create a hole becomes
 * a new zeroed dirty block (noread: an existing block is not read, the caller overwrites it all).
 * *out is 0 for a hole without create. */
int vb_child(struct volfs *v, struct vbuf *p, uint32_t slot, uint8_t type, uint8_t level,
             bool create, bool noread, struct vbuf **out);
void vb_dirty(struct vbuf *b);
void vb_drop(struct vbuf *b);
/* Frees the subtree under slot of p (in memory where loaded, else on disk), leaving a hole. */
void vb_free_slot(struct volfs *v, struct vbuf *p, uint32_t slot);
int vol_check_writable(struct volfs *v);
void vol_recompute_keep(struct volfs *v);
/* Frees the on-disk tree bp names (a dataset's objset) as dataset ds's: blocks a snapshot of ds
 * owns (born at or before its keep txg) stay. */
void vol_free_tree(struct volfs *v, int ds, const struct volfs_bp *bp);
/* Marks in bm (one bit per block) every block copy reachable from bp born after `floor` (a
 * subtree born at or before it is skipped whole: everything under it is as old); returns how
 * many copies were newly marked, or -EIO when a block on the way cannot be read. */
int64_t vol_mark(struct volfs *v, const struct volfs_bp *bp, uint64_t floor, uint8_t *bm);
/* After a dataset entry whose objset was `gone` has been removed and committed: the blocks of
 * that tree no remaining entry reaches are freed as a txg's frees are (VOLFS_KEEP_TXGS later). */
int vol_free_unreached(struct volfs *v, const struct volfs_bp *gone);
/* arc.c: blocks by address. Every write of a block calls vol_arc_put (or vol_arc_forget). */
int vol_arc_init(struct volfs *v, uint64_t bytes);
void vol_arc_free(struct volfs *v);
bool vol_arc_get(struct volfs *v, uint64_t blk, void *buf);
void vol_arc_put(struct volfs *v, uint64_t blk, const void *data);
void vol_arc_forget(struct volfs *v, uint64_t blk);

/* log.c: the hooks object.c and pool.c call. */
void vol_log_write(struct volfs *v, int ds, uint64_t obj, uint64_t off, const void *buf,
                   uint64_t n);
void vol_log_truncate(struct volfs *v, int ds, uint64_t obj, uint64_t size);
void vol_log_namespace(struct volfs *v, int ds); /* a change the log does not carry */
/* Before a commit writes the trees: log_ds's objset gets a header naming a new chain. */
int vol_log_new_chain(struct volfs *v, uint64_t txg);
/* After a commit succeeded: the records are in the txg; the new chain is the current one. */
void vol_log_committed(struct volfs *v);
/* At open: marks the chains the newest state names in use and replays them. */
int vol_log_open(struct volfs *v);
/* At a writable open (v4): frees the objects the datasets' orphan tables name that have no name
 * left (open when the volume was last used, never released: a crash), and commits. */
int vol_free_orphans(struct volfs *v);
int vol_alloc(struct volfs *v, uint64_t hint, uint64_t *out);
bool vol_block_free(const struct volfs *v, uint64_t blk);
void vol_mark_used(struct volfs *v, uint64_t blk);
void vol_defer_free(struct volfs *v, uint64_t blk);
int vol_defer_push(struct volfs_defer *d, uint64_t blk);
void vol_self_seal(uint8_t *blk);
bool vol_self_ok(uint8_t *blk);
/* Dataset table entry i (its block in *b); with create the table grows to hold it. */
int vol_dsl_entry(struct volfs *v, uint64_t i, bool create, struct vbuf **b,
                  struct volfs_dsl_entry **e);
/* The objset block of dataset ds, loaded. */
int vol_get_objset(struct volfs *v, int ds, struct vbuf **os);
