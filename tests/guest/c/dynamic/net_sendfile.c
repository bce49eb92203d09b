/* sendfile into a TCP socket over loopback: from the program's own executable (in the guest a
 * file of the read-only root image, sent without a copy) and from a /tmp file, with and without an
 * offset pointer; what arrives must equal what read() gives. Sizes are never printed. */
#include "../check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>

static int pair(int *client, int *server)
{
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (l < 0 || bind(l, (void *)&a, sizeof a) || listen(l, 1) || getsockname(l, (void *)&a, &len))
        return -1;
    *client = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(*client, (void *)&a, sizeof a))
        return -1;
    *server = accept(l, 0, 0);
    close(l);
    return *server < 0 ? -1 : 0;
}

struct job {
    int sock, file;
    off_t *offp;
    off_t start;
    long len;
    long sent;
};

static void *sender(void *p)
{
    struct job *j = p;
    while (j->sent < j->len) {
        ssize_t n = sendfile(j->sock, j->file, j->offp, j->len - j->sent);
        if (n <= 0)
            break;
        j->sent += n;
    }
    shutdown(j->sock, SHUT_WR);
    return 0;
}

static unsigned char *slurp_fd(int fd, off_t start, long len)
{
    unsigned char *b = malloc(len ? len : 1);
    long got = 0;
    while (got < len) {
        ssize_t n = pread(fd, b + got, len - got, start + got);
        if (n <= 0)
            break;
        got += n;
    }
    return b;
}

static int transfer(const char *name, int fd, off_t start, long len, int use_offp)
{
    int c, s;
    if (pair(&c, &s))
        return check_detail(name, 0, "socket pair: %s", errno_name(errno));
    off_t off = start;
    if (!use_offp)
        lseek(fd, start, SEEK_SET);
    struct job j = {s, fd, use_offp ? &off : 0, start, len, 0};
    pthread_t t;
    pthread_create(&t, 0, sender, &j);
    unsigned char *got = malloc(len + 1);
    long n = 0, r;
    while ((r = recv(c, got + n, len + 1 - n, 0)) > 0)
        n += r;
    pthread_join(t, 0);
    unsigned char *want = slurp_fd(fd, start, len);
    int ok = n == len && j.sent == len && !memcmp(got, want, len);
    if (use_offp)
        ok = ok && off == start + len && lseek(fd, 0, SEEK_CUR) == 0;
    else
        ok = ok && lseek(fd, 0, SEEK_CUR) == start + len;
    free(got);
    free(want);
    close(c);
    close(s);
    return check_detail(name, ok, "received %ld of %ld, sent %ld", n, len, j.sent);
}

int main(void)
{
    int exe = open("/proc/self/exe", O_RDONLY);
    struct stat st;
    CHECK("exe_open", exe >= 0 && fstat(exe, &st) == 0 && st.st_size > 8192);
    transfer("sendfile_exe_whole", exe, 0, st.st_size, 1);
    lseek(exe, 0, SEEK_SET);
    transfer("sendfile_exe_unaligned_pos", exe, 1001, st.st_size - 2002, 0);

    char tmpname[] = "/tmp/net_sendfile.XXXXXX";
    int tmp = mkstemp(tmpname);
    unlink(tmpname);
    static char data[300000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (char)(i % 251);
    CHECK("tmp_write", tmp >= 0 && write(tmp, data, sizeof data) == (ssize_t)sizeof data);
    lseek(tmp, 0, SEEK_SET);
    transfer("sendfile_tmpfs", tmp, 7, sizeof data - 7, 1);

    int c, s;
    CHECK_OK("pair", pair(&c, &s));
    off_t off = st.st_size;
    CHECK("sendfile_at_eof", sendfile(s, exe, &off, 100) == 0);
    CHECK_ERRNO("sendfile_from_socket", sendfile(s, c, 0, 10), EINVAL);
    close(c);
    close(s);
    return check_failures ? 1 : 0;
}
