/* kmain: the boot sequence from the PVH entry to the program's first instruction. Reads the
 * memory map and the root image from the PVH start info, sets up the CPU and memory, mounts the
 * root image, reads the boot configuration and starts the program. */
#include "arch/x86_64/cpuinfo.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/layout.h"
#include "arch/x86_64/paging.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/regs.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/tsc.h"
#include "core/bootconf.h"
#include "core/clock.h"
#include "core/control.h"
#include "core/panic.h"
#include "core/random.h"
#include "core/stats.h"
#include "core/waitlimit.h"
#include "drivers/pci.h"
#include "drivers/virtio_pci.h"
#include "net/stack.h"
#include "errno.h"
#include "fs/console.h"
#include "fs/ext4_vfs.h"
#include "fs/mounts.h"
#include "fs/volume.h"
#include "fs/procfs.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux/syscall.h"
#include "loader/exec.h"
#include "mm/fault.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "sched/sched.h"
#include "sched/thread.h"

#define BOOT_CONF "/etc/lwjvm/boot.conf"
#define HVM_START_MAGIC 0x336ec578
#define E820_RAM 1
#define PCI_VENDOR_REDHAT 0x1af4
#define PCI_DEVICE_IVSHMEM 0x1110

struct hvm_start_info {
    uint32_t magic, version, flags, nr_modules;
    uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
    uint32_t memmap_entries, reserved;
};
struct hvm_modlist_entry {
    uint64_t paddr, size, cmdline_paddr, reserved;
};
struct hvm_memmap_entry {
    uint64_t addr, size;
    uint32_t type, reserved;
};

extern char _kernel_start[], _kernel_end[];
extern void enter_user(struct regs *frame) __attribute__((noreturn));

static struct {
    int trace, quiet, probe, panic_test;
    char volume[256]; /* lwjvm.volume=PATH: where the disk's volume is mounted ("": none) */
    char volume_ds[44]; /* lwjvm.volume_dataset=NAME: which of its datasets ("": its own) */
} opts;

static const char *errno_name(int e)
{
    switch (e) {
    case ENOENT: return "ENOENT (no such file or directory)";
    case ENOEXEC: return "ENOEXEC (not an x86_64 ELF executable)";
    case EACCES: return "EACCES (not a regular file)";
    case ENOMEM: return "ENOMEM (out of memory)";
    case ENOTDIR: return "ENOTDIR (not a directory)";
    case ELOOP: return "ELOOP (too many symlinks)";
    case E2BIG: return "E2BIG (arguments too long)";
    case EINVAL: return "EINVAL (invalid)";
    case EIO: return "EIO (corrupt image)";
    default: return "error";
    }
}

/* Sets opts from the words of the kernel command line that we know. */
static void parse_cmdline(const char *s)
{
    while (s && *s) {
        while (*s == ' ')
            s++;
        const char *e = s;
        while (*e && *e != ' ')
            e++;
        size_t n = (size_t)(e - s);
        if (n == 13 && !strncmp(s, "lwjvm.trace=1", n))
            opts.trace = 1;
        else if (n == 17 && !strncmp(s, "lwjvm.hugepages=", 16))
            mm_hugepages = s[16] == '1';
        else if (n == 15 && !strncmp(s, "lwjvm.wxsplit=", 14))
            mm_wx_split = s[14] == '1';
        else if (n == 13 && !strncmp(s, "lwjvm.stats=1", n))
            kstats_enabled = 1;
        else if (n == 13 && !strncmp(s, "lwjvm.quiet=1", n))
            opts.quiet = 1;
        else if (n == 13 && !strncmp(s, "lwjvm.probe=1", n))
            opts.probe = 1;
        else if (n == 18 && !strncmp(s, "lwjvm.panic_test=1", n))
            opts.panic_test = 1;
        else if (waitlimit_option(s, n))
            ;
        else if (n > 14 && n - 13 < sizeof opts.volume && !strncmp(s, "lwjvm.volume=/", 14)) {
            memcpy(opts.volume, s + 13, n - 13);
            opts.volume[n - 13] = 0;
        } else if (n > 21 && n - 21 < sizeof opts.volume_ds &&
                   !strncmp(s, "lwjvm.volume_dataset=", 21)) {
            memcpy(opts.volume_ds, s + 21, n - 21);
            opts.volume_ds[n - 21] = 0;
        }
        s = e;
    }
}

static uint64_t page_down(uint64_t a) { return a & ~(PAGE_SIZE - 1); }
static uint64_t page_up(uint64_t a) { return (a + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1); }

struct range {
    uint64_t start, end;
};

/* Gives RAM to the page allocator, minus the kernel, its page metadata, the start info pages
 * and the root image. Returns the highest RAM address. */
