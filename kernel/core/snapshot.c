/* Warm snapshots (see core/snapshot.h). QEMU stops every vCPU at once by itself; the freeze is
 * there so that no program code runs between the restore and the moment the wall clock is right
 * again: a restored VM resumes with the clock of the instant it was saved. Every CPU but this one
 * spins in snapshot_hold with interrupts off; this one polls COM3 for the thaw.
 *
 * State: `freezing` and `held` are the handshake with the held CPUs (atomics); the freeze itself
 * runs on one CPU at a time (the control channel's interrupt, routed to CPU 0). */
#include "core/snapshot.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/lapic.h"
#include "arch/x86_64/percpu.h"
#include "arch/x86_64/serial.h"
#include "arch/x86_64/smp.h"
#include "arch/x86_64/tsc.h"
#include "core/clock.h"
#include "core/random.h"
#include "lib/printf.h"
#include "lib/string.h"

static volatile int freezing;  /* set from the freeze to the thaw: held CPUs spin while it is */
static volatile unsigned held; /* CPUs spinning in snapshot_hold */

static void pause(void) { __asm__ volatile("pause" ::: "memory"); }

void snapshot_hold(void)
{
    if (!__atomic_load_n(&freezing, __ATOMIC_ACQUIRE))
        return; /* a late IPI of a freeze that gave up */
    __atomic_fetch_add(&held, 1, __ATOMIC_ACQ_REL);
    while (__atomic_load_n(&freezing, __ATOMIC_ACQUIRE))
        pause();
    __atomic_fetch_sub(&held, 1, __ATOMIC_ACQ_REL);
}

/* Stops every other CPU: 0, or -1 if one has not come within HOLD_LIMIT_S (it ran with
 * interrupts off that long, or, under TCG, the host did not run its vCPU thread: the limit is
 * generous for a loaded host). */
#define HOLD_LIMIT_S 10
static int hold_others(void)
{
    unsigned me = percpu()->cpu, want = smp_ncpus - 1;
    __atomic_store_n(&freezing, 1, __ATOMIC_RELEASE);
    for (unsigned c = 0; c < smp_ncpus; c++)
        if (c != me)
            lapic_send_ipi(smp_apic_id[c], VECTOR_FREEZE);
    uint64_t limit = rdtsc() + HOLD_LIMIT_S * tsc_hz;
    while (__atomic_load_n(&held, __ATOMIC_ACQUIRE) < want)
        if (rdtsc() > limit)
            return -1;
        else
            pause();
    return 0;
}

static void release_others(void)
{
    __atomic_store_n(&freezing, 0, __ATOMIC_RELEASE);
    uint64_t limit = rdtsc() + HOLD_LIMIT_S * tsc_hz;
    while (__atomic_load_n(&held, __ATOMIC_ACQUIRE) && rdtsc() < limit)
        pause();
}

/* "rt=NS" in the thaw line: the host's wall time when it sent the line. */
static int parse_rt(const char *s, uint64_t *out)
{
    if (strncmp(s, "rt=", 3))
        return -1;
    uint64_t v = 0;
    s += 3;
    if (!*s)
        return -1;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > 0xffffffffffffffffull / 10 - 9)
            return -1;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return 0;
}

/* Polls COM3 for the thaw line; returns its wall time (0 if it had none, or if none came within
 * THAW_LIMIT_S: a host that went away mid-snapshot does not leave the VM frozen for good; a saved
 * VM does not run between the save and its restore, so the limit never cuts a restore short).
 * Other lines are dropped: the host sends none while the VM is frozen. */
#define THAW_LIMIT_S 60
static uint64_t wait_thaw(int *timed_out)
{
    static const char cmd[] = "lwjvm:thaw";
    char line[96];
    unsigned len = 0;
    uint64_t limit = rdtsc() + THAW_LIMIT_S * tsc_hz;
    *timed_out = 0;
    for (;;) {
        char c;
        if (!serial_read_byte(SERIAL_KLOG, &c)) {
            if (rdtsc() > limit) {
                *timed_out = 1;
                return 0;
            }
            pause();
            continue;
        }
        if (c != '\n') {
            if (len + 1 < sizeof line)
                line[len++] = c;
            continue;
        }
        line[len] = 0;
        len = 0;
        if (strncmp(line, cmd, sizeof cmd - 1))
            continue;
        uint64_t rt;
        const char *arg = line + sizeof cmd - 1;
        return *arg == ' ' && !parse_rt(arg + 1, &rt) ? rt : 0;
    }
}

void snapshot_freeze(void)
{
    if (hold_others()) {
        release_others();
        klog_start_line();
        kprintf("\x1elwjvm:frozen ok=0 reason=cpus-did-not-stop\n");
        return;
    }
    uint64_t t0 = clock_monotonic_ns();
    klog_start_line();
    kprintf("\x1elwjvm:frozen ok=1 cpus=%u\n", smp_ncpus);
    int timed_out;
    uint64_t rt = wait_thaw(&timed_out);
    uint64_t frozen_us = (clock_monotonic_ns() - t0) / 1000;
    if (rt)
        clock_set_realtime((int64_t)rt);
    random_reseed(rt ^ rdtsc());
    release_others();
    klog_start_line();
    kprintf("\x1elwjvm:thawed frozen_us=%lu clock=%s%s\n", frozen_us, rt ? "host" : "kept",
            timed_out ? " reason=no-thaw-in-60s" : "");
}
