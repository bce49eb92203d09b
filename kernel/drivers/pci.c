/* PCI configuration (see drivers/pci.h), two ways: ECAM where QEMU's microvm (pcie=on) puts it,
 * at 0xe0000000, with a 64-bit MMIO window at 0xc000000000 and a 32-bit one at 0xc0000000 (a
 * fixed layout of the machine type; checked with `info mtree`), where the kernel hands out BAR
 * addresses itself as there is no firmware; or, on machines with firmware (q35, pc: SeaBIOS ran
 * before the PVH entry), the legacy 0xcf8/0xcfc ports, keeping the addresses the firmware gave.
 * The first access decides which: ECAM if a device answers there. */
#include "drivers/pci.h"
#include "arch/x86_64/io.h"
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

/* pci_lock guards the access mode, the BAR address allocators and the 0xcf8 address register. */
static struct spinlock pci_lock = SPINLOCK_INIT("pci");
static uint64_t next_mmio64 = MMIO64_BASE;
static uint64_t next_mmio32 = MMIO32_BASE;
enum { MODE_UNKNOWN, MODE_ECAM, MODE_PORTS };
static int mode;

static volatile uint8_t *ecam(const struct pci_dev *d)
{
    uint64_t phys = ECAM_BASE + ((uint64_t)d->bus << 20) + ((uint64_t)d->dev << 15) +
                    ((uint64_t)d->fn << 12);
    return (volatile uint8_t *)kmap_mmio(phys);
}

