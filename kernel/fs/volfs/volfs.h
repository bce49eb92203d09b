/* volfs: lwjvm's copy-on-write, checksummed volume filesystem (docs/volume-format.md). One
 * implementation for the kernel and the host tool: it sits on a block device given as three
 * functions and needs only kmalloc and the string functions.
 * Locking: a struct volfs is used by one caller at a time; the caller holds the volume's lock
 * (the kernel's VFS glue owns it) around every call. Errors are negative Linux errno values. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

#include "fs/volfs/format.h"

/* The device under a volume: whole 4096-byte blocks. Each returns 0 or a negative errno. A flush
 * returns once every write it follows is on stable storage. */
struct volfs_bdev {
    void *ctx;
    uint64_t nblocks;
    int (*read)(void *ctx, uint64_t blk, void *buf);
    int (*write)(void *ctx, uint64_t blk, const void *buf);
    int (*flush)(void *ctx);
    /* Optional: the n blocks from blk hold nothing any more (the device may give back their
     * space); 0 or a negative errno, which volfs ignores. */
    int (*discard)(void *ctx, uint64_t blk, uint64_t n);
};

struct volfs;

/* What volfs_check found. */
struct volfs_check_report {
    uint64_t txg;          /* the committed txg checked */
    uint64_t blocks;       /* block copies verified */
    uint64_t bad;          /* copies that failed their checksum or could not be read */
    uint64_t repaired;     /* bad copies rewritten from a good ditto copy */
    uint64_t unrecoverable; /* blocks with no good copy */
    uint64_t used_blocks;  /* allocatable blocks in use */
    uint64_t unmarked;     /* reachable blocks the allocation state had free (repair marks them) */
};

/* Fletcher-4 of n bytes (n a multiple of 4). */
void volfs_fletcher4(const void *buf, uint64_t n, struct volfs_cksum *out);

/* Writes an empty volume (label, an empty root dataset, txg 1) over the whole device, in the
 * newest format version (VOLFS_VERSION). */
int volfs_format(const struct volfs_bdev *dev, const char *name, uint64_t guid, uint64_t now_ns);
/* The same in format `version` (VOLFS_VERSION_MIN..VOLFS_VERSION; -EINVAL otherwise): tests of
 * the older formats the code still reads and writes. */
int volfs_format_version(const struct volfs_bdev *dev, const char *name, uint64_t guid,
                         uint64_t now_ns, uint32_t version);

/* Opens the volume on dev: the newest uberblock whose tree verifies. *out is freed by
 * volfs_close. Read-only volumes never write (no repair, no commit). */
int volfs_open(const struct volfs_bdev *dev, bool readonly, struct volfs **out);
/* Frees the in-memory state; uncommitted changes are dropped (volfs_commit first to keep them). */
void volfs_close(struct volfs *v);
/* Commits the open transaction group (docs/volume-format.md "Transaction groups"). */
int volfs_commit(struct volfs *v);
uint64_t volfs_txg(const struct volfs *v);          /* last committed txg */
uint64_t volfs_errors(const struct volfs *v);       /* checksum failures seen by reads */
uint64_t volfs_free_blocks(const struct volfs *v);
uint64_t volfs_data_blocks(const struct volfs *v);  /* allocatable blocks in all */
uint32_t volfs_version(const struct volfs *v);      /* the volume's format version */
void volfs_set_time(struct volfs *v, uint64_t now_ns); /* time stamped on changes */

/* Datasets (kernel/fs/volfs/dataset.c). The volume's own dataset is "root"; a snapshot of dataset
 * fs is "fs@snap"; a clone is a dataset of its own name made from a snapshot. */
/* The index of dataset `name`, or -ENOENT. */
int volfs_dataset(struct volfs *v, const char *name);
/* Commits, then records `ds`'s committed state as `ds@snap` (constant time) and commits that.
 * -EEXIST if it exists, -EINVAL for a bad name, -ENAMETOOLONG past 43 bytes in all. */
int volfs_snapshot(struct volfs *v, const char *ds, const char *snap);
/* A writable dataset `name` whose contents start as snapshot `snap`'s (constant time). */
int volfs_clone(struct volfs *v, const char *snap, const char *name);
/* Makes the dataset of snapshot `snap` what it was then: what it wrote since is freed. Only to
 * the dataset's newest snapshot (-EEXIST when a later one exists). */
int volfs_rollback(struct volfs *v, const char *snap);
/* Removes a snapshot or a clone and frees the blocks nothing else reaches. -EBUSY for "root", a
 * dataset that has snapshots and a snapshot that has clones. */
int volfs_destroy(struct volfs *v, const char *name);
/* The name and flags of dataset entry i (for listing); -ENOENT past the end, -ENODATA for a free
 * entry. */
int volfs_dataset_info(struct volfs *v, int i, char name[44], uint32_t *flags, uint64_t *txg);

/* Space of a dataset's committed state, by birth txg (docs/volume-format.md "Snapshots"). */
struct volfs_space {
    uint64_t refer;     /* bytes of every block copy it reaches */
    uint64_t written;   /* of those, born after floor_txg: written since its previous snapshot */
    uint64_t unique;    /* reached by no other dataset entry: what destroying it would free */
    uint64_t floor_txg; /* its previous snapshot's txg (or its clone origin's), 0 for none */
};
int volfs_space(struct volfs *v, int ds, struct volfs_space *sp);

#define VOLFS_ROOT_OBJ 1ull

struct volfs_stat {
    uint8_t kind;
    uint32_t mode, uid, gid;
    uint64_t size, nlink, atime_ns, mtime_ns, ctime_ns;
    uint64_t parent; /* a directory's parent directory (the root's is itself) */
};
#define VOLFS_SET_MODE 1u  /* permission bits only: the type stays */
#define VOLFS_SET_UID 2u
#define VOLFS_SET_GID 4u
#define VOLFS_SET_ATIME 8u
#define VOLFS_SET_MTIME 16u

