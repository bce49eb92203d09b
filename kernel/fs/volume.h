/* The data volume: volfs (fs/volfs, docs/volume-format.md) on the virtio-blk disk, mounted as a
 * VFS filesystem at the path the kernel command line names (lwjvm.volume=PATH). */
#pragma once

/* Opens the volume on the disk and mounts its root dataset at path; 0 or -errno (-ENXIO: no
 * disk). Called once at boot, before the program runs. */
int volume_mount(const char *path);
/* Commits what is not yet committed (at exit: what the program wrote is durable). */
void volume_sync(void);
