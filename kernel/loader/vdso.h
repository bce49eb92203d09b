/* The vDSO in the program's address space: its code ("[vdso]", the image built from vdso/) and
 * the data page below it ("[vvar]", the kernel's time base, read-only to the program). */
#pragma once
#include <stdint.h>

struct mm;

/* Maps [vvar] and [vdso] so that the image ends at or below `top`; returns the image's address
 * (the AT_SYSINFO_EHDR value), or 0 when memory is exhausted. */
uint64_t vdso_map(struct mm *mm, uint64_t top);
