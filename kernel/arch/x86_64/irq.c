/* Device interrupt vectors (see arch/x86_64/irq.h). */
#include "arch/x86_64/irq.h"
#include "lib/spinlock.h"

struct irq_entry {
    void (*handler)(void *);
    void *arg;
};

/* irq_lock guards handing out vectors; dispatch reads an entry that is set once and never freed. */
static struct spinlock irq_lock = SPINLOCK_INIT("irq");
static struct irq_entry table[VECTOR_DEVICE_LAST + 1];
static unsigned next_vector = VECTOR_DEVICE_FIRST;

uint8_t irq_alloc(void (*handler)(void *), void *arg)
{
    uint64_t fl = spin_lock_irqsave(&irq_lock);
    uint8_t v = 0;
    if (next_vector <= VECTOR_DEVICE_LAST) {
        v = (uint8_t)next_vector++;
        table[v].arg = arg;
        __atomic_store_n(&table[v].handler, handler, __ATOMIC_RELEASE);
    }
    spin_unlock_irqrestore(&irq_lock, fl);
    return v;
}

int irq_dispatch(uint64_t v)
{
    if (v < VECTOR_DEVICE_FIRST || v > VECTOR_DEVICE_LAST)
        return 0;
    void (*h)(void *) = __atomic_load_n(&table[v].handler, __ATOMIC_ACQUIRE);
    if (!h)
        return 0;
    h(table[v].arg);
    return 1;
}
