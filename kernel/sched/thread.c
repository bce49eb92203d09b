/* Thread objects (see sched/thread.h). Only the main thread exists so far. */
#include "sched/thread.h"
#include "core/panic.h"
#include "mm/kheap.h"

struct thread *thread_create_main(void)
{
    struct thread *t = kzalloc(sizeof *t);
    KASSERT(t);
    t->kstack = (uint64_t)kmalloc(KSTACK_SIZE);
    KASSERT(t->kstack);
    t->tid = 1;
    percpu()->current = t;
    cpu_set_kernel_stack(t->kstack + KSTACK_SIZE);
    return t;
}
