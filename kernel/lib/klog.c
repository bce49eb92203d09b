/* The kernel log: formatted lines onto COM3 (docs/protocol.md, section 4). */
#include "arch/x86_64/serial.h"
#include "lib/printf.h"
#include "lib/spinlock.h"

/* Guards the port while a piece is written, and `last`: an interrupt handler (the control
 * channel's memory answer) or another CPU writing in the middle of a record would cut it (an
 * exit record cut so lost the program's exit code). A leaf lock. */
static struct spinlock klog_lock = SPINLOCK_INIT("klog");
static char last = '\n';

void klog_write(const char *s, size_t len)
{
    if (!len)
        return;
    if (spin_held_here(&klog_lock)) { /* a panic while writing: say it anyway */
        serial_write(SERIAL_KLOG, s, len);
        last = s[len - 1];
        return;
    }
    uint64_t fl = spin_lock_irqsave(&klog_lock);
    serial_write(SERIAL_KLOG, s, len);
    last = s[len - 1];
    spin_unlock_irqrestore(&klog_lock, fl);
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
