/* sysfs (mounted at /sys): only the files programs read to size themselves: the CPU lists under
 * /sys/devices/system/cpu and the transparent huge page settings (we back large anonymous areas
 * with 2 MiB pages, so "always"). No /sys/fs/cgroup: the JVM then sees no container limits. */
#include "fs/sysfs.h"
#include "errno.h"
#include "fs/pseudo.h"
#include "lib/printf.h"
#include "sched/sched.h"

#define NCPUS ((int)sched_ncpus()) /* the CPUs taking threads */

static int gen_cpu_list(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return NCPUS == 1 ? snprintf(buf, size, "0\n") : snprintf(buf, size, "0-%d\n", NCPUS - 1);
}

static int gen_kernel_max(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "%d\n", NCPUS - 1);
}

static int gen_thp_enabled(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "[always] madvise never\n");
}

static int gen_thp_defrag(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "always defer defer+madvise [madvise] never\n");
}

static int gen_thp_shmem(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "always within_size advise [never] deny force\n");
}

static int gen_pmd_size(struct pseudo_node *n, char *buf, size_t size)
{
    (void)n;
    return snprintf(buf, size, "2097152\n");
}

int sysfs_new(uint32_t dev, struct inode **root)
{
    struct pseudo_node *r = pseudo_new_fs(dev);
    if (!r)
        return -ENOMEM;
    struct pseudo_node *devices = pseudo_dir(r, "devices");
    struct pseudo_node *system = devices ? pseudo_dir(devices, "system") : 0;
    struct pseudo_node *cpu = system ? pseudo_dir(system, "cpu") : 0;
    struct pseudo_node *cpu0 = cpu ? pseudo_dir(cpu, "cpu0") : 0;
    struct pseudo_node *kernel = pseudo_dir(r, "kernel");
    struct pseudo_node *mm = kernel ? pseudo_dir(kernel, "mm") : 0;
    struct pseudo_node *thp = mm ? pseudo_dir(mm, "transparent_hugepage") : 0;
    struct pseudo_node *hp = mm ? pseudo_dir(mm, "hugepages") : 0;
    int ok = cpu0 && thp && hp && pseudo_dir(r, "fs") &&
             pseudo_file(cpu, "online", 0444, gen_cpu_list) &&
             pseudo_file(cpu, "possible", 0444, gen_cpu_list) &&
             pseudo_file(cpu, "present", 0444, gen_cpu_list) &&
             pseudo_file(cpu, "kernel_max", 0444, gen_kernel_max) &&
             pseudo_file(thp, "enabled", 0644, gen_thp_enabled) &&
             pseudo_file(thp, "defrag", 0644, gen_thp_defrag) &&
             pseudo_file(thp, "shmem_enabled", 0644, gen_thp_shmem) &&
             pseudo_file(thp, "hpage_pmd_size", 0444, gen_pmd_size);
    if (!ok)
        return -ENOMEM;
    *root = &r->inode;
    return 0;
}
