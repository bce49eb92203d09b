/* procfs (mounted at /proc): the process files (/proc/self -> /proc/1: maps, status, stat, statm,
 * cmdline, environ, mountinfo, mounts, cgroup, coredump_filter, exe, cwd, root, fd/) and the
 * system files (cpuinfo from CPUID, meminfo from the page allocator, stat, uptime, loadavg,
 * cgroups, version, mounts, and the /proc/sys values programs read), in Linux's formats. */
#include "fs/pipe.h"
#include "fs/procfs.h"
#include "fs/volume.h"
#include "net/hostname.h"
#include "net/netdev.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/tsc.h"
#include "core/clock.h"
#include "core/cputime.h"
#include "errno.h"
#include "fs/procfs_maps.h"
#include "fs/pseudo.h"
#include "lib/printf.h"
#include "lib/string.h"
#include "linux_abi.h"
#include "loader/exec.h"
#include "mm/kheap.h"
#include "mm/palloc.h"
#include "mm/vma.h"
#include "sched/sched.h"
#include "sched/thread.h"

#define PID 1
#define NCPUS ((int)sched_ncpus())
#define USER_HZ 100
#define NS_PER_TICK (1000000000ul / USER_HZ)
#define DT_LNK 10


static char *args_text, *env_text; /* NUL-separated, as /proc/PID/cmdline and environ show */
static size_t args_len, env_len;
static uint32_t coredump_filter = 0x33;

