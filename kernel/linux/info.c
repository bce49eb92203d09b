/* System information syscalls: uname, sysinfo, getrandom. */
#include "core/random.h"
#include "arch/x86_64/tsc.h"
#include "errno.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"
#include "mm/palloc.h"

#define GRND_NONBLOCK 1
#define GRND_RANDOM 2
#define GRND_INSECURE 4

SYS(uname)
{
    UNUSED_ARGS();
    struct linux_utsname u;
    memset(&u, 0, sizeof u);
    memcpy(u.sysname, "Linux", 6);
    memcpy(u.nodename, "lwjvm", 6);
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
    uint64_t len = a1 > 0x1ffffff ? 0x1ffffff : a1;
    uint8_t buf[256];
    uint64_t done = 0;
    while (done < len) {
        uint64_t n = len - done < sizeof buf ? len - done : sizeof buf;
        random_bytes(buf, n);
        if (copy_to_user((char *)a0 + done, buf, n))
            return done ? (long)done : -EFAULT;
        done += n;
    }
    return (long)done;
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
    si.uptime = (int64_t)(tsc_ns_since_boot() / 1000000000ull);
    si.totalram = palloc_total_pages() * PAGE_SIZE;
    si.freeram = palloc_free_pages() * PAGE_SIZE;
    si.procs = 1;
    si.mem_unit = 1;
    return copy_to_user((void *)a0, &si, sizeof si) ? -EFAULT : 0;
}
