/* Virtual address layout of the single address space, shared by C and assembly.
 * Lower half: the program (ring 3). Upper half: the direct map of physical memory and the kernel
 * image, both supervisor-only. */
#pragma once

#define KERNEL_VBASE 0xffffffff80000000
#define DIRECT_MAP_BASE 0xffff800000000000
#define KERNEL_PHYS_LOAD 0x100000

#define USER_TOP 0x0000800000000000 /* first address above the user half */
