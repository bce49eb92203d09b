"""What a program asks the kernel to keep is bounded by limits as Linux's are, so a program cannot
grow the kernel heap until the VM has no memory left (issue 15): epoll items by
fs.epoll.max_user_watches (4 % of RAM / 200 bytes: about 51,000 in 256 MiB), threads by
kernel.threads-max (RAM / 8 kernel stacks: 512 in 64 MiB), memory areas by vm.max_map_count
(65,530, reached), tmpfs files by nr_inodes (half of RAM's
pages), queued real-time signals by RLIMIT_SIGPENDING (the corpus program signal_queue_limit,
compared with the host).
The host's limits scale with its own RAM, so this one runs in the guest only."""

from __future__ import annotations

import subprocess
from pathlib import Path

from guest_harness import GuestRunner


def _guest_stdout(
    guest: GuestRunner, tmp_path: Path, source: str, memory: str, timeout_s: int, *cflags: str
) -> str:
    """Compiles `source` for the host's libc and runs it in the guest with `memory`; its stdout
    (it must exit 0)."""
    (tmp_path / "prog.c").write_text(source)
    exe = tmp_path / "prog"
    subprocess.run(["gcc", "-O2", *cflags, "-o", str(exe), str(tmp_path / "prog.c")], check=True)
    argv = [*guest.command, "exec", "--accel", "tcg", "--memory", memory, "--timeout",
            str(timeout_s), str(exe)]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout_s + 100)
    assert r.returncode == 0, r.stderr
    return r.stdout

EPOLL_FLOOD = r"""
#include <errno.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

int main(void)
{
    static int fds[900], eps[100];
    int n = 0, neps = 0;
    for (; n < 900; n++)
        if ((fds[n] = eventfd(0, 0)) < 0)
            return 2;
    long added = 0;
    int err = 0;
    while (!err && neps < 100) {
        int ep = epoll_create1(0);
        if (ep < 0)
            return 2;
        eps[neps++] = ep;
        for (int i = 0; i < n; i++) {
            struct epoll_event ev = {EPOLLIN, {.u64 = (unsigned)i}};
            if (epoll_ctl(ep, EPOLL_CTL_ADD, fds[i], &ev) != 0) {
                err = errno;
                break;
            }
            added++;
        }
    }
    printf("stopped by %s after %ld items\n", err == ENOSPC ? "ENOSPC" : "something else", added);
    close(eps[0]); /* frees its 900 items: there is room again */
    struct epoll_event ev = {EPOLLIN, {.u64 = 0}};
    printf("after a close: %s\n", epoll_ctl(eps[neps - 1], EPOLL_CTL_ADD, fds[n - 1], &ev) == 0
                                      ? "added" : "refused");
    return 0;
}
"""


def test_epoll_items_are_bounded_like_max_user_watches(
    guest: GuestRunner, tmp_path: Path
) -> None:
    out = _guest_stdout(guest, tmp_path, EPOLL_FLOOD, "256M", 300)
    first, second = out.splitlines()
    assert first.startswith("stopped by ENOSPC after "), out
    items = int(first.split()[-2])
    assert 40_000 < items < 60_000, out  # 4 % of 256 MiB / 200 bytes, less the kernel's own
    assert second == "after a close: added", out


THREAD_FLOOD = r"""
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static int p[2];
static void *parked(void *arg)
{
    char c;
    (void)arg;
    read(p[0], &c, 1); /* until main closes the pipe */
    return NULL;
}

int main(void)
{
    pipe(p);
    pthread_attr_t a;
    pthread_attr_init(&a);
    pthread_attr_setstacksize(&a, 64 * 1024);
    int n = 0, rc = 0;
    for (; n < 100000; n++) {
        pthread_t t;
        if ((rc = pthread_create(&t, &a, parked, NULL)) != 0)
            break;
    }
    printf("pthread_create failed with %s after %d threads\n", rc == EAGAIN ? "EAGAIN" : "?", n);
    FILE *f = fopen("/proc/sys/kernel/threads-max", "r");
    long max = -1;
    if (!f || fscanf(f, "%ld", &max) != 1)
        return 2;
    printf("threads-max %ld\n", max);
    close(p[1]); /* every parked thread's read ends */
    return 0;
}
"""


def test_threads_are_bounded_like_threads_max(guest: GuestRunner, tmp_path: Path) -> None:
    out = _guest_stdout(guest, tmp_path, THREAD_FLOOD, "64M", 300, "-pthread")
    first, second = out.splitlines()
    assert first.startswith("pthread_create failed with EAGAIN after "), out
    made, most = int(first.split()[-2]), int(second.split()[-1])
    assert 400 < most <= 512, out  # RAM / 8 kernel stacks; 64 MiB less the kernel's own
    assert most - 16 < made < most, out  # the limit counts main and the kernel's threads


