/* The register frame saved on the kernel stack by every entry from the program or an exception
 * (arch/x86_64/entry.S builds it; the layout here and there must agree). */
#pragma once
#include <stdint.h>

struct regs {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss; /* the hardware iret frame */
};
_Static_assert(sizeof(struct regs) == 22 * 8, "struct regs must match entry.S");

#define SEL_KCODE 0x08
#define SEL_KDATA 0x10
#define SEL_UDATA 0x1b /* 0x18 | RPL 3 */
#define SEL_UCODE 0x23 /* 0x20 | RPL 3 */
#define SEL_TSS 0x28

#define VECTOR_SYSCALL 0x100 /* not a hardware vector: marks frames built by syscall_entry */

static inline int regs_from_user(const struct regs *r) { return (r->cs & 3) == 3; }
