/* sysfuzz: a seeded random system-call fuzzer for the lwjvm kernel. GUEST ONLY: it refuses to run
 * unless uname says the kernel is lwjvm's (it makes raw random calls; never run it on a host).
 *
 *   sysfuzz [-v] SEED CALLS [WORKERS]
 *
 * The main thread makes CALLS random system calls: numbers from kernel/linux/syscalls.def (their
 * argument formats choose the arguments) and, one call in five, any number 0-459 with arguments of
 * every kind. Arguments are drawn from 0, -1, huge values, powers of two, fds of a pool of open files
 * (tmpfs, devices, /proc, pipes, a directory), paths, and pointers: a scratch buffer, an arena other
 * threads use, NULL, low, unaligned, unmapped, non-canonical and kernel-half addresses. WORKERS
 * threads (default 2) touch the arena and pass it to system calls while the main thread maps, unmaps
 * and re-protects it; their faults are caught and counted.
 *
 * The fuzzer keeps itself alive: calls that would end or corrupt the process itself (exit, execve,
 * clone, SIGKILL to itself, MAP_FIXED over its own code, closing stdout...) are steered to the arena
 * or skipped; that does not hide kernel bugs, Linux would end the process the same way. Blocking
 * calls are interrupted by a watchdog thread's signal, as on Linux; a call that does not return within
 * HANG_S seconds of it is a kernel hang.
 *
 * Calls that take structures with pointers inside (readv/writev/preadv/pwritev and their v2 forms:
 * iovec arrays; sendmsg/recvmsg: msghdr with its name, iovecs and control data; sendmmsg and
 * recvmmsg; ioctl SIOCGIFCONF: ifconf; ppoll, pselect6, epoll_pwait: signal masks; sigaltstack)
 * mostly get a structure built on purpose in a guarded region, whose inner pointers are valid,
 * run off their buffer, or are NULL, unmapped, non-canonical or the kernel's (see "structures
 * with pointers inside"); raw scratch bytes can hold no address of the fuzzer itself (scrubbed
 * after every call that may write one, and all of scratch and the arena every 1,000 calls), so
 * the kernel is never pointed into the fuzzer's own memory, and a checksum of its tables every
 * 1,000 calls would catch a write there (exit 3). SYSFUZZ_SCRUB_DEBUG prints the fuzzer's own
 * ranges and the first addresses the periodic scan finds. It is a static PIE: at 0x400000, lone
 * bytes among zeros read as addresses of its image (see scrub_range).
 *
 * Before fuzzing, it checks that no kernel-half or non-canonical address can be read or written from
 * ring 3, directly or through a system call argument (EFAULT).
 *
 * Exit: 0 clean, 2 set-up failed, 3 the fuzzer itself faulted (a kernel bug corrupted it), 4 a call
 * hung, 5 not running on lwjvm's kernel, 6 kernel memory reachable from ring 3. -v prints each call
 * before making it (for replaying a failing seed: the last line is the culprit). With
 * SYSFUZZ_MEMINFO set it also prints MemFree, the kernel heap and the stack's mapping every 2,000
 * calls and stops (exit 9) after a call that left a signal handler the fuzzer did not install. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define HANG_S 30
#define TICKS_PER_S 20 /* the watchdog's period: 50 ms; a call blocked two periods gets a signal */
#define ARENA_SIZE (4UL << 20)
#define SCRATCH_SIZE (256UL << 10)
#define MAX_WORKERS 8
#define WATCHDOG_SIG SIGUSR2

struct sysdef {
    int nr;
    const char *name;
    const char *args;
};
static const struct sysdef defs[] = {
#define X(nr, name, args) {nr, #name, args},
#include "../../../../kernel/linux/syscalls.def"
#undef X
};
#define NDEFS ((int)(sizeof defs / sizeof defs[0]))

/* --- random numbers (splitmix64: the same seed gives the same calls) --- */
static uint64_t rng_state;
static uint64_t rnd(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}
static uint64_t below(uint64_t n) { return n ? rnd() % n : 0; }

/* --- the state the fuzzer protects --- */
/* Memory the kernel may write through fuzzed pointers: its own mappings, each between PROT_NONE
 * guard pages, so a huge length runs into the guard (EFAULT or a short count) and never into
 * the fuzzer's own data, as it could on Linux too. */
static uint8_t *scratch;
static uintptr_t arena;          /* ARENA_SIZE bytes, 2 MiB aligned, remapped now and then */
static uintptr_t initial_brk;
static pid_t main_tid;
static int verbose;
static volatile uint64_t call_seq;       /* bumped by the main thread around each call */
static volatile int in_call;
static volatile uint64_t worker_progress[MAX_WORKERS];
static volatile pid_t worker_tid[MAX_WORKERS];
static int nworkers;
static volatile long cur_nr;
static volatile uint64_t cur_args[6];
static volatile uint64_t signals_seen[65];
static __thread sigjmp_buf *volatile recover;   /* set while a thread touches memory that may vanish */
static volatile uint64_t recovered_faults;

static const char *const paths[] = {
    "/tmp/fz/a", "/tmp/fz/b", "/tmp/fz/d", "/tmp/fz/d/x", "/tmp/fz/fifo", "/tmp/fz/link",
    "/tmp/fz/new", "/tmp/fz/a/", "/tmp/fz/../fz/b", "/tmp", "/", ".", "..", "", "/dev/null",
    "/dev/zero", "/dev/urandom", "/proc/self/maps", "/proc/self/status",
    "/proc/self/exe", "/proc/self/fd", "/proc/meminfo", "/proc/cpuinfo", "/sys/devices/system/cpu",
    "/etc/lwjvm/boot", "/bin", "/nonexistent/x", "/tmp/fz/d/../../fz/d/./x", "//tmp///fz//a",
};
static char *long_path;   /* 8 KiB: "aaaa/aaaa/..." longer than PATH_MAX */
static char *deep_path;   /* 4 KiB: "../../../..." */
#define LONG_PATH_SIZE 8192
#define DEEP_PATH_SIZE 4096

/* A pointer that is never valid in the user half or that is the kernel's. */
static const uint64_t bad_ptrs[] = {
    0, 1, 8, 0xfff, 0x1000, 0x10000,
    0x00007ffffffff000ULL, 0x00007fffffffffffULL, /* the last user page: not mapped here */
    0x0000800000000000ULL, 0x0000800000001000ULL, /* first non-canonical */
    0x7fffffffffffffffULL, 0x8000000000000000ULL,
    0xffff800000000000ULL, 0xffff800000001000ULL, 0xffff800000100000ULL, /* direct map */
    0xffff8000000b8000ULL, 0xffff800001000000ULL,
    0xffffffff80000000ULL, 0xffffffff80100000ULL, 0xffffffff80200000ULL, /* kernel image */
    0xfffffffffffff000ULL, 0xffffffffffffffffULL,
};
#define NBAD ((int)(sizeof bad_ptrs / sizeof bad_ptrs[0]))

static int is_user_ptr_safe_range(uint64_t a, uint64_t len)
{
    /* The ranges the fuzzer may let the kernel unmap or re-protect: the arena, or nothing mapped. */
    if (a >= arena && a < arena + ARENA_SIZE)
        return len <= arena + ARENA_SIZE - a;
    return 0;
}

/* --- argument pools --- */
static uint64_t rand_int(void)
{
    switch (below(14)) {
    case 0: return 0;
    case 1: return 1;
    case 2: return (uint64_t)-1;
    case 3: return below(64);
    case 4: return below(4096);
    case 5: return (uint64_t)1 << below(64);
    case 6: return ((uint64_t)1 << below(64)) - 1;
    case 7: return (uint32_t)rnd();
    case 8: return rnd();
    case 9: return 0x7fffffff;
    case 10: return 0x80000000;
    case 11: return 4096 * below(1024);
    case 12: return (uint64_t)(int64_t)(int32_t)(-(int64_t)below(200));
    default: return 0x7fffffffffffffffULL - below(3);
    }
}

static uint64_t rand_fd(void)
{
    switch (below(10)) {
    case 0: return (uint64_t)-1;
    case 1: return (uint64_t)-100; /* AT_FDCWD */
    case 2: return rand_int();
    default: {
        uint64_t fd = below(40);
        return fd <= 2 ? 3 : fd; /* 0-2 are the console: garbage there would garble the report */
    }
    }
}

