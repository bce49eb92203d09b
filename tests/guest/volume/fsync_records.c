/* Appends numbered records to DIR/records-RUN and fsyncs after each batch, printing "acked N"
 * once the fsync for records 0..N-1 returned (tests/guest/test_volume_crash.py kills QEMU with
 * SIGKILL at a random instant and checks every acked record is on the volume). Usage:
 * fsync_records DIR RUN [o_sync]: with o_sync the file is opened O_SYNC and not fsync'd. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 3)
        return 2;
    char path[4096];
    snprintf(path, sizeof path, "%s/records-%s", argv[1], argv[2]);
    int osync = argc > 3 && !strcmp(argv[3], "o_sync");
    int fd = open(path, O_CREAT | O_WRONLY | O_APPEND | (osync ? O_SYNC : 0), 0644);
    if (fd < 0) {
        perror(path);
        return 1;
    }
    for (unsigned i = 0;; i++) {
        char rec[96];
        /* Records of varying length, some crossing 4 KiB blocks. */
        int n = snprintf(rec, sizeof rec, "record %08u %.*s\n", i, (int)(i * 7 % 60),
                         "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij");
        if (write(fd, rec, (size_t)n) != n) {
            perror("write");
            return 1;
        }
        if (i % 3 == 2) {
            if (!osync && fsync(fd)) {
                perror("fsync");
                return 1;
            }
            printf("acked %u\n", i + 1);
            fflush(stdout);
        }
    }
}
