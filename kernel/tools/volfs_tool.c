/* volfs-tool: the host side of volumes, on the same C implementation the kernel runs
 * (kernel/fs/volfs, docs/volume-format.md), over a volume file. lwjvm's `lwjvm volume` commands
 * call it (lwjvm/volume.py). Commands, one result per line on stdout:
 *   format FILE BYTES NAME     create FILE (it must not exist) holding an empty volume
 *   info FILE                  size, txg, free and used bytes (read-only)
 *   check FILE [--repair]      verify every block copy; with --repair rewrite bad copies from
 *                              good ditto copies. Exit 0: the volume is sound (now), 1: it is not
 *   put FILE PATH              write stdin to the file PATH in the root dataset (made with its
 *                              directories), and commit
 *   cat FILE PATH              write the file PATH to stdout
 * Errors: one line on stderr, exit 2. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "errno.h"
#include "fs/volfs/volfs.h"

void *kmalloc(size_t size) { return malloc(size ? size : 1); }
void *kzalloc(size_t size) { return calloc(1, size ? size : 1); }
void kfree(void *p) { free(p); }

static const char *file;

static void die(const char *what, int err)
{
    fprintf(stderr, "volfs-tool: %s: %s: %s\n", file, what, strerror(err < 0 ? -err : err));
    exit(2);
}

static int f_read(void *ctx, uint64_t blk, void *buf)
{
    ssize_t n = pread(*(int *)ctx, buf, VOLFS_BLOCK, (off_t)(blk * VOLFS_BLOCK));
    return n == VOLFS_BLOCK ? 0 : -EIO;
}

static int f_write(void *ctx, uint64_t blk, const void *buf)
{
    ssize_t n = pwrite(*(int *)ctx, buf, VOLFS_BLOCK, (off_t)(blk * VOLFS_BLOCK));
    return n == VOLFS_BLOCK ? 0 : -EIO;
}

static int f_flush(void *ctx) { return fdatasync(*(int *)ctx) ? -EIO : 0; }

static int fd = -1;

static struct volfs_bdev open_dev(int flags)
{
    fd = open(file, flags);
    if (fd < 0)
        die("cannot open", -errno);
    struct stat st;
    if (fstat(fd, &st))
        die("cannot stat", -errno);
    struct volfs_bdev d = {&fd, (uint64_t)st.st_size / VOLFS_BLOCK, f_read, f_write, f_flush};
    return d;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static struct volfs *open_vol(bool ro)
{
    struct volfs_bdev d = open_dev(ro ? O_RDONLY : O_RDWR);
    struct volfs *v;
    int r = volfs_open(&d, ro, &v);
    if (r == -EINVAL) {
        fprintf(stderr, "volfs-tool: %s: not a volume (no valid label or uberblock)\n", file);
        exit(2);
    }
    if (r < 0)
        die("cannot open the volume", r);
    volfs_set_time(v, now_ns());
    return v;
}

static int cmd_format(const char *bytes, const char *name)
{
    char *end;
    unsigned long long size = strtoull(bytes, &end, 10);
    if (*end || size / VOLFS_BLOCK < VOLFS_MIN_BLOCKS) {
        fprintf(stderr, "volfs-tool: %s: bad size %s (at least %u bytes)\n", file, bytes,
                VOLFS_MIN_BLOCKS * VOLFS_BLOCK);
        return 2;
    }
    fd = open(file, O_RDWR | O_CREAT | O_EXCL, 0600);
    if (fd < 0)
        die("cannot create", -errno);
    if (ftruncate(fd, (off_t)(size / VOLFS_BLOCK * VOLFS_BLOCK))) {
        unlink(file);
        die("cannot size", -errno);
    }
    uint64_t guid;
    if (getrandom(&guid, sizeof guid, 0) != sizeof guid)
        guid = now_ns();
    struct volfs_bdev d = {&fd, size / VOLFS_BLOCK, f_read, f_write, f_flush};
    int r = volfs_format(&d, name, guid, now_ns());
    if (r < 0) {
        unlink(file);
        die("cannot format", r);
    }
    return 0;
}

static int cmd_info(void)
{
    struct volfs *v = open_vol(true);
    struct volfs_bdev d = open_dev(O_RDONLY);
    uint64_t total = d.nblocks - VOLFS_FIRST_DATA, freeb = volfs_free_blocks(v);
    printf("size %llu\ntxg %llu\nfree %llu\nused %llu\n",
           (unsigned long long)(d.nblocks * VOLFS_BLOCK), (unsigned long long)volfs_txg(v),
           (unsigned long long)(freeb * VOLFS_BLOCK),
           (unsigned long long)((total - freeb) * VOLFS_BLOCK));
    volfs_close(v);
    return 0;
}

static int cmd_check(bool repair)
{
    struct volfs *v = open_vol(!repair);
    struct volfs_check_report r;
    int rc = volfs_check(v, repair, &r);
    if (rc < 0)
        die("check failed", rc);
    printf("txg %llu\nblocks %llu\nbad %llu\nrepaired %llu\nunrecoverable %llu\n",
           (unsigned long long)r.txg, (unsigned long long)r.blocks, (unsigned long long)r.bad,
           (unsigned long long)r.repaired, (unsigned long long)r.unrecoverable);
    volfs_close(v);
    return r.unrecoverable || r.bad > r.repaired ? 1 : 0;
}

/* The object at path in the root dataset; with make, creates the missing directories and the
 * file. */
