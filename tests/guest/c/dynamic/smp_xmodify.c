/* Code patched while other threads run it, as HotSpot patches the entry of a compiled method it
 * makes not entrant (x86 NativeJump::patch_verified_entry): "jmp self" over bytes 0-3, then byte 4,
 * then bytes 0-3 of a 5-byte jmp; and patched back the same way, for SECONDS (argument 1). A
 * caller thread calls the entry in a loop with every register it could address memory through
 * pointing at unmapped memory. Each call must run either the old entry (returns 1) or the jump's
 * target (returns 2): a call that faults, returns anything else or never returns ran bytes of both
 * versions at once. Under QEMU's TCG with several vCPUs that happens (a translation torn by the
 * write, on Linux guests too): the kernel maps such pages writable or executable, never both
 * (mm/fault.h, mm_wx_split), and this program is its regression test. Every printed line is
 * deterministic. */
#include "../check.h"
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#define F_OFF 0x100 /* the patched entry */
#define G_OFF 0x800 /* the jump's target */

static uint8_t *code;
static volatile int stop;
static sigjmp_buf caller_env;
static volatile sig_atomic_t caller_armed;
static long calls, torn, wrong, returned;
static uint8_t old_entry[8], new_entry[8];

static void on_fault(int sig, siginfo_t *si, void *uc)
{
    (void)sig, (void)si, (void)uc;
    if (!caller_armed)
        _exit(99); /* a fault outside the call: the program itself is broken */
    siglongjmp(caller_env, 1);
}

/* Calls the entry with RBX, RCX, RDX, RSI, RDI, RBP and R8-R15 at an unmapped address, so that a
 * torn instruction addressing memory through any of them faults instead of writing somewhere. */
static long call_entry(void)
{
    long r;
    __asm__ volatile("sub $128, %%rsp\n" /* the red zone */
                     "push %%rbp\n"
                     "push %1\n"
                     "mov $0x100000000000, %%rbx\n"
                     "mov %%rbx, %%rcx\n mov %%rbx, %%rdx\n mov %%rbx, %%rsi\n"
                     "mov %%rbx, %%rdi\n mov %%rbx, %%rbp\n mov %%rbx, %%r8\n"
                     "mov %%rbx, %%r9\n mov %%rbx, %%r10\n mov %%rbx, %%r11\n"
                     "mov %%rbx, %%r12\n mov %%rbx, %%r13\n mov %%rbx, %%r14\n"
                     "mov %%rbx, %%r15\n"
                     "xor %%eax, %%eax\n"
                     "call *(%%rsp)\n"
                     "add $8, %%rsp\n"
                     "pop %%rbp\n"
                     "add $128, %%rsp\n"
                     : "=a"(r)
                     : "r"(code + F_OFF)
                     : "rbx", "rcx", "rdx", "rsi", "rdi", "r8", "r9", "r10", "r11", "r12", "r13",
                       "r14", "r15", "memory", "cc");
    return r;
}

static void *caller(void *arg)
{
    (void)arg;
    /* The old entry writes 80 KiB below the stack pointer (HotSpot's stack bang): map it. */
    volatile char below[0x20000];
    memset((char *)below, 0, sizeof below);
    while (!stop) {
        if (sigsetjmp(caller_env, 1)) {
            caller_armed = 0;
            torn++;
            continue;
        }
        caller_armed = 1;
        long r = call_entry();
        caller_armed = 0;
        calls++;
        if (r != 1 && r != 2)
            wrong++;
    }
    __atomic_store_n(&returned, 1, __ATOMIC_RELEASE);
    return 0;
}

static void patch(const uint8_t *to)
{
    volatile uint32_t *head = (volatile uint32_t *)(code + F_OFF);
    uint32_t word;
    *head = 0xfeebfeebu; /* eb fe eb fe: jmp self */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    ((volatile uint8_t *)code)[F_OFF + 4] = to[4];
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    memcpy(&word, to, 4);
    *head = word;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    code = mmap(0, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return check_detail("rwx page", 0, "mmap: %s", errno_name(errno)) ? 0 : 1;
    memset(code, 0xcc, 4096); /* int3 everywhere else */
    /* old: mov [rsp-0x14000], eax; mov eax, 1; ret          target: mov eax, 2; ret */
    static const uint8_t f[] = {0x89, 0x84, 0x24, 0x00, 0xc0, 0xfe, 0xff,
                                0xb8, 0x01, 0, 0, 0, 0xc3};
    static const uint8_t g[] = {0xb8, 0x02, 0, 0, 0, 0xc3};
    memcpy(code + F_OFF, f, sizeof f);
    memcpy(code + G_OFF, g, sizeof g);
    memcpy(old_entry, f, sizeof old_entry);
    int32_t rel = G_OFF - (F_OFF + 5);
    new_entry[0] = 0xe9;
    memcpy(new_entry + 1, &rel, 4);
    memcpy(new_entry + 5, f + 5, 3);

    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    int sigs[] = {SIGSEGV, SIGILL, SIGBUS, SIGTRAP, SIGFPE};
    for (unsigned i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
        sigaction(sigs[i], &sa, 0);

    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 1 << 20);
    if (pthread_create(&t, &attr, caller, 0))
        return 1;
    long patches = 0;
    double end = now() + seconds;
    while (now() < end) {
        for (int i = 0; i < 64; i++) {
            patch(new_entry);
            patch(old_entry);
        }
        patches += 128;
    }
    stop = 1;
    /* A caller spinning on a "jmp self" that was patched away long ago never comes back. */
    double give_up = now() + 10;
    while (!__atomic_load_n(&returned, __ATOMIC_ACQUIRE) && now() < give_up)
        usleep(1000);
    int back = __atomic_load_n(&returned, __ATOMIC_ACQUIRE) != 0;
    check_detail("caller returned", back, "still running the entry 10 s after the last patch");
    if (!back)
        _exit(1);
    pthread_join(t, 0);
    check_detail("entry called while patched", calls > 0 && patches > 0, "calls %ld patches %ld",
                 calls, patches);
    check_detail("every call ran the old or the new entry", torn == 0 && wrong == 0,
                 "%ld faulted, %ld returned neither 1 nor 2, of %ld calls over %ld patches",
                 torn, wrong, calls + torn, patches);
    return check_failures ? 1 : 0;
}
