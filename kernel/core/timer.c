/* Kernel timers (see core/timer.h): a list of armed timers sorted by deadline. */
#include "core/timer.h"
#include "sched/sched.h"

static struct ktimer *armed;

void ktimer_cancel(struct ktimer *t)
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

void ktimer_arm(struct ktimer *t, uint64_t deadline_ns)
{
    ktimer_cancel(t);
    t->deadline_ns = deadline_ns ? deadline_ns : 1;
    struct ktimer **pp = &armed;
    while (*pp && (*pp)->deadline_ns <= t->deadline_ns)
        pp = &(*pp)->next;
    t->next = *pp;
    *pp = t;
    sched_timer_at(t->deadline_ns);
}

uint64_t timers_expire(uint64_t now)
{
    while (armed && armed->deadline_ns <= now) {
        struct ktimer *t = armed;
        armed = t->next;
        t->next = 0;
        t->deadline_ns = 0;
        t->fire(t);
    }
    return armed ? armed->deadline_ns : 0;
}
