/* PCI INTx lines (see drivers/pci_intx.h). The wiring is the machine's, and with no AML
 * interpreter the kernel cannot read the DSDT's _PRT, so it follows QEMU's sources (7.2):
 * - microvm, pcie=on (hw/i386/microvm.c): the GPEX host bridge's four lines A-D go to GSI 16-19
 *   when the machine has its second I/O APIC (ioapic2, the default with ACPI; the MADT lists it
 *   at GSI 24), else to GSI 12-15; the bridge swizzles a function's pin onto line
 *   (slot + pin - 1) mod 4 (pci_swizzle_map_irq_fn).
 * - q35 (hw/isa/lpc_ich9.c, ich9_lpc_update_apic): in APIC mode PIRQ A-H drive I/O APIC inputs
 *   16-23 directly. The LPC bridge's PIRQx_ROUT registers (config 0x60-0x63, 0x68-0x6b) only
 *   steer the PIRQs to the 8259 (SeaBIOS points them at IRQ 10 and 11; those I/O APIC inputs stay
 *   masked here), so they say nothing about the GSI. Which PIRQ a pin reaches is read from the
 *   chipset's D31IR-D25IR registers (through the LPC bridge's RCBA) for slots 25-31 but 30;
 *   slot 30 (the DMI-to-PCI bridge) and slots 0-24 use QEMU's fixed rule, the one its ACPI _PRT
 *   gives: slot 30 pin n -> PIRQ E + n - 1, slot s pin n -> PIRQ E + (s + n - 1) mod 4.
 * QEMU's ACPI tables describe both machines' PCI lines as level-triggered, active high, shared
 * (its I/O APIC model ignores the polarity bit), so lines are routed that way. */
#include "drivers/pci_intx.h"
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/ioapic.h"
#include "arch/x86_64/irq.h"
#include "arch/x86_64/paging.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/spinlock.h"
#include "mm/kheap.h"

#define PCI_INTERRUPT_PIN 0x3d
#define MICROVM_GSI_IOAPIC2 16 /* pcie_irq_base with the second I/O APIC */
#define MICROVM_GSI_ONE_IOAPIC 12
#define ICH9_LPC_SLOT 31
#define ICH9_LPC_ID 0x29188086u
#define ICH9_LPC_RCBA 0xf0
#define ICH9_RCBA_EN 1u
#define ICH9_RCBA_MASK 0xffffc000u
#define ICH9_DIR_DEFAULT 0x3210 /* pins A-D -> PIRQ A-D, the registers' reset value */
#define ICH9_GSI_PIRQA 16
#define MAX_LINES 24
/* Interrupts in a row that no handler claims before the line is masked: a device the kernel does
 * not drive holding a shared line would otherwise interrupt forever (Linux's "nobody cared"). */
#define UNCLAIMED_LIMIT 100000

struct intx_handler {
    int (*fn)(void *);
    void *arg;
    uint8_t slot;    /* the function's, for the report */
    uint64_t claims; /* interrupts its device had raised (counted atomically) */
    struct intx_handler *next;
};

struct intx_line {
    unsigned gsi;
    struct intx_handler *first; /* appended under intx_lock, read by the interrupt without it */
    uint64_t irqs, unclaimed;   /* counted by the interrupt (atomically) */
    uint64_t unclaimed_run;
};

/* intx_lock guards the table of lines in use (nlines, each line's gsi), routing a line on its
 * first handler and appending to a line's handler list. The interrupt walks a list without it:
 * entries are published complete with a release store and never removed. Taken before `irq` and
 * `ioapic`. */
static struct spinlock intx_lock = SPINLOCK_INIT("intx");
static struct intx_line lines[MAX_LINES];
static unsigned nlines;

/* microvm: where the host bridge's line A is. */
static unsigned microvm_gsi_base(void)
{
    struct acpi_ioapic io[4];
    int n = acpi_ioapics(io, 4);
    for (int i = 0; i < n; i++)
        if (io[i].gsi_base == 24)
            return MICROVM_GSI_IOAPIC2;
    return MICROVM_GSI_ONE_IOAPIC;
}

/* q35: the PIRQ (0-7: A-H) that pin (1-4) of a function in `slot` reaches. */
static unsigned ich9_pirq(unsigned slot, unsigned pin)
{
    if (slot == 30)
        return 4 + (pin - 1);
    if (slot < 25)
        return 4 + (slot + pin - 1) % 4;
    /* D25IR ... D31IR in the chipset configuration registers (D30IR unused: slot 30 above) */
    static const uint16_t dir_off[] = {0x3150, 0x314c, 0x3148, 0x3146, 0x3144, 0, 0x3140};
    struct pci_dev lpc = {.bus = 0, .dev = ICH9_LPC_SLOT};
    uint32_t rcba = pci_read32(&lpc, ICH9_LPC_RCBA);
    uint16_t dir = ICH9_DIR_DEFAULT;
    if (rcba & ICH9_RCBA_EN) {
        volatile uint16_t *reg = kmap_mmio((rcba & ICH9_RCBA_MASK) + dir_off[slot - 25]);
        if (reg)
            dir = *reg;
    }
    return (dir >> (4 * (pin - 1))) & 7;
}

