/* The filesystems mounted beside the root and what crosses between them: /proc, /sys and /dev in
 * /proc/self/mountinfo, a distinct st_dev each, ".." out of a mount, EXDEV for rename and link
 * across mounts, statfs types, the /proc/self files that describe the process (stat, cmdline,
 * cwd, fd links, task), the /sys transparent-huge-page files, /dev/full. Prints only facts that
 * hold on any Linux. */
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../check.h"

#define PROC_SUPER_MAGIC 0x9fa0
#define SYSFS_MAGIC 0x62656572

/* True if mountinfo has a line mounting `fstype` at `point`. */
static int mounted(const char *info, const char *point, const char *fstype)
{
    char want_point[64], want_type[64];
    snprintf(want_point, sizeof want_point, " %s ", point);
    snprintf(want_type, sizeof want_type, " - %s ", fstype);
    for (const char *line = info; line && *line;) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        char copy[512];
        snprintf(copy, sizeof copy, "%.*s", (int)len, line);
        /* fields: id parent major:minor root mountpoint ... */
        char *p = copy;
        for (int field = 0; field < 4 && p; field++)
            p = strchr(p + 1, ' ');
        if (p && strncmp(p, want_point, strlen(want_point)) == 0 && strstr(copy, want_type))
            return 1;
        line = end ? end + 1 : NULL;
    }
    return 0;
}

static int dir_has(const char *path, const char *name)
{
    DIR *d = opendir(path);
    int found = 0;
    for (struct dirent *e; d && (e = readdir(d));)
        found |= strcmp(e->d_name, name) == 0;
    if (d)
        closedir(d);
    return found;
}

