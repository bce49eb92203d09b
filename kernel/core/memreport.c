/* The guest's own memory figure for the host (`lwjvm ps`): on the control request `lwjvm:mem`
 * (core/control.c) the kernel answers with the record `\x1elwjvm:mem total_kib=N free_kib=N
 * heap_kib=N` on COM3 (docs/protocol.md, section 4). total and free are the page allocator's
 * managed and free frames, as /proc/meminfo's MemTotal and MemFree; heap is the kernel heap in
 * use. The counters are read without a lock: each is one atomic word, and the host wants a
 * figure, not a snapshot consistent across the three. */
#include "core/memreport.h"
#include "lib/printf.h"
#include "mm/kheap.h"
#include "mm/palloc.h"

void memreport_send(void)
{
    uint64_t total = palloc_total_pages() * 4, fr = palloc_free_pages() * 4;
    klog_start_line();
    kprintf("\x1elwjvm:mem total_kib=%lu free_kib=%lu heap_kib=%lu\n", total, fr,
            kheap_in_use() / 1024);
}
