/* The vDSO and the clocks behind it, and the process facts around CPU time: the vDSO image is an
 * ELF mapped as [vdso] (with [vvar] read-only), its __vdso_clock_gettime agrees with the syscall,
 * the CPU-time clocks (also another thread's, through pthread_getcpuclockid) measure running and
 * not sleeping, a signal interrupts nanosleep with the remaining time, and times, getrusage,
 * sched_{get,set}affinity, getcpu, get/setpriority, personality and prctl answer as Linux does.
 * Output is booleans only: the host is the oracle. */
#include <elf.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/times.h>
#include <sys/timex.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"
#include "../probe.h"

#define MS 1000000LL

static int64_t ts_ns(const struct timespec *ts) { return (int64_t)ts->tv_sec * 1000000000 + ts->tv_nsec; }

static int64_t clk(clockid_t c)
{
    struct timespec ts;
    clock_gettime(c, &ts);
    return ts_ns(&ts);
}

static int64_t sys_clk(clockid_t c)
{
    struct timespec ts;
    syscall(SYS_clock_gettime, c, &ts);
    return ts_ns(&ts);
}

/* The address of the vDSO's definition of `name` (LINUX_2.6 or unversioned), or NULL. */
static void *vdso_sym(const char *name)
{
    const Elf64_Ehdr *eh = (const Elf64_Ehdr *)getauxval(AT_SYSINFO_EHDR);
    if (!eh)
        return NULL;
    const Elf64_Phdr *ph = (const Elf64_Phdr *)((const char *)eh + eh->e_phoff);
    uintptr_t bias = 0;
    const Elf64_Dyn *dyn = NULL;
    for (int i = 0; i < eh->e_phnum; i++) {
        if (ph[i].p_type == PT_LOAD && ph[i].p_offset == 0)
            bias = (uintptr_t)eh - ph[i].p_vaddr;
        if (ph[i].p_type == PT_DYNAMIC)
            dyn = (const Elf64_Dyn *)(ph[i].p_vaddr + bias);
    }
    const Elf64_Sym *sym = NULL;
    const char *str = NULL;
    const uint32_t *hash = NULL;
    for (; dyn && dyn->d_tag != DT_NULL; dyn++) {
        if (dyn->d_tag == DT_SYMTAB)
            sym = (const Elf64_Sym *)(dyn->d_un.d_ptr + bias);
        if (dyn->d_tag == DT_STRTAB)
            str = (const char *)(dyn->d_un.d_ptr + bias);
        if (dyn->d_tag == DT_HASH)
            hash = (const uint32_t *)(dyn->d_un.d_ptr + bias);
    }
    if (!sym || !str || !hash)
        return NULL;
    for (uint32_t i = 0; i < hash[1]; i++)
        if (sym[i].st_shndx != SHN_UNDEF && strcmp(str + sym[i].st_name, name) == 0)
            return (void *)(sym[i].st_value + bias);
    return NULL;
}

/* Finds the /proc/self/maps line naming `tag`; fills its range and permissions. */
static int maps_find(const char *tag, uintptr_t *lo, uintptr_t *hi, char perms[5])
{
    FILE *f = fopen("/proc/self/maps", "r");
    if (!f)
        return 0;
    char line[512];
    int found = 0;
    while (!found && fgets(line, sizeof line, f)) {
        if (strstr(line, tag) && sscanf(line, "%lx-%lx %4s", lo, hi, perms) == 3)
            found = 1;
    }
    fclose(f);
    return found;
}

static volatile int stop_spin;
static void *spinner(void *arg)
{
    volatile uint64_t x = 1;
    int64_t t0 = clk(CLOCK_MONOTONIC);
    while (!stop_spin && clk(CLOCK_MONOTONIC) - t0 < 2000 * MS)
        x = x * 6364136223846793005ULL + 1;
    (void)arg;
    return NULL;
}

