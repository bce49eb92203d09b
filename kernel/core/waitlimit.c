/* The limit of bounded waits and their test switch (see core/waitlimit.h). */
#include "core/waitlimit.h"
#include "lib/string.h"

unsigned wait_limit_s = WAIT_LIMIT_S_DEFAULT;
enum wait_test wait_test = WAIT_TEST_NONE;

int waitlimit_option(const char *s, unsigned long n)
{
    static const char limit[] = "lwjvm.wait_limit_s=", test[] = "lwjvm.wait_test=";
    if (n > sizeof limit - 1 && !strncmp(s, limit, sizeof limit - 1)) {
        unsigned v = 0;
        for (unsigned long i = sizeof limit - 1; i < n; i++) {
            if (s[i] < '0' || s[i] > '9' || v > 3600)
                return 1; /* not a number: the default stays */
            v = v * 10 + (unsigned)(s[i] - '0');
        }
        if (v >= 1 && v <= 3600)
            wait_limit_s = v;
        return 1;
    }
    if (n > sizeof test - 1 && !strncmp(s, test, sizeof test - 1)) {
        const char *w = s + sizeof test - 1;
        unsigned long len = n - (sizeof test - 1);
        if (len == 3 && !strncmp(w, "tlb", 3))
            wait_test = WAIT_TEST_TLB;
        else if (len == 5 && !strncmp(w, "timer", 5))
            wait_test = WAIT_TEST_TIMER;
        else if (len == 3 && !strncmp(w, "icr", 3))
            wait_test = WAIT_TEST_ICR;
        return 1;
    }
    return 0;
}
