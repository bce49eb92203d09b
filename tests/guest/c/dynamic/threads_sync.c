/* Mutex, condition variable, barrier, rwlock and semaphore stress with 64 threads: every count
 * comes out exact, so the output is the same wherever it runs. */
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>
#include <stdio.h>
#include <time.h>

#include "../check.h"

#define THREADS 64
#define MUTEX_ITERS 2000
#define ITEMS_PER_PRODUCER 300
#define ROUNDS 40

static pthread_mutex_t mutex = PTHREAD_MUTEX_INITIALIZER;
static long counter;

static void *mutex_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < MUTEX_ITERS; i++) {
        pthread_mutex_lock(&mutex);
        long v = counter;
        if (i % 64 == 0)
            sched_yield(); /* hold the lock across a switch now and then */
        counter = v + 1;
        pthread_mutex_unlock(&mutex);
    }
    return NULL;
}

/* A bounded queue: THREADS/2 producers, THREADS/2 consumers. */
#define QCAP 8
static pthread_mutex_t qlock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER, not_empty = PTHREAD_COND_INITIALIZER;
static long queue[QCAP];
static int qhead, qlen, producers_left = THREADS / 2;
static long consumed_sum, consumed_count;

static void *producer(void *arg)
{
    long base = (long)arg * ITEMS_PER_PRODUCER;
    for (long i = 0; i < ITEMS_PER_PRODUCER; i++) {
        pthread_mutex_lock(&qlock);
        while (qlen == QCAP)
            pthread_cond_wait(&not_full, &qlock);
        queue[(qhead + qlen++) % QCAP] = base + i;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&qlock);
    }
    pthread_mutex_lock(&qlock);
    if (--producers_left == 0)
        pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&qlock);
    return NULL;
}

static void *consumer(void *arg)
{
    (void)arg;
    long sum = 0, count = 0;
    for (;;) {
        pthread_mutex_lock(&qlock);
        while (qlen == 0 && producers_left > 0)
            pthread_cond_wait(&not_empty, &qlock);
        if (qlen == 0) {
            pthread_mutex_unlock(&qlock);
            break;
        }
        sum += queue[qhead];
        qhead = (qhead + 1) % QCAP;
        qlen--;
        count++;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&qlock);
    }
    pthread_mutex_lock(&qlock);
    consumed_sum += sum;
    consumed_count += count;
    pthread_mutex_unlock(&qlock);
    return NULL;
}

static pthread_barrier_t barrier;
static atomic_int arrivals[ROUNDS];
static atomic_int barrier_errors, serial_count;

static void *barrier_worker(void *arg)
{
    (void)arg;
    for (int r = 0; r < ROUNDS; r++) {
        atomic_fetch_add(&arrivals[r], 1);
        int rc = pthread_barrier_wait(&barrier);
        if (rc == PTHREAD_BARRIER_SERIAL_THREAD)
            atomic_fetch_add(&serial_count, 1);
        else if (rc != 0)
            atomic_fetch_add(&barrier_errors, 1);
        /* Past the barrier, everyone has arrived for this round. */
        if (atomic_load(&arrivals[r]) != THREADS)
            atomic_fetch_add(&barrier_errors, 1);
    }
    return NULL;
}

static pthread_rwlock_t rwlock = PTHREAD_RWLOCK_INITIALIZER;
static long rw_a, rw_b; /* writers keep rw_a == rw_b */
static atomic_int rw_torn;

static void *rw_worker(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < 500; i++) {
        if (id % 8 == 0) {
            pthread_rwlock_wrlock(&rwlock);
            rw_a++;
            sched_yield();
            rw_b++;
            pthread_rwlock_unlock(&rwlock);
        } else {
            pthread_rwlock_rdlock(&rwlock);
            if (rw_a != rw_b)
                atomic_fetch_add(&rw_torn, 1);
            pthread_rwlock_unlock(&rwlock);
        }
    }
    return NULL;
}

static sem_t sem;
static atomic_int in_section, max_in_section;

