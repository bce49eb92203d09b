/* Page faults on program addresses: demand-zero, file-backed and copy-on-write pages. */
#pragma once
#include <stdint.h>

#define FAULT_WRITE 2 /* the x86 page-fault error-code bits we use */
#define FAULT_USER 4
#define FAULT_FETCH 16

/* Resolves a fault at addr with x86 error code `err`: 0 when the page is now mapped, -EFAULT when
 * the address is not mapped (SIGSEGV, SEGV_MAPERR), -EACCES when the access is not allowed
 * (SEGV_ACCERR), -ERANGE for a file page wholly past the end of its file (SIGBUS, BUS_ADRERR),
 * -ENOMEM when no frame is left. */
int mm_fault(uint64_t addr, uint64_t err);
/* Whether large anonymous areas get 2 MiB pages: by default yes, except under QEMU's TCG;
 * lwjvm.hugepages=0 or =1 on the command line decides. */
extern int mm_hugepages;
/* Makes sure [start, end) is mapped and, if write is set, writable, as if touched. */
int mm_populate(uint64_t start, uint64_t end, int write);
