/* Host tests of the VFS (fs/vfs.c: path walk, mounts, open/create, file reads and writes), tmpfs
 * (fs/tmpfs.c: names, data, unlink-while-open, rename rules, shared pages) and the
 * /proc/self/maps formatter (fs/procfs_maps.c). Run with one argument: vfs, tmpfs or maps;
 * prints "ok". Kernel services are stubbed here with libc. */
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errno.h"
#include "fs/flock.h"
#include "fs/fsnotify.h"
#include "fs/procfs_maps.h"
#include "fs/tmpfs.h"
#include "fs/vfs.h"
#include "linux_abi.h"
#include "core/clock.h"
#include "linux/syscall.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "sched/wait.h"

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

/* ---- kernel services, stubbed ---- */
void *kmalloc(size_t size) { return malloc(size ? size : 1); }
void *kzalloc(size_t size) { return calloc(1, size ? size : 1); }
void kfree(void *p) { free(p); }
long uaccess_copy(void *dst, const void *src, uint64_t n)
{
    memcpy(dst, src, n);
    return 0;
}
long uaccess_memset(void *dst, int c, uint64_t n)
{
    memset(dst, c, n);
    return 0;
}
long uaccess_strncpy(char *dst, const char *src, uint64_t n)
{
    size_t len = strnlen(src, n);
    memcpy(dst, src, len < n ? len + 1 : n);
    return (long)len;
}

/* File pages: host allocations with a reference count kept beside them. */
#define MAX_PAGES 4096
static struct {
    void *p;
    int refs;
} pages[MAX_PAGES];
static int live_pages;

uint64_t tmpfs_host_page_new(void)
{
    for (int i = 1; i < MAX_PAGES; i++) {
        if (!pages[i].p) {
            pages[i].p = calloc(1, 4096);
            pages[i].refs = 1;
            live_pages++;
            return (uint64_t)i;
        }
    }
    return 0;
}
void *tmpfs_host_page_addr(uint64_t phys) { return pages[phys].p; }
void tmpfs_host_page_ref(uint64_t phys) { pages[phys].refs++; }
void tmpfs_host_page_unref(uint64_t phys)
{
    EXPECT(pages[phys].refs > 0);
    if (--pages[phys].refs == 0) {
        free(pages[phys].p);
        pages[phys].p = 0;
        live_pages--;
    }
}
uint64_t tmpfs_host_now_ns(void) { return 1700000000ull * 1000000000ull; }
uint64_t clock_realtime_ns(void) { return tmpfs_host_now_ns(); }
uint64_t palloc_free_pages(void) { return 1 << 20; }
void volume_statfs(uint64_t *blocks, uint64_t *free_blocks) { *blocks = *free_blocks = 0; }

/* The kernel's spinlocks panic on a double acquire. */
void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}

/* One thread, no syscall in progress: fd_get lends files without holding them. */
int thread_hold_file(struct file *f)
{
    (void)f;
    return 0;
}

/* No pipes here: fcntl's pipe commands never reach a pipe (tests/guest/c covers them). */
long pipe_fcntl(struct file *f, unsigned cmd, uint64_t arg)
{
    (void)f, (void)cmd, (void)arg;
    fprintf(stderr, "pipe_fcntl called\n");
    exit(1);
}

/* One thread: a file position lock is never found held. */
void mutex_init(struct mutex *m, const char *name)
{
    (void)name;
    m->locked = 0;
}
void mutex_lock(struct mutex *m)
{
    if (m->locked) {
        fprintf(stderr, "mutex_lock: already held\n");
        exit(1);
    }
    m->locked = 1;
}
void mutex_unlock(struct mutex *m) { m->locked = 0; }

/* No epoll here: no file is ever watched. */
void epoll_file_release(struct file *f)
{
    (void)f;
    fprintf(stderr, "epoll_file_release called\n");
    exit(1);
}

/* One thread here: a wait would never end. */
static int wakeups;
int waitq_wait_unlock(struct waitq *wq, struct spinlock *lock, uint64_t flags, uint64_t deadline_ns)
{
    (void)wq, (void)lock, (void)flags, (void)deadline_ns;
    fprintf(stderr, "waitq_wait_unlock called\n");
    exit(1);
}
int waitq_wake(struct waitq *wq, int n)
{
    (void)wq, (void)n;
    wakeups++;
    return 0;
}

/* inotify (linux/inotify.c) is not built here: no watch ever exists, so the fs/fsnotify.h hooks
 * return before they would call these. */
int fsnotify_watches;
static void no_inotify(void)
{
    fprintf(stderr, "an inotify hook ran without a watch\n");
    exit(1);
}
void fsnotify_name_event(struct inode *dir, uint32_t mask, uint32_t cookie, const char *name,
                         const struct inode *child)
{
    (void)dir, (void)mask, (void)cookie, (void)name, (void)child;
    no_inotify();
}
void fsnotify_inode_event(struct inode *ino, uint32_t mask, int self_only)
{
    (void)ino, (void)mask, (void)self_only;
    no_inotify();
}
void fsnotify_gone_event(struct inode *ino) { (void)ino, no_inotify(); }
void fsnotify_close_event(struct file *f) { (void)f, no_inotify(); }
uint32_t fsnotify_next_cookie(void) { return no_inotify(), 0; }

