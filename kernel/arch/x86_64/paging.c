/* The single page table. The upper half (direct map at DIRECT_MAP_BASE and the kernel image at
 * KERNEL_VBASE) is built once at boot and is supervisor-only; the lower half holds the program's
 * pages, added on demand by the fault handler. There is never a CR3 switch. */
#include "arch/x86_64/paging.h"
#include "arch/x86_64/io.h"
#include "core/panic.h"
#include "errno.h"
#include "lib/string.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/smp.h"
#include "core/stats.h"
#include "core/waitlimit.h"
#include "lib/spinlock.h"
#include "mm/palloc.h"
#include "sched/sched.h"
#include "sched/thread.h"


static uint64_t *pml4;

static uint64_t *alloc_table(void)
{
    uint64_t phys = palloc_alloc(0);
    if (!phys)
        return 0;
    uint64_t *t = phys_to_virt(phys);
    memset(t, 0, PAGE_SIZE);
    return t;
}

extern uint64_t boot_pml4[];

void paging_init(uint64_t max_phys)
{
    uint64_t *top = alloc_table();
    KASSERT(top);
    /* Direct map with 1 GiB pages when the CPU has them, else 2 MiB pages. */
    uint32_t r[4];
    cpuid(0x80000001, 0, r);
    int gib = (r[3] >> 26) & 1;
    uint64_t *pdpt = alloc_table();
    KASSERT(pdpt);
    top[256] = virt_to_phys(pdpt) | PTE_P | PTE_W;
    for (uint64_t base = 0; base < max_phys; base += 1ull << 30) {
        uint64_t i = base >> 30;
        KASSERT(i < 512);
        if (gib) {
            pdpt[i] = base | PTE_P | PTE_W | PTE_PS | PTE_NX;
            continue;
        }
        uint64_t *pd = alloc_table();
        KASSERT(pd);
        for (int j = 0; j < 512; j++)
            pd[j] = (base + ((uint64_t)j << 21)) | PTE_P | PTE_W | PTE_PS | PTE_NX;
        pdpt[i] = virt_to_phys(pd) | PTE_P | PTE_W;
    }
    /* The kernel image keeps the boot mapping (-2 GiB -> physical 0-1 GiB). */
    top[511] = boot_pml4[511];
    pml4 = top;
    write_cr3(virt_to_phys(top));
}

static uint64_t *next_level(uint64_t *table, unsigned idx, int create)
{
    uint64_t e = table[idx];
    if (e & PTE_P) {
        if (e & PTE_PS)
            return 0; /* a large page: no lower table */
        return phys_to_virt(e & PTE_ADDR);
    }
    if (!create)
        return 0;
    uint64_t *t = alloc_table();
    if (!t)
        return 0;
    table[idx] = virt_to_phys(t) | PTE_P | PTE_W | PTE_U;
    return t;
}

/* Replaces the 2 MiB mapping at *pde by a table of 512 4 KiB entries with the same rights; a frame
 * the mapping owned becomes 512 frames of one page each. Returns the table, or 0 without memory. */
static uint64_t *split_huge(uint64_t *pde, uint64_t va)
{
    uint64_t e = *pde;
    uint64_t *t = alloc_table();
    if (!t)
        return 0;
    uint64_t base = e & PTE_ADDR & ~(HUGE_PAGE_SIZE - 1);
    uint64_t flags = e & (PTE_P | PTE_W | PTE_U | PTE_NX | PTE_OWNED);
    for (unsigned i = 0; i < 512; i++)
        t[i] = (base + i * PAGE_SIZE) | flags;
    if (e & PTE_OWNED) {
        for (unsigned i = 0; i < 512; i++) {
            struct page *pg = palloc_page(base + i * PAGE_SIZE);
            pg->refcount = 1;
            pg->order = 0;
        }
    }
    *pde = virt_to_phys(t) | PTE_P | PTE_W | PTE_U;
    invlpg(va & ~(HUGE_PAGE_SIZE - 1));
    return t;
}

uint64_t *pde_lookup(uint64_t va, int create)
{
    if (va >= USER_TOP)
        return 0;
    uint64_t *t = pml4;
    for (int shift = 39; shift > 21; shift -= 9) {
        t = next_level(t, (va >> shift) & 511, create);
        if (!t)
            return 0;
    }
    return &t[(va >> 21) & 511];
}

uint64_t *pte_lookup(uint64_t va, int create)
{
    uint64_t *pde = pde_lookup(va, create);
    if (!pde)
        return 0;
    uint64_t *t;
    if ((*pde & (PTE_P | PTE_PS)) == (PTE_P | PTE_PS))
        t = split_huge(pde, va);
    else
        t = next_level(pde, 0, create);
    return t ? &t[(va >> 12) & 511] : 0;
}

