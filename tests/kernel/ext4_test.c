/*
 * Host-side driver for kernel/fs/ext4.c, built with ASan/UBSan by tests/kernel/test_ext4.py.
 * Commands (IMAGE is an ext4 image file, mapped read-only):
 *   dump IMAGE            one line per file/dir/symlink below / (see dump_entry), after checking
 *                         ext4_read against ext4_block_ptr, lookup against readdir, and cookies
 *   statfs IMAGE          ext4_statfs's fields
 *   cat IMAGE PATH        the content of PATH (symlinks followed) on stdout
 *   resolve IMAGE PATH    "ino mode" of PATH (symlinks followed), or "error N"
 *   pread IMAGE PATH OFF LEN   ext4_read's result and the bytes (hex), or "error N"
 *   fuzz IMAGE SEED N     N rounds of: corrupt a private copy, mount, walk everything; must not
 *                         crash (errors are expected), prints a summary
 * Exit status 0 on success, 1 on a failed check, 2 on usage or I/O errors.
 */
#define _DEFAULT_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs/ext4.h"

static int failures;

static void fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "FAIL: ");
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    failures++;
}

/* CRC-32 (IEEE, as zlib.crc32) so Python can check content without shipping it. */
static uint32_t crc32_update(uint32_t crc, const uint8_t *p, size_t n)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = (crc >> 1) ^ (0xEDB88320u & -(crc & 1));
    }
    return ~crc;
}

static void print_hex(const void *p, size_t n)
{
    const uint8_t *b = p;
    if (n == 0)
        putchar('-');
    for (size_t i = 0; i < n; i++)
        printf("%02x", b[i]);
}

static const uint8_t *map_image(const char *path, uint64_t *size)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        perror(path);
        exit(2);
    }
    struct stat st;
    if (fstat(fd, &st) < 0 || st.st_size == 0) {
        fprintf(stderr, "%s: empty or unreadable\n", path);
        exit(2);
    }
    void *p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
        perror("mmap");
        exit(2);
    }
    close(fd);
    *size = (uint64_t)st.st_size;
    return p;
}

/* Host-side path walk over the ext4 API, following symlinks (at most 40), like the VFS will.
 * Returns 0 with *ino set, or a negative errno. */
static int walk_path(const struct ext4_fs *fs, const char *path, uint32_t *ino)
{
    char buf[2][8192];
    int cur = 0, links = 0;
    if (strlen(path) >= sizeof buf[0])
        return -ENAMETOOLONG;
    strcpy(buf[cur], path);
    uint32_t at = ext4_root_ino(); /* the directory reached so far (no cwd: start at /) */
    const char *p = buf[cur];
    for (;;) {
        while (*p == '/')
            p++;
        if (*p == '\0') {
            *ino = at;
            return 0;
        }
        const char *end = strchr(p, '/');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        struct ext4_stat st;
        int rc = ext4_stat(fs, at, &st);
        if (rc < 0)
            return rc;
        if ((st.mode & 0170000) != 0040000)
            return -ENOTDIR;
        uint32_t next;
        rc = ext4_lookup(fs, at, p, len, &next);
        if (rc < 0)
            return rc;
        rc = ext4_stat(fs, next, &st);
        if (rc < 0)
            return rc;
        p += len;
        if ((st.mode & 0170000) == 0120000) {
            if (++links > 40)
                return -ELOOP;
            char target[4097];
            rc = ext4_readlink(fs, next, target, sizeof target - 1);
            if (rc < 0)
                return rc;
            target[rc] = '\0';
            /* New path: target + rest; relative targets resolve from dir. */
            int other = 1 - cur;
            if ((size_t)rc + strlen(p) + 1 > sizeof buf[other])
                return -ENAMETOOLONG;
            snprintf(buf[other], sizeof buf[other], "%s%s", target, p);
            cur = other;
            p = buf[cur];
            if (*p == '/')
                at = ext4_root_ino(); /* else relative to the link's directory, at */
            continue;
        }
        at = next;
    }
}

/* Reads the whole of file ino in pieces of awkward sizes and through ext4_block_ptr, checks
 * both agree, and returns the content's CRC-32 (0 for files over 64 MiB, which are skipped). */
