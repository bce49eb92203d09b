/* Random bytes for AT_RANDOM, getrandom and /dev/urandom. */
#pragma once
#include <stddef.h>

/* Fills buf with n random bytes: RDRAND/RDSEED when the CPU has them, else a ChaCha-free
 * xorshift generator seeded from the TSC (not cryptographic; logged once at boot). */
void random_bytes(void *buf, size_t n);
void random_init(void);