static uint32_t port_addr(const struct pci_dev *d, unsigned off)
{
    return 0x80000000u | (uint32_t)d->bus << 16 | (uint32_t)d->dev << 11 | (uint32_t)d->fn << 8 |
           (off & 0xfc);
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static void choose_mode(void)
{
    if (mode != MODE_UNKNOWN)
        return;
    struct pci_dev d0 = {0};
    volatile uint8_t *c = ecam(&d0);
    uint32_t id = c ? *(volatile uint32_t *)c : 0xffffffffu;
    mode = (id & 0xffff) != 0xffff && id != 0 ? MODE_ECAM : MODE_PORTS;
}

uint32_t pci_read32(const struct pci_dev *d, unsigned off)
{
    uint64_t fl = spin_lock_irqsave(&pci_lock);
    choose_mode();
    uint32_t v;
    if (mode == MODE_ECAM) {
        v = *(volatile uint32_t *)(ecam(d) + (off & ~3u));
    } else {
        outl(0xcf8, port_addr(d, off));
        v = inl(0xcfc);
    }
    spin_unlock_irqrestore(&pci_lock, fl);
    return v;
}

void pci_write32(const struct pci_dev *d, unsigned off, uint32_t v)
{
    uint64_t fl = spin_lock_irqsave(&pci_lock);
    choose_mode();
    if (mode == MODE_ECAM) {
        *(volatile uint32_t *)(ecam(d) + (off & ~3u)) = v;
    } else {
        outl(0xcf8, port_addr(d, off));
        outl(0xcfc, v);
    }
    spin_unlock_irqrestore(&pci_lock, fl);
}

uint16_t pci_read16(const struct pci_dev *d, unsigned off)
{
    return (uint16_t)(pci_read32(d, off) >> ((off & 2) * 8));
}
uint8_t pci_read8(const struct pci_dev *d, unsigned off)
{
    return (uint8_t)(pci_read32(d, off) >> ((off & 3) * 8));
}
void pci_write16(const struct pci_dev *d, unsigned off, uint16_t v)
{
    uint32_t w = pci_read32(d, off & ~3u);
    unsigned sh = (off & 2) * 8;
    w = (w & ~(0xffffu << sh)) | (uint32_t)v << sh;
    pci_write32(d, off & ~3u, w);
}

int pci_firmware(void)
{
    uint64_t fl = spin_lock_irqsave(&pci_lock);
    choose_mode();
    int fw = mode == MODE_PORTS;
    spin_unlock_irqrestore(&pci_lock, fl);
    return fw;
}

int pci_find(uint16_t vendor, uint16_t device, struct pci_dev *out)
{
    for (uint8_t dev = 0; dev < 32; dev++) {
        struct pci_dev d = {.bus = 0, .dev = dev};
        uint32_t id = pci_read32(&d, 0);
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

/* Sizes BAR `bar` (64-bit if is64); restores the original value. */
static uint64_t bar_size(const struct pci_dev *d, unsigned off, int is64)
{
    uint32_t lo = pci_read32(d, off), hi = is64 ? pci_read32(d, off + 4) : 0;
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd & ~CMD_MEMORY);
    pci_write32(d, off, 0xffffffffu);
    uint64_t mask = pci_read32(d, off) & ~0xfull;
    if (is64) {
        pci_write32(d, off + 4, 0xffffffffu);
        mask |= (uint64_t)pci_read32(d, off + 4) << 32;
        pci_write32(d, off + 4, hi);
    } else {
        mask |= 0xffffffff00000000ull;
    }
    pci_write32(d, off, lo);
    pci_write16(d, PCI_COMMAND, cmd);
    return ~mask + 1;
}

/* Gives a memory BAR an address (or keeps the firmware's); returns it, 0 on failure. */
static uint64_t assign_bar(const struct pci_dev *d, unsigned bar, uint64_t *size)
{
    unsigned off = PCI_BAR0 + 4 * bar;
    uint32_t orig = pci_read32(d, off);
    if (orig & 1) /* I/O space */
        return 0;
    int is64 = (orig & 0x6) == 0x4;
    if (is64 && bar == 5)
        return 0;
    uint64_t sz = bar_size(d, off, is64);
    if (!sz || (sz & (sz - 1)))
        return 0;
    uint64_t cur = (orig & ~0xfull) | (is64 ? (uint64_t)pci_read32(d, off + 4) << 32 : 0);
    if (pci_firmware() && cur) {
        pci_write16(d, PCI_COMMAND, pci_read16(d, PCI_COMMAND) | CMD_MEMORY);
        *size = sz;
        return cur;
    }
    uint64_t addr = 0;
    uint64_t fl = spin_lock_irqsave(&pci_lock);
    uint64_t *next = is64 ? &next_mmio64 : &next_mmio32;
    uint64_t end = is64 ? MMIO64_END : MMIO32_END;
    uint64_t a = (*next + sz - 1) & ~(sz - 1);
    if (a + sz <= end) {
        *next = a + sz;
        addr = a;
    }
    spin_unlock_irqrestore(&pci_lock, fl);
    if (!addr)
        return 0;
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd & ~CMD_MEMORY);
    pci_write32(d, off, (uint32_t)addr | (orig & 0xf));
    if (is64)
        pci_write32(d, off + 4, (uint32_t)(addr >> 32));
    pci_write16(d, PCI_COMMAND, cmd | CMD_MEMORY);
    *size = sz;
    return addr;
}

uint64_t pci_map_bar64(const struct pci_dev *d, unsigned bar, uint64_t *size)
{
    if ((pci_read32(d, PCI_BAR0 + 4 * bar) & 0x7) != 0x4) /* memory, 64-bit */
        return 0;
    return assign_bar(d, bar, size);
}

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

void pci_enable(const struct pci_dev *d)
{
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, cmd | CMD_MEMORY | CMD_BUS_MASTER | CMD_INTX_DISABLE);
}

void pci_set_intx(const struct pci_dev *d, int on)
{
    uint16_t cmd = pci_read16(d, PCI_COMMAND);
    pci_write16(d, PCI_COMMAND, on ? cmd & ~CMD_INTX_DISABLE : cmd | CMD_INTX_DISABLE);
}

volatile void *pci_map_bar(struct pci_dev *d, unsigned bar)
{
    if (bar >= 6)
        return 0;
    if (!d->bar_phys[bar]) {
        uint64_t sz, addr = assign_bar(d, bar, &sz);
        if (!addr)
            return 0;
        for (uint64_t p = 0; p < sz; p += 4096)
            if (!kmap_mmio(addr + p))
                return 0;
        d->bar_phys[bar] = addr;
        d->bar_size[bar] = sz;
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
        struct pci_dev pd = {.bus = 0, .dev = dev};
        uint32_t id = pci_read32(&pd, 0);
        if ((id & 0xffff) == 0xffff)
            continue;
        pd.vendor = (uint16_t)id;
        pd.device = (uint16_t)(id >> 16);
        uint32_t sub = pci_read32(&pd, 0x2c);
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
