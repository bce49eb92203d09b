/* /dev/vda: the virtio-blk disk as a block device file (fs/disk.c). */
#pragma once

/* Adds /dev/vda (254:0) for the disk the driver found; called once by the driver at boot. */
void disk_register(void);
