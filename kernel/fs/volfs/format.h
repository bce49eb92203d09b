/* volfs on-disk structures, exactly as docs/volume-format.md (versions 1 and 2) lays them out: the
 * label, block pointers, dnodes, dataset entries, directory entries, uberblocks, log blocks and
 * space-map pages. Nothing here has behaviour; sizes and offsets are pinned with _Static_assert. */
#pragma once
#include <stddef.h>
#include <stdint.h>

#define VOLFS_BLOCK 4096u
#define VOLFS_VERSION 4u     /* what volfs_format writes */
#define VOLFS_VERSION_MIN 1u /* the oldest it reads and writes (in that version's format) */
#define VOLFS_LABEL_MAGIC 0x3153464c4f56574cull /* "LWVOLFS1" */
#define VOLFS_UB_MAGIC 0x3142554c4f56574cull    /* "LWVOLUB1" */
#define VOLFS_LOG_MAGIC 0x31474f4c4f56574cull   /* "LWVOLOG1" */
#define VOLFS_SM_MAGIC 0x314d534c4f56574cull    /* "LWVOLSM1" */
#define VOLFS_RING 32u                           /* uberblock slots, blocks 1..32 */
#define VOLFS_FIRST_DATA 33u /* first allocatable block in v1; v2: after the space-map areas */
#define VOLFS_MIN_BLOCKS 64u
#define VOLFS_KEEP_TXGS 4u /* frees wait this many txgs; open keeps what the newest 4 reach */
#define VOLFS_MAX_LEVELS 8u
#define VOLFS_MAX_DATASETS 65536u
#define VOLFS_MAX_DIR_BYTES (64ull << 20) /* a directory: up to 1M entries, 16384 leaves */
#define VOLFS_CKSUM_OFF (VOLFS_BLOCK - 32u) /* self-checksummed blocks keep it here */

enum volfs_btype {
    VT_OBJSET = 1,
    VT_INDIRECT = 2,
    VT_DNODES = 3,
    VT_DATA = 4,
    VT_DSL = 5,
    VT_LOG = 6,
    VT_DIR = 7,
};

enum volfs_kind { VK_FREE = 0, VK_FILE = 1, VK_DIR = 2, VK_SYMLINK = 3, VK_DNODES = 4, VK_DSL = 5 };

struct volfs_cksum {
    uint64_t w[4];
};

struct volfs_bp {
    uint64_t dva[2];
    uint64_t birth;
    struct volfs_cksum cksum;
    uint8_t type;
    uint8_t level;
    uint8_t pad[6];
};
_Static_assert(sizeof(struct volfs_bp) == 64, "block pointer");
_Static_assert(offsetof(struct volfs_bp, cksum) == 24, "bp checksum");
_Static_assert(offsetof(struct volfs_bp, type) == 56, "bp type");

struct volfs_label {
    uint64_t magic;
    uint32_t version;
    uint32_t block_size;
    uint64_t guid;
    uint64_t nblocks;
    char name[64];
    uint64_t sm_start; /* v2: first block of space-map area 0 (33) */
    uint64_t sm_pages; /* v2: blocks of each of the two areas, ceil(nblocks / VOLFS_SM_PER_PAGE) */
};
_Static_assert(sizeof(struct volfs_label) == 112, "label");
_Static_assert(offsetof(struct volfs_label, sm_start) == 96, "label space map");

/* A space-map page (v2): the allocation state of VOLFS_SM_PER_PAGE blocks, 4 bits each (low
 * nibble first): 0 free, 1 in use, 2 + k in use and freed, released by the commit of a txg t with
 * (t + 1) % 4 == k. Self-checksummed at VOLFS_CKSUM_OFF. */
struct volfs_sm_page {
    uint64_t magic; /* VOLFS_SM_MAGIC */
    uint64_t guid;
    uint64_t txg;  /* the txg whose commit wrote it */
    uint32_t page; /* its index in the area */
    uint32_t pad;
};
_Static_assert(sizeof(struct volfs_sm_page) == 32, "space-map page head");
#define VOLFS_SM_BYTES (VOLFS_CKSUM_OFF - 32u)   /* 4032 bytes of nibbles per page */
#define VOLFS_SM_PER_PAGE (VOLFS_SM_BYTES * 2u) /* 8064 blocks per page */
#define VOLFS_SM_FREE 0u
#define VOLFS_SM_USED 1u
#define VOLFS_SM_FREED 2u /* + k, k = 0..3 */

