/* Host tests of volfs (kernel/fs/volfs: docs/volume-format.md) on a block device in memory that
 * records every write and flush. Run with one argument; prints "ok":
 *   model     random file operations and commits against a model kept here, reopened and compared
 *   crash     every prefix of the write sequence (the last flush epoch applied as a random subset,
 *             some writes torn) opens as exactly the last committed txg, and checks clean
 *   bitflip   a bit flipped in each block in turn: reads return the right data or EIO, never wrong
 *             data; check counts it; metadata is repaired from its ditto copy
 *   snapshot  a snapshot keeps its data while the dataset changes and frees; reopen keeps both
 *   datasets  clones, rollback and destroy against models; space by birth txg; the free space
 *             in memory is what open derives; everything destroyed gives the space back
 *   arc       a working set read again and again stays cached through a long scan read once
 *             (the ARC's frequency list and ghost lists); cached reads are never stale
 *   mkcorpus DIR        writes the fuzzer's seed volumes (tests/kernel/volfs_corpus/)
 *   fuzz SEED N FILE... mutates the volumes N times each (built with -DVOLFS_FUZZ: checksums
 *             always match, so the mutations reach the parsers) and runs every read path, then
 *             changes and commits; ASan/UBSan and the test's time limit are the oracle
 *   log       records appended and fsync'd through the intent log, a crash at every write:
 *             the file is a prefix of what was appended, at least all an fsync returned for
 *   spacemap  v2: open reads the allocation state from the space map, the same state a walk of
 *             the trees derives (a damaged map falls back to the walk), in as many device reads
 *             whatever the volume holds; v1 volumes still open, change and commit as v1
 *   bigdir    v3 hashed directories (and v2's linear ones): thousands of names created, looked
 *             up, renamed (splits in between), listed once each by a readdir resumed entry by
 *             entry while names are created and removed, removed all, across commits
 *   orphans   v4: files unlinked while open when the volume was last used (a crash, no
 *             release) are freed by the next writable open; a v3 volume keeps them
 *   direct    O_DIRECT reads and writes against a model: whole and part blocks, mixed with
 *             buffered ones, data past the ARC (metadata through it), written to the
 *             device at once, committed and reopened; the volume checks clean */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "errno.h"
#include "fs/volfs/internal.h" /* the spacemap test compares allocation states */
#include "fs/volfs/volfs.h"

#define EXPECT(cond)                                                                               \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: %s\n", __FILE__, __LINE__, #cond);                             \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)
#define EXPECT_EQ(a, b)                                                                            \
    do {                                                                                           \
        long long a_ = (long long)(a), b_ = (long long)(b);                                        \
        if (a_ != b_) {                                                                            \
            fprintf(stderr, "%s:%d: %s == %lld, want %lld\n", __FILE__, __LINE__, #a, a_, b_);     \
            exit(1);                                                                               \
        }                                                                                          \
    } while (0)

void *kmalloc(size_t size) { return malloc(size ? size : 1); }
void *kzalloc(size_t size) { return calloc(1, size ? size : 1); }
void kfree(void *p) { free(p); }

/* ---- a device in memory that logs its writes ---- */

struct logent {
    uint64_t blk; /* ~0: a flush */
    uint8_t *data;
};

struct memdev {
    uint8_t *img;
    uint64_t nblocks;
    struct logent *log;
    size_t nlog, caplog;
    bool logging;
    uint64_t discarded;
};

static int md_read(void *ctx, uint64_t blk, void *buf)
{
    struct memdev *m = ctx;
    if (blk >= m->nblocks)
        return -EIO;
    memcpy(buf, m->img + blk * VOLFS_BLOCK, VOLFS_BLOCK);
    return 0;
}

static void md_log(struct memdev *m, uint64_t blk, const void *buf)
{
    if (!m->logging)
        return;
    if (m->nlog == m->caplog) {
        m->caplog = m->caplog ? m->caplog * 2 : 256;
        m->log = realloc(m->log, m->caplog * sizeof(*m->log));
    }
    m->log[m->nlog].blk = blk;
    m->log[m->nlog].data = buf ? malloc(VOLFS_BLOCK) : 0;
    if (buf)
        memcpy(m->log[m->nlog].data, buf, VOLFS_BLOCK);
    m->nlog++;
}

static int md_write(void *ctx, uint64_t blk, const void *buf)
{
    struct memdev *m = ctx;
    if (blk >= m->nblocks)
        return -EIO;
    memcpy(m->img + blk * VOLFS_BLOCK, buf, VOLFS_BLOCK);
    md_log(m, blk, buf);
    return 0;
}

static int md_flush(void *ctx)
{
    md_log(ctx, ~0ull, 0);
    return 0;
}

/* A discarded block reads as zeros from then on: discarding a block still in use would show as
 * a checksum error in every test. */
static int md_discard(void *ctx, uint64_t blk, uint64_t n)
{
    struct memdev *m = ctx;
    if (blk >= m->nblocks || n > m->nblocks - blk)
        return -EIO;
    memset(m->img + blk * VOLFS_BLOCK, 0, n * VOLFS_BLOCK);
    m->discarded += n;
    return 0;
}

static struct memdev *md_new(uint64_t nblocks)
{
    struct memdev *m = calloc(1, sizeof(*m));
    m->nblocks = nblocks;
    m->img = calloc(nblocks, VOLFS_BLOCK);
    return m;
}

static struct memdev *md_clone(const struct memdev *src)
{
    struct memdev *m = md_new(src->nblocks);
    memcpy(m->img, src->img, src->nblocks * VOLFS_BLOCK);
    return m;
}

static void md_free(struct memdev *m)
{
    for (size_t i = 0; i < m->nlog; i++)
        free(m->log[i].data);
    free(m->log);
    free(m->img);
    free(m);
}

static struct volfs_bdev bdev(struct memdev *m)
{
    struct volfs_bdev d = {m, m->nblocks, md_read, md_write, md_flush, md_discard};
    return d;
}

static struct volfs *vopen(struct memdev *m, bool ro)
{
    struct volfs_bdev d = bdev(m);
    struct volfs *v;
    int r = volfs_open(&d, ro, &v);
    if (r < 0) {
        fprintf(stderr, "volfs_open: %d\n", r);
        exit(1);
    }
    return v;
}

static struct memdev *fresh(uint64_t nblocks)
{
    struct memdev *m = md_new(nblocks);
    struct volfs_bdev d = bdev(m);
    EXPECT_EQ(volfs_format(&d, "test", 0x1234abcdull, 1000), 0);
    return m;
}

/* ---- a model of a flat directory of files ---- */

#define NFILES 6
#define MAXLEN (300 * 1024)

struct model {
    bool exists[NFILES];
    uint64_t size[NFILES];
    uint8_t *data[NFILES];
    uint64_t txg;
};

static void model_init(struct model *mo)
{
    memset(mo, 0, sizeof(*mo));
    for (int i = 0; i < NFILES; i++)
        mo->data[i] = calloc(1, MAXLEN);
}

static void model_free(struct model *mo)
{
    for (int i = 0; i < NFILES; i++)
        free(mo->data[i]);
}

static void model_copy(struct model *dst, const struct model *src)
{
    for (int i = 0; i < NFILES; i++) {
        dst->exists[i] = src->exists[i];
        dst->size[i] = src->size[i];
        memcpy(dst->data[i], src->data[i], MAXLEN);
    }
    dst->txg = src->txg;
}

static void fname(char *buf, int i) { sprintf(buf, "file-%d", i); }

static int count_cb(void *arg, const char *name, uint64_t obj, uint8_t type)
{
    (void)name;
    (void)obj;
    (void)type;
    ++*(int *)arg;
    return 0;
}

/* The volume's root dataset holds exactly the model's files. */
static void model_compare(struct volfs *v, int ds, const struct model *mo)
{
    static uint8_t buf[MAXLEN];
    int n = 0, want = 0;
    for (int i = 0; i < NFILES; i++) {
        char nm[32];
        fname(nm, i);
        int64_t obj = volfs_lookup(v, ds, VOLFS_ROOT_OBJ, nm);
        if (!mo->exists[i]) {
            EXPECT_EQ(obj, -ENOENT);
            continue;
        }
        want++;
        EXPECT(obj > 0);
        struct volfs_stat st;
        EXPECT_EQ(volfs_stat(v, ds, (uint64_t)obj, &st), 0);
        EXPECT_EQ(st.size, mo->size[i]);
        memset(buf, 0xee, sizeof(buf));
        EXPECT_EQ(volfs_read(v, ds, (uint64_t)obj, 0, buf, MAXLEN), (int64_t)mo->size[i]);
        EXPECT(memcmp(buf, mo->data[i], mo->size[i]) == 0);
    }
    EXPECT_EQ(volfs_readdir(v, ds, VOLFS_ROOT_OBJ, count_cb, &n), 0);
    EXPECT_EQ(n, want);
}

/* One random operation on dataset ds and the model alike. */
static void random_op_in(struct volfs *v, int ds, struct model *mo)
{
    int i = rand() % NFILES;
    char nm[32];
    fname(nm, i);
    if (!mo->exists[i]) {
        EXPECT(volfs_create(v, ds, VOLFS_ROOT_OBJ, nm, 0100644) > 0);
        mo->exists[i] = true;
        mo->size[i] = 0;
        return;
    }
    int64_t obj = volfs_lookup(v, ds, VOLFS_ROOT_OBJ, nm);
    EXPECT(obj > 0);
    int what = rand() % 10;
    if (what < 6) {
        uint64_t off = (uint64_t)rand() % (MAXLEN - 1);
        uint64_t len = 1 + (uint64_t)rand() % (what < 3 ? 100 : 20000);
        if (off + len > MAXLEN)
            len = MAXLEN - off;
        uint8_t *src = malloc(len);
        for (uint64_t k = 0; k < len; k++)
            src[k] = (uint8_t)rand();
        EXPECT_EQ(volfs_write(v, ds, (uint64_t)obj, off, src, len), (int64_t)len);
        if (off > mo->size[i])
            memset(mo->data[i] + mo->size[i], 0, off - mo->size[i]);
        memcpy(mo->data[i] + off, src, len);
        if (off + len > mo->size[i])
            mo->size[i] = off + len;
        free(src);
    } else if (what < 8) {
        uint64_t size = (uint64_t)rand() % MAXLEN;
        EXPECT_EQ(volfs_truncate(v, ds, (uint64_t)obj, size), 0);
        if (size > mo->size[i])
            memset(mo->data[i] + mo->size[i], 0, size - mo->size[i]);
        mo->size[i] = size;
    } else if (what == 8) { /* rename over another name, taken or not */
        int j = rand() % NFILES;
        char nj[32];
        fname(nj, j);
        EXPECT_EQ(volfs_rename(v, ds, VOLFS_ROOT_OBJ, nm, VOLFS_ROOT_OBJ, nj), 0);
        if (j != i) {
            memcpy(mo->data[j], mo->data[i], MAXLEN);
            mo->size[j] = mo->size[i];
            mo->exists[j] = true;
            mo->exists[i] = false;
            memset(mo->data[i], 0, MAXLEN);
        }
    } else {
        EXPECT_EQ(volfs_unlink(v, ds, VOLFS_ROOT_OBJ, nm), 0);
        mo->exists[i] = false;
        memset(mo->data[i], 0, MAXLEN);
    }
}

static void random_op(struct volfs *v, struct model *mo) { random_op_in(v, 0, mo); }

static void clean_check(struct volfs *v)
{
    struct volfs_check_report r;
    EXPECT_EQ(volfs_check(v, false, &r), 0);
    EXPECT_EQ(r.bad, 0);
    EXPECT_EQ(r.unrecoverable, 0);
    EXPECT_EQ(r.unmarked, 0);
    EXPECT(r.blocks > 0);
}

static void test_model(void)
{
    struct memdev *m = fresh(4096);
    struct volfs *v = vopen(m, false);
    uint64_t free0 = volfs_free_blocks(v);
    struct model mo;
    model_init(&mo);
    srand(7);
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 1 + rand() % 12; k++)
            random_op(v, &mo);
        model_compare(v, 0, &mo); /* uncommitted state reads back too */
        EXPECT_EQ(volfs_commit(v), 0);
        /* The free space kept in memory is the one open derives from the newest uberblocks. */
        struct volfs *ro = vopen(m, true);
        EXPECT_EQ(volfs_free_blocks(v), volfs_free_blocks(ro));
        volfs_close(ro);
        if (round % 5 == 4) {
            volfs_close(v);
            v = vopen(m, false);
            model_compare(v, 0, &mo);
            clean_check(v);
        }
    }
    /* A directory tree, a sparse file far out (tree levels added on top), the errors of Linux. */
    int64_t d = volfs_create(v, 0, VOLFS_ROOT_OBJ, "dir", 040755);
    EXPECT(d > 0);
    int64_t f = volfs_create(v, 0, (uint64_t)d, "sparse", 0100644);
    EXPECT(f > 0);
    EXPECT_EQ(volfs_create(v, 0, (uint64_t)d, "sparse", 0100644), -EEXIST);
    EXPECT_EQ(volfs_create(v, 0, (uint64_t)f, "x", 0100644), -ENOTDIR);
    EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "dir"), -ENOTEMPTY);
    EXPECT_EQ(volfs_write(v, 0, (uint64_t)f, 5ull << 30, "tail", 4), 4);
    EXPECT_EQ(volfs_write(v, 0, (uint64_t)f, 4096, "head", 4), 4);
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    v = vopen(m, false);
    d = volfs_lookup(v, 0, VOLFS_ROOT_OBJ, "dir");
    f = volfs_lookup(v, 0, (uint64_t)d, "sparse");
    char buf[8] = {0};
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)f, 5ull << 30, buf, 8), 4);
    EXPECT(memcmp(buf, "tail", 4) == 0);
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)f, 4096, buf, 4), 4);
    EXPECT(memcmp(buf, "head", 4) == 0);
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)f, 1ull << 30, buf, 8), 8);
    EXPECT(memcmp(buf, "\0\0\0\0\0\0\0\0", 8) == 0);
    /* SEEK_DATA/SEEK_HOLE: data is the blocks written. */
    EXPECT_EQ(volfs_seek_data(v, 0, (uint64_t)f, 0, false), 4096);
    EXPECT_EQ(volfs_seek_data(v, 0, (uint64_t)f, 0, true), 0);
    EXPECT_EQ(volfs_seek_data(v, 0, (uint64_t)f, 4100, true), 8192);
    EXPECT_EQ(volfs_seek_data(v, 0, (uint64_t)f, 8192, false), 5ull << 30);
    EXPECT_EQ(volfs_seek_data(v, 0, (uint64_t)f, (5ull << 30) + 1, true), (5ull << 30) + 4);
    EXPECT_EQ(volfs_seek_data(v, 0, (uint64_t)f, (5ull << 30) + 1, false), (5ull << 30) + 1);
    clean_check(v);
    /* Everything deleted: the space comes back once the deferred frees are past. */
    EXPECT_EQ(volfs_unlink(v, 0, (uint64_t)d, "sparse"), 0);
    EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "dir"), 0);
    for (int i = 0; i < NFILES; i++) {
        char nm[32];
        fname(nm, i);
        if (mo.exists[i])
            EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, nm), 0);
    }
    for (int i = 0; i < 6; i++) {
        volfs_set_time(v, 2000 + (uint64_t)i); /* a change each time: commits are not empty */
        EXPECT(volfs_create(v, 0, VOLFS_ROOT_OBJ, "t", 0100644) > 0);
        EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "t"), 0);
        EXPECT_EQ(volfs_commit(v), 0);
    }
    /* All file data came back: what is in use is the live metadata and, until their frees are
     * past, the copies the last VOLFS_KEEP_TXGS - 1 txgs replaced. */
    struct volfs_check_report r;
    EXPECT_EQ(volfs_check(v, false, &r), 0);
    EXPECT(r.used_blocks < 40);
    EXPECT(volfs_free_blocks(v) + VOLFS_KEEP_TXGS * r.used_blocks >= free0);
    volfs_close(v);
    fprintf(stderr, "model: %llu blocks discarded\n", (unsigned long long)m->discarded);
    EXPECT(m->discarded > 100); /* the freed blocks were discarded (and read as zeros) */
    v = vopen(m, false);
    EXPECT(volfs_free_blocks(v) + VOLFS_KEEP_TXGS * r.used_blocks >= free0);
    clean_check(v);
    volfs_close(v);
    model_free(&mo);
    md_free(m);
}

