/* The <limits.h> lwIP includes: the integer limits of x86_64 (LP64). */
#pragma once
#define CHAR_BIT 8
#define INT_MAX 0x7fffffff
#define INT_MIN (-INT_MAX - 1)
#define UINT_MAX 0xffffffffu
#define LONG_MAX 0x7fffffffffffffffl
#define ULONG_MAX 0xfffffffffffffffful
#define SSIZE_MAX LONG_MAX
typedef long ssize_t;
