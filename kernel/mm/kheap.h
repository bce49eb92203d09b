/* The kernel heap: kmalloc/kfree for kernel objects of any size. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Returns a 16-byte aligned block of at least `size` bytes, or 0 when memory is exhausted. */
void *kmalloc(size_t size);
/* Like kmalloc, zero-filled. */
void *kzalloc(size_t size);
/* Frees a block from kmalloc (0 is ignored). Freed memory is filled with 0x6b to catch use after
 * free. */
void kfree(void *p);
/* Bytes of kernel heap in use now (/proc/meminfo's Slab). */
uint64_t kheap_in_use(void);
