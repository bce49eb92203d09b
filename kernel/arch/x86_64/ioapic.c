/* I/O APIC programming (see arch/x86_64/ioapic.h). QEMU's microvm and q35 have one at the
 * standard address with ISA IRQs wired to the pins of the same number and 24 inputs (GSI 0-23);
 * PCI INTx lines come in on inputs 16-23 (drivers/pci_intx.c). */
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/paging.h"
#include "lib/spinlock.h"

#define IOAPIC_BASE 0xfec00000ull
#define REG_VER 0x01
#define REG_REDIR 0x10
#define RTE_ACTIVE_LOW (1u << 13)
#define RTE_LEVEL (1u << 15)
#define RTE_MASKED (1u << 16)

/* ioapic_lock guards the register window (the select register, then the data register) and the
 * mapping made on first use. */
static struct spinlock ioapic_lock = SPINLOCK_INIT("ioapic");
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

/* Programs input `pin` (lock held); -1 if there is no I/O APIC or no such input. */
static int program(unsigned pin, uint32_t low)
{
    if (!regs)
        regs = kmap_mmio(IOAPIC_BASE);
    if (!regs)
        return -1;
    uint32_t ver = rd(REG_VER);
    if (ver == 0xffffffffu || pin > ((ver >> 16) & 0xff))
        return -1;
    wr(REG_REDIR + 2 * pin, RTE_MASKED);   /* no delivery while half written */
    wr(REG_REDIR + 2 * pin + 1, 0);        /* destination: APIC ID 0 */
    wr(REG_REDIR + 2 * pin, low);
    return 0;
}

int ioapic_route(unsigned irq, uint8_t vector)
{
    uint64_t fl = spin_lock_irqsave(&ioapic_lock);
    int rc = program(irq, vector); /* fixed, physical, edge, active high, unmasked */
    spin_unlock_irqrestore(&ioapic_lock, fl);
    return rc;
}

int ioapic_route_level(unsigned gsi, uint8_t vector, int active_low)
{
    uint64_t fl = spin_lock_irqsave(&ioapic_lock);
    int rc = program(gsi, vector | RTE_LEVEL | (active_low ? RTE_ACTIVE_LOW : 0));
    spin_unlock_irqrestore(&ioapic_lock, fl);
    return rc;
}

void ioapic_mask(unsigned gsi)
{
    uint64_t fl = spin_lock_irqsave(&ioapic_lock);
    if (regs)
        wr(REG_REDIR + 2 * gsi, rd(REG_REDIR + 2 * gsi) | RTE_MASKED);
    spin_unlock_irqrestore(&ioapic_lock, fl);
}
