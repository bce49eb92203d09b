/* Each thread's FPU/SSE/AVX state is its own: threads fill the vector registers with their own
 * values, give up the CPU (a system call, then a long spin the timer must preempt), and find their
 * values intact; rounding modes (MXCSR and the x87 control word) stay per thread too. AVX and
 * AVX-512 rounds run only where the CPU has them and print the same line either way. */
#include <cpuid.h>
#include <fenv.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../check.h"

#define THREADS 4
#define ROUNDS 20

static atomic_int xmm_errors, ymm_errors, zmm_errors, round_errors;
static int have_avx, have_avx512;
static double third[THREADS]; /* 1/3 as each thread rounded it */

static void fill(uint8_t *buf, size_t n, int seed, int round)
{
    for (size_t i = 0; i < n; i++)
        buf[i] = (uint8_t)(seed * 37 + round * 11 + i * 3);
}

/* Loads 16 xmm registers, yields (syscall) or spins, and stores them back. */
static void xmm_roundtrip(const uint8_t in[256], uint8_t out[256], int spin)
{
    __asm__ volatile(
        "movdqu 0(%[in]), %%xmm0\n\t movdqu 16(%[in]), %%xmm1\n\t"
        "movdqu 32(%[in]), %%xmm2\n\t movdqu 48(%[in]), %%xmm3\n\t"
        "movdqu 64(%[in]), %%xmm4\n\t movdqu 80(%[in]), %%xmm5\n\t"
        "movdqu 96(%[in]), %%xmm6\n\t movdqu 112(%[in]), %%xmm7\n\t"
        "movdqu 128(%[in]), %%xmm8\n\t movdqu 144(%[in]), %%xmm9\n\t"
        "movdqu 160(%[in]), %%xmm10\n\t movdqu 176(%[in]), %%xmm11\n\t"
        "movdqu 192(%[in]), %%xmm12\n\t movdqu 208(%[in]), %%xmm13\n\t"
        "movdqu 224(%[in]), %%xmm14\n\t movdqu 240(%[in]), %%xmm15\n\t"
        "test %[spin], %[spin]\n\t jz 1f\n\t"
        "2: dec %[spin]\n\t jnz 2b\n\t jmp 3f\n"
        "1: mov $24, %%eax\n\t syscall\n" /* sched_yield */
        "3:\n\t"
        "movdqu %%xmm0, 0(%[out])\n\t movdqu %%xmm1, 16(%[out])\n\t"
        "movdqu %%xmm2, 32(%[out])\n\t movdqu %%xmm3, 48(%[out])\n\t"
        "movdqu %%xmm4, 64(%[out])\n\t movdqu %%xmm5, 80(%[out])\n\t"
        "movdqu %%xmm6, 96(%[out])\n\t movdqu %%xmm7, 112(%[out])\n\t"
        "movdqu %%xmm8, 128(%[out])\n\t movdqu %%xmm9, 144(%[out])\n\t"
        "movdqu %%xmm10, 160(%[out])\n\t movdqu %%xmm11, 176(%[out])\n\t"
        "movdqu %%xmm12, 192(%[out])\n\t movdqu %%xmm13, 208(%[out])\n\t"
        "movdqu %%xmm14, 224(%[out])\n\t movdqu %%xmm15, 240(%[out])\n\t"
        : [spin] "+r"((long){spin})
        : [in] "r"(in), [out] "r"(out)
        : "rax", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
          "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* The same with the 16 ymm registers (256 bits each). */
__attribute__((target("avx"))) static void ymm_roundtrip(const uint8_t in[512], uint8_t out[512])
{
    __asm__ volatile(
        "vmovdqu 0(%[in]), %%ymm0\n\t vmovdqu 32(%[in]), %%ymm1\n\t"
        "vmovdqu 64(%[in]), %%ymm2\n\t vmovdqu 96(%[in]), %%ymm3\n\t"
        "vmovdqu 128(%[in]), %%ymm4\n\t vmovdqu 160(%[in]), %%ymm5\n\t"
        "vmovdqu 192(%[in]), %%ymm6\n\t vmovdqu 224(%[in]), %%ymm7\n\t"
        "vmovdqu 256(%[in]), %%ymm8\n\t vmovdqu 288(%[in]), %%ymm9\n\t"
        "vmovdqu 320(%[in]), %%ymm10\n\t vmovdqu 352(%[in]), %%ymm11\n\t"
        "vmovdqu 384(%[in]), %%ymm12\n\t vmovdqu 416(%[in]), %%ymm13\n\t"
        "vmovdqu 448(%[in]), %%ymm14\n\t vmovdqu 480(%[in]), %%ymm15\n\t"
        "mov $24, %%eax\n\t syscall\n\t"
        "vmovdqu %%ymm0, 0(%[out])\n\t vmovdqu %%ymm1, 32(%[out])\n\t"
        "vmovdqu %%ymm2, 64(%[out])\n\t vmovdqu %%ymm3, 96(%[out])\n\t"
        "vmovdqu %%ymm4, 128(%[out])\n\t vmovdqu %%ymm5, 160(%[out])\n\t"
        "vmovdqu %%ymm6, 192(%[out])\n\t vmovdqu %%ymm7, 224(%[out])\n\t"
        "vmovdqu %%ymm8, 256(%[out])\n\t vmovdqu %%ymm9, 288(%[out])\n\t"
        "vmovdqu %%ymm10, 320(%[out])\n\t vmovdqu %%ymm11, 352(%[out])\n\t"
        "vmovdqu %%ymm12, 384(%[out])\n\t vmovdqu %%ymm13, 416(%[out])\n\t"
        "vmovdqu %%ymm14, 448(%[out])\n\t vmovdqu %%ymm15, 480(%[out])\n\t"
        "vzeroupper\n\t"
        :
        : [in] "r"(in), [out] "r"(out)
        : "rax", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6",
          "xmm7", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
}

/* zmm16-31 (AVX-512 only) and opmask k1, across a yield. */
__attribute__((target("avx512f"))) static void zmm_roundtrip(const uint8_t in[1024],
                                                               uint8_t out[1024], uint16_t *k)
{
    __asm__ volatile(
        "vmovdqu64 0(%[in]), %%zmm16\n\t vmovdqu64 64(%[in]), %%zmm17\n\t"
        "vmovdqu64 128(%[in]), %%zmm18\n\t vmovdqu64 192(%[in]), %%zmm19\n\t"
        "vmovdqu64 256(%[in]), %%zmm20\n\t vmovdqu64 320(%[in]), %%zmm21\n\t"
        "vmovdqu64 384(%[in]), %%zmm22\n\t vmovdqu64 448(%[in]), %%zmm23\n\t"
        "vmovdqu64 512(%[in]), %%zmm24\n\t vmovdqu64 576(%[in]), %%zmm25\n\t"
        "vmovdqu64 640(%[in]), %%zmm26\n\t vmovdqu64 704(%[in]), %%zmm27\n\t"
        "vmovdqu64 768(%[in]), %%zmm28\n\t vmovdqu64 832(%[in]), %%zmm29\n\t"
        "vmovdqu64 896(%[in]), %%zmm30\n\t vmovdqu64 960(%[in]), %%zmm31\n\t"
        "kmovw (%[k]), %%k1\n\t"
        "mov $24, %%eax\n\t syscall\n\t"
        "vmovdqu64 %%zmm16, 0(%[out])\n\t vmovdqu64 %%zmm17, 64(%[out])\n\t"
        "vmovdqu64 %%zmm18, 128(%[out])\n\t vmovdqu64 %%zmm19, 192(%[out])\n\t"
        "vmovdqu64 %%zmm20, 256(%[out])\n\t vmovdqu64 %%zmm21, 320(%[out])\n\t"
        "vmovdqu64 %%zmm22, 384(%[out])\n\t vmovdqu64 %%zmm23, 448(%[out])\n\t"
        "vmovdqu64 %%zmm24, 512(%[out])\n\t vmovdqu64 %%zmm25, 576(%[out])\n\t"
        "vmovdqu64 %%zmm26, 640(%[out])\n\t vmovdqu64 %%zmm27, 704(%[out])\n\t"
        "vmovdqu64 %%zmm28, 768(%[out])\n\t vmovdqu64 %%zmm29, 832(%[out])\n\t"
        "vmovdqu64 %%zmm30, 896(%[out])\n\t vmovdqu64 %%zmm31, 960(%[out])\n\t"
        "kmovw %%k1, (%[k])\n\t"
        "vzeroupper\n\t"
        :
        : [in] "r"(in), [out] "r"(out), [k] "r"(k)
        : "rax", "rcx", "r11", "memory", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21",
          "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31",
          "k1");
}

static void *worker(void *arg)
{
    int id = (int)(long)arg;
    static const int modes[THREADS] = {FE_TONEAREST, FE_UPWARD, FE_DOWNWARD, FE_TOWARDZERO};
    fesetround(modes[id]);
    uint8_t in[1024], out[1024];
    for (int r = 0; r < ROUNDS; r++) {
        fill(in, sizeof in, id, r);
        memset(out, 0, sizeof out);
        xmm_roundtrip(in, out, r % 5 == 4 ? 2000000 : 0);
        if (memcmp(in, out, 256) != 0)
            atomic_fetch_add(&xmm_errors, 1);
        if (have_avx) {
            memset(out, 0, sizeof out);
            ymm_roundtrip(in, out);
            if (memcmp(in, out, 512) != 0)
                atomic_fetch_add(&ymm_errors, 1);
        }
        if (have_avx512) {
            uint16_t k = (uint16_t)(0x5a00 + id * 16 + r), k0 = k;
            memset(out, 0, sizeof out);
            zmm_roundtrip(in, out, &k);
            if (memcmp(in, out, 1024) != 0 || k != k0)
                atomic_fetch_add(&zmm_errors, 1);
        }
        if (fegetround() != modes[id])
            atomic_fetch_add(&round_errors, 1);
    }
    /* A rounding-sensitive division in the thread's own mode, compared across threads in main. */
    volatile double one = 1.0, three = 3.0;
    third[id] = one / three;
    return NULL;
}

/* AVX is usable when the CPU has it and the kernel enabled its state in XCR0 (OSXSAVE). */
static void detect(void)
{
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d) || !(c & bit_OSXSAVE) || !(c & bit_AVX))
        return;
    unsigned lo, hi;
    __asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
    have_avx = (lo & 6) == 6;
    if (__get_cpuid_count(7, 0, &a, &b, &c, &d) && (b & bit_AVX512F))
        have_avx512 = (lo & 0xe6) == 0xe6;
}

int main(void)
{
    detect();
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        start_thread(&t[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ("xmm0-15 preserved across yields and preemption", xmm_errors, 0);
    CHECK_EQ("ymm0-15 preserved across yields (where AVX exists)", ymm_errors, 0);
    CHECK_EQ("zmm16-31 and k1 preserved across yields (where AVX-512 exists)", zmm_errors, 0);
    CHECK_EQ("rounding mode stays per thread", round_errors, 0);
    CHECK("1/3 rounded upward is above 1/3 rounded downward", third[1] > third[2]);
    CHECK("1/3 rounded toward zero equals downward", third[3] == third[2]);
    CHECK("1/3 rounded to nearest is one of the two", third[0] == third[1] || third[0] == third[2]);
    return check_done();
}
