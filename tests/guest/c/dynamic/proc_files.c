/* The /proc and /sys files the JVM reads, reduced to facts true on any Linux: /proc/self/status,
 * /proc/self/exe, /proc/cpuinfo, /proc/meminfo, /proc/stat,
 * /sys/devices/system/cpu/{online,possible} agreeing with sysconf and with each other. */
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../check.h"

/* The number after "key:" in a "key:\tvalue" file, or -1. */
static long field(const char *text, const char *key)
{
    size_t k = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
        if (strncmp(p, key, k) == 0 && p[k] == ':')
            return strtol(p + k + 1, NULL, 10);
    return -1;
}

/* Counts the CPUs in a list like "0-3,5,7-8". */
static int count_cpus(const char *list)
{
    int n = 0;
    const char *p = list;
    while (*p >= '0' && *p <= '9') {
        char *end;
        long a = strtol(p, &end, 10), b = a;
        if (*end == '-')
            b = strtol(end + 1, &end, 10);
        n += (int)(b - a + 1);
        p = *end == ',' ? end + 1 : end;
    }
    return n;
}

static pthread_barrier_t gate;

static void *parked(void *arg)
{
    (void)arg;
    pthread_barrier_wait(&gate); /* started */
    pthread_barrier_wait(&gate); /* main has read the status */
    return NULL;
}

int main(void)
{
    static char buf[1 << 16];
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK("sysconf: at least one CPU online", online >= 1);

    CHECK("/proc/self/status reads", slurp("/proc/self/status", buf, sizeof buf) > 0);
    CHECK_EQ("status Pid is getpid", field(buf, "Pid"), getpid());
    CHECK_EQ("status Threads is 1", field(buf, "Threads"), 1);
    CHECK("status has a Name", strstr(buf, "Name:") == buf);
    CHECK("status has VmRSS", field(buf, "VmRSS") > 0);
    pthread_barrier_init(&gate, NULL, 2);
    pthread_t t;
    start_thread(&t, NULL, parked, NULL);
    pthread_barrier_wait(&gate);
    slurp("/proc/self/status", buf, sizeof buf);
    CHECK_EQ("status Threads is 2 with a second thread", field(buf, "Threads"), 2);
    pthread_barrier_wait(&gate);
    pthread_join(t, NULL);

    char exe[PATH_MAX] = {0};
    readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK("/proc/self/exe names this program", strstr(exe, "/" PROG_NAME) != NULL);
    CHECK_EQ("/proc/self/exe opens as the ELF file", slurp("/proc/self/exe", buf, 5), 4);
    CHECK("and starts with the ELF magic", memcmp(buf, "\177ELF", 4) == 0);

    CHECK("/proc/cpuinfo reads", slurp("/proc/cpuinfo", buf, sizeof buf) > 0);
    int processors = 0, sse2 = 0;
    for (const char *p = buf; (p = strstr(p, "processor")); p++)
        processors += p == buf || p[-1] == '\n';
    sse2 = strstr(buf, " sse2") != NULL;
    CHECK_EQ("cpuinfo: one processor entry per online CPU", processors, online);
    CHECK("cpuinfo: flags list sse2", sse2);
    CHECK("cpuinfo: has model name", strstr(buf, "model name") != NULL);

    CHECK("/proc/meminfo reads", slurp("/proc/meminfo", buf, sizeof buf) > 0);
    long total = field(buf, "MemTotal"), fr = field(buf, "MemFree"),
         avail = field(buf, "MemAvailable");
    CHECK("meminfo: MemTotal > 16 MiB", total > 16 * 1024);
    CHECK("meminfo: 0 <= MemFree <= MemTotal", fr >= 0 && fr <= total);
    CHECK("meminfo: 0 <= MemAvailable <= MemTotal", avail >= 0 && avail <= total);
    CHECK("meminfo: values in kB", strstr(buf, " kB\n") != NULL);

    CHECK("/proc/stat reads", slurp("/proc/stat", buf, sizeof buf) > 0);
    CHECK("/proc/stat starts with the cpu line", strncmp(buf, "cpu ", 4) == 0);
    CHECK("/proc/stat has a cpu0 line", strstr(buf, "\ncpu0 ") != NULL);

    CHECK("/sys/devices/system/cpu/online reads",
          slurp("/sys/devices/system/cpu/online", buf, sizeof buf) > 0);
    CHECK_EQ("online lists the online CPUs", count_cpus(buf), online);
    CHECK("/sys/devices/system/cpu/possible reads",
          slurp("/sys/devices/system/cpu/possible", buf, sizeof buf) > 0);
    CHECK("possible >= online", count_cpus(buf) >= online);
    CHECK_EQ("sysconf _SC_NPROCESSORS_CONF >= online", sysconf(_SC_NPROCESSORS_CONF) >= online, 1);

    CHECK_ERRNO("a missing /proc file is ENOENT", open("/proc/self/no-such-file", O_RDONLY),
                ENOENT);
    return check_done();
}
