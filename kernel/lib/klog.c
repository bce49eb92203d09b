/* The kernel log: formatted lines onto COM3 (docs/protocol.md, section 4). */
#include "arch/x86_64/serial.h"
#include "lib/printf.h"

static char last = '\n';

void klog_write(const char *s, size_t len)
{
    if (!len)
        return;
    serial_write(SERIAL_KLOG, s, len);
    last = s[len - 1];
}

void klog_start_line(void)
{
    if (last != '\n')
        klog_write("\n", 1);
}

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