AREAS_AND_FILES = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/mman.h>
#include <unistd.h>

static int maps_lines(void)
{
    static char buf[1 << 20];
    int fd = open("/proc/self/maps", O_RDONLY), n = 0;
    long r, total = 0;
    while ((r = read(fd, buf + total, sizeof buf - total)) > 0)
        total += r;
    close(fd);
    for (long i = 0; i < total; i++)
        n += buf[i] == '\n';
    return n;
}

int main(void)
{
    /* Every other page of a PROT_NONE reservation made readable: two areas more per page, until
     * the 65,530-area limit (the areas' index makes it seconds under TCG: a list walk per call
     * made it minutes). */
    long pages = 70000;
    char *r = mmap(NULL, pages * 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                   -1, 0);
    long i = 1, err = 0;
    for (; i < pages; i += 2)
        if (mprotect(r + i * 4096, 4096, PROT_READ) != 0) {
            err = errno;
            break;
        }
    printf("mprotect: %s after %ld splits\n", err == ENOMEM ? "ENOMEM" : "no error", i / 2);
    for (long k = 1; k < i; k += 2) /* back as it was: the areas join again */
        mprotect(r + k * 4096, 4096, PROT_NONE);
    printf("areas after undoing: %s\n", maps_lines() < 100 ? "few" : "many");
    munmap(r, pages * 4096);
    /* Empty files in /tmp until the filesystem says it is full. */
    char name[64];
    int n = 0;
    for (;; n++) {
        snprintf(name, sizeof name, "/tmp/f%d", n);
        int fd = open(name, O_CREAT | O_WRONLY, 0644);
        if (fd < 0) {
            err = errno;
            break;
        }
        close(fd);
    }
    printf("tmpfs: %s after %d files\n", err == ENOSPC ? "ENOSPC" : "other error", n);
    unlink("/tmp/f0");
    int fd = open("/tmp/again", O_CREAT | O_WRONLY, 0644);
    printf("after an unlink: %s\n", fd >= 0 ? "created" : "refused");
    return 0;
}
"""


def test_split_areas_join_again_and_tmpfs_files_are_bounded(
    guest: GuestRunner, tmp_path: Path
) -> None:
    out = _guest_stdout(guest, tmp_path, AREAS_AND_FILES, "64M", 400)
    lines = out.splitlines()
    assert lines[0].startswith("mprotect: ENOMEM after "), out
    # 65,530 areas, less the program's own (about 10): two more per split
    assert 32_700 < int(lines[0].split()[-2]) <= 32_765, out
    assert lines[1] == "areas after undoing: few", out
    assert lines[2].startswith("tmpfs: ENOSPC after "), out
    assert 5_000 < int(lines[2].split()[-2]) < 8_200, out  # half of 64 MiB's pages
    assert lines[3] == "after an unlink: created", out


TMPFS_FALLOCATE = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/statfs.h>
#include <unistd.h>

static long long free_bytes(void)
{
    struct statfs s;
    return statfs("/tmp", &s) == 0 ? (long long)s.f_bfree * s.f_bsize : -1;
}

int main(void)
{
    int fd = open("/tmp/big", O_RDWR | O_CREAT | O_TRUNC, 0644);
    long long before = free_bytes();
    int rc = fallocate(fd, 0, 0, before + (1 << 20));
    printf("more than free: %s\n", rc == -1 && errno == ENOSPC ? "ENOSPC" : "no ENOSPC");
    printf("free unchanged: %s\n", free_bytes() == before ? "yes" : "no");
    rc = fallocate(fd, 0, 0, before / 2);
    long long taken = before - free_bytes();
    printf("half of it: %s, %s\n", rc == 0 ? "ok" : "failed",
           taken >= before / 2 && taken <= before / 2 + 4096 ? "taken" : "not taken");
    unlink("/tmp/big");
    close(fd);
    printf("freed: %s\n", free_bytes() == before ? "yes" : "no");
    return 0;
}
"""


def test_tmpfs_fallocate_takes_the_space_or_fails_with_enospc(
    guest: GuestRunner, tmp_path: Path
) -> None:
    """fallocate in /tmp takes the pages it promises (statfs's free space goes down by them), and
    a range larger than the free space is ENOSPC without taking any, as Linux's tmpfs. It used to
    grow the size only: success, nothing set aside."""
    out = _guest_stdout(guest, tmp_path, TMPFS_FALLOCATE, "64M", 300)
    assert out.splitlines() == [
        "more than free: ENOSPC",
        "free unchanged: yes",
        "half of it: ok, taken",
        "freed: yes",
    ], out
