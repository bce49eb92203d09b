/*
 * Read-only ext4 reader over an in-memory image: superblock and group descriptors (32/64-byte,
 * meta_bg), inodes, extent trees and ext2/3 indirect block maps, linear directory scans (htree
 * directories read linearly), symlinks. Trusts nothing in the image: every block number and
 * offset is checked against the filesystem, every loop is bounded; corruption gives -EIO.
 * Layout reference: the kernel.org "ext4 Data Structures and Algorithms" document.
 */
#include "fs/ext4.h"

#include "errno.h"

/* Provided by kernel/lib/string.c in the kernel and by libc in the host test build. */
void *memcpy(void *dst, const void *src, size_t n);
void *memset(void *dst, int c, size_t n);
int memcmp(const void *a, const void *b, size_t n);

#define SB_OFFSET 1024u
#define SB_MAGIC 0xEF53u

/* Superblock field offsets. */
#define SB_INODES_COUNT 0x00
#define SB_BLOCKS_COUNT_LO 0x04
#define SB_R_BLOCKS_COUNT_LO 0x08
#define SB_FREE_BLOCKS_COUNT_LO 0x0C
#define SB_FREE_INODES_COUNT 0x10
#define SB_FIRST_DATA_BLOCK 0x14
#define SB_LOG_BLOCK_SIZE 0x18
#define SB_BLOCKS_PER_GROUP 0x20
#define SB_INODES_PER_GROUP 0x28
#define SB_MAGIC_OFF 0x38
#define SB_REV_LEVEL 0x4C
#define SB_INODE_SIZE 0x58
#define SB_FEATURE_COMPAT 0x5C
#define SB_FEATURE_INCOMPAT 0x60
#define SB_FEATURE_RO_COMPAT 0x64
#define SB_DESC_SIZE 0xFE
#define SB_FIRST_META_BG 0x104
#define SB_UUID 0x68
#define SB_BLOCKS_COUNT_HI 0x150
#define SB_R_BLOCKS_COUNT_HI 0x154
#define SB_FREE_BLOCKS_COUNT_HI 0x158
#define SB_BACKUP_BGS 0x24C

#define COMPAT_SPARSE_SUPER2 0x0200u

#define INCOMPAT_FILETYPE 0x0002u
#define INCOMPAT_RECOVER 0x0004u
#define INCOMPAT_META_BG 0x0010u
#define INCOMPAT_EXTENTS 0x0040u
#define INCOMPAT_64BIT 0x0080u
#define INCOMPAT_MMP 0x0100u
#define INCOMPAT_FLEX_BG 0x0200u
#define INCOMPAT_EA_INODE 0x0400u
#define INCOMPAT_CSUM_SEED 0x2000u
#define INCOMPAT_LARGEDIR 0x4000u
/* Everything else (compression, journal_dev, dirdata, inline_data, encrypt, casefold, and
 * needs_recovery) changes how data must be read, so such images are refused. */
#define INCOMPAT_SUPPORTED                                                                     \
    (INCOMPAT_FILETYPE | INCOMPAT_META_BG | INCOMPAT_EXTENTS | INCOMPAT_64BIT | INCOMPAT_MMP | \
     INCOMPAT_FLEX_BG | INCOMPAT_EA_INODE | INCOMPAT_CSUM_SEED | INCOMPAT_LARGEDIR)

/* ro_compat features never stop a read-only reader; these two change what we report. */
#define RO_COMPAT_SPARSE_SUPER 0x0001u
#define RO_COMPAT_HUGE_FILE 0x0008u

/* Group descriptor field offsets. */
#define GD_INODE_TABLE_LO 0x08
#define GD_INODE_TABLE_HI 0x28

/* Inode field offsets. */
#define I_MODE 0x00
#define I_UID 0x02
#define I_SIZE_LO 0x04
#define I_ATIME 0x08
#define I_CTIME 0x0C
#define I_MTIME 0x10
#define I_GID 0x18
#define I_LINKS 0x1A
#define I_BLOCKS_LO 0x1C
#define I_FLAGS 0x20
#define I_BLOCK 0x28
#define I_FILE_ACL_LO 0x68
#define I_SIZE_HI 0x6C
#define I_BLOCKS_HI 0x74
#define I_FILE_ACL_HI 0x76
#define I_UID_HI 0x78
#define I_GID_HI 0x7A
#define I_EXTRA_ISIZE 0x80
#define I_CTIME_EXTRA 0x84
#define I_MTIME_EXTRA 0x88
#define I_ATIME_EXTRA 0x8C
#define I_GOOD_OLD_SIZE 128u
#define I_BLOCK_BYTES 60u

