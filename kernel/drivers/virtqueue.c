/* Split virtqueues (see drivers/virtqueue.h). */
#include "drivers/virtqueue.h"
#include "arch/x86_64/paging.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "mm/palloc.h"

#define AVAIL_FLAGS 0
#define AVAIL_IDX 1
#define AVAIL_RING 2
#define USED_F_NO_NOTIFY 1
#define AVAIL_F_NO_INTERRUPT 1

static inline void mb(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

static volatile uint16_t *used_idx(struct virtq *q) { return (volatile uint16_t *)(q->used + 2); }
static volatile struct virtq_used_elem *used_ring(struct virtq *q)
{
    return (volatile struct virtq_used_elem *)(q->used + 4);
}
static volatile uint16_t *avail_event(struct virtq *q)
{
    return (volatile uint16_t *)(q->used + 4 + 8 * q->size);
}

uint64_t dma_addr(const void *p)
{
    uint64_t v = (uint64_t)p;
    if (v < DIRECT_MAP_BASE || v >= DIRECT_MAP_BASE + (1ull << 46))
        return 0; /* the kernel image or anything else outside the direct map of RAM */
    return virt_to_phys(p);
}

static void *alloc_pages_zeroed(uint64_t bytes)
{
    unsigned order = 0;
    while ((PAGE_SIZE << order) < bytes)
        order++;
    uint64_t phys = palloc_alloc(order);
    if (!phys)
        return 0;
    void *p = phys_to_virt(phys);
    memset(p, 0, PAGE_SIZE << order);
    return p;
}

int virtq_alloc(struct virtq *q, uint16_t index, uint16_t size, int event_idx)
{
    memset(q, 0, sizeof *q);
    q->size = size;
    q->index = index;
    q->event_idx = event_idx;
    q->desc = alloc_pages_zeroed(16ull * size);
    q->avail = alloc_pages_zeroed(6 + 2ull * size);
    q->used = alloc_pages_zeroed(6 + 8ull * size);
    q->token = kzalloc(sizeof(void *) * size);
    if (!q->desc || !q->avail || !q->used || !q->token)
        return -ENOMEM; /* at boot only: the pages are not worth returning */
    for (uint16_t i = 0; i < size; i++)
        q->desc[i].next = (uint16_t)(i + 1);
    q->free_head = 0;
    q->num_free = size;
    return 0;
}

uint64_t virtq_desc_phys(const struct virtq *q) { return virt_to_phys(q->desc); }
uint64_t virtq_avail_phys(const struct virtq *q) { return virt_to_phys((const void *)q->avail); }
uint64_t virtq_used_phys(const struct virtq *q) { return virt_to_phys((const void *)q->used); }

int virtq_add(struct virtq *q, const struct virtq_sg *sg, unsigned out, unsigned in, void *token)
{
    unsigned n = out + in;
    if (n == 0 || n > q->num_free)
        return -ENOSPC;
    uint16_t head = q->free_head, i = head, last = head;
    for (unsigned k = 0; k < n; k++) {
        struct virtq_desc *d = &q->desc[i];
        d->addr = dma_addr(sg[k].addr);
        d->len = sg[k].len;
        d->flags = (uint16_t)((k >= out ? VIRTQ_DESC_F_WRITE : 0) | (k + 1 < n ? VIRTQ_DESC_F_NEXT : 0));
        last = i;
        i = d->next;
    }
    q->free_head = q->desc[last].next;
    q->num_free = (uint16_t)(q->num_free - n);
    q->token[head] = token;
    q->avail[AVAIL_RING + (q->avail_idx & (q->size - 1))] = head;
    q->avail_idx++;
    return 0;
}

void virtq_kick(struct virtq *q)
{
    mb();
    uint16_t old = q->kicked_idx, now = q->avail_idx;
    q->avail[AVAIL_IDX] = now;
    mb();
    q->kicked_idx = now;
    if (old == now)
        return;
    int notify;
    if (q->event_idx) {
        uint16_t ev = *avail_event(q);
        notify = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
    } else {
        notify = !(*(volatile uint16_t *)q->used & USED_F_NO_NOTIFY);
    }
    if (notify)
        *q->notify = q->notify_data;
}

int virtq_stalled(struct virtq *q)
{
    uint16_t used = *used_idx(q);
    int stalled = used != q->avail_idx && used == q->watch_used;
    q->watch_used = used;
    if (stalled) {
        mb();
        *q->notify = q->notify_data;
    }
    return stalled;
}

void virtq_report(struct virtq *q, const char *name)
{
    kprintf("lwjvm: %s: avail %u kicked %u used %u/%u free %u avail_event %u used_event %u\n", name,
            q->avail_idx, q->kicked_idx, q->last_used, *used_idx(q), q->num_free,
            q->event_idx ? *avail_event(q) : 0, q->event_idx ? q->avail[AVAIL_RING + q->size] : 0);
}

void *virtq_get(struct virtq *q, uint32_t *len)
{
    if (q->last_used == *used_idx(q))
        return 0;
    mb();
    volatile struct virtq_used_elem *e = &used_ring(q)[q->last_used & (q->size - 1)];
    uint16_t head = (uint16_t)e->id;
    if (len)
        *len = e->len;
    q->last_used++;
    if (head >= q->size)
        return 0; /* a device bug: never trust an index from outside */
    void *token = q->token[head];
    q->token[head] = 0;
    uint16_t i = head, n = 1;
    while ((q->desc[i].flags & VIRTQ_DESC_F_NEXT) && n < q->size) {
        i = q->desc[i].next;
        n++;
    }
    q->desc[i].next = q->free_head;
    q->free_head = head;
    q->num_free = (uint16_t)(q->num_free + n);
    return token;
}

void virtq_disable_irq(struct virtq *q)
{
    if (q->event_idx)
        q->avail[AVAIL_RING + q->size] = (uint16_t)(q->last_used - 1 - 0x8000);
    else
        q->avail[AVAIL_FLAGS] = AVAIL_F_NO_INTERRUPT;
}

int virtq_enable_irq(struct virtq *q)
{
    if (q->event_idx)
        q->avail[AVAIL_RING + q->size] = q->last_used;
    else
        q->avail[AVAIL_FLAGS] = 0;
    mb();
    return q->last_used != *used_idx(q);
}