/* ---- helpers over the VFS ---- */
static struct file *open_at(const char *path, uint32_t flags)
{
    struct file *f = 0;
    int rc = vfs_open(0, path, flags, 0644, &f);
    if (rc) {
        fprintf(stderr, "open %s: %d\n", path, rc);
        exit(1);
    }
    return f;
}

static int open_rc(const char *path, uint32_t flags)
{
    struct file *f;
    int rc = vfs_open(0, path, flags, 0644, &f);
    if (!rc)
        file_put(f);
    return rc;
}

static int64_t fwrite_str(struct file *f, const char *s) { return f->ops->write(f, s, strlen(s), &f->pos); }

static int mkdir_p(const char *path)
{
    struct inode *dir, *ino;
    char name[NAME_MAX + 1];
    int rc = vfs_lookup_parent(0, path, &dir, name);
    if (rc)
        return rc;
    rc = dir->ops->create(dir, name, strlen(name), S_IFDIR | 0755, &ino);
    if (!rc)
        inode_put(ino);
    inode_put(dir);
    return rc;
}

static int remove_name(const char *path, int rmdir)
{
    struct inode *dir;
    char name[NAME_MAX + 1];
    int rc = vfs_lookup_parent(0, path, &dir, name);
    if (rc)
        return rc;
    rc = dir->ops->unlink(dir, name, strlen(name), rmdir);
    inode_put(dir);
    return rc;
}

static int rename_path(const char *from, const char *to)
{
    struct inode *od, *nd;
    char on[NAME_MAX + 1], nn[NAME_MAX + 1];
    int rc = vfs_lookup_parent(0, from, &od, on);
    if (rc)
        return rc;
    rc = vfs_lookup_parent(0, to, &nd, nn);
    if (!rc) {
        rc = od->ops->rename(od, on, strlen(on), nd, nn, strlen(nn));
        inode_put(nd);
    }
    inode_put(od);
    return rc;
}

static struct linux_stat stat_path(const char *path)
{
    struct inode *ino;
    struct linux_stat st;
    EXPECT_EQ(vfs_lookup(0, path, 1, &ino), 0);
    EXPECT_EQ(ino->ops->stat(ino, &st), 0);
    inode_put(ino);
    return st;
}

/* Lists a directory through vfs_readdir into "name,name,..." */
static void list(const char *path, char *out, size_t size)
{
    struct inode *ino;
    EXPECT_EQ(vfs_lookup(0, path, 1, &ino), 0);
    uint64_t cookie = 0;
    struct vfs_dirent d;
    out[0] = 0;
    while (vfs_readdir(ino, &cookie, &d) == 1) {
        strncat(out, d.name, size - strlen(out) - 2);
        strcat(out, ",");
    }
    inode_put(ino);
}

static void mount_roots(void)
{
    struct inode *root, *tmp;
    EXPECT_EQ(tmpfs_new(0x10, 0755, &root), 0);
    vfs_set_root(root);
    inode_put(root);
    EXPECT_EQ(tmpfs_new(0x17, 01777, &tmp), 0);
    EXPECT_EQ(vfs_mount("/tmp", tmp, "tmpfs", "tmpfs", "rw", 0x17), 0);
    inode_put(tmp);
}

