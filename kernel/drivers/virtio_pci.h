/* The virtio-pci transport (virtio 1.x "modern", section 4.1): finds a device's configuration
 * structures through its vendor capabilities, negotiates features, sets up virtqueues and routes
 * their interrupts through MSI-X. Drivers register by virtio device type (drivers/virtio.c). */
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

struct virtio_dev {
    struct pci_dev *pci;
    unsigned type;                /* VIRTIO_ID_* */
    volatile uint8_t *common;     /* struct virtio_pci_common_cfg */
    volatile uint8_t *isr;
    volatile uint8_t *device_cfg; /* the device-specific configuration */
    volatile uint8_t *notify;
    uint32_t notify_mul;
    uint64_t features;            /* negotiated */
    int msix;                     /* MSI-X vectors in use */
};

/* Resets the device and acknowledges it; returns 0 or -ENODEV if it lacks the modern structures. */
int virtio_pci_init(struct virtio_dev *v, struct pci_dev *d, unsigned type);
/* Offers `wanted` & what the device has (VIRTIO_F_VERSION_1 is required); returns 0 with
 * v->features set, or -ENODEV if the device refuses. */
int virtio_negotiate(struct virtio_dev *v, uint64_t wanted);
/* Sets up queue `index` with at most max_size entries, its interrupt on `vector` (MSI-X table
 * entry `entry`); vector 0, or a device without MSI-X, gives a queue the driver polls. Returns 0
 * or -errno. */
int virtio_queue_setup(struct virtio_dev *v, struct virtq *q, uint16_t index, uint16_t max_size,
                       unsigned entry, uint8_t vector);
/* DRIVER_OK: the device may start using the queues. */
void virtio_ready(struct virtio_dev *v);
/* Marks the device failed (a driver that cannot go on). */
void virtio_fail(struct virtio_dev *v);

/* Scans PCI for virtio devices and probes the drivers of drivers/virtio.c. */
void virtio_probe_all(void);