#define FL_INDEX 0x00001000u
#define FL_HUGE_FILE 0x00040000u
#define FL_EXTENTS 0x00080000u
#define FL_INLINE_DATA 0x10000000u

#define S_IFMT_ 0170000u
#define S_IFSOCK_ 0140000u
#define S_IFLNK_ 0120000u
#define S_IFREG_ 0100000u
#define S_IFBLK_ 0060000u
#define S_IFDIR_ 0040000u
#define S_IFCHR_ 0020000u
#define S_IFIFO_ 0010000u

#define EXT_MAGIC 0xF30Au
#define EXT_MAX_DEPTH 5u
#define EXT_INIT_MAX_LEN 32768u
#define EXT_ENTRY 12u

#define SYMLINK_MAX 4096u

/* Blocks beyond any mapping (logical block numbers are at most 32 bits). */
#define HOLE_FOREVER ((uint64_t)1 << 32)

/* Little-endian loads from possibly unaligned image bytes. */
static uint16_t le16(const uint8_t *p) { return (uint16_t)(p[0] | (p[1] << 8)); }

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) |
           ((uint32_t)p[3] << 24);
}

/* A parsed inode: the raw record stays in the image, the fields we use are decoded once. */
struct inode {
    uint32_t ino;
    const uint8_t *raw;
    uint32_t mode;
    uint32_t flags;
    uint64_t size;
    uint32_t extra_isize; /* bytes beyond the first 128 that hold valid fields */
};

/* Returns the address of block pblk in the image, or NULL if it lies outside the filesystem. */
static const uint8_t *block_at(const struct ext4_fs *fs, uint64_t pblk)
{
    if (pblk >= fs->blocks_count)
        return NULL;
    return fs->image + pblk * fs->block_size;
}

/* Returns true if x is a power of `base`, for base 3, 5, 7 (x >= 1). */
static bool is_power_of(uint32_t x, uint32_t base)
{
    while (x > 1 && x % base == 0)
        x /= base;
    return x == 1;
}

/* Returns true if group g holds a superblock (and so a group-descriptor copy) backup. */
static bool group_has_super(const struct ext4_fs *fs, uint32_t g)
{
    if (g == 0)
        return true;
    if (fs->feature_compat & COMPAT_SPARSE_SUPER2) {
        const uint8_t *sb = fs->image + SB_OFFSET;
        return g == le32(sb + SB_BACKUP_BGS) || g == le32(sb + SB_BACKUP_BGS + 4);
    }
    if (!(fs->feature_ro_compat & RO_COMPAT_SPARSE_SUPER))
        return true;
    return g == 1 || is_power_of(g, 3) || is_power_of(g, 5) || is_power_of(g, 7);
}

/* Returns the address of group g's descriptor, or NULL if it lies outside the filesystem. */
static const uint8_t *group_desc(const struct ext4_fs *fs, uint32_t g)
{
    if (g >= fs->group_count)
        return NULL;
    uint32_t per_block = fs->block_size / fs->desc_size;
    uint64_t gdb = g / per_block;
    uint64_t pblk;
    if ((fs->feature_incompat & INCOMPAT_META_BG) && gdb >= fs->first_meta_bg) {
        uint64_t first = gdb * per_block; /* first group of this meta group */
        pblk = fs->first_data_block + first * fs->blocks_per_group +
               (group_has_super(fs, (uint32_t)first) ? 1 : 0);
    } else {
        pblk = fs->first_data_block + 1 + gdb;
    }
    const uint8_t *b = block_at(fs, pblk);
    if (!b)
        return NULL;
    return b + (g % per_block) * fs->desc_size;
}

