/* /init of the Linux guest the corpus is compared with (tests/corpus/linux_guest.py): mounts what
 * lwjvm's kernel provides (/proc, /sys, /dev; /tmp is the initramfs's own, writable), runs the program /linux-guest.args names (its
 * exec path, working directory, argv and environment, NUL-separated) and prints how long it ran
 * and its exit status on the console, then powers the VM off. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/reboot.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char *next(char **p, char *end)
{
    char *s = *p;
    if (s >= end)
        return 0;
    *p += strlen(s) + 1;
    return s;
}

int main(void)
{
    mount("proc", "/proc", "proc", 0, 0);
    mount("sysfs", "/sys", "sysfs", 0, 0);
    mount("devtmpfs", "/dev", "devtmpfs", 0, 0);
    static char buf[1 << 20];
    int fd = open("/linux-guest.args", O_RDONLY);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf) : -1;
    if (n <= 0) {
        printf("linux-guest: no /linux-guest.args\n");
        reboot(RB_POWER_OFF);
    }
    char *p = buf, *end = buf + n;
    char *exe = next(&p, end), *cwd = next(&p, end);
    int argc = atoi(next(&p, end));
    char **argv = calloc((size_t)argc + 1, sizeof *argv);
    for (int i = 0; i < argc; i++)
        argv[i] = next(&p, end);
    int envc = atoi(next(&p, end));
    char **envp = calloc((size_t)envc + 1, sizeof *envp);
    for (int i = 0; i < envc; i++)
        envp[i] = next(&p, end);
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid == 0) {
        if (chdir(cwd) != 0)
            _exit(126);
        execve(exe, argv, envp);
        _exit(127);
    }
    int status = 0;
    waitpid(pid, &status, 0);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long long ns = (t1.tv_sec - t0.tv_sec) * 1000000000ll + (t1.tv_nsec - t0.tv_nsec);
    fflush(stdout);
    dprintf(2, "\nlinux-guest: program_ns=%lld status=%d\n", ns, status);
    sync();
    reboot(RB_POWER_OFF);
    return 0;
}
