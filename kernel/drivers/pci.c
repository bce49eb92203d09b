/* PCI configuration through ECAM (see drivers/pci.h). QEMU's microvm with pcie=on puts ECAM at
 * 0xe0000000 and a 64-bit MMIO window at 0xc000000000 (a fixed layout of the machine type; checked
 * with `info mtree`); the kernel hands out BAR addresses in that window itself. */
#include "drivers/pci.h"
#include "arch/x86_64/paging.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "lib/spinlock.h"

#define ECAM_BASE 0xe0000000ull
#define MMIO64_BASE 0xc000000000ull
#define MMIO64_END 0x10000000000ull
#define PCI_COMMAND 0x04
#define PCI_BAR0 0x10
#define CMD_MEMORY 0x2

#define MMIO32_BASE 0xc0000000ull
#define MMIO32_END 0xe0000000ull
#define CMD_BUS_MASTER 0x4
#define CMD_INTX_DISABLE 0x400

/* pci_lock guards the two BAR address allocators below (probing is at boot, but keep it honest). */
static struct spinlock pci_lock = SPINLOCK_INIT("pci");
static uint64_t next_mmio64 = MMIO64_BASE;
static uint64_t next_mmio32 = MMIO32_BASE;

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
            *out = (struct pci_dev){.bus = 0, .dev = dev, .fn = 0, .vendor = vendor,
                                    .device = device};
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

static volatile uint8_t *cfg8(const struct pci_dev *d)
{
    return (volatile uint8_t *)cfg(d->bus, d->dev, d->fn);
}
uint32_t pci_read32(const struct pci_dev *d, unsigned off) { return *(volatile uint32_t *)(cfg8(d) + off); }
uint16_t pci_read16(const struct pci_dev *d, unsigned off) { return *(volatile uint16_t *)(cfg8(d) + off); }
uint8_t pci_read8(const struct pci_dev *d, unsigned off) { return cfg8(d)[off]; }
void pci_write32(const struct pci_dev *d, unsigned off, uint32_t v) { *(volatile uint32_t *)(cfg8(d) + off) = v; }
void pci_write16(const struct pci_dev *d, unsigned off, uint16_t v) { *(volatile uint16_t *)(cfg8(d) + off) = v; }

unsigned pci_find_cap(const struct pci_dev *d, uint8_t id, unsigned after)
{
    if (!(pci_read16(d, 0x06) & 0x10)) /* status: capabilities list */
        return 0;
    unsigned off = after ? pci_read8(d, after + 1) : pci_read8(d, 0x34);
    for (int guard = 0; off >= 0x40 && off < 0x100 && guard < 48; guard++) {
        if (pci_read8(d, off) == id)
            return off;
        off = pci_read8(d, off + 1);
    }
    return 0;
}

void pci_enable(const struct pci_dev *d, int msi)
{
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    cmd |= CMD_MEMORY | CMD_BUS_MASTER;
    if (msi)
        cmd |= CMD_INTX_DISABLE;
    pci_write16(d, PCI_COMMAND, cmd);
}

volatile void *pci_map_bar(struct pci_dev *d, unsigned bar)
{
    if (bar >= 6)
        return 0;
    if (!d->bar_phys[bar]) {
        unsigned off = PCI_BAR0 + 4 * bar;
        uint32_t orig = pci_read32(d, off);
        if (orig & 1) /* I/O space */
            return 0;
        int is64 = (orig & 0x6) == 0x4;
        if (is64 && bar == 5)
            return 0;
        uint16_t cmd = pci_read16(d, PCI_COMMAND);
        pci_write16(d, PCI_COMMAND, cmd & ~CMD_MEMORY);
        pci_write32(d, off, 0xffffffffu);
        uint64_t mask = pci_read32(d, off) & ~0xfull;
        if (is64) {
            pci_write32(d, off + 4, 0xffffffffu);
            mask |= (uint64_t)pci_read32(d, off + 4) << 32;
        } else {
            mask |= 0xffffffff00000000ull;
        }
        uint64_t sz = ~mask + 1;
        uint64_t addr = 0;
        if (sz && !(sz & (sz - 1))) {
            uint64_t fl = spin_lock_irqsave(&pci_lock);
            uint64_t *next = is64 ? &next_mmio64 : &next_mmio32;
            uint64_t end = is64 ? MMIO64_END : MMIO32_END;
            uint64_t a = (*next + sz - 1) & ~(sz - 1);
            if (a + sz <= end) {
                *next = a + sz;
                addr = a;
            }
            spin_unlock_irqrestore(&pci_lock, fl);
        }
        pci_write32(d, off, addr ? (uint32_t)addr | (orig & 0xf) : orig);
        if (is64)
            pci_write32(d, off + 4, (uint32_t)(addr >> 32));
        pci_write16(d, PCI_COMMAND, cmd | CMD_MEMORY);
        if (!addr)
            return 0;
        d->bar_phys[bar] = addr;
        d->bar_size[bar] = sz;
        for (uint64_t p = 0; p < sz; p += 4096)
            if (!kmap_mmio(addr + p))
                return 0;
    }
    return kmap_mmio(d->bar_phys[bar]);
}

unsigned pci_msix_count(const struct pci_dev *d)
{
    unsigned cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
    return cap ? (pci_read16(d, cap + 2) & 0x7ff) + 1u : 0;
}

int pci_msix_route(struct pci_dev *d, unsigned entry, uint8_t vector)
{
    unsigned cap = pci_find_cap(d, PCI_CAP_MSIX, 0);
    if (!cap || entry >= pci_msix_count(d))
        return -1;
    uint32_t table = pci_read32(d, cap + 4);
    volatile uint8_t *base = pci_map_bar(d, table & 7);
    if (!base)
        return -1;
    volatile uint32_t *e = (volatile uint32_t *)(base + (table & ~7u) + 16 * entry);
    e[0] = 0xfee00000u; /* destination: local APIC 0, physical mode */
    e[1] = 0;
    e[2] = vector;      /* fixed delivery, edge */
    e[3] = 0;           /* unmasked */
    uint16_t ctl = pci_read16(d, cap + 2);
    pci_write16(d, cap + 2, (uint16_t)((ctl | 0x8000) & ~0x4000)); /* enable, no function mask */
    return 0;
}

void pci_probe_all(const struct pci_driver *drivers, unsigned n)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        volatile uint32_t *c = cfg(0, dev, 0);
        if (!c)
            return;
        uint32_t id = c[0];
        if ((id & 0xffff) == 0xffff)
            continue;
        struct pci_dev pd = {.bus = 0, .dev = dev, .fn = 0, .vendor = (uint16_t)id,
                             .device = (uint16_t)(id >> 16)};
        uint32_t sub = c[0x2c / 4];
        pd.subsys_vendor = (uint16_t)sub;
        pd.subsys_id = (uint16_t)(sub >> 16);
        for (unsigned i = 0; i < n; i++) {
            const struct pci_driver *drv = &drivers[i];
            if (drv->vendor != pd.vendor || pd.device < drv->dev_lo || pd.device > drv->dev_hi)
                continue;
            struct pci_dev *heap = kmalloc(sizeof *heap);
            if (!heap)
                return;
            *heap = pd;
            int rc = drv->probe(heap);
            if (rc == 0)
                break;
            kfree(heap);
            if (rc != -ENODEV)
                kprintf("lwjvm: %s: device %02x.0 (%04x:%04x) not taken (error %d)\n", drv->name,
                    dev, pd.vendor, pd.device, -rc);
        }
    }
}
