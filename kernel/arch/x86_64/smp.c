/* Starting the application processors (see arch/x86_64/smp.h): one at a time, the boot CPU
 * copies the trampoline (trampoline.S) below 1 MiB, gives the next CPU its number and a stack,
 * sends INIT, then the start-up IPI (twice if the first is not answered, as the MP specification
 * says) and waits for the CPU to report itself alive. */
#include "arch/x86_64/smp.h"
#include "arch/x86_64/acpi.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/tsc.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "mm/kheap.h"
#include "sched/thread.h"

#define TRAMPOLINE_PHYS 0x8000

extern char smp_trampoline_start[], smp_trampoline_end[], smp_tr_cr3[], smp_tr_entry[];
extern char ap_entry64[];
extern uint64_t boot_pml4[];

unsigned smp_ncpus = 1;
unsigned smp_apic_id[MAX_CPUS];
uint64_t smp_ap_stack_base[MAX_CPUS];

/* Handed to the CPU being started (read by ap_entry64 and smp_ap_main); written by the boot CPU
 * only while no AP is between its start-up IPI and reporting alive. */
uint64_t smp_ap_cr3, smp_ap_stack;
static unsigned ap_cpu;
static void (*ap_entry)(void);
static volatile int ap_alive;

static void delay_us(uint64_t us)
{
    uint64_t t0 = rdtsc(), ticks = tsc_hz / 1000000 * us;
    while (rdtsc() - t0 < ticks)
        __asm__ volatile("pause");
}

static int wait_alive(uint64_t us)
{
    uint64_t t0 = rdtsc(), ticks = tsc_hz / 1000000 * us;
    while (rdtsc() - t0 < ticks) {
        if (__atomic_load_n(&ap_alive, __ATOMIC_ACQUIRE))
            return 1;
        __asm__ volatile("pause");
    }
    return __atomic_load_n(&ap_alive, __ATOMIC_ACQUIRE);
}

void smp_ap_main(void)
{
    unsigned cpu = ap_cpu;
    cpu_init_ap(cpu);
    lapic_init_ap();
    void (*run)(void) = ap_entry;
    __atomic_store_n(&ap_alive, 1, __ATOMIC_RELEASE);
    run();
    for (;;)
        __asm__ volatile("cli; hlt");
}

void smp_init(uint64_t rsdp_phys, void (*ap_run)(void))
{
    unsigned ids[MAX_CPUS];
    int n = acpi_cpu_ids(rsdp_phys, ids, MAX_CPUS);
    smp_apic_id[0] = lapic_id();
    if (n <= 1)
        return;
    uint64_t size = (uint64_t)(smp_trampoline_end - smp_trampoline_start);
    uint8_t *tr = phys_to_virt(TRAMPOLINE_PHYS);
    memcpy(tr, smp_trampoline_start, size);
    uint64_t cr3 = (uint64_t)boot_pml4 - KERNEL_VBASE, entry = (uint64_t)ap_entry64;
    memcpy(tr + (smp_tr_cr3 - smp_trampoline_start), &cr3, 8);
    memcpy(tr + (smp_tr_entry - smp_trampoline_start), &entry, 8);
    smp_ap_cr3 = read_cr3();
    ap_entry = ap_run;
    for (int i = 0; i < n && smp_ncpus < MAX_CPUS; i++) {
        if (ids[i] == smp_apic_id[0])
            continue;
        uint8_t *stack = kmalloc(KSTACK_SIZE);
        if (!stack) {
            kprintf("lwjvm: no memory for another CPU's stack\n");
            break;
        }
        smp_ap_stack = (uint64_t)stack + KSTACK_SIZE;
        smp_ap_stack_base[smp_ncpus] = (uint64_t)stack;
        ap_cpu = smp_ncpus;
        smp_apic_id[smp_ncpus] = ids[i];
        __atomic_store_n(&ap_alive, 0, __ATOMIC_RELEASE);
        lapic_send_init(ids[i]);
        delay_us(10000);
        lapic_send_sipi(ids[i], TRAMPOLINE_PHYS >> 12);
        if (!wait_alive(1000)) {
            lapic_send_sipi(ids[i], TRAMPOLINE_PHYS >> 12);
            if (!wait_alive(5000000)) { /* generous: TCG may be slow to schedule the vCPU */
                kprintf("lwjvm: the CPU with APIC ID %u did not start\n", ids[i]);
                kfree(stack);
                continue;
            }
        }
        __atomic_store_n(&smp_ncpus, smp_ncpus + 1, __ATOMIC_RELEASE);
    }
}
