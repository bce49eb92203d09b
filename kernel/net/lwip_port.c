/* The functions lwIP's port contract asks for (net/lwip-port): memory from the kernel heap,
 * diagnostics on the kernel log, assertions as panics, random numbers, and sys_now. */
#include "core/clock.h"
#include "core/panic.h"
#include "core/random.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "lwip/arch.h"
#include "lwip/sys.h"
#include <stdarg.h>

void *lwip_port_malloc(size_t size) { return kmalloc(size); }
void lwip_port_free(void *p) { kfree(p); }
void *lwip_port_calloc(size_t n, size_t size)
{
    if (size && n > (size_t)-1 / size)
        return 0;
    return kzalloc(n * size);
}

void lwip_port_diag(const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    kprintf("lwip: %s", buf);
}

void lwip_port_assert(const char *msg, const char *file, int line)
{
    panic("lwIP assertion failed: %s (%s:%d)", msg, file, line);
}

uint32_t lwip_port_rand(void)
{
    uint32_t v;
    random_bytes(&v, sizeof v);
    return v;
}

u32_t sys_now(void) { return (u32_t)(clock_monotonic_ns() / 1000000u); }
