/* The <stdlib.h> lwIP includes: only atoi (netif_find), over the kernel's own code. */
#pragma once
static inline int atoi(const char *s)
{
    int v = 0, neg = 0;
    if (*s == '-')
        neg = 1, s++;
    while (*s >= '0' && *s <= '9')
        v = v * 10 + (*s++ - '0');
    return neg ? -v : v;
}
