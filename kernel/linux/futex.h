/* Futexes: waits and wakes on program addresses. */
#pragma once
#include <stdint.h>

/* Wakes up to n threads waiting on the futex at user address addr; returns how many. */
int futex_wake_addr(uint64_t addr, int n);
