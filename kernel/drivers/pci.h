/* PCI Express configuration space through ECAM, as QEMU's microvm (pcie=on) lays it out, the
 * assignment of device memory BARs (there is no firmware to do it), capabilities, MSI-X, and the
 * registry through which drivers claim devices by vendor and device id. */
#pragma once
#include <stdint.h>

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
    uint16_t subsys_vendor, subsys_id;
    uint64_t bar_phys[6], bar_size[6]; /* filled by pci_map_bar */
};

/* Finds the first function with this vendor and device id on bus 0; returns 0 or -1. */
int pci_find(uint16_t vendor, uint16_t device, struct pci_dev *out);
/* Gives 64-bit memory BAR `bar` an address in the 64-bit window, enables memory decoding and
 * returns the BAR's physical address (its size in *size), or 0 on failure. */
uint64_t pci_map_bar64(const struct pci_dev *d, unsigned bar, uint64_t *size);
/* Gives memory BAR `bar` (32- or 64-bit) an address, once per device, maps it uncached into the
 * kernel and returns its virtual address (size in d->bar_size[bar]), or 0 on failure. */
volatile void *pci_map_bar(struct pci_dev *d, unsigned bar);

uint32_t pci_read32(const struct pci_dev *d, unsigned off);
uint16_t pci_read16(const struct pci_dev *d, unsigned off);
uint8_t pci_read8(const struct pci_dev *d, unsigned off);
void pci_write32(const struct pci_dev *d, unsigned off, uint32_t v);
void pci_write16(const struct pci_dev *d, unsigned off, uint16_t v);
/* The offset of the first capability with id `id` after offset `after` (0: from the start), or 0. */
unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned after);
/* Enables memory decoding and bus mastering (DMA) and disables the legacy INTx line (a device
 * whose interrupts nobody handles must not hold a shared line: pci_set_intx turns it on). */
void pci_enable(const struct pci_dev *d);
/* Lets the function drive its INTx line (on) or not. */
void pci_set_intx(const struct pci_dev *d, int on);
/* Whether firmware ran before the kernel (configuration through the 0xcf8 ports, BARs assigned:
 * q35) rather than not (ECAM, BARs assigned by the kernel: microvm's PCIe host bridge). */
int pci_firmware(void);

/* MSI-X: points table entry `entry` at `vector` on CPU 0 and enables MSI-X. Returns 0, or -1 if the
 * device has no MSI-X capability or fewer entries. */
int pci_msix_route(struct pci_dev *d, unsigned entry, uint8_t vector);
/* The number of MSI-X table entries, or 0 without MSI-X. */
unsigned pci_msix_count(const struct pci_dev *d);

#define PCI_CAP_MSIX 0x11
#define PCI_CAP_VENDOR 0x09

/* A driver claims functions whose vendor matches and whose device id is in [dev_lo, dev_hi]. */
struct pci_driver {
    const char *name;
    uint16_t vendor, dev_lo, dev_hi;
    /* Returns 0 if it took the device, else -errno (the scan goes on). */
    int (*probe)(struct pci_dev *d);
};
/* Scans bus 0 and calls the first matching driver of `drivers` (n entries) for each function. */
void pci_probe_all(const struct pci_driver *drivers, unsigned n);
