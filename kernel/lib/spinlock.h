/* Spinlocks: the lock type every shared kernel structure is under. Taking one saves the interrupt
 * flag and disables interrupts; releasing it restores the flag, so a lock may be taken from an
 * interrupt handler and from code that already runs with interrupts off. Each lock has a name
 * (for the panic a self-deadlock gives) and is declared beside the data it guards, with a comment
 * saying what that is. Lock order: docs/kernel-locking.md. */
#pragma once
#include <stdint.h>

#include "arch/x86_64/percpu.h"
#include "core/panic.h"

struct spinlock {
    volatile uint32_t locked;
    uint32_t owner; /* the holding CPU + 1 while locked, else 0: for the double-acquire check.
                     * 0 for "none" so that a zero-filled lock (static or kzalloc'd) is a valid
                     * free one: with CPU numbers, CPU 0 read a fresh lock's 0 as its own and
                     * panicked while another CPU had just taken it */
    const char *name;
};

#define SPINLOCK_NO_OWNER 0u
#define SPINLOCK_INIT(n) {0, SPINLOCK_NO_OWNER, (n)}

#if __STDC_HOSTED__
/* Compiled into a host test program (tests/kernel): one CPU, no interrupt flag to touch. */
static inline uint64_t irq_save(void) { return 0; }
static inline void irq_restore(uint64_t flags) { (void)flags; }
static inline unsigned spinlock_cpu(void) { return 0; }
static inline void spinlock_poll(void) {}
static inline void spin_stuck(const struct spinlock *l, uint64_t *since) { (void)l, (void)since; }
#else
static inline uint64_t irq_save(void)
{
    uint64_t flags;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
    return flags;
}

static inline void irq_restore(uint64_t flags)
{
    if (flags & (1u << 9))
        __asm__ volatile("sti" ::: "memory");
}
static inline unsigned spinlock_cpu(void) { return percpu()->cpu; }
/* What a CPU does while it spins: serve TLB shootdowns (the CPU asking may hold this lock). */
static inline void spinlock_poll(void) { tlb_poll(); }
/* Called now and then while a CPU spins on l (since: 0 at first): a lock that stays held for
 * SPIN_PANIC_S seconds never comes free (two CPUs each holding what the other waits for, or a
 * holder that stopped), and the kernel panics naming it and its holder instead of hanging
 * without a word (core/panic.c). Generous: under TCG a loaded host may leave a holder's virtual
 * CPU unscheduled for seconds. */
#define SPIN_PANIC_S 60
void spin_stuck(const struct spinlock *l, uint64_t *since);
#endif

/* Takes l with interrupts disabled; returns the interrupt flag to give back to the unlock. A CPU
 * taking a lock it already holds panics with the lock's name instead of spinning forever. */
static inline uint64_t spin_lock_irqsave(struct spinlock *l)
{
    uint64_t flags = irq_save();
    unsigned cpu = spinlock_cpu();
    while (__atomic_exchange_n(&l->locked, 1, __ATOMIC_ACQUIRE)) {
        if (__atomic_load_n(&l->owner, __ATOMIC_RELAXED) == cpu + 1)
            panic("lock %s taken twice on cpu %u", l->name ? l->name : "?", cpu);
        uint64_t since = 0;
        for (unsigned n = 1; __atomic_load_n(&l->locked, __ATOMIC_RELAXED); n++) {
            spinlock_poll();
            __asm__ volatile("pause");
            if (!(n & 0xffff))
                spin_stuck(l, &since);
        }
    }
    __atomic_store_n(&l->owner, cpu + 1, __ATOMIC_RELAXED);
    return flags;
}

static inline void spin_unlock_irqrestore(struct spinlock *l, uint64_t flags)
{
    __atomic_store_n(&l->owner, SPINLOCK_NO_OWNER, __ATOMIC_RELAXED);
    __atomic_store_n(&l->locked, 0, __ATOMIC_RELEASE);
    irq_restore(flags);
}

/* 1 if this CPU holds l. */
static inline int spin_held_here(const struct spinlock *l)
{
    return __atomic_load_n(&l->owner, __ATOMIC_RELAXED) == spinlock_cpu() + 1;
}

/* 1 if l is held (by any CPU): for assertions in code that must be called under it. */
static inline int spin_is_locked(const struct spinlock *l)
{
    return __atomic_load_n(&l->locked, __ATOMIC_RELAXED) != 0;
}