/* Path walk, mounts, symlinks, open flags, paths kept for /proc. */
static void test_vfs(void)
{
    mount_roots();
    char buf[512];
    /* The mountpoint exists only as a mount, and is listed. */
    list("/", buf, sizeof buf);
    EXPECT(strcmp(buf, ".,..,tmp,") == 0);
    EXPECT_EQ(stat_path("/tmp").st_dev, 0x17);
    EXPECT_EQ(stat_path("/").st_dev, 0x10);
    EXPECT_EQ(stat_path("/tmp/..").st_ino, stat_path("/").st_ino);
    EXPECT_EQ(stat_path("/tmp/../tmp/.").st_dev, 0x17);
    EXPECT_EQ(mkdir_p("/tmp/d"), 0);
    EXPECT_EQ(mkdir_p("/tmp/d"), -EEXIST);
    EXPECT_EQ(mkdir_p("/tmp/missing/d"), -ENOENT);
    /* Create, write, read back through the open-file ops. */
    struct file *f = open_at("/tmp/d/f", O_RDWR | O_CREAT | O_EXCL);
    EXPECT(strcmp(f->inode->path, "/tmp/d/f") == 0);
    EXPECT_EQ(fwrite_str(f, "hello"), 5);
    f->pos = 0;
    EXPECT_EQ(f->ops->read(f, buf, sizeof buf, &f->pos), 5);
    EXPECT(memcmp(buf, "hello", 5) == 0);
    file_put(f);
    EXPECT_EQ(open_rc("/tmp/d/f", O_RDWR | O_CREAT | O_EXCL), -EEXIST);
    EXPECT_EQ(open_rc("/tmp/d/f/x", O_RDONLY), -ENOTDIR);
    EXPECT_EQ(open_rc("/tmp/d/f/", O_RDONLY), -ENOTDIR);
    EXPECT_EQ(open_rc("/tmp/d/f", O_RDONLY | O_DIRECTORY), -ENOTDIR);
    EXPECT_EQ(open_rc("/tmp/d", O_WRONLY), -EISDIR);
    EXPECT_EQ(open_rc("/tmp/d/new/", O_RDWR | O_CREAT), -EISDIR);
    /* O_APPEND and O_TRUNC. */
    f = open_at("/tmp/d/f", O_WRONLY | O_APPEND);
    f->pos = 0;
    EXPECT_EQ(fwrite_str(f, "!"), 1);
    EXPECT_EQ(f->inode->size, 6);
    file_put(f);
    f = open_at("/tmp/d/f", O_WRONLY | O_TRUNC);
    EXPECT_EQ(f->inode->size, 0);
    file_put(f);
    /* Symlinks, relative and absolute, and loops. */
    struct inode *dir;
    EXPECT_EQ(vfs_lookup(0, "/tmp/d", 1, &dir), 0);
    EXPECT_EQ(dir->ops->symlink(dir, "rel", 3, "f"), 0);
    EXPECT_EQ(dir->ops->symlink(dir, "abs", 3, "/tmp/d"), 0);
    EXPECT_EQ(dir->ops->symlink(dir, "loop", 4, "loop"), 0);
    EXPECT_EQ(dir->ops->symlink(dir, "dangling", 8, "made-by-link"), 0);
    inode_put(dir);
    /* O_CREAT through a dangling symlink makes its target; O_EXCL refuses the link itself. */
    EXPECT_EQ(open_rc("/tmp/d/dangling", O_WRONLY | O_CREAT | O_EXCL), -EEXIST);
    EXPECT_EQ(open_rc("/tmp/d/dangling", O_WRONLY | O_CREAT), 0);
    EXPECT_EQ(stat_path("/tmp/d/made-by-link").st_ino, stat_path("/tmp/d/dangling").st_ino);
    EXPECT_EQ(open_rc("/tmp/d/loop", O_WRONLY | O_CREAT), -ELOOP);
    EXPECT_EQ(stat_path("/tmp/d/rel").st_ino, stat_path("/tmp/d/f").st_ino);
    EXPECT_EQ(stat_path("/tmp/d/abs/abs/rel").st_ino, stat_path("/tmp/d/f").st_ino);
    struct inode *ino;
    EXPECT_EQ(vfs_lookup(0, "/tmp/d/loop", 1, &ino), -ELOOP);
    EXPECT_EQ(vfs_lookup(0, "/tmp/d/loop", 0, &ino), 0);
    EXPECT_EQ(ino->mode & S_IFMT, S_IFLNK);
    inode_put(ino);
    EXPECT_EQ(open_rc("/tmp/d/rel", O_RDONLY | O_NOFOLLOW), -ELOOP);
    /* The path through a symlink is the real one. */
    EXPECT_EQ(vfs_lookup(0, "/tmp/d/abs/abs", 1, &ino), 0);
    EXPECT(strcmp(ino->path, "/tmp/d") == 0);
    inode_put(ino);
    /* chdir, relative lookups and getcwd. */
    EXPECT_EQ(vfs_chdir("/tmp/d"), 0);
    EXPECT(strcmp(vfs_getcwd(), "/tmp/d") == 0);
    EXPECT_EQ(stat_path("f").st_ino, stat_path("/tmp/d/f").st_ino);
    EXPECT_EQ(vfs_chdir(".."), 0);
    EXPECT(strcmp(vfs_getcwd(), "/tmp") == 0);
    EXPECT_EQ(vfs_chdir("d/f"), -ENOTDIR);
    /* Rename across filesystems is not the VFS's to do: the filesystem refuses. */
    EXPECT_EQ(mkdir_p("/rootdir"), 0);
    EXPECT_EQ(rename_path("/tmp/d/f", "/rootdir/f"), -EXDEV);
    /* A too-long name. */
    char longname[300];
    memset(longname, 'n', 299);
    longname[299] = 0;
    EXPECT_EQ(vfs_lookup(0, longname, 1, &ino), -ENAMETOOLONG);
}

