/* PCI INTx: the legacy, level-triggered interrupt line of a function without MSI-X. Which I/O
 * APIC input (GSI) a function's pin drives on the machines lwjvm boots, and lines shared by
 * several functions: each line has one vector and a list of handlers, all run on each interrupt,
 * each asking its own device whether it was the one. */
#pragma once
#include <stdint.h>

#include "drivers/pci.h"

/* The GSI the function's interrupt pin drives: >= 0, -ENODEV if it has no pin, -EOPNOTSUPP on a
 * machine whose wiring the kernel does not know (neither microvm's PCIe nor q35). */
int pci_intx_gsi(const struct pci_dev *d);

/* Runs handler(arg) on every interrupt of the function's line (interrupts off); the handler reads
 * its device's status, which lowers the device's part of the line, and returns 1 if the device
 * had interrupted, else 0. Routes the line (level-triggered) on its first handler, then lets the
 * function drive it. Returns the GSI, or -errno (pci_intx_gsi's, -ENOSPC: no vector or table
 * room left, -EIO: no I/O APIC). Handlers are never removed. */
int pci_intx_attach(struct pci_dev *d, int (*handler)(void *), void *arg);

/* One kernel-log line per line in use: its GSI, interrupts taken, and those no handler claimed. */
void pci_intx_report(void);
