/* PCI Express configuration space through ECAM, as QEMU's microvm (pcie=on) lays it out, and the
 * assignment of device memory BARs (there is no firmware to do it). */
#pragma once
#include <stdint.h>

struct pci_dev {
    uint8_t bus, dev, fn;
    uint16_t vendor, device;
};

/* Finds the first function with this vendor and device id on bus 0; returns 0 or -1. */
int pci_find(uint16_t vendor, uint16_t device, struct pci_dev *out);
/* Gives 64-bit memory BAR `bar` an address in the 64-bit window, enables memory decoding and
 * returns the BAR's physical address (its size in *size), or 0 on failure. */
uint64_t pci_map_bar64(const struct pci_dev *d, unsigned bar, uint64_t *size);
