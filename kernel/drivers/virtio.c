/* The virtio device registry: PCI functions of vendor 0x1af4 with a virtio device id (modern
 * 0x1040 + type, or transitional 0x1000-0x103f with the type in the subsystem id) go to the
 * driver registered for their type. */
#include "drivers/virtio_pci.h"
#include "errno.h"
#include "lib/printf.h"

int virtio_net_probe(struct pci_dev *d, unsigned type);
int virtio_console_probe(struct pci_dev *d, unsigned type);
int virtio_rng_probe(struct pci_dev *d, unsigned type);
int virtio_blk_probe(struct pci_dev *d, unsigned type);
int virtio_balloon_probe(struct pci_dev *d, unsigned type);

static const struct {
    unsigned type;
    const char *name;
    int (*probe)(struct pci_dev *d, unsigned type);
} virtio_drivers[] = {
    {VIRTIO_ID_NET, "virtio-net", virtio_net_probe},
    {VIRTIO_ID_CONSOLE, "virtio-console", virtio_console_probe},
    {VIRTIO_ID_RNG, "virtio-rng", virtio_rng_probe},
    {VIRTIO_ID_BLOCK, "virtio-blk", virtio_blk_probe},
    {VIRTIO_ID_BALLOON, "virtio-balloon", virtio_balloon_probe},
};

static int virtio_probe(struct pci_dev *d)
{
    unsigned type = d->device >= 0x1040 ? d->device - 0x1040u : d->subsys_id;
    for (unsigned i = 0; i < sizeof virtio_drivers / sizeof virtio_drivers[0]; i++) {
        if (virtio_drivers[i].type != type)
            continue;
        int rc = virtio_drivers[i].probe(d, type);
        if (rc)
            kprintf("lwjvm: %s: cannot use the device (error %d)\n", virtio_drivers[i].name, -rc);
        return rc;
    }
    return -ENODEV;
}

void virtio_probe_all(void)
{
    static const struct pci_driver drv = {"virtio", 0x1af4, 0x1000, 0x107f, virtio_probe};
    pci_probe_all(&drv, 1);
}