static void *sem_worker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 200; i++) {
        sem_wait(&sem);
        int n = atomic_fetch_add(&in_section, 1) + 1;
        int m = atomic_load(&max_in_section);
        while (n > m && !atomic_compare_exchange_weak(&max_in_section, &m, n))
            ;
        if (i % 16 == 0)
            sched_yield();
        atomic_fetch_sub(&in_section, 1);
        sem_post(&sem);
    }
    return NULL;
}

static void *timedlock_worker(void *arg)
{
    return (void *)(long)pthread_mutex_timedlock(&mutex, arg);
}

static int run_all(void *(*fn)(void *))
{
    pthread_t t[THREADS];
    int created = 0;
    for (long i = 0; i < THREADS; i++)
        created += pthread_create(&t[i], NULL, fn, (void *)i) == 0;
    for (int i = 0; i < created; i++)
        pthread_join(t[i], NULL);
    return created;
}

int main(void)
{
    CHECK_EQ("mutex: threads created", run_all(mutex_worker), THREADS);
    CHECK_EQ("mutex: counter exact", counter, (long)THREADS * MUTEX_ITERS);

    pthread_t t[THREADS];
    for (long i = 0; i < THREADS / 2; i++) {
        start_thread(&t[i], NULL, producer, (void *)i);
        start_thread(&t[THREADS / 2 + i], NULL, consumer, NULL);
    }
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    long n = (long)(THREADS / 2) * ITEMS_PER_PRODUCER;
    CHECK_EQ("condvar: items consumed", consumed_count, n);
    CHECK_EQ("condvar: sum of items", consumed_sum, n * (n - 1) / 2);

    pthread_barrier_init(&barrier, NULL, THREADS);
    run_all(barrier_worker);
    CHECK_EQ("barrier: no early release", barrier_errors, 0);
    CHECK_EQ("barrier: one serial thread per round", serial_count, ROUNDS);
    pthread_barrier_destroy(&barrier);

    run_all(rw_worker);
    CHECK_EQ("rwlock: readers never see a half update", rw_torn, 0);
    CHECK_EQ("rwlock: writer updates", rw_a, 8 * 500);

    sem_init(&sem, 0, 4);
    run_all(sem_worker);
    CHECK("semaphore: at most 4 inside", max_in_section <= 4 && max_in_section >= 1);
    int v;
    sem_getvalue(&sem, &v);
    CHECK_EQ("semaphore: value restored", v, 4);
    /* Timed waits on CLOCK_MONOTONIC, as the JVM's parkers use them: they time out, not early. */
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_t cond;
    pthread_cond_init(&cond, &ca);
    pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
    struct timespec start, deadline, end;
    clock_gettime(CLOCK_MONOTONIC, &start);
    deadline = start;
    deadline.tv_nsec += 20 * 1000 * 1000;
    if (deadline.tv_nsec >= 1000000000) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000;
    }
    pthread_mutex_lock(&m);
    int rc = 0;
    while (rc == 0) /* a spurious wake-up may return 0 early: wait again */
        rc = pthread_cond_timedwait(&cond, &m, &deadline);
    pthread_mutex_unlock(&m);
    clock_gettime(CLOCK_MONOTONIC, &end);
    CHECK_EQ("pthread_cond_timedwait (MONOTONIC) times out", rc, ETIMEDOUT);
    CHECK("not before its deadline", end.tv_sec > deadline.tv_sec ||
                                         (end.tv_sec == deadline.tv_sec &&
                                          end.tv_nsec >= deadline.tv_nsec));
    pthread_mutex_lock(&mutex);
    struct timespec rt;
    clock_gettime(CLOCK_REALTIME, &rt);
    rt.tv_nsec += 50 * 1000 * 1000; /* held by us: the attempt from another thread times out */
    if (rt.tv_nsec >= 1000000000) {
        rt.tv_sec++;
        rt.tv_nsec -= 1000000000;
    }
    pthread_t locker;
    start_thread(&locker, NULL, timedlock_worker, &rt);
    void *ret = join_thread(locker, 30);
    pthread_mutex_unlock(&mutex);
    CHECK_EQ("pthread_mutex_timedlock on a held mutex times out", (long)ret, ETIMEDOUT);
    return check_done();
}