static uint32_t check_content(const struct ext4_fs *fs, uint32_t ino, const struct ext4_stat *st,
                              const char *what)
{
    if (st->size > (64u << 20))
        return 0;
    uint8_t *a = malloc(st->size + 1), *b = malloc(st->size + 1);
    uint64_t off = 0;
    static const uint64_t pieces[] = {1, 4095, 7919, 65536, 4096, 100003, 1 << 20};
    for (int i = 0; off < st->size; i++) {
        uint64_t want = pieces[i % 7];
        int64_t n = ext4_read(fs, ino, off, a + off, want);
        if (n <= 0) {
            fail("%s: ext4_read at %" PRIu64 " returned %" PRId64, what, off, n);
            break;
        }
        off += (uint64_t)n;
    }
    int64_t n = ext4_read(fs, ino, st->size, a, 10);
    if (n != 0)
        fail("%s: read at EOF returned %" PRId64, what, n);

    uint32_t bs = fs->block_size;
    for (uint64_t blk = 0; blk * bs < st->size;) {
        const void *ptr;
        uint64_t run;
        int rc = ext4_block_ptr(fs, ino, blk, &ptr, &run);
        if (rc < 0 || run == 0) {
            fail("%s: block_ptr(%" PRIu64 ") = %d", what, blk, rc);
            break;
        }
        for (uint64_t k = 0; k < run && (blk + k) * bs < st->size; k++) {
            uint64_t o = (blk + k) * bs, len = st->size - o < bs ? st->size - o : bs;
            if (ptr)
                memcpy(b + o, (const uint8_t *)ptr + k * bs, len);
            else
                memset(b + o, 0, len);
        }
        blk += run;
    }
    if (memcmp(a, b, st->size) != 0)
        fail("%s: ext4_read and ext4_block_ptr disagree", what);
    uint32_t crc = crc32_update(0, a, st->size);
    free(a);
    free(b);
    return crc;
}

static void dump_dir(const struct ext4_fs *fs, uint32_t dir, uint32_t parent, const char *path);

/* Prints: path(hex) ino dt mode nlink uid gid size blocks atime mtime ctime flags crc target(hex)
 * rdev(major:minor) (times as sec.nsec), then recurses into directories. */
static void dump_entry(const struct ext4_fs *fs, const struct ext4_dirent *d, uint32_t dir,
                       const char *path)
{
    struct ext4_stat st;
    int rc = ext4_stat(fs, d->ino, &st);
    if (rc < 0) {
        fail("%s: stat %d", path, rc);
        return;
    }
    if (ext4_mode_to_dt(st.mode) != d->type)
        fail("%s: dirent type %u, inode mode %o", path, d->type, st.mode);
    uint32_t crc = 0;
    char target[4097];
    int tlen = 0;
    if (d->type == EXT4_DT_REG)
        crc = check_content(fs, d->ino, &st, path);
    if (d->type == EXT4_DT_LNK) {
        tlen = ext4_readlink(fs, d->ino, target, sizeof target);
        if (tlen < 0 || (uint64_t)tlen != st.size) {
            fail("%s: readlink %d, size %" PRIu64, path, tlen, st.size);
            tlen = 0;
        }
        char small[8];
        int n = ext4_readlink(fs, d->ino, small, sizeof small);
        if (n != (tlen < 8 ? tlen : 8) || memcmp(small, target, (size_t)n) != 0)
            fail("%s: short readlink %d", path, n);
    } else if (ext4_readlink(fs, d->ino, target, sizeof target) != -EINVAL) {
        fail("%s: readlink of a non-symlink did not fail with EINVAL", path);
    }
    print_hex(path, strlen(path));
    printf("\t%u\t%u\t%o\t%u\t%u\t%u\t%" PRIu64 "\t%" PRIu64, d->ino, d->type, st.mode, st.nlink,
           st.uid, st.gid, st.size, st.blocks);
    printf("\t%" PRId64 ".%09u\t%" PRId64 ".%09u\t%" PRId64 ".%09u\t%x\t%08x\t", st.atime_sec,
           st.atime_nsec, st.mtime_sec, st.mtime_nsec, st.ctime_sec, st.ctime_nsec, st.flags, crc);
    print_hex(target, (size_t)tlen);
    printf("\t%u:%u\n", st.rdev_major, st.rdev_minor);
    if (d->type == EXT4_DT_DIR) {
        char buf[2][64];
        int64_t r = ext4_read(fs, d->ino, 0, buf[0], sizeof buf[0]);
        if (r != -EISDIR)
            fail("%s: read of a directory returned %" PRId64, path, r);
        dump_dir(fs, d->ino, dir, path);
    } else {
        uint32_t x;
        if (ext4_lookup(fs, d->ino, "a", 1, &x) != -ENOTDIR)
            fail("%s: lookup in a non-directory did not fail with ENOTDIR", path);
    }
}

