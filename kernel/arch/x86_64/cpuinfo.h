/* CPU features the kernel detected and enabled at boot (arch/x86_64/cpu.c). */
#pragma once
#include <stdint.h>

enum hypervisor { HV_NONE, HV_KVM, HV_TCG, HV_OTHER };

struct cpu_features {
    int xsave, fsgsbase;
    enum hypervisor hypervisor; /* from CPUID 0x40000000 */
    uint64_t xcr0;      /* the XSAVE state components enabled */
    uint32_t xsave_size; /* bytes needed to save that state */
};
extern struct cpu_features cpu_features;
