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
 *   list FILE                  one line per dataset: name, snapshot 0/1, created txg, origin,
 *                              refer, written and unique bytes (volfs_space)
 *   snapshot FILE DS SNAP      DS@SNAP of dataset DS ("root": the volume's own)
 *   clone FILE DS@SNAP NAME    a dataset NAME made from the snapshot
 *   rollback FILE DS@SNAP      DS back to its newest snapshot
 *   destroy FILE NAME          a snapshot or clone, freeing what nothing else reaches
 *   export FILE DS             the tree of DS as a stream (below) on stdout
 *   import FILE DS             a stream from stdin into DS (made or replaced entry by entry),
 *                              then commit
 * The stream: records `T MODE MTIME_NS SIZE PATHLEN\n` (MODE octal, the rest decimal), then PATH
 * (PATHLEN bytes, relative, components joined by '/'), then SIZE bytes: a file's contents (T F),
 * a symlink's target (T L), the earlier PATH a hard link shares its file with (T H); T D is a
 * directory (SIZE 0). A directory comes before what it holds. lwjvm/volume.py turns it into tar
 * and back.
 * A command that writes takes a write lock (open file description lock) on bytes 100..299 of the
 * file, the bytes QEMU's image locking holds while a VM has the disk attached: it never writes a
 * volume a VM uses (exit 3, "in use by a running VM"), and no VM attaches it meanwhile.
 * Errors: one line on stderr, exit 2.
 * With LWJVM_VOLFS_TIMES=1 in the environment, snapshot, clone, rollback and destroy print
 * `volfs-tool: times open_ms A op_ms B close_ms C` on stderr: the volume's open, the operation
 * itself (its commits and flushes included) and the close, in milliseconds (the bench's figure
 * of the operation without the process around it). */
#define _GNU_SOURCE /* F_OFD_SETLK */
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

/* Freed blocks become holes in the volume file again. */
static int f_discard(void *ctx, uint64_t blk, uint64_t n)
{
    return fallocate(*(int *)ctx, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                     (off_t)(blk * VOLFS_BLOCK), (off_t)(n * VOLFS_BLOCK))
               ? -errno
               : 0;
}

static int fd = -1;

/* The lock described at the top. */
static void lock_image(void)
{
    struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 200};
    if (fcntl(fd, F_OFD_SETLK, &fl) == 0)
        return;
    if (errno == EAGAIN || errno == EACCES) {
        fprintf(stderr, "volfs-tool: %s: in use by a running VM\n", file);
        exit(3);
    }
    die("cannot lock", -errno);
}

static struct volfs_bdev open_dev(int flags)
{
    fd = open(file, flags);
    if (fd < 0)
        die("cannot open", -errno);
    if ((flags & O_ACCMODE) != O_RDONLY)
        lock_image();
    struct stat st;
    if (fstat(fd, &st))
        die("cannot stat", -errno);
    struct volfs_bdev d = {&fd, (uint64_t)st.st_size / VOLFS_BLOCK, f_read, f_write, f_flush,
                           f_discard};
    return d;
}

static uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
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
    lock_image();
    if (ftruncate(fd, (off_t)(size / VOLFS_BLOCK * VOLFS_BLOCK))) {
        unlink(file);
        die("cannot size", -errno);
    }
    uint64_t guid;
    if (getrandom(&guid, sizeof guid, 0) != sizeof guid)
        guid = now_ns();
    struct volfs_bdev d = {&fd, size / VOLFS_BLOCK, f_read, f_write, f_flush, f_discard};
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
    uint64_t total = volfs_data_blocks(v), freeb = volfs_free_blocks(v);
    printf("size %llu\ntxg %llu\nfree %llu\nused %llu\nversion %u\n",
           (unsigned long long)(d.nblocks * VOLFS_BLOCK), (unsigned long long)volfs_txg(v),
           (unsigned long long)(freeb * VOLFS_BLOCK),
           (unsigned long long)((total - freeb) * VOLFS_BLOCK), (unsigned)volfs_version(v));
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
    printf("txg %llu\nblocks %llu\nbad %llu\nrepaired %llu\nunrecoverable %llu\n"
           "unmarked %llu\n",
           (unsigned long long)r.txg, (unsigned long long)r.blocks, (unsigned long long)r.bad,
           (unsigned long long)r.repaired, (unsigned long long)r.unrecoverable,
           (unsigned long long)r.unmarked);
    volfs_close(v);
    return r.unrecoverable || r.bad > r.repaired || (r.unmarked && !repair) ? 1 : 0;
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

