/* Hundreds of threads: 300 alive at once (default attributes, so 300 default-size stacks), each
 * with its own thread id and thread-local storage; then 1000 short-lived threads created and joined
 * in turn, so thread exit gives its resources back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../check.h"

#define ALIVE 300
#define CHURN 1000

static pthread_barrier_t all_alive;
static pid_t tids[ALIVE];
static __thread long tls_value;
static atomic_int tls_errors;

static void *alive_worker(void *arg)
{
    long i = (long)arg;
    tls_value = i * 3;
    tids[i] = (pid_t)syscall(SYS_gettid);
    pthread_barrier_wait(&all_alive); /* every thread exists at this point */
    if (tls_value != i * 3)
        atomic_fetch_add(&tls_errors, 1);
    return (void *)(i + 1);
}

static void *short_worker(void *arg)
{
    return (void *)((long)arg * 2);
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

int main(void)
{
    pthread_t t[ALIVE];
    pthread_barrier_init(&all_alive, NULL, ALIVE + 1);
    int created = 0;
    for (long i = 0; i < ALIVE; i++)
        created += pthread_create(&t[i], NULL, alive_worker, (void *)i) == 0;
    CHECK_EQ("threads created", created, ALIVE);
    REQUIRE(created == ALIVE);
    pthread_barrier_wait(&all_alive);
    long joined_sum = 0;
    for (int i = 0; i < ALIVE; i++) {
        void *ret;
        pthread_join(t[i], &ret);
        joined_sum += (long)ret;
    }
    CHECK_EQ("every join returned the thread's value", joined_sum, (long)ALIVE * (ALIVE + 1) / 2);
    CHECK_EQ("thread-local storage stayed per thread", atomic_load(&tls_errors), 0);

    pid_t main_tid = (pid_t)syscall(SYS_gettid);
    CHECK_EQ("main thread's tid is the pid", main_tid, getpid());
    qsort(tids, ALIVE, sizeof tids[0], cmp_pid);
    int dup = 0, is_main = 0;
    for (int i = 0; i < ALIVE; i++) {
        dup += i > 0 && tids[i] == tids[i - 1];
        is_main += tids[i] == main_tid;
    }
    CHECK_EQ("thread ids are distinct", dup, 0);
    CHECK_EQ("no thread has the main thread's id", is_main, 0);

    long churn_sum = 0;
    int churn_ok = 0;
    for (long i = 0; i < CHURN; i++) {
        pthread_t c;
        void *ret;
        if (pthread_create(&c, NULL, short_worker, (void *)i) == 0 && pthread_join(c, &ret) == 0) {
            churn_ok++;
            churn_sum += (long)ret;
        }
    }
    CHECK_EQ("short-lived threads created and joined", churn_ok, CHURN);
    CHECK_EQ("short-lived results", churn_sum, (long)CHURN * (CHURN - 1));

    /* Detached threads that exit on their own. */
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    int detached = 0;
    for (long i = 0; i < 50; i++) {
        pthread_t d;
        detached += pthread_create(&d, &attr, short_worker, (void *)i) == 0;
    }
    CHECK_EQ("detached threads created", detached, 50);
    return check_done();
}