/* tmpfs names and data. */
static void test_tmpfs(void)
{
    mount_roots();
    char buf[9000];
    struct file *f = open_at("/tmp/a", O_RDWR | O_CREAT);
    /* A hole, then data past it. */
    f->pos = 5000;
    EXPECT_EQ(fwrite_str(f, "X"), 1);
    EXPECT_EQ(f->inode->size, 5001);
    EXPECT_EQ(live_pages, 1);
    f->pos = 0;
    memset(buf, 0x55, sizeof buf);
    EXPECT_EQ(f->ops->read(f, buf, sizeof buf, &f->pos), 5001);
    for (int i = 0; i < 5000; i++)
        EXPECT_EQ(buf[i], 0);
    EXPECT_EQ(buf[5000], 'X');
    /* Shrinking drops pages and zeroes the tail of the last one. */
    f->pos = 0;
    memset(buf, 'y', 4096 + 100);
    EXPECT_EQ(f->ops->write(f, buf, 4096 + 100, &f->pos), 4196);
    EXPECT_EQ(f->inode->ops->truncate(f->inode, 4096 + 10), 0);
    EXPECT_EQ(f->inode->ops->truncate(f->inode, 8192), 0);
    EXPECT_EQ(f->inode->ops->read(f->inode, 4096 + 9, buf, 3), 3);
    EXPECT(buf[0] == 'y' && buf[1] == 0 && buf[2] == 0);
    EXPECT_EQ(f->inode->ops->truncate(f->inode, 0), 0);
    EXPECT_EQ(live_pages, 0);
    /* A shared page outlives truncation until its mapping lets go. */
    f->pos = 0;
    EXPECT_EQ(fwrite_str(f, "shared"), 6);
    uint64_t pg = f->inode->ops->page_share(f->inode, 0);
    EXPECT(pg != 0);
    EXPECT_EQ(pages[pg].refs, 2);
    EXPECT(memcmp(pages[pg].p, "shared", 6) == 0);
    memcpy(pages[pg].p, "SHARED", 6); /* a store through the mapping */
    EXPECT_EQ(f->inode->ops->read(f->inode, 0, buf, 6), 6);
    EXPECT(memcmp(buf, "SHARED", 6) == 0);
    EXPECT_EQ(f->inode->ops->truncate(f->inode, 0), 0);
    EXPECT_EQ(live_pages, 1);
    tmpfs_host_page_unref(pg);
    EXPECT_EQ(live_pages, 0);
    /* Unlinked while open: the file keeps working until the last reference goes. */
    f->pos = 0;
    EXPECT_EQ(fwrite_str(f, "still here"), 10);
    EXPECT_EQ(remove_name("/tmp/a", 0), 0);
    struct linux_stat st;
    EXPECT_EQ(f->inode->ops->stat(f->inode, &st), 0);
    EXPECT_EQ(st.st_nlink, 0);
    EXPECT_EQ(f->inode->ops->read(f->inode, 0, buf, 10), 10);
    EXPECT_EQ(open_rc("/tmp/a", O_RDONLY), -ENOENT);
    file_put(f);
    EXPECT_EQ(live_pages, 0);
    /* Directories: rmdir rules, link counts, readdir order and cookies across removals. */
    EXPECT_EQ(mkdir_p("/tmp/d"), 0);
    EXPECT_EQ(stat_path("/tmp/d").st_nlink, 2);
    EXPECT_EQ(mkdir_p("/tmp/d/sub"), 0);
    EXPECT_EQ(stat_path("/tmp/d").st_nlink, 3);
    file_put(open_at("/tmp/d/x", O_WRONLY | O_CREAT));
    file_put(open_at("/tmp/d/y", O_WRONLY | O_CREAT));
    EXPECT_EQ(remove_name("/tmp/d", 1), -ENOTEMPTY);
    EXPECT_EQ(remove_name("/tmp/d/x", 1), -ENOTDIR);
    EXPECT_EQ(remove_name("/tmp/d/sub", 0), -EISDIR);
    EXPECT_EQ(remove_name("/tmp/d/.", 1), -EINVAL);
    list("/tmp/d", buf, sizeof buf);
    EXPECT(strcmp(buf, ".,..,sub,x,y,") == 0);
    struct inode *d;
    EXPECT_EQ(vfs_lookup(0, "/tmp/d", 1, &d), 0);
    uint64_t cookie = 0;
    struct vfs_dirent de;
    for (int i = 0; i < 3; i++)
        EXPECT_EQ(d->ops->readdir(d, &cookie, &de), 1); /* ., .., sub */
    EXPECT_EQ(remove_name("/tmp/d/x", 0), 0);          /* the next entry goes */
    EXPECT_EQ(d->ops->readdir(d, &cookie, &de), 1);
    EXPECT(strcmp(de.name, "y") == 0);
    EXPECT_EQ(d->ops->readdir(d, &cookie, &de), 0);
    /* rename: over files, directories, into itself, onto the same file. */
    EXPECT_EQ(rename_path("/tmp/d/y", "/tmp/d/sub"), -EISDIR);
    EXPECT_EQ(rename_path("/tmp/d/sub", "/tmp/d/y"), -ENOTDIR);
    EXPECT_EQ(rename_path("/tmp/d", "/tmp/d/sub/d2"), -EINVAL);
    EXPECT_EQ(rename_path("/tmp/d/y", "/tmp/d/y"), 0);
    EXPECT_EQ(mkdir_p("/tmp/e"), 0);
    file_put(open_at("/tmp/e/z", O_WRONLY | O_CREAT));
    EXPECT_EQ(rename_path("/tmp/d/sub", "/tmp/e"), -ENOTEMPTY);
    EXPECT_EQ(remove_name("/tmp/e/z", 0), 0);
    EXPECT_EQ(rename_path("/tmp/d/sub", "/tmp/e"), 0); /* over an empty directory */
    EXPECT_EQ(stat_path("/tmp/d").st_nlink, 2);
    EXPECT_EQ(stat_path("/tmp/e/..").st_ino, stat_path("/tmp").st_ino);
    EXPECT_EQ(rename_path("/tmp/e", "/tmp/d/e2"), 0);
    EXPECT_EQ(stat_path("/tmp/d").st_nlink, 3);
    EXPECT_EQ(stat_path("/tmp/d/e2/..").st_ino, stat_path("/tmp/d").st_ino);
    /* Hard links keep the file until the last name goes. */
    struct inode *y;
    EXPECT_EQ(vfs_lookup(0, "/tmp/d/y", 1, &y), 0);
    EXPECT_EQ(d->ops->link(d, "y2", 2, y), 0);
    EXPECT_EQ(stat_path("/tmp/d/y2").st_nlink, 2);
    EXPECT_EQ(remove_name("/tmp/d/y", 0), 0);
    EXPECT_EQ(stat_path("/tmp/d/y2").st_ino, y->ino);
    inode_put(y);
    inode_put(d);
    /* A removed directory takes no new entries. */
    EXPECT_EQ(mkdir_p("/tmp/gone"), 0);
    EXPECT_EQ(vfs_chdir("/tmp/gone"), 0);
    EXPECT_EQ(remove_name("/tmp/gone", 1), 0);
    EXPECT_EQ(open_rc("new", O_RDWR | O_CREAT), -ENOENT);
}