/* Lists directory dir (whose parent is parent): checks ".", "..", lookups and cookie resumption,
 * dumps each entry. */
static void dump_dir(const struct ext4_fs *fs, uint32_t dir, uint32_t parent, const char *path)
{
    uint64_t cookie = 0, prev = 0;
    struct ext4_dirent d;
    int rc, n = 0;
    bool dot = false, dotdot = false;
    while ((rc = ext4_readdir(fs, dir, &cookie, &d)) == 1) {
        if (cookie <= prev)
            fail("%s: cookie did not advance", path);
        /* Resuming from the previous cookie, or from one byte after it, gives the same entry. */
        struct ext4_dirent again;
        uint64_t c2 = prev;
        if (ext4_readdir(fs, dir, &c2, &again) != 1 || again.ino != d.ino || c2 != cookie ||
            strcmp(again.name, d.name) != 0)
            fail("%s: resuming at cookie %" PRIu64 " differs", path, prev);
        /* An offset inside this record (not a boundary) resumes at the next record. */
        struct ext4_dirent next1, next2;
        uint64_t c3 = cookie - 1, c4 = cookie;
        int r3 = ext4_readdir(fs, dir, &c3, &next1), r4 = ext4_readdir(fs, dir, &c4, &next2);
        if (r3 != r4 || c3 != c4 || (r3 == 1 && next1.ino != next2.ino))
            fail("%s: resuming inside a record at %" PRIu64 " differs", path, cookie - 1);
        prev = cookie;
        n++;
        if (strlen(d.name) != d.name_len)
            fail("%s: name_len mismatch", path);
        uint32_t found;
        if (ext4_lookup(fs, dir, d.name, d.name_len, &found) != 0 || found != d.ino)
            fail("%s/%s: lookup disagrees with readdir", path, d.name);
        if (strcmp(d.name, ".") == 0) {
            dot = true;
            if (d.ino != dir)
                fail("%s: '.' is %u, not %u", path, d.ino, dir);
            continue;
        }
        if (strcmp(d.name, "..") == 0) {
            dotdot = true;
            if (d.ino != parent)
                fail("%s: '..' is %u, not %u", path, d.ino, parent);
            continue;
        }
        char child[8192];
        snprintf(child, sizeof child, "%s/%s", path, d.name);
        dump_entry(fs, &d, dir, child);
    }
    if (rc != 0)
        fail("%s: readdir returned %d", path, rc);
    if (!dot || !dotdot)
        fail("%s: missing . or ..", path);
    if (ext4_readdir(fs, dir, &cookie, &d) != 0)
        fail("%s: readdir past the end did not return 0", path);
    uint32_t x;
    if (ext4_lookup(fs, dir, "no such name", 12, &x) != -ENOENT)
        fail("%s: lookup of a missing name did not fail with ENOENT", path);
    char longname[300];
    memset(longname, 'x', sizeof longname);
    if (ext4_lookup(fs, dir, longname, sizeof longname, &x) != -ENAMETOOLONG)
        fail("%s: lookup of a 300-byte name did not fail with ENAMETOOLONG", path);
}

static int cmd_dump(const char *image)
{
    uint64_t size;
    const uint8_t *img = map_image(image, &size);
    struct ext4_fs fs;
    int rc = ext4_mount(&fs, img, size);
    if (rc < 0) {
        fprintf(stderr, "mount: %d\n", rc);
        return 1;
    }
    printf("block_size\t%u\n", fs.block_size);
    struct ext4_stat st;
    if (ext4_stat(&fs, 0, &st) != -EINVAL || ext4_stat(&fs, fs.inodes_count + 1, &st) != -EINVAL)
        fail("stat of an out-of-range inode did not fail with EINVAL");
    dump_dir(&fs, ext4_root_ino(), ext4_root_ino(), "");
    return failures ? 1 : 0;
}

