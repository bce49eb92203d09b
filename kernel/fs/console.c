/* The program's standard streams: fd 0 reads end-of-file, fd 1 writes to COM1, fd 2 to COM2
 * (docs/protocol.md, section 4). */
#include "fs/console.h"
#include "arch/x86_64/serial.h"
#include "errno.h"
#include "linux/uaccess.h"
#include "linux_abi.h"

static int64_t con_read(struct file *f, void *ubuf, uint64_t len)
{
    (void)f, (void)ubuf, (void)len;
    return 0;
}

static int64_t con_write(struct file *f, const void *ubuf, uint64_t len, enum serial_port port)
{
    (void)f;
    char buf[512];
    uint64_t done = 0;
    while (done < len) {
        uint64_t n = len - done < sizeof buf ? len - done : sizeof buf;
        if (copy_from_user(buf, (const char *)ubuf + done, n))
            return done ? (int64_t)done : -EFAULT;
        serial_write(port, buf, n);
        done += n;
    }
    return (int64_t)done;
}

static int64_t out_write(struct file *f, const void *ubuf, uint64_t len)
{
    return con_write(f, ubuf, len, SERIAL_STDOUT);
}
static int64_t err_write(struct file *f, const void *ubuf, uint64_t len)
{
    return con_write(f, ubuf, len, SERIAL_STDERR);
}
static int64_t in_write(struct file *f, const void *ubuf, uint64_t len)
{
    (void)f, (void)ubuf, (void)len;
    return -EBADF;
}

static const struct file_ops stdin_ops = {.read = con_read, .write = in_write};
static const struct file_ops stdout_ops = {.read = con_read, .write = out_write};
static const struct file_ops stderr_ops = {.read = con_read, .write = err_write};

int console_install_std_fds(void)
{
    struct file *in = file_new(&stdin_ops, 0, O_RDONLY);
    struct file *out = file_new(&stdout_ops, 0, O_WRONLY);
    struct file *err = file_new(&stderr_ops, 0, O_WRONLY);
    if (!in || !out || !err)
        return -ENOMEM;
    if (fd_install(in, 0, 0) != 0 || fd_install(out, 1, 0) != 1 || fd_install(err, 2, 0) != 2)
        return -EBADF;
    return 0;
}