/* ---- crash at any instant ---- */

static void test_crash(void)
{
    struct memdev *m = fresh(2048);
    struct memdev *base = md_clone(m);
    struct volfs *v = vopen(m, false);
    m->logging = true;
    enum { ROUNDS = 14 };
    struct model states[ROUNDS + 1];
    struct model mo;
    model_init(&mo);
    mo.txg = volfs_txg(v);
    model_init(&states[0]);
    model_copy(&states[0], &mo);
    srand(11);
    for (int round = 1; round <= ROUNDS; round++) {
        for (int k = 0; k < 1 + rand() % 6; k++)
            random_op(v, &mo);
        EXPECT_EQ(volfs_commit(v), 0);
        mo.txg = volfs_txg(v);
        model_init(&states[round]);
        model_copy(&states[round], &mo);
    }
    volfs_close(v);
    fprintf(stderr, "crash: %zu writes and flushes\n", m->nlog);
    srand(3);
    for (size_t k = 0; k <= m->nlog; k++) {
        struct memdev *c = md_clone(base);
        size_t epoch = 0; /* first write after the last flush before k */
        for (size_t i = 0; i < k; i++)
            if (m->log[i].blk == ~0ull)
                epoch = i + 1;
        uint64_t newest = states[0].txg;
        for (size_t i = 0; i < k; i++) {
            struct logent *e = &m->log[i];
            if (e->blk == ~0ull)
                continue;
            int how = i < epoch ? 0 : rand() % 3; /* 0 whole, 1 lost, 2 torn (first half) */
            if (how == 1)
                continue;
            memcpy(c->img + e->blk * VOLFS_BLOCK, e->data, how == 2 ? 2048 : VOLFS_BLOCK);
            if (e->blk >= 1 && e->blk <= VOLFS_RING && how == 0) {
                uint64_t txg;
                memcpy(&txg, e->data + 24, 8);
                if (txg > newest)
                    newest = txg;
            }
        }
        struct volfs *cv = vopen(c, false);
        int which = -1;
        for (int s = 0; s <= ROUNDS; s++)
            if (states[s].txg == newest)
                which = s;
        EXPECT(which >= 0);
        model_compare(cv, 0, &states[which]);
        clean_check(cv);
        /* And the survivor takes new commits. */
        EXPECT(volfs_create(cv, 0, VOLFS_ROOT_OBJ, "after", 0100644) > 0);
        EXPECT_EQ(volfs_commit(cv), 0);
        volfs_close(cv);
        cv = vopen(c, true);
        EXPECT(volfs_lookup(cv, 0, VOLFS_ROOT_OBJ, "after") > 0);
        volfs_close(cv);
        md_free(c);
    }
    for (int s = 0; s <= ROUNDS; s++)
        model_free(&states[s]);
    model_free(&mo);
    md_free(base);
    md_free(m);
}