static uint64_t rand_arena_ptr(void)
{
    uint64_t off = below(8) == 0 ? below(ARENA_SIZE) : 4096 * below(ARENA_SIZE / 4096);
    return arena + off;
}

static uint64_t rand_ptr(void)
{
    switch (below(10)) {
    case 0: case 1: case 2: return (uint64_t)(scratch + below(SCRATCH_SIZE));
    case 3: return (uint64_t)(scratch + SCRATCH_SIZE - 1 - below(64)); /* runs off the end */
    case 4: case 5: return rand_arena_ptr();
    case 6: return (uint64_t)(scratch + 4096 * below(SCRATCH_SIZE / 4096));
    default: return bad_ptrs[below(NBAD)] + (below(4) == 0 ? below(4096) : 0);
    }
}

static uint64_t rand_path(void)
{
    switch (below(12)) {
    case 0: return rand_ptr();
    case 1: return (uint64_t)long_path + below(16);
    case 2: return (uint64_t)deep_path;
    case 3: /* a string running into an unmapped page: the arena may or may not be there */
        memset(scratch + SCRATCH_SIZE - 64, 'q', 64);
        return (uint64_t)(scratch + SCRATCH_SIZE - 64);
    default: return (uint64_t)paths[below(sizeof paths / sizeof paths[0])];
    }
}

static uint64_t rand_arg(char kind)
{
    switch (kind) {
    case 'f': return rand_fd();
    case 's': return rand_path();
    case 'p': return below(6) == 0 ? rand_int() : rand_ptr();
    case 'u': case 'd': return below(3) == 0 ? (uint64_t)(scratch + below(SCRATCH_SIZE)) & 0xffff : rand_int();
    case 'o': return below(2) ? below(010000) : rand_int();
    default: return rand_int(); /* x: flags */
    }
}

static uint64_t rand_any(void)
{
    switch (below(4)) {
    case 0: return rand_ptr();
    case 1: return rand_fd();
    case 2: return rand_path();
    default: return rand_int();
    }
}

/* --- structures with pointers inside (iovecs, msghdr, mmsghdr, ifconf, sigset packs) ---
 * A call such as readv or recvmsg reads pointers out of the memory its argument points to, and
 * the kernel then reads or writes where those point. Taken from the scratch buffer as it is,
 * they could aim anywhere, the fuzzer's own data and stacks included (the kernel doing that is
 * Linux's behaviour, not a bug, and the fuzzer would corrupt itself without knowing). So these
 * structures are built on purpose in their own guarded region, `indirect`, each inner pointer
 * drawn from a class (counted for the final report): valid (scratch, the arena, the region
 * itself), running off the end of its buffer into a guard page, or invalid (NULL, low,
 * unmapped, non-canonical, the kernel half), with lengths from 0 to values that overflow a sum.
 * What is left in scratch and the arena as raw bytes is kept clean of addresses of the fuzzer
 * itself (scrub_range, scrub_all below), so a raw pointer argument cannot aim into it either. */
#define INDIRECT_SIZE (64UL << 10)
static void unblock_all(void);
static uint8_t *indirect;        /* between guard pages; rebuilt for every call that uses it */
static size_t indirect_used;
enum { IP_VALID, IP_OFF_END, IP_NULL, IP_BAD, IP_KERNEL, IP_CLASSES };
static uint64_t inner_ptrs[IP_CLASSES];
enum { B_IOVEC, B_MSGHDR, B_MMSGHDR, B_IFCONF, B_SIGSET, B_STACK, B_KINDS };
static const char *const built_names[B_KINDS] = {"iovec", "msghdr", "mmsghdr", "ifconf", "sigset",
                                                 "stack_t"};
static uint64_t built[B_KINDS];

/* n bytes in `indirect`, 16-aligned (or 0 if the region is full for this call). */
static void *ind_alloc(size_t n)
{
    size_t at = (indirect_used + 15) & ~15UL;
    if (at + n > INDIRECT_SIZE)
        return NULL;
    indirect_used = at + n;
    return indirect + at;
}

/* A pointer for a field inside a built structure, for `len` bytes. */
static uint64_t inner_ptr(uint64_t len)
{
    uint64_t span = len < SCRATCH_SIZE ? len : SCRATCH_SIZE;
    switch (below(12)) {
    case 0: case 1: case 2: case 3:
        inner_ptrs[IP_VALID]++;
        return (uint64_t)(scratch + below(SCRATCH_SIZE - span + 1));
    case 4:
        inner_ptrs[IP_VALID]++;
        return rand_arena_ptr(); /* may be unmapped or read-only by now: the arena moves */
    case 5: {
        inner_ptrs[IP_VALID]++;
        uint64_t room = INDIRECT_SIZE - (len < INDIRECT_SIZE ? len : INDIRECT_SIZE);
        return (uint64_t)(indirect + below(room + 1)); /* into the structures themselves */
    }
    case 6:
        inner_ptrs[IP_OFF_END]++;
        return (uint64_t)(scratch + SCRATCH_SIZE - below(span + 1)); /* into the guard page */
    case 7:
        inner_ptrs[IP_NULL]++;
        return below(2) ? 0 : below(4096);
    case 8: case 9: {
        uint64_t b = bad_ptrs[below(NBAD)];
        inner_ptrs[b >= 0xffff800000000000ULL ? IP_KERNEL : IP_BAD]++;
        return b + (below(4) == 0 ? below(4096) : 0);
    }
    default:
        inner_ptrs[IP_KERNEL]++;
        return 0xffff800000000000ULL + 4096 * below(1 << 20) + below(2) * below(4096);
    }
}

static uint64_t inner_len(void)
{
    switch (below(10)) {
    case 0: return 0;
    case 1: return 1 + below(16);
    case 2: case 3: return below(4096);
    case 4: return 4096 * (1 + below(16));
    case 5: return (uint64_t)0x7fffffffffffffffULL - below(2); /* SSIZE_MAX: sums overflow */
    case 6: return (uint64_t)-1 - below(2);
    case 7: return 0x80000000ULL + below(2);
    default: return below(64);
    }
}

/* An element count: 0, small, Linux's IOV_MAX and one past it, or garbage. */
static uint64_t inner_count(uint64_t built_n)
{
    switch (below(8)) {
    case 0: return 0;
    case 1: return 1025; /* IOV_MAX + 1: EINVAL */
    case 2: return rand_int();
    default: return built_n;
    }
}

/* An iovec array of n entries, n chosen here (IOV_MAX at most); *n_out says how many. */
static struct iovec *build_iov(uint64_t *n_out)
{
    static const uint64_t sizes[] = {1, 1, 2, 3, 4, 8, 16, 64, 1024};
    uint64_t n = sizes[below(sizeof sizes / sizeof sizes[0])];
    struct iovec *v = ind_alloc(n * sizeof *v);
    if (!v) {
        n = 1;
        v = ind_alloc(sizeof *v);
        if (!v)
            v = (struct iovec *)indirect;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t len = inner_len();
        v[i].iov_base = (void *)inner_ptr(len);
        v[i].iov_len = len;
    }
    built[B_IOVEC]++;
    *n_out = n;
    return v;
}

/* A signal mask for a call that sets one while it waits (ppoll, pselect6, epoll_pwait): random,
 * but never blocking the watchdog's signal, which must still end the wait. */
static uint64_t *build_sigset(void)
{
    uint64_t *m = ind_alloc(16);
    if (!m)
        return NULL;
    m[0] = rnd() & ~(1ULL << (WATCHDOG_SIG - 1));
    m[1] = rnd();
    built[B_SIGSET]++;
    return m;
}

/* A socket address for msg_name: never an Internet one (that could reach the host's network):
 * AF_UNIX paths in /tmp/fz, unnamed, garbage families, truncated. */
static void *build_name(uint64_t *len)
{
    uint8_t *a = ind_alloc(128);
    if (!a)
        return NULL;
    static const uint16_t families[] = {1 /* AF_UNIX */, 1, 1, 0, 16 /* NETLINK */, 17, 0xffff};
    uint16_t fam = families[below(sizeof families / sizeof families[0])];
    memcpy(a, &fam, 2);
    const char *path = below(2) ? "/tmp/fz/sock" : "\0abstract";
    size_t pl = path[0] ? strlen(path) + 1 : 9;
    memcpy(a + 2, path, pl);
    for (size_t i = 2 + pl; i < 128; i++)
        a[i] = (uint8_t)rnd();
    *len = below(3) ? 2 + pl : rand_int() & (below(2) ? 0xff : ~0ULL);
    return a;
}

