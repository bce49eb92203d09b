/* Device interrupt vectors: drivers take a vector and a handler for it (MSI-X messages name the
 * vector directly; no I/O APIC routing needed). */
#pragma once
#include <stdint.h>

#define VECTOR_DEVICE_FIRST 48
#define VECTOR_DEVICE_LAST 0xef

/* Reserves a free vector for handler(arg), run with interrupts off; returns it, or 0 if none is
 * left. */
uint8_t irq_alloc(void (*handler)(void *), void *arg);
/* Runs the handler of vector v; returns 0 if it has none. The caller sends the EOI. */
int irq_dispatch(uint64_t v);
