/* /dev/vda: the virtio-blk disk as a block device file. Reads and writes go straight to the disk
 * at the file position (no page cache, as O_DIRECT on Linux, so offsets and lengths must be
 * multiples of 512: else EINVAL); reading at the end gives 0, writing there ENOSPC; fsync and
 * fdatasync send a FLUSH. The driver serialises the calls (drivers/virtio_blk.c). */
#include "fs/disk.h"
#include "drivers/virtio_blk.h"
#include "errno.h"
#include "fs/devfs.h"
#include "lib/printf.h"

#define SECTOR 512u

static int64_t disk_io(struct file *f, void *ubuf, uint64_t len, int write)
{
    uint64_t size = virtio_blk_sectors() * SECTOR;
    if (f->pos % SECTOR || len % SECTOR)
        return -EINVAL;
    if (f->pos >= size) {
        if (write && len)
            return -ENOSPC;
        return 0;
    }
    if (len > size - f->pos)
        len = size - f->pos;
    int rc = virtio_blk_rw(f->pos / SECTOR, ubuf, len, write, 1);
    if (rc < 0)
        return rc;
    f->pos += len;
    return (int64_t)len;
}

static int64_t disk_read(struct file *f, void *ubuf, uint64_t len) { return disk_io(f, ubuf, len, 0); }

static int64_t disk_write(struct file *f, const void *ubuf, uint64_t len)
{
    return disk_io(f, (void *)ubuf, len, 1);
}

static int disk_fsync(struct file *f)
{
    (void)f;
    return virtio_blk_flush();
}

static const struct file_ops disk_ops = {.read = disk_read, .write = disk_write,
                                         .fsync = disk_fsync};

void disk_register(void)
{
    if (devfs_add_blockdev("vda", 254, 0, &disk_ops))
        kprintf("lwjvm: virtio-blk: cannot add /dev/vda\n");
}