/* Objects inside dataset ds. Names are one path component. */
int64_t volfs_lookup(struct volfs *v, int ds, uint64_t dir, const char *name);
int64_t volfs_create(struct volfs *v, int ds, uint64_t dir, const char *name, uint32_t mode);
int volfs_unlink(struct volfs *v, int ds, uint64_t dir, const char *name);
/* Moves name oname of directory odir to nname of ndir as rename(2): a target of the same kind
 * is replaced (an empty directory only: -ENOTEMPTY), -ENOTDIR/-EISDIR for kinds that differ,
 * -EINVAL for a directory moved under itself. Atomic: one txg holds all of it. */
int volfs_rename(struct volfs *v, int ds, uint64_t odir, const char *oname, uint64_t ndir,
                 const char *nname);
/* busy(ctx, obj): whether the caller still has object obj open. An object whose last name goes
 * while it is open stays (an orphan) until volfs_release. */
void volfs_set_busy(struct volfs *v, bool (*busy)(void *ctx, uint64_t obj), void *ctx);
/* The caller closed obj: it is freed if it has no name left. */
int volfs_release(struct volfs *v, int ds, uint64_t obj);
/* A new name in dir for object obj (not a directory: -EPERM); its link count goes up. */
int volfs_link(struct volfs *v, int ds, uint64_t dir, const char *name, uint64_t obj);
/* Sets the attributes `mask` names (VOLFS_SET_*) from st; ctime becomes now. */
int volfs_setattr(struct volfs *v, int ds, uint64_t obj, uint32_t mask,
                  const struct volfs_stat *st);
int volfs_stat(struct volfs *v, int ds, uint64_t obj, struct volfs_stat *st);
/* Reads up to n bytes at off; returns bytes read (0 at or past the end) or -EIO. */
int64_t volfs_read(struct volfs *v, int ds, uint64_t obj, uint64_t off, void *buf, uint64_t n);
int64_t volfs_write(struct volfs *v, int ds, uint64_t obj, uint64_t off, const void *buf,
                    uint64_t n);
int volfs_truncate(struct volfs *v, int ds, uint64_t obj, uint64_t size);
/* O_DIRECT: reads that neither look in the ARC nor fill it (what was written but not yet
 * committed is still read from memory), and writes whose blocks go to the device at once (to
 * newly allocated blocks, not cached; the tree that points at them is committed as usual).
 * Any offset and length; the kernel checks Linux's alignment. */
int64_t volfs_read_direct(struct volfs *v, int ds, uint64_t obj, uint64_t off, void *buf,
                          uint64_t n);
int64_t volfs_write_direct(struct volfs *v, int ds, uint64_t obj, uint64_t off, const void *buf,
                           uint64_t n);
/* lseek's SEEK_DATA (hole false) or SEEK_HOLE from off: a block written is data, a hole (never
 * written or truncated away) is not; the end of the file is a hole. -ENXIO: no data after off. */
int64_t volfs_seek_data(struct volfs *v, int ds, uint64_t obj, uint64_t off, bool hole);
/* Calls fn for each entry of dir (not . and ..); stops early when fn returns nonzero. */
int volfs_readdir(struct volfs *v, int ds, uint64_t dir,
                  int (*fn)(void *arg, const char *name, uint64_t obj, uint8_t type), void *arg);
/* The same from position *pos (0: the start), which moves past each entry fn is called with, so
 * that a later call goes on after the last entry fn took (fn returning nonzero). A position stays
 * valid while the directory changes: entries added or removed meanwhile may or may not be seen,
 * the others are seen once. Positions are below 2^61 (linear directories: the entry slot + 1;
 * hashed ones: the next name hash, below 2^60). */
int volfs_readdir_at(struct volfs *v, int ds, uint64_t dir, uint64_t *pos,
                     int (*fn)(void *arg, const char *name, uint64_t obj, uint8_t type),
                     void *arg);
/* The 60-bit hash that places a name in a hashed directory (docs/volume-format.md). */
uint64_t volfs_name_hash(const char *name, size_t len);

/* The intent log (log.c). Logs the changes of dataset ds from the next commit on, so that
 * volfs_fsync of it writes log blocks instead of committing. */
int volfs_log_enable(struct volfs *v, int ds);
/* Returns once every change to dataset ds is durable: through the log when it can carry them
 * (file writes and truncations since a commit), else by committing the txg. */
int volfs_fsync(struct volfs *v, int ds);
uint64_t volfs_log_blocks_written(const struct volfs *v);

/* The block cache (arc.c): an ARC of `bytes` (0: none; volfs_open starts with none). */
int volfs_set_cache(struct volfs *v, uint64_t bytes);
struct volfs_arc_stats {
    uint64_t hits, misses;            /* reads of a block through a pointer */
    uint64_t ghost_hits_recent;       /* misses of blocks recently evicted from the recent list */
    uint64_t ghost_hits_frequent;     /* ... and from the frequent list */
    uint64_t evictions;
    uint64_t max_bytes, size_bytes, target_recent_bytes;
    uint64_t recent, frequent, ghost_recent, ghost_frequent; /* blocks in each list */
};
void volfs_arc_stats(const struct volfs *v, struct volfs_arc_stats *out);

/* Verifies every copy of every block reachable from the committed state; with repair (and a
 * writable volume) rewrites bad copies from good ones. Returns 0 or a negative errno. */
int volfs_check(struct volfs *v, bool repair, struct volfs_check_report *r);