static int64_t walk(struct volfs *v, const char *path, bool make)
{
    uint64_t obj = VOLFS_ROOT_OBJ;
    char *copy = strdup(path), *save = 0;
    char *parts[256];
    int n = 0;
    for (char *p = strtok_r(copy, "/", &save); p && n < 256; p = strtok_r(0, "/", &save))
        parts[n++] = p;
    for (int i = 0; i < n; i++) {
        int64_t next = volfs_lookup(v, 0, obj, parts[i]);
        if (next == -ENOENT && make)
            next = volfs_create(v, 0, obj, parts[i], i + 1 < n ? 040755 : 0100644);
        if (next < 0) {
            free(copy);
            return next;
        }
        obj = (uint64_t)next;
    }
    free(copy);
    return (int64_t)obj;
}

static int cmd_put(const char *path)
{
    struct volfs *v = open_vol(false);
    int64_t obj = walk(v, path, true);
    if (obj < 0)
        die(path, (int)obj);
    int r = volfs_truncate(v, 0, (uint64_t)obj, 0);
    if (r < 0)
        die(path, r);
    static char buf[1 << 16];
    uint64_t off = 0;
    ssize_t got;
    while ((got = read(0, buf, sizeof buf)) > 0) {
        int64_t w = volfs_write(v, 0, (uint64_t)obj, off, buf, (uint64_t)got);
        if (w < 0)
            die(path, (int)w);
        off += (uint64_t)got;
    }
    if ((r = volfs_commit(v)) < 0)
        die("commit failed", r);
    volfs_close(v);
    return 0;
}

static int cmd_cat(const char *path)
{
    struct volfs *v = open_vol(true);
    int64_t obj = walk(v, path, false);
    if (obj < 0)
        die(path, (int)obj);
    static char buf[1 << 16];
    uint64_t off = 0;
    for (;;) {
        int64_t got = volfs_read(v, 0, (uint64_t)obj, off, buf, sizeof buf);
        if (got < 0)
            die(path, (int)got);
        if (got == 0)
            break;
        fwrite(buf, 1, (size_t)got, stdout);
        off += (uint64_t)got;
    }
    volfs_close(v);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: volfs-tool format|info|check|put|cat FILE ...\n");
        return 2;
    }
    file = argv[2];
    const char *cmd = argv[1];
    if (!strcmp(cmd, "format") && argc == 5)
        return cmd_format(argv[3], argv[4]);
    if (!strcmp(cmd, "info") && argc == 3)
        return cmd_info();
    if (!strcmp(cmd, "check") && (argc == 3 || (argc == 4 && !strcmp(argv[3], "--repair"))))
        return cmd_check(argc == 4);
    if (!strcmp(cmd, "put") && argc == 4)
        return cmd_put(argv[3]);
    if (!strcmp(cmd, "cat") && argc == 4)
        return cmd_cat(argv[3]);
    fprintf(stderr, "volfs-tool: bad command line (see the top of kernel/tools/volfs_tool.c)\n");
    return 2;
}
