/* Process and thread identity, exit, TLS (arch_prctl), resource limits and the robust-futex and
 * clear-tid registrations glibc makes at start-up. */
#include "arch/x86_64/io.h"
#include "core/panic.h"
#include "errno.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "sched/thread.h"

#define RLIMIT_STACK 3
#define RLIMIT_NOFILE 7
#define RLIMIT_NLIMITS 16
#define RLIM_INFINITY (~0ull)

SYS(exit_group) { UNUSED_ARGS(); vm_exit((int)a0); }
/* The last thread's exit is the process's exit. */
SYS(exit) { UNUSED_ARGS(); thread_exit((int)a0); }

SYS(getpid) { UNUSED_ARGS(); return 1; }
SYS(getppid) { UNUSED_ARGS(); return 0; }
SYS(gettid) { UNUSED_ARGS(); return current()->tid; }
SYS(getuid) { UNUSED_ARGS(); return 0; }
SYS(geteuid) { UNUSED_ARGS(); return 0; }
SYS(getgid) { UNUSED_ARGS(); return 0; }
SYS(getegid) { UNUSED_ARGS(); return 0; }

SYS(set_tid_address)
{
    UNUSED_ARGS();
    current()->clear_child_tid = a0;
    return current()->tid;
}

SYS(set_robust_list)
{
    UNUSED_ARGS();
    if (a1 != 24) /* sizeof(struct robust_list_head) */
        return -EINVAL;
    current()->robust_list = a0;
    current()->robust_len = a1;
    return 0;
}

SYS(arch_prctl)
{
    UNUSED_ARGS();
    switch (a0) {
    case ARCH_SET_FS:
        if (a1 >= USER_TOP)
            return -EPERM;
        current()->fs_base = a1;
        wrmsr(MSR_FS_BASE, a1);
        return 0;
    case ARCH_GET_FS:
        return copy_to_user((void *)a1, &current()->fs_base, 8) ? -EFAULT : 0;
    case ARCH_SET_GS:
        if (a1 >= USER_TOP)
            return -EPERM;
        wrmsr(MSR_KERNEL_GS_BASE, a1); /* the user GS base while we are in the kernel */
        return 0;
    case ARCH_GET_GS: {
        uint64_t gs = rdmsr(MSR_KERNEL_GS_BASE);
        return copy_to_user((void *)a1, &gs, 8) ? -EFAULT : 0;
    }
    case ARCH_GET_CPUID:
        return 1;
    case ARCH_SET_CPUID:
        return a1 ? 0 : -ENODEV;
    default:
        return -EINVAL;
    }
}

struct rlimit64 {
    uint64_t cur, max;
};

/* Linux's defaults for a root process (RLIMIT_CPU .. RLIMIT_RTTIME, in order). */
static struct rlimit64 limits[RLIMIT_NLIMITS] = {
    {RLIM_INFINITY, RLIM_INFINITY}, {RLIM_INFINITY, RLIM_INFINITY}, {RLIM_INFINITY, RLIM_INFINITY},
    {8ull << 20, RLIM_INFINITY},    {0, RLIM_INFINITY},             {RLIM_INFINITY, RLIM_INFINITY},
    {63382, 63382},                 {1024, 1048576},                {8ull << 20, 8ull << 20},
    {RLIM_INFINITY, RLIM_INFINITY}, {RLIM_INFINITY, RLIM_INFINITY}, {63382, 63382},
    {819200, 819200},               {0, 0},                         {0, 0},
    {RLIM_INFINITY, RLIM_INFINITY},
};

SYS(prlimit64)
{
    UNUSED_ARGS();
    if (a0 != 0 && a0 != 1)
        return -ESRCH;
    if (a1 >= RLIMIT_NLIMITS)
        return -EINVAL;
    struct rlimit64 old = limits[a1];
    if (a2) {
        struct rlimit64 n;
        if (copy_from_user(&n, (const void *)a2, sizeof n))
            return -EFAULT;
        if (n.cur > n.max)
            return -EINVAL;
        limits[a1] = n;
    }
    if (a3 && copy_to_user((void *)a3, &old, sizeof old))
        return -EFAULT;
    return 0;
}

SYS(getrlimit)
{
    UNUSED_ARGS();
    if (a0 >= RLIMIT_NLIMITS)
        return -EINVAL;
    return copy_to_user((void *)a1, &limits[a0], sizeof limits[a0]) ? -EFAULT : 0;
}
