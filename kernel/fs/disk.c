/* /dev/vda: the virtio-blk disk as a block device file. Reads and writes go straight to the disk
 * at the position given (no page cache, as O_DIRECT on Linux, so offsets and lengths must be
 * multiples of 512: else EINVAL); reading at the end gives 0, writing there ENOSPC; fsync and
 * fdatasync send a FLUSH; the ioctls BLKGETSIZE64, BLKDISCARD and BLKZEROOUT (a byte range,
 * 512-aligned) as Linux's. The driver serialises the calls (drivers/virtio_blk.c). */
#include "fs/disk.h"
#include "drivers/virtio_blk.h"
#include "errno.h"
#include "fs/devfs.h"
#include "lib/printf.h"
#include "linux/uaccess.h"

#define SECTOR 512u

static int64_t disk_io(void *ubuf, uint64_t len, uint64_t *pos, int write)
{
    uint64_t size = virtio_blk_sectors() * SECTOR;
    if (*pos % SECTOR || len % SECTOR)
        return -EINVAL;
    if (*pos >= size) {
        if (write && len)
            return -ENOSPC;
        return 0;
    }
    if (len > size - *pos)
        len = size - *pos;
    int rc = virtio_blk_rw(*pos / SECTOR, ubuf, len, write, 1);
    if (rc < 0)
        return rc;
    *pos += len;
    return (int64_t)len;
}

static int64_t disk_read(struct file *f, void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f;
    return disk_io(ubuf, len, pos, 0);
}

static int64_t disk_write(struct file *f, const void *ubuf, uint64_t len, uint64_t *pos)
{
    (void)f;
    return disk_io((void *)ubuf, len, pos, 1);
}

static int disk_fsync(struct file *f)
{
    (void)f;
    return virtio_blk_flush();
}

#define BLKGETSIZE64 0x80081272u
#define BLKDISCARD 0x1277u
#define BLKZEROOUT 0x127fu

static long disk_ioctl(struct file *f, uint32_t cmd, uint64_t arg)
{
    uint64_t size = virtio_blk_sectors() * SECTOR;
    if (cmd == BLKGETSIZE64)
        return copy_to_user((void *)arg, &size, sizeof size) ? -EFAULT : 0;
    if (cmd != BLKDISCARD && cmd != BLKZEROOUT)
        return -ENOTTY;
    if ((f->flags & 3) == 0) /* O_RDONLY */
        return -EBADF;
    uint64_t range[2];
    if (copy_from_user(range, (const void *)arg, sizeof range))
        return -EFAULT;
    if (range[0] % SECTOR || range[1] % SECTOR)
        return -EINVAL;
    if (range[0] > size || range[1] > size - range[0])
        return -EINVAL;
    return virtio_blk_discard(range[0] / SECTOR, range[1] / SECTOR, cmd == BLKZEROOUT);
}

static const struct file_ops disk_ops = {.read = disk_read, .write = disk_write,
                                         .fsync = disk_fsync, .ioctl = disk_ioctl};

void disk_register(void)
{
    if (devfs_add_blockdev("vda", 254, 0, &disk_ops))
        kprintf("lwjvm: virtio-blk: cannot add /dev/vda\n");
}
