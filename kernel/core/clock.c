/* The real-time clock (see core/clock.h): the CMOS RTC gives whole seconds at boot; the TSC
 * carries them forward. */
#include "core/clock.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/tsc.h"

static uint64_t boot_epoch_ns; /* wall time at boot_tsc */

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

void clock_init(void)
{
    while (cmos(0x0a) & 0x80) /* update in progress */
        ;
    uint8_t sec = cmos(0x00), min = cmos(0x02), hour = cmos(0x04), day = cmos(0x07),
            mon = cmos(0x08), year = cmos(0x09), century = cmos(0x32), regb = cmos(0x0b);
    uint64_t at = rdtsc();
    if (sec == 0xff && mon == 0xff) {
        boot_epoch_ns = 0; /* no RTC */
        return;
    }
    int is_bcd = !(regb & 4);
    unsigned h = bcd(hour & 0x7f, is_bcd);
    if (!(regb & 2) && (hour & 0x80))
        h = (h % 12) + 12;
    unsigned c = century ? bcd(century, is_bcd) : 20;
    int64_t days = days_from_civil((int64_t)c * 100 + bcd(year, is_bcd), bcd(mon, is_bcd),
                                   bcd(day, is_bcd));
    uint64_t secs = (uint64_t)(days * 86400) + h * 3600 + bcd(min, is_bcd) * 60 + bcd(sec, is_bcd);
    boot_epoch_ns = secs * 1000000000ull - tsc_to_ns(at - boot_tsc);
}

uint64_t clock_realtime_ns(void) { return boot_epoch_ns + tsc_ns_since_boot(); }
