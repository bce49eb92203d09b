/* The index of the program's areas (see mm/vma_tree.c): a balanced tree by address beside the
 * sorted list, so that finding an area, and the highest free gap of a size, take O(log n) steps.
 * Every function here runs under the address space's lock (mm->lock), as all of mm/vma.c does. */
#pragma once
#include <stdint.h>

#include "mm/vma.h"

/* Puts v (start, end set; not yet linked) into the list after prev (0: first) and the tree. */
void vma_tree_link(struct mm *mm, struct vma *v, struct vma *prev);
/* Takes v out of the list and the tree (v itself is not freed). */
void vma_tree_unlink(struct mm *mm, struct vma *v);
/* Sets v->end (the area grew into free space or shrank); the gap after v follows. */
void vma_tree_set_end(struct mm *mm, struct vma *v, uint64_t end);
/* The first area ending above addr, or 0. */
struct vma *vma_tree_first_after(const struct mm *mm, uint64_t addr);
/* The last area (highest address), or 0. */
struct vma *vma_tree_last(const struct mm *mm);
/* The highest area starting at or below `at` with at least len bytes free right below it (from
 * the end of the area before it, or from 0 for the first), or 0. */
struct vma *vma_tree_gap_below(const struct mm *mm, uint64_t at, uint64_t len);
/* Checks the tree against the list (order, heights, balance, gaps); 0 if sound, else a
 * description of the first fault. For the host tests (tests/kernel). */
const char *vma_tree_check(const struct mm *mm);
