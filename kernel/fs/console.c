/* The program's standard streams: the serial consoles as character devices (/dev/ttyS0 writes to
 * COM1, the program's stdout; /dev/ttyS1 to COM2, its stderr; reads give end-of-file), and fds
 * 0, 1 and 2 opened on them (docs/protocol.md, section 4). A virtio console, when the VM has one
 * for the stream, carries the bytes instead of the UART. No console is a terminal. */
#include "fs/console.h"
#include "arch/x86_64/serial.h"
#include "drivers/virtio_console.h"
#include "errno.h"
#include "fs/poll.h"
#include "lib/string.h"
#include "linux/uaccess.h"
#include "linux_abi.h"

#define FIONREAD 0x541b

static int64_t con_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f, (void)ubuf, (void)len, (void)pos;
    return 0;
}

static int64_t con_write(struct file *f, const void *ubuf, uint64_t len, enum serial_port port)
{
    char buf[512];
    uint64_t done = 0;
    while (done < len) {
        uint64_t n = len - done < sizeof buf ? len - done : sizeof buf;
        if (copy_from_user(buf, (const char *)ubuf + done, n))
            return done ? (int64_t)done : -EFAULT;
        long took = virtio_console_write(port == SERIAL_STDOUT ? 0 : 1, buf, n,
                                         (f->flags & O_NONBLOCK) != 0);
        if (took == -ENODEV) {
            serial_write(port, buf, n);
            took = (long)n;
        } else if (took < 0) { /* the host is not reading: O_NONBLOCK, or a signal came */
            return done ? (int64_t)done : took == -EINTR ? -ERESTARTSYS : took;
        }
        done += (uint64_t)took;
        if ((uint64_t)took < n)
            break;
    }
    return (int64_t)done;
}

static int64_t out_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    return con_write(f, ubuf, len, SERIAL_STDOUT);
}
static int64_t err_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)pos;
    return con_write(f, ubuf, len, SERIAL_STDERR);
}

/* Nothing is ever waiting to be read; TCGETS, TIOCGWINSZ and the rest: not a terminal. */
static long con_ioctl(struct file *f, uint32_t cmd, uint64_t arg)
{
    (void)f;
    if (cmd != FIONREAD)
        return -ENOTTY;
    int zero = 0;
    return copy_to_user((void *)arg, &zero, sizeof zero) ? -EFAULT : 0;
}

/* Reads end at once: always readable. Writable while the virtio console has a buffer to take the
 * bytes (the host reads them); the UART always is. */
static uint32_t con_poll(struct file *f, struct waitq **wq, int which)
{
    (void)f;
    uint32_t ev = EPOLLIN | EPOLLRDNORM;
    int w = virtio_console_poll(which, wq);
    if (w == -ENODEV)
        *wq = 0;
    return w ? ev | EPOLLOUT | EPOLLWRNORM : ev;
}

static uint32_t out_poll(struct file *f, struct waitq **wq) { return con_poll(f, wq, 0); }
static uint32_t err_poll(struct file *f, struct waitq **wq) { return con_poll(f, wq, 1); }

const struct file_ops console_out_ops = {
    .read = con_read, .write = out_write, .ioctl = con_ioctl, .poll = out_poll,
    .no_seek = 1};
const struct file_ops console_err_ops = {
    .read = con_read, .write = err_write, .ioctl = con_ioctl, .poll = err_poll,
    .no_seek = 1};

/* The consoles' inodes when /dev is not there (devfs gives its own): character devices 4:64 and
 * 4:65 like /dev/ttyS0 and /dev/ttyS1. Static: never released. */
static int con_stat(struct inode *ino, struct linux_stat *st)
{
    memset(st, 0, sizeof *st);
    st->st_dev = 5;
    st->st_ino = ino->ino;
    st->st_nlink = 1;
    st->st_mode = ino->mode;
    st->st_rdev = 0x400 + 64 + (ino->ino - 1);
    st->st_blksize = 1024;
    return 0;
}

static const struct inode_ops con_inode_ops = {.stat = con_stat};
static struct inode con_inodes[2] = {
    {.ops = &con_inode_ops, .ino = 1, .mode = S_IFCHR | 0620, .refcount = 1},
    {.ops = &con_inode_ops, .ino = 2, .mode = S_IFCHR | 0620, .refcount = 1},
};

/* Opens `path` as descriptor fd, or a file on the console's own inode when /dev is not there. */
static int open_std(int fd, const char *path, uint32_t flags, const struct file_ops *ops,
                    struct inode *ino)
{
    struct file *f;
    if (vfs_open(0, path, flags, 0, &f)) {
        f = file_new(ops, ino, flags);
        if (!f)
            return -ENOMEM;
    }
    return fd_install(f, fd, 0) == fd ? 0 : -EBADF;
}

int console_install_std_fds(void)
{
    int rc = open_std(0, "/dev/ttyS0", O_RDONLY, &console_out_ops, &con_inodes[0]);
    if (!rc)
        rc = open_std(1, "/dev/ttyS0", O_WRONLY, &console_out_ops, &con_inodes[0]);
    if (!rc)
        rc = open_std(2, "/dev/ttyS1", O_WRONLY, &console_err_ops, &con_inodes[1]);
    return rc;
}
