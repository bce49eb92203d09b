/* Maps the vDSO (see loader/vdso.h). Both the image and the data page are pages of the kernel
 * image, mapped as they are (not refcounted allocator frames, so unmapping never frees them). */
#include "loader/vdso.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "core/clock.h"
#include "mm/palloc.h"
#include "mm/vma.h"

extern const char vdso_image_start[], vdso_image_end[];

static uint64_t image_phys(const void *p) { return (uint64_t)p - KERNEL_VBASE; }

/* Maps [start, start + len) to the kernel-image pages at `src` with `pte` flags. */
static int map_image_pages(uint64_t start, const void *src, uint64_t len, uint64_t pte)
{
    for (uint64_t off = 0; off < len; off += PAGE_SIZE)
        if (map_page(start + off, image_phys((const char *)src + off), pte | PTE_U))
            return -1;
    return 0;
}

uint64_t vdso_map(struct mm *mm, uint64_t top)
{
    uint64_t len = ((uint64_t)(vdso_image_end - vdso_image_start) + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1);
    uint64_t base = (top & ~(PAGE_SIZE - 1)) - len;
    uint64_t vvar = base - PAGE_SIZE; /* vdso/vdso.lds puts vvar_page one page below the image */
    if (!vma_map(mm, vvar, base, VM_READ, 0, 0, "[vvar]") ||
        !vma_map(mm, base, base + len, VM_READ | VM_EXEC, 0, 0, "[vdso]"))
        return 0;
    if (map_image_pages(vvar, clock_vvar_page(), PAGE_SIZE, PTE_NX) ||
        map_image_pages(base, vdso_image_start, len, 0))
        return 0;
    return base;
}
