/* TSC frequency discovery and conversion (see arch/x86_64/tsc.h). Under KVM, kvmclock gives the
 * host's exact conversion. Under QEMU TCG the TSC runs at the host's rate and CPUID leaves
 * 0x15/0x16 are usually empty, so the PIT measures it. */
#include "arch/x86_64/tsc.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/kvmclock.h"
#include "lib/printf.h"

uint64_t tsc_hz;
uint64_t tsc_mult;
uint32_t tsc_shift;

static uint64_t from_cpuid(void)
{
    uint32_t r[4];
    cpuid(0, 0, r);
    uint32_t max = r[0];
    if (max >= 0x15) {
        cpuid(0x15, 0, r);
        if (r[0] && r[1] && r[2])
            return (uint64_t)r[2] * r[1] / r[0];
    }
    if (max >= 0x16) {
        cpuid(0x16, 0, r);
        if (r[0])
            return (uint64_t)r[0] * 1000000;
    }
    return 0;
}

static uint16_t pit_read(void)
{
    outb(0x43, 0x00); /* latch channel 0 */
    uint8_t lo = inb(0x40);
    return (uint16_t)(lo | (inb(0x40) << 8));
}

/* Counts TSC ticks while PIT channel 0 (a free-running 16-bit down-counter in mode 2) advances
 * 2 ms; 0 if the PIT does not answer (no PIT: reads are constant). */
static uint64_t from_pit(void)
{
    const uint32_t pit_hz = 1193182, want = pit_hz / 500; /* 2 ms: 0.1% at worst */
    outb(0x43, 0x34); /* channel 0, lo/hi, mode 2 */
    outb(0x40, 0);
    outb(0x40, 0); /* count 65536 */
    uint16_t prev = pit_read();
    uint64_t t0 = rdtsc(), elapsed = 0, spins = 0;
    while (elapsed < want) {
        uint16_t now = pit_read();
        elapsed += (uint16_t)(prev - now);
        prev = now;
        if (++spins > 2000000 && elapsed == 0)
            return 0;
    }
    uint64_t t1 = rdtsc();
    return (t1 - t0) * pit_hz / elapsed;
}

void tsc_init(void)
{
    const char *src = "kvmclock";
    if (kvmclock_init() == 0) {
        tsc_mult = kvmclock_mult;
        tsc_shift = kvmclock_shift;
        uint64_t q = (1000000000ull << 32) / tsc_mult; /* the rate if the shift were 32 */
        tsc_hz = tsc_shift >= 32 ? q << (tsc_shift - 32) : q >> (32 - tsc_shift);
    } else {
        src = "cpuid";
        tsc_hz = from_cpuid();
        if (!tsc_hz) {
            tsc_hz = from_pit();
            src = "pit";
        }
        if (!tsc_hz) {
            tsc_hz = 1000000000;
            src = "assumed (no PIT)";
        }
        tsc_shift = 32;
        tsc_mult = (1000000000ull << 32) / tsc_hz;
    }
    kprintf("lwjvm: tsc %lu kHz (%s)\n", tsc_hz / 1000, src);
}

uint64_t tsc_to_ns(uint64_t ticks)
{
    return (uint64_t)(((unsigned __int128)ticks * tsc_mult) >> tsc_shift);
}

uint64_t tsc_ns_since_boot(void) { return tsc_to_ns(rdtsc() - boot_tsc); }
