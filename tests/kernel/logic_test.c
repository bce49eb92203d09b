/* Host unit tests for kernel logic with no hardware dependency: the buddy page allocator
 * (kernel/mm/palloc.c), ELF checks (kernel/loader/elf.c) and the boot configuration parser
 * (kernel/core/bootconf.c). Built with ASan/UBSan by tests/kernel/test_kernel_logic.py.
 * Usage: logic_test palloc | elf FILE... | bootconf | fuzz-elf SEED N FILE | fuzz-bootconf SEED N
 * The fuzz modes feed mutated headers and files to the same checks, in buffers of their exact size,
 * so the sanitizers catch any read past the end; they run only these parsers, never syscalls. */
#include "core/bootconf.h"
#include "errno.h"
#include "loader/elf.h"
#include "mm/palloc.h"
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The kernel's spinlocks panic on a double acquire. */
void panic(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    exit(1);
}


static int failures;
#define CHECK(c)                                                                                  \
    do {                                                                                          \
        if (!(c)) {                                                                               \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);                \
            failures++;                                                                           \
        }                                                                                         \
    } while (0)

#define NPAGES 4096

static unsigned char owner[NPAGES]; /* shadow map: which frames are handed out */

static int in_ram(uint64_t pfn)
{
    /* The test's "RAM": frames [16, 1000) and [1024, 4000); the rest is reserved. */
    return (pfn >= 16 && pfn < 1000) || (pfn >= 1024 && pfn < 4000);
}

static void take(uint64_t phys, unsigned order)
{
    uint64_t pfn = phys >> PAGE_SHIFT;
    CHECK(phys % (PAGE_SIZE << order) == 0);
    for (uint64_t i = 0; i < (1ull << order); i++) {
        CHECK(pfn + i < NPAGES && in_ram(pfn + i));
        CHECK(!owner[pfn + i]);
        owner[pfn + i] = 1;
    }
}

static void give(uint64_t phys, unsigned order)
{
    uint64_t pfn = phys >> PAGE_SHIFT;
    for (uint64_t i = 0; i < (1ull << order); i++)
        owner[pfn + i] = 0;
    palloc_free(phys, order);
}

/* A reclaimer as the balloon is one: pages it took, chained through their struct page, given
 * back RECLAIM_BATCH at a time. */
#define RECLAIM_BATCH 10
static uint32_t held = PFN_NONE;
static uint64_t nheld, reclaim_calls;

static uint64_t test_reclaim(void)
{
    reclaim_calls++;
    uint64_t n = 0;
    while (held != PFN_NONE && n < RECLAIM_BATCH) {
        uint64_t phys = (uint64_t)held << PAGE_SHIFT;
        held = palloc_page(phys)->next;
        give(phys, 0);
        nheld--;
        n++;
    }
    return n;
}

/* palloc_alloc asks the reclaimer only when nothing is free, palloc_try_alloc never; once the
 * reclaimer has nothing left, the allocation fails. */
static void test_palloc_reclaim(uint64_t total)
{
    static uint64_t got[NPAGES];
    uint64_t n = 0, p;
    for (int i = 0; i < 25; i++) {
        p = palloc_try_alloc(0);
        CHECK(p != 0);
        take(p, 0);
        palloc_page(p)->next = held;
        held = (uint32_t)(p >> PAGE_SHIFT);
        nheld++;
    }
    palloc_set_reclaim(test_reclaim);
    while ((p = palloc_try_alloc(0)) != 0) {
        take(p, 0);
        got[n++] = p;
    }
    CHECK(reclaim_calls == 0);
    CHECK(n + nheld == total);
    /* 25 held pages: three reclaims give 10, 10 and 5; the fourth gives none. */
    uint64_t before = n;
    while ((p = palloc_alloc(0)) != 0) {
        take(p, 0);
        got[n++] = p;
    }
    CHECK(n - before == 25);
    CHECK(nheld == 0);
    CHECK(reclaim_calls == 4);
    CHECK(palloc_free_pages() == 0);
    palloc_set_reclaim(0);
    for (uint64_t i = 0; i < n; i++)
        give(got[i], 0);
    CHECK(palloc_free_pages() == total);
}