uint64_t pt_next_mapped(uint64_t va, uint64_t end)
{
    uint64_t lim = end < USER_TOP ? end : USER_TOP;
    while (va < lim) {
        const uint64_t *t = pml4;
        int shift = 39;
        for (;; shift -= 9) {
            uint64_t e = t[(va >> shift) & 511];
            if (!(e & PTE_P))
                break; /* no table below: skip what this entry covers */
            if (shift == 21 || (e & PTE_PS))
                return va;
            t = phys_to_virt(e & PTE_ADDR);
        }
        va = (va | ((1ull << shift) - 1)) + 1; /* below USER_TOP: no overflow */
    }
    return end;
}

uint64_t pte_peek(uint64_t va)
{
    uint64_t *pde = pde_lookup(va, 0);
    if (!pde || !(*pde & PTE_P))
        return 0;
    if (*pde & PTE_PS) {
        uint64_t base = *pde & PTE_ADDR & ~(HUGE_PAGE_SIZE - 1);
        uint64_t page = base + (va & (HUGE_PAGE_SIZE - 1) & ~(PAGE_SIZE - 1));
        return page | (*pde & (PTE_P | PTE_W | PTE_U | PTE_NX | PTE_OWNED));
    }
    uint64_t *t = phys_to_virt(*pde & PTE_ADDR);
    return t[(va >> 12) & 511];
}

int map_huge_page(uint64_t va, uint64_t phys, uint64_t flags)
{
    uint64_t *pde = pde_lookup(va, 1);
    if (!pde)
        return -ENOMEM;
    if (*pde)
        return -EEXIST;
    *pde = phys | flags | PTE_P | PTE_PS;
    return 0;
}

int map_page(uint64_t va, uint64_t phys, uint64_t flags)
{
    uint64_t *pte = pte_lookup(va, 1);
    if (!pte)
        return -ENOMEM;
    *pte = phys | flags | PTE_P;
    return 0;
}

/* Walks the kernel half down to the table whose entries map `leaf_shift`-sized pages at va,
 * creating supervisor tables on the way. Returns that table; 0 without memory, or with *large set
 * when a large page on the way already maps va. */
static uint64_t *kernel_table(uint64_t va, int leaf_shift, int *large)
{
    uint64_t *t = pml4;
    *large = 0;
    for (int shift = 39; shift > leaf_shift; shift -= 9) {
        unsigned idx = (va >> shift) & 511;
        if ((t[idx] & PTE_P) && (t[idx] & PTE_PS)) {
            *large = 1;
            return 0;
        }
        if (!(t[idx] & PTE_P)) {
            uint64_t *n = alloc_table();
            if (!n)
                return 0;
            t[idx] = virt_to_phys(n) | PTE_P | PTE_W;
        }
        t = phys_to_virt(t[idx] & PTE_ADDR);
    }
    return t;
}

volatile void *kmap_mmio(uint64_t phys)
{
    uint64_t va = DIRECT_MAP_BASE + (phys & ~(PAGE_SIZE - 1));
    volatile void *mapped = (volatile void *)(va + (phys & (PAGE_SIZE - 1)));
    int large;
    uint64_t *t = kernel_table(va, 12, &large);
    if (!t)
        return large ? mapped : 0; /* inside a large page of the direct map already */
    t[(va >> 12) & 511] = (phys & ~(PAGE_SIZE - 1)) | PTE_P | PTE_W | PTE_NX | PTE_PWT | PTE_PCD;
    invlpg(va);
    return mapped;
}

void *kmap_ram(uint64_t phys, uint64_t size)
{
    if ((phys | size) & (HUGE_PAGE_SIZE - 1))
        return 0;
    for (uint64_t off = 0; off < size; off += HUGE_PAGE_SIZE) {
        uint64_t va = DIRECT_MAP_BASE + phys + off;
        int large;
        uint64_t *t = kernel_table(va, 21, &large);
        if (!t)
            return 0; /* no memory, or RAM's own large pages: not device memory */
        t[(va >> 21) & 511] = (phys + off) | PTE_P | PTE_W | PTE_PS | PTE_NX;
        invlpg(va);
    }
    return (void *)(DIRECT_MAP_BASE + phys);
}

/* TLB shootdown. A CPU changing user mappings flushes its own TLB entry at once and adds the
 * address to its batch; tlb_shootdown sends the batch to every other CPU taking threads and
 * waits until each has flushed. One request at a time, under the lock; a CPU polls for requests
 * while it spins on any spinlock (lib/spinlock.h) and before it halts, so that a CPU asking with
 * a lock held cannot deadlock with one waiting for that lock with interrupts off. */
#define TLB_BATCH 32