struct volfs_dnode {
    uint8_t kind;
    uint8_t nlevels;
    uint8_t data_type;
    uint8_t flags; /* VOLFS_DN_* (v3) */
    uint32_t mode;
    uint64_t size;
    uint64_t nlink;
    uint32_t uid;
    uint32_t gid;
    uint64_t atime;
    uint64_t mtime;
    uint64_t ctime;
    uint64_t gen;
    struct volfs_bp root;
    uint64_t parent;
    uint64_t entries; /* a hashed directory: its entries in use */
    uint8_t pad1[112];
};
_Static_assert(sizeof(struct volfs_dnode) == 256, "dnode");
_Static_assert(offsetof(struct volfs_dnode, entries) == 136, "dnode entries");
/* A hashed directory (v3): its data is 2^d leaf blocks of 64 entries; a name goes in leaf
 * volfs_name_hash(name) >> (60 - d). */
#define VOLFS_DN_HASHED 1u
#define VOLFS_HASH_BITS 60u
_Static_assert(offsetof(struct volfs_dnode, root) == 64, "dnode root");
_Static_assert(offsetof(struct volfs_dnode, parent) == 128, "dnode parent");

struct volfs_zil_header {
    uint64_t first_blk;  /* where the chain's first log block goes (preallocated), 0: no chain */
    uint64_t seq;        /* the first block's seq */
    uint64_t chain_guid; /* every block of the chain carries it */
    uint64_t dataset;    /* index + 1 of the dataset the chain logs (a copy elsewhere is inert) */
};
_Static_assert(sizeof(struct volfs_zil_header) == 32, "log header");

struct volfs_log_block {
    uint64_t magic; /* VOLFS_LOG_MAGIC */
    uint64_t chain_guid;
    uint64_t seq;
    uint64_t next; /* preallocated address of the next block */
    uint32_t used; /* bytes of records after the 64-byte head */
    uint8_t pad[28];
};
_Static_assert(sizeof(struct volfs_log_block) == 64, "log block head");

/* A log record (8-aligned) inside a log block after its head; WRITE carries n bytes. */
struct volfs_log_rec {
    uint32_t type; /* VOLFS_LR_* */
    uint32_t len;  /* the whole record, 8-aligned */
    uint64_t obj, off, n;
};
_Static_assert(sizeof(struct volfs_log_rec) == 32, "log record");
#define VOLFS_LR_WRITE 1u    /* n bytes of payload at off */
#define VOLFS_LR_TRUNCATE 2u /* size = off */
#define VOLFS_LOG_SPACE (VOLFS_CKSUM_OFF - 64u) /* record bytes per log block */

/* An OBJSET block: the meta dnode at 0, the intent-log header at 256, and (v4) from 512 the
 * orphan table: the numbers of objects whose last name went while they were open (0: free). */
#define VOLFS_OS_ZIL_OFF 256u
#define VOLFS_OS_ORPHAN_OFF 512u
#define VOLFS_ORPHANS ((VOLFS_BLOCK - VOLFS_OS_ORPHAN_OFF) / 8u) /* 448 */

struct volfs_dsl_entry {
    struct volfs_bp objset;
    uint64_t created_txg;
    uint64_t origin;
    uint32_t flags;
    char name[44];
};
_Static_assert(sizeof(struct volfs_dsl_entry) == 128, "dataset entry");
#define VOLFS_DSL_SNAPSHOT 1u
#define VOLFS_DSL_PER_BLOCK (VOLFS_BLOCK / 128u)

struct volfs_dirent {
    uint64_t obj;
    uint8_t type;
    uint8_t namelen;
    char name[54];
};
_Static_assert(sizeof(struct volfs_dirent) == 64, "directory entry");
#define VOLFS_NAME_MAX 54u
#define VOLFS_DIRENTS_PER_BLOCK (VOLFS_BLOCK / 64u)
#define VOLFS_DNODES_PER_BLOCK (VOLFS_BLOCK / 256u)
#define VOLFS_BPS_PER_BLOCK (VOLFS_BLOCK / 64u)

struct volfs_uberblock {
    uint64_t magic;
    uint32_t version;
    uint32_t pad;
    uint64_t guid;
    uint64_t txg;
    uint64_t timestamp;
    struct volfs_bp rootbp;
    uint64_t nblocks;
    uint32_t flags; /* v2: VOLFS_UB_SPACEMAP */
};
_Static_assert(offsetof(struct volfs_uberblock, rootbp) == 40, "uberblock rootbp");
_Static_assert(offsetof(struct volfs_uberblock, nblocks) == 104, "uberblock nblocks");
_Static_assert(offsetof(struct volfs_uberblock, flags) == 112, "uberblock flags");
/* Space-map area txg % 2 holds the allocation state as this txg's commit left it. */
#define VOLFS_UB_SPACEMAP 1u
