/* Copying to and from program memory. A bad program pointer gives -EFAULT, never a kernel crash:
 * the copy routines live in arch/x86_64/entry.S and their faults are fixed up by the trap handler. */
#pragma once
#include <stdint.h>
#include "arch/x86_64/layout.h"

long uaccess_copy(void *dst, const void *src, uint64_t n);
long uaccess_strncpy(char *dst, const char *src, uint64_t n);
long uaccess_memset(void *dst, int c, uint64_t n);
long uaccess_cmpxchg32(uint32_t *dst, uint32_t old, uint32_t new_value);

static inline int user_range_ok(const void *p, uint64_t n)
{
    uint64_t a = (uint64_t)p;
    return a + n >= a && a + n <= USER_TOP;
}
/* 0, or -EFAULT. */
static inline long copy_from_user(void *dst, const void *usrc, uint64_t n)
{
    return user_range_ok(usrc, n) ? uaccess_copy(dst, usrc, n) : -14;
}
static inline long copy_to_user(void *udst, const void *src, uint64_t n)
{
    return user_range_ok(udst, n) ? uaccess_copy(udst, src, n) : -14;
}
static inline long clear_user(void *udst, uint64_t n)
{
    return user_range_ok(udst, n) ? uaccess_memset(udst, 0, n) : -14;
}
/* Atomically replaces the aligned program word at uaddr with new_value if it holds old; returns
 * the value it held (>= 0), or -EFAULT. */
static inline long cmpxchg_user32(uint32_t *uaddr, uint32_t old, uint32_t new_value)
{
    return user_range_ok(uaddr, 4) ? uaccess_cmpxchg32(uaddr, old, new_value) : -14;
}
/* Copies a NUL-terminated string of at most max-1 bytes; returns its length, -ENAMETOOLONG, or
 * -EFAULT. */
static inline long strncpy_from_user(char *dst, const char *usrc, uint64_t max)
{
    if ((uint64_t)usrc >= USER_TOP)
        return -14;
    uint64_t n = max;
    if ((uint64_t)usrc + n > USER_TOP)
        n = USER_TOP - (uint64_t)usrc;
    long len = uaccess_strncpy(dst, usrc, n);
    if (len < 0)
        return len;
    if ((uint64_t)len == n)
        return n == max ? -36 : -14;
    return len;
}
