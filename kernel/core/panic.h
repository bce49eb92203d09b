/* Stopping the VM: the program's exit, and kernel panics with registers and a symbolised
 * backtrace (docs/protocol.md, sections 4 and 5). */
#pragma once
#include <stdint.h>

struct regs;

/* Reports exit code `code` to the host and stops the VM. */
__attribute__((noreturn)) void vm_exit(int code);
/* Prints the message, a backtrace from the caller, the panic record, and stops the VM. */
__attribute__((noreturn, format(printf, 1, 2))) void panic(const char *fmt, ...);
/* Like panic(), when another CPU does not answer: that CPU is first sent an NMI and prints where
 * it is (its thread and system call, registers and backtrace: panic_nmi_report), waited for at
 * most 2 s, so the report says what kept it from answering. */
__attribute__((noreturn, format(printf, 2, 3))) void panic_stuck_cpu(unsigned cpu,
                                                                     const char *fmt, ...);
/* From the NMI handler: if panic_stuck_cpu asked this CPU, prints where it was and halts it for
 * good; else returns 0. */
int panic_nmi_report(const struct regs *r);
/* Like panic(), for a fatal exception: also prints the saved registers. */
__attribute__((noreturn)) void panic_regs(const struct regs *r, const char *what);
/* Prints the registers of a frame on the kernel log. */
void dump_regs(const struct regs *r);
/* Prints a frame-pointer backtrace starting at (rip, rbp), at most 32 frames. */
void backtrace(uint64_t rip, uint64_t rbp);
/* Finds the kernel function containing addr; returns its name and sets *off, or returns 0. */
const char *ksym_lookup(uint64_t addr, uint64_t *off);

#define KASSERT(c)                                                                          \
    do {                                                                                    \
        if (!(c))                                                                           \
            panic("assertion failed: %s (%s:%d)", #c, __FILE__, __LINE__);                  \
    } while (0)
