/* volfs ARC: the adaptive replacement cache of verified blocks (Megiddo and Modha's ARC, as in
 * ZFS), keyed by block address. T1 holds blocks seen once lately, T2 blocks seen at least twice;
 * B1 and B2 remember the addresses (not the data) of blocks recently evicted from each; a hit in
 * a ghost list moves the target size p of T1 towards the list that would have kept it. So a long
 * scan of blocks read once cannot push out a working set read again and again. Blocks are never
 * overwritten while live (copy-on-write), so an address names its contents until it is freed and
 * written anew: every write of a block goes through vol_arc_put, which replaces a cached copy. */
#include "errno.h"
#include "fs/volfs/internal.h"
#include "lib/string.h"
#include "mm/kheap.h"

enum { T1, T2, B1, B2, NLISTS };

struct arc_buf {
    struct arc_buf *prev, *next; /* in its list, most recent at the head */
    struct arc_buf *hnext;       /* hash chain */
    uint64_t blk;
    int list;
    uint8_t *data; /* VOLFS_BLOCK bytes in T1/T2; 0 in a ghost list */
};

struct vol_arc {
    uint64_t c, p; /* capacity and T1's target, in blocks */
    struct arc_buf *head[NLISTS], *tail[NLISTS];
    uint64_t len[NLISTS];
    struct arc_buf **hash;
    uint64_t nhash;
    struct volfs_arc_stats st;
};

static uint64_t slot(const struct vol_arc *a, uint64_t blk)
{
    return (blk * 0x9e3779b97f4a7c15ull >> 17) % a->nhash;
}

static struct arc_buf *find(struct vol_arc *a, uint64_t blk)
{
    for (struct arc_buf *b = a->hash[slot(a, blk)]; b; b = b->hnext)
        if (b->blk == blk)
            return b;
    return 0;
}

static void unlink_list(struct vol_arc *a, struct arc_buf *b)
{
    if (b->prev)
        b->prev->next = b->next;
    else
        a->head[b->list] = b->next;
    if (b->next)
        b->next->prev = b->prev;
    else
        a->tail[b->list] = b->prev;
    a->len[b->list]--;
}

static void push_head(struct vol_arc *a, struct arc_buf *b, int list)
{
    b->list = list;
    b->prev = 0;
    b->next = a->head[list];
    if (b->next)
        b->next->prev = b;
    else
        a->tail[list] = b;
    a->head[list] = b;
    a->len[list]++;
}

static void unhash(struct vol_arc *a, struct arc_buf *b)
{
    for (struct arc_buf **pp = &a->hash[slot(a, b->blk)]; *pp; pp = &(*pp)->hnext)
        if (*pp == b) {
            *pp = b->hnext;
            return;
        }
}

static void destroy(struct vol_arc *a, struct arc_buf *b)
{
    unlink_list(a, b);
    unhash(a, b);
    kfree(b->data);
    kfree(b);
}

/* ARC's REPLACE: moves the LRU block of T1 or T2 to its ghost list, keeping its data buffer
 * for the caller (0 when there was nothing to evict). */
static uint8_t *replace(struct vol_arc *a, bool in_b2)
{
    int from = a->len[T1] > 0 && (a->len[T1] > a->p || (in_b2 && a->len[T1] == a->p)) ? T1 : T2;
    if (!a->len[from])
        from = from == T1 ? T2 : T1;
    struct arc_buf *b = a->tail[from];
    if (!b)
        return 0;
    uint8_t *data = b->data;
    b->data = 0;
    unlink_list(a, b);
    push_head(a, b, from == T1 ? B1 : B2);
    a->st.evictions++;
    return data;
}

static void drop_lru(struct vol_arc *a, int list)
{
    if (a->tail[list])
        destroy(a, a->tail[list]);
}

int vol_arc_init(struct volfs *v, uint64_t bytes)
{
    vol_arc_free(v);
    uint64_t c = bytes / VOLFS_BLOCK;
    if (c < 16)
        return 0; /* no cache */
    struct vol_arc *a = kzalloc(sizeof(*a));
    if (!a)
        return -ENOMEM;
    a->c = c;
    a->nhash = c * 2 + 1;
    a->hash = kzalloc(a->nhash * sizeof(*a->hash));
    if (!a->hash) {
        kfree(a);
        return -ENOMEM;
    }
    a->st.max_bytes = c * VOLFS_BLOCK;
    v->arc = a;
    return 0;
}

