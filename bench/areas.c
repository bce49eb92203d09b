/* Memory-area operations with tens of thousands of areas (docs/bench.md, "Many memory areas"):
 * AREAS one-page areas whose protections alternate (PROT_READ, PROT_NONE: no two neighbours can be
 * joined) are made either by one mmap each, placed by the kernel ("mmap": its search for a free
 * gap), or by mprotect on every other page of one PROT_NONE reservation ("split"); then mprotect
 * turns each readable one writable and back, a fault touches each readable page, a read of
 * /proc/self/maps lists them, and munmap removes them one at a time. Prints the time each phase
 * took and per call. Static, so that it runs on the guest as it does on the host:
 *   gcc -O2 -static -o areas bench/areas.c
 *   lwjvm exec --accel tcg --memory 256M areas [AREAS [mmap|split]]     (default 65000 mmap)
 * The host's vm.max_map_count is 65,530 too, less the areas the program already has. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void report(const char *phase, double t0, long calls)
{
    double s = now() - t0;
    printf("%-9s %8ld calls %9.3f s %9.2f us/call\n", phase, calls, s, calls ? s * 1e6 / calls : 0);
    fflush(stdout);
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 65000;
    int split = argc > 2 && !strcmp(argv[2], "split");
    char **page = calloc((size_t)n, sizeof *page);
    if (!page)
        return 2;
    double start = now(), t0 = now();
    long made = 0;
    if (split) {
        char *r = mmap(NULL, (size_t)n * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (r == MAP_FAILED)
            return 2;
        for (; made < n; made++) {
            page[made] = r + made * 4096;
            if (made % 2 == 0 && mprotect(page[made], 4096, PROT_READ)) {
                printf("mprotect failed after %ld areas: %s\n", made, strerror(errno));
                break;
            }
        }
        report("split", t0, (made + 1) / 2);
    } else {
        for (; made < n; made++) {
            int prot = made % 2 ? PROT_NONE : PROT_READ;
            char *p = mmap(NULL, 4096, prot, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                printf("mmap failed after %ld areas: %s\n", made, strerror(errno));
                break;
            }
            page[made] = p;
        }
        report("mmap", t0, made);
    }

    t0 = now();
    long calls = 0;
    for (long i = 0; i < made; i += 2) {
        if (mprotect(page[i], 4096, PROT_READ | PROT_WRITE) || mprotect(page[i], 4096, PROT_READ))
            return 3;
        calls += 2;
    }
    report("mprotect", t0, calls);

    t0 = now();
    long sum = 0;
    for (long i = 0; i < made; i += 2)
        sum += page[i][0]; /* the first touch: a fault */
    report("fault", t0, (made + 1) / 2);

    t0 = now();
    int fd = open("/proc/self/maps", O_RDONLY);
    static char buf[1 << 16];
    long lines = 0, r;
    while ((r = read(fd, buf, sizeof buf)) > 0)
        for (long i = 0; i < r; i++)
            lines += buf[i] == '\n';
    close(fd);
    report("maps", t0, 1);

    t0 = now();
    for (long i = 0; i < made; i++)
        if (munmap(page[i], 4096))
            return 4;
    report("munmap", t0, made);
    printf("total %.3f s, %ld lines in /proc/self/maps, checksum %ld\n", now() - start, lines, sum);
    return 0;
}
