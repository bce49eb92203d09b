/* Races on purpose, for several CPUs (the same checks hold on one): threads fault on the same
 * fresh pages at once (each fault resolves once: no thread's writes are lost), one thread remaps
 * and re-protects pages another is reading (a stale TLB entry on the reader's CPU would show the
 * old page, or let a write through a read-only mapping), madvise(DONTNEED) under a reader, a
 * copy-on-write break seen by another thread, a futex storm (mutex, condition variable and a
 * counter hammered by every thread), signals to threads that spin in user mode, and the affinity
 * calls, one open file shared by every thread (pread at offsets of their own, read moving
 * one shared position), and one file appended to by every thread through opens of its own. Every
 * printed line is deterministic. */
/* (8.) Threads create, write, rename, stat and unlink files in one directory while another lists
 * it: every listing has each name once, and the directory ends as the host's does. (9.) Writers
 * and readers on one pipe at once: a write of at most PIPE_BUF bytes is never split or mixed. */
#include "../check.h"
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <dirent.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>

#define PAGE 4096
#define THREADS 4

static pthread_barrier_t barrier;

/* 1. Faults on the same fresh pages from every thread at once. */
#define FAULT_PAGES 64
#define FAULT_ROUNDS 40
static unsigned char *fault_area;

static void *fault_lane(void *arg)
{
    long lane = (long)arg;
    for (int r = 0; r < FAULT_ROUNDS; r++) {
        pthread_barrier_wait(&barrier); /* main has mapped a fresh area */
        for (int p = 0; p < FAULT_PAGES; p++)
            fault_area[p * PAGE + lane * 64] = (unsigned char)(lane + r + p + 1);
        pthread_barrier_wait(&barrier); /* main checks and unmaps */
    }
    return NULL;
}

