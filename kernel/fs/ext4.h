/*
 * Read-only ext4 reader over an in-memory image (the root image, a PVH module in guest RAM).
 * Owns the on-disk format: superblock, group descriptors, inodes, extent trees and ext2/3 block
 * maps, directories (linear, htree directories included) and symlinks. No allocation, no hardware:
 * it compiles freestanding for the kernel and for the host test build (tests/kernel/).
 *
 * Every function is safe on a corrupt image: all offsets are bounds-checked against the image,
 * loops are bounded, and corruption is reported as -EIO. Errors are negative errno values
 * (kernel/include/errno.h). Checksums (metadata_csum, gdt_csum) are not verified.
 *
 * Images: block sizes 1 KiB to 64 KiB; incompat features filetype, extents, 64bit, flex_bg,
 * meta_bg, mmp, ea_inode, csum_seed, largedir (anything else, e.g. inline_data, encrypt,
 * casefold or a journal needing recovery, is refused at mount); every ro_compat feature, as
 * a read-only reader may. A journal is ignored (the image is assumed clean). Lookups scan the
 * directory linearly (htree indexes are not used). Nothing is cached: each call re-reads the
 * inode, which is cheap on an in-memory image.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define EXT4_ROOT_INO 2u
#define EXT4_NAME_MAX 255u

/* Directory entry types, as in getdents64's d_type (Linux DT_*). */
#define EXT4_DT_UNKNOWN 0
#define EXT4_DT_FIFO 1
#define EXT4_DT_CHR 2
#define EXT4_DT_DIR 4
#define EXT4_DT_BLK 6
#define EXT4_DT_REG 8
#define EXT4_DT_LNK 10
#define EXT4_DT_SOCK 12

/* A mounted image. Filled by ext4_mount; treat as read-only and opaque outside ext4.c. */
struct ext4_fs {
    const uint8_t *image;      /* the whole image, starting with block 0 */
    uint64_t size;             /* bytes of image available */
    uint64_t blocks_count;     /* filesystem size in blocks */
    uint32_t block_size;       /* 1024 << s_log_block_size, 1 KiB .. 64 KiB */
    uint32_t first_data_block; /* 1 for 1 KiB blocks, else 0 */
    uint32_t blocks_per_group;
    uint32_t inodes_per_group;
    uint32_t inodes_count;
    uint32_t group_count;
    uint32_t inode_size;       /* on-disk inode record size, >= 128 */
    uint32_t desc_size;        /* group descriptor size: 32, or s_desc_size with 64bit */
    uint32_t first_meta_bg;    /* meta_bg only: first group-descriptor block in meta layout */
    uint32_t feature_compat;
    uint32_t feature_incompat;
    uint32_t feature_ro_compat;
};

/* What stat(2) needs from an inode. Times are seconds since the epoch plus nanoseconds. */
struct ext4_stat {
    uint32_t ino;
    uint32_t mode;   /* S_IFMT type bits and permission bits, as in st_mode */
    uint32_t nlink;  /* links count; 1 for a directory whose count overflowed (dir_nlink) */
    uint32_t uid;
    uint32_t gid;
    uint64_t size;
    uint64_t blocks; /* allocated space in 512-byte units (st_blocks) */
    int64_t atime_sec, mtime_sec, ctime_sec;
    uint32_t atime_nsec, mtime_nsec, ctime_nsec;
    uint32_t flags;  /* ext4 inode flags (EXT4_*_FL), for diagnostics */
    uint32_t rdev_major, rdev_minor; /* character and block devices only, else 0 */
};

/* One directory entry, as returned by ext4_readdir. name is NUL-terminated. */
struct ext4_dirent {
    uint32_t ino;
    uint8_t type;     /* EXT4_DT_* */
    uint8_t name_len; /* bytes in name, excluding the NUL */
    char name[EXT4_NAME_MAX + 1];
};

