/* System information syscalls: uname, sysinfo, getrandom, and the CPU a thread runs on and may run
 * on (the CPUs the scheduler runs threads on: affinity masks, getcpu) and its scheduling priority. */
#include "core/random.h"
#include "arch/x86_64/tsc.h"
#include "errno.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "net/hostname.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/palloc.h"
#include "sched/sched.h"
#include "sched/thread.h"

#define GRND_NONBLOCK 1
#define GRND_RANDOM 2
#define GRND_INSECURE 4

SYS(uname)
{
    UNUSED_ARGS();
    struct linux_utsname u;
    memset(&u, 0, sizeof u);
    memcpy(u.sysname, "Linux", 6);
    const char *host = net_hostname(); /* boot.conf net.hostname, else "lwjvm" */
    memcpy(u.nodename, host, strnlen(host, sizeof u.nodename - 1));
    /* glibc and the JVM parse the release; report a kernel with the features we implement. */
    memcpy(u.release, "6.1.0-lwjvm", 12);
    memcpy(u.version, "#1 SMP lwjvm", 13);
    memcpy(u.machine, "x86_64", 7);
    memcpy(u.domainname, "(none)", 7);
    return copy_to_user((void *)a0, &u, sizeof u) ? -EFAULT : 0;
}

SYS(getrandom)
{
    UNUSED_ARGS();
    if (a2 & ~(uint64_t)(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE))
        return -EINVAL;
    if ((a2 & GRND_INSECURE) && (a2 & GRND_RANDOM))
        return -EINVAL;
    return random_to_user((void *)a0, a1 > 0x1ffffff ? 0x1ffffff : a1);
}

struct linux_sysinfo {
    int64_t uptime;
    uint64_t loads[3];
    uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs, pad;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    char reserved[4];
};
_Static_assert(sizeof(struct linux_sysinfo) == 112, "struct sysinfo");

SYS(sysinfo)
{
    UNUSED_ARGS();
    struct linux_sysinfo si;
    memset(&si, 0, sizeof si);
    uint64_t up = tsc_ns_since_boot();
    si.uptime = (int64_t)(up / 1000000000ull + (up % 1000000000ull != 0)); /* rounded up, as Linux */
    si.totalram = palloc_total_pages() * PAGE_SIZE;
    si.freeram = palloc_free_pages() * PAGE_SIZE;
    si.procs = (uint16_t)thread_count(); /* Linux counts threads */
    si.mem_unit = 1;
    return copy_to_user((void *)a0, &si, sizeof si) ? -EFAULT : 0;
}

/* A thread id of the program (0: the caller), or 0 if there is none. */
static struct thread *target(uint64_t pid)
{
    if (pid == 0)
        return current();
    if (pid > 0x7fffffff)
        return 0;
    return thread_find((int)pid);
}

#define CPUMASK_BYTES 8 /* Linux's cpumask_size() up to 64 CPUs: one unsigned long */

SYS(sched_getaffinity)
{
    UNUSED_ARGS();
    if (a1 < CPUMASK_BYTES || (a1 & (sizeof(uint64_t) - 1)))
        return -EINVAL;
    if (!target(a0))
        return -ESRCH;
    uint64_t mask = sched_get_affinity(target(a0));
    if (copy_to_user((void *)a2, &mask, sizeof mask))
        return -EFAULT;
    return CPUMASK_BYTES; /* the size of the mask written, as the raw syscall does */
}

SYS(sched_setaffinity)
{
    UNUSED_ARGS();
    struct thread *t = target(a0);
    if (!t)
        return -ESRCH;
    uint64_t mask = 0;
    if (copy_from_user(&mask, (const void *)a2, a1 < sizeof mask ? a1 : sizeof mask))
        return -EFAULT;
    /* Bits for CPUs that do not exist are ignored; a mask without any CPU there is -EINVAL. */
    return sched_set_affinity(t, mask);
}

SYS(getcpu)
{
    UNUSED_ARGS();
    uint32_t zero = 0, cpu = current()->cpu;
    if (a0 && copy_to_user((void *)a0, &cpu, sizeof cpu))
        return -EFAULT;
    if (a1 && copy_to_user((void *)a1, &zero, sizeof zero))
        return -EFAULT;
    return 0;
}

#define PRIO_PROCESS 0
#define PRIO_PGRP 1
#define PRIO_USER 2

/* One nice value for the program (the scheduler does not use it). */
static int nice_value;

static long prio_check(uint64_t which, uint64_t who)
{
    if (which > PRIO_USER)
        return -EINVAL;
    if (which == PRIO_PROCESS && !target(who))
        return -ESRCH;
    if (which == PRIO_PGRP && who != 0 && who != 1)
        return -ESRCH;
    if (which == PRIO_USER && who != 0) /* uid 0 is the only user */
        return -ESRCH;
    return 0;
}

SYS(getpriority)
{
    UNUSED_ARGS();
    long rc = prio_check(a0, a1);
    return rc ? rc : 20 - nice_value; /* the raw syscall returns 20 - nice; glibc converts */
}

SYS(setpriority)
{
    UNUSED_ARGS();
    long rc = prio_check(a0, a1);
    if (rc)
        return rc;
    int n = (int)a2;
    nice_value = n < -20 ? -20 : n > 19 ? 19 : n;
    return 0;
}