/* Appends formatted text at *len (always counting the full length, writing only within size). */
__attribute__((format(printf, 4, 5))) static void out(char *buf, size_t size, size_t *len,
                                                      const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    size_t room = *len < size ? size - *len : 0;
    int n = vsnprintf(room ? buf + *len : 0, room, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len += (size_t)n;
}

static int copy_text(const char *text, size_t n, char *buf, size_t size)
{
    if (n < size)
        memcpy(buf, text, n);
    return (int)n;
}

static char *join_strings(char *const v[], size_t *len)
{
    size_t n = 0;
    for (int i = 0; v && v[i]; i++)
        n += strlen(v[i]) + 1;
    char *t = kmalloc(n + 1);
    if (!t)
        return 0;
    size_t at = 0;
    for (int i = 0; v && v[i]; i++) {
        size_t k = strlen(v[i]) + 1;
        memcpy(t + at, v[i], k);
        at += k;
    }
    *len = n;
    return t;
}

void procfs_set_args(char *const argv[], char *const envp[])
{
    args_text = join_strings(argv, &args_len);
    env_text = join_strings(envp, &env_len);
}

/* The program's name as Linux keeps it: the executable's base name, at most 15 bytes. */
static void comm(char name[16])
{
    const char *p = exec_path(), *slash = strchr(p, '/');
    while (slash) {
        p = slash + 1;
        slash = strchr(p, '/');
    }
    size_t n = strnlen(p, 15);
    memcpy(name, p, n);
    name[n] = 0;
}

static int threads(void) { return thread_count(); }

struct mem_use {
    uint64_t size, rss, stack, data, exe, lib; /* bytes */
};

static void mem_use(struct mem_use *u)
{
    memset(u, 0, sizeof *u);
    /* Every frame in use serves this one program. */
    u->rss = (palloc_total_pages() - palloc_free_pages()) * 4096ul;
    if (!current_mm)
        return;
    uint64_t fl = spin_lock_irqsave(&current_mm->lock);
    for (const struct vma *v = current_mm->vmas; v; v = v->next) {
        uint64_t len = v->end - v->start;
        u->size += len;
        if (v->name && !strcmp(v->name, "[stack]"))
            u->stack += len;
        else if (!v->inode && (v->flags & VM_WRITE) && !(v->flags & VM_SHARED))
            u->data += len;
        else if (v->inode && (v->flags & VM_EXEC))
            u->lib += len;
    }
    spin_unlock_irqrestore(&current_mm->lock, fl);
}

static void describe(const struct vma *v, struct maps_file *mf)
{
    struct linux_stat st;
    if (v->inode->ops->stat && !v->inode->ops->stat(v->inode, &st)) {
        mf->dev = st.st_dev;
        mf->ino = st.st_ino;
        mf->deleted = st.st_nlink == 0 && (st.st_mode & S_IFMT) == S_IFREG;
    }
    mf->path = v->inode->path;
}

static int gen_maps(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    if (!current_mm)
        return procfs_format_maps(buf, size, 0, describe);
    uint64_t fl = spin_lock_irqsave(&current_mm->lock);
    int len = procfs_format_maps(buf, size, current_mm->vmas, describe);
    spin_unlock_irqrestore(&current_mm->lock, fl);
    return len;
}

static int gen_status(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    char cpu_list[16];
    if (NCPUS == 1)
        snprintf(cpu_list, sizeof cpu_list, "0");
    else
        snprintf(cpu_list, sizeof cpu_list, "0-%d", NCPUS - 1);
    char name[16];
    comm(name);
    struct mem_use u;
    mem_use(&u);
    size_t len = 0;
    out(buf, size, &len,
        "Name:\t%s\nUmask:\t0022\nState:\tR (running)\nTgid:\t%d\nNgid:\t0\nPid:\t%d\nPPid:\t0\n"
        "TracerPid:\t0\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\nFDSize:\t%d\nGroups:\t \n"
        "NStgid:\t%d\nNSpid:\t%d\nNSpgid:\t%d\nNSsid:\t%d\n",
        name, PID, PID, MAX_FDS, PID, PID, PID, PID);
    out(buf, size, &len,
        "VmPeak:\t%8lu kB\nVmSize:\t%8lu kB\nVmLck:\t%8lu kB\nVmPin:\t%8lu kB\nVmHWM:\t%8lu kB\n"
        "VmRSS:\t%8lu kB\nRssAnon:\t%8lu kB\nRssFile:\t%8lu kB\nRssShmem:\t%8lu kB\n"
        "VmData:\t%8lu kB\nVmStk:\t%8lu kB\nVmExe:\t%8lu kB\nVmLib:\t%8lu kB\nVmPTE:\t%8lu kB\n"
        "VmSwap:\t%8lu kB\nHugetlbPages:\t%8lu kB\n",
        u.size >> 10, u.size >> 10, 0ul, 0ul, u.rss >> 10, u.rss >> 10, u.rss >> 10, 0ul, 0ul,
        u.data >> 10, u.stack >> 10, u.exe >> 10, u.lib >> 10, 0ul, 0ul, 0ul);
    out(buf, size, &len,
        "CoreDumping:\t0\nTHP_enabled:\t1\nThreads:\t%d\nSigQ:\t0/%d\n"
        "SigPnd:\t0000000000000000\nShdPnd:\t0000000000000000\nSigBlk:\t0000000000000000\n"
        "SigIgn:\t0000000000000000\nSigCgt:\t0000000000000000\nCapInh:\t0000000000000000\n"
        "CapPrm:\t000001ffffffffff\nCapEff:\t000001ffffffffff\nCapBnd:\t000001ffffffffff\n"
        "CapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t0\nSeccomp_filters:\t0\n"
        "Speculation_Store_Bypass:\tnot vulnerable\nCpus_allowed:\t%x\nCpus_allowed_list:\t%s\n"
        "Mems_allowed:\t00000001\nMems_allowed_list:\t0\nvoluntary_ctxt_switches:\t0\n"
        "nonvoluntary_ctxt_switches:\t0\n",
        threads(), 0x7fff, (1u << NCPUS) - 1, cpu_list);
    return (int)len;
}

static int gen_stat(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    char name[16];
    comm(name);
    struct mem_use u;
    mem_use(&u);
    uint64_t user, sys;
    cputime_split(cputime_process_ns(), &user, &sys);
    uint64_t brk = current_mm ? current_mm->brk_start : 0;
    uint64_t stack = current_mm ? current_mm->stack_top : 0;
    size_t len = 0;
    out(buf, size, &len,
        "%d (%s) R 0 %d %d 0 -1 4194560 0 0 0 0 %lu %lu 0 0 20 0 %d 0 0 %lu %lu "
        "18446744073709551615 0 0 %lu 0 0 0 0 0 0 0 0 0 17 0 0 0 0 0 0 0 0 %lu 0 0 0 0 0\n",
        PID, name, PID, PID, user / NS_PER_TICK, sys / NS_PER_TICK, threads(), u.size,
        u.rss / 4096ul, stack, brk);
    return (int)len;
}

static int gen_statm(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    struct mem_use u;
    mem_use(&u);
    return snprintf(buf, size, "%lu %lu 0 %lu 0 %lu 0\n", u.size / 4096ul, u.rss / 4096ul,
                    u.exe / 4096ul, (u.data + u.stack) / 4096ul);
}

static int gen_cmdline(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return copy_text(args_text ? args_text : "", args_text ? args_len : 0, buf, size);
}

static int gen_environ(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return copy_text(env_text ? env_text : "", env_text ? env_len : 0, buf, size);
}

static uint32_t root_dev(void)
{
    struct linux_stat st;
    struct inode *r = vfs_root();
    return r->ops->stat && !r->ops->stat(r, &st) ? (uint32_t)st.st_dev : 0;
}

static int gen_mountinfo(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    size_t len = 0;
    uint32_t rd = root_dev();
    out(buf, size, &len, "1 0 %u:%u / / ro,relatime - ext4 /dev/root ro\n", (rd >> 8) & 0xfff,
        rd & 0xff);
    const struct mount *m;
    for (int i = 0; (m = vfs_mount_at(i)); i++)
        out(buf, size, &len, "%d 1 %u:%u / %s %s - %s %s rw\n", i + 2, (m->dev >> 8) & 0xfff,
            m->dev & 0xff, m->path, m->options, m->fstype, m->source);
    return (int)len;
}

static int gen_mounts(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    size_t len = 0;
    out(buf, size, &len, "/dev/root / ext4 ro,relatime 0 0\n");
    const struct mount *m;
    for (int i = 0; (m = vfs_mount_at(i)); i++)
        out(buf, size, &len, "%s %s %s %s 0 0\n", m->source, m->path, m->fstype, m->options);
    return (int)len;
}

static int gen_cgroup(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "0::/\n");
}