/* Filesystem totals for statfs(2), from the superblock (exact for images made by mke2fs). */
struct ext4_statfs {
    uint32_t block_size;
    uint64_t blocks;
    uint64_t free_blocks;
    uint64_t avail_blocks; /* free minus the blocks reserved for root */
    uint32_t inodes;
    uint32_t free_inodes;
    uint8_t uuid[16];
};

/* Checks the superblock of the image at `image` (size bytes) and fills *fs; returns 0, -EINVAL
 * if it is not an ext4/ext3/ext2 image we can read (bad magic, unknown incompat feature, bad
 * geometry, image shorter than the filesystem), or -EIO if the group descriptors are unreadable. */
int ext4_mount(struct ext4_fs *fs, const uint8_t *image, uint64_t size);

/* Fills *out with the mounted filesystem's totals; cannot fail. */
void ext4_statfs(const struct ext4_fs *fs, struct ext4_statfs *out);

/* Returns the root directory's inode number (2). */
static inline uint32_t ext4_root_ino(void) { return EXT4_ROOT_INO; }

/* Fills *out with inode ino's metadata; returns 0, -EINVAL for an ino outside the filesystem,
 * or -EIO if the inode cannot be read. */
int ext4_stat(const struct ext4_fs *fs, uint32_t ino, struct ext4_stat *out);

/* Copies up to len bytes of inode ino's content from byte off into buf; returns the number of
 * bytes copied (0 at or past end of file; holes and unwritten extents read as zeros),
 * -EISDIR for a directory, -EINVAL for a type without content (device, fifo, socket), -EIO on
 * corruption. Symlinks and regular files are readable. */
int64_t ext4_read(const struct ext4_fs *fs, uint32_t ino, uint64_t off, void *buf, uint64_t len);

/* Sets *out to the in-image address of block file_block of inode ino (block_size bytes,
 * block-aligned within the image) or to NULL for a hole, an unwritten extent or a block past the
 * end of the file; returns 0, or -EIO on corruption, -EINVAL for a fast symlink (no block).
 * If run is not NULL, *run is how many consecutive file blocks from file_block share this
 * answer (all holes, or physically contiguous), at least 1.
 * Note: the bytes of the last block beyond i_size are whatever is on disk (mke2fs writes
 * zeros, but a mapping must zero them itself if it needs that guaranteed). */
int ext4_block_ptr(const struct ext4_fs *fs, uint32_t ino, uint64_t file_block, const void **out,
                   uint64_t *run);

/* Looks name (namelen bytes, no NUL needed, no '/') up in directory dir_ino and sets *ino_out;
 * returns 0, -ENOENT if absent, -ENOTDIR if dir_ino is not a directory, -ENAMETOOLONG if
 * namelen > 255, -EIO on corruption. "." and ".." are ordinary entries on disk. */
int ext4_lookup(const struct ext4_fs *fs, uint32_t dir_ino, const char *name, size_t namelen,
                uint32_t *ino_out);

/* Reads the directory entry at or after *cookie (start with 0) into *out and advances *cookie
 * past it; returns 1 for an entry, 0 at the end, -ENOTDIR, or -EIO on corruption. The cookie is
 * a byte offset in the directory (usable as getdents64's d_off and for lseek; an offset inside a
 * record resumes at the next one); "." and ".." are included, deleted and internal (htree,
 * checksum) records are skipped. */
int ext4_readdir(const struct ext4_fs *fs, uint32_t dir_ino, uint64_t *cookie,
                 struct ext4_dirent *out);

/* Copies the target of symlink ino into buf (up to bufsz bytes, not NUL-terminated, like
 * readlink(2)); returns the number of bytes copied, -EINVAL if ino is not a symlink, -EIO on
 * corruption. Targets are at most one block (and 4095 bytes when created by Linux). */
int ext4_readlink(const struct ext4_fs *fs, uint32_t ino, char *buf, size_t bufsz);

/* Maps an inode mode (S_IFMT bits) to its EXT4_DT_* type. */
uint8_t ext4_mode_to_dt(uint32_t mode);
