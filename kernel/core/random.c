/* The kernel's random source (see core/random.h). */
#include "core/random.h"
#include "arch/x86_64/io.h"
#include "errno.h"
#include "lib/printf.h"
#include "linux/uaccess.h"
#include <stdint.h>

static int have_rdrand;
static uint64_t state;

void random_init(void)
{
    uint32_t r[4];
    cpuid(1, 0, r);
    have_rdrand = (r[2] >> 30) & 1;
    state = rdtsc() * 0x9e3779b97f4a7c15ull + 1;
    if (!have_rdrand)
        kprintf("lwjvm: no RDRAND: random numbers come from virtio-rng if the VM has it, else "
                "from a TSC-seeded generator\n");
}

void random_reseed(uint64_t seed) { state ^= seed * 0x9e3779b97f4a7c15ull; }

size_t virtio_rng_read(void *out, size_t n); /* drivers/virtio_rng.c */

static uint64_t next(void)
{
    if (have_rdrand) {
        for (int tries = 0; tries < 16; tries++) {
            uint64_t v;
            unsigned char ok;
            __asm__ volatile("rdrand %0; setc %1" : "=r"(v), "=qm"(ok));
            if (ok)
                return v;
        }
    }
    state ^= rdtsc();
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    return state * 0x2545f4914f6cdd1dull;
}

void random_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (!have_rdrand && n) { /* the host's entropy through virtio-rng, when there is one */
        size_t got = virtio_rng_read(p, n);
        if (!got)
            break;
        p += got;
        n -= got;
    }
    while (n) {
        uint64_t v = next();
        for (int i = 0; i < 8 && n; i++, n--, v >>= 8)
            *p++ = (uint8_t)v;
    }
}

int64_t random_to_user(void *ubuf, uint64_t len)
{
    uint8_t buf[256];
    uint64_t done = 0;
    while (done < len) {
        uint64_t n = len - done < sizeof buf ? len - done : sizeof buf;
        random_bytes(buf, n);
        if (copy_to_user((char *)ubuf + done, buf, n))
            return done ? (int64_t)done : -EFAULT;
        done += n;
    }
    return (int64_t)done;
}
