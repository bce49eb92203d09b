/* Opening and closing many TCP connections over loopback leaks no kernel memory: the kernel
 * heap in use (/proc/meminfo's Slab) returns to where it was once the connections' TIME_WAIT
 * is over. Half the connections end with a normal close (TIME_WAIT on the side that closed first),
 * half with SO_LINGER 0 (a reset). The count is argv[1] (default 10000). On a host kernel, whose
 * Slab moves with everything else running, the memory check is not made (it says so the same way),
 * so the output matches. */
#include "../check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/utsname.h>

static long slab_kb(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Slab: %ld kB", &kb) == 1)
            break;
    if (f)
        fclose(f);
    return kb;
}

static int one_connection(int l, const struct sockaddr_in *a, int reset)
{
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (c < 0 || connect(c, (const void *)a, sizeof *a))
        return -1;
    int s = accept(l, 0, 0);
    if (s < 0)
        return -1;
    char b = 'x';
    if (send(c, &b, 1, 0) != 1 || recv(s, &b, 1, 0) != 1)
        return -1;
    if (reset) {
        struct linger lg = {1, 0};
        setsockopt(c, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    }
    close(c);
    close(s);
    return 0;
}

int main(int argc, char **argv)
{
    int n = argc > 1 ? atoi(argv[1]) : 10000;
    struct utsname u;
    uname(&u);
    int ours = strstr(u.release, "lwjvm") != 0;

    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    CHECK_OK("listen", bind(l, (void *)&a, sizeof a) || listen(l, 128) ||
                           getsockname(l, (void *)&a, &len) ? -1 : 0);
    /* Warm up: the first connections allocate what stays (the listener's, lwIP's tables). */
    for (int i = 0; i < 20; i++)
        one_connection(l, &a, i & 1);
    sleep(1);
    long before = slab_kb();
    int ok = 1;
    for (int i = 0; i < n && ok; i++)
        ok = one_connection(l, &a, i & 1) == 0;
    check_detail("connections", ok, "connection failed: %s", errno_name(errno));
    long after = slab_kb(), settled = after;
    /* TIME_WAIT lasts 2 MSL (20 s here, 60 s on Linux): wait for it, up to 90 s. */
    for (int t = 0; ours && t < 90 && settled > before + 64; t++) {
        sleep(1);
        settled = slab_kb();
    }
    if (getenv("NET_LEAK_VERBOSE"))
        fprintf(stderr, "Slab: %ld kB before, %ld kB after, %ld kB settled\n", before, after, settled);
    if (ours)
        check_detail("kernel_heap_back", settled <= before + 64,
                     "Slab %ld kB before, %ld kB right after, %ld kB at the end", before, after,
                     settled);
    else
        check_detail("kernel_heap_back", 1, "not measured");
    close(l);
    return check_failures ? 1 : 0;
}