/* Validates the superblock and geometry; 0, -EINVAL (not ours) or -EIO (see ext4.h). */
int ext4_mount(struct ext4_fs *fs, const uint8_t *image, uint64_t size)
{
    if (!fs || !image || size < SB_OFFSET + 1024)
        return -EINVAL;
    const uint8_t *sb = image + SB_OFFSET;
    if (le16(sb + SB_MAGIC_OFF) != SB_MAGIC)
        return -EINVAL;

    uint32_t log_bs = le32(sb + SB_LOG_BLOCK_SIZE);
    if (log_bs > 6)
        return -EINVAL;
    struct ext4_fs f = {0};
    f.image = image;
    f.size = size;
    f.block_size = 1024u << log_bs;

    uint32_t rev = le32(sb + SB_REV_LEVEL);
    if (rev >= 1) {
        f.feature_compat = le32(sb + SB_FEATURE_COMPAT);
        f.feature_incompat = le32(sb + SB_FEATURE_INCOMPAT);
        f.feature_ro_compat = le32(sb + SB_FEATURE_RO_COMPAT);
        f.inode_size = le16(sb + SB_INODE_SIZE);
    } else {
        f.inode_size = I_GOOD_OLD_SIZE;
    }
    if (f.feature_incompat & ~INCOMPAT_SUPPORTED)
        return -EINVAL;
    if (f.inode_size < I_GOOD_OLD_SIZE || f.inode_size > f.block_size ||
        (f.inode_size & (f.inode_size - 1)))
        return -EINVAL;

    f.desc_size = 32;
    if (f.feature_incompat & INCOMPAT_64BIT) {
        f.desc_size = le16(sb + SB_DESC_SIZE);
        if (f.desc_size < 32 || f.desc_size > f.block_size || (f.desc_size & (f.desc_size - 1)))
            return -EINVAL;
    }

    f.blocks_count = le32(sb + SB_BLOCKS_COUNT_LO);
    if (f.feature_incompat & INCOMPAT_64BIT)
        f.blocks_count |= (uint64_t)le32(sb + SB_BLOCKS_COUNT_HI) << 32;
    f.first_data_block = le32(sb + SB_FIRST_DATA_BLOCK);
    f.blocks_per_group = le32(sb + SB_BLOCKS_PER_GROUP);
    f.inodes_per_group = le32(sb + SB_INODES_PER_GROUP);
    f.inodes_count = le32(sb + SB_INODES_COUNT);
    f.first_meta_bg = le32(sb + SB_FIRST_META_BG);

    /* The whole filesystem must be in the image: then block_at() alone guards every access. */
    if (f.blocks_count == 0 || f.blocks_count > size / f.block_size)
        return -EINVAL;
    if (f.first_data_block >= f.blocks_count || f.blocks_per_group == 0 ||
        f.inodes_per_group == 0 || f.inodes_per_group > f.block_size * 8u)
        return -EINVAL;
    uint64_t groups =
        (f.blocks_count - f.first_data_block + f.blocks_per_group - 1) / f.blocks_per_group;
    if (groups == 0 || groups > UINT32_MAX)
        return -EINVAL;
    f.group_count = (uint32_t)groups;
    if (f.inodes_count < EXT4_ROOT_INO || f.inodes_count > groups * f.inodes_per_group)
        return -EINVAL;

    /* The descriptors of the first and the last group must be readable. */
    if (!group_desc(&f, 0) || !group_desc(&f, f.group_count - 1))
        return -EIO;
    *fs = f;
    return 0;
}

/* Copies the superblock totals, clamped to the geometry checked at mount. */
void ext4_statfs(const struct ext4_fs *fs, struct ext4_statfs *out)
{
    const uint8_t *sb = fs->image + SB_OFFSET;
    uint64_t free_blocks = le32(sb + SB_FREE_BLOCKS_COUNT_LO);
    uint64_t reserved = le32(sb + SB_R_BLOCKS_COUNT_LO);
    if (fs->feature_incompat & INCOMPAT_64BIT) {
        free_blocks |= (uint64_t)le32(sb + SB_FREE_BLOCKS_COUNT_HI) << 32;
        reserved |= (uint64_t)le32(sb + SB_R_BLOCKS_COUNT_HI) << 32;
    }
    if (free_blocks > fs->blocks_count)
        free_blocks = fs->blocks_count;
    out->block_size = fs->block_size;
    out->blocks = fs->blocks_count;
    out->free_blocks = free_blocks;
    out->avail_blocks = free_blocks > reserved ? free_blocks - reserved : 0;
    out->inodes = fs->inodes_count;
    out->free_inodes = le32(sb + SB_FREE_INODES_COUNT);
    if (out->free_inodes > fs->inodes_count)
        out->free_inodes = fs->inodes_count;
    memcpy(out->uuid, sb + SB_UUID, sizeof out->uuid);
}

