/* Virtual address layout of the single address space, shared by C and assembly.
 * Lower half: the program (ring 3). Upper half: the direct map of physical memory and the kernel
 * image, both supervisor-only. */
#pragma once

#define KERNEL_VBASE 0xffffffff80000000
#define DIRECT_MAP_BASE 0xffff800000000000
#define KERNEL_PHYS_LOAD 0x100000

/* The first address the program may not use: Linux's TASK_SIZE_MAX, one page below the top of the
 * lower half. That last canonical page stays unmapped, so no syscall at its end can leave a
 * non-canonical RIP for the return to the program (IRET would fault in ring 0). */
#define USER_TOP 0x00007ffffffff000
