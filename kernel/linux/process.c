/* Process and thread identity, exit, TLS (arch_prctl), resource limits and the robust-futex and
 * clear-tid registrations glibc makes at start-up. */
#include "arch/x86_64/io.h"
#include "core/panic.h"
#include "errno.h"
#include "linux/rlimit.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "loader/exec.h"
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

#define NR_OPEN 1048576 /* Linux's fs.nr_open: the highest RLIMIT_NOFILE */

uint64_t rlimit_cur(unsigned res)
{
    return res < RLIMIT_NLIMITS ? __atomic_load_n(&limits[res].cur, __ATOMIC_RELAXED) : ~0ull;
}

/* Sets limit `res` (we are root: hard limits may rise too); 0 or -EINVAL/-EPERM. */
static int set_limit(uint64_t res, const struct rlimit64 *n)
{
    if (n->cur > n->max)
        return -EINVAL;
    if (res == RLIMIT_NOFILE && n->max > NR_OPEN)
        return -EPERM;
    limits[res] = *n;
    return 0;
}

SYS(prlimit64)
{
    UNUSED_ARGS();
    /* pid 0, the process, or any of its threads (Linux accepts a thread id too) */
    if (a0 != 0 && a0 != 1 && (a0 > 0x7fffffff || !thread_find((int)a0)))
        return -ESRCH;
    if (a1 >= RLIMIT_NLIMITS)
        return -EINVAL;
    struct rlimit64 old = limits[a1];
    if (a2) {
        struct rlimit64 n;
        if (copy_from_user(&n, (const void *)a2, sizeof n))
            return -EFAULT;
        int rc = set_limit(a1, &n);
        if (rc)
            return rc;
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

SYS(setrlimit)
{
    UNUSED_ARGS();
    if (a0 >= RLIMIT_NLIMITS)
        return -EINVAL;
    struct rlimit64 n;
    if (copy_from_user(&n, (const void *)a1, sizeof n))
        return -EFAULT;
    return set_limit(a0, &n);
}

#define PR_SET_PDEATHSIG 1
#define PR_GET_PDEATHSIG 2
#define PR_GET_DUMPABLE 3
#define PR_SET_DUMPABLE 4
#define PR_GET_KEEPCAPS 7
#define PR_SET_KEEPCAPS 8
#define PR_SET_NAME 15
#define PR_GET_NAME 16
#define PR_GET_SECCOMP 21
#define PR_CAPBSET_READ 23
#define PR_GET_TIMERSLACK 30
#define PR_SET_TIMERSLACK 29
#define PR_SET_NO_NEW_PRIVS 38
#define PR_GET_NO_NEW_PRIVS 39
#define PR_SET_THP_DISABLE 41
#define PR_GET_THP_DISABLE 42
#define CAP_LAST_CAP 40

static struct {
    int pdeathsig, dumpable, keepcaps, no_new_privs, thp_disable;
    uint64_t timerslack_ns;
} pr = {0, 1, 0, 0, 0, 50000};

/* The thread's name: what PR_SET_NAME set, else the executable's base name (Linux's comm). */
static void thread_name(const struct thread *t, char name[16])
{
    if (t->comm[0]) {
        memcpy(name, t->comm, 16);
        return;
    }
    const char *p = exec_path();
    for (const char *q = p; *q; q++)
        if (*q == '/')
            p = q + 1;
    size_t n = 0;
    while (n < 15 && p[n]) {
        name[n] = p[n];
        n++;
    }
    memset(name + n, 0, 16 - n);
}

SYS(prctl)
{
    UNUSED_ARGS();
    switch (a0) {
    case PR_SET_NAME: {
        char name[16];
        long n = strncpy_from_user(name, (const char *)a1, sizeof name);
        if (n == -ENAMETOOLONG) { /* Linux keeps the first 15 bytes */
            if (copy_from_user(name, (const void *)a1, 15))
                return -EFAULT;
            n = 15;
        }
        if (n < 0)
            return -EFAULT;
        memset(name + n, 0, sizeof name - (size_t)n);
        memcpy(current()->comm, name, sizeof name);
        return 0;
    }
    case PR_GET_NAME: {
        char name[16];
        thread_name(current(), name);
        return copy_to_user((void *)a1, name, sizeof name) ? -EFAULT : 0;
    }
    case PR_SET_PDEATHSIG:
        if (a1 > 64)
            return -EINVAL;
        pr.pdeathsig = (int)a1;
        return 0;
    case PR_GET_PDEATHSIG:
        return copy_to_user((void *)a1, &pr.pdeathsig, sizeof pr.pdeathsig) ? -EFAULT : 0;
    case PR_GET_DUMPABLE:
        return pr.dumpable;
    case PR_SET_DUMPABLE:
        if (a1 > 1)
            return -EINVAL;
        pr.dumpable = (int)a1;
        return 0;
    case PR_GET_KEEPCAPS:
        return pr.keepcaps;
    case PR_SET_KEEPCAPS:
        if (a1 > 1)
            return -EINVAL;
        pr.keepcaps = (int)a1;
        return 0;
    case PR_GET_SECCOMP:
        return 0;
    case PR_CAPBSET_READ:
        return a1 <= CAP_LAST_CAP ? 1 : -EINVAL;
    case PR_GET_TIMERSLACK:
        return (long)pr.timerslack_ns;
    case PR_SET_TIMERSLACK:
        pr.timerslack_ns = a1 ? a1 : 50000;
        return 0;
    case PR_SET_NO_NEW_PRIVS:
        if (a1 != 1 || a2 || a3 || a4)
            return -EINVAL;
        pr.no_new_privs = 1;
        return 0;
    case PR_GET_NO_NEW_PRIVS:
        if (a1 || a2 || a3 || a4)
            return -EINVAL;
        return pr.no_new_privs;
    case PR_SET_THP_DISABLE:
        if (a2 || a3 || a4)
            return -EINVAL;
        pr.thp_disable = a1 != 0;
        return 0;
    case PR_GET_THP_DISABLE:
        if (a1 || a2 || a3 || a4)
            return -EINVAL;
        return pr.thp_disable;
    default: /* PR_SET_VMA (no anonymous VMA names), PR_SET_MM, ...: as a kernel without them */
        return -EINVAL;
    }
}

#define PER_QUERY 0xffffffffu

static uint32_t persona; /* PER_LINUX; kept, with flags such as ADDR_NO_RANDOMIZE, but unused */

SYS(personality)
{
    UNUSED_ARGS();
    uint32_t old = persona;
    if ((uint32_t)a0 != PER_QUERY)
        persona = (uint32_t)a0;
    return old;
}
