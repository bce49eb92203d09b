/* Reads the file named by argv[1] three ways (stdio, read() in odd-sized chunks, lseek+read) and
 * prints its size, a checksum and its first line. The harness puts the same bytes on the host and
 * in the image, so the output does not depend on where the file lives. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../check.h"

/* FNV-1a over the bytes: enough to tell two contents apart. */
static uint64_t fnv1a(uint64_t h, const unsigned char *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 0x100000001b3ULL;
    return h;
}

int main(int argc, char **argv)
{
    REQUIRE(argc == 2);
    static unsigned char buf[1 << 20];

    int fd = open(argv[1], O_RDONLY);
    REQUIRE(fd >= 0);
    struct stat st;
    CHECK_OK("fstat", fstat(fd, &st));
    CHECK("fstat is a regular file", S_ISREG(st.st_mode));
    printf("size=%lld\n", (long long)st.st_size);

    /* read() in 1000-byte chunks, across block boundaries, to EOF. */
    uint64_t h = 0xcbf29ce484222325ULL;
    size_t total = 0;
    ssize_t n;
    while ((n = read(fd, buf, 1000)) > 0) {
        h = fnv1a(h, buf, (size_t)n);
        total += (size_t)n;
    }
    CHECK_EQ("read returns 0 at EOF", n, 0);
    CHECK_EQ("read total equals st_size", total, st.st_size);
    printf("fnv1a=%016llx\n", (unsigned long long)h);

    /* lseek back into the middle and read one byte. */
    off_t mid = st.st_size / 2;
    CHECK_EQ("lseek SEEK_SET", lseek(fd, mid, SEEK_SET), mid);
    unsigned char c;
    CHECK_EQ("read 1 byte mid-file", read(fd, &c, 1), 1);
    printf("byte[%lld]=0x%02x\n", (long long)mid, c);
    CHECK_EQ("lseek SEEK_END", lseek(fd, 0, SEEK_END), st.st_size);
    CHECK_EQ("read at EOF", read(fd, &c, 1), 0);
    CHECK_OK("close", close(fd));
    CHECK_ERRNO("read after close is EBADF", read(fd, &c, 1), EBADF);

    /* stdio: the first line. */
    FILE *f = fopen(argv[1], "r");
    REQUIRE(f != NULL);
    char line[256];
    if (fgets(line, sizeof line, f))
        printf("first line: %s", strchr(line, '\n') ? line : "(no newline)\n");
    fclose(f);

    CHECK_ERRNO("open missing file is ENOENT", open("/no/such/file", O_RDONLY), ENOENT);
    return check_done();
}
