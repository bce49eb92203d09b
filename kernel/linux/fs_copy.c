/* Copies between files inside the kernel (sendfile, copy_file_range) and file-access advice
 * (fadvise64, readahead). Copies read regular files and write regular files or, for sendfile,
 * TCP sockets (net/sock_file.h: the root image's pages go out without a copy); other pairs
 * answer EINVAL, on which programs fall back to read and write as they do on Linux. */
#include "errno.h"
#include "fs/fsnotify.h"
#include "fs/vfs.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/kheap.h"
#include "net/sock_file.h"

#define MAX_RW_COUNT 0x7ffff000ull /* Linux's cap on one transfer */

static int is_reg(const struct file *f)
{
    return (f->inode->mode & S_IFMT) == S_IFREG;
}

/* The open file at fd if it may be read (is_write 0) or written, else 0. */
static struct file *rw_file(int fd, int is_write)
{
    struct file *f = fd_get(fd);
    if (!f || (f->flags & O_PATH))
        return 0;
    uint32_t acc = f->flags & O_ACCMODE;
    return (is_write ? acc == O_RDONLY : acc == O_WRONLY) ? 0 : f;
}

/* Copies up to len bytes from in at *in_off to out at *out_off (advancing both); returns the
 * bytes copied or -errno if none were. */
static long copy_range(struct file *in, uint64_t *in_off, struct file *out, uint64_t *out_off,
                       uint64_t len)
{
    if (!out->inode->ops->write)
        return -EBADF;
    if (out->flags & O_APPEND)
        return -EINVAL;
    char *buf = kmalloc(4096);
    if (!buf)
        return -ENOMEM;
    if (len > MAX_RW_COUNT)
        len = MAX_RW_COUNT;
    uint64_t done = 0;
    long rc = 0;
    while (done < len) {
        uint64_t n = len - done < 4096 ? len - done : 4096;
        int64_t r = inode_read(in->inode, *in_off, buf, n);
        if (r <= 0) {
            rc = r;
            break;
        }
        int64_t w = out->inode->ops->write(out->inode, *out_off, buf, (uint64_t)r);
        if (w <= 0) {
            rc = w;
            break;
        }
        *in_off += (uint64_t)w;
        *out_off += (uint64_t)w;
        done += (uint64_t)w;
        if (w < r)
            break;
    }
    kfree(buf);
    if (done) {
        fsnotify_inode(in->inode, IN_ACCESS, 0);
        fsnotify_inode(out->inode, IN_MODIFY, 0);
    }
    return done ? (long)done : rc;
}

/* Reads an optional loff_t argument; *has is 0 for a null pointer. */
static long get_off(uint64_t uoff, uint64_t *off, int *has)
{
    *has = uoff != 0;
    if (!uoff)
        return 0;
    int64_t v;
    if (copy_from_user(&v, (const void *)uoff, sizeof v))
        return -EFAULT;
    if (v < 0)
        return -EINVAL;
    *off = (uint64_t)v;
    return 0;
}

SYS(sendfile)
{
    UNUSED_ARGS();
    struct file *out = rw_file((int)a0, 1), *in = rw_file((int)a1, 0);
    if (!out || !in)
        return -EBADF;
    uint64_t in_off = in->pos, out_off = out->pos;
    int has;
    long rc = get_off(a2, &in_off, &has);
    if (rc)
        return rc;
    if (is_reg(in) && file_is_socket(out)) {
        rc = sock_sendfile(out, in, &in_off, a3 > MAX_RW_COUNT ? MAX_RW_COUNT : a3);
        if (rc < 0)
            return rc;
        if (has)
            return copy_to_user((void *)a2, &in_off, sizeof in_off) ? -EFAULT : rc;
        in->pos = in_off;
        return rc;
    }
    if (!is_reg(in) || !is_reg(out))
        return -EINVAL;
    rc = copy_range(in, &in_off, out, &out_off, a3);
    if (rc < 0)
        return rc;
    out->pos = out_off;
    if (has)
        return copy_to_user((void *)a2, &in_off, sizeof in_off) ? -EFAULT : rc;
    in->pos = in_off;
    return rc;
}

SYS(copy_file_range)
{
    UNUSED_ARGS();
    if (a5)
        return -EINVAL;
    struct file *in = rw_file((int)a0, 0), *out = rw_file((int)a2, 1);
    if (!in || !out)
        return -EBADF;
    uint64_t in_off = in->pos, out_off = out->pos;
    int has_in, has_out;
    long rc = get_off(a1, &in_off, &has_in);
    if (!rc)
        rc = get_off(a3, &out_off, &has_out);
    if (rc)
        return rc;
    if ((in->inode->mode & S_IFMT) == S_IFDIR || (out->inode->mode & S_IFMT) == S_IFDIR)
        return -EISDIR;
    if (!is_reg(in) || !is_reg(out))
        return -EINVAL;
    if (vfs_same_inode(in->inode, out->inode) && in_off < out_off + a4 && out_off < in_off + a4)
        return -EINVAL; /* overlapping ranges of one file */
    rc = copy_range(in, &in_off, out, &out_off, a4);
    if (rc < 0)
        return rc;
    if (has_in ? copy_to_user((void *)a1, &in_off, sizeof in_off) : (in->pos = in_off, 0))
        return -EFAULT;
    if (has_out ? copy_to_user((void *)a3, &out_off, sizeof out_off) : (out->pos = out_off, 0))
        return -EFAULT;
    return rc;
}

/* Advice only: every file is in memory already. */
SYS(fadvise64)
{
    UNUSED_ARGS();
    struct file *f = fd_get((int)a0);
    if (!f)
        return -EBADF;
    if ((f->inode->mode & S_IFMT) == S_IFIFO)
        return -ESPIPE;
    if (a3 > 5 || (int64_t)a2 < 0)
        return -EINVAL;
    return 0;
}

SYS(readahead)
{
    UNUSED_ARGS();
    struct file *f = rw_file((int)a0, 0);
    if (!f)
        return -EBADF;
    return is_reg(f) ? 0 : -EINVAL;
}