static void check_fault_race(void)
{
    pthread_t t[THREADS];
    pthread_barrier_init(&barrier, NULL, THREADS + 1);
    for (long i = 0; i < THREADS; i++)
        start_thread(&t[i], NULL, fault_lane, (void *)i);
    int lost = 0;
    for (int r = 0; r < FAULT_ROUNDS; r++) {
        fault_area = mmap(NULL, FAULT_PAGES * PAGE, PROT_READ | PROT_WRITE,
                          MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        REQUIRE(fault_area != MAP_FAILED);
        pthread_barrier_wait(&barrier);
        pthread_barrier_wait(&barrier);
        for (int p = 0; p < FAULT_PAGES; p++)
            for (long lane = 0; lane < THREADS; lane++)
                if (fault_area[p * PAGE + lane * 64] != (unsigned char)(lane + r + p + 1))
                    lost++;
        munmap(fault_area, FAULT_PAGES * PAGE);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&barrier);
    CHECK_EQ("faults on the same pages from every thread keep every write", lost, 0);
}

/* 2. A reader follows a region that is replaced (MAP_FIXED), cleared (DONTNEED) and made
 * read-only while it reads. */
#define REMAP_ROUNDS 300
static volatile unsigned *region;
static atomic_int generation, reader_seen, reader_stale, reader_wrote_ro, stop_reader;
static sigjmp_buf reader_jmp;
static atomic_int reader_segv;

static void reader_segv_handler(int sig)
{
    (void)sig;
    atomic_fetch_add(&reader_segv, 1);
    siglongjmp(reader_jmp, 1);
}

static void *region_reader(void *arg)
{
    (void)arg;
    struct sigaction sa = {.sa_handler = reader_segv_handler};
    sigaction(SIGSEGV, &sa, NULL);
    int last = 0;
    while (!atomic_load(&stop_reader)) {
        int g = atomic_load(&generation);
        if (g == last)
            continue;
        /* The writer published generation g after its change: the region must show it. */
        int phase = g % 3;
        if (phase == 0) { /* remapped and filled with g */
            if (region[0] != (unsigned)g || region[1023] != (unsigned)g)
                atomic_fetch_add(&reader_stale, 1);
        } else if (phase == 1) { /* DONTNEED: reads as zero */
            if (region[0] != 0 || region[1023] != 0)
                atomic_fetch_add(&reader_stale, 1);
        } else { /* read-only: a write must fault */
            if (!sigsetjmp(reader_jmp, 1)) {
                region[5] = 1;
                atomic_fetch_add(&reader_wrote_ro, 1);
            }
        }
        last = g;
        atomic_store(&reader_seen, g);
    }
    return NULL;
}

static void check_remap_race(void)
{
    void *base = mmap(NULL, PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(base != MAP_FAILED);
    region = base;
    pthread_t t;
    start_thread(&t, NULL, region_reader, NULL);
    for (int g = 1; g <= REMAP_ROUNDS; g++) {
        int phase = g % 3;
        if (phase == 0) {
            void *p = mmap(base, PAGE, PROT_READ | PROT_WRITE,
                           MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
            REQUIRE(p == base);
            for (int i = 0; i < 1024; i++)
                region[i] = (unsigned)g;
        } else if (phase == 1) {
            mprotect(base, PAGE, PROT_READ | PROT_WRITE);
            region[0] = 7;
            region[1023] = 7;
            REQUIRE(madvise(base, PAGE, MADV_DONTNEED) == 0);
        } else {
            REQUIRE(mprotect(base, PAGE, PROT_READ) == 0);
        }
        atomic_store(&generation, g);
        while (atomic_load(&reader_seen) != g)
            ;
        if (phase == 2)
            mprotect(base, PAGE, PROT_READ | PROT_WRITE);
    }
    atomic_store(&stop_reader, 1);
    pthread_join(t, NULL);
    CHECK_EQ("a reader never sees a replaced or cleared page", atomic_load(&reader_stale), 0);
    CHECK_EQ("a write through a mapping made read-only faults", atomic_load(&reader_wrote_ro), 0);
    CHECK_EQ("every read-only write faulted", atomic_load(&reader_segv), REMAP_ROUNDS / 3);
    signal(SIGSEGV, SIG_DFL);
    munmap(base, PAGE);
}

/* 3. The futex storm: a mutex-protected counter, an atomic one and a condition variable
 * ping-pong between all threads. */
#define STORM_ITERS 20000
static pthread_mutex_t storm_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t storm_cond = PTHREAD_COND_INITIALIZER;
static long storm_counter;
static atomic_long storm_atomic;
static int turn;

static void *storm(void *arg)
{
    long me = (long)arg;
    for (int i = 0; i < STORM_ITERS; i++) {
        pthread_mutex_lock(&storm_mutex);
        storm_counter++;
        pthread_mutex_unlock(&storm_mutex);
        atomic_fetch_add(&storm_atomic, 1);
    }
    for (int i = 0; i < 500; i++) {
        pthread_mutex_lock(&storm_mutex);
        while (turn % THREADS != me)
            pthread_cond_wait(&storm_cond, &storm_mutex);
        turn++;
        pthread_cond_broadcast(&storm_cond);
        pthread_mutex_unlock(&storm_mutex);
    }
    return NULL;
}

static void check_futex_storm(void)
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        start_thread(&t[i], NULL, storm, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    CHECK_EQ("a mutex-protected counter under a storm", storm_counter, (long)THREADS * STORM_ITERS);
    CHECK_EQ("an atomic counter under a storm", atomic_load(&storm_atomic),
             (long)THREADS * STORM_ITERS);
    CHECK_EQ("a condition variable passes the turn around every thread", turn, THREADS * 500);
}

/* 4. Signals to threads spinning in user mode (no system call to notice them otherwise). */
static atomic_int spin_stop[THREADS], spin_got[THREADS], spinners_up;
static pthread_t spinner_ids[THREADS];

static void usr1(int sig)
{
    (void)sig;
    for (int i = 0; i < THREADS; i++)
        if (pthread_equal(pthread_self(), spinner_ids[i]))
            atomic_store(&spin_got[i], 1);
}

static void *spinner(void *arg)
{
    long me = (long)arg;
    atomic_fetch_add(&spinners_up, 1);
    while (!atomic_load(&spin_got[me]))
        ;
    while (!atomic_load(&spin_stop[me]))
        ;
    return NULL;
}

static void check_signal_spinners(void)
{
    signal(SIGUSR1, usr1);
    for (long i = 0; i < THREADS; i++)
        start_thread(&spinner_ids[i], NULL, spinner, (void *)i);
    while (atomic_load(&spinners_up) < THREADS)
        sched_yield();
    int got = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_kill(spinner_ids[i], SIGUSR1);
        while (!atomic_load(&spin_got[i]))
            sched_yield();
        got++;
        atomic_store(&spin_stop[i], 1);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(spinner_ids[i], NULL);
    CHECK_EQ("a signal reaches every thread spinning in user mode", got, THREADS);
}

/* 5. Affinity: the mask the kernel reports is the CPUs online; pinning to one CPU is kept. */
static void check_affinity(void)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    REQUIRE(sched_getaffinity(0, sizeof set, &set) == 0);
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    CHECK_EQ("sched_getaffinity lists the CPUs online", CPU_COUNT(&set), online);
    int first = -1;
    for (int c = 0; c < CPU_SETSIZE && first < 0; c++)
        if (CPU_ISSET(c, &set))
            first = c;
    cpu_set_t one;
    CPU_ZERO(&one);
    CPU_SET(first, &one);
    CHECK_OK("pinning to one CPU", sched_setaffinity(0, sizeof one, &one));
    int stayed = 1;
    for (int i = 0; i < 200; i++) {
        if (sched_getcpu() != first)
            stayed = 0;
        sched_yield();
    }
    CHECK("a pinned thread runs on its CPU only", stayed);
    cpu_set_t back;
    CPU_ZERO(&back);
    REQUIRE(sched_getaffinity(0, sizeof back, &back) == 0);
    CHECK_EQ("sched_getaffinity reports the pin", CPU_COUNT(&back), 1);
    CHECK_OK("unpinning", sched_setaffinity(0, sizeof set, &set));
}

/* Runs fn(lane) on THREADS threads at once and waits for them all (120 s at most); returns how
 * many lanes returned non-NULL (failed). */
static long run_lanes(void *(*fn)(void *))
{
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        start_thread(&t[i], NULL, fn, (void *)i);
    long failed = 0;
    for (int i = 0; i < THREADS; i++)
        failed += join_thread(t[i], 120) != NULL;
    return failed;
}

/* 6. One open file shared by every thread: pread at offsets of its own never sees another
 * thread's (a JVM loads classes from lib/modules with pread on several CPUs at once), and read
 * moves the one position a chunk at a time, so every chunk of the file is read exactly once. The
 * test file's every 8-byte word holds its own offset; /proc/self/exe (the root image in the
 * guest) is compared with a copy read by one thread. */
#define SHARE_WORDS (64 * 1024)
#define SHARE_BYTES (SHARE_WORDS * 8)
#define SHARE_CHUNK 64
#define PREADS 3000
static int share_fd, exe_fd;
static unsigned char *exe_copy;
static long exe_len;
static atomic_long pread_bad, exe_bad, chunks_seen, chunk_bad, chunk_twice;
static atomic_uchar chunk_mark[SHARE_BYTES / SHARE_CHUNK];

static void *pread_lane(void *arg)
{
    unsigned long seed = 0x9e3779b97f4a7c15ul * (unsigned long)((long)arg + 1);
    static _Thread_local uint64_t buf[4096 / 8];
    for (int i = 0; i < PREADS; i++) {
        seed = seed * 6364136223846793005ul + 1442695040888963407ul;
        unsigned long words = 1 + (seed >> 33) % 512;
        unsigned long at = (seed >> 13) % (SHARE_WORDS - words);
        ssize_t got = pread(share_fd, buf, words * 8, (off_t)(at * 8));
        if (got != (ssize_t)(words * 8)) {
            atomic_fetch_add(&pread_bad, 1);
            continue;
        }
        for (unsigned long w = 0; w < words; w++)
            if (buf[w] != (at + w) * 8) {
                atomic_fetch_add(&pread_bad, 1);
                break;
            }
        unsigned long len = 1 + (seed >> 20) % 4096;
        unsigned long off = (seed >> 7) % (unsigned long)exe_len;
        if (len > (unsigned long)exe_len - off)
            len = (unsigned long)exe_len - off;
        got = pread(exe_fd, buf, len, (off_t)off);
        if (got != (ssize_t)len || memcmp(buf, exe_copy + off, len) != 0)
            atomic_fetch_add(&exe_bad, 1);
    }
    return NULL;
}

static void *read_lane(void *arg)
{
    (void)arg;
    uint64_t buf[SHARE_CHUNK / 8];
    ssize_t got;
    while ((got = read(share_fd, buf, sizeof buf)) > 0) {
        atomic_fetch_add(&chunks_seen, 1);
        uint64_t at = buf[0];
        int ok = got == SHARE_CHUNK && at % SHARE_CHUNK == 0 && at < SHARE_BYTES;
        for (int w = 1; ok && w < SHARE_CHUNK / 8; w++)
            ok = buf[w] == at + (uint64_t)w * 8;
        if (!ok)
            atomic_fetch_add(&chunk_bad, 1);
        else if (atomic_exchange(&chunk_mark[at / SHARE_CHUNK], 1))
            atomic_fetch_add(&chunk_twice, 1);
    }
    return NULL;
}

static void check_shared_file(void)
{
    uint64_t *words = malloc(SHARE_BYTES);
    REQUIRE(words);
    for (long i = 0; i < SHARE_WORDS; i++)
        words[i] = (uint64_t)i * 8;
    int fd = open("smp_race.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0 && write(fd, words, SHARE_BYTES) == SHARE_BYTES);
    close(fd);
    free(words);
    share_fd = open("smp_race.bin", O_RDONLY);
    exe_fd = open("/proc/self/exe", O_RDONLY);
    REQUIRE(share_fd >= 0 && exe_fd >= 0);
    exe_len = lseek(exe_fd, 0, SEEK_END);
    REQUIRE(exe_len > 0 && (exe_copy = malloc((size_t)exe_len)));
    REQUIRE(pread(exe_fd, exe_copy, (size_t)exe_len, 0) == exe_len);

    run_lanes(pread_lane);
    CHECK_EQ("pread from threads at once reads each its own offset", atomic_load(&pread_bad), 0);
    CHECK_EQ("pread of the program's own file from threads at once", atomic_load(&exe_bad), 0);
    CHECK_EQ("pread leaves the shared position alone", lseek(share_fd, 0, SEEK_CUR), 0);

    run_lanes(read_lane);
    CHECK_EQ("read from threads at once: every chunk whole", atomic_load(&chunk_bad), 0);
    CHECK_EQ("read from threads at once: no chunk read twice", atomic_load(&chunk_twice), 0);
    CHECK_EQ("read from threads at once: every chunk read", atomic_load(&chunks_seen),
             SHARE_BYTES / SHARE_CHUNK);
    close(share_fd);
    close(exe_fd);
    free(exe_copy);
    unlink("smp_race.bin");
}

/* 7. Appends from threads, each through an open of its own (O_APPEND): each write lands whole at
 * the end of the file at its time, none over another (Linux holds the inode's lock for a
 * write), so the file ends up holding every record once. */
#define APPENDS 1500
#define RECORD 100

static void *append_lane(void *arg)
{
    long lane = (long)arg;
    int fd = open("smp_append.bin", O_WRONLY | O_APPEND);
    if (fd < 0)
        return (void *)1;
    char rec[RECORD];
    for (int i = 0; i < APPENDS; i++) {
        memset(rec, 'a' + (int)lane, sizeof rec);
        snprintf(rec, sizeof rec, "%ld %d|", lane, i);
        rec[RECORD - 1] = '\n';
        if (write(fd, rec, sizeof rec) != sizeof rec) {
            close(fd);
            return (void *)1;
        }
    }
    close(fd);
    return NULL;
}

static void check_appends(void)
{
    int fd = open("smp_append.bin", O_RDWR | O_CREAT | O_TRUNC, 0600);
    REQUIRE(fd >= 0);
    CHECK_EQ("O_APPEND writes from threads all succeed", run_lanes(append_lane), 0);
    off_t size = lseek(fd, 0, SEEK_END);
    CHECK_EQ("O_APPEND from threads: the file holds every record", size,
             (long)THREADS * APPENDS * RECORD);
    char *all = malloc((size_t)size + 1);
    REQUIRE(all && pread(fd, all, (size_t)size, 0) == size);
    int next[THREADS] = {0};
    long bad = 0;
    for (off_t at = 0; at + RECORD <= size; at += RECORD) {
        long lane;
        int i;
        char *r = all + at;
        if (sscanf(r, "%ld %d|", &lane, &i) != 2 || lane < 0 || lane >= THREADS ||
            i != next[lane] || r[RECORD - 1] != '\n' || r[RECORD - 2] != 'a' + lane) {
            bad++;
            continue;
        }
        next[lane]++;
    }
    CHECK_EQ("O_APPEND from threads: every record whole, each thread's in order", bad, 0);
    free(all);
    close(fd);
    unlink("smp_append.bin");
}

/* 8. One directory changed by every thread while another lists it. */
#define FS_FILES 300
static atomic_int fs_done;
static atomic_long fs_bad, fs_dups;

static void *fs_lane(void *arg)
{
    long lane = (long)arg;
    char a[64], b[64], data[1024];
    memset(data, 'a' + (int)lane, sizeof data);
    for (int i = 0; i < FS_FILES; i++) {
        snprintf(a, sizeof a, "smp_dir/t%ld-%d", lane, i);
        snprintf(b, sizeof b, "smp_dir/r%ld-%d", lane, i);
        int fd = open(a, O_WRONLY | O_CREAT | O_EXCL, 0644);
        struct stat st;
        if (fd < 0 || write(fd, data, sizeof data) != sizeof data || close(fd) != 0 ||
            rename(a, b) != 0 || stat(b, &st) != 0 || st.st_size != sizeof data ||
            (i % 2 == 0 && unlink(b) != 0))
            atomic_fetch_add(&fs_bad, 1);
    }
    atomic_fetch_add(&fs_done, 1);
    return NULL;
}

/* Lists the directory; counts names listed twice in one listing. Returns the names seen. */
static int list_once(void)
{
    static char seen[THREADS][FS_FILES][2];
    memset(seen, 0, sizeof seen);
    DIR *d = opendir("smp_dir");
    if (!d)
        return -1;
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        char kind;
        long lane;
        int i;
        if (e->d_name[0] == '.')
            continue;
        if (sscanf(e->d_name, "%c%ld-%d", &kind, &lane, &i) != 3 || (kind != 't' && kind != 'r') ||
            lane < 0 || lane >= THREADS || i < 0 || i >= FS_FILES) {
            atomic_fetch_add(&fs_bad, 1);
            continue;
        }
        if (seen[lane][i][kind == 'r']++)
            atomic_fetch_add(&fs_dups, 1);
        n++;
    }
    closedir(d);
    return n;
}

static void check_directory_race(void)
{
    REQUIRE(mkdir("smp_dir", 0755) == 0);
    pthread_t t[THREADS];
    for (long i = 0; i < THREADS; i++)
        start_thread(&t[i], NULL, fs_lane, (void *)i);
    int listings = 0;
    while (atomic_load(&fs_done) < THREADS) {
        list_once();
        listings++;
    }
    for (int i = 0; i < THREADS; i++)
        join_thread(t[i], 120);
    CHECK_EQ("create, write, rename, stat, unlink from threads at once", atomic_load(&fs_bad), 0);
    CHECK_EQ("a directory listed while it changes has each name once", atomic_load(&fs_dups), 0);
    CHECK_EQ("the directory ends with what was kept", list_once(), THREADS * FS_FILES / 2);
    CHECK("it was listed while it changed", listings > 0);
    DIR *d = opendir("smp_dir");
    struct dirent *e;
    char path[300];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "smp_dir/%s", e->d_name);
            unlink(path);
        }
    if (d)
        closedir(d);
    CHECK_OK("the emptied directory goes", rmdir("smp_dir"));
}