/* ---- a flipped bit ---- */

static void test_bitflip(void)
{
    struct memdev *m = fresh(512);
    struct volfs *v = vopen(m, false);
    struct model mo;
    model_init(&mo);
    srand(5);
    for (int round = 0; round < 6; round++) {
        for (int k = 0; k < 4; k++)
            random_op(v, &mo);
        EXPECT_EQ(volfs_commit(v), 0);
    }
    volfs_close(v);
    static uint8_t buf[MAXLEN];
    int data_hits = 0, meta_hits = 0;
    for (uint64_t b = VOLFS_FIRST_DATA; b < m->nblocks; b++) {
        struct memdev *c = md_clone(m);
        c->img[b * VOLFS_BLOCK + (b * 37) % VOLFS_BLOCK] ^= (uint8_t)(1u << (b % 8));
        struct volfs *cv = vopen(c, true);
        struct volfs_check_report r;
        EXPECT_EQ(volfs_check(cv, false, &r), 0);
        EXPECT(r.bad <= 1);
        bool eio = false;
        for (int i = 0; i < NFILES; i++) {
            char nm[32];
            fname(nm, i);
            int64_t obj = volfs_lookup(cv, 0, VOLFS_ROOT_OBJ, nm);
            if (!mo.exists[i]) {
                EXPECT_EQ(obj, -ENOENT);
                continue;
            }
            EXPECT(obj > 0); /* directories have ditto copies */
            int64_t got = volfs_read(cv, 0, (uint64_t)obj, 0, buf, MAXLEN);
            if (got == -EIO) {
                eio = true;
                continue;
            }
            EXPECT_EQ(got, (int64_t)mo.size[i]);
            EXPECT(memcmp(buf, mo.data[i], mo.size[i]) == 0); /* never wrong data */
        }
        if (r.bad == 0)
            EXPECT(!eio); /* a block outside the committed tree */
        if (eio) {
            EXPECT_EQ(r.unrecoverable, 1);
            data_hits++;
        } else if (r.bad) {
            EXPECT_EQ(r.unrecoverable, 0); /* metadata: the ditto copy answered */
            meta_hits++;
        }
        EXPECT(volfs_errors(cv) >= (eio ? 1u : 0u));
        volfs_close(cv);
        if (r.bad && !r.unrecoverable) {
            cv = vopen(c, false);
            EXPECT_EQ(volfs_check(cv, true, &r), 0);
            EXPECT(r.repaired <= 1); /* opening may already have repaired it */
            clean_check(cv);
            model_compare(cv, 0, &mo);
            volfs_close(cv);
        }
        md_free(c);
    }
    fprintf(stderr, "bitflip: %d data blocks gave EIO, %d metadata blocks were repaired\n",
            data_hits, meta_hits);
    EXPECT(data_hits > 0);
    EXPECT(meta_hits > 0);
    model_free(&mo);
    md_free(m);
}

/* ---- snapshots ---- */

static void test_snapshot(void)
{
    struct memdev *m = fresh(4096);
    struct volfs *v = vopen(m, false);
    struct model mo, snap;
    model_init(&mo);
    model_init(&snap);
    srand(9);
    for (int k = 0; k < 30; k++)
        random_op(v, &mo);
    EXPECT_EQ(volfs_snapshot(v, "root", "s1"), 0);
    EXPECT_EQ(volfs_snapshot(v, "root", "s1"), -EEXIST);
    model_copy(&snap, &mo);
    int s = volfs_dataset(v, "root@s1");
    EXPECT(s > 0);
    EXPECT_EQ(volfs_create(v, s, VOLFS_ROOT_OBJ, "no", 0100644), -EROFS);
    for (int round = 0; round < 10; round++) { /* past the deferred frees */
        for (int k = 0; k < 10; k++)
            random_op(v, &mo);
        EXPECT_EQ(volfs_commit(v), 0);
        model_compare(v, s, &snap);
        model_compare(v, 0, &mo);
    }
    volfs_close(v);
    v = vopen(m, false);
    s = volfs_dataset(v, "root@s1");
    EXPECT(s > 0);
    model_compare(v, s, &snap);
    model_compare(v, 0, &mo);
    clean_check(v);
    volfs_close(v);
    model_free(&mo);
    model_free(&snap);
    md_free(m);
}

/* ---- clones, rollback, destroy, space ---- */

/* The free space the open volume keeps equals what a fresh open derives from the disk. */
static void free_matches_open(struct memdev *m, struct volfs *v)
{
    struct volfs *ro = vopen(m, true);
    EXPECT_EQ(volfs_free_blocks(v), volfs_free_blocks(ro));
    volfs_close(ro);
}

static struct volfs_space space(struct volfs *v, const char *name)
{
    struct volfs_space sp;
    int ds = volfs_dataset(v, name);
    EXPECT(ds >= 0);
    EXPECT_EQ(volfs_space(v, ds, &sp), 0);
    return sp;
}

static void test_datasets(void)
{
    struct memdev *m = fresh(8192);
    struct volfs *v = vopen(m, false);
    uint64_t free0 = volfs_free_blocks(v);
    struct model live, s1, clone;
    model_init(&live);
    model_init(&s1);
    model_init(&clone);
    srand(21);
    for (int k = 0; k < 40; k++)
        random_op(v, &live);
    EXPECT_EQ(volfs_snapshot(v, "root", "s1"), 0);
    model_copy(&s1, &live);
    /* Right after the snapshot the dataset shares everything with it. */
    struct volfs_space sp = space(v, "root");
    EXPECT_EQ(sp.written, 0);
    EXPECT_EQ(sp.unique, 0);
    EXPECT(sp.refer > 0);
    EXPECT_EQ(space(v, "root@s1").unique, 0);
    EXPECT_EQ(space(v, "root@s1").refer, sp.refer);
    EXPECT_EQ(volfs_clone(v, "root", "c"), -EINVAL);  /* clones are of snapshots */
    EXPECT_EQ(volfs_clone(v, "root@s1", "c"), 0);
    EXPECT_EQ(volfs_clone(v, "root@s1", "c"), -EEXIST);
    model_copy(&clone, &s1);
    int c = volfs_dataset(v, "c");
    EXPECT(c > 0);
    model_compare(v, c, &clone);
    free_matches_open(m, v);
    for (int round = 0; round < 8; round++) {
        for (int k = 0; k < 8; k++) {
            random_op_in(v, 0, &live);
            random_op_in(v, c, &clone);
        }
        EXPECT_EQ(volfs_commit(v), 0);
        free_matches_open(m, v);
        model_compare(v, 0, &live);
        model_compare(v, c, &clone);
        model_compare(v, volfs_dataset(v, "root@s1"), &s1);
    }
    /* What the dataset and the clone wrote since is theirs; the snapshot now owns blocks. */
    EXPECT(space(v, "root").written > 0);
    EXPECT(space(v, "c").written > 0);
    EXPECT(space(v, "root@s1").unique > 0);
    EXPECT_EQ(volfs_snapshot(v, "root", "s2"), 0);
    EXPECT_EQ(volfs_rollback(v, "root@s1"), -EEXIST); /* s2 is newer */
    EXPECT_EQ(volfs_destroy(v, "root@s1"), -EBUSY);   /* the clone's origin */
    EXPECT_EQ(volfs_destroy(v, "root"), -EBUSY);
    EXPECT_EQ(volfs_destroy(v, "root@s2"), 0);
    EXPECT_EQ(volfs_dataset(v, "root@s2"), -ENOENT);
    free_matches_open(m, v);
    EXPECT_EQ(volfs_rollback(v, "root@s1"), 0);
    model_copy(&live, &s1);
    model_compare(v, 0, &live);
    free_matches_open(m, v);
    for (int k = 0; k < 10; k++)
        random_op_in(v, 0, &live);
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    v = vopen(m, false);
    c = volfs_dataset(v, "c");
    model_compare(v, 0, &live);
    model_compare(v, c, &clone);
    model_compare(v, volfs_dataset(v, "root@s1"), &s1);
    clean_check(v);
    /* A snapshot of the clone, then the clone is busy; destroy them all. */
    EXPECT_EQ(volfs_snapshot(v, "c", "cs"), 0);
    EXPECT_EQ(volfs_destroy(v, "c"), -EBUSY);
    EXPECT_EQ(volfs_destroy(v, "c@cs"), 0);
    EXPECT_EQ(volfs_destroy(v, "c"), 0);
    free_matches_open(m, v);
    EXPECT_EQ(volfs_destroy(v, "root@s1"), 0);
    free_matches_open(m, v);
    model_compare(v, 0, &live);
    /* The names are free again and entries are reused. */
    EXPECT_EQ(volfs_snapshot(v, "root", "s1"), 0);
    EXPECT_EQ(volfs_destroy(v, "root@s1"), 0);
    for (int i = 0; i < NFILES; i++) {
        char nm[32];
        fname(nm, i);
        if (live.exists[i])
            EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, nm), 0);
    }
    for (int i = 0; i < 6; i++) {
        volfs_set_time(v, 5000 + (uint64_t)i);
        EXPECT(volfs_create(v, 0, VOLFS_ROOT_OBJ, "t", 0100644) > 0);
        EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "t"), 0);
        EXPECT_EQ(volfs_commit(v), 0);
    }
    struct volfs_check_report r;
    EXPECT_EQ(volfs_check(v, false, &r), 0);
    EXPECT(r.used_blocks < 40);
    EXPECT(volfs_free_blocks(v) + VOLFS_KEEP_TXGS * r.used_blocks >= free0);
    free_matches_open(m, v);
    clean_check(v);
    volfs_close(v);
    model_free(&live);
    model_free(&s1);
    model_free(&clone);
    md_free(m);
}

