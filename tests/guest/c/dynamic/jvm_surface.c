/* What the JVM does at start-up that the other programs do not cover (from strace of
 * `java -version` on the host): flock on a /tmp file, a MAP_SHARED writable mapping of a /tmp file
 * (hsperfdata), fchdir, faccessat with AT_EACCESS (faccessat2), listing the directory the program
 * lives in, and glibc's nscd probe (a unix-socket connect that must fail cleanly). */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "../check.h"

int main(void)
{
    char dir[64], path[96];
    snprintf(dir, sizeof dir, "/tmp/lwjvm-jvm-%d", getpid());
    snprintf(path, sizeof path, "%s/%d", dir, getpid());
    REQUIRE(mkdir(dir, 0755) == 0);

    /* flock, as the JVM locks its hsperfdata file. */
    int a = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    int b = open(path, O_RDWR | O_CLOEXEC);
    REQUIRE(a >= 0 && b >= 0);
    CHECK_OK("flock LOCK_EX|LOCK_NB", flock(a, LOCK_EX | LOCK_NB));
    CHECK_ERRNO("a second open file cannot take it: EWOULDBLOCK", flock(b, LOCK_EX | LOCK_NB),
                EWOULDBLOCK);
    CHECK_OK("flock LOCK_UN", flock(a, LOCK_UN));
    CHECK_OK("then the second one can", flock(b, LOCK_EX | LOCK_NB));
    flock(b, LOCK_UN);
    CHECK_OK("two shared locks", flock(a, LOCK_SH | LOCK_NB) | flock(b, LOCK_SH | LOCK_NB));
    CHECK_ERRNO("flock with a bad operation is EINVAL", flock(a, 0), EINVAL);

    /* A shared writable mapping of a tmpfs file: stores are seen by read() and writes by loads. */
    CHECK_OK("ftruncate to 32 KiB", ftruncate(a, 32768));
    char *m = mmap(NULL, 32768, PROT_READ | PROT_WRITE, MAP_SHARED, a, 0);
    CHECK("MAP_SHARED writable mapping of a /tmp file", m != MAP_FAILED);
    if (m != MAP_FAILED) {
        CHECK("it starts zeroed", m[0] == 0 && m[32767] == 0);
        memcpy(m + 4096, "perf data", 9);
        char buf[16] = {0};
        CHECK_EQ("pread sees the mapping's stores", pread(b, buf, 9, 4096), 9);
        CHECK("same bytes", memcmp(buf, "perf data", 9) == 0);
        pwrite(b, "written", 7, 20000);
        CHECK("the mapping sees pwrite's bytes", memcmp(m + 20000, "written", 7) == 0);
        char *m2 = mmap(NULL, 8192, PROT_READ, MAP_SHARED, b, 4096);
        CHECK("a second shared mapping sees the same page",
              m2 != MAP_FAILED && memcmp(m2, "perf data", 9) == 0);
        CHECK_OK("msync", msync(m, 32768, MS_SYNC));
        munmap(m2, 8192);
        munmap(m, 32768);
    }
    close(a);
    close(b);

    /* fchdir and faccessat(AT_EACCESS). */
    int d = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    CHECK_OK("fchdir", fchdir(d));
    char cwd[PATH_MAX];
    CHECK("getcwd after fchdir", getcwd(cwd, sizeof cwd) && strcmp(cwd, dir) == 0);
    CHECK_OK("faccessat AT_EACCESS on a writable dir", faccessat(AT_FDCWD, ".", W_OK, AT_EACCESS));
    CHECK_ERRNO("faccessat of a missing file is ENOENT", faccessat(d, "nope", F_OK, AT_EACCESS),
                ENOENT);
    close(d);
    CHECK_OK("chdir /", chdir("/"));
    unlink(path);
    rmdir(dir);

    /* The directory holding this program lists it. */
    char exe[PATH_MAX] = {0};
    CHECK("readlink /proc/self/exe", readlink("/proc/self/exe", exe, sizeof exe - 1) > 0);
    DIR *dp = opendir(dirname(exe));
    CHECK("opendir of the program's directory", dp != NULL);
    int found = 0, entries = 0;
    for (struct dirent *e; dp && (e = readdir(dp));) {
        entries++;
        found |= strcmp(e->d_name, PROG_NAME) == 0 &&
                 (e->d_type == DT_REG || e->d_type == DT_UNKNOWN);
    }
    if (dp)
        closedir(dp);
    CHECK("readdir finds the program there", found);
    CHECK("and at least . and ..", entries >= 3);

    /* glibc's nscd probe: a unix-socket connect to a path that does not exist fails cleanly. */
    int s = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    int failed = s < 0;
    if (s >= 0) {
        struct sockaddr_un sa = {.sun_family = AF_UNIX};
        strcpy(sa.sun_path, "/nonexistent/lwjvm/socket");
        failed = connect(s, (struct sockaddr *)&sa, sizeof sa) < 0;
        close(s);
    }
    CHECK("a unix-socket connect to a missing path fails cleanly", failed);
    return check_done();
}
