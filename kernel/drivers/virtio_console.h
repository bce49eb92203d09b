/* virtio-console as the program's stdout and stderr (docs/protocol.md, section 4): the first
 * virtio-serial device found carries stdout, the second stderr. A write is one buffer for the
 * device instead of a UART access per byte; the UARTs stay for early boot, the kernel log and
 * panics, and for the streams when no such device exists. */
#pragma once
#include <stddef.h>

/* Writes len bytes to stream `which` (0 stdout, 1 stderr), sleeping while the device has no
 * buffer free (the host is not reading), unless nonblock; call only from a thread that may
 * sleep. Returns the bytes taken (fewer than len if it stopped on the way), -EAGAIN (nonblock)
 * or -EINTR (a signal) if it stopped before any, or -ENODEV if that stream has no virtio console
 * (the caller uses the UART). */
long virtio_console_write(int which, const char *buf, size_t len, int nonblock);
struct waitq;
/* Whether a write to stream `which` would take bytes now (a buffer is free or being filled): 1 or
 * 0, or -ENODEV without the device. Sets *wq to the queue woken when buffers come back (0 if none
 * ever wakes: then it answers 1); a poll answering 0 turns the transmit interrupt on until one
 * does. */
int virtio_console_poll(int which, struct waitq **wq);
/* Waits until the device has taken everything written (before the VM stops). */
void virtio_console_flush(void);
