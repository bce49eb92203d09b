/* The echo server of tests/guest/test_net_exec.py, for bench/intx/run.py: one connection on port
 * 8080, everything read is written back, then it exits. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
    if (bind(s, (void *)&a, sizeof a) || listen(s, 4)) { perror("listen"); return 1; }
    printf("listening\n");
    fflush(stdout);
    struct sockaddr_in p;
    socklen_t pl = sizeof p;
    int c = accept(s, (void *)&p, &pl);
    if (c < 0) { perror("accept"); return 1; }
    printf("peer %s\n", inet_ntoa(p.sin_addr));
    static char buf[65536];
    long r, total = 0;
    while ((r = read(c, buf, sizeof buf)) > 0) {
        for (long off = 0; off < r;) {
            long w = write(c, buf + off, r - off);
            if (w <= 0) return 2;
            off += w;
        }
        total += r;
    }
    printf("echoed %ld\n", total);
    close(c);
    return 0;
}