/* Guards req_pages and req_n (the request being served). */
static struct spinlock tlb_lock = SPINLOCK_INIT("tlb shootdown");
static uint64_t req_pages[TLB_BATCH];
static int req_n; /* -1: flush everything */
/* Shootdowns so far (atomic). A CPU idling when one is made is not asked (under TCG a halted
 * vCPU answers only when the host runs its thread: a copy-on-write break waited tens of
 * microseconds to milliseconds for it); it flushes everything as it leaves its idle thread if the
 * count moved since it last looked (tlb_idle_exit), before any user address is touched there. */
static uint64_t tlb_gen;

static void flush_all_user(void) { write_cr3(read_cr3()); }

void tlb_poll_slow(void)
{
    struct percpu *p = percpu();
    if (!__atomic_load_n(&p->tlb_pending, __ATOMIC_ACQUIRE))
        return;
    if (wait_test == WAIT_TEST_TLB && p->cpu != 0)
        return; /* a CPU that never answers */
    int n = req_n;
    if (n < 0)
        flush_all_user();
    else
        for (int i = 0; i < n; i++)
            invlpg(req_pages[i]);
    __atomic_store_n(&p->tlb_pending, 0, __ATOMIC_RELEASE);
}

void tlb_flush_local(uint64_t va) { invlpg(va); }

void tlb_idle_exit(void)
{
    struct percpu *p = percpu();
    __atomic_thread_fence(__ATOMIC_SEQ_CST); /* `current` is stored: now read the count */
    uint64_t g = __atomic_load_n(&tlb_gen, __ATOMIC_SEQ_CST);
    if (g != p->tlb_gen_seen) {
        p->tlb_gen_seen = g;
        flush_all_user();
    }
}

void tlb_flush_page(uint64_t va)
{
    invlpg(va);
    struct percpu *p = percpu();
    if (sched_cpus_mask() == (1ull << p->cpu))
        return;
    if (p->tlb_batch_n >= 0 && p->tlb_batch_n < TLB_BATCH)
        p->tlb_batch[p->tlb_batch_n++] = va;
    else
        p->tlb_batch_n = -1;
}

void tlb_shootdown(void)
{
    struct percpu *p = percpu();
    if (!p->tlb_batch_n)
        return;
    uint64_t others = sched_cpus_mask() & ~(1ull << p->cpu);
    if (!others) {
        p->tlb_batch_n = 0;
        return;
    }
    uint64_t fl = spin_lock_irqsave(&tlb_lock);
    req_n = p->tlb_batch_n;
    for (int i = 0; i < req_n; i++)
        req_pages[i] = p->tlb_batch[i];
    /* Counted first, then each CPU's thread read: a CPU leaving idle stores its thread, then
     * reads the count (tlb_idle_exit), so either it flushes or it is asked below. */
    __atomic_add_fetch(&tlb_gen, 1, __ATOMIC_SEQ_CST);
    for (unsigned c = 0; c < MAX_CPUS; c++) {
        if (!(others & (1ull << c)))
            continue;
        struct percpu *o = cpu_percpu(c);
        if (__atomic_load_n(&o->current, __ATOMIC_SEQ_CST) == o->idle)
            others &= ~(1ull << c);
    }
    for (unsigned c = 0; c < MAX_CPUS; c++)
        if (others & (1ull << c))
            __atomic_store_n(&cpu_percpu(c)->tlb_pending, 1, __ATOMIC_RELEASE);
    for (unsigned c = 0; c < MAX_CPUS; c++)
        if (others & (1ull << c))
            lapic_send_ipi(smp_apic_id[c], VECTOR_TLB);
    /* A CPU answers within microseconds unless the host does not run it: one that has not after
     * wait_limit_s never will (it runs with interrupts off without polling, or it stopped). */
    for (unsigned c = 0; c < MAX_CPUS; c++) {
        if (!(others & (1ull << c)))
            continue;
        struct bwait w = BWAIT_INIT;
        while (__atomic_load_n(&cpu_percpu(c)->tlb_pending, __ATOMIC_ACQUIRE)) {
            if (bwait_expired(&w)) {
                /* What the silent CPU runs (read without its lock: a hint for the report). */
                struct thread *t = __atomic_load_n(&cpu_percpu(c)->current, __ATOMIC_RELAXED);
                int tid = t ? t->tid : -1;
                long nr = t && t->in_syscall ? (long)t->syscall_nr : -1;
                panic_stuck_cpu(c, "TLB shootdown: cpu %u has not flushed %u s after cpu %u asked "
                                "it (it runs thread %d%s, syscall %ld)", c, wait_limit_s, p->cpu,
                                tid, t == cpu_percpu(c)->idle ? " (idle)" : "", nr);
            }
            __asm__ volatile("pause");
        }
    }
    kstats.tlb_shootdowns++;
    spin_unlock_irqrestore(&tlb_lock, fl);
    p->tlb_batch_n = 0;
}