/* Reads inode ino into *in; returns 0, -EINVAL for an ino outside the filesystem, -EIO if the
 * inode table is outside the filesystem or the record is malformed. */
static int get_inode(const struct ext4_fs *fs, uint32_t ino, struct inode *in)
{
    if (ino == 0 || ino > fs->inodes_count)
        return -EINVAL;
    uint32_t g = (ino - 1) / fs->inodes_per_group;
    uint32_t idx = (ino - 1) % fs->inodes_per_group;
    const uint8_t *gd = group_desc(fs, g);
    if (!gd)
        return -EIO;
    uint64_t table = le32(gd + GD_INODE_TABLE_LO);
    if (fs->desc_size >= 64)
        table |= (uint64_t)le32(gd + GD_INODE_TABLE_HI) << 32;
    uint64_t byte_off = (uint64_t)idx * fs->inode_size;
    uint64_t pblk = table + byte_off / fs->block_size;
    if (pblk < table) /* wrapped */
        return -EIO;
    const uint8_t *b = block_at(fs, pblk);
    if (!b) /* an inode never straddles blocks: inode_size divides block_size */
        return -EIO;
    const uint8_t *raw = b + byte_off % fs->block_size;

    in->ino = ino;
    in->raw = raw;
    in->mode = le16(raw + I_MODE);
    in->flags = le32(raw + I_FLAGS);
    in->size = le32(raw + I_SIZE_LO) | ((uint64_t)le32(raw + I_SIZE_HI) << 32);
    in->extra_isize = 0;
    if (fs->inode_size > I_GOOD_OLD_SIZE) {
        uint32_t extra = le16(raw + I_EXTRA_ISIZE);
        if (I_GOOD_OLD_SIZE + extra > fs->inode_size || (extra & 3))
            return -EIO;
        in->extra_isize = extra;
    }
    if (in->size > ((uint64_t)1 << 62))
        return -EIO;
    if (in->flags & FL_INLINE_DATA) /* the feature is refused at mount: this is corruption */
        return -EIO;
    return 0;
}

/* Maps logical block lblk of an extent-mapped inode: sets *pblk (0 for a hole or an unwritten
 * extent) and *run (blocks from lblk with the same answer, >= 1); returns 0 or -EIO. */
static int map_extents(const struct ext4_fs *fs, const struct inode *in, uint64_t lblk,
                       uint64_t *pblk, uint64_t *run)
{
    const uint8_t *node = in->raw + I_BLOCK;
    uint32_t node_size = I_BLOCK_BYTES;
    uint64_t limit = HOLE_FOREVER; /* end of the logical range the current node covers */
    uint32_t want_depth = 0;

    *pblk = 0;
    *run = 1;
    if (lblk >= HOLE_FOREVER) { /* beyond any 32-bit logical block: one endless hole */
        *run = HOLE_FOREVER;
        return 0;
    }
    for (uint32_t level = 0; level <= EXT_MAX_DEPTH; level++) {
        if (le16(node) != EXT_MAGIC)
            return -EIO;
        uint32_t entries = le16(node + 2);
        uint32_t depth = le16(node + 6);
        if (level == 0) {
            if (depth > EXT_MAX_DEPTH)
                return -EIO;
            want_depth = depth;
        } else if (depth != want_depth) {
            return -EIO;
        }
        if (EXT_ENTRY + (uint64_t)entries * EXT_ENTRY > node_size)
            return -EIO;
        const uint8_t *ent = node + EXT_ENTRY;

        /* The last entry starting at or before lblk (entries are sorted by first block). */
        uint32_t i = 0;
        while (i < entries && le32(ent + i * EXT_ENTRY) <= lblk)
            i++;
        if (i < entries && le32(ent + i * EXT_ENTRY) < limit)
            limit = le32(ent + i * EXT_ENTRY); /* the next entry bounds this one */
        if (i == 0) { /* before the first entry: a hole */
            *run = limit > lblk ? limit - lblk : 1;
            return 0;
        }
        const uint8_t *e = ent + (i - 1) * EXT_ENTRY;
        uint32_t first = le32(e);

        if (depth == 0) {
            uint32_t len = le16(e + 4);
            bool unwritten = len > EXT_INIT_MAX_LEN;
            if (unwritten)
                len -= EXT_INIT_MAX_LEN;
            uint64_t start = ((uint64_t)le16(e + 6) << 32) | le32(e + 8);
            if (lblk >= (uint64_t)first + len) { /* past this extent: hole to the next */
                *run = limit > lblk ? limit - lblk : 1;
                return 0;
            }
            if (start == 0 || start >= fs->blocks_count || len > fs->blocks_count - start)
                return -EIO;
            *run = (uint64_t)first + len - lblk;
            if (!unwritten)
                *pblk = start + (lblk - first);
            return 0;
        }
        uint64_t child = le32(e + 4) | ((uint64_t)le16(e + 8) << 32);
        node = block_at(fs, child);
        if (!node)
            return -EIO;
        node_size = fs->block_size;
        want_depth = depth - 1;
    }
    return -EIO;
}

