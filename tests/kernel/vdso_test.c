/* Runs the kernel's vDSO image (kernel/build/vdso/vdso.so) in a host process: maps it as the loader
 * does, with a [vvar] page we fill, finds its functions through DT_HASH like glibc, and checks what
 * they compute from rdtsc and the time base, and that they fall back to the real syscall for the
 * clocks they do not serve. Prints "ok" or the first failure. */
#include <elf.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <x86intrin.h>

#include "vdso/vvar.h"

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        printf(__VA_ARGS__);                                                                       \
        printf(" (line %d)\n", __LINE__);                                                          \
        exit(1);                                                                                   \
    } while (0)

static void *sym(const uint8_t *base, const char *name)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)base;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)(base + eh->e_phoff);
    const Elf64_Dyn *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++)
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = (const Elf64_Dyn *)(base + ph[i].p_vaddr);
    const Elf64_Sym *syms = NULL;
    const char *str = NULL;
    const uint32_t *hash = NULL;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB)
            syms = (const Elf64_Sym *)(base + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_STRTAB)
            str = (const char *)(base + dyn->d_un.d_ptr);
        if (dyn->d_tag == DT_HASH)
            hash = (const uint32_t *)(base + dyn->d_un.d_ptr);
    }
    if (!syms || !str || !hash)
        FAIL("no DT_SYMTAB/DT_STRTAB/DT_HASH");
    for (uint32_t i = 0; i < hash[1]; i++)
        if (syms[i].st_shndx != SHN_UNDEF && strcmp(str + syms[i].st_name, name) == 0)
            return (void *)(base + syms[i].st_value);
    FAIL("%s not exported", name);
}

int main(int argc, char **argv)
{
    if (argc != 2)
        FAIL("usage: vdso_test vdso.so");
    FILE *f = fopen(argv[1], "rb");
    if (!f)
        FAIL("cannot open %s", argv[1]);
    static uint8_t image[4 * 4096];
    size_t len = fread(image, 1, sizeof image, f);
    fclose(f);
    if (len == 0 || len == sizeof image)
        FAIL("bad image size %zu", len);
    size_t pages = (len + 4095) / 4096;
    uint8_t *area = mmap(NULL, (1 + pages) * 4096, PROT_READ | PROT_WRITE,
                         MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    struct vvar *vv = (struct vvar *)area;
    uint8_t *base = area + 4096;
    memcpy(base, image, len);
    mprotect(base, pages * 4096, PROT_READ | PROT_EXEC);

    int (*gettime)(int, struct timespec *) = sym(base, "__vdso_clock_gettime");
    int (*getres)(int, struct timespec *) = sym(base, "__vdso_clock_getres");
    int (*gtod)(struct timeval *, void *) = sym(base, "__vdso_gettimeofday");
    long (*vtime)(long *) = sym(base, "__vdso_time");
    long (*getcpu)(unsigned *, unsigned *, void *) = sym(base, "__vdso_getcpu");
    if (sym(base, "clock_gettime") != (void *)gettime)
        FAIL("clock_gettime is not an alias of __vdso_clock_gettime");

    /* ns = ticks * 3 >> 1, realtime 1e18 ns ahead: values the host's own clock cannot produce. */
    vv->tsc_base = __rdtsc();
    vv->mult = 3;
    vv->shift = 1;
    vv->realtime_offset = 1000000000000000000ll;
    vv->cpu = 7;
    vv->mode = VVAR_MODE_TSC;
    struct timespec ts;
    uint64_t t0 = __rdtsc();
    if (gettime(CLOCK_MONOTONIC, &ts))
        FAIL("MONOTONIC failed");
    uint64_t t1 = __rdtsc();
    uint64_t ns = (uint64_t)ts.tv_sec * 1000000000 + (uint64_t)ts.tv_nsec;
    if (ts.tv_nsec < 0 || ts.tv_nsec >= 1000000000)
        FAIL("tv_nsec out of range");
    if (ns < (t0 - vv->tsc_base) * 3 / 2 || ns > (t1 - vv->tsc_base) * 3 / 2)
        FAIL("MONOTONIC %lu not between %lu and %lu", ns, (t0 - vv->tsc_base) * 3 / 2,
             (t1 - vv->tsc_base) * 3 / 2);
    gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec < 1000000000 || ts.tv_sec > 1000000000 + 1000000)
        FAIL("REALTIME ignores the offset: %ld", (long)ts.tv_sec);
    struct timeval tv;
    if (gtod(&tv, NULL) || tv.tv_sec < 1000000000 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
        FAIL("gettimeofday");
    long t = 0;
    if (vtime(&t) != t || t < 1000000000)
        FAIL("time");
    /* getcpu is a system call (the CPU changes under a program with several): on this host, the
     * host's answer. */
    unsigned cpu = 9999, node = 9999, host_node = 0;
    if (getcpu(&cpu, &node, NULL) || syscall(SYS_getcpu, NULL, &host_node, NULL) ||
        cpu >= 4096 || node != host_node)
        FAIL("getcpu");
    if (getres(CLOCK_MONOTONIC, &ts) || ts.tv_sec != 0 || ts.tv_nsec != 1)
        FAIL("getres MONOTONIC");
    if (getres(CLOCK_MONOTONIC_COARSE, &ts) || ts.tv_nsec != 4000000)
        FAIL("getres MONOTONIC_COARSE");

    /* Clocks the vDSO does not compute go to the host kernel, which knows nothing of our base. */
    struct timespec host;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &host);
    if (gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) || ts.tv_sec > host.tv_sec + 1)
        FAIL("PROCESS_CPUTIME_ID did not fall back to the syscall");
    if (gettime(100, &ts) != -EINVAL)
        FAIL("an unknown clock did not return the syscall's -EINVAL");
    if (getres(100, &ts) != -EINVAL)
        FAIL("getres of an unknown clock");
    vv->mode = VVAR_MODE_SYSCALL;
    clock_gettime(CLOCK_REALTIME, &host);
    gettime(CLOCK_REALTIME, &ts);
    if (ts.tv_sec < host.tv_sec || ts.tv_sec > host.tv_sec + 1)
        FAIL("mode SYSCALL did not fall back");
    printf("ok\n");
    return 0;
}
