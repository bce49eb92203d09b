/* The data volume: volfs (fs/volfs, docs/volume-format.md) on the virtio-blk disk, mounted as a
 * VFS filesystem at the path the kernel command line names (lwjvm.volume=PATH). */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Opens the volume on the disk and mounts dataset `dataset` ("": the volume's own) at path; 0
 * or -errno (-ENXIO: no disk, -ENOENT: no such dataset, -EROFS: a snapshot). Called once at
 * boot, before the program runs; starts the volume's worker. */
int volume_mount(const char *path, const char *dataset);
#define VOLUME_FS_MAGIC 0x4c57564fu /* statfs f_type of the volume: "LWVO" */
#define VOLUME_NAME_MAX 54          /* the longest name a volume directory holds (format v1) */
/* Its size and free space in 4096-byte blocks (statfs). */
void volume_statfs(uint64_t *blocks, uint64_t *free_blocks);
/* The text of /proc/lwjvm/volume (one `name value` per line); its length. */
int volume_proc_stats(char *buf, size_t size);
/* A host control line for the volume (`lwjvm:volume ...`), from the control interrupt. */
void volume_control(const char *line);
/* Commits what is not yet committed (at exit: what the program wrote is durable). */
void volume_sync(void);