/* flock: locks belong to open files; the same file through two lookups is one file. */
static void test_flock(void)
{
    mount_roots();
    struct file *a = open_at("/tmp/lock", O_RDWR | O_CREAT);
    struct file *b = open_at("/tmp/lock", O_RDWR);
    EXPECT_EQ(flock_apply(a, 2 | 4), 0);          /* LOCK_EX | LOCK_NB */
    EXPECT_EQ(flock_apply(a, 2 | 4), 0);          /* again: already held */
    EXPECT_EQ(flock_apply(b, 2 | 4), -EAGAIN);
    EXPECT_EQ(flock_apply(b, 1 | 4), -EAGAIN);    /* LOCK_SH */
    EXPECT_EQ(flock_apply(a, 1 | 4), 0);          /* convert to shared */
    EXPECT_EQ(flock_apply(b, 1 | 4), 0);          /* two shared locks */
    EXPECT_EQ(flock_apply(b, 2 | 4), -EAGAIN);
    EXPECT_EQ(flock_apply(a, 8), 0);              /* LOCK_UN */
    EXPECT_EQ(flock_apply(b, 2 | 4), 0);
    EXPECT_EQ(flock_apply(a, 0), -EINVAL);
    int before = wakeups;
    file_put(b); /* closing drops the lock */
    EXPECT(wakeups > before);
    EXPECT_EQ(flock_apply(a, 2 | 4), 0);
    file_put(a);
}

/* Runs operations read from stdin, one per line, through the file syscalls (linux/fs.c,
 * linux/fs_dir.c) on a fresh tmpfs at /tmp, and prints one result line per operation: "ok",
 * "-ERRNO", or data. test_fs.py runs the same script with Linux's system calls on Linux's tmpfs
 * and compares. */
#define X(nr, name, fmt) SYS(name);
#include "linux/syscalls.def"
#undef X

static void print_rc(long rc)
{
    if (rc < 0)
        printf("%ld\n", rc);
    else
        printf("ok\n");
}

static uint32_t crc_bytes(const unsigned char *p, size_t n)
{
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 16777619u;
    return h;
}

static int cmp_names(const void *a, const void *b) { return strcmp(a, b); }

#define U(p) ((uint64_t)(uintptr_t)(p))