/* Maps logical block lblk of an ext2/3-style inode (12 direct, single/double/triple indirect
 * pointers): sets *pblk (0 for a hole) and *run (>= 1); returns 0 or -EIO. */
static int map_indirect(const struct ext4_fs *fs, const struct inode *in, uint64_t lblk,
                        uint64_t *pblk, uint64_t *run)
{
    const uint64_t apb = fs->block_size / 4; /* addresses per block */
    *pblk = 0;
    *run = 1;
    if (lblk < 12) {
        uint32_t p = le32(in->raw + I_BLOCK + 4 * lblk);
        if (p >= fs->blocks_count)
            return -EIO;
        *pblk = p;
        return 0;
    }
    lblk -= 12;
    uint64_t span = apb; /* blocks covered by the pointer at this level */
    uint32_t levels = 1;
    while (lblk >= span) {
        lblk -= span;
        if (++levels > 3) {
            *run = HOLE_FOREVER; /* beyond what the map can address */
            return 0;
        }
        span *= apb;
    }
    uint32_t p = le32(in->raw + I_BLOCK + 4 * (11 + levels));
    for (;;) {
        if (p == 0) { /* the whole subtree under p is a hole */
            *run = span - lblk;
            return 0;
        }
        const uint8_t *b = block_at(fs, p);
        if (!b)
            return -EIO;
        if (levels == 0) {
            *pblk = p;
            return 0;
        }
        span /= apb;
        p = le32(b + 4 * (lblk / span));
        lblk %= span;
        levels--;
    }
}

/* Maps logical block lblk of inode in: sets *pblk (0: reads as zeros) and *run; 0 or -EIO. */
static int map_block(const struct ext4_fs *fs, const struct inode *in, uint64_t lblk,
                     uint64_t *pblk, uint64_t *run)
{
    if (in->flags & FL_EXTENTS)
        return map_extents(fs, in, lblk, pblk, run);
    return map_indirect(fs, in, lblk, pblk, run);
}

/* Copies len bytes from byte off of inode in's mapped data into buf (zeros for holes); the
 * caller has clamped off+len to the file size. Returns 0 or -EIO. */
static int read_mapped(const struct ext4_fs *fs, const struct inode *in, uint64_t off,
                       uint8_t *buf, uint64_t len)
{
    const uint32_t bs = fs->block_size;
    while (len > 0) {
        uint64_t lblk = off / bs, boff = off % bs, pblk, run;
        int rc = map_block(fs, in, lblk, &pblk, &run);
        if (rc < 0)
            return rc;
        if (run > HOLE_FOREVER)
            run = HOLE_FOREVER;
        uint64_t chunk = run * bs - boff;
        if (chunk > len)
            chunk = len;
        if (pblk == 0)
            memset(buf, 0, chunk);
        else
            memcpy(buf, fs->image + pblk * bs + boff, chunk); /* map checked the whole run */
        buf += chunk;
        off += chunk;
        len -= chunk;
    }
    return 0;
}

/* Returns true if symlink in keeps its target in i_block rather than in a data block. */
static bool is_fast_symlink(const struct ext4_fs *fs, const struct inode *in)
{
    if (in->flags & FL_EXTENTS)
        return false;
    uint32_t blocks = le32(in->raw + I_BLOCKS_LO);
    uint32_t acl = le32(in->raw + I_FILE_ACL_LO);
    uint32_t acl_blocks = acl ? fs->block_size >> 9 : 0;
    return in->size < I_BLOCK_BYTES && blocks == acl_blocks;
}