/* Ancillary data for msg_control: SCM_RIGHTS with descriptors of the pool and bad ones, or
 * SCM_CREDENTIALS, or headers with lengths that lie. */
static void *build_control(uint64_t *len)
{
    uint8_t *c = ind_alloc(256);
    if (!c)
        return NULL;
    for (int i = 0; i < 256; i++)
        c[i] = (uint8_t)rnd();
    uint64_t clen;
    int level = 1 /* SOL_SOCKET */, type = below(2) ? 1 /* SCM_RIGHTS */ : 2 /* SCM_CREDENTIALS */;
    switch (below(4)) {
    case 0: clen = 16 + 4 * below(8); break;
    case 1: clen = below(16); break;                  /* shorter than the header */
    case 2: clen = 256 + below(1 << 20); break;       /* longer than the buffer */
    default: clen = 16 + 4 * below(50);
    }
    memcpy(c, &clen, 8);
    memcpy(c + 8, &level, 4);
    memcpy(c + 12, &type, 4);
    for (int i = 0; i < 8; i++) {
        int fd = (int)rand_fd();
        memcpy(c + 16 + 4 * i, &fd, 4);
    }
    *len = below(4) ? (clen > 256 ? 256 : clen) : inner_len();
    return c;
}

static void fill_msghdr(struct msghdr *m)
{
    uint64_t n = 0, len = 0;
    switch (below(4)) {
    case 0: m->msg_name = NULL; m->msg_namelen = (socklen_t)below(2) * (socklen_t)rnd(); break;
    case 1: m->msg_name = (void *)inner_ptr(16); m->msg_namelen = (socklen_t)below(128); break;
    default: m->msg_name = build_name(&len); m->msg_namelen = (socklen_t)len;
    }
    if (below(5)) {
        m->msg_iov = build_iov(&n);
        m->msg_iovlen = inner_count(n);
    } else {
        m->msg_iov = (struct iovec *)inner_ptr(64);
        m->msg_iovlen = inner_count(1 + below(4));
    }
    switch (below(3)) {
    case 0: m->msg_control = NULL; m->msg_controllen = below(2) ? 0 : inner_len(); break;
    case 1: m->msg_control = (void *)inner_ptr(64); m->msg_controllen = inner_len(); break;
    default: m->msg_control = build_control(&len); m->msg_controllen = len;
    }
    m->msg_flags = (int)rand_int();
}

static struct msghdr *build_msghdr(void)
{
    struct msghdr *m = ind_alloc(sizeof *m);
    if (!m)
        return NULL;
    fill_msghdr(m);
    built[B_MSGHDR]++;
    return m;
}

/* struct mmsghdr: a msghdr and the byte count the kernel writes back. */
struct fz_mmsghdr {
    struct msghdr hdr;
    unsigned len;
};

static struct fz_mmsghdr *build_mmsg(uint64_t *n_out)
{
    uint64_t n = 1 + below(below(4) ? 4 : 64);
    struct fz_mmsghdr *v = ind_alloc(n * sizeof *v);
    if (!v) {
        *n_out = 0;
        return NULL;
    }
    for (uint64_t i = 0; i < n; i++) {
        fill_msghdr(&v[i].hdr);
        v[i].len = (unsigned)rnd();
    }
    built[B_MMSGHDR]++;
    *n_out = n;
    return v;
}

/* struct ifconf for SIOCGIFCONF: a length and a buffer the kernel fills with ifreqs. */
struct fz_ifconf {
    int len;
    int pad;
    uint64_t buf;
};

static struct fz_ifconf *build_ifconf(void)
{
    struct fz_ifconf *c = ind_alloc(sizeof *c);
    if (!c)
        return NULL;
    static const int lens[] = {0, 40, 80, 39, 4096, -1, 0x7fffffff};
    c->len = below(4) ? lens[below(sizeof lens / sizeof lens[0])] : (int)rand_int();
    c->pad = (int)rnd();
    c->buf = below(5) ? inner_ptr((uint64_t)(c->len > 0 ? c->len : 0)) : 0;
    built[B_IFCONF]++;
    return c;
}

/* stack_t for sigaltstack: the fuzzer's handlers never use it (no SA_ONSTACK), so any area. */
static void *build_stack(void)
{
    struct { uint64_t sp; int flags; int pad; uint64_t size; } *ss = ind_alloc(sizeof *ss);
    if (!ss)
        return NULL;
    ss->size = below(2) ? 2048 + below(65536) : inner_len();
    ss->sp = inner_ptr(ss->size);
    static const int flags[] = {0, 1 /* SS_ONSTACK */, 2 /* SS_DISABLE */, 1 << 31};
    ss->flags = below(4) ? flags[below(4)] : (int)rnd();
    ss->pad = 0;
    built[B_STACK]++;
    return ss;
}

/* For the calls that take structures with pointers inside: most of the time an argument built on
 * purpose, else a raw pointer as drawn (its target holds no address of the fuzzer: scrubbed). */
static void build_indirect(long nr, uint64_t *a)
{
    indirect_used = 0;
    uint64_t n;
    int built_one = below(4) != 0;
    switch (nr) {
    case SYS_readv: case SYS_writev: case SYS_preadv: case SYS_pwritev: case SYS_preadv2:
    case SYS_pwritev2:
        if (built_one) {
            a[1] = (uint64_t)build_iov(&n);
            a[2] = inner_count(n);
        }
        break;
    case SYS_sendmsg: case SYS_recvmsg:
        if (built_one || nr == SYS_sendmsg) /* a raw msghdr may name an Internet address */
            a[1] = below(8) ? (uint64_t)build_msghdr() : bad_ptrs[below(NBAD)];
        break;
    case SYS_sendmmsg: case SYS_recvmmsg:
        if (built_one || nr == SYS_sendmmsg) {
            a[1] = below(8) ? (uint64_t)build_mmsg(&n) : bad_ptrs[below(NBAD)];
            a[2] = below(8) ? n : inner_count(n);
        }
        break;
    case SYS_ioctl:
        if (below(6) == 0) {
            a[1] = 0x8912; /* SIOCGIFCONF */
            a[2] = below(8) ? (uint64_t)build_ifconf() : inner_ptr(16);
        }
        break;
    case SYS_ppoll:
        a[3] = below(3) ? (uint64_t)build_sigset() : bad_ptrs[below(NBAD)];
        a[4] = 8;
        break;
    case SYS_epoll_pwait: case SYS_epoll_pwait2:
        a[4] = below(3) ? (uint64_t)build_sigset() : bad_ptrs[below(NBAD)];
        a[5] = 8;
        break;
    case SYS_pselect6: {
        /* The sixth argument points at {const sigset_t *ss; size_t ss_len}. */
        uint64_t *pack = ind_alloc(16);
        if (pack) {
            /* A mask the fuzzer did not build could block the watchdog's signal, and a wait
             * with it would never end, as on Linux: built, none, or one the kernel refuses. */
            pack[0] = below(4) ? (uint64_t)build_sigset()
                               : below(2) ? 0 : bad_ptrs[6 + below(NBAD - 6)];
            pack[1] = below(4) ? 8 : inner_len();
            built[B_SIGSET]++;
        }
        a[5] = below(6) ? (uint64_t)pack : bad_ptrs[below(NBAD)];
        break;
    }
    case SYS_sigaltstack:
        if (built_one)
            a[0] = (uint64_t)build_stack();
        break;
    }
}

/* --- keeping the fuzzer's own addresses out of the memory the kernel reads pointers from ---
 * The fuzzer's own mappings (its image, heap, libraries, stacks, TLS) as /proc/self/maps lists
 * them once its threads run, less the kernel-facing areas. A value in scratch, the arena or
 * `indirect` that aims into them is rewritten into a kernel-half address (still a bad pointer
 * for the kernel to refuse, never one into the fuzzer). */
