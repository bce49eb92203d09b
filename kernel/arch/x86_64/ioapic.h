/* The I/O APIC: routing a legacy ISA interrupt line, or a level-triggered PCI line, to a vector
 * of the boot CPU. */
#pragma once
#include <stdint.h>

/* Routes ISA IRQ `irq` (edge-triggered, active high) to `vector` on CPU 0; returns 0, or -1 if
 * there is no I/O APIC. */
int ioapic_route(unsigned irq, uint8_t vector);
/* Routes input `gsi` level-triggered (active low if active_low, else high) to `vector` on CPU 0:
 * the input keeps interrupting after each EOI for as long as a device holds the line. Returns 0,
 * or -1 if there is no I/O APIC or no such input. */
int ioapic_route_level(unsigned gsi, uint8_t vector, int active_low);
/* Masks input `gsi` (a line nobody answers for). */
void ioapic_mask(unsigned gsi);
