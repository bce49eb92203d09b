/* I/O APIC programming (see arch/x86_64/ioapic.h). QEMU's microvm has one at the standard address
 * with ISA IRQs wired to the pins of the same number. */
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/paging.h"

#define IOAPIC_BASE 0xfec00000ull
#define REG_VER 0x01
#define REG_REDIR 0x10

static volatile uint32_t *regs;

static uint32_t rd(uint32_t reg)
{
    regs[0] = reg;
    return regs[4];
}

static void wr(uint32_t reg, uint32_t v)
{
    regs[0] = reg;
    regs[4] = v;
}

int ioapic_route(unsigned irq, uint8_t vector)
{
    if (!regs)
        regs = kmap_mmio(IOAPIC_BASE);
    if (!regs)
        return -1;
    uint32_t ver = rd(REG_VER);
    if (ver == 0xffffffffu || irq > ((ver >> 16) & 0xff))
        return -1;
    wr(REG_REDIR + 2 * irq + 1, 0);      /* destination: APIC ID 0 */
    wr(REG_REDIR + 2 * irq, vector);     /* fixed, physical, edge, active high, unmasked */
    return 0;
}
