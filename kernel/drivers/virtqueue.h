/* Split virtqueues (virtio 1.x, section 2.7): descriptor table, available and used rings in
 * kernel memory the device reads by DMA, with free-descriptor management, batched notification
 * and interrupt suppression through VIRTIO_F_EVENT_IDX. Not locked: each queue belongs to one
 * driver, which calls these under its own lock. */
#pragma once
#include <stdint.h>

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
};
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc");
#define VIRTQ_DESC_F_NEXT 1
#define VIRTQ_DESC_F_WRITE 2

struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
};

struct virtq;
/* Called now and then: if the device holds buffers and has used none since the last call,
 * notifies it again (a notification it lost, or one suppressed at the wrong moment, must not
 * leave buffers with it for good) and returns 1. */
int virtq_stalled(struct virtq *q);
/* Prints the queue's indexes on the kernel log (lwjvm.stats=1 at exit: where a queue stands). */
void virtq_report(struct virtq *q, const char *name);

struct virtq {
    uint16_t size;      /* entries, a power of two */
    uint16_t index;     /* the queue's number on its device */
    struct virtq_desc *desc;
    volatile uint16_t *avail; /* flags, idx, ring[size], used_event */
    volatile uint8_t *used;   /* flags, idx, ring[size] of used_elem, avail_event */
    uint16_t free_head, num_free;
    uint16_t avail_idx;  /* the next available-ring slot (free-running) */
    uint16_t kicked_idx; /* avail_idx at the last notification decision */
    uint16_t last_used;  /* the next used-ring entry to take (free-running) */
    uint16_t watch_used; /* the device's used index at the last virtq_stalled */
    int event_idx;       /* VIRTIO_F_EVENT_IDX negotiated */
    void **token;        /* per head descriptor: what the caller gets back */
    volatile uint16_t *notify; /* the doorbell */
    uint16_t notify_data;
};

/* One piece of a buffer: kernel virtual address (direct map) and length. */
struct virtq_sg {
    const void *addr;
    uint32_t len;
};

/* Allocates the rings for `size` entries; returns 0 or -ENOMEM. */
int virtq_alloc(struct virtq *q, uint16_t index, uint16_t size, int event_idx);
/* Queues a buffer of `out` device-readable pieces followed by `in` device-writable ones; `token`
 * comes back from virtq_get. Returns 0, or -ENOSPC if the ring has too few free descriptors. */
int virtq_add(struct virtq *q, const struct virtq_sg *sg, unsigned out, unsigned in, void *token);
/* Publishes what was added and rings the doorbell if the device asked to be told (one
 * notification per batch). */
void virtq_kick(struct virtq *q);
/* Takes the next buffer the device has finished with: its token (len: bytes written), or 0. */
void *virtq_get(struct virtq *q, uint32_t *len);
/* Interrupt suppression: asks for no interrupt until re-enabled. */
void virtq_disable_irq(struct virtq *q);
/* Asks for an interrupt at the next used buffer; returns 1 if some are already there (the caller
 * should process them instead of waiting). */
int virtq_enable_irq(struct virtq *q);
/* Physical addresses of the three areas, for the transport. */
uint64_t virtq_desc_phys(const struct virtq *q);
uint64_t virtq_avail_phys(const struct virtq *q);
uint64_t virtq_used_phys(const struct virtq *q);
/* The physical address of a kernel buffer for DMA, or 0 if it is not in the direct map. */
uint64_t dma_addr(const void *p);
