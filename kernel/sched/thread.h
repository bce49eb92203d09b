/* Threads of the program: each has a kernel stack, the saved user frame of its current entry,
 * its TLS base and its thread id. */
#pragma once
#include <stdint.h>
#include "arch/x86_64/percpu.h"

struct regs;

#define KSTACK_SIZE 16384

struct thread {
    int tid;
    uint64_t kstack;         /* base of the kernel stack (KSTACK_SIZE bytes) */
    struct regs *frame;      /* the user frame of the syscall or trap being handled */
    uint64_t fs_base;
    uint64_t clear_child_tid; /* set_tid_address */
    uint64_t robust_list, robust_len;
};

static inline struct thread *current(void) { return percpu()->current; }

/* Creates the first thread (tid 1) and makes it current; its kernel stack becomes the one
 * syscalls and traps from the program run on. */
struct thread *thread_create_main(void);