static int dataset(struct volfs *v, const char *name)
{
    int ds = volfs_dataset(v, name);
    if (ds < 0) {
        fprintf(stderr, "volfs-tool: %s: no dataset %s\n", file, name);
        exit(2);
    }
    return ds;
}

static int cmd_list(void)
{
    struct volfs *v = open_vol(true);
    char name[44];
    uint32_t flags;
    uint64_t txg;
    for (int i = 0;; i++) {
        int r = volfs_dataset_info(v, i, name, &flags, &txg);
        if (r == -ENODATA)
            continue;
        if (r == -ENOENT)
            break;
        if (r < 0)
            die("cannot read the dataset table", r);
        struct volfs_space sp;
        if ((r = volfs_space(v, i, &sp)) < 0)
            die(name, r);
        printf("%s %d %llu %llu %llu %llu %llu\n", name, flags & 1 ? 1 : 0,
               (unsigned long long)txg, (unsigned long long)sp.floor_txg,
               (unsigned long long)sp.refer, (unsigned long long)sp.written,
               (unsigned long long)sp.unique);
    }
    volfs_close(v);
    return 0;
}

/* Reports a dataset change's error in words: `volfs-tool: FILE: NAME: reason`. */
static int change(const char *op, int r, const char *name)
{
    if (r == 0)
        return 0;
    bool rb = !strcmp(op, "rollback"), de = !strcmp(op, "destroy");
    const char *why = r == -EEXIST        ? rb ? "a later snapshot exists (remove it first)"
                                               : "already exists"
                      : r == -EBUSY       ? !strcmp(name, "root")
                                                ? "is the volume's own dataset"
                                                : "has snapshots or clones (remove them first)"
                      : r == -ENOENT      ? "does not exist"
                      : r == -ENAMETOOLONG ? "name too long (43 bytes in all)"
                      : r == -EINVAL      ? de ? "bad name" : "is not a snapshot (or a bad name)"
                      : r == -ENOSPC      ? "the volume is full"
                                          : strerror(-r);
    fprintf(stderr, "volfs-tool: %s: %s: %s\n", file, name, why);
    exit(2);
}

static int cmd_change(const char *op, int argc, char **argv)
{
    bool two = !strcmp(op, "snapshot") || !strcmp(op, "clone");
    if (argc != (two ? 5 : 4)) {
        fprintf(stderr, "volfs-tool: bad command line (see kernel/tools/volfs_tool.c)\n");
        return 2;
    }
    double t0 = mono_ms();
    struct volfs *v = open_vol(false);
    double t1 = mono_ms();
    if (!strcmp(op, "snapshot")) {
        char full[128];
        snprintf(full, sizeof full, "%s@%s", argv[3], argv[4]);
        change(op, volfs_snapshot(v, argv[3], argv[4]), full);
    } else if (!strcmp(op, "clone")) {
        int r = volfs_clone(v, argv[3], argv[4]);
        change(op, r, r == -EINVAL || (r == -ENOENT && volfs_dataset(v, argv[3]) < 0) ? argv[3]
                                                                                     : argv[4]);
    } else if (!strcmp(op, "rollback")) {
        change(op, volfs_rollback(v, argv[3]), argv[3]);
    } else {
        change(op, volfs_destroy(v, argv[3]), argv[3]);
    }
    double t2 = mono_ms();
    volfs_close(v);
    double t3 = mono_ms();
    const char *times = getenv("LWJVM_VOLFS_TIMES");
    if (times && !strcmp(times, "1"))
        fprintf(stderr, "volfs-tool: times open_ms %.3f op_ms %.3f close_ms %.3f\n", t1 - t0,
                t2 - t1, t3 - t2);
    return 0;
}

/* ---- export: the tree of a dataset as the stream ---- */

struct ent {
    char name[VOLFS_NAME_MAX + 1];
    uint64_t obj;
};

struct ents {
    struct ent *e;
    size_t n, cap;
};

