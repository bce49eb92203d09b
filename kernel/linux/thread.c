/* Thread syscalls: clone (the flags glibc's pthread_create uses), sched_yield, and the refusal of
 * process creation. clone3 is left unimplemented (-ENOSYS) so glibc falls back to clone. fork,
 * vfork and process-creating clones (posix_spawn, system, ProcessBuilder) fail with -EPERM, Linux's
 * answer to a caller not permitted to create processes (a seccomp sandbox gives the same): the VM
 * runs one process. EPERM rather than RLIMIT_NPROC's EAGAIN because callers retry on EAGAIN (bash
 * sleeps and retries fork) and "Operation not permitted" says it will not change. The kernel log
 * names the call once, with its flags; the host turns that line into its cause line. */
#include "arch/x86_64/regs.h"
#include "errno.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "linux/uaccess.h"
#include "sched/sched.h"
#include "sched/thread.h"

#define CLONE_VM 0x00000100
#define CLONE_FS 0x00000200
#define CLONE_FILES 0x00000400
#define CLONE_SIGHAND 0x00000800
#define CLONE_PIDFD 0x00001000
#define CLONE_VFORK 0x00004000
#define CLONE_THREAD 0x00010000
#define CLONE_SYSVSEM 0x00040000
#define CLONE_SETTLS 0x00080000
#define CLONE_PARENT_SETTID 0x00100000
#define CLONE_CHILD_CLEARTID 0x00200000
#define CLONE_DETACHED 0x00400000
#define CLONE_CHILD_SETTID 0x01000000

#define THREAD_FLAGS (CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD)
#define KNOWN_FLAGS (THREAD_FLAGS | CLONE_SYSVSEM | CLONE_SETTLS | CLONE_PARENT_SETTID | \
                     CLONE_CHILD_CLEARTID | CLONE_DETACHED | CLONE_CHILD_SETTID)

/* Logs the first refused process creation (the host's cause line reads it) and returns -EPERM. */
static long refuse_process(const char *call, int has_flags, uint64_t flags)
{
    static int told;
    char detail[40] = "";
    if (has_flags)
        snprintf(detail, sizeof detail, " (flags 0x%lx)", flags);
    if (!told++)
        kprintf("lwjvm: process creation refused: %s%s: -EPERM (a lwjvm VM runs one process)\n",
                call, detail);
    return -EPERM;
}

SYS(fork)
{
    UNUSED_ARGS();
    return refuse_process("fork", 0, 0);
}

SYS(vfork)
{
    UNUSED_ARGS();
    return refuse_process("vfork", 0, 0);
}

SYS(clone)
{
    UNUSED_ARGS();
    uint64_t flags = a0, newsp = a1, ptid = a2, ctid = a3, tls = a4;
    if ((flags & THREAD_FLAGS) != THREAD_FLAGS || (flags & ~(uint64_t)KNOWN_FLAGS & ~0xffull))
        return refuse_process("clone", 1, flags);
    if ((flags & CLONE_SETTLS) && tls >= USER_TOP)
        return -EPERM;
    struct thread *parent = current();
    if ((uint64_t)thread_count() >= thread_max())
        return -EAGAIN;
    struct regs child = *parent->frame;
    child.rax = 0;
    if (newsp)
        child.rsp = newsp;
    struct thread *t = thread_create(&child);
    if (!t)
        return -EAGAIN;
    t->fs_base = (flags & CLONE_SETTLS) ? tls : parent->fs_base;
    t->user_gs_base = parent->user_gs_base;
    t->sig.mask = parent->sig.mask;
    memcpy(t->comm, parent->comm, sizeof t->comm); /* as Linux: a new thread inherits the name */
    t->sig.altstack_flags = SS_DISABLE;
    if (flags & CLONE_CHILD_CLEARTID)
        t->clear_child_tid = ctid;
    uint32_t tid = (uint32_t)t->tid;
    /* The tid is stored before the child may run, as Linux does: glibc passes the same word for
     * PARENT_SETTID and CHILD_CLEARTID (pthread's tid, what pthread_join waits on), and a child
     * started first could exit on another CPU, clearing the word, before the parent's store put
     * its tid back: the join then waited forever (threads_many on 2 CPUs, 2 runs in 150). */
    int fault = (flags & CLONE_PARENT_SETTID) && copy_to_user((void *)ptid, &tid, sizeof tid);
    fault |= (flags & CLONE_CHILD_SETTID) && copy_to_user((void *)ctid, &tid, sizeof tid);
    thread_start(t); /* set up: now it may run (on another CPU at once) */
    return fault ? -EFAULT : (long)tid;
}

SYS(sched_yield)
{
    UNUSED_ARGS();
    sched_yield_current();
    return 0;
}
