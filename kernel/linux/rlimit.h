/* The process's resource limits (getrlimit/setrlimit/prlimit64, linux/process.c), for the code
 * that enforces one. */
#pragma once
#include <stdint.h>

#define RLIMIT_SIGPENDING 11

/* The soft limit of resource `res` (RLIMIT_*), RLIM_INFINITY (~0) if unlimited or unknown. */
uint64_t rlimit_cur(unsigned res);
