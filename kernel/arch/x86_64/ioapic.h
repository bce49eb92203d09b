/* The I/O APIC: routing a legacy ISA interrupt line to a vector of the boot CPU. */
#pragma once
#include <stdint.h>

/* Routes ISA IRQ `irq` (edge-triggered, active high) to `vector` on CPU 0; returns 0, or -1 if
 * there is no I/O APIC. */
int ioapic_route(unsigned irq, uint8_t vector);