static int gen_coredump_filter(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "%08x\n", coredump_filter);
}

/* Takes a number as Linux reads it here: 0x... hex, 0... octal, else decimal. */
static int store_coredump_filter(const char *text, size_t len)
{
    uint32_t v = 0, base = 10;
    size_t i = 0;
    if (len >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
        base = 16, i = 2;
    else if (len >= 1 && text[0] == '0')
        base = 8;
    if (i == len || text[i] == '\n')
        return -EINVAL;
    for (; i < len && text[i] != '\n'; i++) {
        char c = text[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10
                : c >= 'A' && c <= 'F' ? c - 'A' + 10 : 99;
        if ((uint32_t)d >= base)
            return -EINVAL;
        v = v * base + (uint32_t)d;
    }
    coredump_filter = v;
    return 0;
}

static int link_copy(const char *s, char *buf, size_t size)
{
    size_t n = strlen(s);
    if (n > size)
        n = size;
    memcpy(buf, s, n);
    return (int)n;
}

static int link_self(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_copy("1", buf, size);
}
static int link_thread_self(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_copy("1/task/1", buf, size);
}
static int link_exe(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_copy(exec_real_path(), buf, size);
}
static int link_cwd(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_copy(vfs_getcwd(), buf, size);
}
static int link_root(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_copy("/", buf, size);
}
static int link_mounts(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return link_copy("self/mounts", buf, size);
}

/* /proc/self/fd/N: where descriptor N leads. */
static int link_fd(struct pseudo_node *n, char *buf, size_t size)
{
    struct file *f = fd_get((int)n->data);
    if (!f)
        return -ENOENT;
    char tmp[48];
    const char *s = tmp;
    if ((f->inode->mode & S_IFMT) == S_IFIFO)
        snprintf(tmp, sizeof tmp, "pipe:[%lu]", f->inode->ino);
    else if ((f->inode->mode & S_IFMT) == S_IFSOCK)
        snprintf(tmp, sizeof tmp, "socket:[%lu]", f->inode->ino);
    else if (f->inode->path)
        s = f->inode->path;
    else
        snprintf(tmp, sizeof tmp, "anon_inode:[%lu]", f->inode->ino);
    return link_copy(s, buf, size);
}

static int fd_lookup(struct pseudo_node *dir, const char *name, size_t len, struct inode **out)
{
    uint64_t fd = 0;
    if (len == 0 || len > 4)
        return -ENOENT;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -ENOENT;
        fd = fd * 10 + (uint64_t)(name[i] - '0');
    }
    if (!fd_get((int)fd))
        return -ENOENT;
    struct pseudo_node *n = pseudo_transient(dir, S_IFLNK | 0700, 0x10000 + fd);
    if (!n)
        return -ENOMEM;
    n->data = fd;
    n->link = link_fd;
    *out = &n->inode;
    return 0;
}

static int fd_readdir(struct pseudo_node *dir, uint64_t index, struct vfs_dirent *d)
{
    (void)dir;
    uint64_t seen = 0;
    for (int fd = 0; fd < MAX_FDS; fd++) {
        if (!fd_get(fd) || seen++ != index)
            continue;
        d->ino = 0x10000 + (uint64_t)fd;
        d->type = DT_LNK;
        d->name_len = (uint8_t)snprintf(d->name, sizeof d->name, "%d", fd);
        return 1;
    }
    return 0;
}

/* A decimal name as a number, or -1. */
static long parse_number(const char *name, size_t len)
{
    long v = 0;
    if (len == 0 || len > 9)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (name[i] < '0' || name[i] > '9')
            return -1;
        v = v * 10 + (name[i] - '0');
    }
    return v;
}

