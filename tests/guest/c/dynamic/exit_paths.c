/* The ways a process ends, chosen by argv[1]; the exit status is the thing under test:
 *   segv         a NULL store with the default action          -> 128+SIGSEGV (139)
 *   abort        abort()                                       -> 128+SIGABRT (134)
 *   kill9        kill(getpid(), SIGKILL)                       -> 128+SIGKILL (137)
 *   thread_exit  a second thread calls exit(7) while main waits -> 7
 *   main_return  main returns 3 while other threads still run  -> 3
 *   main_pthread_exit  main calls pthread_exit; the last thread returns -> 0 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../check.h"

static void *exit_seven(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    printf("thread calls exit(7)\n");
    exit(7);
}

static void *sleeper(void *arg)
{
    (void)arg;
    for (;;)
        pause();
    return NULL;
}

static void *last_thread(void *arg)
{
    (void)arg;
    struct timespec ts = {0, 10 * 1000 * 1000};
    nanosleep(&ts, NULL);
    printf("last thread returns\n");
    fflush(stdout);
    return NULL;
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    const char *mode = argv[1];
    printf("mode=%s\n", mode);
    fflush(stdout);
    pthread_t t;
    if (strcmp(mode, "segv") == 0) {
        *(volatile int *)opaque_ptr(0) = 1;
    } else if (strcmp(mode, "abort") == 0) {
        abort();
    } else if (strcmp(mode, "kill9") == 0) {
        kill(getpid(), SIGKILL);
    } else if (strcmp(mode, "thread_exit") == 0) {
        start_thread(&t, NULL, exit_seven, NULL);
        for (;;)
            pause();
    } else if (strcmp(mode, "main_return") == 0) {
        for (int i = 0; i < 4; i++)
            start_thread(&t, NULL, sleeper, NULL);
        return 3;
    } else if (strcmp(mode, "main_pthread_exit") == 0) {
        start_thread(&t, NULL, last_thread, NULL);
        pthread_exit(NULL);
    }
    printf("not reached (unknown mode or the process survived)\n");
    return 99;
}
