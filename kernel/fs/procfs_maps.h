/* The text of /proc/self/maps, from the areas of an address space (host-testable). */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include "mm/vma.h"

/* What a file-backed area's line shows about its file. */
struct maps_file {
    uint64_t dev; /* st_dev, Linux encoding */
    uint64_t ino;
    const char *path; /* 0 if unknown */
    int deleted;      /* no name left: the line ends with " (deleted)" */
};

/* Formats the areas of `list` (sorted) as Linux's /proc/PID/maps, merging neighbours Linux would
 * have merged (same rights, same file at consecutive offsets or both anonymous with the same
 * name); `describe` fills the file facts of a file-backed area. Writes at most size bytes (NUL-
 * terminated if room) and returns the full length. */
int procfs_format_maps(char *buf, size_t size, const struct vma *list,
                       void (*describe)(const struct vma *v, struct maps_file *out));
