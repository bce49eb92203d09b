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

/* Latches and reads PIT channel 0; *tsc is the TSC at the latch (the middle of the rdtsc pair
 * around it) and the return value the width of that pair: the sample's uncertainty. Under TCG a
 * port access can take long when QEMU's I/O thread is busy, so wide samples are retried. */
static uint64_t pit_sample(uint16_t *count, uint64_t *tsc)
{
    uint64_t a = rdtsc();
    outb(0x43, 0x00); /* latch channel 0 */
    uint64_t b = rdtsc();
    uint8_t lo = inb(0x40);
    *count = (uint16_t)(lo | (inb(0x40) << 8));
    *tsc = a + (b - a) / 2;
    return b - a;
}

/* A sample whose width is at most `limit` TSC ticks (the narrowest of a few tries if none is). */
static uint64_t pit_good_sample(uint16_t *count, uint64_t *tsc, uint64_t limit)
{
    uint64_t best = ~0ull;
    for (int i = 0; i < 50; i++) {
        uint16_t c;
        uint64_t t, w = pit_sample(&c, &t);
        if (w < best) {
            best = w;
            *count = c;
            *tsc = t;
        }
        if (w <= limit)
            break;
    }
    return best;
}

#define PIT_HZ 1193182
#define PIT_WINDOW_MS 10

/* Counts TSC ticks while PIT channel 0 (a free-running 16-bit down-counter in mode 2) advances
 * PIT_WINDOW_MS, timing the latch of each end sample; 0 if the PIT does not answer (no PIT: reads
 * are constant). Under TCG this lands within about 60 ppm of the host's TSC rate (timing the
 * whole read instead was 0.5-1% high); the PIT's 838 ns count is most of what remains. */
static uint64_t from_pit(void)
{
    const uint32_t want = PIT_HZ / 1000 * PIT_WINDOW_MS;
    outb(0x43, 0x34); /* channel 0, lo/hi, mode 2 */
    outb(0x40, 0);
    outb(0x40, 0); /* count 65536 */
    uint16_t c0 = 0, prev, now = 0;
    uint64_t t0 = 0, t1 = 0, t;
    /* A first access warms up the path; then a narrow start sample (3000 ticks: 1 us at 3 GHz). */
    pit_sample(&c0, &t0);
    pit_good_sample(&c0, &t0, 3000);
    prev = c0;
    uint64_t elapsed = 0, spins = 0;
    while (elapsed + 1000 < want) { /* stop a little early; the end sample finishes the window */
        pit_sample(&now, &t);
        elapsed += (uint16_t)(prev - now);
        prev = now;
        if (++spins > 2000000 && elapsed == 0)
            return 0;
    }
    do {
        pit_good_sample(&now, &t1, 3000);
        elapsed += (uint16_t)(prev - now);
        prev = now;
    } while (elapsed < want);
    return (t1 - t0) * PIT_HZ / elapsed;
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
