/* CPU set-up, for the boot CPU and each application processor: its own GDT with its own TSS and
 * IST stacks, the shared IDT, per-CPU data in GS, the syscall MSRs, and the control register
 * features the program needs (SSE, XSAVE/AVX state, FSGSBASE, NX, WP). */
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/cpuinfo.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/regs.h"
#include "lib/printf.h"
#include "lib/string.h"

struct tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3, iomap_base;
} __attribute__((packed));
_Static_assert(sizeof(struct tss) == 104, "TSS layout");

struct idt_entry {
    uint16_t off_lo, sel;
    uint8_t ist, type;
    uint16_t off_mid;
    uint32_t off_hi, zero;
} __attribute__((packed));

/* Everything one CPU owns: written by that CPU only (cpu_init_ap writes an AP's before it runs). */
struct cpu_local {
    uint64_t gdt[7];
    struct tss tss;
    struct percpu percpu;
    uint8_t ist_stack[2][8192] __attribute__((aligned(16)));
};

static struct idt_entry idt[256];
static struct cpu_local cpus[MAX_CPUS];

struct cpu_features cpu_features;

extern uint64_t isr_table[256];
extern void syscall_entry(void);

static void load_gdt(struct cpu_local *c)
{
    uint64_t *gdt = c->gdt;
    gdt[0] = 0;
    gdt[1] = 0x00af9a000000ffff; /* kernel code, 64-bit */
    gdt[2] = 0x00cf92000000ffff; /* kernel data */
    gdt[3] = 0x00cff2000000ffff; /* user data, DPL 3 */
    gdt[4] = 0x00affa000000ffff; /* user code, 64-bit, DPL 3 */
    uint64_t base = (uint64_t)&c->tss, limit = sizeof c->tss - 1;
    gdt[5] = (limit & 0xffff) | ((base & 0xffffff) << 16) | (0x89ull << 40) |
             (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    gdt[6] = base >> 32;
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) gdtr = {sizeof c->gdt - 1, (uint64_t)gdt};
    __asm__ volatile("lgdt %0\n"
                     "pushq $0x08\n"
                     "leaq 1f(%%rip), %%rax\n"
                     "pushq %%rax\n"
                     "lretq\n"
                     "1: movw $0x10, %%ax\n"
                     "movw %%ax, %%ds\n movw %%ax, %%es\n movw %%ax, %%ss\n"
                     "movw $0x28, %%ax\n ltr %%ax\n" ::"m"(gdtr)
                     : "rax", "memory");
}

static void build_idt(void)
{
    for (int v = 0; v < 256; v++) {
        uint64_t off = isr_table[v];
        idt[v] = (struct idt_entry){
            .off_lo = off & 0xffff, .sel = SEL_KCODE, .ist = 0, .type = 0x8e, /* interrupt gate */
            .off_mid = (off >> 16) & 0xffff, .off_hi = off >> 32, .zero = 0};
    }
    idt[8].ist = 1; /* double fault on its own stack */
    idt[2].ist = 2; /* NMI */
}

static void load_idt(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) idtr = {sizeof idt - 1, (uint64_t)idt};
    __asm__ volatile("lidt %0" ::"m"(idtr));
}

/* Masks the legacy 8259 PICs so no stray IRQ lands on an exception vector. */
static void mask_pic(void)
{
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

/* Detects the features (on the boot CPU, `boot` set: into cpu_features) and enables them. */
static void enable_features(int boot)
{
    uint32_t r[4];
    if (!boot)
        goto enable;
    cpuid(1, 0, r);
    cpu_features.xsave = (r[2] >> 26) & 1;
    int hv = (r[2] >> 31) & 1;
    cpuid(7, 0, r);
    cpu_features.fsgsbase = r[1] & 1;
    cpu_features.hypervisor = HV_NONE;
    if (hv) {
        cpuid(0x40000000, 0, r);
        char sig[13];
        memcpy(sig, &r[1], 4);
        memcpy(sig + 4, &r[2], 4);
        memcpy(sig + 8, &r[3], 4);
        sig[12] = 0;
        cpu_features.hypervisor = !memcmp(sig, "KVMKVMKVM", 9)      ? HV_KVM
                                  : !memcmp(sig, "TCGTCGTCGTCG", 12) ? HV_TCG
                                                                     : HV_OTHER;
    }

enable:;
    uint64_t cr0 = read_cr0();
    cr0 &= ~(1ull << 2);              /* EM off: x87/SSE present */
    cr0 |= (1ull << 1) | (1ull << 5); /* MP, NE */
    write_cr0(cr0);
    uint64_t cr4 = read_cr4();
    cr4 |= (1 << 9) | (1 << 10); /* OSFXSR, OSXMMEXCPT */
    if (cpu_features.xsave)
        cr4 |= 1 << 18; /* OSXSAVE */
    if (cpu_features.fsgsbase)
        cr4 |= 1 << 16;
    write_cr4(cr4);
    if (cpu_features.xsave && !boot) {
        xsetbv(0, cpu_features.xcr0);
    } else if (cpu_features.xsave) {
        cpuid(0xd, 0, r);
        uint64_t supported = ((uint64_t)r[3] << 32) | r[0];
        /* x87, SSE, AVX, AVX-512 (opmask, ZMM_Hi256, Hi16_ZMM): the user-visible state. */
        uint64_t want = supported & (0x7 | 0xe0);
        if ((want & 0xe0) != 0xe0)
            want &= 0x7;
        xsetbv(0, want);
        cpu_features.xcr0 = want;
        cpuid(0xd, 0, r);
        cpu_features.xsave_size = r[1];
    } else {
        cpu_features.xsave_size = 512;
    }
    __asm__ volatile("fninit");
}

void cpu_set_kernel_stack(uint64_t top)
{
    struct percpu *p = percpu();
    cpus[p->cpu].tss.rsp[0] = top;
    p->kstack_top = top;
}

/* The set-up shared by every CPU, once its cpu_local is filled in. */
static void cpu_init_common(struct cpu_local *c, unsigned cpu, int boot)
{
    memset(&c->tss, 0, sizeof c->tss);
    c->tss.ist[0] = (uint64_t)c->ist_stack[0] + sizeof c->ist_stack[0];
    c->tss.ist[1] = (uint64_t)c->ist_stack[1] + sizeof c->ist_stack[1];
    c->tss.iomap_base = sizeof c->tss;
    load_gdt(c);
    load_idt();
    c->percpu.self = &c->percpu;
    c->percpu.cpu = cpu;
    wrmsr(MSR_GS_BASE, (uint64_t)&c->percpu);
    wrmsr(MSR_KERNEL_GS_BASE, 0);
    enable_features(boot);
    wrmsr(MSR_STAR, ((uint64_t)0x10 << 48) | ((uint64_t)SEL_KCODE << 32));
    wrmsr(MSR_LSTAR, (uint64_t)syscall_entry);
    wrmsr(MSR_FMASK, 0x47700); /* clear TF, IF, DF, IOPL, NT, AC on entry */
    wrmsr(MSR_EFER, rdmsr(MSR_EFER) | 1 | (1 << 11)); /* SCE, NXE */
}

void cpu_init_ap(unsigned cpu)
{
    cpu_init_common(&cpus[cpu], cpu, 0);
}

struct percpu *cpu_percpu(unsigned cpu) { return &cpus[cpu].percpu; }

/* Brings up the boot CPU; after this, exceptions are reported and syscall works. */
void cpu_init(void)
{
    build_idt();
    mask_pic();
    cpu_init_common(&cpus[0], 0, 1);
}
