/* Local APIC set-up, its timer and inter-processor interrupts (see arch/x86_64/lapic.h). The xAPIC
 * registers are mapped uncached at their physical address in the direct map. */
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/tsc.h"
#include "core/waitlimit.h"
#include "core/panic.h"
#include "lib/printf.h"
#include "lib/spinlock.h"

#define MSR_APIC_BASE 0x1b
#define MSR_TSC_DEADLINE 0x6e0
#define REG_ID 0x20
#define REG_TPR 0x80
#define REG_EOI 0xb0
#define REG_SVR 0xf0
#define REG_ICR_LO 0x300
#define REG_ICR_HI 0x310
#define ICR_PENDING (1u << 12)
#define REG_LVT_TIMER 0x320
#define REG_TIMER_INIT 0x380
#define REG_TIMER_CUR 0x390
#define REG_TIMER_DIV 0x3e0
#define LVT_MASKED (1u << 16)
#define LVT_TSC_DEADLINE (2u << 17)


static volatile uint32_t *regs;
static int tsc_deadline;
static uint64_t lapic_per_ms; /* timer counts per millisecond in one-shot mode */

static uint32_t rd(uint32_t reg) { return regs[reg / 4]; }
static void wr(uint32_t reg, uint32_t v) { regs[reg / 4] = v; }

void lapic_eoi(void) { wr(REG_EOI, 0); }

unsigned lapic_id(void) { return rd(REG_ID) >> 24; }

/* Waits until this CPU's local APIC has accepted the IPI last written (delivery status idle);
 * one not accepted within wait_limit_s never will be. */
static void icr_wait(unsigned apic_id, uint32_t lo, const char *when)
{
    struct bwait w = BWAIT_INIT;
    while ((rd(REG_ICR_LO) & ICR_PENDING) || wait_test == WAIT_TEST_ICR) {
        if (bwait_expired(&w))
            panic("IPI: the local APIC of cpu %u has not accepted %s within %u s (icr 0x%x to "
                  "APIC id %u)", percpu()->cpu, when, wait_limit_s, lo, apic_id);
        __asm__ volatile("pause");
    }
}

/* Writes the interrupt command register: one IPI at a time per CPU (callers run with interrupts
 * off), waiting for the previous one to be accepted first. */
static void send_icr(unsigned apic_id, uint32_t lo)
{
    icr_wait(apic_id, lo, "its previous IPI");
    wr(REG_ICR_HI, apic_id << 24);
    wr(REG_ICR_LO, lo);
    icr_wait(apic_id, lo, "the IPI");
}

void lapic_send_ipi(unsigned apic_id, uint8_t vector)
{
    uint64_t fl = irq_save();
    send_icr(apic_id, vector); /* fixed, physical, edge */
    irq_restore(fl);
}

void lapic_send_nmi(unsigned apic_id)
{
    uint64_t fl = irq_save();
    send_icr(apic_id, 0x400); /* NMI, physical, edge */
    irq_restore(fl);
}

void lapic_send_init(unsigned apic_id)
{
    send_icr(apic_id, 0x4500); /* INIT, level assert */
}

void lapic_send_sipi(unsigned apic_id, uint8_t page)
{
    send_icr(apic_id, 0x4600 | page); /* start-up at page << 12 */
}

void lapic_init(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE) & 0xfffff000ull;
    wrmsr(MSR_APIC_BASE, base | (1u << 11)); /* global enable */
    regs = kmap_mmio(base);
    KASSERT(regs);
    wr(REG_TPR, 0);
    wr(REG_SVR, 0x100 | VECTOR_SPURIOUS);
    uint32_t r[4];
    cpuid(1, 0, r);
    tsc_deadline = (r[2] >> 24) & 1;
    if (tsc_deadline) {
        wr(REG_LVT_TIMER, LVT_TSC_DEADLINE | VECTOR_TIMER);
    } else {
        wr(REG_TIMER_DIV, 0xb); /* divide by 1 */
        wr(REG_LVT_TIMER, LVT_MASKED | VECTOR_TIMER);
        wr(REG_TIMER_INIT, 0xffffffffu);
        uint64_t t0 = rdtsc(), ticks = tsc_hz / 1000;
        while (rdtsc() - t0 < ticks)
            ;
        lapic_per_ms = 0xffffffffu - rd(REG_TIMER_CUR);
        wr(REG_TIMER_INIT, 0);
        wr(REG_LVT_TIMER, VECTOR_TIMER); /* one-shot, unmasked */
        if (!lapic_per_ms)
            panic("the local APIC timer does not count");
    }
    kprintf("lwjvm: timer: %s\n", tsc_deadline ? "TSC deadline" : "APIC one-shot");
}

void lapic_init_ap(void)
{
    uint64_t base = rdmsr(MSR_APIC_BASE) & 0xfffff000ull;
    wrmsr(MSR_APIC_BASE, base | (1u << 11));
    wr(REG_TPR, 0);
    wr(REG_SVR, 0x100 | VECTOR_SPURIOUS);
    if (tsc_deadline) {
        wr(REG_LVT_TIMER, LVT_TSC_DEADLINE | VECTOR_TIMER);
    } else {
        wr(REG_TIMER_DIV, 0xb); /* the boot CPU's calibration holds: the same timer clock */
        wr(REG_TIMER_INIT, 0);
        wr(REG_LVT_TIMER, VECTOR_TIMER);
    }
}

void lapic_timer_arm(uint64_t deadline_ns)
{
    if (tsc_deadline) {
        if (!deadline_ns) {
            wrmsr(MSR_TSC_DEADLINE, 0);
            return;
        }
        uint64_t now = tsc_ns_since_boot();
        uint64_t delta = deadline_ns > now ? deadline_ns - now : 0;
        if (delta > 1000000000ull) /* delta * tsc_hz overflows past ~8 s; an early tick re-arms */
            delta = 1000000000ull;
        wrmsr(MSR_TSC_DEADLINE, rdtsc() + delta * tsc_hz / 1000000000ull + 1);
        return;
    }
    if (!deadline_ns) {
        wr(REG_TIMER_INIT, 0);
        return;
    }
    uint64_t now = tsc_ns_since_boot();
    uint64_t delta = deadline_ns > now ? deadline_ns - now : 0;
    uint64_t count = delta * lapic_per_ms / 1000000 + 1;
    wr(REG_TIMER_INIT, count > 0xffffffffu ? 0xffffffffu : (uint32_t)count);
}