static struct pseudo_node *process_dir, *thread_dir;

/* /proc/TID for any thread: Linux lets a thread id be looked up (not listed) as a process. */
static int root_lookup(struct pseudo_node *dir, const char *name, size_t len, struct inode **out)
{
    (void)dir;
    long tid = parse_number(name, len);
    if (tid <= 0 || !thread_find((int)tid))
        return -ENOENT;
    inode_get(&process_dir->inode);
    *out = &process_dir->inode;
    return 0;
}

/* /proc/self/task/TID: one directory per live thread (all alike for now). */
static int task_lookup(struct pseudo_node *dir, const char *name, size_t len, struct inode **out)
{
    (void)dir;
    long tid = parse_number(name, len);
    if (tid <= 0 || !thread_find((int)tid))
        return -ENOENT;
    inode_get(&thread_dir->inode);
    *out = &thread_dir->inode;
    return 0;
}

static int task_readdir(struct pseudo_node *dir, uint64_t index, struct vfs_dirent *d)
{
    (void)dir;
    uint64_t k = 0;
    for (struct thread *t = thread_first(); t; t = t->all_next) {
        if (k++ != index)
            continue;
        d->ino = 0x20000 + (uint64_t)t->tid;
        d->type = 4; /* DT_DIR */
        d->name_len = (uint8_t)snprintf(d->name, sizeof d->name, "%d", t->tid);
        return 1;
    }
    return 0;
}

/* CPUID feature bits by Linux's flag names, in the order /proc/cpuinfo lists them. */
struct cpu_flag_word {
    uint32_t leaf, sub;
    uint8_t reg; /* 0 eax, 1 ebx, 2 ecx, 3 edx */
    const char *names[32];
};

