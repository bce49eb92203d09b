/* The TLB-shootdown probe of `make bench`'s SMP part (lwjvm/smpbench.py): one thread, pinned to
 * CPU 0, makes a page it has written read-only and writable again, so each mprotect changes a
 * translation the CPU caches; on N CPUs a kernel must make sure no other CPU still holds it (Linux
 * asks only the CPUs that run the address space; idle ones flush when they come back to it).
 * Prints "mprotect: round R us X" (microseconds per call) for 3 rounds of N pairs of calls on 1
 * CPU or N, the others idle.
 *
 * Usage: mprotect [pairs of calls per round, default 2000] */
#define _GNU_SOURCE
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>

static long long now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 2000;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(0, &s);
    if (sched_setaffinity(0, sizeof s, &s) != 0) {
        perror("mprotect: sched_setaffinity");
        return 2;
    }
    volatile char *p = mmap(0, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("mprotect: mmap");
        return 2;
    }
    p[0] = 1;
    for (int round = 1; round <= 3; round++) {
        long long t0 = now_ns();
        for (int i = 0; i < n; i++) {
            if (mprotect((void *)p, 4096, PROT_READ) || mprotect((void *)p, 4096, PROT_READ | PROT_WRITE)) {
                perror("mprotect");
                return 1;
            }
            p[0]++;
        }
        printf("mprotect: round %d us %.2f\n", round, (double)(now_ns() - t0) / 1e3 / (2.0 * n));
        fflush(stdout);
    }
    return 0;
}