/* Decodes inode ino for stat(2); 0, -EINVAL (bad ino) or -EIO. */
int ext4_stat(const struct ext4_fs *fs, uint32_t ino, struct ext4_stat *out)
{
    struct inode in;
    int rc = get_inode(fs, ino, &in);
    if (rc < 0)
        return rc;
    const uint8_t *r = in.raw;
    out->ino = ino;
    out->mode = in.mode;
    out->nlink = le16(r + I_LINKS);
    out->uid = le16(r + I_UID) | ((uint32_t)le16(r + I_UID_HI) << 16);
    out->gid = le16(r + I_GID) | ((uint32_t)le16(r + I_GID_HI) << 16);
    out->size = in.size;
    out->flags = in.flags;
    uint64_t blocks = le32(r + I_BLOCKS_LO);
    if (fs->feature_ro_compat & RO_COMPAT_HUGE_FILE) {
        blocks |= (uint64_t)le16(r + I_BLOCKS_HI) << 32;
        if (in.flags & FL_HUGE_FILE)
            blocks *= fs->block_size / 512;
    }
    out->blocks = blocks;
    out->rdev_major = out->rdev_minor = 0;
    uint32_t type = in.mode & S_IFMT_;
    if (type == S_IFCHR_ || type == S_IFBLK_) {
        /* Old 8:8 encoding in i_block[0], else Linux's new 12:20 encoding in i_block[1]. */
        uint32_t old_dev = le32(r + I_BLOCK), new_dev = le32(r + I_BLOCK + 4);
        if (old_dev) {
            out->rdev_major = (old_dev >> 8) & 0xff;
            out->rdev_minor = old_dev & 0xff;
        } else {
            out->rdev_major = (new_dev & 0xfff00) >> 8;
            out->rdev_minor = (new_dev & 0xff) | ((new_dev >> 12) & 0xfff00);
        }
    }

    /* Seconds are signed 32-bit; the extra field adds two epoch bits and 30 bits of ns. */
    static const struct {
        uint32_t base, extra;
    } times[3] = {{I_ATIME, I_ATIME_EXTRA}, {I_MTIME, I_MTIME_EXTRA}, {I_CTIME, I_CTIME_EXTRA}};
    int64_t *secs[3] = {&out->atime_sec, &out->mtime_sec, &out->ctime_sec};
    uint32_t *nsecs[3] = {&out->atime_nsec, &out->mtime_nsec, &out->ctime_nsec};
    for (int i = 0; i < 3; i++) {
        int64_t sec = (int32_t)le32(r + times[i].base);
        uint32_t nsec = 0;
        if (I_GOOD_OLD_SIZE + in.extra_isize >= times[i].extra + 4) {
            uint32_t extra = le32(r + times[i].extra);
            sec += (int64_t)(extra & 3) << 32;
            nsec = extra >> 2;
            if (nsec > 999999999u)
                nsec = 999999999u;
        }
        *secs[i] = sec;
        *nsecs[i] = nsec;
    }
    return 0;
}

/* Copies file or symlink content, holes as zeros; bytes copied, 0 at EOF, or -errno. */
int64_t ext4_read(const struct ext4_fs *fs, uint32_t ino, uint64_t off, void *buf, uint64_t len)
{
    struct inode in;
    int rc = get_inode(fs, ino, &in);
    if (rc < 0)
        return rc;
    uint32_t type = in.mode & S_IFMT_;
    if (type == S_IFDIR_)
        return -EISDIR;
    if (type != S_IFREG_ && type != S_IFLNK_)
        return -EINVAL;
    if (off >= in.size)
        return 0;
    if (len > in.size - off)
        len = in.size - off;
    if (len > INT64_MAX)
        len = INT64_MAX;
    if (type == S_IFLNK_ && is_fast_symlink(fs, &in)) {
        memcpy(buf, in.raw + I_BLOCK + off, len);
        return (int64_t)len;
    }
    rc = read_mapped(fs, &in, off, buf, len);
    if (rc < 0)
        return rc;
    return (int64_t)len;
}