static uint64_t busy_obj;
static bool is_busy(void *ctx, uint64_t obj)
{
    (void)ctx;
    return obj == busy_obj;
}

static bool busy_any; /* every object is open */
static bool is_busy_any(void *ctx, uint64_t obj)
{
    (void)ctx;
    (void)obj;
    return busy_any;
}

/* Hard links, attributes, rename, open files that lose their last name. */
static void test_links(void)
{
    struct memdev *m = fresh(1024);
    struct volfs *v = vopen(m, false);
    int64_t d = volfs_create(v, 0, VOLFS_ROOT_OBJ, "d", 040755);
    int64_t f = volfs_create(v, 0, VOLFS_ROOT_OBJ, "f", 0100644);
    EXPECT(d > 0 && f > 0);
    EXPECT_EQ(volfs_write(v, 0, (uint64_t)f, 0, "data", 4), 4);
    EXPECT_EQ(volfs_link(v, 0, (uint64_t)d, "g", (uint64_t)f), 0);
    EXPECT_EQ(volfs_link(v, 0, (uint64_t)d, "g", (uint64_t)f), -EEXIST);
    EXPECT_EQ(volfs_link(v, 0, VOLFS_ROOT_OBJ, "d2", (uint64_t)d), -EPERM);
    struct volfs_stat st;
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)f, &st), 0);
    EXPECT_EQ(st.nlink, 2);
    EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "f"), 0);
    EXPECT_EQ(volfs_lookup(v, 0, (uint64_t)d, "g"), f);
    char buf[4];
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)f, 0, buf, 4), 4);
    EXPECT(!memcmp(buf, "data", 4));
    st.mode = 0600;
    st.uid = 7;
    st.mtime_ns = 123;
    EXPECT_EQ(volfs_setattr(v, 0, (uint64_t)f, VOLFS_SET_MODE | VOLFS_SET_UID | VOLFS_SET_MTIME,
                            &st), 0);
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    v = vopen(m, false);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)f, &st), 0);
    EXPECT_EQ(st.nlink, 1);
    EXPECT_EQ(st.mode, 0100600);
    EXPECT_EQ(st.uid, 7);
    EXPECT_EQ(st.mtime_ns, 123);
    EXPECT_EQ(volfs_unlink(v, 0, (uint64_t)d, "g"), 0);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)f, &st), -ENOENT);
    EXPECT_EQ(volfs_commit(v), 0);
    clean_check(v);

    /* rename(2)'s cases. */
    int64_t a = volfs_create(v, 0, VOLFS_ROOT_OBJ, "a", 040755);
    int64_t b = volfs_create(v, 0, (uint64_t)a, "b", 040755);
    int64_t x = volfs_create(v, 0, (uint64_t)b, "x", 0100644);
    int64_t y = volfs_create(v, 0, VOLFS_ROOT_OBJ, "y", 0100644);
    int64_t e = volfs_create(v, 0, VOLFS_ROOT_OBJ, "e", 040755);
    EXPECT(a > 0 && b > 0 && x > 0 && y > 0 && e > 0);
    EXPECT_EQ(volfs_write(v, 0, (uint64_t)x, 0, "xx", 2), 2);
    EXPECT_EQ(volfs_rename(v, 0, VOLFS_ROOT_OBJ, "a", (uint64_t)b, "a2"), -EINVAL);
    EXPECT_EQ(volfs_rename(v, 0, VOLFS_ROOT_OBJ, "a", (uint64_t)a, "a2"), -EINVAL);
    EXPECT_EQ(volfs_rename(v, 0, VOLFS_ROOT_OBJ, "e", VOLFS_ROOT_OBJ, "y"), -ENOTDIR);
    EXPECT_EQ(volfs_rename(v, 0, VOLFS_ROOT_OBJ, "y", VOLFS_ROOT_OBJ, "e"), -EISDIR);
    EXPECT_EQ(volfs_rename(v, 0, VOLFS_ROOT_OBJ, "e", VOLFS_ROOT_OBJ, "a"), -ENOTEMPTY);
    EXPECT_EQ(volfs_rename(v, 0, VOLFS_ROOT_OBJ, "nope", VOLFS_ROOT_OBJ, "z"), -ENOENT);
    EXPECT_EQ(volfs_stat(v, 0, VOLFS_ROOT_OBJ, &st), 0);
    uint64_t root_links = st.nlink;
    /* A directory moves to another parent: the link counts follow. */
    EXPECT_EQ(volfs_rename(v, 0, (uint64_t)a, "b", VOLFS_ROOT_OBJ, "b"), 0);
    EXPECT_EQ(volfs_stat(v, 0, VOLFS_ROOT_OBJ, &st), 0);
    EXPECT_EQ(st.nlink, root_links + 1);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)a, &st), 0);
    EXPECT_EQ(st.nlink, 2);
    /* A file over another: the replaced one is freed; over an empty directory likewise. */
    EXPECT_EQ(volfs_rename(v, 0, (uint64_t)b, "x", VOLFS_ROOT_OBJ, "y"), 0);
    EXPECT_EQ(volfs_lookup(v, 0, VOLFS_ROOT_OBJ, "y"), x);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)y, &st), -ENOENT);
    EXPECT_EQ(volfs_rename(v, 0, VOLFS_ROOT_OBJ, "b", VOLFS_ROOT_OBJ, "e"), 0);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)e, &st), -ENOENT);
    EXPECT_EQ(volfs_stat(v, 0, VOLFS_ROOT_OBJ, &st), 0);
    EXPECT_EQ(st.nlink, root_links);
    EXPECT_EQ(volfs_link(v, 0, (uint64_t)a, "y2", (uint64_t)x), 0);
    EXPECT_EQ(volfs_rename(v, 0, (uint64_t)a, "y2", VOLFS_ROOT_OBJ, "y"), 0); /* same file */
    EXPECT_EQ(volfs_lookup(v, 0, (uint64_t)a, "y2"), x);
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    v = vopen(m, false);
    EXPECT_EQ(volfs_lookup(v, 0, VOLFS_ROOT_OBJ, "e"), b);
    EXPECT_EQ(volfs_lookup(v, 0, VOLFS_ROOT_OBJ, "b"), -ENOENT);
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)x, 0, buf, 2), 2);
    EXPECT(!memcmp(buf, "xx", 2));
    clean_check(v);

    /* An open file that loses its last name stays readable until it is released. */
    busy_obj = (uint64_t)x;
    volfs_set_busy(v, is_busy, 0);
    EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "y"), 0);
    EXPECT_EQ(volfs_unlink(v, 0, (uint64_t)a, "y2"), 0);
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)x, 0, buf, 2), 2);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)x, &st), 0);
    EXPECT_EQ(st.nlink, 0);
    EXPECT_EQ(volfs_release(v, 0, (uint64_t)x), 0);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)x, &st), -ENOENT);
    EXPECT_EQ(volfs_commit(v), 0);
    clean_check(v);
    volfs_close(v);
    md_free(m);
}

/* ---- the space map (v2) ---- */

static uint64_t open_reads, last_open_reads; /* the device reads of the last open alone */
static int open_counting_read(void *ctx, uint64_t blk, void *buf)
{
    open_reads++;
    return md_read(ctx, blk, buf);
}

/* Opens m counting its reads; the volume's allocation state must be what a walk derives: a copy
 * of m whose current space-map area has a page zeroed opens by walking, and both agree block
 * for block (free, in use, freed and released by which commit). */
static struct volfs *open_and_compare(struct memdev *m, bool expect_map)
{
    struct volfs_bdev d = bdev(m);
    d.read = open_counting_read;
    struct volfs *v;
    open_reads = 0;
    EXPECT_EQ(volfs_open(&d, false, &v), 0);
    last_open_reads = open_reads;
    EXPECT_EQ(v->sm_loaded, expect_map);
    struct memdev *c = md_clone(m);
    uint64_t area = volfs_txg(v) % 2, pg = (uint64_t)rand() % v->sm_pages;
    memset(c->img + (v->sm_start + area * v->sm_pages + pg) * VOLFS_BLOCK, 0, VOLFS_BLOCK);
    struct volfs *w = vopen(c, true);
    EXPECT(!w->sm_loaded);
    EXPECT_EQ(volfs_free_blocks(w), volfs_free_blocks(v));
    for (uint64_t b = 0; b < v->nblocks; b++)
        if (((v->nib[b / 2] ^ w->nib[b / 2]) >> (b % 2 * 4) & 15) != 0) {
            fprintf(stderr, "block %llu: map %u, walk %u\n", (unsigned long long)b,
                    v->nib[b / 2] >> (b % 2 * 4) & 15, w->nib[b / 2] >> (b % 2 * 4) & 15);
            exit(1);
        }
    volfs_close(w);
    md_free(c);
    return v;
}

