/* kvmclock (see arch/x86_64/kvmclock.h). The kernel registers a time-info record with the host,
 * which fills it with (tsc_timestamp, system_time, mul, shift): the host's clock at that TSC and
 * its TSC rate. The wall-clock MSR gives the host's real time at system_time 0. We read both once
 * at boot and unregister the record: afterwards the TSC with the host's rate is the clock. */
#include "arch/x86_64/kvmclock.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/layout.h"

#define KVM_CPUID_SIGNATURE 0x40000000
#define KVM_CPUID_FEATURES 0x40000001
#define KVM_FEATURE_CLOCKSOURCE (1u << 0)
#define KVM_FEATURE_CLOCKSOURCE2 (1u << 3)
#define MSR_KVM_WALL_CLOCK 0x11
#define MSR_KVM_SYSTEM_TIME 0x12
#define MSR_KVM_WALL_CLOCK_NEW 0x4b564d00
#define MSR_KVM_SYSTEM_TIME_NEW 0x4b564d01

struct pvclock_time_info {
    volatile uint32_t version; /* odd while the host writes */
    uint32_t pad0;
    uint64_t tsc_timestamp;
    uint64_t system_time; /* ns */
    uint32_t tsc_to_system_mul;
    int8_t tsc_shift;
    uint8_t flags;
    uint8_t pad[2];
};
_Static_assert(sizeof(struct pvclock_time_info) == 32, "pvclock_vcpu_time_info");

struct pvclock_wall_clock {
    volatile uint32_t version;
    uint32_t sec, nsec;
};

static struct pvclock_time_info time_info __attribute__((aligned(64)));
static struct pvclock_wall_clock wall __attribute__((aligned(64)));

uint64_t kvmclock_mult;
uint32_t kvmclock_shift;
static int present;
static uint64_t ref_tsc;      /* a TSC value ... */
static uint64_t ref_realtime; /* ... and the host's real time then, in ns */

/* The kernel image is mapped at KERNEL_VBASE + physical address. */
static uint64_t image_phys(const void *p) { return (uint64_t)p - KERNEL_VBASE; }

static int kvm_features(uint32_t *features)
{
    uint32_t r[4];
    cpuid(KVM_CPUID_SIGNATURE, 0, r);
    /* "KVMKVMKVM\0\0\0" in ebx, ecx, edx */
    if (r[1] != 0x4b4d564b || r[2] != 0x564b4d56 || r[3] != 0x4d || r[0] < KVM_CPUID_FEATURES)
        return -1;
    cpuid(KVM_CPUID_FEATURES, 0, r);
    *features = r[0];
    return 0;
}

int kvmclock_init(void)
{
    uint32_t features;
    if (kvm_features(&features))
        return -1;
    uint32_t msr_time, msr_wall;
    if (features & KVM_FEATURE_CLOCKSOURCE2) {
        msr_time = MSR_KVM_SYSTEM_TIME_NEW;
        msr_wall = MSR_KVM_WALL_CLOCK_NEW;
    } else if (features & KVM_FEATURE_CLOCKSOURCE) {
        msr_time = MSR_KVM_SYSTEM_TIME;
        msr_wall = MSR_KVM_WALL_CLOCK;
    } else {
        return -1;
    }
    /* Registering fills the record before we run again; the wall clock is written at once. */
    wrmsr(msr_time, image_phys(&time_info) | 1);
    wrmsr(msr_wall, image_phys(&wall));
    /* Each record is consistent when its version is even and unchanged across the read; a host
     * that never settles one makes us fall back to the TSC and the RTC. */
    uint32_t v, tries = 0;
    struct pvclock_time_info ti;
    do {
        v = time_info.version;
        __asm__ volatile("" ::: "memory");
        ti = *(const struct pvclock_time_info *)&time_info;
        __asm__ volatile("" ::: "memory");
    } while (((v & 1) || v != time_info.version) && ++tries < 1000000);
    uint32_t wsec, wnsec;
    do {
        v = wall.version;
        __asm__ volatile("" ::: "memory");
        wsec = wall.sec;
        wnsec = wall.nsec;
        __asm__ volatile("" ::: "memory");
    } while (((v & 1) || v != wall.version) && ++tries < 2000000);
    wrmsr(msr_time, 0); /* the host stops writing into the kernel image */
    if (tries >= 1000000 || !ti.version || !wsec || !ti.tsc_to_system_mul || ti.tsc_shift > 31 ||
        ti.tsc_shift < -31)
        return -1;
    /* ns = (tsc << s) * mul >> 32 = tsc * mul >> (32 - s), for either sign of s */
    kvmclock_mult = ti.tsc_to_system_mul;
    kvmclock_shift = (uint32_t)(32 - ti.tsc_shift);
    ref_tsc = ti.tsc_timestamp;
    ref_realtime = (uint64_t)wsec * 1000000000ull + wnsec + ti.system_time;
    present = 1;
    return 0;
}

uint64_t kvmclock_realtime_at(uint64_t tsc)
{
    if (!present)
        return 0;
    if (tsc >= ref_tsc)
        return ref_realtime + (uint64_t)(((unsigned __int128)(tsc - ref_tsc) * kvmclock_mult) >>
                                         kvmclock_shift);
    return ref_realtime - (uint64_t)(((unsigned __int128)(ref_tsc - tsc) * kvmclock_mult) >>
                                     kvmclock_shift);
}