static int collect(void *arg, const char *name, uint64_t obj, uint8_t type)
{
    (void)type;
    struct ents *l = arg;
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 64;
        l->e = realloc(l->e, l->cap * sizeof(*l->e));
        if (!l->e)
            die("out of memory", -ENOMEM);
    }
    snprintf(l->e[l->n].name, sizeof l->e[l->n].name, "%s", name);
    l->e[l->n++].obj = obj;
    return 0;
}

struct seen {
    uint64_t obj;
    char *path;
};
static struct seen *links;
static size_t nlinks;

static void header(char t, uint32_t mode, uint64_t mtime, uint64_t size, const char *path)
{
    printf("%c %o %llu %llu %zu\n%s", t, mode & 07777, (unsigned long long)mtime,
           (unsigned long long)size, strlen(path), path);
}

static void export_dir(struct volfs *v, int ds, uint64_t dir, const char *prefix)
{
    struct ents l = {0, 0, 0};
    int r = volfs_readdir(v, ds, dir, collect, &l);
    if (r < 0)
        die(prefix[0] ? prefix : "/", r);
    static char buf[1 << 16];
    for (size_t i = 0; i < l.n; i++) {
        char *path = malloc(strlen(prefix) + strlen(l.e[i].name) + 2);
        sprintf(path, "%s%s%s", prefix, prefix[0] ? "/" : "", l.e[i].name);
        struct volfs_stat st;
        if ((r = volfs_stat(v, ds, l.e[i].obj, &st)) < 0)
            die(path, r);
        if (st.kind == 2) {
            header('D', st.mode, st.mtime_ns, 0, path);
            export_dir(v, ds, l.e[i].obj, path);
            free(path);
            continue;
        }
        if (st.kind == 1 && st.nlink > 1) {
            size_t k = 0;
            while (k < nlinks && links[k].obj != l.e[i].obj)
                k++;
            if (k < nlinks) {
                header('H', st.mode, st.mtime_ns, strlen(links[k].path), path);
                fputs(links[k].path, stdout);
                free(path);
                continue;
            }
            links = realloc(links, (nlinks + 1) * sizeof(*links));
            links[nlinks].obj = l.e[i].obj;
            links[nlinks++].path = strdup(path);
        }
        header(st.kind == 3 ? 'L' : 'F', st.mode, st.mtime_ns, st.size, path);
        for (uint64_t off = 0; off < st.size;) {
            int64_t got = volfs_read(v, ds, l.e[i].obj, off, buf, sizeof buf);
            if (got <= 0) /* a stream cut short is refused by the reader */
                die(path, got < 0 ? (int)got : -EIO);
            fwrite(buf, 1, (size_t)got, stdout);
            off += (uint64_t)got;
        }
        free(path);
    }
    free(l.e);
}

static int cmd_export(const char *dsname)
{
    struct volfs *v = open_vol(true);
    export_dir(v, dataset(v, dsname), VOLFS_ROOT_OBJ, "");
    if (fflush(stdout))
        die("cannot write the stream", -errno);
    volfs_close(v);
    return 0;
}

/* ---- import ---- */

static void bad_stream(const char *why)
{
    fprintf(stderr, "volfs-tool: %s: bad import stream: %s\n", file, why);
    exit(2);
}

static void read_exact(void *buf, size_t n)
{
    if (n && fread(buf, 1, n, stdin) != n)
        bad_stream("it ends in the middle of a record");
}

/* The parent directory of path (made as needed) and its last component in *last. */
static uint64_t parent_of(struct volfs *v, int ds, char *path, char **last)
{
    uint64_t dir = VOLFS_ROOT_OBJ;
    char *p = path;
    for (char *slash; (slash = strchr(p, '/')); p = slash + 1) {
        *slash = 0;
        if (!*p || !strcmp(p, ".") || !strcmp(p, ".."))
            bad_stream("a path with an empty, . or .. component");
        int64_t next = volfs_lookup(v, ds, dir, p);
        if (next == -ENOENT)
            next = volfs_create(v, ds, dir, p, 040755);
        if (next < 0)
            die(p, (int)next);
        struct volfs_stat st;
        if (volfs_stat(v, ds, (uint64_t)next, &st) < 0 || st.kind != 2)
            bad_stream("a path through something that is not a directory");
        *slash = '/';
        dir = (uint64_t)next;
    }
    if (!*p || !strcmp(p, ".") || !strcmp(p, ".."))
        bad_stream("a path with an empty, . or .. component");
    *last = p;
    return dir;
}