static void run_script(void)
{
    mount_roots();
    sys_umask(0, 0, 0, 0, 0, 0);
    char line[1024], op[32], a[512], b[512];
    long x, y, z, k;
    long slots[8];
    for (int i = 0; i < 8; i++)
        slots[i] = -1;
    while (fgets(line, sizeof line, stdin)) {
        x = y = z = k = 0;
        if (sscanf(line, "%31s", op) != 1)
            continue;
        int fd_op = !strcmp(op, "fwrite") || !strcmp(op, "fread") || !strcmp(op, "fseek") ||
                    !strcmp(op, "ftrunc") || !strcmp(op, "fstat") || !strcmp(op, "fclose");
        if (fd_op && (sscanf(line, "%*s %ld", &k) != 1 || k < 0 || k >= 8 || slots[k] < 0)) {
            printf("nofd\n");
            continue;
        }
        uint64_t sfd = fd_op ? (uint64_t)slots[k] : 0;
        if (!strcmp(op, "open") && sscanf(line, "%*s %ld %511s %31s", &k, a, b) == 3) {
            static const struct {
                const char *name;
                uint64_t flags;
            } modes[] = {{"r", O_RDONLY}, {"w", O_WRONLY}, {"rw", O_RDWR},
                         {"wc", O_WRONLY | O_CREAT}, {"rwa", O_RDWR | O_APPEND | O_CREAT},
                         {"rwt", O_RDWR | O_TRUNC}};
            uint64_t flags = ~0ull;
            for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
                if (!strcmp(modes[i].name, b))
                    flags = modes[i].flags;
            if (slots[k] >= 0)
                sys_close((uint64_t)slots[k], 0, 0, 0, 0, 0);
            slots[k] = sys_open(U(a), flags, 0640, 0, 0, 0);
            print_rc(slots[k]);
        } else if (!strcmp(op, "fwrite") && sscanf(line, "%*s %*d %ld %ld", &y, &z) == 2) {
            unsigned char *buf = malloc((size_t)y + 1);
            for (long i = 0; i < y; i++)
                buf[i] = (unsigned char)(z + i * 3);
            long w = sys_write(sfd, U(buf), (uint64_t)y, 0, 0, 0);
            free(buf);
            if (w < 0)
                print_rc(w);
            else
                printf("%ld\n", w);
        } else if (!strcmp(op, "fread") && sscanf(line, "%*s %*d %ld", &y) == 1) {
            unsigned char *buf = malloc((size_t)y + 1);
            long r = sys_read(sfd, U(buf), (uint64_t)y, 0, 0, 0);
            if (r < 0)
                print_rc(r);
            else
                printf("%ld %08x\n", r, crc_bytes(buf, (size_t)r));
            free(buf);
        } else if (!strcmp(op, "fseek") && sscanf(line, "%*s %*d %ld %ld", &x, &y) == 2) {
            long r = sys_lseek(sfd, (uint64_t)x, (uint64_t)y, 0, 0, 0);
            if (r < 0)
                print_rc(r);
            else
                printf("%ld\n", r);
        } else if (!strcmp(op, "ftrunc") && sscanf(line, "%*s %*d %ld", &x) == 1) {
            print_rc(sys_ftruncate(sfd, (uint64_t)x, 0, 0, 0, 0));
        } else if (!strcmp(op, "fstat")) {
            struct linux_stat st;
            long rc = sys_fstat(sfd, U(&st), 0, 0, 0, 0);
            if (rc) {
                print_rc(rc);
                continue;
            }
            uint32_t t = st.st_mode & S_IFMT;
            printf("%o %lu %ld\n", st.st_mode, (unsigned long)st.st_nlink,
                   t == S_IFDIR ? 0L : (long)st.st_size);
        } else if (!strcmp(op, "fclose")) {
            print_rc(sys_close(sfd, 0, 0, 0, 0, 0));
            slots[k] = -1;
        } else if (!strcmp(op, "mkdir") && sscanf(line, "%*s %511s %lo", a, &x) == 2) {
            print_rc(sys_mkdir(U(a), (uint64_t)x, 0, 0, 0, 0));
        } else if (!strcmp(op, "rmdir") && sscanf(line, "%*s %511s", a) == 1) {
            print_rc(sys_rmdir(U(a), 0, 0, 0, 0, 0));
        } else if (!strcmp(op, "unlink") && sscanf(line, "%*s %511s", a) == 1) {
            print_rc(sys_unlink(U(a), 0, 0, 0, 0, 0));
        } else if (!strcmp(op, "rename") && sscanf(line, "%*s %511s %511s", a, b) == 2) {
            print_rc(sys_rename(U(a), U(b), 0, 0, 0, 0));
        } else if (!strcmp(op, "link") && sscanf(line, "%*s %511s %511s", a, b) == 2) {
            print_rc(sys_link(U(a), U(b), 0, 0, 0, 0));
        } else if (!strcmp(op, "symlink") && sscanf(line, "%*s %511s %511s", a, b) == 2) {
            print_rc(sys_symlink(U(a), U(b), 0, 0, 0, 0));
        } else if (!strcmp(op, "write") &&
                   sscanf(line, "%*s %511s %ld %ld %ld", a, &x, &y, &z) == 4) {
            long fd = sys_open(U(a), O_WRONLY | O_CREAT, 0644, 0, 0, 0);
            if (fd < 0) {
                print_rc(fd);
                continue;
            }
            unsigned char *buf = malloc((size_t)y + 1);
            for (long i = 0; i < y; i++)
                buf[i] = (unsigned char)(z + i * 7);
            long w = sys_pwrite64((uint64_t)fd, U(buf), (uint64_t)y, (uint64_t)x, 0, 0);
            print_rc(w == y ? 0 : w < 0 ? w : -EIO);
            free(buf);
            sys_close((uint64_t)fd, 0, 0, 0, 0, 0);
        } else if (!strcmp(op, "append") && sscanf(line, "%*s %511s %ld %ld", a, &y, &z) == 3) {
            long fd = sys_open(U(a), O_WRONLY | O_APPEND | O_CREAT, 0644, 0, 0, 0);
            if (fd < 0) {
                print_rc(fd);
                continue;
            }
            unsigned char *buf = malloc((size_t)y + 1);
            for (long i = 0; i < y; i++)
                buf[i] = (unsigned char)(z + i * 7);
            long w = sys_write((uint64_t)fd, U(buf), (uint64_t)y, 0, 0, 0);
            print_rc(w == y ? 0 : w < 0 ? w : -EIO);
            free(buf);
            sys_close((uint64_t)fd, 0, 0, 0, 0, 0);
        } else if ((!strcmp(op, "excl") || !strcmp(op, "trunc")) &&
                   sscanf(line, "%*s %511s", a) == 1) {
            uint64_t flags = op[0] == 'e' ? O_CREAT | O_EXCL : O_TRUNC;
            long fd = sys_open(U(a), O_WRONLY | flags, 0600, 0, 0, 0);
            if (fd >= 0)
                sys_close((uint64_t)fd, 0, 0, 0, 0, 0);
            print_rc(fd);
        } else if (!strcmp(op, "readlink") && sscanf(line, "%*s %511s", a) == 1) {
            long n = sys_readlink(U(a), U(b), sizeof b - 1, 0, 0, 0);
            if (n < 0) {
                print_rc(n);
                continue;
            }
            b[n] = 0;
            printf("=%s\n", b);
        } else if (!strcmp(op, "chmod") && sscanf(line, "%*s %511s %lo", a, &x) == 2) {
            print_rc(sys_chmod(U(a), (uint64_t)x, 0, 0, 0, 0));
        } else if (!strcmp(op, "truncate") && sscanf(line, "%*s %511s %ld", a, &x) == 2) {
            print_rc(sys_truncate(U(a), (uint64_t)x, 0, 0, 0, 0));
        } else if (!strcmp(op, "read") && sscanf(line, "%*s %511s", a) == 1) {
            long fd = sys_open(U(a), O_RDONLY, 0, 0, 0, 0);
            if (fd < 0) {
                print_rc(fd);
                continue;
            }
            size_t cap = 1 << 16, len = 0;
            unsigned char *buf = malloc(cap);
            long r;
            while ((r = sys_read((uint64_t)fd, U(buf + len), cap - len, 0, 0, 0)) > 0) {
                len += (size_t)r;
                if (len == cap)
                    buf = realloc(buf, cap *= 2);
            }
            if (r < 0)
                print_rc(r);
            else
                printf("%zu %08x\n", len, crc_bytes(buf, len));
            free(buf);
            sys_close((uint64_t)fd, 0, 0, 0, 0, 0);
        } else if (!strcmp(op, "list") && sscanf(line, "%*s %511s", a) == 1) {
            long fd = sys_open(U(a), O_RDONLY | O_DIRECTORY, 0, 0, 0, 0);
            if (fd < 0) {
                print_rc(fd);
                continue;
            }
            char names[64][NAME_MAX + 8];
            int n = 0;
            char dbuf[512];
            long got;
            while ((got = sys_getdents64((uint64_t)fd, U(dbuf), sizeof dbuf, 0, 0, 0)) > 0) {
                for (long off = 0; off < got;) {
                    struct linux_dirent64 *d = (struct linux_dirent64 *)(dbuf + off);
                    if (strcmp(d->d_name, ".") && strcmp(d->d_name, "..") && n < 64)
                        snprintf(names[n++], sizeof names[0], "%s:%d", d->d_name, d->d_type);
                    off += d->d_reclen;
                }
            }
            sys_close((uint64_t)fd, 0, 0, 0, 0, 0);
            if (got < 0) {
                print_rc(got);
                continue;
            }
            qsort(names, (size_t)n, sizeof names[0], cmp_names);
            for (int i = 0; i < n; i++)
                printf("%s%s", i ? " " : "", names[i]);
            printf("|\n");
        } else if (!strcmp(op, "opendir") && sscanf(line, "%*s %511s", a) == 1) {
            long fd = sys_open(U(a), O_RDONLY | O_DIRECTORY, 0, 0, 0, 0);
            if (fd >= 0)
                sys_close((uint64_t)fd, 0, 0, 0, 0, 0);
            print_rc(fd);
        } else if (!strcmp(op, "renamenr") && sscanf(line, "%*s %511s %511s", a, b) == 2) {
            print_rc(sys_renameat2((uint64_t)AT_FDCWD, U(a), (uint64_t)AT_FDCWD, U(b), 1, 0));
        } else if ((!strcmp(op, "stat") || !strcmp(op, "statf")) &&
                   sscanf(line, "%*s %511s", a) == 1) {
            struct linux_stat st;
            long rc = op[4] ? sys_stat(U(a), U(&st), 0, 0, 0, 0)
                            : sys_lstat(U(a), U(&st), 0, 0, 0, 0);
            if (rc) {
                print_rc(rc);
                continue;
            }
            uint32_t t = st.st_mode & S_IFMT;
            printf("%o %lu %ld\n", st.st_mode, (unsigned long)st.st_nlink,
                   t == S_IFDIR ? 0L : (long)st.st_size);
        } else {
            fprintf(stderr, "bad script line: %s", line);
            exit(2);
        }
    }
    for (int i = 0; i < 8; i++)
        if (slots[i] >= 0)
            sys_close((uint64_t)slots[i], 0, 0, 0, 0, 0);
}