static void *sleeper(void *arg)
{
    struct timespec d = {0, 100 * MS};
    nanosleep(&d, NULL);
    *(int64_t *)arg = clk(CLOCK_THREAD_CPUTIME_ID);
    return NULL;
}

static void on_usr1(int sig) { (void)sig; }

struct kick {
    pthread_t target;
    int64_t delay_ms;
};
static void *kicker(void *arg)
{
    struct kick *k = arg;
    struct timespec d = {0, k->delay_ms * MS};
    nanosleep(&d, NULL);
    pthread_kill(k->target, SIGUSR1);
    return NULL;
}

int main(void)
{
    probe_init();

    /* The vDSO. */
    const unsigned char *vdso = (const unsigned char *)getauxval(AT_SYSINFO_EHDR);
    CHECK("vdso_present", vdso && memcmp(vdso, ELFMAG, SELFMAG) == 0);
    uintptr_t lo = 0, hi = 0;
    char perms[5] = "";
    CHECK("vdso_in_maps", maps_find("[vdso]", &lo, &hi, perms) && (uintptr_t)vdso == lo);
    CHECK("vdso_is_r_x", perms[0] == 'r' && perms[1] == '-' && perms[2] == 'x');
    CHECK("vdso_not_writable", probe_write((void *)vdso, 0) == SIGSEGV);
    CHECK("vvar_in_maps", maps_find("[vvar]", &lo, &hi, perms));
    CHECK("vvar_not_writable", perms[1] == '-' && probe_write((void *)lo, 0) == SIGSEGV);
    int (*vgettime)(clockid_t, struct timespec *) =
        (int (*)(clockid_t, struct timespec *))vdso_sym("__vdso_clock_gettime");
    CHECK("vdso_exports_clock_gettime", vgettime != NULL);
    int ordered = 1;
    for (int i = 0; vgettime && i < 1000; i++) {
        clockid_t c = i % 2 ? CLOCK_MONOTONIC : CLOCK_REALTIME;
        struct timespec v;
        int64_t a = sys_clk(c);
        vgettime(c, &v);
        int64_t b = sys_clk(c);
        ordered &= a <= ts_ns(&v) && ts_ns(&v) <= b;
    }
    CHECK("vdso_clock_between_syscalls", ordered);
    struct timespec v;
    CHECK("vdso_unknown_clock_is_einval", vgettime && vgettime(100, &v) == -EINVAL);
    CHECK("vdso_cputime_clock_works", vgettime && vgettime(CLOCK_PROCESS_CPUTIME_ID, &v) == 0);
    int64_t (*vtime)(int64_t *) = (int64_t (*)(int64_t *))vdso_sym("__vdso_time");
    CHECK("vdso_time_agrees", vtime && vtime(NULL) - clk(CLOCK_REALTIME) / 1000000000 <= 1);
    struct timeval tv;
    struct timezone tz;
    CHECK_OK("gettimeofday_with_tz", gettimeofday(&tv, &tz));
    int64_t tai = clk(CLOCK_TAI), rt = clk(CLOCK_REALTIME);
    CHECK("tai_near_realtime", tai - rt < 60000 * MS && rt - tai < 60000 * MS);
    struct timex tx;
    memset(&tx, 0, sizeof tx);
    int state = adjtimex(&tx);
    CHECK("adjtimex_reads", state >= 0 && tx.tick == 10000);
    CHECK("adjtimex_time_is_realtime", tx.time.tv_sec - clk(CLOCK_REALTIME) / 1000000000 <= 1 &&
                                           clk(CLOCK_REALTIME) / 1000000000 - tx.time.tv_sec <= 1);

    /* CPU-time clocks. */
    pthread_t spin, sleep_t;
    int64_t sleeper_cpu = -1;
    pthread_create(&spin, NULL, spinner, NULL);
    clockid_t spin_clock;
    CHECK_EQ("pthread_getcpuclockid", pthread_getcpuclockid(spin, &spin_clock), 0);
    struct timespec res;
    CHECK_OK("clock_getres_thread_clock", clock_getres(spin_clock, &res));
    struct timespec d = {0, 60 * MS};
    int64_t main_cpu0 = clk(CLOCK_THREAD_CPUTIME_ID);
    nanosleep(&d, NULL);
    int64_t main_cpu = clk(CLOCK_THREAD_CPUTIME_ID) - main_cpu0;
    struct timespec sc;
    CHECK_OK("clock_gettime_other_thread", clock_gettime(spin_clock, &sc));
    CHECK("other_thread_cpu_advances", ts_ns(&sc) > 0);
    CHECK("sleeping_costs_little_cpu", main_cpu < 30 * MS);
    stop_spin = 1;
    pthread_join(spin, NULL);
    pthread_create(&sleep_t, NULL, sleeper, &sleeper_cpu);
    pthread_join(sleep_t, NULL);
    CHECK("sleeping_thread_cpu_small", sleeper_cpu >= 0 && sleeper_cpu < 50 * MS);
    int64_t pcpu = clk(CLOCK_PROCESS_CPUTIME_ID);
    CHECK("process_cpu_covers_threads", pcpu >= ts_ns(&sc));
    CHECK("process_cpu_not_past_wall", pcpu <= clk(CLOCK_MONOTONIC));
    struct timespec past;
    CHECK_ERRNO("dead_thread_clock_is_einval", syscall(SYS_clock_gettime, spin_clock, &past),
                EINVAL);
    CHECK_EQ("clock_nanosleep_thread_cputime_einval",
             clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &d, NULL), EINVAL);
    CHECK_EQ("clock_nanosleep_raw_eopnotsupp", clock_nanosleep(CLOCK_MONOTONIC_RAW, 0, &d, NULL),
             EOPNOTSUPP);
    /* Sleeping on the process CPU clock ends once the other thread has burnt that much. */
    stop_spin = 0;
    pthread_create(&spin, NULL, spinner, NULL);
    struct timespec cpu_d = {0, 40 * MS};
    int64_t pc0 = clk(CLOCK_PROCESS_CPUTIME_ID);
    CHECK_EQ("clock_nanosleep_process_cputime", clock_nanosleep(CLOCK_PROCESS_CPUTIME_ID, 0, &cpu_d, NULL), 0);
    CHECK("process_cputime_sleep_lasted", clk(CLOCK_PROCESS_CPUTIME_ID) - pc0 >= 40 * MS);
    stop_spin = 1;
    pthread_join(spin, NULL);

    /* A signal interrupts nanosleep; the remaining time comes back. */
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1; /* no SA_RESTART: nanosleep is never restarted anyway */
    sigaction(SIGUSR1, &sa, NULL);
    struct kick k = {pthread_self(), 50};
    pthread_t kt;
    pthread_create(&kt, NULL, kicker, &k);
    struct timespec longsleep = {3, 0}, rem = {0, 0};
    errno = 0;
    int r = nanosleep(&longsleep, &rem);
    int e = errno;
    pthread_join(kt, NULL);
    CHECK("nanosleep_eintr", r == -1 && e == EINTR);
    CHECK("nanosleep_remaining", rem.tv_sec >= 1 && rem.tv_sec <= 3 && ts_ns(&rem) < 3000 * MS);
    pthread_create(&kt, NULL, kicker, &k);
    int64_t deadline = clk(CLOCK_MONOTONIC) + 3000 * MS;
    struct timespec abs = {deadline / 1000000000, deadline % 1000000000};
    int cr = clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, NULL);
    pthread_join(kt, NULL);
    CHECK_EQ("clock_nanosleep_abs_eintr", cr, EINTR);

    /* times and getrusage. */
    struct tms tm;
    clock_t now = times(&tm);
    CHECK("times_returns_ticks", now != (clock_t)-1);
    CHECK("times_cpu_sane", tm.tms_utime >= 0 && tm.tms_stime >= 0 && tm.tms_cutime == 0);
    struct rusage ru;
    CHECK_OK("getrusage_self", getrusage(RUSAGE_SELF, &ru));
    int64_t ru_ns = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
                    (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
    CHECK("getrusage_self_cpu_tracks_clock", ru_ns > 0 && ru_ns <= clk(CLOCK_PROCESS_CPUTIME_ID));
    CHECK("getrusage_maxrss", ru.ru_maxrss > 100);
    CHECK_OK("getrusage_children", getrusage(RUSAGE_CHILDREN, &ru));
    CHECK("getrusage_children_zero", ru.ru_utime.tv_sec == 0 && ru.ru_utime.tv_usec == 0);
    CHECK_ERRNO("getrusage_bad_who", syscall(SYS_getrusage, 5, &ru), EINVAL);

    /* Affinity and CPU. */
    unsigned char mask[128];
    memset(mask, 0, sizeof mask);
    long n = syscall(SYS_sched_getaffinity, 0, sizeof mask, mask);
    CHECK("getaffinity_raw_returns_size", n >= 8 && n % 8 == 0 && n <= (long)sizeof mask);
    CHECK("getaffinity_has_cpu", mask[0] != 0);
    CHECK_ERRNO("getaffinity_len_4", syscall(SYS_sched_getaffinity, 0, 4, mask), EINVAL);
    CHECK_ERRNO("getaffinity_len_9", syscall(SYS_sched_getaffinity, 0, 9, mask), EINVAL);
    CHECK_ERRNO("getaffinity_no_such_pid", syscall(SYS_sched_getaffinity, 0x3fffffff, sizeof mask, mask),
                ESRCH);
    cpu_set_t set;
    sched_getaffinity(0, sizeof set, &set);
    CHECK_OK("setaffinity_same", sched_setaffinity(0, sizeof set, &set));
    cpu_set_t none;
    CPU_ZERO(&none);
    CHECK_ERRNO("setaffinity_empty", sched_setaffinity(0, sizeof none, &none), EINVAL);
    unsigned cpu = 99, node = 99;
    CHECK_OK("getcpu_syscall", syscall(SYS_getcpu, &cpu, &node, NULL));
    CHECK("getcpu_in_affinity", cpu < CPU_SETSIZE && CPU_ISSET(cpu, &set));

    /* Priority, personality, prctl. */
    errno = 0;
    int prio = getpriority(PRIO_PROCESS, 0);
    CHECK("getpriority_nice_0", prio == 0 && errno == 0);
    CHECK_OK("setpriority_5", setpriority(PRIO_PROCESS, 0, 5));
    errno = 0;
    CHECK("getpriority_reads_5", getpriority(PRIO_PROCESS, 0) == 5 && errno == 0);
    CHECK_ERRNO("getpriority_bad_which", getpriority(7, 0), EINVAL);
    CHECK("personality_query_linux", (personality(0xffffffff) & 0xff) == PER_LINUX);
    CHECK("dumpable_default", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
    char name[16] = "";
    prctl(PR_GET_NAME, name, 0, 0, 0);
    char want[16] = "";
    snprintf(want, sizeof want, "%s", PROG_NAME);
    CHECK("default_name_is_program", strcmp(name, want) == 0);
    CHECK_OK("set_long_name", prctl(PR_SET_NAME, "a-very-long-thread-name", 0, 0, 0));
    prctl(PR_GET_NAME, name, 0, 0, 0);
    CHECK("long_name_truncated_to_15", strcmp(name, "a-very-long-thr") == 0);
    CHECK_ERRNO("prctl_unknown_option", prctl(0x7fff0000, 0, 0, 0, 0), EINVAL);

    struct sysinfo si;
    sysinfo(&si);
    CHECK("sysinfo_uptime_positive", si.uptime >= 1);
    return check_done();
}