static void test_palloc(void)
{
    static struct page meta[NPAGES];
    palloc_init(meta, NPAGES);
    palloc_add_range(16 * PAGE_SIZE, 1000 * PAGE_SIZE);
    palloc_add_range(1024 * PAGE_SIZE + 1, 4000 * PAGE_SIZE + 100); /* rounded inwards */
    palloc_add_range(1024 * PAGE_SIZE, 1025 * PAGE_SIZE);
    uint64_t total = 984 + 2976;
    CHECK(palloc_total_pages() == total);
    CHECK(palloc_free_pages() == total);

    /* Exhaust with single pages; every frame is in RAM and handed out once. */
    static uint64_t got[NPAGES];
    uint64_t n = 0, p;
    while ((p = palloc_alloc(0)) != 0) {
        take(p, 0);
        got[n++] = p;
    }
    CHECK(n == total);
    CHECK(palloc_free_pages() == 0);
    for (uint64_t i = 0; i < n; i++)
        give(got[i], 0);
    CHECK(palloc_free_pages() == total);
    /* Coalescing: a 4 MiB block exists again inside [1024, 4000). */
    p = palloc_alloc(PALLOC_MAX_ORDER);
    CHECK(p != 0);
    if (p) {
        take(p, PALLOC_MAX_ORDER);
        give(p, PALLOC_MAX_ORDER);
    }
    CHECK(palloc_alloc(PALLOC_MAX_ORDER + 1) == 0);

    /* Random mix of orders against the shadow map. */
    struct {
        uint64_t phys;
        unsigned order;
    } live[2000];
    int nlive = 0;
    srand(7);
    for (int step = 0; step < 200000; step++) {
        if (nlive < 2000 && (rand() % 3 != 0 || nlive == 0)) {
            unsigned order = (unsigned)(rand() % 6);
            uint64_t ph = palloc_alloc(order);
            if (ph) {
                take(ph, order);
                CHECK(palloc_page(ph)->refcount == 1);
                live[nlive].phys = ph;
                live[nlive++].order = order;
            }
        } else {
            int k = rand() % nlive;
            give(live[k].phys, live[k].order);
            live[k] = live[--nlive];
        }
    }
    while (nlive) {
        nlive--;
        give(live[nlive].phys, live[nlive].order);
    }
    CHECK(palloc_free_pages() == total);
    CHECK(palloc_page((uint64_t)NPAGES << PAGE_SHIFT) == 0);
    test_palloc_reclaim(total);
}

static void test_elf_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != 0);
    if (!f)
        return;
    static unsigned char buf[64 << 20];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    const struct elf64_ehdr *eh = (const void *)buf;
    CHECK(elf_check_header(eh, len) == 0);
    uint64_t lo, hi;
    CHECK(elf_check_phdrs((const void *)(buf + eh->phoff), eh->phnum, len, &lo, &hi) == 0);
    CHECK(lo < hi && lo % 4096 == 0 && hi % 4096 == 0);

    /* Corruptions of a copy of the real header are refused. */
    struct elf64_ehdr bad;
    memcpy(&bad, eh, sizeof bad);
    bad.ident[1] = 'X';
    CHECK(elf_check_header(&bad, len) == -ENOEXEC);
    memcpy(&bad, eh, sizeof bad);
    bad.ident[4] = 1; /* ELFCLASS32 */
    CHECK(elf_check_header(&bad, len) == -ENOEXEC);
    memcpy(&bad, eh, sizeof bad);
    bad.machine = 183; /* aarch64 */
    CHECK(elf_check_header(&bad, len) == -ENOEXEC);
    memcpy(&bad, eh, sizeof bad);
    bad.type = 1; /* ET_REL */
    CHECK(elf_check_header(&bad, len) == -ENOEXEC);
    memcpy(&bad, eh, sizeof bad);
    bad.phoff = len - 8;
    CHECK(elf_check_header(&bad, len) == -ENOEXEC);
    memcpy(&bad, eh, sizeof bad);
    bad.phnum = 0;
    CHECK(elf_check_header(&bad, len) == -ENOEXEC);
    CHECK(elf_check_header(eh, 32) == -ENOEXEC);

    struct elf64_phdr ph[ELF_MAX_PHNUM];
    memcpy(ph, buf + eh->phoff, sizeof(struct elf64_phdr) * eh->phnum);
    for (unsigned i = 0; i < eh->phnum; i++) {
        if (ph[i].type != PT_LOAD)
            continue;
        struct elf64_phdr saved = ph[i];
        ph[i].filesz = ph[i].memsz + 1;
        CHECK(elf_check_phdrs(ph, eh->phnum, len, &lo, &hi) == -ENOEXEC);
        ph[i] = saved;
        ph[i].offset += 1;
        CHECK(elf_check_phdrs(ph, eh->phnum, len, &lo, &hi) == -ENOEXEC);
        ph[i] = saved;
        ph[i].vaddr = 0x7ffffffff000ull;
        ph[i].offset = 0;
        ph[i].memsz = 0x2000;
        CHECK(elf_check_phdrs(ph, eh->phnum, len, &lo, &hi) == -ENOEXEC);
        ph[i] = saved;
        ph[i].offset = len;
        ph[i].vaddr = len;
        CHECK(elf_check_phdrs(ph, eh->phnum, len, &lo, &hi) == -ENOEXEC);
        ph[i] = saved;
        break;
    }
}

