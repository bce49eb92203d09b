/* The vDSO: code glibc calls instead of the clock syscalls. It runs in ring 3 inside the program
 * and reads the kernel's time base from the data page mapped one page below it ("[vvar]",
 * see vdso/vvar.h); clocks it cannot serve fall back to the syscall instruction. Built as a small
 * shared object without relocations (vdso/vdso.lds) and embedded in the kernel (vdso/image.S). */
#include <stdint.h>
#include "vdso/vvar.h"

/* Placed by vdso.lds one page before the image's first byte: the kernel maps [vvar] there. */
extern const struct vvar vvar_page __attribute__((visibility("hidden")));

#define CLOCK_REALTIME 0
#define CLOCK_MONOTONIC 1
#define CLOCK_MONOTONIC_RAW 4
#define CLOCK_REALTIME_COARSE 5
#define CLOCK_MONOTONIC_COARSE 6
#define CLOCK_BOOTTIME 7

#define NR_gettimeofday 96
#define NR_time 201
#define NR_clock_gettime 228
#define NR_clock_getres 229
#define NR_getcpu 309

#define NSEC_PER_SEC 1000000000ull

struct vdso_timespec {
    int64_t tv_sec, tv_nsec;
};
struct vdso_timeval {
    int64_t tv_sec, tv_usec;
};

static inline long syscall3(long nr, long a, long b, long c)
{
    long r;
    __asm__ volatile("syscall" : "=a"(r) : "0"(nr), "D"(a), "S"(b), "d"(c) : "rcx", "r11", "memory");
    return r;
}

static inline uint64_t rdtsc_ordered(void)
{
    uint32_t lo, hi;
    __asm__ volatile("lfence; rdtsc" : "=a"(lo), "=d"(hi)::"memory");
    return ((uint64_t)hi << 32) | lo;
}

/* Reads CLOCK_MONOTONIC (and the REALTIME offset) in ns; 0 if the vDSO may not compute clocks. */
static inline int read_mono(uint64_t *ns, int64_t *realtime_offset)
{
    const volatile struct vvar *v = &vvar_page;
    uint32_t seq;
    do {
        seq = v->seq;
        __asm__ volatile("" ::: "memory");
        if (v->mode != VVAR_MODE_TSC)
            return 0;
        uint64_t ticks = rdtsc_ordered() - v->tsc_base;
        *ns = (uint64_t)(((unsigned __int128)ticks * v->mult) >> v->shift);
        *realtime_offset = v->realtime_offset;
        __asm__ volatile("" ::: "memory");
    } while ((seq & 1) || seq != v->seq);
    return 1;
}

/* Nanoseconds of `id`, or 0 if the syscall must answer (a clock we do not compute here). */
static inline int read_clock(int id, uint64_t *ns)
{
    uint64_t mono;
    int64_t off;
    switch (id) {
    case CLOCK_REALTIME:
    case CLOCK_REALTIME_COARSE:
        if (!read_mono(&mono, &off))
            return 0;
        *ns = mono + (uint64_t)off;
        return 1;
    case CLOCK_MONOTONIC:
    case CLOCK_MONOTONIC_RAW:
    case CLOCK_MONOTONIC_COARSE:
    case CLOCK_BOOTTIME:
        if (!read_mono(&mono, &off))
            return 0;
        *ns = mono;
        return 1;
    default:
        return 0;
    }
}

int __vdso_clock_gettime(int id, struct vdso_timespec *ts)
{
    uint64_t ns;
    if (!read_clock(id, &ns))
        return (int)syscall3(NR_clock_gettime, id, (long)ts, 0);
    ts->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
    ts->tv_nsec = (int64_t)(ns % NSEC_PER_SEC);
    return 0;
}

int __vdso_gettimeofday(struct vdso_timeval *tv, void *tz)
{
    uint64_t ns;
    if (tz || !read_clock(CLOCK_REALTIME, &ns))
        return (int)syscall3(NR_gettimeofday, (long)tv, (long)tz, 0);
    if (tv) {
        tv->tv_sec = (int64_t)(ns / NSEC_PER_SEC);
        tv->tv_usec = (int64_t)(ns % NSEC_PER_SEC / 1000);
    }
    return 0;
}

int64_t __vdso_time(int64_t *t)
{
    uint64_t ns;
    if (!read_clock(CLOCK_REALTIME, &ns))
        return syscall3(NR_time, (long)t, 0, 0);
    int64_t s = (int64_t)(ns / NSEC_PER_SEC);
    if (t)
        *t = s;
    return s;
}

int __vdso_clock_getres(int id, struct vdso_timespec *res)
{
    int ours = id == CLOCK_REALTIME || id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC ||
               id == CLOCK_MONOTONIC_RAW || id == CLOCK_MONOTONIC_COARSE || id == CLOCK_BOOTTIME;
    if (!ours || vvar_page.mode != VVAR_MODE_TSC)
        return (int)syscall3(NR_clock_getres, id, (long)res, 0);
    /* The same answers as the syscall (linux/time.c). */
    if (res) {
        res->tv_sec = 0;
        res->tv_nsec = (id == CLOCK_REALTIME_COARSE || id == CLOCK_MONOTONIC_COARSE) ? 4000000 : 1;
    }
    return 0;
}

long __vdso_getcpu(unsigned *cpu, unsigned *node, void *unused)
{
    /* The CPU changes under the program with several: the kernel knows which it is. */
    return syscall3(NR_getcpu, (long)cpu, (long)node, (long)unused);
}

/* The unprefixed names Linux's vDSO also exports. */
int clock_gettime(int, struct vdso_timespec *) __attribute__((weak, alias("__vdso_clock_gettime")));
int gettimeofday(struct vdso_timeval *, void *) __attribute__((weak, alias("__vdso_gettimeofday")));
int64_t time(int64_t *) __attribute__((weak, alias("__vdso_time")));
int clock_getres(int, struct vdso_timespec *) __attribute__((weak, alias("__vdso_clock_getres")));
long getcpu(unsigned *, unsigned *, void *) __attribute__((weak, alias("__vdso_getcpu")));