int pci_intx_gsi(const struct pci_dev *d)
{
    unsigned pin = pci_read8(d, PCI_INTERRUPT_PIN);
    if (pin < 1 || pin > 4)
        return -ENODEV;
    if (d->bus != 0)
        return -EOPNOTSUPP; /* behind a bridge: another swizzle, not needed today */
    if (!pci_firmware()) /* microvm's GPEX host bridge */
        return (int)(microvm_gsi_base() + (d->dev + pin - 1) % 4);
    struct pci_dev lpc = {.bus = 0, .dev = ICH9_LPC_SLOT};
    if (pci_read32(&lpc, 0) == ICH9_LPC_ID)
        return (int)(ICH9_GSI_PIRQA + ich9_pirq(d->dev, pin));
    return -EOPNOTSUPP;
}

static void line_irq(void *arg)
{
    struct intx_line *l = arg;
    int claimed = 0;
    for (struct intx_handler *h = __atomic_load_n(&l->first, __ATOMIC_ACQUIRE); h;
         h = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE)) {
        if (h->fn(h->arg)) {
            __atomic_fetch_add(&h->claims, 1, __ATOMIC_RELAXED);
            claimed = 1;
        }
    }
    __atomic_fetch_add(&l->irqs, 1, __ATOMIC_RELAXED);
    if (claimed) {
        __atomic_store_n(&l->unclaimed_run, 0, __ATOMIC_RELAXED);
        return;
    }
    __atomic_fetch_add(&l->unclaimed, 1, __ATOMIC_RELAXED);
    if (__atomic_add_fetch(&l->unclaimed_run, 1, __ATOMIC_RELAXED) == UNCLAIMED_LIMIT) {
        ioapic_mask(l->gsi);
        kprintf("lwjvm: interrupt line GSI %u: %u interrupts in a row claimed by no device: "
                "masked\n", l->gsi, UNCLAIMED_LIMIT);
    }
}

int pci_intx_attach(struct pci_dev *d, int (*handler)(void *), void *arg)
{
    int gsi = pci_intx_gsi(d);
    if (gsi < 0)
        return gsi;
    struct intx_handler *h = kzalloc(sizeof *h);
    if (!h)
        return -ENOMEM;
    h->fn = handler;
    h->arg = arg;
    h->slot = d->bus == 0 ? d->dev : 0;
    int rc = gsi;
    uint64_t fl = spin_lock_irqsave(&intx_lock);
    struct intx_line *l = 0;
    for (unsigned i = 0; i < nlines && !l; i++)
        if (lines[i].gsi == (unsigned)gsi)
            l = &lines[i];
    if (l) {
        struct intx_handler **tail = &l->first;
        while (*tail)
            tail = &(*tail)->next;
        __atomic_store_n(tail, h, __ATOMIC_RELEASE);
    } else if (nlines == MAX_LINES) {
        rc = -ENOSPC;
    } else {
        /* A new line: its handler first, then its vector and route (it may be high already). */
        l = &lines[nlines];
        l->gsi = (unsigned)gsi;
        __atomic_store_n(&l->first, h, __ATOMIC_RELEASE);
        uint8_t vec = irq_alloc(line_irq, l);
        if (!vec)
            rc = -ENOSPC;
        else if (ioapic_route_level((unsigned)gsi, vec, 0))
            rc = -EIO;
        else
            nlines++;
        if (rc < 0)
            l->first = 0; /* a vector taken stays taken: boot only */
    }
    spin_unlock_irqrestore(&intx_lock, fl);
    if (rc < 0) {
        kfree(h);
        return rc;
    }
    pci_set_intx(d, 1);
    return gsi;
}

void pci_intx_report(void)
{
    uint64_t fl = spin_lock_irqsave(&intx_lock);
    unsigned n = nlines;
    spin_unlock_irqrestore(&intx_lock, fl);
    for (unsigned i = 0; i < n; i++) {
        struct intx_line *l = &lines[i];
        char devs[160];
        size_t len = 0;
        devs[0] = 0;
        for (struct intx_handler *h = __atomic_load_n(&l->first, __ATOMIC_ACQUIRE);
             h && len < sizeof devs; h = __atomic_load_n(&h->next, __ATOMIC_ACQUIRE))
            len += (size_t)snprintf(devs + len, sizeof devs - len, ", 00:%02x.0 %lu", h->slot,
                                    __atomic_load_n(&h->claims, __ATOMIC_RELAXED));
        kprintf("lwjvm: intx: GSI %u: %lu interrupts, %lu claimed by no device%s\n", l->gsi,
                __atomic_load_n(&l->irqs, __ATOMIC_RELAXED),
                __atomic_load_n(&l->unclaimed, __ATOMIC_RELAXED), devs);
    }
}