static void test_spacemap(void)
{
    struct memdev *m = fresh(8192);
    struct volfs *v = vopen(m, false);
    EXPECT_EQ(volfs_version(v), VOLFS_VERSION);
    EXPECT(v->sm_loaded);
    struct model mo;
    model_init(&mo);
    srand(31);
    uint64_t reads_small = 0;
    for (int round = 0; round < 40; round++) {
        for (int k = 0; k < 1 + rand() % 5; k++)
            random_op(v, &mo);
        if (round % 7 == 3) {
            char snap[16];
            snprintf(snap, sizeof snap, "s%d", round);
            EXPECT_EQ(volfs_snapshot(v, "root", snap), 0);
        }
        if (round % 7 == 5) { /* the oldest snapshot goes: its blocks freed after the commit */
            char name[44];
            uint32_t flags;
            uint64_t txg;
            for (int i = 1; volfs_dataset_info(v, i, name, &flags, &txg) != -ENOENT; i++)
                if (volfs_dataset_info(v, i, name, &flags, &txg) == 0) {
                    EXPECT_EQ(volfs_destroy(v, name), 0);
                    break;
                }
        }
        EXPECT_EQ(volfs_commit(v), 0);
        uint64_t nfree = volfs_free_blocks(v);
        volfs_close(v);
        v = open_and_compare(m, true);
        EXPECT_EQ(volfs_free_blocks(v), nfree);
        model_compare(v, 0, &mo);
        clean_check(v);
        if (round == 0)
            reads_small = last_open_reads;
    }
    /* A big file changes nothing open reads: label, ring, map, the MOS and what the log needs. */
    int64_t big = volfs_create(v, 0, VOLFS_ROOT_OBJ, "big", 0100644);
    static uint8_t blk[VOLFS_BLOCK];
    for (int i = 0; i < 4000; i++) {
        memset(blk, i, sizeof blk);
        EXPECT_EQ(volfs_write(v, 0, (uint64_t)big, (uint64_t)i * VOLFS_BLOCK, blk, VOLFS_BLOCK),
                  VOLFS_BLOCK);
    }
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    v = open_and_compare(m, true);
    fprintf(stderr, "spacemap: open reads %llu blocks with ~150 in use, %llu with ~4150\n",
            (unsigned long long)reads_small, (unsigned long long)last_open_reads);
    EXPECT(last_open_reads <= reads_small + 2);
    /* A damaged map: open walks, and the next commits write both areas whole again. */
    volfs_close(v);
    memset(m->img + (1 + VOLFS_RING + 0) * VOLFS_BLOCK + 100, 0x5a, 8);
    memset(m->img + (1 + VOLFS_RING + 1) * VOLFS_BLOCK + 100, 0x5a, 8);
    v = vopen(m, false);
    EXPECT(!v->sm_loaded);
    clean_check(v);
    EXPECT(volfs_create(v, 0, VOLFS_ROOT_OBJ, "after", 0100644) > 0);
    EXPECT_EQ(volfs_commit(v), 0);
    EXPECT(volfs_create(v, 0, VOLFS_ROOT_OBJ, "after2", 0100644) > 0);
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    v = open_and_compare(m, true);
    volfs_close(v);
    model_free(&mo);
    md_free(m);

    /* Version 1: no space map; open walks, and it stays version 1 through changes. */
    m = md_new(4096);
    struct volfs_bdev d = bdev(m);
    EXPECT_EQ(volfs_format_version(&d, "old", 7, 1000, 1), 0);
    EXPECT_EQ(volfs_format_version(&d, "bad", 7, 1000, VOLFS_VERSION + 1), -EINVAL);
    v = vopen(m, false);
    EXPECT_EQ(volfs_version(v), 1);
    EXPECT(!v->sm_loaded);
    EXPECT_EQ(volfs_data_blocks(v), 4096 - VOLFS_FIRST_DATA);
    model_init(&mo);
    for (int round = 0; round < 10; round++) {
        for (int k = 0; k < 3; k++)
            random_op(v, &mo);
        EXPECT_EQ(volfs_commit(v), 0);
        volfs_close(v);
        v = vopen(m, false);
        EXPECT_EQ(volfs_version(v), 1);
        model_compare(v, 0, &mo);
        clean_check(v);
    }
    volfs_close(v);
    model_free(&mo);
    md_free(m);
}

/* ---- big directories ---- */

struct seen {
    uint8_t *count; /* per name index */
    int n, total, other;
    struct volfs *v;
    int64_t dir;
    int mode; /* 2: create a new name while listing */
    int made;
    int last; /* the name index listed last */
};

static int seen_one(void *arg, const char *name, uint64_t obj, uint8_t type)
{
    struct seen *s = arg;
    (void)obj;
    EXPECT_EQ(type, 8);
    int i;
    if (sscanf(name, "name-%d", &i) == 1 && i >= 0 && i < s->n) {
        s->count[i]++;
        s->last = i;
    }
    else
        s->other++;
    s->total++;
    return 1; /* one entry a call, as the kernel's getdents asks for them */
}

/* Lists dir entry by entry through volfs_readdir_at's positions, as the kernel does; with mode
 * 2 a new name is created after each old name listed, until a new one is listed. */
static void list_dir(struct seen *s)
{
    memset(s->count, 0, (size_t)s->n);
    s->total = s->other = 0;
    uint64_t pos = 0;
    for (;;) {
        int before = s->total;
        EXPECT_EQ(volfs_readdir_at(s->v, 0, (uint64_t)s->dir, &pos, seen_one, s), 0);
        if (s->total == before)
            break;
        EXPECT(pos < (1ull << 61));
        if (s->mode == 2 && s->other == 0) { /* for old names only: new ones may be listed */
            char nm[32];
            snprintf(nm, sizeof nm, "new-%d", s->made++);
            EXPECT(volfs_create(s->v, 0, (uint64_t)s->dir, nm, 0100644) > 0);
        }
    }
}

static void bigdir_on(struct memdev *m, int n)
{
    struct volfs *v = vopen(m, false);
    int64_t dir = volfs_create(v, 0, VOLFS_ROOT_OBJ, "big", 040755);
    EXPECT(dir > 0);
    char nm[32];
    for (int i = 0; i < n; i++) {
        snprintf(nm, sizeof nm, "name-%d", i);
        EXPECT(volfs_create(v, 0, (uint64_t)dir, nm, 0100644) > 0);
        if (i % 3000 == 1500)
            EXPECT_EQ(volfs_commit(v), 0);
    }
    EXPECT_EQ(volfs_create(v, 0, (uint64_t)dir, "name-0", 0100644), -EEXIST);
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    v = vopen(m, false);
    for (int i = 0; i < n; i++) {
        snprintf(nm, sizeof nm, "name-%d", i);
        EXPECT(volfs_lookup(v, 0, (uint64_t)dir, nm) > 0);
    }
    EXPECT_EQ(volfs_lookup(v, 0, (uint64_t)dir, "name-x"), -ENOENT);
    struct seen s = {calloc(1, (size_t)n), n, 0, 0, v, dir, 0, 0, 0};
    list_dir(&s);
    EXPECT_EQ(s.total, n);
    for (int i = 0; i < n; i++)
        EXPECT_EQ(s.count[i], 1);
    /* Names created while listing: each old name still listed once. */
    s.mode = 2;
    list_dir(&s);
    for (int i = 0; i < n; i++)
        EXPECT_EQ(s.count[i], 1);
    EXPECT(s.made > 0);
    for (int i = 0; i < s.made; i++) {
        char nn[32];
        snprintf(nn, sizeof nn, "new-%d", i);
        EXPECT_EQ(volfs_unlink(v, 0, (uint64_t)dir, nn), 0);
    }
    /* Renames inside the directory (adds that may split) and back. */
    for (int i = 0; i < n; i += 7) {
        char to[32];
        snprintf(nm, sizeof nm, "name-%d", i);
        snprintf(to, sizeof to, "moved-%d", i);
        EXPECT_EQ(volfs_rename(v, 0, (uint64_t)dir, nm, (uint64_t)dir, to), 0);
        EXPECT_EQ(volfs_lookup(v, 0, (uint64_t)dir, nm), -ENOENT);
        EXPECT_EQ(volfs_rename(v, 0, (uint64_t)dir, to, (uint64_t)dir, nm), 0);
    }
    EXPECT_EQ(volfs_unlink(v, VOLFS_ROOT_OBJ, 0, "big"), -ENOENT); /* dataset 1: none */
    EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "big"), -ENOTEMPTY);
    EXPECT_EQ(volfs_commit(v), 0);
    clean_check(v);
    /* rm -r's pattern: unlink each name as it is listed; every name is listed once. */
    s.mode = 0;
    memset(s.count, 0, (size_t)n);
    s.total = 0;
    uint64_t pos = 0;
    for (;;) {
        int before = s.total;
        EXPECT_EQ(volfs_readdir_at(v, 0, (uint64_t)dir, &pos, seen_one, &s), 0);
        if (s.total == before)
            break;
        snprintf(nm, sizeof nm, "name-%d", s.last);
        EXPECT_EQ(volfs_unlink(v, 0, (uint64_t)dir, nm), 0);
    }
    EXPECT_EQ(s.total, n);
    for (int i = 0; i < n; i++) {
        EXPECT_EQ(s.count[i], 1);
        snprintf(nm, sizeof nm, "name-%d", i);
        EXPECT_EQ(volfs_lookup(v, 0, (uint64_t)dir, nm), -ENOENT);
    }
    struct seen none = {calloc(1, 1), 1, 0, 0, v, dir, 0, 0, 0};
    list_dir(&none);
    EXPECT_EQ(none.total, 0);
    EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "big"), 0);
    EXPECT_EQ(volfs_commit(v), 0);
    clean_check(v);
    volfs_close(v);
    free(s.count);
    free(none.count);
}

