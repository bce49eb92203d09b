/* Kernel timers (see core/timer.h): a list of armed timers sorted by deadline, under one lock. */
#include "core/timer.h"
#include "core/panic.h"
#include "core/waitlimit.h"
#include "lib/spinlock.h"
#include "sched/sched.h"

/* Guards the armed list and every timer's deadline_ns, next and firing. Taken alone: a
 * callback runs after it is released, and the scheduler is told of a new deadline after too. */
static struct spinlock timer_lock = SPINLOCK_INIT("timers");
static struct ktimer *armed;

void ktimer_init(struct ktimer *t, void (*fire)(struct ktimer *))
{
    *t = (struct ktimer)KTIMER_INIT(fire);
}

static void unlink_locked(struct ktimer *t)
{
    for (struct ktimer **pp = &armed; *pp; pp = &(*pp)->next) {
        if (*pp == t) {
            *pp = t->next;
            break;
        }
    }
    t->next = 0;
    t->deadline_ns = 0;
}

void ktimer_cancel(struct ktimer *t)
{
    unsigned cpu = spinlock_cpu();
    uint64_t fl = spin_lock_irqsave(&timer_lock);
    unlink_locked(t);
    /* Its callback running on another CPU: wait for it to finish (del_timer_sync); a callback
     * must not block, so one still running after wait_limit_s never returns. */
    struct bwait w = BWAIT_INIT;
    while (t->firing && t->firing != cpu + 1) {
        unsigned on = t->firing - 1;
        spin_unlock_irqrestore(&timer_lock, fl);
        if (bwait_expired(&w)) {
            uint64_t off = 0;
            const char *fn = ksym_lookup((uint64_t)t->fire, &off);
            panic_stuck_cpu(on, "timer callback %s has run on cpu %u for %u s: cpu %u cannot "
                            "cancel its timer", fn ? fn : "?", on, wait_limit_s, cpu);
        }
        __asm__ volatile("pause");
        spinlock_poll(); /* a TLB shootdown may wait for this CPU */
        fl = spin_lock_irqsave(&timer_lock);
        unlink_locked(t);
    }
    spin_unlock_irqrestore(&timer_lock, fl);
}

void ktimer_arm(struct ktimer *t, uint64_t deadline_ns)
{
    uint64_t fl = spin_lock_irqsave(&timer_lock);
    unlink_locked(t);
    t->deadline_ns = deadline_ns ? deadline_ns : 1;
    struct ktimer **pp = &armed;
    while (*pp && (*pp)->deadline_ns <= t->deadline_ns)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    uint64_t d = t->deadline_ns;
    spin_unlock_irqrestore(&timer_lock, fl);
    sched_timer_at(d);
}

uint64_t timers_expire(uint64_t now)
{
    unsigned cpu = spinlock_cpu();
    uint64_t fl = spin_lock_irqsave(&timer_lock);
    while (armed && armed->deadline_ns <= now) {
        struct ktimer *t = armed;
        armed = t->next;
        t->next = 0;
        t->deadline_ns = 0;
        t->firing = cpu + 1;
        spin_unlock_irqrestore(&timer_lock, fl);
        t->fire(t);
        fl = spin_lock_irqsave(&timer_lock);
        t->firing = 0;
    }
    uint64_t next = armed ? armed->deadline_ns : 0;
    spin_unlock_irqrestore(&timer_lock, fl);
    return next;
}

uint64_t timers_next(void)
{
    uint64_t fl = spin_lock_irqsave(&timer_lock);
    uint64_t next = armed ? armed->deadline_ns : 0;
    spin_unlock_irqrestore(&timer_lock, fl);
    return next;
}
