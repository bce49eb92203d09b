/* Regression (found by sysfuzz, seed 1, once epoll landed): read, write, pread, pwrite, readv and
 * writev on an epoll instance are EINVAL on Linux; the kernel called the epoll file's missing
 * write operation, a null pointer (a kernel panic). */
#include <sys/epoll.h>
#include <sys/uio.h>

#include "../check.h"

int main(void)
{
    int ep = epoll_create1(0);
    CHECK("epoll_create1", ep >= 0);
    char buf[16] = "x";
    struct iovec iov = {buf, sizeof buf};
    CHECK_ERRNO("read from an epoll fd", read(ep, buf, sizeof buf), EINVAL);
    CHECK_ERRNO("write to an epoll fd", write(ep, buf, 1), EINVAL);
    CHECK_ERRNO("readv from an epoll fd", readv(ep, &iov, 1), EINVAL);
    CHECK_ERRNO("writev to an epoll fd", writev(ep, &iov, 1), EINVAL);
    CHECK("pread from an epoll fd fails", pread(ep, buf, 1, 0) == -1);
    CHECK("pwrite to an epoll fd fails", pwrite(ep, buf, 1, 0) == -1);
    return check_done();
}
