/* uname, getrandom, readlink("/proc/self/exe") and the auxiliary vector, reduced to facts that hold
 * on any Linux: the host run and the guest run print the same lines. */
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <sys/utsname.h>
#include <unistd.h>

#include "../check.h"

#ifndef PROG_NAME
#error "PROG_NAME (the binary's file name) must be defined by the build"
#endif

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && strcmp(s + n - m, suffix) == 0;
}

int main(void)
{
    struct utsname u;
    CHECK_OK("uname", uname(&u));
    CHECK("uname sysname is Linux", strcmp(u.sysname, "Linux") == 0);
    CHECK("uname machine is x86_64", strcmp(u.machine, "x86_64") == 0);
    CHECK("uname release looks like N.N", u.release[0] >= '1' && u.release[0] <= '9' &&
                                              strchr(u.release, '.') != NULL);
    CHECK("uname nodename is non-empty", u.nodename[0] != 0);

    unsigned char a[64], b[64];
    CHECK_EQ("getrandom 64 bytes", getrandom(a, sizeof a, 0), 64);
    CHECK_EQ("getrandom 64 more bytes, nonblocking", getrandom(b, sizeof b, GRND_NONBLOCK), 64);
    CHECK("two getrandom results differ", memcmp(a, b, sizeof a) != 0);
    CHECK_EQ("getrandom 0 bytes", getrandom(a, 0, 0), 0);
    CHECK_ERRNO("getrandom with unknown flags is EINVAL", getrandom(a, 8, 0x4000), EINVAL);

    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    CHECK("readlink /proc/self/exe", n > 0);
    if (n > 0) {
        exe[n] = 0;
        CHECK("exe path is absolute", exe[0] == '/');
        CHECK("exe path ends with /" PROG_NAME, ends_with(exe, "/" PROG_NAME));
        char small[4];
        CHECK_EQ("readlink truncates to the buffer size", readlink("/proc/self/exe", small, 4), 4);
        CHECK("truncated readlink is a prefix", memcmp(small, exe, 4) == 0);
    }
    CHECK_ERRNO("readlink of a missing path is ENOENT", readlink("/no/such/link", exe, 10), ENOENT);

    CHECK_EQ("AT_PAGESZ", getauxval(AT_PAGESZ), 4096);
    CHECK("AT_PHDR is set", getauxval(AT_PHDR) != 0);
    CHECK_EQ("AT_PHENT is 56", getauxval(AT_PHENT), 56);
    CHECK("AT_PHNUM is set", getauxval(AT_PHNUM) > 0);
    CHECK("AT_ENTRY is set", getauxval(AT_ENTRY) != 0);
    CHECK("AT_RANDOM is set", getauxval(AT_RANDOM) != 0);
    CHECK_EQ("AT_SECURE is 0", getauxval(AT_SECURE), 0);
    CHECK_EQ("AT_UID equals getuid", getauxval(AT_UID), getuid());
    CHECK_EQ("AT_EUID equals geteuid", getauxval(AT_EUID), geteuid());
    CHECK_EQ("AT_GID equals getgid", getauxval(AT_GID), getgid());
    const char *execfn = (const char *)getauxval(AT_EXECFN);
    CHECK("AT_EXECFN ends with " PROG_NAME, execfn && ends_with(execfn, PROG_NAME));
    CHECK("getpid is positive", getpid() > 0);
    CHECK_ERRNO("an unknown system call is ENOSYS", syscall(1000), ENOSYS);
    CHECK_ERRNO("it stays ENOSYS the second time", syscall(1000), ENOSYS);

    /* brk through malloc: a few small blocks and one large, all writable. */
    char *small = malloc(100), *large = malloc(300000);
    CHECK("malloc small and large", small && large);
    if (small && large) {
        memset(small, 1, 100);
        memset(large, 2, 300000);
        CHECK("malloc'd memory keeps its bytes", small[99] == 1 && large[299999] == 2);
    }
    free(small);
    free(large);
    void *cur = sbrk(0);
    CHECK("sbrk(0) is non-null", cur != (void *)-1 && cur != NULL);
    CHECK("sbrk grows by a page", sbrk(4096) == cur && sbrk(0) == (char *)cur + 4096);
    ((volatile char *)cur)[4095] = 1;
    return check_done();
}
