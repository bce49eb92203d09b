/* The kernel log: formatted lines onto COM3 (docs/protocol.md, section 4). */
#include "arch/x86_64/serial.h"
#include "lib/printf.h"

void klog_write(const char *s, size_t len) { serial_write(SERIAL_KLOG, s, len); }

void kprintf(const char *fmt, ...)
{
    char buf[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n > (int)sizeof buf - 1)
        n = sizeof buf - 1;
    klog_write(buf, (size_t)n);
}