static const struct cpu_flag_word flag_words[] = {
    {1, 0, 3, {"fpu", "vme", "de", "pse", "tsc", "msr", "pae", "mce", "cx8", "apic", 0, "sep",
               "mtrr", "pge", "mca", "cmov", "pat", "pse36", "pn", "clflush", 0, "dts", "acpi",
               "mmx", "fxsr", "sse", "sse2", "ss", "ht", "tm", "ia64", "pbe"}},
    {0x80000001, 0, 3, {[11] = "syscall", [19] = "mp", [20] = "nx", [22] = "mmxext",
                        [25] = "fxsr_opt", [26] = "pdpe1gb", [27] = "rdtscp", [29] = "lm",
                        [30] = "3dnowext", [31] = "3dnow"}},
    {1, 0, 2, {"pni", "pclmulqdq", "dtes64", "monitor", "ds_cpl", "vmx", "smx", "est", "tm2",
               "ssse3", "cid", "sdbg", "fma", "cx16", "xtpr", "pdcm", 0, "pcid", "dca", "sse4_1",
               "sse4_2", "x2apic", "movbe", "popcnt", "tsc_deadline_timer", "aes", "xsave", 0,
               "avx", "f16c", "rdrand", "hypervisor"}},
    {0x80000001, 0, 2, {"lahf_lm", "cmp_legacy", "svm", "extapic", "cr8_legacy", "abm", "sse4a",
                        "misalignsse", "3dnowprefetch", "osvw", "ibs", "xop", "skinit", "wdt", 0,
                        "lwp", "fma4", "tce", 0, "nodeid_msr", 0, "tbm", "topoext",
                        "perfctr_core", "perfctr_nb", 0, "bpext", "ptsc", "perfctr_llc",
                        "mwaitx"}},
    {7, 0, 1, {"fsgsbase", "tsc_adjust", "sgx", "bmi1", "hle", "avx2", 0, "smep", "bmi2", "erms",
               "invpcid", "rtm", "cqm", 0, "mpx", "rdt_a", "avx512f", "avx512dq", "rdseed", "adx",
               "smap", "avx512ifma", 0, "clflushopt", "clwb", "intel_pt", "avx512pf", "avx512er",
               "avx512cd", "sha_ni", "avx512bw", "avx512vl"}},
    {0xd, 1, 0, {"xsaveopt", "xsavec", "xgetbv1", "xsaves"}},
    {7, 1, 0, {[4] = "avx_vnni", [5] = "avx512_bf16"}},
    {7, 0, 2, {[1] = "avx512vbmi", [2] = "umip", [3] = "pku", [4] = "ospke", [5] = "waitpkg",
               [6] = "avx512_vbmi2", [8] = "gfni", [9] = "vaes", [10] = "vpclmulqdq",
               [11] = "avx512_vnni", [12] = "avx512_bitalg", [13] = "tme",
               [14] = "avx512_vpopcntdq", [16] = "la57", [22] = "rdpid", [25] = "cldemote",
               [27] = "movdiri", [28] = "movdir64b", [29] = "enqcmd"}},
    {7, 0, 3, {[2] = "avx512_4vnniw", [3] = "avx512_4fmaps", [4] = "fsrm",
               [8] = "avx512_vp2intersect", [10] = "md_clear", [14] = "serialize",
               [16] = "tsxldtrk", [18] = "pconfig", [19] = "arch_lbr", [22] = "amx_bf16",
               [23] = "avx512_fp16", [24] = "amx_tile", [25] = "amx_int8", [28] = "flush_l1d",
               [29] = "arch_capabilities"}},
};

static int gen_cpuinfo(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    uint32_t r[4], max_leaf, max_ext;
    cpuid(0, 0, r);
    max_leaf = r[0];
    char vendor[13];
    memcpy(vendor, &r[1], 4);
    memcpy(vendor + 4, &r[3], 4);
    memcpy(vendor + 8, &r[2], 4);
    vendor[12] = 0;
    cpuid(0x80000000, 0, r);
    max_ext = r[0];
    char model_name[49] = "unknown";
    if (max_ext >= 0x80000004) {
        for (uint32_t k = 0; k < 3; k++) {
            cpuid(0x80000002 + k, 0, r);
            memcpy(model_name + 16 * k, r, 16);
        }
        model_name[48] = 0;
    }
    const char *mn = model_name;
    while (*mn == ' ')
        mn++;
    cpuid(1, 0, r);
    uint32_t family = (r[0] >> 8) & 0xf, model = (r[0] >> 4) & 0xf, stepping = r[0] & 0xf;
    if (family == 0xf)
        family += (r[0] >> 20) & 0xff;
    if (family >= 6)
        model += ((r[0] >> 16) & 0xf) << 4;
    uint32_t clflush = ((r[1] >> 8) & 0xff) * 8;
    uint32_t phys_bits = 36, virt_bits = 48, cache_kb = 0;
    if (max_ext >= 0x80000008) {
        cpuid(0x80000008, 0, r);
        phys_bits = r[0] & 0xff;
        virt_bits = (r[0] >> 8) & 0xff;
    }
    if (max_ext >= 0x80000006) {
        cpuid(0x80000006, 0, r);
        cache_kb = r[2] >> 16;
    }
    uint64_t khz = tsc_hz / 1000;
    size_t len = 0;
    for (int cpu = 0; cpu < NCPUS; cpu++) {
        out(buf, size, &len,
            "processor\t: %d\nvendor_id\t: %s\ncpu family\t: %u\nmodel\t\t: %u\n"
            "model name\t: %s\nstepping\t: %u\nmicrocode\t: 0x1\ncpu MHz\t\t: %lu.%03lu\n"
            "cache size\t: %u KB\nphysical id\t: 0\nsiblings\t: %d\ncore id\t\t: %d\n"
            "cpu cores\t: %d\napicid\t\t: %d\ninitial apicid\t: %d\nfpu\t\t: yes\n"
            "fpu_exception\t: yes\ncpuid level\t: %u\nwp\t\t: yes\nflags\t\t:",
            cpu, vendor, family, model, mn, stepping, khz / 1000, khz % 1000, cache_kb, NCPUS,
            cpu, NCPUS, cpu, cpu, max_leaf);
        for (size_t w = 0; w < sizeof flag_words / sizeof flag_words[0]; w++) {
            const struct cpu_flag_word *fw = &flag_words[w];
            if (fw->leaf >= 0x80000000 ? fw->leaf > max_ext : fw->leaf > max_leaf)
                continue;
            cpuid(fw->leaf, fw->sub, r);
            for (int b = 0; b < 32; b++)
                if (fw->names[b] && (r[fw->reg] >> b & 1))
                    out(buf, size, &len, " %s", fw->names[b]);
        }
        out(buf, size, &len,
            "\nbugs\t\t:\nbogomips\t: %lu.%02lu\nclflush size\t: %u\ncache_alignment\t: %u\n"
            "address sizes\t: %u bits physical, %u bits virtual\npower management:\n\n",
            khz * 2 / 1000, (khz * 2 / 10) % 100, clflush, clflush, phys_bits, virt_bits);
    }
    return (int)len;
}