static uint64_t memory_init(const struct hvm_start_info *si, struct range *module)
{
    const struct hvm_memmap_entry *mm = phys_to_virt(si->memmap_paddr);
    uint64_t max_phys = 0;
    for (uint32_t i = 0; i < si->memmap_entries; i++)
        if (mm[i].type == E820_RAM && mm[i].addr + mm[i].size > max_phys)
            max_phys = mm[i].addr + mm[i].size;
    if (max_phys > (4ull << 30)) {
        kprintf("lwjvm: using the first 4 GiB of RAM only\n");
        max_phys = 4ull << 30;
    }
    uint64_t npages = max_phys >> PAGE_SHIFT;
    uint64_t kstart = (uint64_t)_kernel_start - KERNEL_VBASE;
    uint64_t meta = page_up((uint64_t)_kernel_end - KERNEL_VBASE);
    uint64_t meta_end = page_up(meta + npages * sizeof(struct page));
    if (meta_end > module->start && meta < module->end)
        panic("the root image overlaps the kernel (module at %lx)", module->start);
    palloc_init(phys_to_virt(meta), npages);
    struct range reserved[] = {
        {0, 0x100000},
        {page_down(kstart), meta_end},
        {page_down(module->start), page_up(module->end)},
    };
    for (uint32_t i = 0; i < si->memmap_entries; i++) {
        if (mm[i].type != E820_RAM)
            continue;
        /* Add the parts of this RAM range outside every reserved range. */
        uint64_t s = mm[i].addr, e = mm[i].addr + mm[i].size;
        if (e > max_phys)
            e = max_phys;
        while (s < e) {
            uint64_t cut = e;
            for (unsigned r = 0; r < sizeof reserved / sizeof reserved[0]; r++) {
                if (s >= reserved[r].start && s < reserved[r].end) {
                    s = reserved[r].end;
                    cut = 0;
                    break;
                }
                if (reserved[r].start > s && reserved[r].start < cut)
                    cut = reserved[r].start;
            }
            if (!cut)
                continue;
            palloc_add_range(s, cut);
            s = cut;
        }
    }
    return max_phys;
}

/* Runs the KVM usability probe (docs/protocol.md, section 6) and exits. */
static void __attribute__((noreturn)) run_probe(void)
{
    volatile uint64_t x = 0;
    if (cpu_features.xsave)
        x = xgetbv(0);
    for (uint64_t i = 0; i < 10000000; i++)
        x += i;
    (void)x;
    vm_exit(0);
}

/* The root image (docs/protocol.md, section 1): the memory of an ivshmem PCI device (the image
 * file mapped by the host, shared and read-only, costing no guest RAM), else the first PVH module.
 * Returns 0 if there is neither. */
static int find_root_image(const struct range *module, const uint8_t **image, uint64_t *size)
{
    struct pci_dev dev;
    if (!pci_find(PCI_VENDOR_REDHAT, PCI_DEVICE_IVSHMEM, &dev)) {
        uint64_t bar_size, bar = pci_map_bar64(&dev, 2, &bar_size);
        if (!bar)
            panic("the ivshmem device's memory BAR cannot be mapped");
        *image = kmap_ram(bar, bar_size);
        if (!*image)
            panic("cannot map the root image (%lu MiB at %lx)", bar_size >> 20, bar);
        *size = bar_size;
        return 1;
    }
    if (!module->end)
        return 0;
    *image = phys_to_virt(module->start);
    *size = module->end - module->start;
    return 1;
}

/* The boot configuration or the program it names is unusable: not a kernel fault, so no panic.
 * Says why on the log, marks it for the host (protocol section 4) and exits with `code`. */
__attribute__((format(printf, 2, 3), noreturn)) static void cannot_start(int code, const char *fmt,
                                                                           ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    klog_start_line();
    kprintf("lwjvm: %s\n\x1elwjvm:error\n", buf);
    vm_exit(code);
}

/* The boot configuration's text, NUL-terminated; a root image without a readable one cannot
 * start a program: that is the image's fault, not the kernel's (exit 125, no panic). */
static char *read_boot_conf(uint64_t *len)
{
    struct inode *ino;
    int rc = vfs_lookup(0, BOOT_CONF, 1, &ino);
    if (rc)
        cannot_start(125, "cannot open %s: %s", BOOT_CONF, errno_name(-rc));
    char *buf = kmalloc(ino->size + 1);
    if (!buf)
        cannot_start(125, "%s is too large (%lu bytes)", BOOT_CONF, (uint64_t)ino->size);
    int64_t n = inode_read(ino, 0, buf, ino->size);
    if (n != (int64_t)ino->size)
        cannot_start(125, "cannot read %s: %s", BOOT_CONF, n < 0 ? errno_name((int)-n) : "short");
    buf[n] = 0;
    *len = (uint64_t)n;
    inode_put(ino);
    return buf;
}