#define MAX_OWN 96
static uint64_t own_lo[MAX_OWN], own_hi[MAX_OWN];
static int nown;
static uint8_t own_top[1 << 7]; /* bit set for each (address >> 40) some own range touches */
static uint64_t scrubbed;          /* addresses of the fuzzer rewritten, in all */
static uint64_t scrubbed_by_scan;  /* of which by the scan every 1,000 calls (came some other way) */

static int kernel_facing(uint64_t lo, uint64_t hi)
{
    const struct { uint64_t lo, hi; } areas[] = {
        {(uint64_t)scratch - 4096, (uint64_t)scratch + SCRATCH_SIZE + 4096},
        {(uint64_t)indirect - 4096, (uint64_t)indirect + INDIRECT_SIZE + 4096},
        {(uint64_t)long_path - 4096, (uint64_t)long_path + LONG_PATH_SIZE + 4096},
        {(uint64_t)deep_path - 4096, (uint64_t)deep_path + DEEP_PATH_SIZE + 4096},
        {arena & ~(ARENA_SIZE - 1), arena + 2 * ARENA_SIZE},
    };
    for (size_t i = 0; i < sizeof areas / sizeof areas[0]; i++)
        if (lo >= areas[i].lo && hi <= areas[i].hi)
            return 1;
    return 0;
}

static void learn_own_ranges(void)
{
    static char maps[32768];
    int fd = open("/proc/self/maps", O_RDONLY);
    long n = 0, r;
    while (fd >= 0 && n < (long)sizeof maps - 1 && (r = read(fd, maps + n, sizeof maps - 1 - n)) > 0)
        n += r;
    if (fd >= 0)
        close(fd);
    maps[n > 0 ? n : 0] = 0;
    nown = 0;
    for (char *line = maps; *line && nown < MAX_OWN;) {
        char *end;
        uint64_t lo = strtoull(line, &end, 16), hi = *end == '-' ? strtoull(end + 1, &end, 16) : 0;
        if (hi > lo && hi <= 0x0000800000000000ULL && !kernel_facing(lo, hi)) {
            own_lo[nown] = lo;
            own_hi[nown++] = hi;
            for (uint64_t t = lo >> 40; t <= (hi - 1) >> 40 && t < sizeof own_top; t++)
                own_top[t] = 1;
        }
        char *nl = strchr(line, '\n');
        if (!nl)
            break;
        line = nl + 1;
    }
}

static inline int is_own(uint64_t v)
{
    if (v >= 0x0000800000000000ULL || !own_top[v >> 40])
        return 0;
    for (int i = 0; i < nown; i++)
        if (v >= own_lo[i] && v < own_hi[i])
            return 1;
    return 0;
}

static int scrub_debug, in_scan;
static void scrub_window(uint8_t *q)
{
    uint64_t v;
    memcpy(&v, q, 8);
    if (is_own(v)) {
        if (scrub_debug && in_scan && scrub_debug++ < 40)
            fprintf(stderr, "sysfuzz: scan found %#lx at %s+%#lx\n", (unsigned long)v,
                    (uint64_t)q >= arena && (uint64_t)q < arena + ARENA_SIZE ? "arena" : "scratch",
                    (unsigned long)((uint64_t)q >= arena && (uint64_t)q < arena + ARENA_SIZE
                                        ? (uint64_t)q - arena : (uint64_t)q - (uint64_t)scratch));
        v |= 0xffff800000000000ULL;
        memcpy(q, &v, 8);
        scrubbed++;
    }
}

/* Rewrites every 8-byte window of [p, p+n) (any alignment) that aims into the fuzzer, a page at
 * a time: a page that faults (the arena is remapped and re-protected as the fuzzer goes) is
 * skipped. Pairs of zero words are skipped whole: most of the arena is untouched pages. */
static void scrub_page(uint8_t *p, uint8_t *page_end, uint8_t *end)
{
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0) == 0) {
        recover = &jb;
        uint8_t *q = p;
        for (; q < page_end && ((uintptr_t)q & 7); q++)
            if (q + 8 <= end)
                scrub_window(q);
        for (; q + 16 <= end && q < page_end; q += 8) {
            uint64_t w0, w1;
            memcpy(&w0, q, 8);
            memcpy(&w1, q + 8, 8);
            if (!(w0 | w1))
                continue;
            for (int k = 0; k < 8; k++)
                scrub_window(q + k);
        }
        for (; q + 8 <= end && q < page_end; q++)
            scrub_window(q);
    } else {
        unblock_all(); /* the fault's handler left SIGSEGV blocked: sigsetjmp saved no mask */
        /* An arena page that could not be read or not be rewritten (a read-only file mapping
         * holding an address of the fuzzer): no access at all, so the kernel cannot take one. */
        if ((uint64_t)p >= arena && (uint64_t)p < arena + ARENA_SIZE)
            mprotect((void *)((uintptr_t)p & ~4095UL), 4096, PROT_NONE);
    }
    recover = NULL;
}

static void scrub_range(uint8_t *p, size_t n)
{
    uint8_t *end = p + n;
    for (uint8_t *page; p < end; p = page) {
        page = (uint8_t *)(((uintptr_t)p + 4096) & ~4095UL);
        scrub_page(p, page < end ? page : end, end);
    }
}

/* After a call that may write an address (of the fuzzer) into memory the kernel reads pointers
 * from later (rt_sigaction's old handler, sigaltstack's old stack, arch_prctl's FS and GS bases,
 * prctl's PR_GET_TID_ADDRESS, get_robust_list, a siginfo): the 64 bytes at each argument. */
static void scrub_after(long nr, const uint64_t *a)
{
    if (nr != SYS_rt_sigaction && nr != SYS_sigaltstack && nr != SYS_arch_prctl &&
        nr != SYS_prctl && nr != SYS_get_robust_list && nr != SYS_rt_sigtimedwait &&
        nr != SYS_waitid)
        return;
    const struct { uint64_t lo, size; } areas[] = {
        {(uint64_t)scratch, SCRATCH_SIZE}, {arena, ARENA_SIZE},
        {(uint64_t)indirect, INDIRECT_SIZE},
    };
    for (int i = 0; i < 6; i++)
        for (int k = 0; k < 3; k++)
            if (a[i] >= areas[k].lo && a[i] < areas[k].lo + areas[k].size) {
                uint64_t left = areas[k].lo + areas[k].size - a[i];
                scrub_range((uint8_t *)a[i], left < 64 ? left : 64);
            }
}

/* [p, p+n) clipped to the areas the kernel may write (scratch, the arena, `indirect`), scrubbed. */
static void scrub_user(uint64_t p, uint64_t n)
{
    const struct { uint64_t lo, size; } areas[] = {
        {(uint64_t)scratch, SCRATCH_SIZE}, {arena, ARENA_SIZE},
        {(uint64_t)indirect, INDIRECT_SIZE},
    };
    for (int k = 0; k < 3; k++) {
        uint64_t lo = p > areas[k].lo ? p : areas[k].lo;
        uint64_t end = areas[k].lo + areas[k].size, want = p + n < p ? ~0ULL : p + n;
        uint64_t hi = want < end ? want : end;
        if (lo < hi)
            scrub_range((uint8_t *)lo, hi - lo);
    }
}

/* Copies n bytes from a pointer the kernel was given (it may be garbage or unmapped) into
 * `to`; returns how many whole `unit`s came. */
static uint64_t copy_in(void *to, uint64_t from, uint64_t units, uint64_t unit)
{
    volatile uint64_t done = 0;
    sigjmp_buf jb;
    if (sigsetjmp(jb, 0) == 0) {
        recover = &jb;
        for (; done < units; done++)
            memcpy((uint8_t *)to + done * unit, (const void *)(from + done * unit), unit);
    } else {
        unblock_all();
    }
    recover = NULL;
    return done;
}

/* An iovec array the kernel wrote `total` bytes through: each base's written part. */
static void scrub_iov_page(uint64_t iov, uint64_t n, uint64_t total)
{
    static struct iovec v[1024];
    uint64_t got = copy_in(v, iov, n < 1024 ? n : 1024, sizeof v[0]);
    for (uint64_t i = 0; i < got && total; i++) {
        uint64_t len = v[i].iov_len < total ? v[i].iov_len : total;
        scrub_user((uint64_t)v[i].iov_base, len);
        total -= len;
    }
}

