/* CPU-time accounting (see core/cputime.h). */
#include "core/cputime.h"
#include "arch/x86_64/io.h"
#include "arch/x86_64/tsc.h"
#include "core/stats.h"
#include "sched/sched.h"
#include "sched/thread.h"

static uint64_t start_tsc;
static uint64_t idle_at_start;

void cputime_start(void)
{
    start_tsc = rdtsc();
    idle_at_start = sched_idle_tsc();
}

uint64_t cputime_process_ns(void)
{
    /* The idle thread's time counts from when it is switched in, so a timer interrupt that
     * arrives while it halts does not see the halt so far as the program's. */
    uint64_t idle = sched_idle_tsc() - idle_at_start;
    uint64_t ran = (rdtsc() - start_tsc) * sched_ncpus();
    return tsc_to_ns(ran > idle ? ran - idle : 0);
}

uint64_t cputime_thread_ns(const struct thread *t)
{
    return tsc_to_ns(sched_thread_tsc(t));
}

void cputime_split(uint64_t total, uint64_t *user, uint64_t *sys)
{
    uint64_t proc = cputime_process_ns();
    uint64_t kern = tsc_to_ns(kstats.syscall_tsc + kstats.fault_tsc);
    uint64_t s = 0;
    if (kern >= proc) {
        s = proc ? total : 0;
    } else if (kern) {
        while (proc >> 32) { /* the fraction kern/proc in 32 bits, without a 128-bit division */
            proc >>= 1;
            kern >>= 1;
        }
        uint64_t frac = (kern << 32) / proc;
        s = (uint64_t)(((unsigned __int128)total * frac) >> 32);
    }
    *sys = s;
    *user = total - s;
}
