/* Per-thread FPU/vector state (see arch/x86_64/fpu.h). */
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/cpuinfo.h"
#include "lib/string.h"
#include "mm/kheap.h"

uint32_t fpu_size(void) { return cpu_features.xsave_size; }

void *fpu_alloc(void)
{
    /* kmalloc aligns a block to its power-of-two size class (>= 512), hence to 64 bytes. */
    uint8_t *a = kmalloc(fpu_size() < 512 ? 512 : fpu_size());
    if (!a)
        return 0;
    memset(a, 0, fpu_size());
    *(uint16_t *)(a + 0) = 0x37f;   /* FCW: x87 reset value */
    *(uint32_t *)(a + 24) = 0x1f80; /* MXCSR */
    if (cpu_features.xsave)
        *(uint64_t *)(a + 512) = 3; /* XSTATE_BV: x87 and SSE taken from the legacy area */
    return a;
}

void fpu_free(void *area) { kfree(area); }

void fpu_save(void *area)
{
    if (cpu_features.xsave)
        __asm__ volatile("xsave64 (%0)" ::"r"(area), "a"(0xffffffffu), "d"(0xffffffffu) : "memory");
    else
        __asm__ volatile("fxsave64 (%0)" ::"r"(area) : "memory");
}

void fpu_restore(const void *area)
{
    if (cpu_features.xsave)
        __asm__ volatile("xrstor64 (%0)" ::"r"(area), "a"(0xffffffffu), "d"(0xffffffffu) : "memory");
    else
        __asm__ volatile("fxrstor64 (%0)" ::"r"(area) : "memory");
}