void kmain(uint32_t start_info_phys)
{
    serial_init();
    cpu_init();
    const struct hvm_start_info *si = phys_to_virt(start_info_phys);
    if (si->magic != HVM_START_MAGIC)
        panic("not started through PVH (bad start info magic %x)", si->magic);
    if (si->cmdline_paddr)
        parse_cmdline(phys_to_virt(si->cmdline_paddr));
    if (opts.probe)
        run_probe();
    struct range module = {0, 0};
    if (si->nr_modules >= 1) {
        const struct hvm_modlist_entry *m = phys_to_virt(si->modlist_paddr);
        module = (struct range){m[0].paddr, m[0].paddr + m[0].size};
    }
    if (si->version < 1 || !si->memmap_entries)
        panic("the PVH start info has no memory map");
    uint64_t max_phys = memory_init(si, &module);
    paging_init(max_phys);
    uint64_t t_mem = rdtsc();
    tsc_init();
    uint64_t t_tsc = rdtsc();
    clock_init();
    random_init();
    uint64_t t_clock = rdtsc();
    syscall_trace = opts.trace;
    if (!opts.quiet)
        kprintf("lwjvm kernel: %lu MiB RAM, %lu MiB free, xsave %u bytes\n", max_phys >> 20,
                palloc_free_pages() >> 8, cpu_features.xsave_size);
    if (opts.panic_test)
        panic("deliberate panic requested by lwjvm.panic_test=1");
    struct thread *t = thread_create_main();
    control_init();
    smp_init(si->rsdp_paddr, sched_ap_start);
    struct bwait w = BWAIT_INIT;
    while (sched_ncpus() < smp_ncpus) { /* each AP is a moment from taking threads */
        if (bwait_expired(&w))
            panic("%u of %u CPUs take threads %u s after they started", sched_ncpus(), smp_ncpus,
                  wait_limit_s);
        __asm__ volatile("pause");
    }
    if (smp_ncpus > 1 && !opts.quiet)
        kprintf("lwjvm kernel: %u CPUs started\n", smp_ncpus);
    if (mm_wx_split < 0) /* before the program's first fault (mm/fault.h) */
        mm_wx_split = cpu_features.hypervisor == HV_TCG && smp_ncpus > 1;
    uint64_t t_sched = rdtsc();

    const uint8_t *image;
    uint64_t image_size;
    if (!find_root_image(&module, &image, &image_size))
        panic("no root image: give one as an ivshmem device or with -initrd");
    struct inode *root;
    int rc = ext4_vfs_mount(image, image_size, &root);
    if (rc)
        panic("cannot mount the root image: %s", errno_name(-rc));
    vfs_set_root(root);
    inode_put(root);
    rc = fs_mount_boot();
    if (rc)
        panic("cannot mount /dev, /proc, /sys and /tmp: %s", errno_name(-rc));

    uint64_t len;
    char *text = read_boot_conf(&len);
    struct bootconf bc;
    char err[128];
    if (bootconf_parse(text, len, &bc, kmalloc, err, sizeof err))
        cannot_start(125, "%s: %s", BOOT_CONF, err);
    rc = vfs_chdir(bc.cwd);
    if (rc) /* cwd= names nothing usable in the image: the configuration's fault */
        cannot_start(125, "%s: cannot change to the working directory \"%s\": %s", BOOT_CONF,
                     bc.cwd, errno_name(-rc));
    if (console_install_std_fds())
        panic("cannot open the consoles");

    virtio_probe_all();
    net_init(&bc);
    if (opts.volume[0]) {
        rc = volume_mount(opts.volume, opts.volume_ds);
        if (rc)
            cannot_start(125, "cannot mount the volume at %s: %s", opts.volume,
                         rc == -ENXIO    ? "no disk"
                         : rc == -ENOENT ? "no such dataset in it"
                         : rc == -EROFS  ? "that dataset is a snapshot (mount a clone of it)"
                                         : errno_name(-rc));
    }

    procfs_set_args(bc.argv, bc.envp);
    struct regs *frame = (struct regs *)(t->kstack + KSTACK_SIZE - sizeof(struct regs));
    uint64_t t_fs = rdtsc();
    rc = exec_load(bc.exec, bc.argv, bc.envp, frame);
    if (rc) /* as a shell reports it: 127 not found, 126 found but not runnable */
        cannot_start(rc == -ENOENT ? 127 : 126, "cannot start %s: %s", bc.exec, errno_name(-rc));
    if (kstats_enabled)
        kprintf("lwjvm: boot phases (us): memory %lu, tsc %lu, clocks %lu, scheduler %lu, "
                "root and boot.conf %lu, exec %lu\n",
                tsc_to_ns(t_mem - boot_tsc) / 1000, tsc_to_ns(t_tsc - t_mem) / 1000,
                tsc_to_ns(t_clock - t_tsc) / 1000, tsc_to_ns(t_sched - t_clock) / 1000,
                tsc_to_ns(t_fs - t_sched) / 1000, tsc_to_ns(rdtsc() - t_fs) / 1000);
    kprintf("\x1elwjvm:boot tsc_hz=%lu entry_to_user_ns=%lu\n", tsc_hz, tsc_ns_since_boot());
    enter_user(frame);
}
