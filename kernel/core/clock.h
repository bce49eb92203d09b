/* Wall-clock time: the host's time read from the CMOS RTC at boot, advanced by the TSC. */
#pragma once
#include <stdint.h>

void clock_init(void);
/* Nanoseconds since the Unix epoch. */
uint64_t clock_realtime_ns(void);
