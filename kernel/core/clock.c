/* The clocks (see core/clock.h). The wall time at boot comes from kvmclock when KVM offers it (the
 * host's real time to the nanosecond), else from the CMOS RTC (whole seconds); the TSC carries it
 * forward. The time base lives in the vDSO data page, which both the kernel and the vDSO read. */
#include "core/clock.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/kvmclock.h"
#include "arch/x86_64/tsc.h"
#include "lib/printf.h"
#include "vdso/vvar.h"

/* A page of its own (size = alignment): the program may read all of it. */
static union {
    struct vvar v;
    char bytes[VVAR_SIZE];
} vvar_page __attribute__((aligned(VVAR_SIZE)));
#define vvar_data vvar_page.v

const void *clock_vvar_page(void) { return &vvar_page; }

static uint8_t cmos(uint8_t reg)
{
    outb(0x70, reg);
    return inb(0x71);
}

static unsigned bcd(uint8_t v, int is_bcd) { return is_bcd ? (v & 15) + (v >> 4) * 10 : v; }

/* Days since 1970-01-01 of a Gregorian date (Howard Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    unsigned yoe = (unsigned)(y - era * 400);
    unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

/* The RTC's time in seconds since the epoch, and the TSC when it was read; 0 if there is no RTC. */
static uint64_t rtc_read(uint64_t *tsc)
{
    while (cmos(0x0a) & 0x80) /* update in progress */
        ;
    uint8_t sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04), day = cmos(0x07),
            mon = cmos(0x08), year = cmos(0x09), century = cmos(0x32), regb = cmos(0x0b);
    *tsc = rdtsc();
    if (sec == 0xff && mon == 0xff)
        return 0;
    int is_bcd = !(regb & 4);
    unsigned h = bcd(hour & 0x7f, is_bcd);
    if (!(regb & 2) && (hour & 0x80))
        h = (h % 12) + 12;
    unsigned c = century ? bcd(century, is_bcd) : 20;
    int64_t days = days_from_civil((int64_t)c * 100 + bcd(year, is_bcd), bcd(mon, is_bcd),
                                   bcd(day, is_bcd));
    return (uint64_t)(days * 86400) + h * 3600 + bcd(min, is_bcd) * 60 + bcd(sec, is_bcd);
}

/* Writes the time base into the vDSO page under its sequence count. */
static void publish(int64_t realtime_offset)
{
    vvar_data.seq++;
    __asm__ volatile("" ::: "memory");
    vvar_data.tsc_base = boot_tsc;
    vvar_data.mult = tsc_mult;
    vvar_data.shift = tsc_shift;
    vvar_data.cpu = 0;
    vvar_data.realtime_offset = realtime_offset;
    vvar_data.mode = VVAR_MODE_TSC;
    __asm__ volatile("" ::: "memory");
    vvar_data.seq++;
}

void clock_set_realtime(int64_t ns)
{
    publish(ns - (int64_t)clock_monotonic_ns());
}

void clock_init(void)
{
    const char *src = "kvmclock";
    uint64_t at = boot_tsc;
    uint64_t realtime = kvmclock_realtime_at(at); /* the wall time at boot_tsc */
    if (!realtime) {
        src = "rtc";
        uint64_t secs = rtc_read(&at);
        /* The RTC counts whole seconds from when QEMU started, so its second boundaries fall at a
         * random point of the host's seconds: the true time is 0 to 1 s later than it says. The
         * middle halves the worst error (and the guest's `date` agrees with the host's 3 times
         * in 4 rather than 1 in 2). kvmclock has no such error. */
        realtime = secs ? secs * 1000000000ull + 500000000ull : 0;
        if (!secs)
            src = "none (1970)";
    }
    publish((int64_t)realtime - (int64_t)tsc_to_ns(at - boot_tsc));
    kprintf("lwjvm: wall clock from %s\n", src);
}

uint64_t clock_monotonic_ns(void) { return tsc_to_ns(rdtsc() - boot_tsc); }

int64_t clock_realtime_offset(void) { return vvar_data.realtime_offset; }

uint64_t clock_realtime_ns(void)
{
    return (uint64_t)((int64_t)clock_monotonic_ns() + vvar_data.realtime_offset);
}
