/* ACPI table reading (see arch/x86_64/acpi.h): the RSDP (given by the PVH start info or found in
 * the EBDA or the 0xE0000-0xFFFFF BIOS area), the RSDT or XSDT, and the MADT's processor local
 * APIC and I/O APIC entries. The tables sit in low memory, which the direct map covers. */
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/paging.h"
#include "lib/string.h"

struct rsdp {
    char sig[8];
    uint8_t checksum;
    char oem[6];
    uint8_t revision;
    uint32_t rsdt;
    uint32_t length;
    uint64_t xsdt;
    uint8_t xchecksum, reserved[3];
} __attribute__((packed));

struct sdt {
    char sig[4];
    uint32_t length;
    uint8_t revision, checksum;
    char oem[6], oem_table[8];
    uint32_t oem_rev, creator, creator_rev;
} __attribute__((packed));

#define MADT_LAPIC 0
#define MADT_IOAPIC 1
#define MADT_X2APIC 9
#define LAPIC_ENABLED 1
#define LAPIC_ONLINE_CAPABLE 2
#define PHYS_LIMIT (1ull << 30) /* the direct map always covers the first GiB */

static int sum_ok(const void *p, uint32_t n)
{
    uint8_t s = 0;
    for (uint32_t i = 0; i < n; i++)
        s += ((const uint8_t *)p)[i];
    return s == 0;
}

static const struct rsdp *scan(uint64_t start, uint64_t end)
{
    for (uint64_t a = start; a + sizeof(struct rsdp) <= end; a += 16) {
        const struct rsdp *r = phys_to_virt(a);
        if (!memcmp(r->sig, "RSD PTR ", 8) && sum_ok(r, 20))
            return r;
    }
    return 0;
}

static const struct sdt *table(uint64_t phys)
{
    if (!phys || phys >= PHYS_LIMIT)
        return 0;
    const struct sdt *t = phys_to_virt(phys);
    if (t->length < sizeof *t || phys + t->length > PHYS_LIMIT || !sum_ok(t, t->length))
        return 0;
    return t;
}

static const struct sdt *find_madt(const struct rsdp *r)
{
    const struct sdt *root = 0;
    int wide = 0;
    if (r->revision >= 2 && r->xsdt && sum_ok(r, r->length < 36 ? 36 : r->length)) {
        root = table(r->xsdt);
        wide = 1;
    }
    if (!root) {
        root = table(r->rsdt);
        wide = 0;
    }
    if (!root)
        return 0;
    uint32_t n = (root->length - sizeof *root) / (wide ? 8 : 4);
    const uint8_t *ent = (const uint8_t *)(root + 1);
    for (uint32_t i = 0; i < n; i++) {
        uint64_t phys = 0;
        memcpy(&phys, ent + i * (wide ? 8 : 4), wide ? 8 : 4);
        const struct sdt *t = table(phys);
        if (t && !memcmp(t->sig, "APIC", 4))
            return t;
    }
    return 0;
}

/* The RSDP found by the first successful search (boot CPU, before the others start). */
static const struct rsdp *found;

static const struct rsdp *find_rsdp(uint64_t rsdp_phys)
{
    if (found)
        return found;
    const struct rsdp *r = 0;
    if (rsdp_phys && rsdp_phys < PHYS_LIMIT) {
        r = phys_to_virt(rsdp_phys);
        if (memcmp(r->sig, "RSD PTR ", 8) || !sum_ok(r, 20))
            r = 0;
    }
    if (!r) {
        uint64_t ebda = (uint64_t)*(const uint16_t *)phys_to_virt(0x40e) << 4;
        if (ebda >= 0x80000 && ebda < 0xa0000)
            r = scan(ebda, ebda + 1024);
    }
    if (!r)
        r = scan(0xe0000, 0x100000);
    if (!r)
        return 0;
    found = r;
    return r;
}

int acpi_cpu_ids(uint64_t rsdp_phys, unsigned *ids, int max)
{
    const struct rsdp *r = find_rsdp(rsdp_phys);
    if (!r)
        return 0;
    const struct sdt *madt = find_madt(r);
    if (!madt)
        return 0;
    int n = 0;
    const uint8_t *p = (const uint8_t *)madt + sizeof *madt + 8; /* after the APIC address, flags */
    const uint8_t *end = (const uint8_t *)madt + madt->length;
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        uint32_t flags;
        if (p[0] == MADT_LAPIC && p[1] >= 8) {
            memcpy(&flags, p + 4, 4);
            if ((flags & LAPIC_ENABLED) && n < max)
                ids[n++] = p[3];
        } else if (p[0] == MADT_X2APIC && p[1] >= 16) {
            uint32_t id;
            memcpy(&id, p + 4, 4);
            memcpy(&flags, p + 8, 4);
            if ((flags & LAPIC_ENABLED) && id < 255 && n < max)
                ids[n++] = id;
        }
        p += p[1];
    }
    return n;
}

int acpi_ioapics(struct acpi_ioapic *out, int max)
{
    const struct rsdp *r = find_rsdp(0);
    const struct sdt *madt = r ? find_madt(r) : 0;
    if (!madt)
        return 0;
    int n = 0;
    const uint8_t *p = (const uint8_t *)madt + sizeof *madt + 8;
    const uint8_t *end = (const uint8_t *)madt + madt->length;
    while (p + 2 <= end && p[1] >= 2 && p + p[1] <= end) {
        if (p[0] == MADT_IOAPIC && p[1] >= 12 && n < max) {
            out[n].id = p[2];
            memcpy(&out[n].addr, p + 4, 4);
            memcpy(&out[n].gsi_base, p + 8, 4);
            n++;
        }
        p += p[1];
    }
    return n;
}
