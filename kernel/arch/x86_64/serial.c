/* 16550 UART output: COM1 carries the program's stdout, COM2 its stderr, COM3 the kernel log
 * (docs/protocol.md, section 4). Output only, polled. */
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
