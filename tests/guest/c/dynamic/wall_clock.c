/* The guest's wall clock comes from the host: CLOCK_REALTIME, gettimeofday and time() agree with the
 * host's clock (argv[1], seconds since the epoch, read by the harness just before the run) to
 * within two minutes, so `date` in the guest is right. gmtime/localtime with TZ unset give UTC. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <time.h>

#include "../check.h"

#define WINDOW 120 /* seconds: a TCG boot on a loaded machine, and an RTC read to the second */

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    long long host = atoll(argv[1]);
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    long long d = (long long)ts.tv_sec - host;
    CHECK("REALTIME is within 2 minutes of the host's clock", d > -WINDOW && d < WINDOW);
    struct timeval tv;
    gettimeofday(&tv, NULL);
    d = (long long)tv.tv_sec - host;
    CHECK("gettimeofday is within 2 minutes of the host's clock", d > -WINDOW && d < WINDOW);
    d = (long long)time(NULL) - host;
    CHECK("time() is within 2 minutes of the host's clock", d > -WINDOW && d < WINDOW);
    time_t t = (time_t)host;
    struct tm utc, local;
    gmtime_r(&t, &utc);
    localtime_r(&t, &local);
    CHECK("with TZ unset, local time is UTC", local.tm_hour == utc.tm_hour &&
                                                  local.tm_min == utc.tm_min &&
                                                  local.tm_gmtoff == 0);
    return check_done();
}
