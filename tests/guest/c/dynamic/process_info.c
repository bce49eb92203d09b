/* Process facts, reduced to what holds on any Linux: ids, resource limits (a sane stack limit),
 * sysinfo, getrusage, uname, CPU affinity, getcpu, prctl names, the FS base that is the thread
 * pointer, and the vDSO: present in the auxiliary vector and exporting the four functions glibc
 * looks up. */
#include <elf.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../check.h"

#ifndef ARCH_GET_FS
#define ARCH_GET_FS 0x1003
#endif

/* Whether the vDSO defines `name` in its dynamic symbol table (found through its PT_DYNAMIC). */
static int vdso_has(const char *name)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
    if (!eh)
        return 0;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
    uintptr_t load_bias = 0;
    const Elf64_Dyn *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
            load_bias = (uintptr_t)eh - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = (const Elf64_Dyn *)((const char *)eh + ph[i].p_offset);
    }
    if (!dyn)
        return 0;
    const Elf64_Sym *symtab = NULL;
    const char *strtab = NULL;
    const uint32_t *hash = NULL;
    for (; dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB)
            symtab = (const Elf64_Sym *)(dyn->d_un.d_ptr + load_bias);
        else if (dyn->d_tag == DT_STRTAB)
            strtab = (const char *)(dyn->d_un.d_ptr + load_bias);
        else if (dyn->d_tag == DT_HASH)
            hash = (const uint32_t *)(dyn->d_un.d_ptr + load_bias);
    }
    if (!symtab || !strtab)
        return 0;
    /* The symbol count: DT_HASH's nchain, else the size of the SHT_DYNSYM section. */
    size_t count = 0;
    if (hash) {
        count = hash[1];
    } else {
        const Elf64_Shdr *sh = (const Elf64_Shdr *)((const char *)eh + eh->e_shoff);
        for (int i = 0; eh->e_shoff && i < eh->e_shnum; i++)
            if (sh[i].sh_type == SHT_DYNSYM && sh[i].sh_entsize)
                count = sh[i].sh_size / sh[i].sh_entsize;
    }
    for (size_t i = 0; i < count; i++)
        if (symtab[i].st_name && strcmp(strtab + symtab[i].st_name, name) == 0 &&
            symtab[i].st_shndx != SHN_UNDEF)
            return 1;
    return 0;
}

static void *thread_fs(void *arg)
{
    (void)arg;
    unsigned long fs = 0;
    syscall(SYS_arch_prctl, ARCH_GET_FS, &fs);
    return (void *)(uintptr_t)(fs == (unsigned long)pthread_self() &&
                               syscall(SYS_gettid) != getpid());
}