static void scrub_msghdr(uint64_t m, uint64_t total)
{
    struct msghdr h;
    if (!copy_in(&h, m, 1, sizeof h))
        return;
    scrub_iov_page((uint64_t)h.msg_iov, h.msg_iovlen, total);
    scrub_user((uint64_t)h.msg_name, h.msg_namelen < 4096 ? h.msg_namelen : 4096);
    scrub_user((uint64_t)h.msg_control, h.msg_controllen < 65536 ? h.msg_controllen : 65536);
}

/* After a call that copied data into memory (a file's bytes may hold addresses of the fuzzer:
 * /proc/self/exe is its own image, whose words point into it): what it wrote is scrubbed, before
 * a later readv or recvmsg could take those words as places to write. */
static void scrub_written(long nr, const uint64_t *a, long r)
{
    if (r <= 0)
        return;
    switch (nr) {
    case SYS_read: case SYS_pread64: case SYS_recvfrom: case SYS_getdents64: case SYS_getcwd:
    case SYS_readlink:
        scrub_user(a[1], (uint64_t)r);
        break;
    case SYS_readlinkat:
        scrub_user(a[2], (uint64_t)r);
        break;
    case SYS_readv: case SYS_preadv: case SYS_preadv2:
        scrub_iov_page(a[1], a[2], (uint64_t)r);
        break;
    case SYS_recvmsg:
        scrub_msghdr(a[1], (uint64_t)r);
        break;
    case SYS_recvmmsg:
        for (long i = 0; i < r && i < 64; i++)
            scrub_msghdr(a[1] + (uint64_t)i * sizeof(struct fz_mmsghdr), ~0ULL);
        break;
    case SYS_mmap: case SYS_mremap: /* a file mapped into the arena */
        if ((uint64_t)r >= arena && (uint64_t)r < arena + ARENA_SIZE)
            scrub_user((uint64_t)r, nr == SYS_mmap ? a[1] : a[2]);
        break;
    }
}

/* Every 1,000 calls: the whole of scratch and the arena, for addresses that came some way the
 * lists above miss (their count is in the final report). */
static void scrub_all(void)
{
    uint64_t before = scrubbed;
    in_scan = 1;
    scrub_range(scratch, SCRATCH_SIZE);
    scrub_range((uint8_t *)arena, ARENA_SIZE);
    in_scan = 0;
    scrubbed_by_scan += scrubbed - before;
}

/* The fuzzer's own tables, summed at start and checked every 1,000 calls: a kernel that wrote
 * into them through some pointer would otherwise go unnoticed. */
static uint64_t own_sum_at_start;
static uint64_t own_sum(void)
{
    uint64_t h = 1469598103934665603ULL;
    const uint8_t *parts[] = {(const uint8_t *)defs, (const uint8_t *)bad_ptrs,
                              (const uint8_t *)paths};
    const size_t sizes[] = {sizeof defs, sizeof bad_ptrs, sizeof paths};
    for (int k = 0; k < 3; k++)
        for (size_t i = 0; i < sizes[k]; i++)
            h = (h ^ parts[k][i]) * 1099511628211ULL;
    return h;
}

/* --- signals --- */
extern void fz_restorer(void);
__asm__(".text\n.globl fz_restorer\nfz_restorer:\n\tmov $15, %eax\n\tsyscall\n\thlt\n");

struct ksigaction {
    void *handler;
    unsigned long flags;
    void *restorer;
    uint64_t mask;
};
#define KSA_RESTORER 0x04000000UL

static void report_and_exit(int code, const char *why);

static void on_signal(int sig, siginfo_t *si, void *uc)
{
    (void)uc;
    if (sig > 0 && sig <= 64)
        signals_seen[sig]++;
    int fault = (sig == SIGSEGV || sig == SIGBUS || sig == SIGILL || sig == SIGFPE ||
                 sig == SIGTRAP) && si->si_code > 0;
    if (!fault)
        return;
    if (recover) {
        recovered_faults++;
        siglongjmp(*recover, 1);
    }
    char buf[160];
    snprintf(buf, sizeof buf, "the fuzzer itself took signal %d (code %d) at address %p", sig,
             si->si_code, si->si_addr);
    report_and_exit(3, buf);
}

static long raw_sigaction(int sig, const struct ksigaction *act, struct ksigaction *old)
{
    return syscall(SYS_rt_sigaction, sig, act, old, 8);
}

static void install_handler(int sig)
{
    struct ksigaction sa = {(void *)on_signal, SA_SIGINFO | KSA_RESTORER, (void *)fz_restorer, 0};
    raw_sigaction(sig, &sa, NULL);
}

static void install_handlers(void)
{
    for (int s = 1; s <= 64; s++)
        if (s != SIGKILL && s != SIGSTOP)
            install_handler(s);
}

static void unblock_all(void)
{
    uint64_t none = 0;
    syscall(SYS_rt_sigprocmask, SIG_SETMASK, &none, NULL, 8);
}

/* --- reporting --- */
static void format_call(char *buf, size_t n, long nr, const volatile uint64_t *a)
{
    const char *name = "?";
    for (int i = 0; i < NDEFS; i++)
        if (defs[i].nr == nr)
            name = defs[i].name;
    snprintf(buf, n, "%s(%ld)(0x%lx, 0x%lx, 0x%lx, 0x%lx, 0x%lx, 0x%lx)", name, nr,
             (unsigned long)a[0], (unsigned long)a[1], (unsigned long)a[2], (unsigned long)a[3],
             (unsigned long)a[4], (unsigned long)a[5]);
}

static void report_and_exit(int code, const char *why)
{
    char buf[512];
    int n = snprintf(buf, sizeof buf, "sysfuzz: FAIL: %s\n", why);
    write(1, buf, n);
    if (in_call) {
        char call[300];
        format_call(call, sizeof call, cur_nr, cur_args);
        n = snprintf(buf, sizeof buf, "sysfuzz: in call #%lu: %s\n", (unsigned long)call_seq, call);
        write(1, buf, n);
    }
    _exit(code);
}

/* --- the pool of open descriptors --- */

static void open_pool(void)
{
    static const struct {
        const char *path;
        int flags;
    } files[] = {
        {"/tmp/fz/a", O_RDWR | O_CREAT}, {"/tmp/fz/b", O_RDWR | O_CREAT | O_APPEND},
        {"/dev/null", O_RDWR}, {"/dev/zero", O_RDONLY}, {"/dev/urandom", O_RDONLY},
        {"/proc/self/maps", O_RDONLY}, {"/tmp/fz/d", O_RDONLY | O_DIRECTORY},
        {"/", O_RDONLY | O_DIRECTORY}, {"/proc/self/status", O_RDONLY},
        {"/tmp/fz", O_RDONLY | O_DIRECTORY | O_PATH}, {"/tmp/fz/a", O_RDONLY},
    };
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++)
        open(files[i].path, files[i].flags, 0644);
    int p[2];
    if (pipe2(p, O_NONBLOCK) == 0)
        write(p[1], "xyz", 3);
    pipe(p);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
}

static void reset_fds(void)
{
    syscall(SYS_close_range, 3, ~0U, 0);
    open_pool();
}

static void make_tree(void)
{
    mkdir("/tmp", 0777);
    mkdir("/tmp/fz", 0777);
    mkdir("/tmp/fz/d", 0777);
    int fd = open("/tmp/fz/d/x", O_CREAT | O_WRONLY, 0644);
    if (fd >= 0) {
        write(fd, "hello\n", 6);
        close(fd);
    }
    mkfifo("/tmp/fz/fifo", 0644);
    symlink("/tmp/fz/a", "/tmp/fz/link");
}

/* size bytes of fresh memory between two PROT_NONE guard pages. */
static void *guarded(size_t size)
{
    uint8_t *p = mmap(NULL, size + 2 * 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                      -1, 0);
    if (p == MAP_FAILED) {
        printf("sysfuzz: set-up: mmap failed\n");
        exit(2);
    }
    mprotect(p, 4096, PROT_NONE);
    mprotect(p + 4096 + size, 4096, PROT_NONE);
    return p + 4096;
}

