/* Thread objects (see sched/thread.h): creation for clone, the list of live threads, and exit
 * with CLONE_CHILD_CLEARTID semantics. */
#include "sched/thread.h"
#include "arch/x86_64/fpu.h"
#include "arch/x86_64/regs.h"
#include "core/panic.h"
#include "fs/vfs.h"
#include "linux/futex.h"
#include "linux/uaccess.h"
#include "lib/spinlock.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "sched/sched.h"
#include "signal/signal.h"

extern char thread_trampoline[];
void sched_thread_init(struct thread *t);

/* Guards the list of live threads (all_threads and each all_next), nthreads and next_tid. */
static struct spinlock threads_lock = SPINLOCK_INIT("threads");
static struct thread *all_threads;
static int nthreads;
static int next_tid = 1;

struct thread *thread_first(void) { return all_threads; }
int thread_count(void) { return __atomic_load_n(&nthreads, __ATOMIC_RELAXED); }

uint64_t thread_max(void)
{
    uint64_t n = palloc_total_pages() / (8 * KSTACK_SIZE / 4096);
    return n < 20 ? 20 : n;
}

struct thread *thread_find(int tid)
{
    struct thread *found = 0;
    uint64_t fl = spin_lock_irqsave(&threads_lock);
    for (struct thread *t = all_threads; t; t = t->all_next)
        if (t->tid == tid) {
            found = t;
            break;
        }
    spin_unlock_irqrestore(&threads_lock, fl);
    return found;
}

int thread_each(int (*fn)(struct thread *t, void *arg), void *arg)
{
    int rc = 0;
    uint64_t fl = spin_lock_irqsave(&threads_lock);
    for (struct thread *t = all_threads; t && !rc; t = t->all_next)
        rc = fn(t, arg);
    spin_unlock_irqrestore(&threads_lock, fl);
    return rc;
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
    sched_thread_init(t);
    uint64_t fl = spin_lock_irqsave(&threads_lock);
    t->tid = next_tid++;
    t->all_next = all_threads;
    all_threads = t;
    nthreads++;
    spin_unlock_irqrestore(&threads_lock, fl);
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
    t->affinity = current()->affinity; /* clone keeps the CPUs allowed, as on Linux */
    /* The child starts with the parent's FPU state, as on Linux. */
    fpu_save(t->fpu);
    return t;
}

void sched_first_run(void);

/* Where a kernel thread's first context switch returns (as if called: the stack is aligned). It
 * runs as system calls do: interrupts off, switching away only where it blocks. */
static void kernel_thread_entry(void)
{
    sched_first_run();
    current()->kernel_fn();
    panic("a kernel thread returned");
}

struct thread *thread_create_kernel(void (*fn)(void))
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
    sched_thread_init(t);
    t->kernel_fn = fn;
    uint64_t *sp = (uint64_t *)(t->kstack + KSTACK_SIZE);
    *--sp = 0; /* the return address a call would have pushed */
    *--sp = (uint64_t)kernel_thread_entry;
    for (int i = 0; i < 6; i++)
        *--sp = 0;
    t->ksp = (uint64_t)sp;
    fpu_save(t->fpu);
    sched_make_runnable(t);
    return t;
}

void thread_start(struct thread *t) { sched_make_runnable(t); }

int thread_hold_file(struct file *f)
{
    struct thread *t = current();
    if (!t->tid || t->nheld == (int)(sizeof t->held / sizeof t->held[0]))
        return 0;
    t->held[t->nheld++] = f;
    return 1;
}

void thread_put_held(struct thread *t)
{
    while (t->nheld)
        file_put(t->held[--t->nheld]);
}

void thread_exit(int code)
{
    struct thread *t = current();
    if (thread_count() == 1)
        vm_exit(code);
    if (t->clear_child_tid) {
        uint32_t zero = 0;
        if (!copy_to_user((void *)t->clear_child_tid, &zero, sizeof zero))
            futex_wake_addr(t->clear_child_tid, 1);
    }
    thread_put_held(t);
    signal_thread_exit(t);
    uint64_t fl = spin_lock_irqsave(&threads_lock);
    for (struct thread **pp = &all_threads; *pp; pp = &(*pp)->all_next) {
        if (*pp == t) {
            *pp = t->all_next;
            break;
        }
    }
    int last = --nthreads == 0;
    spin_unlock_irqrestore(&threads_lock, fl);
    if (last) /* the others exited meanwhile */
        vm_exit(code);
    sched_exit_current();
}