int main(int argc, char **argv)
{
    (void)argc;
    static char buf[1 << 16];
    CHECK("/proc/self/mountinfo reads", slurp("/proc/self/mountinfo", buf, sizeof buf) > 0);
    CHECK("mountinfo: proc at /proc", mounted(buf, "/proc", "proc"));
    CHECK("mountinfo: sysfs at /sys", mounted(buf, "/sys", "sysfs"));
    CHECK("mountinfo: /dev is mounted",
          mounted(buf, "/dev", "devtmpfs") || mounted(buf, "/dev", "tmpfs"));

    struct stat root, proc, sys, dev, up;
    stat("/", &root);
    stat("/proc", &proc);
    stat("/sys", &sys);
    stat("/dev", &dev);
    CHECK("/proc, /sys and /dev each have their own st_dev",
          proc.st_dev != root.st_dev && sys.st_dev != root.st_dev && dev.st_dev != root.st_dev &&
              proc.st_dev != sys.st_dev && proc.st_dev != dev.st_dev);
    CHECK_OK("stat /proc/..", stat("/proc/..", &up));
    CHECK("/proc/.. is /", up.st_ino == root.st_ino && up.st_dev == root.st_dev);
    CHECK_OK("stat /sys/kernel/../..", stat("/sys/kernel/../..", &up));
    CHECK("/sys/kernel/../.. is /", up.st_ino == root.st_ino && up.st_dev == root.st_dev);

    struct statfs sf;
    CHECK_OK("statfs /proc", statfs("/proc", &sf));
    CHECK_EQ("/proc is procfs", sf.f_type, PROC_SUPER_MAGIC);
    CHECK_OK("statfs /sys", statfs("/sys", &sf));
    CHECK_EQ("/sys is sysfs", sf.f_type, SYSFS_MAGIC);

    /* Crossing mounts. */
    char path[64];
    snprintf(path, sizeof path, "/tmp/lwjvm-mounts-%d", getpid());
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL, 0600);
    REQUIRE(fd >= 0);
    CHECK_ERRNO("rename from /tmp into /proc is EXDEV", rename(path, "/proc/lwjvm-x"), EXDEV);
    CHECK_ERRNO("link from /tmp into /dev is EXDEV", link(path, "/dev/lwjvm-x"), EXDEV);

    /* The descriptor links. */
    char link[PATH_MAX], want[PATH_MAX];
    snprintf(want, sizeof want, "/proc/self/fd/%d", fd);
    long n = readlink(want, link, sizeof link - 1);
    link[n < 0 ? 0 : n] = 0;
    CHECK("/proc/self/fd/N names the open file", strcmp(link, path) == 0);
    int p[2];
    REQUIRE(pipe(p) == 0);
    snprintf(want, sizeof want, "/proc/self/fd/%d", p[0]);
    n = readlink(want, link, sizeof link - 1);
    link[n < 0 ? 0 : n] = 0;
    CHECK("/proc/self/fd/N of a pipe is pipe:[...]", strncmp(link, "pipe:[", 6) == 0);
    snprintf(want, sizeof want, "%d", p[1]);
    CHECK("/proc/self/fd lists the pipe", dir_has("/proc/self/fd", want));
    close(p[0]);
    close(p[1]);
    close(fd);
    CHECK_OK("unlink", unlink(path));

    /* The process files. */
    CHECK_OK("chdir /sys/kernel", chdir("/sys/kernel"));
    n = readlink("/proc/self/cwd", link, sizeof link - 1);
    link[n < 0 ? 0 : n] = 0;
    CHECK("/proc/self/cwd follows chdir", strcmp(link, "/sys/kernel") == 0);
    CHECK_OK("chdir /", chdir("/"));
    snprintf(want, sizeof want, "%d", getpid());
    CHECK("/proc lists this process", dir_has("/proc", want));
    snprintf(want, sizeof want, "%ld", (long)syscall(SYS_gettid));
    CHECK("/proc/self/task lists this thread", dir_has("/proc/self/task", want));
    long len = slurp("/proc/self/cmdline", buf, sizeof buf);
    CHECK("/proc/self/cmdline is argv, NUL-separated",
          len == (long)strlen(argv[0]) + 1 + (long)strlen(argv[1]) + 1 &&
              strcmp(buf, argv[0]) == 0 && strcmp(buf + strlen(argv[0]) + 1, argv[1]) == 0);
    slurp("/proc/self/stat", buf, sizeof buf);
    char name[64], state = 0;
    int pid = 0;
    CHECK("/proc/self/stat starts with pid (comm) state",
          sscanf(buf, "%d (%63[^)]) %c", &pid, name, &state) == 3 && pid == getpid() &&
              strcmp(name, PROG_NAME) == 0 && state == 'R');
    double up_s = -1, idle_s = -1;
    slurp("/proc/uptime", buf, sizeof buf);
    CHECK("/proc/uptime has two numbers",
          sscanf(buf, "%lf %lf", &up_s, &idle_s) == 2 && up_s > 0 && idle_s >= 0);

    /* /sys: the huge-page settings a JVM reads. */
    slurp("/sys/kernel/mm/transparent_hugepage/enabled", buf, sizeof buf);
    CHECK("THP enabled shows the choice in brackets",
          strstr(buf, "[always]") || strstr(buf, "[madvise]") || strstr(buf, "[never]"));
    slurp("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size", buf, sizeof buf);
    CHECK_EQ("hpage_pmd_size is 2 MiB", strtol(buf, NULL, 10), 2 * 1024 * 1024);
    CHECK_ERRNO("no /sys/no-such-file", open("/sys/no-such-file", O_RDONLY), ENOENT);

    /* /dev/full. */
    int full = open("/dev/full", O_RDWR);
    CHECK_ERRNO("writing /dev/full is ENOSPC", write(full, "x", 1), ENOSPC);
    char z[8] = {1, 1, 1, 1, 1, 1, 1, 1};
    CHECK("/dev/full reads zeros", read(full, z, 8) == 8 && z[0] == 0 && z[7] == 0);
    close(full);
    return check_done();
}