/* The parser's arrays live for the kernel's lifetime; here they come from a bump arena. */
static size_t used;
static void *arena_alloc(size_t n)
{
    static _Alignas(16) char arena[1 << 16];
    n = (n + 15) & ~(size_t)15;
    if (used + n > sizeof arena)
        return 0;
    used += n;
    return arena + used - n;
}

static int parse(const char *text, struct bootconf *bc, char *err)
{
    static char buf[4096];
    size_t len = strlen(text);
    memcpy(buf, text, len + 1);
    return bootconf_parse(buf, len, bc, arena_alloc, err, 128);
}

static void test_bootconf(void)
{
    struct bootconf bc;
    char err[128];
    CHECK(parse("lwjvm-boot 1\n# comment\n\nexec=/bin/hello\narg=hello\narg=two\\nlines\\\\x\n"
                "env=A=b=c\nenv=EMPTY=\ncwd=/tmp\n",
                &bc, err) == 0);
    CHECK(!strcmp(bc.exec, "/bin/hello"));
    CHECK(bc.argc == 2 && !strcmp(bc.argv[0], "hello") && !strcmp(bc.argv[1], "two\nlines\\x"));
    CHECK(bc.argv[2] == 0);
    CHECK(bc.envc == 2 && !strcmp(bc.envp[0], "A=b=c") && !strcmp(bc.envp[1], "EMPTY="));
    CHECK(!strcmp(bc.cwd, "/tmp"));
    /* No trailing newline, default cwd. */
    CHECK(parse("lwjvm-boot 1\nexec=/x\narg=x", &bc, err) == 0);
    CHECK(!strcmp(bc.argv[0], "x") && !strcmp(bc.cwd, "/"));
    CHECK(bc.net_ipv4 == 0 && bc.net_hostname == 0);
    /* The network keys are stored as written. */
    CHECK(parse("lwjvm-boot 1\nexec=/x\narg=x\nnet.ipv4=10.0.2.15/24\nnet.gateway=10.0.2.2\n"
                "net.dns=10.0.2.3\nnet.hostname=web-1\n",
                &bc, err) == 0);
    CHECK(!strcmp(bc.net_ipv4, "10.0.2.15/24") && !strcmp(bc.net_gateway, "10.0.2.2"));
    CHECK(!strcmp(bc.net_dns, "10.0.2.3") && !strcmp(bc.net_hostname, "web-1"));
    CHECK(parse("lwjvm-boot 1\nexec=/x\narg=x\nnet.mtu=1500\n", &bc, err) == -1);

    CHECK(parse("lwjvm-boot 2\nexec=/x\narg=x\n", &bc, err) == -1);
    CHECK(strstr(err, "line 1") != 0);
    CHECK(parse("lwjvm-boot 1\nexec=/x\narg=x\nfoo=1\n", &bc, err) == -1);
    CHECK(!strcmp(err, "line 4: unknown key \"foo\""));
    CHECK(parse("lwjvm-boot 1\nexec=/x\narg=a\\tb\n", &bc, err) == -1);
    CHECK(strstr(err, "line 3: bad escape") != 0);
    CHECK(parse("lwjvm-boot 1\narg=x\n", &bc, err) == -1);
    CHECK(strstr(err, "exec=") != 0);
    CHECK(parse("lwjvm-boot 1\nexec=/x\n", &bc, err) == -1);
    CHECK(strstr(err, "arg=") != 0);
    CHECK(parse("lwjvm-boot 1\nexec=/x\narg=x\nenv=NOEQUALS\n", &bc, err) == -1);
    CHECK(parse("lwjvm-boot 1\nexec=/x\narg=x\njunk\n", &bc, err) == -1);
    CHECK(parse("", &bc, err) == -1);
}

