/* PCI configuration through ECAM (see drivers/pci.h). QEMU's microvm with pcie=on puts ECAM at
 * 0xe0000000 and a 64-bit MMIO window at 0xc000000000 (a fixed layout of the machine type; checked
 * with `info mtree`); the kernel hands out BAR addresses in that window itself. */
#include "drivers/pci.h"
#include "arch/x86_64/paging.h"
#include "lib/printf.h"

#define ECAM_BASE 0xe0000000ull
#define MMIO64_BASE 0xc000000000ull
#define MMIO64_END 0x10000000000ull
#define PCI_COMMAND 0x04
#define PCI_BAR0 0x10
#define CMD_MEMORY 0x2

static uint64_t next_mmio64 = MMIO64_BASE;

static volatile uint32_t *cfg(uint8_t bus, uint8_t dev, uint8_t fn)
{
    uint64_t phys = ECAM_BASE + ((uint64_t)bus << 20) + ((uint64_t)dev << 15) + ((uint64_t)fn << 12);
    return kmap_mmio(phys);
}

int pci_find(uint16_t vendor, uint16_t device, struct pci_dev *out)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        volatile uint32_t *c = cfg(0, dev, 0);
        if (!c)
            return -1;
        uint32_t id = c[0];
        if ((id & 0xffff) == 0xffff)
            continue;
        if ((id & 0xffff) == vendor && (id >> 16) == device) {
            *out = (struct pci_dev){0, dev, 0, vendor, device};
            return 0;
        }
    }
    return -1;
}

uint64_t pci_map_bar64(const struct pci_dev *d, unsigned bar, uint64_t *size)
{
    volatile uint32_t *c = cfg(d->bus, d->dev, d->fn);
    unsigned lo = (PCI_BAR0 + 4 * bar) / 4, hi = lo + 1;
    uint32_t orig = c[lo];
    if ((orig & 0x7) != 0x4) /* memory, 64-bit */
        return 0;
    c[PCI_COMMAND / 4] &= ~(uint32_t)CMD_MEMORY;
    c[lo] = 0xffffffffu;
    c[hi] = 0xffffffffu;
    uint64_t mask = ((uint64_t)c[hi] << 32) | (c[lo] & ~0xfull);
    uint64_t sz = ~mask + 1;
    if (!sz || (sz & (sz - 1)))
        return 0;
    uint64_t addr = (next_mmio64 + sz - 1) & ~(sz - 1);
    if (addr + sz > MMIO64_END)
        return 0;
    next_mmio64 = addr + sz;
    c[lo] = (uint32_t)addr | (orig & 0xf);
    c[hi] = (uint32_t)(addr >> 32);
    c[PCI_COMMAND / 4] |= CMD_MEMORY;
    *size = sz;
    return addr;
}