static int gen_meminfo(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    uint64_t total = palloc_total_pages() * 4, fr = palloc_free_pages() * 4;
    uint64_t slab = kheap_in_use() / 1024;
    size_t len = 0;
    struct {
        const char *key;
        uint64_t kb;
    } rows[] = {
        {"MemTotal", total}, {"MemFree", fr}, {"MemAvailable", fr}, {"Buffers", 0},
        {"Cached", 0}, {"SwapCached", 0}, {"Active", total - fr}, {"Inactive", 0},
        {"Active(anon)", total - fr}, {"Inactive(anon)", 0}, {"Active(file)", 0},
        {"Inactive(file)", 0}, {"Unevictable", 0}, {"Mlocked", 0}, {"SwapTotal", 0},
        {"SwapFree", 0}, {"Dirty", 0}, {"Writeback", 0}, {"AnonPages", total - fr},
        {"Mapped", 0}, {"Shmem", 0}, {"KReclaimable", 0}, {"Slab", slab}, {"SReclaimable", 0},
        {"SUnreclaim", slab}, {"KernelStack", 0}, {"PageTables", 0}, {"NFS_Unstable", 0},
        {"Bounce", 0}, {"WritebackTmp", 0}, {"CommitLimit", total}, {"Committed_AS", total - fr},
        {"VmallocTotal", 34359738367}, {"VmallocUsed", 0}, {"VmallocChunk", 0}, {"Percpu", 0},
        {"HardwareCorrupted", 0}, {"AnonHugePages", 0}, {"ShmemHugePages", 0},
        {"ShmemPmdMapped", 0}, {"FileHugePages", 0}, {"FilePmdMapped", 0},
    };
    for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
        char key[24];
        snprintf(key, sizeof key, "%s:", rows[i].key);
        out(buf, size, &len, "%-15s %8lu kB\n", key, rows[i].kb);
    }
    out(buf, size, &len,
        "HugePages_Total:       0\nHugePages_Free:        0\nHugePages_Rsvd:        0\n"
        "HugePages_Surp:        0\nHugepagesize:       2048 kB\nHugetlb:               0 kB\n"
        "DirectMap4k:    %8lu kB\nDirectMap2M:           0 kB\nDirectMap1G:           0 kB\n",
        total);
    return (int)len;
}

