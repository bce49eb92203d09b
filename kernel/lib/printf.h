/* Formatted output into buffers (lib/printf.c) and onto the kernel log (lib/klog.c). */
#pragma once
#include <stdarg.h>
#include <stddef.h>

/* Like C's vsnprintf: %d %i %u %x %X %o %c %s %p %% with l/ll/z/h modifiers, width, '-', '0',
 * and precision for strings. Returns the length the full output would have. */
int vsnprintf(char *buf, size_t size, const char *fmt, va_list ap);
int snprintf(char *buf, size_t size, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Prints to the kernel log (COM3). */
void kprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void klog_write(const char *s, size_t len);
/* Ends a partial line on the kernel log, so that what follows starts a line. */
void klog_start_line(void);