static void test_bigdir(void)
{
    struct memdev *m = fresh(65536);
    struct volfs *v = vopen(m, true);
    EXPECT(volfs_version(v) >= 3);
    volfs_close(v);
    bigdir_on(m, 20000);
    md_free(m);
    m = md_new(16384);
    struct volfs_bdev d = bdev(m);
    EXPECT_EQ(volfs_format_version(&d, "v2", 9, 1000, 2), 0);
    bigdir_on(m, 1500); /* linear: quadratic, so fewer */
    md_free(m);
}

/* ---- orphans left by a crash ---- */

/* Leaves n files of 100 blocks each unlinked while open, committed, and closes without
 * releasing them (what a crash of the kernel leaves); returns the free blocks they hold. */
static uint64_t leave_orphans(struct memdev *m, int n, int64_t *objs)
{
    struct volfs *v = vopen(m, false);
    static uint8_t blk[VOLFS_BLOCK];
    for (int k = 0; k < n; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "tmp%d", k);
        objs[k] = volfs_create(v, 0, VOLFS_ROOT_OBJ, nm, 0100644);
        EXPECT(objs[k] > 0);
        for (int i = 0; i < 100; i++)
            EXPECT_EQ(volfs_write(v, 0, (uint64_t)objs[k], (uint64_t)i * VOLFS_BLOCK, blk,
                                  VOLFS_BLOCK), VOLFS_BLOCK);
    }
    EXPECT_EQ(volfs_commit(v), 0);
    uint64_t held = volfs_free_blocks(v);
    busy_any = true;
    volfs_set_busy(v, is_busy_any, 0);
    for (int k = 0; k < n; k++) {
        char nm[16];
        snprintf(nm, sizeof nm, "tmp%d", k);
        EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, nm), 0);
    }
    EXPECT_EQ(volfs_commit(v), 0);
    busy_any = false;
    volfs_close(v); /* no volfs_release: the kernel died with them open */
    return held;
}

static void test_orphans(void)
{
    struct memdev *m = fresh(8192);
    int64_t objs[3];
    uint64_t held = leave_orphans(m, 3, objs);
    struct volfs *v = vopen(m, true); /* a read-only open changes nothing */
    struct volfs_stat st;
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)objs[0], &st), 0);
    EXPECT_EQ(st.nlink, 0);
    volfs_close(v);
    v = vopen(m, false);
    for (int k = 0; k < 3; k++)
        EXPECT_EQ(volfs_stat(v, 0, (uint64_t)objs[k], &st), -ENOENT);
    clean_check(v);
    for (int i = 0; i < (int)VOLFS_KEEP_TXGS; i++) { /* their blocks come back 4 txgs on */
        EXPECT(volfs_create(v, 0, VOLFS_ROOT_OBJ, "tick", 0100644) > 0);
        EXPECT_EQ(volfs_commit(v), 0);
        EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "tick"), 0);
        EXPECT_EQ(volfs_commit(v), 0);
    }
    fprintf(stderr, "orphans: %llu blocks free after, %llu with the files\n",
            (unsigned long long)volfs_free_blocks(v), (unsigned long long)held);
    EXPECT(volfs_free_blocks(v) >= held + 250); /* their 300 data blocks, less new metadata */
    volfs_close(v);
    /* Released normally: out of the table, nothing left for the next open. */
    v = vopen(m, false);
    int64_t f = volfs_create(v, 0, VOLFS_ROOT_OBJ, "open", 0100644);
    busy_any = true;
    volfs_set_busy(v, is_busy_any, 0);
    EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "open"), 0);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)f, &st), 0);
    busy_any = false;
    EXPECT_EQ(volfs_release(v, 0, (uint64_t)f), 0);
    EXPECT_EQ(volfs_commit(v), 0);
    uint64_t txg = volfs_txg(v);
    volfs_close(v);
    v = vopen(m, false);
    EXPECT_EQ(volfs_txg(v), txg); /* no orphan left: open committed nothing */
    volfs_close(v);
    md_free(m);
    /* Version 3 has no orphan table: the orphans stay (as they always did). */
    m = md_new(8192);
    struct volfs_bdev d = bdev(m);
    EXPECT_EQ(volfs_format_version(&d, "v3", 9, 1000, 3), 0);
    leave_orphans(m, 1, objs);
    v = vopen(m, false);
    EXPECT_EQ(volfs_stat(v, 0, (uint64_t)objs[0], &st), 0);
    clean_check(v);
    volfs_close(v);
    md_free(m);
}

/* ---- O_DIRECT ---- */

static void test_direct(void)
{
    struct memdev *m = fresh(8192);
    struct volfs *v = vopen(m, false);
    EXPECT_EQ(volfs_set_cache(v, 256 * VOLFS_BLOCK), 0);
    int64_t f = volfs_create(v, 0, VOLFS_ROOT_OBJ, "d", 0100644);
    enum { SIZE = 96 * VOLFS_BLOCK };
    static uint8_t model[SIZE], src[SIZE], got[SIZE];
    uint64_t size = 0;
    srand(77);
    for (int round = 0; round < 300; round++) {
        uint64_t off = (uint64_t)(rand() % (SIZE / 512 - 1)) * 512;
        uint64_t len = (uint64_t)(1 + rand() % 24) * 512;
        if (off + len > SIZE)
            len = SIZE - off;
        for (uint64_t i = 0; i < len; i++)
            src[i] = (uint8_t)rand();
        bool direct = rand() % 3 != 0;
        int64_t w = direct ? volfs_write_direct(v, 0, (uint64_t)f, off, src, len)
                           : volfs_write(v, 0, (uint64_t)f, off, src, len);
        EXPECT_EQ(w, (int64_t)len);
        memcpy(model + off, src, len);
        if (off + len > size)
            size = off + len;
        struct volfs_arc_stats a0, a1;
        volfs_arc_stats(v, &a0);
        memset(got, 0, sizeof got);
        EXPECT_EQ(volfs_read_direct(v, 0, (uint64_t)f, 0, got, SIZE), (int64_t)size);
        volfs_arc_stats(v, &a1);
        /* Up to 96 data blocks read past the ARC; the tree's few indirect blocks through it. */
        EXPECT(a1.hits + a1.misses - a0.hits - a0.misses <= 4);
        EXPECT(!memcmp(got, model, size));
        EXPECT_EQ(volfs_read(v, 0, (uint64_t)f, 0, got, SIZE), (int64_t)size);
        EXPECT(!memcmp(got, model, size));
        if (round % 37 == 5)
            EXPECT_EQ(volfs_commit(v), 0);
        if (round % 91 == 7) {
            EXPECT_EQ(volfs_commit(v), 0);
            volfs_close(v);
            v = vopen(m, false);
            EXPECT_EQ(volfs_set_cache(v, 256 * VOLFS_BLOCK), 0);
            clean_check(v);
        }
    }
    EXPECT_EQ(volfs_commit(v), 0);
    clean_check(v);
    volfs_close(v);
    v = vopen(m, true);
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)f, 0, got, SIZE), (int64_t)size);
    EXPECT(!memcmp(got, model, size));
    volfs_close(v);
    /* A direct write is on the device before any commit; a crash before the commit loses it
     * and leaves the last committed state. */
    v = vopen(m, false);
    uint64_t writes = m->nlog;
    m->logging = true;
    memset(src, 0xd1, VOLFS_BLOCK);
    EXPECT_EQ(volfs_write_direct(v, 0, (uint64_t)f, 0, src, VOLFS_BLOCK), VOLFS_BLOCK);
    EXPECT_EQ(m->nlog, writes + 1);
    m->logging = false;
    volfs_close(v); /* no commit */
    v = vopen(m, true);
    EXPECT_EQ(volfs_read(v, 0, (uint64_t)f, 0, got, VOLFS_BLOCK), VOLFS_BLOCK);
    EXPECT(!memcmp(got, model, VOLFS_BLOCK));
    clean_check(v);
    volfs_close(v);
    md_free(m);
}

/* ---- the ARC ---- */

/* Counts the device reads, to tell cache hits from disk reads. */
static uint64_t dev_reads;
static int counting_read(void *ctx, uint64_t blk, void *buf)
{
    dev_reads++;
    return md_read(ctx, blk, buf);
}

static void read_range(struct volfs *v, int64_t obj, uint64_t from, uint64_t size)
{
    static uint8_t buf[VOLFS_BLOCK];
    for (uint64_t off = from; off < from + size; off += VOLFS_BLOCK)
        EXPECT_EQ(volfs_read(v, 0, (uint64_t)obj, off, buf, VOLFS_BLOCK), VOLFS_BLOCK);
}

static void read_all(struct volfs *v, int64_t obj, uint64_t size)
{
    static uint8_t buf[VOLFS_BLOCK];
    for (uint64_t off = 0; off < size; off += VOLFS_BLOCK)
        EXPECT_EQ(volfs_read(v, 0, (uint64_t)obj, off, buf, VOLFS_BLOCK), VOLFS_BLOCK);
}