static int gen_proc_stat(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    uint64_t up = tsc_ns_since_boot(), busy = cputime_process_ns(), user, sys;
    uint64_t idle = up > busy ? up - busy : 0;
    cputime_split(busy, &user, &sys);
    uint64_t btime = (clock_realtime_ns() - up) / 1000000000;
    size_t len = 0;
    /* Each CPU's idle thread's time is its idle time; the rest is the program's, split into user
     * and system time in the process's proportion. The first line is the sum. */
    (void)idle;
    (void)user;
    (void)sys;
    int ncpus = NCPUS;
    uint64_t cu[MAX_CPUS], cs[MAX_CPUS], ci[MAX_CPUS], tu = 0, ts = 0, ti = 0;
    for (int cpu = 0; cpu < ncpus && cpu < MAX_CPUS; cpu++) {
        ci[cpu] = tsc_to_ns(sched_cpu_idle_tsc((unsigned)cpu));
        if (ci[cpu] > up)
            ci[cpu] = up;
        cputime_split(up - ci[cpu], &cu[cpu], &cs[cpu]);
        tu += cu[cpu];
        ts += cs[cpu];
        ti += ci[cpu];
    }
    out(buf, size, &len, "cpu  %lu 0 %lu %lu 0 0 0 0 0 0\n", tu / NS_PER_TICK, ts / NS_PER_TICK,
        ti / NS_PER_TICK);
    for (int cpu = 0; cpu < ncpus && cpu < MAX_CPUS; cpu++)
        out(buf, size, &len, "cpu%d %lu 0 %lu %lu 0 0 0 0 0 0\n", cpu, cu[cpu] / NS_PER_TICK,
            cs[cpu] / NS_PER_TICK, ci[cpu] / NS_PER_TICK);
    out(buf, size, &len,
        "intr 0\nctxt 0\nbtime %lu\nprocesses 1\nprocs_running 1\nprocs_blocked 0\n"
        "softirq 0 0 0 0 0 0 0 0 0 0 0\n",
        btime);
    return (int)len;
}

static int gen_uptime(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    uint64_t up = tsc_ns_since_boot(), busy = cputime_process_ns();
    uint64_t cs = up / 10000000, idle = (up > busy ? up - busy : 0) / 10000000;
    return snprintf(buf, size, "%lu.%02lu %lu.%02lu\n", cs / 100, cs % 100, idle / 100,
                    idle % 100);
}

static int gen_loadavg(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "0.00 0.00 0.00 1/%d %d\n", threads(), PID);
}

/* /proc/lwjvm/volume: the data volume's block cache and transaction counters (fs/volume.c). */
static int gen_volume(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return volume_proc_stats(buf, size);
}

static int gen_cgroups(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "#subsys_name\thierarchy\tnum_cgroups\tenabled\n");
}

static int gen_version(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "Linux version 6.1.0-lwjvm (lwjvm) #1 SMP PREEMPT_DYNAMIC\n");
}

static int gen_filesystems(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "nodev\tsysfs\nnodev\ttmpfs\nnodev\tproc\nnodev\tdevtmpfs\n"
                               "nodev\tpipefs\n\text4\n");
}

#define GEN_NUMBER(fn, text)                                                                       \
    static int fn(struct pseudo_node *n, char *buf, size_t size)                                   \
    {                                                                                              \
        (void)n;                                                                                   \
        return snprintf(buf, size, "%s\n", text);                                                  \
    }
GEN_NUMBER(gen_overcommit, "0")
GEN_NUMBER(gen_max_map_count, "65530")
GEN_NUMBER(gen_mmap_min_addr, "65536")
GEN_NUMBER(gen_pid_max, "4194304")
GEN_NUMBER(gen_osrelease, "6.1.0-lwjvm")
static int gen_hostname(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "%s\n", net_hostname());
}
static int gen_if_inet6(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return net_gen_if_inet6(buf, size);
}
GEN_NUMBER(gen_nr_open, "1048576")
static int gen_threads_max(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "%lu\n", (unsigned long)thread_max());
}

static int gen_pipe_max_size(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "%lu\n", pipe_max_size());
}
static int gen_pipe_soft(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "%lu\n", pipe_user_pages_soft());
}
static int gen_pipe_hard(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "%lu\n", pipe_user_pages_hard());
}
GEN_NUMBER(gen_somaxconn, "4096")
GEN_NUMBER(gen_randomize, "2")

/* The per-process directory (/proc/1). */
static int build_process_dir(struct pseudo_node *p)
{
    struct pseudo_node *fd = pseudo_dir(p, "fd");
    if (!fd)
        return 0;
    fd->dyn_lookup = fd_lookup;
    fd->dyn_readdir = fd_readdir;
    struct pseudo_node *cf = pseudo_file(p, "coredump_filter", 0644, gen_coredump_filter);
    if (!cf)
        return 0;
    cf->store = store_coredump_filter;
    return pseudo_file(p, "maps", 0444, gen_maps) && pseudo_file(p, "status", 0444, gen_status) &&
           pseudo_file(p, "stat", 0444, gen_stat) && pseudo_file(p, "statm", 0444, gen_statm) &&
           pseudo_file(p, "cmdline", 0444, gen_cmdline) &&
           pseudo_file(p, "environ", 0400, gen_environ) &&
           pseudo_file(p, "mountinfo", 0444, gen_mountinfo) &&
           pseudo_file(p, "mounts", 0444, gen_mounts) &&
           pseudo_file(p, "cgroup", 0444, gen_cgroup) && pseudo_symlink(p, "exe", link_exe) &&
           pseudo_symlink(p, "cwd", link_cwd) && pseudo_symlink(p, "root", link_root);
}

