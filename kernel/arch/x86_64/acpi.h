/* The ACPI tables the kernel reads: the MADT's list of processors (their local APIC IDs). */
#pragma once
#include <stdint.h>

/* Finds the MADT (through rsdp_phys if nonzero, else by scanning the BIOS areas for the RSDP) and
 * stores the local APIC IDs of the enabled processors in ids (at most max), the boot CPU's
 * included. Returns how many, or 0 if there is no ACPI table or no MADT. */
int acpi_cpu_ids(uint64_t rsdp_phys, unsigned *ids, int max);
