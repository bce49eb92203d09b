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
/* Whether a page of an area both writable and executable (a JIT's code cache) is mapped either
 * writable or executable, never both at once: 1 under QEMU's TCG with more than one CPU, where a
 * vCPU translating guest code while another vCPU writes it can link a translation made of bytes
 * from before and after the write (QEMU 7.2 checks nothing between reading the bytes and linking
 * the translation; tests/guest/c/dynamic/smp_xmodify.c shows it on Linux guests too). HotSpot
 * patches the entry of a compiled method in place while other threads call it, and such a torn
 * translation crashed the JVM. Split, a write to an executable page faults and the page becomes
 * writable only once every other CPU has flushed it (a vCPU takes the shootdown interrupt between
 * translation blocks, so no translation of it is in progress), and executing a writable page
 * faults and makes it read-only first: code is never written while it is being translated. -1
 * until boot decides (main.c, after the CPUs start); lwjvm.wxsplit=0 or =1 decides instead. */
extern int mm_wx_split;
/* Whether pages of an area with these VM_ flags are split so (see mm_wx_split). */
int mm_wx_exclusive(uint32_t vm_flags);
/* Makes sure [start, end) is mapped and, if write is set, writable, as if touched. */
int mm_populate(uint64_t start, uint64_t end, int write);
