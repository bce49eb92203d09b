/* 16550 UARTs: COM1 carries the program's stdout, COM2 its stderr, COM3 the kernel log and, in
 * the other direction, the host's control lines (docs/protocol.md, section 4). Output is polled;
 * input raises an interrupt. */
#include "arch/x86_64/serial.h"
#include "arch/x86_64/io.h"

static const uint16_t port_base[] = {0x3f8, 0x2f8, 0x3e8};

/* Programs each UART for 115200 8N1 with FIFOs; harmless under QEMU, needed on real hardware. */
void serial_init(void)
{
    for (unsigned i = 0; i < 3; i++) {
        uint16_t p = port_base[i];
        outb(p + 1, 0x00); /* no interrupts */
        outb(p + 3, 0x80); /* DLAB */
        outb(p + 0, 0x01); /* divisor 1: 115200 */
        outb(p + 1, 0x00);
        outb(p + 3, 0x03); /* 8N1 */
        outb(p + 2, 0xc7); /* FIFO on, cleared */
    }
}

void serial_enable_rx_irq(enum serial_port which)
{
    uint16_t p = port_base[which];
    outb(p + 4, 0x0b); /* DTR, RTS, OUT2 (which gates the interrupt on PCs) */
    outb(p + 1, 0x01); /* interrupt when data is received */
}

int serial_read_byte(enum serial_port which, char *c)
{
    uint16_t p = port_base[which];
    if (!(inb(p + 5) & 0x01))
        return 0;
    *c = (char)inb(p);
    return 1;
}

/* Writes len bytes to the UART `which`; waits for the transmitter only on real hardware. */
void serial_write(enum serial_port which, const char *buf, size_t len)
{
    uint16_t p = port_base[which];
    for (size_t i = 0; i < len; i++) {
        for (unsigned spin = 0; spin < 100000 && !(inb(p + 5) & 0x20); spin++)
            ;
        outb(p, (uint8_t)buf[i]);
    }
}