static void test_arc(void)
{
    struct memdev *m = fresh(8192);
    struct volfs *v = vopen(m, false);
    enum { HOT = 48, SCAN = 2000 };
    int64_t hot = volfs_create(v, 0, VOLFS_ROOT_OBJ, "hot", 0100644);
    int64_t cold = volfs_create(v, 0, VOLFS_ROOT_OBJ, "cold", 0100644);
    static uint8_t blk[VOLFS_BLOCK];
    for (int i = 0; i < SCAN; i++) {
        memset(blk, i & 0xff, sizeof blk);
        if (i < HOT)
            EXPECT_EQ(volfs_write(v, 0, (uint64_t)hot, (uint64_t)i * VOLFS_BLOCK, blk, VOLFS_BLOCK),
                      VOLFS_BLOCK);
        EXPECT_EQ(volfs_write(v, 0, (uint64_t)cold, (uint64_t)i * VOLFS_BLOCK, blk, VOLFS_BLOCK),
                  VOLFS_BLOCK);
    }
    EXPECT_EQ(volfs_commit(v), 0);
    volfs_close(v);
    struct volfs_bdev d = bdev(m);
    d.read = counting_read;
    EXPECT_EQ(volfs_open(&d, true, &v), 0);
    EXPECT_EQ(volfs_set_cache(v, 128 * VOLFS_BLOCK), 0); /* room for the hot set, not the scan */
    for (int k = 0; k < 3; k++)                          /* hot: read three times: frequent */
        read_all(v, hot, HOT * VOLFS_BLOCK);
    read_all(v, cold, (uint64_t)SCAN * VOLFS_BLOCK); /* a scan, once */
    /* Blocks the scan pushed out lately, again: ghost hits, and p adapts. */
    read_range(v, cold, (uint64_t)(SCAN - 100) * VOLFS_BLOCK, 20 * VOLFS_BLOCK);
    uint64_t before = dev_reads;
    read_all(v, hot, HOT * VOLFS_BLOCK);
    uint64_t missed = dev_reads - before;
    struct volfs_arc_stats st;
    volfs_arc_stats(v, &st);
    fprintf(stderr, "arc: hot set re-read with %llu disk reads of %d; hits %llu misses %llu, "
            "ghost hits %llu/%llu, %llu frequent, %llu/%llu ghosts\n", (unsigned long long)missed, HOT,
            (unsigned long long)st.hits, (unsigned long long)st.misses,
            (unsigned long long)st.ghost_hits_recent, (unsigned long long)st.ghost_hits_frequent,
            (unsigned long long)st.frequent, (unsigned long long)st.ghost_recent, (unsigned long long)st.ghost_frequent);
    EXPECT(missed <= HOT / 8); /* an LRU of 128 blocks would have lost all of it */
    EXPECT(st.size_bytes <= 128 * VOLFS_BLOCK);
    EXPECT(st.ghost_hits_recent > 0);
    volfs_close(v);
    /* Writes keep the cache right: a block rewritten (at a new address) and the old address
     * reused never give old bytes. */
    v = vopen(m, false);
    EXPECT_EQ(volfs_set_cache(v, 256 * VOLFS_BLOCK), 0);
    for (int round = 0; round < 20; round++) {
        memset(blk, 0x40 + round, sizeof blk);
        for (int i = 0; i < HOT; i++)
            EXPECT_EQ(volfs_write(v, 0, (uint64_t)hot, (uint64_t)i * VOLFS_BLOCK, blk, VOLFS_BLOCK),
                      VOLFS_BLOCK);
        EXPECT_EQ(volfs_commit(v), 0);
        static uint8_t got[VOLFS_BLOCK];
        for (int i = 0; i < HOT; i++) {
            EXPECT_EQ(volfs_read(v, 0, (uint64_t)hot, (uint64_t)i * VOLFS_BLOCK, got, VOLFS_BLOCK),
                      VOLFS_BLOCK);
            EXPECT(memcmp(got, blk, VOLFS_BLOCK) == 0);
        }
    }
    clean_check(v);
    volfs_close(v);
    md_free(m);
}

/* ---- the intent log ---- */

static void test_log(void)
{
    struct memdev *m = fresh(4096);
    struct memdev *base;
    struct volfs *v = vopen(m, false);
    int64_t f = volfs_create(v, 0, VOLFS_ROOT_OBJ, "records", 0100644);
    EXPECT(f > 0);
    EXPECT_EQ(volfs_log_enable(v, 0), 0);
    EXPECT_EQ(volfs_fsync(v, 0), 0); /* no chain yet: this commits, and starts one */
    base = md_clone(m);
    m->logging = true;
    enum { N = 400 };
    static uint8_t stream[N * 9000];
    uint64_t len = 0, txg0 = volfs_txg(v);
    size_t acked_at[N + 1]; /* the log index at which acked[i] became durable */
    uint64_t acked[N + 1];
    int nacked = 0, logged = 0;
    srand(17);
    for (int i = 0; i < N; i++) {
        uint64_t n = 1 + (uint64_t)rand() % (i % 37 == 0 ? 9000 : 300);
        for (uint64_t k = 0; k < n; k++)
            stream[len + k] = (uint8_t)rand();
        EXPECT_EQ(volfs_write(v, 0, (uint64_t)f, len, stream + len, n), (int64_t)n);
        len += n;
        if (rand() % 4 == 0) {
            uint64_t t = volfs_txg(v);
            EXPECT_EQ(volfs_fsync(v, 0), 0);
            logged += volfs_txg(v) == t;
            acked[nacked] = len;
            acked_at[nacked++] = m->nlog;
        }
        if (rand() % 97 == 0)
            EXPECT_EQ(volfs_commit(v), 0); /* a txg now and then: the chain starts over */
    }
    EXPECT(logged > 50);                        /* most fsyncs wrote log blocks... */
    EXPECT(volfs_txg(v) - txg0 < (uint64_t)N / 20); /* ...and did not commit */
    EXPECT(volfs_log_blocks_written(v) > 0);
    volfs_close(v);
    fprintf(stderr, "log: %zu writes and flushes, %d fsyncs through the log\n", m->nlog, logged);
    static uint8_t got[N * 9000];
    srand(4);
    for (size_t k = 0; k <= m->nlog; k += 1 + (size_t)rand() % 3) {
        struct memdev *c = md_clone(base);
        size_t epoch = 0;
        for (size_t i = 0; i < k; i++)
            if (m->log[i].blk == ~0ull)
                epoch = i + 1;
        for (size_t i = 0; i < k; i++) {
            struct logent *e = &m->log[i];
            if (e->blk == ~0ull)
                continue;
            int how = i < epoch ? 0 : rand() % 3; /* after the last flush: whole, lost or torn */
            if (how != 1)
                memcpy(c->img + e->blk * VOLFS_BLOCK, e->data, how == 2 ? 2048 : VOLFS_BLOCK);
        }
        uint64_t must = 0; /* what an fsync returned for before the crash */
        for (int a = 0; a < nacked; a++)
            if (acked_at[a] <= epoch)
                must = acked[a];
        for (int pass = 0; pass < 2; pass++) { /* read-only (replay in memory), then writable */
            struct volfs *cv = vopen(c, pass == 0);
            int64_t obj = volfs_lookup(cv, 0, VOLFS_ROOT_OBJ, "records");
            EXPECT(obj > 0);
            struct volfs_stat st;
            EXPECT_EQ(volfs_stat(cv, 0, (uint64_t)obj, &st), 0);
            if (st.size < must || st.size > len) {
                fprintf(stderr, "crash at %zu: size %llu, acked %llu\n", k,
                        (unsigned long long)st.size, (unsigned long long)must);
                exit(1);
            }
            EXPECT_EQ(volfs_read(cv, 0, (uint64_t)obj, 0, got, st.size), (int64_t)st.size);
            EXPECT(memcmp(got, stream, st.size) == 0);
            clean_check(cv);
            volfs_close(cv);
        }
        /* Replayed and committed: a second open finds the same, with no log left to replay. */
        struct volfs *cv = vopen(c, false);
        EXPECT(volfs_create(cv, 0, VOLFS_ROOT_OBJ, "after", 0100644) > 0);
        EXPECT_EQ(volfs_commit(cv), 0);
        volfs_close(cv);
        md_free(c);
    }
    md_free(base);
    md_free(m);
}

/* ---- the format fuzzer ---- */

static int fz_names(void *arg, const char *name, uint64_t obj, uint8_t type)
{
    (void)type;
    struct {
        char names[16][VOLFS_NAME_MAX + 1];
        uint64_t objs[16];
        int n;
    } *l = arg;
    if (l->n == 16)
        return 1;
    snprintf(l->names[l->n], sizeof l->names[0], "%s", name);
    l->objs[l->n++] = obj;
    return 0;
}

/* Every read path over dataset ds from dir, a few levels deep. */
static void fz_walk(struct volfs *v, int ds, uint64_t dir, int depth)
{
    struct {
        char names[16][VOLFS_NAME_MAX + 1];
        uint64_t objs[16];
        int n;
    } l = {.n = 0};
    if (depth > 4 || volfs_readdir(v, ds, dir, fz_names, &l) < 0)
        return;
    static uint8_t buf[3 * VOLFS_BLOCK];
    for (int i = 0; i < l.n; i++) {
        (void)volfs_lookup(v, ds, dir, l.names[i]);
        struct volfs_stat st;
        if (volfs_stat(v, ds, l.objs[i], &st) < 0)
            continue;
        (void)volfs_read(v, ds, l.objs[i], 0, buf, sizeof buf);
        (void)volfs_read(v, ds, l.objs[i], st.size > 5000 ? st.size - 5000 : 0, buf, sizeof buf);
        (void)volfs_seek_data(v, ds, l.objs[i], 0, false);
        if (st.kind == 2 && l.objs[i] != dir)
            fz_walk(v, ds, l.objs[i], depth + 1);
    }
}