/* /proc/self/maps lines, byte for byte as Linux prints them. */
static struct inode fake_file = {.ino = 247026};

static void describe(const struct vma *v, struct maps_file *out)
{
    (void)v;
    out->dev = 0xfe00;
    out->ino = 247026;
    out->path = "/usr/bin/cat";
}

static void test_maps(void)
{
    /* Designated: the tree's fields (mm/vma_tree.c) stay zero, procfs_maps walks `next`. */
    struct vma v[7] = {
        {.start = 0x5562309af000, .end = 0x5562309b1000, .flags = VM_READ, .inode = &fake_file},
        {.start = 0x5562309b1000, .end = 0x5562309b6000, .flags = VM_READ | VM_EXEC,
         .inode = &fake_file, .pgoff = 2},
        {.start = 0x556256f9b000, .end = 0x556256fbc000, .flags = VM_READ | VM_WRITE,
         .name = "[heap]"},
        /* two anonymous neighbours with the same rights: one line */
        {.start = 0x7fe4052af000, .end = 0x7fe4052b0000, .flags = VM_READ | VM_WRITE},
        {.start = 0x7fe4052b0000, .end = 0x7fe4052d1000, .flags = VM_READ | VM_WRITE},
        {.start = 0x7fe4052d1000, .end = 0x7fe4052d2000, .flags = 0},
        {.start = 0x7ffd1c5e0000, .end = 0x7ffd1c601000,
         .flags = VM_READ | VM_WRITE | VM_GROWSDOWN, .name = "[stack]"},
    };
    for (int i = 0; i < 6; i++)
        v[i].next = &v[i + 1];
    const char *want =
        "5562309af000-5562309b1000 r--p 00000000 fe:00 247026                     /usr/bin/cat\n"
        "5562309b1000-5562309b6000 r-xp 00002000 fe:00 247026                     /usr/bin/cat\n"
        "556256f9b000-556256fbc000 rw-p 00000000 00:00 0                          [heap]\n"
        "7fe4052af000-7fe4052d1000 rw-p 00000000 00:00 0 \n"
        "7fe4052d1000-7fe4052d2000 ---p 00000000 00:00 0 \n"
        "7ffd1c5e0000-7ffd1c601000 rw-p 00000000 00:00 0                          [stack]\n";
    char buf[2048];
    int n = procfs_format_maps(buf, sizeof buf, v, describe);
    if (strcmp(buf, want) != 0) {
        fprintf(stderr, "got:\n%swant:\n%s", buf, want);
        exit(1);
    }
    EXPECT_EQ(n, (long long)strlen(want));
    /* A short buffer still reports the full length and stays terminated. */
    char small[10];
    EXPECT_EQ(procfs_format_maps(small, sizeof small, v, describe), n);
    EXPECT_EQ(strlen(small), 9);
    /* File pages at non-consecutive offsets stay separate lines. */
    v[1].pgoff = 5;
    v[1].flags = VM_READ;
    n = procfs_format_maps(buf, sizeof buf, v, describe);
    EXPECT(strncmp(buf + 86, "5562309b1000-5562309b6000 r--p 00005000", 39) == 0);
    v[1].pgoff = 2;
    n = procfs_format_maps(buf, sizeof buf, v, describe);
    EXPECT(strncmp(buf, "5562309af000-5562309b6000 r--p 00000000", 39) == 0);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        return 2;
    if (!strcmp(argv[1], "vfs"))
        test_vfs();
    else if (!strcmp(argv[1], "tmpfs"))
        test_tmpfs();
    else if (!strcmp(argv[1], "maps"))
        test_maps();
    else if (!strcmp(argv[1], "flock"))
        test_flock();
    else if (!strcmp(argv[1], "script")) {
        run_script();
        return 0;
    }
    else
        return 2;
    printf("ok\n");
    return 0;
}
