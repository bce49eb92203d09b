/* The three output UARTs (docs/protocol.md, section 4). */
#pragma once
#include <stddef.h>

enum serial_port { SERIAL_STDOUT = 0, SERIAL_STDERR = 1, SERIAL_KLOG = 2 };

void serial_init(void);
void serial_write(enum serial_port which, const char *buf, size_t len);
/* Turns on the receive interrupt of a UART. */
void serial_enable_rx_irq(enum serial_port which);
/* Reads one received byte into *c; returns 0 when none is waiting. */
int serial_read_byte(enum serial_port which, char *c);
