/* The one page table: editing user mappings (lower half) and the direct map of physical memory. */
#pragma once
#include <stdint.h>
#include "arch/x86_64/layout.h"

#define PTE_P (1ull << 0)
#define PTE_W (1ull << 1)
#define PTE_U (1ull << 2)
#define PTE_PWT (1ull << 3)
#define PTE_PCD (1ull << 4)
#define PTE_PS (1ull << 7)
#define PTE_OWNED (1ull << 9) /* software: the frame is a refcounted allocator page */
#define PTE_NX (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define HUGE_PAGE_SIZE (1ull << 21)
#define HUGE_PAGE_ORDER 9

static inline void *phys_to_virt(uint64_t phys) { return (void *)(phys + DIRECT_MAP_BASE); }
static inline uint64_t virt_to_phys(const void *p) { return (uint64_t)p - DIRECT_MAP_BASE; }

/* Builds the final kernel page table: direct map of [0, max_phys), the kernel image, no lower half. */
void paging_init(uint64_t max_phys);
/* Returns the 4 KiB page-table entry for user address va, creating the intermediate tables when
 * `create` is set; returns 0 if they are missing (or cannot be allocated). A 2 MiB mapping there
 * is split into 4 KiB entries first. */
uint64_t *pte_lookup(uint64_t va, int create);
/* The page-directory entry covering user address va (creating the upper tables when `create` is
 * set), or 0. */
uint64_t *pde_lookup(uint64_t va, int create);
/* The 4 KiB entry that translates va, read without changing anything: a 2 MiB mapping is
 * reported as the entry its page would have; 0 if nothing is mapped. */
uint64_t pte_peek(uint64_t va);
/* The first page-aligned user address at or after va (aligned) and below end that a page table
 * may map: whole absent tables are skipped (512 GiB, 1 GiB or 2 MiB at a time), so a walk over a
 * huge, sparsely mapped range costs its mapped tables, not its size. end if there is none. */
uint64_t pt_next_mapped(uint64_t va, uint64_t end);
/* Maps the 2 MiB page at va (aligned) to phys with `flags`; -EEXIST if anything is mapped or a
 * page table exists for that range, -ENOMEM without memory. */
int map_huge_page(uint64_t va, uint64_t phys, uint64_t flags);
/* Maps the 4 KiB page at va to phys with `flags` (PTE_P is added); -ENOMEM if a table cannot be
 * allocated. Replaces any earlier entry without freeing it. */
int map_page(uint64_t va, uint64_t phys, uint64_t flags);
/* Maps the 4 KiB device page at phys uncached into the kernel half (at its direct-map address)
 * and returns its address, or 0 if a table cannot be allocated. */
volatile void *kmap_mmio(uint64_t phys);
/* Maps [phys, phys+size) (2 MiB aligned, write-back, like RAM) into the direct map and returns
 * its address there, or 0 if a table cannot be allocated. For device memory that holds data, such
 * as the root image in a PCI BAR. */
void *kmap_ram(uint64_t phys, uint64_t size);
/* Flushes this CPU's TLB entry of va only (a mapping that was absent or narrower). */
void tlb_flush_local(uint64_t va);
/* Flushes this CPU's TLB entry of va and adds it to the batch tlb_shootdown sends to the others. */
void tlb_flush_page(uint64_t va);
/* Makes every other CPU flush the batch (see paging.c); returns once all have. Call after
 * changing mappings and before freeing the pages they held. */
void tlb_shootdown(void);
