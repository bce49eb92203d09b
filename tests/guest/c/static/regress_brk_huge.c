/* Regression (found by sysfuzz, seeds 100 and 103): brk with an address beyond the user half. Linux
 * leaves the break where it is and returns it; our kernel rounded -1 up to 0 and unmapped everything
 * below the heap, the program's own code included. */
#include <stdint.h>
#include <sys/syscall.h>

#include "../check.h"

int main(void)
{
    long cur = syscall(SYS_brk, 0);
    CHECK("brk(0) is the current break", cur > 0);
    CHECK("brk(-1) leaves the break", syscall(SYS_brk, -1L) == cur);
    CHECK("brk(2^47) leaves the break", syscall(SYS_brk, 0x0000800000000000L) == cur);
    CHECK("brk(kernel half) leaves the break", syscall(SYS_brk, 0xffff800000000000UL) == cur);
    CHECK("brk(2^63) leaves the break", syscall(SYS_brk, 0x8000000000000000UL) == cur);
    long up = syscall(SYS_brk, cur + 65536);
    CHECK("the break still grows", up == cur + 65536);
    *(volatile char *)(cur + 100) = 1;
    CHECK("and shrinks back", syscall(SYS_brk, cur) == cur);
    printf("still running: ok\n");
    return check_done();
}