/* --- the arena --- */
static void remap_arena(void)
{
    void *p = mmap((void *)arena, ARENA_SIZE, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    if (p == MAP_FAILED)
        report_and_exit(3, "cannot map the arena back");
}

static void setup_arena(void)
{
    /* reserved (PROT_NONE) around it: a guard on both sides */
    uint8_t *r = mmap(NULL, ARENA_SIZE * 2 + 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                      -1, 0);
    if (r == MAP_FAILED) {
        printf("sysfuzz: set-up: cannot reserve the arena\n");
        exit(2);
    }
    arena = ((uintptr_t)r + 4096 + ARENA_SIZE - 1) & ~(ARENA_SIZE - 1);
    remap_arena();
}

/* --- worker threads: use the arena while the main thread remaps it --- */
static void *worker(void *arg)
{
    int id = (int)(intptr_t)arg;
    worker_tid[id] = (pid_t)syscall(SYS_gettid);
    volatile uint64_t state = 0x1234567 + id;
    int zero = open("/dev/zero", O_RDONLY);
    int null = open("/dev/null", O_WRONLY);
    for (;;) {
        state = state * 6364136223846793005ULL + 1442695040888963407ULL;
        volatile uint8_t *p = (volatile uint8_t *)(arena + (state >> 20) % ARENA_SIZE);
        sigjmp_buf jb;
        if (sigsetjmp(jb, 1) == 0) {
            recover = &jb;
            switch ((state >> 60) & 7) {
            case 0: (void)*p; break;
            case 1: *p = (uint8_t)state; break;
            case 2: syscall(SYS_read, zero, (void *)p, 1 + (state >> 40) % 9000); break;
            case 3: syscall(SYS_write, null, (void *)p, 1 + (state >> 40) % 9000); break;
            case 4: syscall(SYS_getrandom, (void *)p, 1 + (state >> 40) % 300, 0); break;
            case 5: syscall(SYS_futex, (void *)((uintptr_t)p & ~3UL), 1 /* WAKE */, 1, 0, 0, 0); break;
            case 6: syscall(SYS_clock_gettime, 1, (void *)((uintptr_t)p & ~7UL)); break;
            default: syscall(SYS_madvise, (void *)((uintptr_t)p & ~4095UL), 4096, MADV_DONTNEED);
            }
        }
        recover = NULL;
        worker_progress[id]++;
    }
    return NULL;
}

/* --- the watchdog: interrupts blocking calls, detects hangs --- */
static void *watchdog(void *arg)
{
    (void)arg;
    uint64_t last_seq = call_seq, last_w[MAX_WORKERS] = {0};
    int still = 0, wstill[MAX_WORKERS] = {0};
    struct timespec tick = {0, 1000 * 1000 * 1000 / TICKS_PER_S};
    for (;;) {
        while (syscall(SYS_nanosleep, &tick, NULL) != 0)
            ; /* interrupted by a fuzzed signal: sleep again */
        uint64_t seq = call_seq;
        if (seq != last_seq || !in_call) {
            last_seq = seq;
            still = 0;
        } else if (++still >= 2) {
            syscall(SYS_tgkill, getpid(), main_tid, WATCHDOG_SIG);
            if (still >= HANG_S * TICKS_PER_S)
                report_and_exit(4, "a call did not return within " "30" " s of a signal");
        }
        for (int i = 0; i < nworkers; i++) {
            if (worker_progress[i] != last_w[i]) {
                last_w[i] = worker_progress[i];
                wstill[i] = 0;
            } else if (++wstill[i] >= 2) {
                /* blocked: the main thread's calls may have closed its descriptors and opened a
                 * pipe or socket under the same number; a signal ends the read, as on Linux */
                if (worker_tid[i])
                    syscall(SYS_tgkill, getpid(), worker_tid[i], WATCHDOG_SIG);
                if (wstill[i] >= HANG_S * TICKS_PER_S)
                    report_and_exit(4, "a worker thread made no progress for 30 s");
            }
        }
    }
    return NULL;
}

/* --- the kernel half is out of reach --- */
static int leak_failures;
static uint64_t leak_addr;
static void expect_fault(const char *what, long r)
{
    if (r == -1 && errno == EFAULT)
        return;
    printf("sysfuzz: LEAK: %s at 0x%lx returned %ld errno %d, want EFAULT\n", what,
           (unsigned long)leak_addr, r, errno);
    leak_failures++;
}
static void expect_error(const char *what, long r)
{
    if (r == -1)
        return;
    printf("sysfuzz: LEAK: %s at 0x%lx succeeded (%ld)\n", what, (unsigned long)leak_addr, r);
    leak_failures++;
}

static void check_kernel_half(void)
{
    static const uint64_t kaddrs[] = {
        0xffff800000000000ULL, 0xffff800000100000ULL, 0xffffffff80000000ULL,
        0xffffffff80100000ULL, 0xfffffffffffff000ULL, 0x0000800000000000ULL,
        0x00007ffffffffff8ULL, /* straddles the top of the user half */
    };
    int p[2];
    if (pipe(p) != 0) {
        printf("sysfuzz: set-up: pipe failed\n");
        exit(2);
    }
    int zero = open("/dev/zero", O_RDONLY), tmp = open("/tmp/fz/a", O_RDWR | O_CREAT, 0644);
    for (size_t i = 0; i < sizeof kaddrs / sizeof kaddrs[0]; i++) {
        void *k = (void *)kaddrs[i];
        leak_addr = kaddrs[i];
        write(p[1], "0123456789abcdef", 16);
        expect_fault("write(pipe, kernel)", write(p[1], k, 16));
        expect_fault("read(pipe, kernel)", read(p[0], k, 16));
        expect_fault("read(/dev/zero, kernel)", read(zero, k, 16));
        expect_fault("pwrite(tmpfs, kernel)", pwrite(tmp, k, 16, 0));
        expect_fault("pread(tmpfs, kernel)", pread(tmp, k, 4, 0));
        expect_fault("getrandom(kernel)", syscall(SYS_getrandom, k, 16, 0));
        expect_fault("clock_gettime(kernel)", syscall(SYS_clock_gettime, 1, k));
        expect_fault("uname(kernel)", syscall(SYS_uname, k));
        expect_fault("open(kernel)", syscall(SYS_openat, AT_FDCWD, k, O_RDONLY));
        expect_fault("fstat(kernel)", syscall(SYS_fstat, tmp, k));
        struct iovec iov = {k, 16};
        expect_fault("writev(kernel iov base)", writev(p[1], &iov, 1));
        expect_fault("readv(kernel iov base)", readv(zero, &iov, 1));
        expect_fault("writev(kernel iov array)", syscall(SYS_writev, p[1], k, 1));
        expect_fault("pipe(kernel)", syscall(SYS_pipe, k));
        expect_error("mmap(MAP_FIXED, kernel)",
                     (long)(intptr_t)syscall(SYS_mmap, (uintptr_t)k & ~4095UL, 4096, 3,
                                             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) < 0
                         ? -1 : 0);
        expect_error("munmap(kernel)", syscall(SYS_munmap, (uintptr_t)k & ~4095UL, 4096));
        expect_error("mprotect(kernel)", syscall(SYS_mprotect, (uintptr_t)k & ~4095UL, 4096, 7));
        expect_error("madvise(DONTNEED, kernel)",
                     syscall(SYS_madvise, (uintptr_t)k & ~4095UL, 4096, MADV_DONTNEED));
        expect_error("futex(WAIT, kernel)", syscall(SYS_futex, k, 0, 0, 0, 0, 0));
        /* ring 3 itself: a read and a write must fault */
        sigjmp_buf jb;
        volatile int faulted = 0;
        if (sigsetjmp(jb, 1) == 0) {
            recover = &jb;
            (void)*(volatile uint8_t *)k;
        } else {
            faulted = 1;
        }
        recover = NULL;
        if (!faulted && kaddrs[i] >= 0x0000800000000000ULL) {
            printf("sysfuzz: LEAK: ring 3 read 0x%lx\n", (unsigned long)kaddrs[i]);
            leak_failures++;
        }
        faulted = 0;
        if (sigsetjmp(jb, 1) == 0) {
            recover = &jb;
            *(volatile uint8_t *)k = 0;
        } else {
            faulted = 1;
        }
        recover = NULL;
        if (!faulted) {
            printf("sysfuzz: LEAK: ring 3 wrote 0x%lx\n", (unsigned long)kaddrs[i]);
            leak_failures++;
        }
        char drain[64];
        while (read(p[0], drain, sizeof drain) == sizeof drain)
            ;
    }
    close(p[0]);
    close(p[1]);
    close(zero);
    close(tmp);
    if (leak_failures) {
        printf("sysfuzz: FAIL: %d ways to the kernel half\n", leak_failures);
        exit(6);
    }
    printf("sysfuzz: kernel half unreachable from ring 3: ok\n");
}

/* --- steering: keep the fuzzer itself alive (see the top of the file) --- */
extern char __executable_start[]; /* the program's first byte (GNU ld) */
#define SKIP (-1)
static long steer(long nr, uint64_t *a)
{
    switch (nr) {
    case SYS_exit: case SYS_exit_group: case SYS_rt_sigreturn: case SYS_clone: case SYS_clone3:
    case SYS_fork: case SYS_vfork: case SYS_execve: case SYS_execveat: case SYS_seccomp:
    case SYS_ptrace: case SYS_reboot: case SYS_kexec_load:
    case SYS_kexec_file_load: case SYS_vhangup: case SYS_shmdt: case SYS_io_uring_setup:
        return SKIP;
    case SYS_kill: case SYS_tkill: case SYS_rt_sigqueueinfo:
        if (a[1] == SIGKILL || a[1] == SIGSTOP || (int)a[1] < 0 || a[1] > 64)
            a[1] = 0;
        break;
    case SYS_tgkill: case SYS_rt_tgsigqueueinfo:
        if (a[2] == SIGKILL || a[2] == SIGSTOP || (int)a[2] < 0 || a[2] > 64)
            a[2] = 0;
        break;
    case SYS_rt_sigaction:
        if (a[1] && a[1] < 0x0000800000000000ULL) {
            /* a valid action, or none: a random handler would run garbage */
            static struct ksigaction sa;
            sa = (struct ksigaction){(void *)on_signal,
                                     SA_SIGINFO | KSA_RESTORER | (below(2) ? SA_NODEFER : 0),
                                     (void *)fz_restorer, rnd()};
            if (a[0] == WATCHDOG_SIG)
                a[1] = 0;
            else
                a[1] = (uint64_t)&sa;
        }
        if (a[0] == WATCHDOG_SIG)
            a[1] = 0;
        break;
    case SYS_rt_sigsuspend:
        if (a[0] && a[0] < 0x0000800000000000ULL) {
            static uint64_t mask;
            mask = rnd() & ~(1ULL << (WATCHDOG_SIG - 1));
            a[0] = (uint64_t)&mask;
        }
        break;
    case SYS_ppoll: a[3] = 0; break;
    case SYS_pselect6: a[5] = 0; break;
    case SYS_epoll_pwait: case SYS_epoll_pwait2: a[4] = 0; break;
    case SYS_signalfd: case SYS_signalfd4: break;
    case SYS_connect: case SYS_sendto:
        if (nr == SYS_connect)
            a[1] = 0;
        else
            a[4] = 0;
        break;
    case SYS_arch_prctl:
        if (a[0] == 0x1002 /* ARCH_SET_FS */)
            a[0] = 0x1003;
        break;
    case SYS_prctl:
        if (a[0] == 22 /* SECCOMP */ || a[0] == 26 /* SET_TSC */ || a[0] == 35 /* SET_MM */ ||
            a[0] == 38 /* NO_NEW_PRIVS: harmless, but */ || a[0] == 59 /* SET_SYSCALL_USER_DISPATCH */)
            return SKIP;
        break;
    case SYS_setrlimit:
        if (a[1] < 0x0000800000000000ULL)
            a[1] = below(2) ? 0 : bad_ptrs[below(6)];
        break;
    case SYS_prlimit64:
        if (a[2] < 0x0000800000000000ULL)
            a[2] = below(2) ? 0 : bad_ptrs[below(6)];
        break;
    case SYS_close_range:
        if ((uint32_t)a[0] <= 2)
            a[0] = 3;
        break;
    case SYS_dup2: case SYS_dup3:
        if ((int)a[1] >= 0 && (int)a[1] <= 2)
            a[1] = 3;
        break;
    case SYS_fcntl: /* F_DUPFD never yields 1 or 2 while they are open */
        break;
    case SYS_brk:
        switch (below(4)) {
        case 0: a[0] = 0; break;
        case 1: a[0] = bad_ptrs[below(NBAD)]; break;
        default: a[0] = initial_brk + below(64 << 20);
        }
        break;
    case SYS_mmap:
        if (a[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE)) {
            if (below(4) == 0) {
                a[0] = bad_ptrs[below(NBAD)] & ~4095UL;
                /* A low address is a valid place to map: the mapping ends below the program's
                 * image (seed 7202: 2 GiB at 0x1000 replaced the fuzzer's code, as on Linux). */
                uint64_t image = (uint64_t)__executable_start;
                if (a[0] < image && a[1] > image - a[0])
                    a[1] = below(image - a[0] + 1);
            } else {
                a[0] = rand_arena_ptr();
                if (!is_user_ptr_safe_range(a[0], a[1]))
                    a[1] = below(ARENA_SIZE - (a[0] - arena) + 1);
            }
        }
        break;
    case SYS_munmap: case SYS_mprotect: case SYS_madvise: case SYS_msync: case SYS_mlock:
    case SYS_munlock: case SYS_remap_file_pages: case SYS_pkey_mprotect: case SYS_mremap:
    case SYS_mbind: case SYS_migrate_pages: case SYS_mlock2:
        if (below(5) == 0) {
            a[0] = bad_ptrs[6 + below(NBAD - 6)] & (below(2) ? ~4095UL : ~0UL);
        } else {
            a[0] = rand_arena_ptr();
            if (!is_user_ptr_safe_range(a[0], a[1])) {
                /* a length that Linux refuses (beyond the user half), or one inside the arena */
                a[1] = below(3) == 0 ? (uint64_t)-1 - below(4096)
                                     : below(ARENA_SIZE - (a[0] - arena) + 1);
            }
        }
        if (nr == SYS_mremap) {
            if (!is_user_ptr_safe_range(a[0], a[2]))
                a[2] = below(ARENA_SIZE - (a[0] - arena) + 1);
            if (a[3] & 2 /* MREMAP_FIXED */) {
                a[4] = below(4) == 0 ? bad_ptrs[below(NBAD)] & ~4095UL : rand_arena_ptr();
                if (a[4] >= arena && a[4] < arena + ARENA_SIZE &&
                    !is_user_ptr_safe_range(a[4], a[2]))
                    a[4] = arena;
            }
            if (a[0] < arena || a[0] >= arena + ARENA_SIZE)
                a[2] = 4096;
        }
        break;
    case SYS_shmat: case SYS_set_mempolicy: case SYS_process_vm_writev: case SYS_process_madvise:
        return SKIP;
    }
    return nr;
}

/* After a call: undo what would leave the fuzzer unable to go on (not what tests the kernel). */
static void after_call(long nr, const uint64_t *a, long r)
{
    if (nr == SYS_rt_sigprocmask || nr == SYS_rt_sigaction)
        unblock_all();
    if (nr == SYS_rt_sigaction && a[1] && a[0] >= 1 && a[0] <= 64)
        install_handler((int)a[0]);
    if ((nr == SYS_mmap || nr == SYS_mremap) && r > 0 && (uint64_t)r < 0x0000800000000000ULL &&
        ((uint64_t)r < arena || (uint64_t)r >= arena + ARENA_SIZE))
        munmap((void *)r, nr == SYS_mmap ? a[1] : a[2]); /* not ours to keep */
}

static long pick_call(uint64_t *a)
{
    for (;;) {
        long nr;
        if (below(5) == 0) {
            nr = (long)below(460);
            for (int i = 0; i < 6; i++)
                a[i] = rand_any();
        } else {
            const struct sysdef *d = &defs[below(NDEFS)];
            nr = d->nr;
            int i = 0;
            for (const char *f = d->args; *f && *f != '=' && i < 6; f++)
                a[i++] = rand_arg(*f);
            for (; i < 6; i++)
                a[i] = rand_int();
        }
        if (below(50) == 0)
            nr |= (uint64_t)rnd() << 32 & 0xffffffff00000000ULL; /* a number with high bits set */
        long s = steer(nr, a);
        if (s == SKIP)
            continue;
        build_indirect(s, a);
        /* descriptors 0-2 are the console: closing or writing garbage there garbles the report */
        for (int i = 0; i < NDEFS; i++)
            if (defs[i].nr == s)
                for (int k = 0; k < 6 && defs[i].args[k] && defs[i].args[k] != '='; k++)
                    if (defs[i].args[k] == 'f' && a[k] <= 2)
                        a[k] = 3;
        return s;
    }
}

/* With SYSFUZZ_MEMINFO set: MemFree and Slab (the kernel heap) from /proc/meminfo, to find what
 * grows when a seed ends with the kernel out of memory. */
static void print_meminfo(uint64_t calls)
{
    static char buf[4096];
    int fd = open("/proc/meminfo", O_RDONLY);
    if (fd < 0)
        return;
    long n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return;
    buf[n] = 0;
    char *free_line = strstr(buf, "MemFree:"), *slab = strstr(buf, "Slab:");
    long mf = free_line ? strtol(free_line + 8, NULL, 10) : -1;
    long sl = slab ? strtol(slab + 5, NULL, 10) : -1;
    printf("sysfuzz: meminfo after %lu calls: MemFree %ld kB, Slab %ld kB\n", (unsigned long)calls,
           mf, sl);
    fd = open("/proc/self/maps", O_RDONLY);
    if (fd < 0)
        return;
    static char maps[65536];
    n = read(fd, maps, sizeof maps - 1);
    close(fd);
    if (n <= 0)
        return;
    maps[n] = 0;
    for (char *line = maps; line && *line;) {
        char *nl = strchr(line, '\n');
        if (nl)
            *nl = 0;
        if (strstr(line, "7ffffff"))
            printf("sysfuzz:   %s\n", line);
        line = nl ? nl + 1 : NULL;
    }
}

static int is_lwjvm_kernel(void)
{
    struct utsname u;
    return uname(&u) == 0 && strstr(u.release, "lwjvm") && strstr(u.version, "lwjvm");
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    int argi = 1;
    if (argi < argc && strcmp(argv[argi], "-v") == 0) {
        verbose = 1;
        argi++;
    }
    if (argc - argi < 2) {
        fprintf(stderr, "usage: sysfuzz [-v] SEED CALLS [WORKERS]\n");
        return 2;
    }
    if (!is_lwjvm_kernel() || getenv("SYSFUZZ_IN_GUEST") == NULL) {
        fprintf(stderr, "sysfuzz: refusing to run: this is not lwjvm's kernel (it makes random "
                        "system calls; run it with lwjvm exec --env SYSFUZZ_IN_GUEST=1)\n");
        return 5;
    }
    uint64_t seed = strtoull(argv[argi], NULL, 0);
    uint64_t calls = strtoull(argv[argi + 1], NULL, 0);
    nworkers = argc - argi > 2 ? atoi(argv[argi + 2]) : 2;
    if (nworkers < 0 || nworkers > MAX_WORKERS)
        nworkers = 2;
    rng_state = seed;
    main_tid = (pid_t)syscall(SYS_gettid);
    printf("sysfuzz: seed %lu, %lu calls, %d workers, %d syscalls known\n", (unsigned long)seed,
           (unsigned long)calls, nworkers, NDEFS);

    install_handlers();
    scratch = guarded(SCRATCH_SIZE);
    long_path = guarded(LONG_PATH_SIZE);
    deep_path = guarded(DEEP_PATH_SIZE);
    indirect = guarded(INDIRECT_SIZE);
    memset(long_path, 'a', LONG_PATH_SIZE - 1);
    for (size_t i = 4; i < LONG_PATH_SIZE - 1; i += 5)
        long_path[i] = '/';
    for (size_t i = 0; i + 3 < DEEP_PATH_SIZE; i += 3)
        memcpy(deep_path + i, "../", 3);
    make_tree();
    setup_arena();
    check_kernel_half();
    initial_brk = (uintptr_t)syscall(SYS_brk, 0);

    pthread_t t;
    for (int i = 0; i < nworkers; i++)
        if (pthread_create(&t, NULL, worker, (void *)(intptr_t)i) != 0) {
            printf("sysfuzz: set-up: pthread_create failed\n");
            return 2;
        }
    if (pthread_create(&t, NULL, watchdog, NULL) != 0) {
        printf("sysfuzz: set-up: pthread_create failed\n");
        return 2;
    }
    /* Again: pthread_create installed glibc's own SIGCANCEL/SIGSETXID handlers (SA_ONSTACK: with
     * a fuzzed sigaltstack their frames would land on garbage, killing the fuzzer as on Linux). */
    install_handlers();
    reset_fds();
    learn_own_ranges(); /* now that the threads and their stacks exist */
    scrub_debug = getenv("SYSFUZZ_SCRUB_DEBUG") != NULL;
    if (scrub_debug)
        for (int k = 0; k < nown; k++)
            fprintf(stderr, "sysfuzz: own %#lx-%#lx\n", (unsigned long)own_lo[k],
                    (unsigned long)own_hi[k]);
    own_sum_at_start = own_sum();

    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t errors = 0;
    int meminfo = getenv("SYSFUZZ_MEMINFO") != NULL;
    for (uint64_t i = 0; i < calls; i++) {
        if (meminfo && i % 2000 == 0)
            print_meminfo(i);
        if (i % 1000 == 999) {
            reset_fds();
            remap_arena();
            syscall(SYS_brk, initial_brk);
            scrub_all();
            if (own_sum() != own_sum_at_start)
                report_and_exit(3, "the fuzzer's own tables changed (a write through a pointer)");
        }
        uint64_t a[6];
        long nr = pick_call(a);
        if (verbose) {
            char line[300];
            format_call(line, sizeof line, nr, a);
            printf("#%lu %s\n", (unsigned long)i, line);
        }
        cur_nr = nr;
        for (int k = 0; k < 6; k++)
            cur_args[k] = a[k];
        in_call = 1;
        long r = syscall(nr, a[0], a[1], a[2], a[3], a[4], a[5]);
        in_call = 0;
        call_seq++;
        if (r == -1)
            errors++;
        after_call(nr, a, r == -1 ? -errno : r);
        scrub_after(nr, a);
        scrub_written(nr, a, r);
        if (meminfo) { /* which call leaves a signal with flags the fuzzer never sets? */
            for (int sg = 1; sg <= 64; sg++) {
                struct ksigaction cur;
                if (sg != SIGKILL && sg != SIGSTOP && raw_sigaction(sg, NULL, &cur) == 0 &&
                    cur.handler != (void *)on_signal && cur.handler != NULL) {
                    char line[300];
                    format_call(line, sizeof line, nr, a);
                    printf("sysfuzz: signal %d handler %p flags %lx after #%lu %s\n", sg,
                           cur.handler, cur.flags, (unsigned long)i, line);
                    _exit(9);
                }
            }
        }
        if (!verbose && i % 20000 == 19999)
            printf("sysfuzz: %lu calls\n", (unsigned long)i + 1);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;
    uint64_t wp = 0;
    for (int i = 0; i < nworkers; i++)
        wp += worker_progress[i];
    printf("sysfuzz: seed %lu: %lu calls clean (%lu failed with an errno), %.0f calls/s; workers: "
           "%lu steps, %lu faults recovered\n",
           (unsigned long)seed, (unsigned long)calls, (unsigned long)errors,
           secs > 0 ? calls / secs : 0.0, (unsigned long)wp, (unsigned long)recovered_faults);
    printf("sysfuzz: structures built:");
    for (int k = 0; k < B_KINDS; k++)
        printf(" %s %lu", built_names[k], (unsigned long)built[k]);
    printf("; inner pointers: valid %lu, off the end %lu, null %lu, bad %lu, kernel half %lu; "
           "fuzzer addresses scrubbed %lu (%lu by the periodic scan)\n",
           (unsigned long)inner_ptrs[IP_VALID], (unsigned long)inner_ptrs[IP_OFF_END],
           (unsigned long)inner_ptrs[IP_NULL], (unsigned long)inner_ptrs[IP_BAD],
           (unsigned long)inner_ptrs[IP_KERNEL], (unsigned long)scrubbed,
           (unsigned long)scrubbed_by_scan);
    syscall(SYS_exit_group, 0);
    return 0;
}