int procfs_new(uint32_t dev, struct inode **root)
{
    struct pseudo_node *r = pseudo_new_fs(dev);
    if (!r)
        return -ENOMEM;
    struct pseudo_node *p = pseudo_dir(r, "1");
    struct pseudo_node *task = p ? pseudo_dir(p, "task") : 0;
    struct pseudo_node *t1 = task ? pseudo_new_fs(dev) : 0; /* found through task_lookup */
    struct pseudo_node *sys = pseudo_dir(r, "sys");
    struct pseudo_node *kernel = sys ? pseudo_dir(sys, "kernel") : 0;
    struct pseudo_node *vm = sys ? pseudo_dir(sys, "vm") : 0;
    struct pseudo_node *fs = sys ? pseudo_dir(sys, "fs") : 0;
    struct pseudo_node *net = sys ? pseudo_dir(sys, "net") : 0;
    struct pseudo_node *core = net ? pseudo_dir(net, "core") : 0;
    struct pseudo_node *pnet = pseudo_dir(r, "net");
    struct pseudo_node *lw = pseudo_dir(r, "lwjvm");
    int ok = t1 && kernel && vm && fs && core && pnet && lw && build_process_dir(p) &&
             pseudo_file(lw, "volume", 0444, gen_volume) &&
             pseudo_file(pnet, "if_inet6", 0444, gen_if_inet6) &&
             pseudo_file(t1, "stat", 0444, gen_stat) &&
             pseudo_file(t1, "status", 0444, gen_status) &&
             pseudo_symlink(r, "self", link_self) &&
             pseudo_symlink(r, "thread-self", link_thread_self) &&
             pseudo_symlink(r, "mounts", link_mounts) &&
             pseudo_file(r, "cpuinfo", 0444, gen_cpuinfo) &&
             pseudo_file(r, "meminfo", 0444, gen_meminfo) &&
             pseudo_file(r, "stat", 0444, gen_proc_stat) &&
             pseudo_file(r, "uptime", 0444, gen_uptime) &&
             pseudo_file(r, "loadavg", 0444, gen_loadavg) &&
             pseudo_file(r, "cgroups", 0444, gen_cgroups) &&
             pseudo_file(r, "version", 0444, gen_version) &&
             pseudo_file(r, "filesystems", 0444, gen_filesystems) &&
             pseudo_file(vm, "overcommit_memory", 0644, gen_overcommit) &&
             pseudo_file(vm, "max_map_count", 0644, gen_max_map_count) &&
             pseudo_file(vm, "mmap_min_addr", 0644, gen_mmap_min_addr) &&
             pseudo_file(kernel, "pid_max", 0644, gen_pid_max) &&
             pseudo_file(kernel, "threads-max", 0644, gen_threads_max) &&
             pseudo_file(kernel, "osrelease", 0444, gen_osrelease) &&
             pseudo_file(kernel, "hostname", 0644, gen_hostname) &&
             pseudo_file(kernel, "randomize_va_space", 0644, gen_randomize) &&
             pseudo_file(fs, "nr_open", 0644, gen_nr_open) &&
             pseudo_file(fs, "pipe-max-size", 0644, gen_pipe_max_size) &&
             pseudo_file(fs, "pipe-user-pages-soft", 0644, gen_pipe_soft) &&
             pseudo_file(fs, "pipe-user-pages-hard", 0644, gen_pipe_hard) &&
             pseudo_file(core, "somaxconn", 0644, gen_somaxconn);
    if (!ok)
        return -ENOMEM;
    t1->parent = task;
    t1->name = "1";
    t1->inode.fs = r->inode.fs;
    r->dyn_lookup = root_lookup;
    task->dyn_lookup = task_lookup;
    task->dyn_readdir = task_readdir;
    process_dir = p;
    thread_dir = t1;
    *root = &r->inode;
    return 0;
}