/* Gives the in-image address of one file block (NULL for a hole or past EOF); 0 or -errno. */
int ext4_block_ptr(const struct ext4_fs *fs, uint32_t ino, uint64_t file_block, const void **out,
                   uint64_t *run)
{
    struct inode in;
    *out = NULL;
    if (run)
        *run = 1;
    int rc = get_inode(fs, ino, &in);
    if (rc < 0)
        return rc;
    if ((in.mode & S_IFMT_) == S_IFLNK_ && is_fast_symlink(fs, &in))
        return -EINVAL;
    uint64_t nblocks = in.size / fs->block_size + (in.size % fs->block_size ? 1 : 0);
    if (file_block >= nblocks)
        return 0;
    uint64_t pblk, r;
    rc = map_block(fs, &in, file_block, &pblk, &r);
    if (rc < 0)
        return rc;
    if (r > nblocks - file_block)
        r = nblocks - file_block;
    if (pblk)
        *out = fs->image + pblk * fs->block_size;
    if (run)
        *run = r;
    return 0;
}

/* Maps S_IFMT bits to DT_*; DT_UNKNOWN for anything else. */
uint8_t ext4_mode_to_dt(uint32_t mode)
{
    switch (mode & S_IFMT_) {
    case S_IFREG_: return EXT4_DT_REG;
    case S_IFDIR_: return EXT4_DT_DIR;
    case S_IFLNK_: return EXT4_DT_LNK;
    case S_IFCHR_: return EXT4_DT_CHR;
    case S_IFBLK_: return EXT4_DT_BLK;
    case S_IFIFO_: return EXT4_DT_FIFO;
    case S_IFSOCK_: return EXT4_DT_SOCK;
    default: return EXT4_DT_UNKNOWN;
    }
}

/* A directory record as found on disk (name points into the image, not NUL-terminated). */
struct raw_dirent {
    uint32_t ino;
    uint32_t name_len;
    uint8_t file_type;
    const uint8_t *name;
};

/* Decodes the record at offset o of directory block b into *out and its length into *rec_len;
 * returns false if the record is malformed (length, alignment, name outside the record). */
static bool parse_record(const struct ext4_fs *fs, const uint8_t *b, uint32_t o,
                         struct raw_dirent *out, uint32_t *rec_len)
{
    const uint32_t bs = fs->block_size;
    if ((o & 3) || o + 12 > bs)
        return false;
    uint32_t len = le16(b + o + 4);
    if (bs >= 65536) /* 64 KiB blocks store 65536 as 65535 (or 0), and use the low bits */
        len = (len == 65535 || len == 0) ? bs : (len & 65532) | ((len & 3) << 16);
    uint32_t name_len = b[o + 6];
    if (!(fs->feature_incompat & INCOMPAT_FILETYPE))
        name_len |= (uint32_t)b[o + 7] << 8;
    if (len < 12 || (len & 3) || len > bs - o || ((name_len + 8 + 3) & ~3u) > len)
        return false;
    out->ino = le32(b + o);
    out->name_len = name_len;
    out->file_type = (fs->feature_incompat & INCOMPAT_FILETYPE) ? b[o + 7] : 0;
    out->name = b + o + 8;
    *rec_len = len;
    return true;
}

/* Reads the directory's in-use record at or after byte *pos and moves *pos past it; returns
 * 1 with *out filled, 0 at the end of the directory, or -EIO on a malformed block. */
static int dir_next(const struct ext4_fs *fs, const struct inode *dir, uint64_t *pos,
                    struct raw_dirent *out)
{
    const uint32_t bs = fs->block_size;
    while (*pos < dir->size) {
        uint64_t lblk = *pos / bs, pblk, run;
        uint32_t want = (uint32_t)(*pos % bs), o = 0, rec_len;
        int rc = map_block(fs, dir, lblk, &pblk, &run);
        if (rc < 0)
            return rc;
        if (pblk == 0) { /* a hole in a directory holds no entries */
            *pos = (lblk + run) * bs;
            continue;
        }
        const uint8_t *b = fs->image + pblk * bs;
        /* Cookies we hand out are record boundaries (the directory never changes), so resume
         * there; any other offset that does not hold a valid record walks from the block
         * start to the first boundary at or after it. */
        if (want != 0 && parse_record(fs, b, want, out, &rec_len))
            o = want;
        while (o < bs) {
            if (!parse_record(fs, b, o, out, &rec_len))
                return -EIO;
            if (o >= want && out->ino != 0 && out->name_len != 0) {
                if (out->ino > fs->inodes_count || out->name_len > EXT4_NAME_MAX)
                    return -EIO;
                for (uint32_t k = 0; k < out->name_len; k++) /* no NUL or '/' in a name */
                    if (out->name[k] == '\0' || out->name[k] == '/')
                        return -EIO;
                *pos = lblk * bs + o + rec_len;
                return 1;
            }
            o += rec_len;
        }
        *pos = (lblk + 1) * bs;
    }
    return 0;
}