static void fuzz_one(const uint8_t *img, size_t size)
{
    if (size < VOLFS_MIN_BLOCKS * VOLFS_BLOCK || size > (64u << 20))
        return;
    struct memdev *m = md_new(size / VOLFS_BLOCK);
    memcpy(m->img, img, m->nblocks * VOLFS_BLOCK);
    struct memdev *orig = md_clone(m);
    for (int pass = 0; pass < 2; pass++) {
        struct volfs_bdev d = bdev(m);
        struct volfs *v;
        if (volfs_open(&d, pass == 0, &v) < 0)
            break;
        char name[44];
        uint32_t flags;
        uint64_t txg;
        for (int i = 0; i < 8; i++) {
            if (volfs_dataset_info(v, i, name, &flags, &txg) < 0)
                continue;
            struct volfs_space sp;
            (void)volfs_space(v, i, &sp);
            fz_walk(v, i, VOLFS_ROOT_OBJ, 0);
        }
        struct volfs_check_report r;
        (void)volfs_check(v, pass == 1, &r);
        if (pass == 1) { /* changes on the mutated state, committed, then read again */
            (void)volfs_set_cache(v, 64 * VOLFS_BLOCK);
            (void)volfs_log_enable(v, 0);
            int64_t f = volfs_create(v, 0, VOLFS_ROOT_OBJ, "fz", 0100644);
            if (f > 0) {
                (void)volfs_write(v, 0, (uint64_t)f, 100, "fuzz", 4);
                (void)volfs_fsync(v, 0);
                (void)volfs_write(v, 0, (uint64_t)f, 9000, "more", 4);
                (void)volfs_fsync(v, 0);
                (void)volfs_rename(v, 0, VOLFS_ROOT_OBJ, "fz", VOLFS_ROOT_OBJ, "fz2");
                (void)volfs_truncate(v, 0, (uint64_t)f, 1);
            }
            (void)volfs_snapshot(v, "root", "fz");
            (void)volfs_clone(v, "root@fz", "fzc");
            (void)volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "fz2");
            (void)volfs_destroy(v, "fzc");
            (void)volfs_commit(v);
            fz_walk(v, 0, VOLFS_ROOT_OBJ, 0);
        }
        volfs_close(v);
    }
    md_free(m);
    md_free(orig);
}

static uint8_t *slurp(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        perror(path);
        exit(2);
    }
    fseek(f, 0, SEEK_END);
    *size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = malloc(*size);
    if (fread(b, 1, *size, f) != *size)
        exit(2);
    fclose(f);
    return b;
}

static long fz_iter;
static const char *fz_file;

static void fz_hang(int sig)
{
    (void)sig;
    fprintf(stderr, "fuzz: %s: mutant %ld did not finish in 20 s (a hang)\n", fz_file, fz_iter);
    abort();
}

static void fuzz(unsigned seed, long count, int nfiles, char **files)
{
    signal(SIGALRM, fz_hang);
    static const uint64_t interesting[] = {0,  1,  2,  31, 32, 33, 63, 64, 0xff, 0x7fffffff,
                                           0xffffffffull, 1ull << 32, 1ull << 46, 1ull << 63,
                                           ~0ull, 4096, 65};
    srand(seed);
    for (int fi = 0; fi < nfiles; fi++) {
        size_t size;
        uint8_t *img = slurp(files[fi], &size);
        size_t nb = size / VOLFS_BLOCK, nz = 0;
        uint64_t *used = malloc(nb * sizeof(*used)); /* the blocks with something in them */
        for (size_t b = 0; b < nb; b++)
            for (size_t k = 0; k < VOLFS_BLOCK; k++)
                if (img[b * VOLFS_BLOCK + k]) {
                    used[nz++] = b;
                    break;
                }
        uint8_t *mut = malloc(size);
        fz_file = files[fi];
        for (long it = 0; it < count; it++) {
            fz_iter = it;
            alarm(20);
            memcpy(mut, img, size);
            for (int k = 0, n = 1 + rand() % 4; k < n; k++) {
                uint8_t *blk = mut + used[(size_t)rand() % nz] * VOLFS_BLOCK;
                switch (rand() % 5) {
                case 0: blk[rand() % VOLFS_BLOCK] ^= (uint8_t)(1u << (rand() % 8)); break;
                case 1: {
                    uint64_t x = interesting[(size_t)rand() % (sizeof interesting / 8)];
                    memcpy(blk + (rand() % (VOLFS_BLOCK / 8)) * 8, &x, 8);
                    break;
                }
                case 2: blk[rand() % VOLFS_BLOCK] = (uint8_t)rand(); break;
                case 3: memcpy(blk, mut + used[(size_t)rand() % nz] * VOLFS_BLOCK, VOLFS_BLOCK); break;
                default: { /* a small integer into a likely field: the first 256 bytes */
                    uint32_t x = (uint32_t)(rand() % 70);
                    memcpy(blk + (rand() % 64) * 4, &x, 4);
                }
                }
            }
            if (getenv("VOLFS_FUZZ_ONLY") && atol(getenv("VOLFS_FUZZ_ONLY")) != it)
                continue;
            fuzz_one(mut, size);
        }
        alarm(0);
        fprintf(stderr, "fuzz: %s: %ld mutants\n", files[fi], count);
        free(mut);
        free(used);
        free(img);
    }
}

/* The seed volumes: a volume with files, directories, links, a snapshot, a clone, and one with
 * records in its intent log (not yet committed). */
static void mkcorpus(const char *dir)
{
    char path[4096];
    for (int k = 0; k < 3; k++) { /* clone.vol, log.vol, and v1.vol: clone.vol in format 1 */
        struct memdev *m = k < 2 ? fresh(k == 0 ? 96 : 128) : md_new(96);
        if (k == 2) {
            struct volfs_bdev d = bdev(m);
            EXPECT_EQ(volfs_format_version(&d, "test", 0x1234abcdull, 1000, 1), 0);
        }
        struct volfs *v = vopen(m, false);
        int64_t d = volfs_create(v, 0, VOLFS_ROOT_OBJ, "dir", 040755);
        int64_t f = volfs_create(v, 0, (uint64_t)d, "file", 0100644);
        static uint8_t data[3 * VOLFS_BLOCK + 100];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = (uint8_t)(i * 13);
        EXPECT_EQ(volfs_write(v, 0, (uint64_t)f, 0, data, sizeof data), (int64_t)sizeof data);
        EXPECT_EQ(volfs_write(v, 0, (uint64_t)f, 300000, "far", 3), 3); /* an indirect level */
        int64_t l = volfs_create(v, 0, VOLFS_ROOT_OBJ, "link", 0120777);
        EXPECT_EQ(volfs_write(v, 0, (uint64_t)l, 0, "dir/file", 8), 8);
        EXPECT_EQ(volfs_link(v, 0, VOLFS_ROOT_OBJ, "hard", (uint64_t)f), 0);
        EXPECT_EQ(volfs_snapshot(v, "root", "s"), 0);
        if (k != 1) {
            EXPECT_EQ(volfs_clone(v, "root@s", "c"), 0);
            EXPECT_EQ(volfs_unlink(v, 0, VOLFS_ROOT_OBJ, "hard"), 0);
            EXPECT_EQ(volfs_commit(v), 0);
        } else {
            EXPECT_EQ(volfs_log_enable(v, 0), 0);
            EXPECT_EQ(volfs_commit(v), 0);
            EXPECT(volfs_create(v, 0, VOLFS_ROOT_OBJ, "x", 0100644) > 0);
            EXPECT_EQ(volfs_commit(v), 0);
            EXPECT_EQ(volfs_write(v, 0, (uint64_t)f, 10, "logged", 6), 6);
            EXPECT_EQ(volfs_truncate(v, 0, (uint64_t)f, 5000), 0);
            EXPECT_EQ(volfs_fsync(v, 0), 0);
        }
        volfs_close(v);
        snprintf(path, sizeof path, "%s/%s.vol", dir, k == 0 ? "clone" : k == 1 ? "log" : "v1");
        FILE *out = fopen(path, "wb");
        EXPECT(out && fwrite(m->img, VOLFS_BLOCK, m->nblocks, out) == m->nblocks);
        fclose(out);
        md_free(m);
    }
}

#ifdef VOLFS_LIBFUZZER
/* clang -fsanitize=fuzzer,address,undefined -DVOLFS_FUZZ -DVOLFS_LIBFUZZER ... with the corpus
 * directory tests/kernel/volfs_corpus as libFuzzer's. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_one(data, size);
    return 0;
}
#define main volfs_test_main
#endif

int main(int argc, char **argv)
{
    if (argc >= 5 && !strcmp(argv[1], "fuzz")) {
        fuzz((unsigned)atoi(argv[2]), atol(argv[3]), argc - 4, argv + 4);
        printf("ok\n");
        return 0;
    }
    if (argc == 3 && !strcmp(argv[1], "mkcorpus")) {
        mkcorpus(argv[2]);
        printf("ok\n");
        return 0;
    }
    if (argc != 2)
        return 2;
    if (!strcmp(argv[1], "model"))
        test_model();
    else if (!strcmp(argv[1], "crash"))
        test_crash();
    else if (!strcmp(argv[1], "bitflip"))
        test_bitflip();
    else if (!strcmp(argv[1], "snapshot"))
        test_snapshot();
    else if (!strcmp(argv[1], "datasets"))
        test_datasets();
    else if (!strcmp(argv[1], "links"))
        test_links();
    else if (!strcmp(argv[1], "log"))
        test_log();
    else if (!strcmp(argv[1], "arc"))
        test_arc();
    else if (!strcmp(argv[1], "spacemap"))
        test_spacemap();
    else if (!strcmp(argv[1], "bigdir"))
        test_bigdir();
    else if (!strcmp(argv[1], "orphans"))
        test_orphans();
    else if (!strcmp(argv[1], "direct"))
        test_direct();
    else
        return 2;
    printf("ok\n");
    return 0;
}
