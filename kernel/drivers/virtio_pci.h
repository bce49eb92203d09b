/* The virtio-pci transport (virtio 1.x "modern", section 4.1): finds a device's configuration
 * structures through its vendor capabilities, negotiates features, sets up virtqueues and routes
 * their interrupts: through MSI-X, one table entry per queue, or all queues on one entry if the
 * device has fewer entries than queues, or, without MSI-X, through the function's INTx line
 * (level-triggered, maybe shared: the ISR status register says whether this device interrupted).
 * Drivers register by virtio device type (drivers/virtio.c). */
#pragma once
#include <stdint.h>

#include "drivers/pci.h"
#include "drivers/virtqueue.h"

#define VIRTIO_F_RING_EVENT_IDX (1ull << 29)
#define VIRTIO_F_VERSION_1 (1ull << 32)

#define VIRTIO_ID_NET 1
#define VIRTIO_ID_BLOCK 2
#define VIRTIO_ID_CONSOLE 3
#define VIRTIO_ID_RNG 4
#define VIRTIO_ID_BALLOON 5

/* One device: filled by its driver's probe before the device runs (virtio_pci_init,
 * virtio_irq_setup), only read after, but for `handler`, which virtio_fail clears atomically. */
struct virtio_dev {
    struct pci_dev *pci;
    unsigned type;                /* VIRTIO_ID_* */
    volatile uint8_t *common;     /* struct virtio_pci_common_cfg */
    volatile uint8_t *isr;
    volatile uint8_t *device_cfg; /* the device-specific configuration */
    volatile uint8_t *notify;
    uint32_t notify_mul;
    uint64_t features;            /* negotiated */
    unsigned msix_entries;        /* the MSI-X table's size, 0 without MSI-X */
    int irq_mode;                 /* VIRTIO_IRQ_* */
    uint8_t vector;               /* the CPU vector of the MSI-X modes */
    int gsi;                      /* the INTx line (VIRTIO_IRQ_INTX) */
    void (*handler)(void *);      /* the driver's, and its argument */
    void *handler_arg;
    int config_irq;               /* configuration changes run the handler too (INTx) */
    uint64_t isr_reads, isr_tsc;  /* INTx with lwjvm.stats=1: ISR reads and their time (atomic) */
};

enum {
    VIRTIO_IRQ_NONE,        /* every queue polled */
    VIRTIO_IRQ_MSIX,        /* one MSI-X table entry per interrupting queue */
    VIRTIO_IRQ_MSIX_SHARED, /* all interrupting queues on MSI-X table entry 0 */
    VIRTIO_IRQ_INTX,        /* the INTx line; the ISR status register acknowledges */
};
#define VIRTIO_POLLED (-1)

/* Resets the device and acknowledges it; returns 0 or -ENODEV if it lacks the modern structures. */
int virtio_pci_init(struct virtio_dev *v, struct pci_dev *d, unsigned type);
/* Offers `wanted` & what the device has (VIRTIO_F_VERSION_1 is required); returns 0 with
 * v->features set, or -ENODEV if the device refuses. */
int virtio_negotiate(struct virtio_dev *v, uint64_t wanted);
/* Gives the interrupts of up to `nqueues` queues to handler(arg), run with interrupts off: one
 * MSI-X entry per queue if the device has as many, else all of them on its first entry, else its
 * INTx line (the handler then runs when the device's ISR says a queue has used buffers, and may
 * share the line with other devices). Call before virtio_queue_setup. Returns 0 or -errno
 * (-EOPNOTSUPP: no MSI-X, and the machine's INTx wiring is unknown). */
int virtio_irq_setup(struct virtio_dev *v, unsigned nqueues, void (*handler)(void *), void *arg);
/* Asks for the device's configuration-change interrupts on the handler of virtio_irq_setup too
 * (with MSI-X: on the first table entry, the vector the queues use; with INTx: when the ISR's
 * configuration bit is set). Call after virtio_irq_setup. Returns 0 or -EIO. */
int virtio_config_irq(struct virtio_dev *v);
/* Sets up queue `index` with at most max_size entries; `irq` is the queue's interrupt, 0 to
 * nqueues - 1 of virtio_irq_setup, or VIRTIO_POLLED for a queue the driver polls (on INTx its
 * completions may still run the handler unless the driver suppresses them). Returns 0 or
 * -errno. */
int virtio_queue_setup(struct virtio_dev *v, struct virtq *q, uint16_t index, uint16_t max_size,
                       int irq);
/* With INTx and lwjvm.stats=1: one kernel-log line, the ISR reads and their mean time. */
void virtio_irq_report(const struct virtio_dev *v, const char *name);
/* DRIVER_OK: the device may start using the queues. */
void virtio_ready(struct virtio_dev *v);
/* Marks the device failed (a driver that cannot go on) and stops its INTx line. The structure
 * must stay allocated once virtio_irq_setup succeeded (irq_mode not VIRTIO_IRQ_NONE): interrupt
 * handlers are never removed. */
void virtio_fail(struct virtio_dev *v);

/* Scans PCI for virtio devices and probes the drivers of drivers/virtio.c. */
void virtio_probe_all(void);
