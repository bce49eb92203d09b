/* devfs (mounted at /dev): the character devices a program expects: null, zero, full, random,
 * urandom, the serial consoles ttyS0 (the program's stdout, COM1) and ttyS1 (its stderr, COM2),
 * and console (as ttyS0), with Linux's device numbers, plus the stdin/stdout/stderr/fd links
 * into /proc/self/fd; /dev/vda when a virtio-blk disk is attached (fs/disk.c). */
#include "fs/devfs.h"
#include "core/random.h"
#include "fs/console.h"
#include "errno.h"
#include "fs/pseudo.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "linux_abi.h"

static int64_t read_eof(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
    return 0;
}

static int64_t write_sink(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)pos;
    return (int64_t)len;
}

static int64_t read_zeros(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)pos;
    return clear_user(ubuf, len) ? -EFAULT : (int64_t)len;
}

static int64_t write_full(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
    return -ENOSPC;
}

static int64_t read_random(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)pos;
    return random_to_user(ubuf, len);
}

static const struct file_ops null_ops = {.read = read_eof, .write = write_sink};
static const struct file_ops zero_ops = {.read = read_zeros, .write = write_sink};
static const struct file_ops full_ops = {.read = read_zeros, .write = write_full};
static const struct file_ops random_ops = {.read = read_random, .write = write_sink};

static int link_text(const char *text, char *buf, size_t size)
{
    size_t n = strlen(text);
    if (n > size)
        n = size;
    memcpy(buf, text, n);
    return (int)n;
}

static int link_fd(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_text("/proc/self/fd", buf, size);
}
static int link_stdin(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_text("/proc/self/fd/0", buf, size);
}
static int link_stdout(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_text("/proc/self/fd/1", buf, size);
}
static int link_stderr(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_text("/proc/self/fd/2", buf, size);
}

static struct pseudo_node *devfs_root; /* set once at boot, before any thread but the first */

int devfs_add_blockdev(const char *name, uint32_t major, uint32_t minor,
                       const struct file_ops *ops)
{
    struct pseudo_node *n = devfs_root ? pseudo_chardev(devfs_root, name, 0660, major, minor, ops)
                                       : 0;
    if (!n)
        return -ENOMEM;
    n->inode.mode = S_IFBLK | 0660;
    return 0;
}

int devfs_new(uint32_t dev, struct inode **root)
{
    struct pseudo_node *r = pseudo_new_fs(dev);
    if (!r)
        return -ENOMEM;
    devfs_root = r;
    int ok = pseudo_chardev(r, "null", 0666, 1, 3, &null_ops) &&
             pseudo_chardev(r, "zero", 0666, 1, 5, &zero_ops) &&
             pseudo_chardev(r, "full", 0666, 1, 7, &full_ops) &&
             pseudo_chardev(r, "random", 0666, 1, 8, &random_ops) &&
             pseudo_chardev(r, "urandom", 0666, 1, 9, &random_ops) &&
             pseudo_chardev(r, "console", 0600, 5, 1, &console_out_ops) &&
             pseudo_chardev(r, "ttyS0", 0660, 4, 64, &console_out_ops) &&
             pseudo_chardev(r, "ttyS1", 0660, 4, 65, &console_err_ops) &&
             pseudo_symlink(r, "fd", link_fd) && pseudo_symlink(r, "stdin", link_stdin) &&
             pseudo_symlink(r, "stdout", link_stdout) && pseudo_symlink(r, "stderr", link_stderr);
    if (!ok)
        return -ENOMEM;
    *root = &r->inode;
    return 0;
}
