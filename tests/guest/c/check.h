/* Checks for the guest C corpus: each check prints one deterministic line ("name: ok" or
 * "name: FAIL ..."), so the host run and the guest run can be compared line by line and a mismatch
 * names the check. Failure details may contain host-dependent numbers; a passing run never does. */
#pragma once

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int check_failures;

/* Line-buffered stdout: a program that crashes in the guest still shows how far it got. */
__attribute__((constructor)) static void check_line_buffered_stdout(void)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Returns errno's symbolic name ("EFAULT"), or "E?<n>" for a value glibc does not know. */
static inline const char *errno_name(int e)
{
    static char unknown[32];
    const char *name = e == 0 ? "0" : strerrorname_np(e);
    if (name)
        return name;
    snprintf(unknown, sizeof unknown, "E?%d", e);
    return unknown;
}

/* Prints "name: ok" when ok is true, else "name: FAIL" with the printf-style detail; returns ok. */
__attribute__((format(printf, 3, 4))) static inline int check_detail(const char *name, int ok,
                                                                    const char *fmt, ...)
{
    if (ok) {
        printf("%s: ok\n", name);
        return 1;
    }
    check_failures++;
    printf("%s: FAIL (", name);
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf(")\n");
    fflush(stdout);
    return 0;
}

/* CHECK(name, cond): cond must hold; the failure line quotes the condition and errno as it is
 * after the condition ran (it may be stale when the condition made no failing call). */
#define CHECK(name, cond)                                                                          \
    ({                                                                                             \
        int check_ok_ = !!(cond);                                                                  \
        int check_errno_ = errno;                                                                  \
        check_detail((name), check_ok_, "%s at line %d, errno=%s", #cond, __LINE__,                \
                     errno_name(check_errno_));                                                    \
    })

/* CHECK_ERRNO(name, expr, err): expr must return -1 with errno == err. */
#define CHECK_ERRNO(name, expr, err)                                                               \
    ({                                                                                             \
        errno = 0;                                                                                 \
        long check_r_ = (long)(expr);                                                              \
        int check_e_ = errno;                                                                      \
        check_detail((name), check_r_ == -1 && check_e_ == (err),                                  \
                     "%s returned %ld errno=%s, want -1 %s at line %d", #expr, check_r_,           \
                     errno_name(check_e_), errno_name(err), __LINE__);                             \
    })

/* CHECK_OK(name, expr): expr must not return -1 (a syscall wrapper succeeded). Yields the result.
 */
#define CHECK_OK(name, expr)                                                                       \
    ({                                                                                             \
        errno = 0;                                                                                 \
        long check_r_ = (long)(expr);                                                              \
        int check_e_ = errno;                                                                      \
        check_detail((name), check_r_ != -1, "%s failed with %s at line %d", #expr,                \
                     errno_name(check_e_), __LINE__);                                              \
        check_r_;                                                                                  \
    })

/* CHECK_EQ(name, got, want): two integers must be equal; the failure line shows both. */
#define CHECK_EQ(name, got, want)                                                                  \
    ({                                                                                             \
        long long check_g_ = (long long)(got), check_w_ = (long long)(want);                       \
        check_detail((name), check_g_ == check_w_, "%s = %lld, want %lld at line %d", #got,        \
                     check_g_, check_w_, __LINE__);                                                \
    })

/* Stops the program if a set-up step failed: later checks would only be noise. */
#define REQUIRE(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            printf("REQUIRE failed: %s at %s:%d, errno=%s\n", #cond, __FILE__, __LINE__,           \
                   errno_name(errno));                                                             \
            exit(2);                                                                               \
        }                                                                                          \
    } while (0)

/* Starts a thread or stops the program: a test that cannot make its threads cannot go on. */
static inline void start_thread(pthread_t *t, const pthread_attr_t *attr, void *(*fn)(void *),
                                void *arg)
{
    int e = pthread_create(t, attr, fn, arg);
    if (e) {
        printf("REQUIRE failed: pthread_create: %s\n", errno_name(e));
        exit(2);
    }
}

/* Joins a thread, or stops the program if it has not finished within `seconds`. */
static inline void *join_thread(pthread_t t, int seconds)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += seconds;
    void *ret = NULL;
    int e = pthread_timedjoin_np(t, &ret, &deadline);
    if (e) {
        printf("REQUIRE failed: a thread did not finish within %d s: %s\n", seconds, errno_name(e));
        exit(2);
    }
    return ret;
}

/* Returns v as a pointer the compiler cannot reason about (for deliberately bad pointers). */
static inline void *opaque_ptr(unsigned long v)
{
    __asm__("" : "+r"(v));
    return (void *)v;
}

/* Prints the summary line and returns the exit code: 0 when every check passed, else 1. */
/* Reads a whole small file into buf (NUL-terminated); returns its length or -1. */
static inline long slurp(const char *path, char *buf, size_t n)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    size_t len = 0;
    long r;
    while (len < n - 1 && (r = read(fd, buf + len, n - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = 0;
    return (long)len;
}

static inline int check_done(void)
{
    if (check_failures)
        printf("FAILED: %d check(s)\n", check_failures);
    else
        printf("all checks passed\n");
    return check_failures ? 1 : 0;
}