static int64_t walk_ds(struct volfs *v, int ds, const char *path)
{
    uint64_t obj = VOLFS_ROOT_OBJ;
    char *copy = strdup(path), *save = 0;
    for (char *p = strtok_r(copy, "/", &save); p; p = strtok_r(0, "/", &save)) {
        int64_t next = volfs_lookup(v, ds, obj, p);
        if (next < 0) {
            free(copy);
            return next;
        }
        obj = (uint64_t)next;
    }
    free(copy);
    return (int64_t)obj;
}

static int cmd_import(const char *dsname)
{
    struct volfs *v = open_vol(false);
    int ds = dataset(v, dsname);
    static char buf[1 << 16];
    char line[128];
    while (fgets(line, sizeof line, stdin)) {
        char t;
        unsigned mode;
        unsigned long long mtime, size;
        size_t plen;
        if (sscanf(line, "%c %o %llu %llu %zu", &t, &mode, &mtime, &size, &plen) != 5 ||
            !strchr("DFLH", t) || plen == 0 || plen > 4096 || (t == 'D' && size) ||
            (t != 'F' && size > 4096))
            bad_stream("a malformed record header");
        char *path = calloc(1, plen + 1);
        read_exact(path, plen);
        if (strlen(path) != plen || path[0] == '/')
            bad_stream("a path that is absolute or holds a NUL");
        char *last;
        uint64_t dir = parent_of(v, ds, path, &last);
        int64_t obj = volfs_lookup(v, ds, dir, last);
        struct volfs_stat st = {0};
        if (obj >= 0 && volfs_stat(v, ds, (uint64_t)obj, &st) < 0)
            die(path, -EIO);
        int r;
        if (obj >= 0 && (t != 'F' || st.kind != 1) && !(t == 'D' && st.kind == 2)) {
            if ((r = volfs_unlink(v, ds, dir, last)) < 0) /* replaced by the stream's entry */
                die(path, r);
            obj = -ENOENT;
        }
        if (t == 'H') {
            char *target = calloc(1, size + 1);
            read_exact(target, size);
            int64_t to = walk_ds(v, ds, target);
            if (to < 0)
                bad_stream("a hard link to a path not imported before it");
            if ((r = volfs_link(v, ds, dir, last, (uint64_t)to)) < 0)
                die(path, r);
            free(target);
            free(path);
            continue;
        }
        if (obj < 0) {
            uint32_t type = t == 'D' ? 040000 : t == 'L' ? 0120000 : 0100000;
            obj = volfs_create(v, ds, dir, last, type | (mode & 07777));
            if (obj < 0)
                die(path, (int)obj);
        } else if (t == 'F' && (r = volfs_truncate(v, ds, (uint64_t)obj, 0)) < 0) {
            die(path, r);
        }
        for (uint64_t off = 0; off < size;) {
            size_t n = size - off < sizeof buf ? (size_t)(size - off) : sizeof buf;
            read_exact(buf, n);
            int64_t w = volfs_write(v, ds, (uint64_t)obj, off, buf, n);
            if (w < 0)
                die(path, (int)w);
            off += n;
        }
        st.mode = mode;
        st.mtime_ns = st.atime_ns = mtime;
        r = volfs_setattr(v, ds, (uint64_t)obj, VOLFS_SET_MODE | VOLFS_SET_MTIME | VOLFS_SET_ATIME,
                          &st);
        if (r < 0)
            die(path, r);
        free(path);
    }
    if (ferror(stdin))
        die("cannot read the stream", -EIO);
    int r = volfs_commit(v);
    if (r < 0)
        die("commit failed", r);
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
    if (!strcmp(cmd, "list") && argc == 3)
        return cmd_list();
    if (!strcmp(cmd, "export") && argc == 4)
        return cmd_export(argv[3]);
    if (!strcmp(cmd, "import") && argc == 4)
        return cmd_import(argv[3]);
    if (!strcmp(cmd, "snapshot") || !strcmp(cmd, "clone") || !strcmp(cmd, "rollback") ||
        !strcmp(cmd, "destroy"))
        return cmd_change(cmd, argc, argv);
    fprintf(stderr, "volfs-tool: bad command line (see the top of kernel/tools/volfs_tool.c)\n");
    return 2;
}