/* Reads directory dir_ino into *dir; returns 0, -ENOTDIR, or an error from get_inode. */
static int get_dir(const struct ext4_fs *fs, uint32_t dir_ino, struct inode *dir)
{
    int rc = get_inode(fs, dir_ino, dir);
    if (rc < 0)
        return rc;
    if ((dir->mode & S_IFMT_) != S_IFDIR_)
        return -ENOTDIR;
    /* A directory larger than the filesystem is corrupt (and would make scans unbounded). */
    if (dir->size > fs->blocks_count * fs->block_size)
        return -EIO;
    return 0;
}

/* Scans directory dir_ino for name; 0 with *ino_out, or -ENOENT/-ENOTDIR/-ENAMETOOLONG/-EIO. */
int ext4_lookup(const struct ext4_fs *fs, uint32_t dir_ino, const char *name, size_t namelen,
                uint32_t *ino_out)
{
    struct inode dir;
    int rc = get_dir(fs, dir_ino, &dir);
    if (rc < 0)
        return rc;
    if (namelen > EXT4_NAME_MAX)
        return -ENAMETOOLONG;
    if (namelen == 0)
        return -ENOENT;
    uint64_t pos = 0;
    struct raw_dirent d;
    while ((rc = dir_next(fs, &dir, &pos, &d)) > 0) {
        if (d.name_len == namelen && memcmp(d.name, name, namelen) == 0) {
            *ino_out = d.ino;
            return 0;
        }
    }
    return rc < 0 ? rc : -ENOENT;
}

/* Maps an on-disk dirent file_type (1..7) to DT_*, or DT_UNKNOWN. */
static uint8_t ftype_to_dt(uint8_t ft)
{
    static const uint8_t dt[8] = {EXT4_DT_UNKNOWN, EXT4_DT_REG,  EXT4_DT_DIR,  EXT4_DT_CHR,
                                  EXT4_DT_BLK,     EXT4_DT_FIFO, EXT4_DT_SOCK, EXT4_DT_LNK};
    return ft < 8 ? dt[ft] : EXT4_DT_UNKNOWN;
}

/* Returns the next in-use entry at or after *cookie (1), the end (0), or -errno. */
int ext4_readdir(const struct ext4_fs *fs, uint32_t dir_ino, uint64_t *cookie,
                 struct ext4_dirent *out)
{
    struct inode dir;
    int rc = get_dir(fs, dir_ino, &dir);
    if (rc < 0)
        return rc;
    struct raw_dirent d;
    rc = dir_next(fs, &dir, cookie, &d);
    if (rc <= 0)
        return rc;
    out->ino = d.ino;
    out->name_len = (uint8_t)d.name_len;
    memcpy(out->name, d.name, d.name_len);
    out->name[d.name_len] = '\0';
    out->type = ftype_to_dt(d.file_type);
    if (out->type == EXT4_DT_UNKNOWN) { /* no filetype feature: ask the inode */
        struct inode child;
        if (get_inode(fs, d.ino, &child) == 0)
            out->type = ext4_mode_to_dt(child.mode);
    }
    return 1;
}

/* Copies a symlink target (fast: from i_block; slow: from its block); length or -errno. */
int ext4_readlink(const struct ext4_fs *fs, uint32_t ino, char *buf, size_t bufsz)
{
    struct inode in;
    int rc = get_inode(fs, ino, &in);
    if (rc < 0)
        return rc;
    if ((in.mode & S_IFMT_) != S_IFLNK_)
        return -EINVAL;
    if (in.size == 0 || in.size > fs->block_size || in.size > SYMLINK_MAX)
        return -EIO;
    size_t n = in.size < bufsz ? (size_t)in.size : bufsz;
    if (is_fast_symlink(fs, &in)) {
        memcpy(buf, in.raw + I_BLOCK, n);
        return (int)n;
    }
    rc = read_mapped(fs, &in, 0, (uint8_t *)buf, n);
    return rc < 0 ? rc : (int)n;
}
