/* pipe and pipe2: two descriptors on the ends of a new pipe (fs/pipe.c). */
#include "errno.h"
#include "fs/pipe.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "linux_abi.h"

#define O_DIRECT 040000

static long do_pipe2(uint64_t ufds, uint64_t flags)
{
    if (flags & ~(uint64_t)(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
        return -EINVAL;
    struct file *rd, *wr;
    long rc = pipe_create((uint32_t)flags, &rd, &wr);
    if (rc)
        return rc;
    int cloexec = (flags & O_CLOEXEC) != 0;
    int fds[2] = {fd_install(rd, 0, cloexec), -1};
    if (fds[0] >= 0)
        fds[1] = fd_install(wr, 0, cloexec);
    if (fds[1] < 0) {
        if (fds[0] >= 0)
            fd_close(fds[0]);
        else
            file_put(rd);
        file_put(wr);
        return -EMFILE;
    }
    if (copy_to_user((void *)ufds, fds, sizeof fds)) {
        fd_close(fds[0]);
        fd_close(fds[1]);
        return -EFAULT;
    }
    return 0;
}

SYS(pipe2) { UNUSED_ARGS(); return do_pipe2(a0, a1); }
SYS(pipe) { UNUSED_ARGS(); return do_pipe2(a0, 0); }
