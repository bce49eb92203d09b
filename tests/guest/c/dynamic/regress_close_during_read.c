/* Regression (found by sysfuzz, seeds 101-107): a thread blocked in read() on a pipe while another
 * thread closes that descriptor. The read holds its own reference to the open file, as on Linux, so
 * it still gets the data written afterwards, or end-of-file once the write end is closed. The
 * kernel used to free the file under the blocked read and then copy from freed memory (a general
 * protection fault in the kernel: a panic). */
#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "../check.h"

static int fds[2];
static atomic_int started;
static char got[8];

static void *reader(void *arg)
{
    (void)arg;
    atomic_store(&started, 1);
    return (void *)(long)read(fds[0], got, sizeof got);
}

static void settle(void)
{
    while (!atomic_load(&started))
        sched_yield();
    struct timespec ts = {0, 200 * 1000 * 1000}; /* let the reader block in read() */
    nanosleep(&ts, NULL);
}

int main(void)
{
    pthread_t t;
    void *res;

    /* data written after the read end was closed still reaches the blocked reader */
    CHECK("pipe", pipe(fds) == 0);
    pthread_create(&t, NULL, reader, NULL);
    settle();
    CHECK("close the read end under a blocked read", close(fds[0]) == 0);
    CHECK("the write end still has a reader", write(fds[1], "x", 1) == 1);
    pthread_join(t, &res);
    CHECK("the blocked read got the byte", (long)res == 1 && got[0] == 'x');
    close(fds[1]);

    /* both ends closed: the blocked read ends with end-of-file */
    atomic_store(&started, 0);
    CHECK("pipe again", pipe(fds) == 0);
    pthread_create(&t, NULL, reader, NULL);
    settle();
    CHECK("close the read end", close(fds[0]) == 0);
    CHECK("close the write end", close(fds[1]) == 0);
    pthread_join(t, &res);
    CHECK("the blocked read sees end-of-file", (long)res == 0);
    return check_done();
}