void vol_arc_free(struct volfs *v)
{
    struct vol_arc *a = v->arc;
    if (!a)
        return;
    for (int l = 0; l < NLISTS; l++)
        while (a->head[l])
            destroy(a, a->head[l]);
    kfree(a->hash);
    kfree(a);
    v->arc = 0;
}

bool vol_arc_get(struct volfs *v, uint64_t blk, void *buf)
{
    struct vol_arc *a = v->arc;
    if (!a)
        return false;
    struct arc_buf *b = find(a, blk);
    if (!b || b->list == B1 || b->list == B2) {
        a->st.misses++;
        return false;
    }
    memcpy(buf, b->data, VOLFS_BLOCK);
    unlink_list(a, b); /* a second hit makes it frequent */
    push_head(a, b, T2);
    a->st.hits++;
    return true;
}

void vol_arc_put(struct volfs *v, uint64_t blk, const void *data)
{
    struct vol_arc *a = v->arc;
    if (!a)
        return;
    struct arc_buf *b = find(a, blk);
    if (b && (b->list == T1 || b->list == T2)) { /* rewritten in place (a repair): same key */
        memcpy(b->data, data, VOLFS_BLOCK);
        return;
    }
    uint8_t *buf = 0;
    if (b) { /* a ghost hit: adapt p towards the list that lost it, then make room */
        bool in_b1 = b->list == B1;
        uint64_t d1 = a->len[B2] > a->len[B1] && a->len[B1] ? a->len[B2] / a->len[B1] : 1;
        uint64_t d2 = a->len[B1] > a->len[B2] && a->len[B2] ? a->len[B1] / a->len[B2] : 1;
        if (in_b1) {
            a->p = a->p + d1 < a->c ? a->p + d1 : a->c;
            a->st.ghost_hits_recent++;
        } else {
            a->p = a->p > d2 ? a->p - d2 : 0;
            a->st.ghost_hits_frequent++;
        }
        if (a->len[T1] + a->len[T2] >= a->c)
            buf = replace(a, !in_b1);
        unlink_list(a, b);
        b->data = buf ? buf : kmalloc(VOLFS_BLOCK);
        if (!b->data) {
            unhash(a, b);
            kfree(b);
            return;
        }
        memcpy(b->data, data, VOLFS_BLOCK);
        push_head(a, b, T2);
        return;
    }
    /* A new block: ARC's case IV. */
    uint64_t l1 = a->len[T1] + a->len[B1];
    uint64_t total = l1 + a->len[T2] + a->len[B2];
    if (l1 >= a->c) {
        if (a->len[T1] < a->c) {
            drop_lru(a, B1);
            buf = replace(a, false);
        } else { /* B1 is empty: T1's LRU goes for good */
            struct arc_buf *old = a->tail[T1];
            buf = old->data;
            old->data = 0;
            destroy(a, old);
            a->st.evictions++;
        }
    } else if (total >= a->c) {
        if (total >= 2 * a->c)
            drop_lru(a, B2);
        if (a->len[T1] + a->len[T2] >= a->c)
            buf = replace(a, false);
    }
    b = kzalloc(sizeof(*b));
    if (!b) {
        kfree(buf);
        return;
    }
    b->blk = blk;
    b->data = buf ? buf : kmalloc(VOLFS_BLOCK);
    if (!b->data) {
        kfree(b);
        return;
    }
    memcpy(b->data, data, VOLFS_BLOCK);
    b->hnext = a->hash[slot(a, blk)];
    a->hash[slot(a, blk)] = b;
    push_head(a, b, T1);
}

void vol_arc_forget(struct volfs *v, uint64_t blk)
{
    struct vol_arc *a = v->arc;
    struct arc_buf *b = a ? find(a, blk) : 0;
    if (b && (b->list == T1 || b->list == T2))
        destroy(a, b);
}

void volfs_arc_stats(const struct volfs *v, struct volfs_arc_stats *out)
{
    memset(out, 0, sizeof(*out));
    const struct vol_arc *a = v->arc;
    if (!a)
        return;
    *out = a->st;
    out->size_bytes = (a->len[T1] + a->len[T2]) * VOLFS_BLOCK;
    out->target_recent_bytes = a->p * VOLFS_BLOCK;
    out->recent = a->len[T1];
    out->frequent = a->len[T2];
    out->ghost_recent = a->len[B1];
    out->ghost_frequent = a->len[B2];
}

int volfs_set_cache(struct volfs *v, uint64_t bytes) { return vol_arc_init(v, bytes); }
