/* Random bytes for AT_RANDOM, getrandom and /dev/urandom. */
#pragma once
#include <stddef.h>
#include <stdint.h>

/* Fills buf with n random bytes: RDRAND when the CPU has it, else the host's entropy through
 * virtio-rng when the VM has that device, else a xorshift generator seeded from the TSC (not
 * cryptographic; logged once at boot). */
void random_bytes(void *buf, size_t n);
void random_init(void);
/* Mixes `seed` into the TSC-seeded generator (a restored snapshot must not repeat the numbers
 * its other copies draw); RDRAND and virtio-rng need nothing. */
void random_reseed(uint64_t seed);
/* Fills len bytes of program memory at ubuf; returns len, the bytes done before a bad address, or
 * -EFAULT if none. */
int64_t random_to_user(void *ubuf, uint64_t len);
