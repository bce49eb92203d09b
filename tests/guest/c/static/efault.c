/* Bad user pointers passed to the kernel come back as -1/EFAULT and never crash the program or
 * leak kernel memory: a low address, an address in the kernel half, a non-canonical address. */
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../check.h"

static void report(const char *what, long r, int e)
{
    printf("%s = %ld %s\n", what, r, r == -1 ? errno_name(e) : "");
}

int main(void)
{
    setvbuf(stdout, NULL, _IONBF, 0); /* our own lines must not sit in a buffer across the calls */
    long r;

    errno = 0;
    r = write(1, opaque_ptr(1), 10);
    report("write(1, 0x1, 10)", r, errno);
    CHECK_ERRNO("write from a low bad pointer is EFAULT", write(1, opaque_ptr(1), 10), EFAULT);
    CHECK_ERRNO("write from a kernel-half pointer is EFAULT",
                write(1, opaque_ptr(0xffffffff80000000UL), 16), EFAULT);
    CHECK_ERRNO("write from the top of the kernel half is EFAULT",
                write(1, opaque_ptr(0xfffffffffffff000UL), 16), EFAULT);
    CHECK_ERRNO("write from a non-canonical pointer is EFAULT",
                write(1, opaque_ptr(0x0000800000000000UL), 16), EFAULT);
    CHECK_EQ("write of 0 bytes from a bad pointer returns 0", write(1, opaque_ptr(1), 0), 0);

    CHECK_ERRNO("openat with a bad path pointer is EFAULT",
                syscall(SYS_openat, -100, opaque_ptr(16), 0, 0), EFAULT);
    CHECK_ERRNO("uname into a bad pointer is EFAULT", syscall(SYS_uname, opaque_ptr(8)), EFAULT);
    CHECK_ERRNO("uname into a kernel pointer is EFAULT",
                syscall(SYS_uname, opaque_ptr(0xffffffff80000000UL)), EFAULT);
    CHECK_ERRNO("writev with a bad iovec array is EFAULT", syscall(SYS_writev, 1, opaque_ptr(8), 1),
                EFAULT);
    char ok[] = "partial\n";
    struct {
        void *base;
        size_t len;
    } iov[2] = {{ok, 0}, {opaque_ptr(1), 4}};
    CHECK_ERRNO("writev with a bad buffer is EFAULT", syscall(SYS_writev, 1, iov, 2), EFAULT);

    printf("still running after bad pointers\n");
    return check_done();
}