static int cmd_statfs(const char *image)
{
    uint64_t size;
    const uint8_t *img = map_image(image, &size);
    struct ext4_fs fs;
    int rc = ext4_mount(&fs, img, size);
    if (rc < 0) {
        fprintf(stderr, "mount: %d\n", rc);
        return 1;
    }
    struct ext4_statfs sf;
    ext4_statfs(&fs, &sf);
    printf("%u %" PRIu64 " %" PRIu64 " %" PRIu64 " %u %u ", sf.block_size, sf.blocks,
           sf.free_blocks, sf.avail_blocks, sf.inodes, sf.free_inodes);
    print_hex(sf.uuid, sizeof sf.uuid);
    putchar('\n');
    return 0;
}

static int cmd_cat(const char *image, const char *path)
{
    uint64_t size;
    const uint8_t *img = map_image(image, &size);
    struct ext4_fs fs;
    uint32_t ino;
    struct ext4_stat st;
    int rc = ext4_mount(&fs, img, size);
    if (rc == 0)
        rc = walk_path(&fs, path, &ino);
    if (rc == 0)
        rc = ext4_stat(&fs, ino, &st);
    if (rc < 0) {
        fprintf(stderr, "%s: error %d\n", path, rc);
        return 1;
    }
    char *buf = malloc(st.size + 1);
    int64_t n = ext4_read(&fs, ino, 0, buf, st.size);
    if (n < 0 || (uint64_t)n != st.size) {
        fprintf(stderr, "%s: read %" PRId64 "\n", path, n);
        return 1;
    }
    fwrite(buf, 1, st.size, stdout);
    free(buf);
    return 0;
}

static int cmd_pread(const char *image, const char *path, uint64_t off, uint64_t len)
{
    uint64_t size;
    const uint8_t *img = map_image(image, &size);
    struct ext4_fs fs;
    uint32_t ino;
    int rc = ext4_mount(&fs, img, size);
    if (rc == 0)
        rc = walk_path(&fs, path, &ino);
    if (rc < 0) {
        printf("error %d\n", -rc);
        return 0;
    }
    uint8_t *buf = malloc(len + 1);
    int64_t n = ext4_read(&fs, ino, off, buf, len);
    printf("%" PRId64 " ", n);
    print_hex(buf, n > 0 ? (size_t)n : 0);
    putchar('\n');
    free(buf);
    return 0;
}

static int cmd_resolve(const char *image, const char *path)
{
    uint64_t size;
    const uint8_t *img = map_image(image, &size);
    struct ext4_fs fs;
    uint32_t ino;
    struct ext4_stat st;
    int rc = ext4_mount(&fs, img, size);
    if (rc == 0)
        rc = walk_path(&fs, path, &ino);
    if (rc == 0)
        rc = ext4_stat(&fs, ino, &st);
    if (rc < 0)
        printf("error %d\n", -rc);
    else
        printf("%u %o\n", ino, st.mode);
    return 0;
}

/* ---- corruption ---- */

static uint64_t rng_state;

