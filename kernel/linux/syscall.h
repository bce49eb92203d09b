/* The syscall table: number -> name, handler and argument formats. The same table drives
 * dispatch, --trace-syscalls and the once-per-syscall -ENOSYS report. */
#pragma once
#include <stdint.h>

#define SYSCALL_MAX 512

typedef long (*syscall_fn)(uint64_t, uint64_t, uint64_t, uint64_t, uint64_t, uint64_t);

struct syscall_desc {
    syscall_fn fn;
    /* One letter per argument, for tracing: d signed, u unsigned, x hex, p pointer, s string,
     * f descriptor, o octal; then optionally '=' and the result's letter (default d). */
    const char *args;
};

extern const struct syscall_desc syscall_table[SYSCALL_MAX];
extern const char *const syscall_names[SYSCALL_MAX];
extern int syscall_trace;

/* Under lwjvm.stats=1, prints one `lwjvm: syscall stats:` line per syscall called: calls, errors,
 * CPU and wall microseconds. */
void syscall_stats_report(void);

#define SYS(name) long sys_##name(uint64_t a0, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4, uint64_t a5)
#define UNUSED_ARGS(...) (void)a0, (void)a1, (void)a2, (void)a3, (void)a4, (void)a5
