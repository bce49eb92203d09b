/* A dynamically linked program: the interpreter loads libc and libm, relocates, runs constructors,
 * and the auxiliary vector tells it where everything is. */
#include <elf.h>
#include <link.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/auxv.h>

#include "../check.h"

static int constructor_ran;

__attribute__((constructor)) static void init(void)
{
    constructor_ran = 1;
}

struct libs {
    int libc, libm, vdso, objects;
};

static int each_object(struct dl_phdr_info *info, size_t size, void *arg)
{
    (void)size;
    struct libs *l = arg;
    l->objects++;
    l->libc |= strstr(info->dlpi_name, "libc.so.6") != NULL;
    l->libm |= strstr(info->dlpi_name, "libm.so.6") != NULL;
    l->vdso |= strstr(info->dlpi_name, "linux-vdso.so.1") != NULL;
    return 0;
}

int main(int argc, char **argv)
{
    (void)argv;
    printf("Hello from a dynamically linked program!\n");
    CHECK("constructor ran before main", constructor_ran);
    volatile double x = argc * 0.5; /* 0.5: the compiler cannot fold the libm calls */
    printf("cos(0.5)=%.6f sqrt(0.5)=%.6f\n", cos(x), sqrt(x));

    CHECK("AT_BASE (the interpreter) is set", getauxval(AT_BASE) != 0);
    CHECK("AT_SYSINFO_EHDR (the vDSO) is set", getauxval(AT_SYSINFO_EHDR) != 0);
    CHECK("AT_ENTRY is set", getauxval(AT_ENTRY) != 0);
    const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    int has_interp = 0;
    for (unsigned long i = 0; phdr && i < getauxval(AT_PHNUM); i++)
        has_interp |= phdr[i].p_type == PT_INTERP;
    CHECK("AT_PHDR points at our program headers (PT_INTERP found)", has_interp);

    struct libs l = {0};
    dl_iterate_phdr(each_object, &l);
    CHECK("libc.so.6 is loaded", l.libc);
    CHECK("libm.so.6 is loaded", l.libm);
    CHECK("the vDSO is among the loaded objects", l.vdso);
    return check_done();
}