/* 9. One pipe, four writers of 512-byte records (atomic: at most PIPE_BUF) and two readers. */
#define PIPE_RECORDS 2000
#define PIPE_REC 512
static int pipe_fds[2];
static atomic_long pipe_bad, pipe_got;

static void *pipe_writer(void *arg)
{
    long lane = (long)arg;
    unsigned char rec[PIPE_REC];
    for (int i = 0; i < PIPE_RECORDS; i++) {
        memset(rec, (int)(lane * 64 + i % 64), sizeof rec);
        if (write(pipe_fds[1], rec, sizeof rec) != sizeof rec)
            atomic_fetch_add(&pipe_bad, 1);
    }
    return NULL;
}

static void *pipe_reader(void *arg)
{
    (void)arg;
    unsigned char rec[PIPE_REC];
    ssize_t n;
    while ((n = read(pipe_fds[0], rec, sizeof rec)) > 0) {
        int whole = n == PIPE_REC;
        for (int k = 1; whole && k < PIPE_REC; k++)
            whole = rec[k] == rec[0];
        atomic_fetch_add(whole ? &pipe_got : &pipe_bad, 1);
    }
    return NULL;
}

static void check_pipe_race(void)
{
    REQUIRE(pipe(pipe_fds) == 0);
    pthread_t w[THREADS], r[2];
    for (long i = 0; i < 2; i++)
        start_thread(&r[i], NULL, pipe_reader, NULL);
    for (long i = 0; i < THREADS; i++)
        start_thread(&w[i], NULL, pipe_writer, (void *)i);
    for (int i = 0; i < THREADS; i++)
        join_thread(w[i], 120);
    close(pipe_fds[1]); /* the readers see end-of-file */
    for (int i = 0; i < 2; i++)
        join_thread(r[i], 120);
    close(pipe_fds[0]);
    CHECK_EQ("pipe records of at most PIPE_BUF from threads at once arrive whole",
             atomic_load(&pipe_bad), 0);
    CHECK_EQ("and every one arrives", atomic_load(&pipe_got), (long)THREADS * PIPE_RECORDS);
}

int main(void)
{
    check_fault_race();
    check_remap_race();
    check_futex_storm();
    check_signal_spinners();
    check_affinity();
    check_shared_file();
    check_appends();
    check_directory_race();
    check_pipe_race();
    return check_done();
}