static uint64_t rng;
static uint64_t rnd(void)
{
    uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static const uint64_t specials[] = {0, 1, 0x7f, 0x80, 0xff, 0x7fffffff, 0x80000000, 0xffffffff,
                                    0x1000, 0x7ffffffff000ull, 0x800000000000ull, ~0ull,
                                    0x8000000000000000ull};

/* Mutates n bytes of the first `span` of buf: random bytes, or a special value over 1-8 bytes. */
static void mutate(unsigned char *buf, size_t len, size_t span)
{
    if (!len)
        return;
    if (span > len)
        span = len;
    int n = 1 + (int)(rnd() % 8);
    for (int i = 0; i < n; i++) {
        size_t at = rnd() % span;
        if (rnd() % 2) {
            buf[at] = (unsigned char)rnd();
        } else {
            uint64_t v = specials[rnd() % (sizeof specials / sizeof specials[0])];
            size_t w = 1u << (rnd() % 4);
            for (size_t k = 0; k < w && at + k < len; k++)
                buf[at + k] = (unsigned char)(v >> (8 * k));
        }
    }
}

static void fuzz_elf(uint64_t seed, long iterations, const char *path)
{
    FILE *f = fopen(path, "rb");
    CHECK(f != 0);
    if (!f)
        return;
    static unsigned char orig[64 << 20];
    size_t len = fread(orig, 1, sizeof orig, f);
    fclose(f);
    rng = seed;
    for (long it = 0; it < iterations; it++) {
        size_t n = rnd() % 8 == 0 ? rnd() % (len + 1) : len; /* sometimes truncated */
        unsigned char *buf = malloc(n ? n : 1);
        memcpy(buf, orig, n);
        mutate(buf, n, rnd() % 4 == 0 ? n : 4096);
        const struct elf64_ehdr *eh = (const void *)buf;
        if (elf_check_header(eh, n) == 0) {
            uint64_t lo, hi;
            struct elf64_phdr ph[ELF_MAX_PHNUM]; /* as loader/exec.c reads them: aligned */
            memcpy(ph, buf + eh->phoff, sizeof(struct elf64_phdr) * eh->phnum);
            if (elf_check_phdrs(ph, eh->phnum, n, &lo, &hi) == 0)
                CHECK(lo < hi && lo % 4096 == 0 && hi % 4096 == 0 && hi <= 0x00007ffffffff000ull);
        }
        free(buf);
    }
}

static void fuzz_bootconf(uint64_t seed, long iterations)
{
    static const char *const tokens[] = {
        "lwjvm-boot 1\n", "lwjvm-boot 2\n", "exec=/x\n", "exec=", "arg=", "arg=a\n", "env=A=b\n",
        "env=", "cwd=/tmp\n", "cwd=", "net.ipv4=10.0.2.15/24\n", "net.gateway=", "net.dns=",
        "net.hostname=", "\\", "\\n", "\\\\", "\\t", "=", "\n", "#", " ", "\r", "x",
    };
    rng = seed;
    for (long it = 0; it < iterations; it++) {
        char text[2048];
        size_t n = 0;
        int parts = (int)(rnd() % 24);
        for (int i = 0; i < parts; i++) {
            const char *t = tokens[rnd() % (sizeof tokens / sizeof tokens[0])];
            size_t tl = strlen(t);
            if (n + tl >= sizeof text)
                break;
            memcpy(text + n, t, tl);
            n += tl;
        }
        mutate((unsigned char *)text, n, n);
        char *buf = malloc(n + 1); /* the caller's NUL at text[len], as kernel/core/main.c */
        memcpy(buf, text, n);
        buf[n] = 0;
        struct bootconf bc;
        char err[128];
        used = 0;
        if (bootconf_parse(buf, n, &bc, arena_alloc, err, sizeof err) == 0) {
            CHECK(bc.exec && bc.argc >= 1 && bc.argv[bc.argc] == 0 && bc.envp[bc.envc] == 0);
            CHECK(bc.cwd != 0);
        } else {
            CHECK(memchr(err, 0, sizeof err) != 0);
        }
        free(buf);
    }
}

int main(int argc, char **argv)
{
    if (argc >= 2 && !strcmp(argv[1], "palloc"))
        test_palloc();
    else if (argc >= 3 && !strcmp(argv[1], "elf"))
        for (int i = 2; i < argc; i++)
            test_elf_file(argv[i]);
    else if (argc >= 2 && !strcmp(argv[1], "bootconf"))
        test_bootconf();
    else if (argc == 5 && !strcmp(argv[1], "fuzz-elf"))
        fuzz_elf(strtoull(argv[2], 0, 0), atol(argv[3]), argv[4]);
    else if (argc == 4 && !strcmp(argv[1], "fuzz-bootconf"))
        fuzz_bootconf(strtoull(argv[2], 0, 0), atol(argv[3]));
    else {
        fprintf(stderr, "usage: logic_test palloc | elf FILE... | bootconf | fuzz-elf SEED N FILE "
                        "| fuzz-bootconf SEED N\n");
        return 2;
    }
    if (failures)
        fprintf(stderr, "%d check(s) failed\n", failures);
    else
        printf("ok\n");
    return failures ? 1 : 0;
}
