/* The ACPI tables the kernel reads: the MADT's list of processors (their local APIC IDs) and of
 * I/O APICs (where each one's inputs start in the GSI numbering). */
#pragma once
#include <stdint.h>

/* Finds the MADT (through rsdp_phys if nonzero, else by scanning the BIOS areas for the RSDP) and
 * stores the local APIC IDs of the enabled processors in ids (at most max), the boot CPU's
 * included. Returns how many, or 0 if there is no ACPI table or no MADT. The RSDP found is kept
 * for the calls below. */
int acpi_cpu_ids(uint64_t rsdp_phys, unsigned *ids, int max);

struct acpi_ioapic {
    uint8_t id;
    uint32_t addr;     /* physical address of its registers */
    uint32_t gsi_base; /* the GSI of its input 0 */
};
/* Stores the MADT's I/O APICs in out (at most max); returns how many (0 without a MADT). */
int acpi_ioapics(struct acpi_ioapic *out, int max);