static uint64_t rng(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

struct budget {
    long ops;
};

/* Exercises every API call on everything reachable, within a budget; results are ignored
 * except that they must stay within their documented ranges. */
static void shake_dir(const struct ext4_fs *fs, uint32_t dir, int depth, struct budget *b)
{
    uint64_t cookie = 0;
    struct ext4_dirent d;
    int rc;
    static uint8_t buf[1 << 16];
    while (b->ops-- > 0 && (rc = ext4_readdir(fs, dir, &cookie, &d)) == 1) {
        if (d.name_len != strlen(d.name))
            fail("fuzz: name_len %u vs strlen %zu", d.name_len, strlen(d.name));
        struct ext4_dirent other; /* from an arbitrary offset (a bogus lseek): no crash */
        uint64_t any = rng() % (1u << 20);
        if (ext4_readdir(fs, dir, &any, &other) == 1 && other.name_len != strlen(other.name))
            fail("fuzz: name_len %u vs strlen %zu", other.name_len, strlen(other.name));
        uint32_t found;
        rc = (b->ops % 8 == 0) ? ext4_lookup(fs, dir, d.name, d.name_len, &found) : 0;
        if (rc != 0 && rc != -EIO)
            fail("fuzz: lookup of a listed name returned %d", rc);
        struct ext4_stat st;
        if (ext4_stat(fs, d.ino, &st) < 0)
            continue;
        int64_t n = ext4_read(fs, d.ino, 0, buf, sizeof buf);
        if (n > (int64_t)sizeof buf)
            fail("fuzz: read returned %" PRId64, n);
        n = ext4_read(fs, d.ino, st.size > 5000 ? st.size - 5000 : 0, buf, sizeof buf);
        (void)n;
        for (uint64_t blk = 0; blk < 16; blk++) {
            const void *ptr;
            uint64_t run;
            if (ext4_block_ptr(fs, d.ino, blk, &ptr, &run) < 0)
                break;
            if (ptr) {
                const uint8_t *p = ptr;
                buf[0] = p[0];
                buf[1] = p[fs->block_size - 1];
            }
        }
        char target[4096];
        rc = ext4_readlink(fs, d.ino, target, sizeof target);
        if (rc > (int)sizeof target)
            fail("fuzz: readlink returned %d", rc);
        if (d.type == EXT4_DT_DIR && depth < 12 && strcmp(d.name, ".") && strcmp(d.name, ".."))
            shake_dir(fs, d.ino, depth + 1, b);
    }
}

static int cmd_fuzz(const char *image, uint64_t seed, long rounds)
{
    uint64_t size;
    const uint8_t *img = map_image(image, &size);
    struct ext4_fs fs;
    if (ext4_mount(&fs, img, size) < 0) {
        fprintf(stderr, "fuzz: the clean image does not mount\n");
        return 1;
    }
    /* Candidate bytes: nonzero bytes of blocks that are not regular-file data (superblock,
     * descriptors, inodes, directories, extent blocks, symlinks). */
    uint8_t *is_data = calloc(fs.blocks_count, 1);
    {
        /* Mark file data by walking the clean tree breadth-first through block_ptr. */
        uint32_t *queue = malloc(sizeof(uint32_t) * fs.inodes_count);
        size_t head = 0, tail = 0;
        queue[tail++] = ext4_root_ino();
        while (head < tail) {
            uint32_t dir = queue[head++];
            uint64_t cookie = 0;
            struct ext4_dirent d;
            while (ext4_readdir(&fs, dir, &cookie, &d) == 1) {
                if (!strcmp(d.name, ".") || !strcmp(d.name, ".."))
                    continue;
                if (d.type == EXT4_DT_DIR && tail < fs.inodes_count)
                    queue[tail++] = d.ino;
                if (d.type != EXT4_DT_REG)
                    continue;
                struct ext4_stat st;
                ext4_stat(&fs, d.ino, &st);
                for (uint64_t blk = 0; blk * fs.block_size < st.size;) {
                    const void *ptr;
                    uint64_t run;
                    if (ext4_block_ptr(&fs, d.ino, blk, &ptr, &run) < 0)
                        break;
                    for (uint64_t k = 0; ptr && k < run; k++)
                        is_data[((const uint8_t *)ptr - img) / fs.block_size + k] = 1;
                    blk += run;
                }
            }
        }
        free(queue);
    }
    size_t ncand = 0;
    uint64_t *cand = malloc(sizeof(uint64_t) * size);
    for (uint64_t i = 0; i < size; i++)
        if (img[i] && (i / fs.block_size >= fs.blocks_count || !is_data[i / fs.block_size]))
            cand[ncand++] = i;
    free(is_data);

    rng_state = seed * 0x9E3779B97F4A7C15ull + 1;
    long mounted = 0;
    for (long r = 0; r < rounds; r++) {
        /* An exact-size heap copy, so ASan flags any byte read outside the image. */
        uint64_t len = size;
        if (rng() % 16 == 0)
            len = rng() % size + 1; /* truncated image */
        uint8_t *copy = malloc(len);
        memcpy(copy, img, len);
        int flips = 1 + (int)(rng() % 12);
        for (int k = 0; k < flips; k++) {
            uint64_t at = (rng() % 5 != 0 && ncand) ? cand[rng() % ncand] : rng() % len;
            if (at >= len)
                continue;
            static const uint32_t words[] = {0,          1,          2,          0xffff,
                                             0x8000,     0xffffffff, 0x7fffffff, 0x80000000,
                                             0x10000,    0xF30A};
            uint32_t w;
            switch (rng() % 6) {
            case 0: copy[at] ^= (uint8_t)(1u << (rng() % 8)); break;
            case 1: copy[at] = (uint8_t)rng(); break;
            case 2: copy[at] = 0xff; break;
            case 3: copy[at] = 0; break;
            default: /* an interesting little-endian word, aligned as most fields are */
                w = (rng() % 3 == 0) ? (uint32_t)(rng() % (fs.blocks_count + 8))
                                     : words[rng() % (sizeof words / sizeof words[0])];
                at &= ~(uint64_t)1;
                for (int k2 = 0; k2 < 4 && at + (uint64_t)k2 < len; k2++)
                    copy[at + (uint64_t)k2] = (uint8_t)(w >> (8 * k2));
                break;
            }
        }
        struct ext4_fs f;
        if (ext4_mount(&f, copy, len) == 0) {
            mounted++;
            struct budget b = {20000};
            shake_dir(&f, ext4_root_ino(), 0, &b);
            uint32_t ino;
            for (int k = 0; k < 8; k++) {
                uint32_t any = (uint32_t)(rng() % (f.inodes_count + 2));
                struct ext4_stat st;
                ext4_stat(&f, any, &st);
                uint8_t buf[512];
                ext4_read(&f, any, rng() % 100000, buf, sizeof buf);
                ext4_lookup(&f, any, "x", 1, &ino);
            }
        }
        free(copy);
    }
    free(cand);
    printf("rounds %ld mounted %ld candidates %zu\n", rounds, mounted, ncand);
    return failures ? 1 : 0;
}

#ifdef EXT4_LIBFUZZER
/* libFuzzer entry, for longer runs than CI's (clang is not needed by the tests):
 *   clang -std=c11 -g -O1 -fsanitize=fuzzer,address,undefined -DEXT4_LIBFUZZER \
 *     -Ikernel/include -Ikernel tests/kernel/ext4_test.c kernel/fs/ext4.c -o ext4_fuzz
 *   ./ext4_fuzz -max_len=1048576 CORPUS_DIR   (seed CORPUS_DIR with small mke2fs images) */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ext4_fs fs;
    if (ext4_mount(&fs, data, size) == 0) {
        struct budget b = {20000};
        shake_dir(&fs, ext4_root_ino(), 0, &b);
    }
    if (failures)
        abort();
    return 0;
}
#define main ext4_test_main /* libFuzzer brings its own main */
int ext4_test_main(int argc, char **argv);
#endif

int main(int argc, char **argv)
{
    if (argc == 3 && strcmp(argv[1], "dump") == 0)
        return cmd_dump(argv[2]);
    if (argc == 3 && strcmp(argv[1], "statfs") == 0)
        return cmd_statfs(argv[2]);
    if (argc == 4 && strcmp(argv[1], "cat") == 0)
        return cmd_cat(argv[2], argv[3]);
    if (argc == 4 && strcmp(argv[1], "resolve") == 0)
        return cmd_resolve(argv[2], argv[3]);
    if (argc == 6 && strcmp(argv[1], "pread") == 0)
        return cmd_pread(argv[2], argv[3], strtoull(argv[4], NULL, 0), strtoull(argv[5], NULL, 0));
    if (argc == 5 && strcmp(argv[1], "fuzz") == 0)
        return cmd_fuzz(argv[2], strtoull(argv[3], NULL, 0), strtol(argv[4], NULL, 0));
    fprintf(stderr, "usage: %s dump IMAGE | statfs IMAGE | cat IMAGE PATH | resolve IMAGE PATH | "
                    "fuzz IMAGE SEED ROUNDS\n", argv[0]);
    return 2;
}