int main(void)
{
    CHECK_EQ("main thread: gettid == getpid", syscall(SYS_gettid), getpid());
    CHECK("getppid >= 0", getppid() >= 0);
    CHECK("getuid == geteuid", getuid() == geteuid());
    CHECK("getgid == getegid", getgid() == getegid());

    struct rlimit rl;
    CHECK_OK("getrlimit STACK", getrlimit(RLIMIT_STACK, &rl));
    CHECK("stack limit is at least 1 MiB", rl.rlim_cur >= (1 << 20));
    CHECK("stack limit is page-aligned or unlimited",
          rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur % 4096 == 0);
    CHECK("stack soft limit <= hard limit", rl.rlim_cur <= rl.rlim_max);
    struct rlimit pl;
    CHECK_OK("prlimit STACK", prlimit(0, RLIMIT_STACK, NULL, &pl));
    CHECK("prlimit agrees with getrlimit",
          pl.rlim_cur == rl.rlim_cur && pl.rlim_max == rl.rlim_max);
    CHECK_OK("getrlimit NOFILE", getrlimit(RLIMIT_NOFILE, &rl));
    CHECK("at least 64 files may be open", rl.rlim_cur >= 64 && rl.rlim_cur <= rl.rlim_max);
    struct rlimit lower = {64, rl.rlim_max};
    CHECK_OK("setrlimit NOFILE lower", setrlimit(RLIMIT_NOFILE, &lower));
    getrlimit(RLIMIT_NOFILE, &pl);
    CHECK_EQ("the lower NOFILE limit reads back", pl.rlim_cur, 64);
    setrlimit(RLIMIT_NOFILE, &rl);
    CHECK_ERRNO("getrlimit of an unknown resource is EINVAL", getrlimit(99, &rl), EINVAL);

    struct sysinfo si;
    CHECK_OK("sysinfo", sysinfo(&si));
    CHECK("sysinfo: mem_unit >= 1", si.mem_unit >= 1);
    CHECK("sysinfo: totalram >= 16 MiB", (unsigned long long)si.totalram * si.mem_unit >= 16 << 20);
    CHECK("sysinfo: freeram <= totalram", si.freeram <= si.totalram);
    CHECK("sysinfo: at least one process", si.procs >= 1);
    CHECK("sysinfo: uptime >= 0", si.uptime >= 0);

    struct rusage ru;
    CHECK_OK("getrusage SELF", getrusage(RUSAGE_SELF, &ru));
    CHECK("getrusage: maxrss > 0", ru.ru_maxrss > 0);
    CHECK("getrusage: times are non-negative", ru.ru_utime.tv_sec >= 0 && ru.ru_stime.tv_sec >= 0);
    CHECK_OK("getrusage THREAD", getrusage(RUSAGE_THREAD, &ru));

    struct utsname u;
    uname(&u);
    CHECK("uname: Linux", strcmp(u.sysname, "Linux") == 0);
    CHECK("uname: release major >= 4", atoi(u.release) >= 4);

    cpu_set_t set;
    CHECK_OK("sched_getaffinity", sched_getaffinity(0, sizeof set, &set));
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK("affinity: between 1 and the online CPUs",
          CPU_COUNT(&set) >= 1 && CPU_COUNT(&set) <= online);
    int cpu = sched_getcpu();
    CHECK("sched_getcpu is an online CPU", cpu >= 0 && cpu < online);
    CHECK_OK("sched_yield", sched_yield());

    CHECK_OK("prctl PR_SET_NAME", prctl(PR_SET_NAME, "lwjvm-test", 0, 0, 0));
    char name[32] = {0};
    CHECK_OK("prctl PR_GET_NAME", prctl(PR_GET_NAME, name, 0, 0, 0));
    CHECK("the name reads back", strcmp(name, "lwjvm-test") == 0);
    char tname[16] = {0};
    pthread_getname_np(pthread_self(), tname, sizeof tname);
    CHECK("pthread_getname_np sees it", strcmp(tname, "lwjvm-test") == 0);

    unsigned long fs = 0;
    CHECK_OK("arch_prctl ARCH_GET_FS", syscall(SYS_arch_prctl, ARCH_GET_FS, &fs));
    CHECK("the FS base is the thread pointer", fs == (unsigned long)pthread_self());
    pthread_t t;
    void *ret;
    start_thread(&t, NULL, thread_fs, NULL);
    pthread_join(t, &ret);
    CHECK("a second thread has its own FS base", ret != NULL);

    const unsigned char *vdso = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
    CHECK("AT_SYSINFO_EHDR is set", vdso != NULL);
    CHECK("the vDSO is an ELF image", vdso && memcmp(vdso, ELFMAG, SELFMAG) == 0);
    CHECK("vDSO exports __vdso_clock_gettime", vdso_has("__vdso_clock_gettime"));
    CHECK("vDSO exports __vdso_gettimeofday", vdso_has("__vdso_gettimeofday"));
    CHECK("vDSO exports __vdso_time", vdso_has("__vdso_time"));
    CHECK("vDSO exports __vdso_getcpu", vdso_has("__vdso_getcpu"));
    CHECK_EQ("AT_PAGESZ", getauxval(AT_PAGESZ), 4096);
    CHECK_EQ("AT_CLKTCK", getauxval(AT_CLKTCK), 100);
    CHECK("AT_HWCAP is set", getauxval(AT_HWCAP) != 0);
    const char *platform = (const char *)getauxval(AT_PLATFORM);
    CHECK("AT_PLATFORM is x86_64", platform && strcmp(platform, "x86_64") == 0);
    CHECK("AT_BASE is set", getauxval(AT_BASE) != 0);
    return check_done();
}
