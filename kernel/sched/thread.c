/* Thread objects (see sched/thread.h): creation for clone, the list of live threads, and exit
 * with CLONE_CHILD_CLEARTID semantics. */
#include "sched/thread.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/regs.h"
#include "core/panic.h"
#include "linux/futex.h"
#include "linux/uaccess.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "sched/sched.h"
#include "signal/signal.h"

extern char thread_trampoline[];
void sched_set_zombie(struct thread *t);

static struct thread *all_threads;
static int nthreads;
static int next_tid = 1;

struct thread *thread_first(void) { return all_threads; }
int thread_count(void) { return nthreads; }

struct thread *thread_find(int tid)
{
    for (struct thread *t = all_threads; t; t = t->all_next)
        if (t->tid == tid)
            return t;
    return 0;
}

static struct thread *thread_alloc(void)
{
    struct thread *t = kzalloc(sizeof *t);
    if (!t)
        return 0;
    t->kstack = (uint64_t)kmalloc(KSTACK_SIZE);
    t->fpu = fpu_alloc();
    if (!t->kstack || !t->fpu) {
        kfree((void *)t->kstack);
        fpu_free(t->fpu);
        kfree(t);
        return 0;
    }
    t->tid = next_tid++;
    t->all_next = all_threads;
    all_threads = t;
    nthreads++;
    return t;
}

struct thread *thread_create_main(void)
{
    struct thread *t = thread_alloc();
    KASSERT(t);
    percpu()->current = t;
    cpu_set_kernel_stack(t->kstack + KSTACK_SIZE);
    sched_init(t);
    return t;
}

struct thread *thread_create(const struct regs *frame)
{
    struct thread *t = thread_alloc();
    if (!t)
        return 0;
    struct regs *f = (struct regs *)(t->kstack + KSTACK_SIZE - sizeof *f);
    *f = *frame;
    uint64_t *sp = (uint64_t *)f;
    *--sp = (uint64_t)thread_trampoline;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    t->ksp = (uint64_t)sp;
    t->frame = f;
    /* The child starts with the parent's FPU state, as on Linux. */
    fpu_save(t->fpu);
    sched_make_runnable(t);
    return t;
}

void thread_exit(int code)
{
    struct thread *t = current();
    if (nthreads == 1)
        vm_exit(code);
    if (t->clear_child_tid) {
        uint32_t zero = 0;
        if (!copy_to_user((void *)t->clear_child_tid, &zero, sizeof zero))
            futex_wake_addr(t->clear_child_tid, 1);
    }
    signal_thread_exit(t);
    for (struct thread **pp = &all_threads; *pp; pp = &(*pp)->all_next) {
        if (*pp == t) {
            *pp = t->all_next;
            break;
        }
    }
    nthreads--;
    t->state = THREAD_DEAD;
    sched_set_zombie(t);
    schedule();
    panic("a dead thread ran again");
}
