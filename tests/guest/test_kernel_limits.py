"""What a program asks the kernel to keep is bounded by limits as Linux's are, so a program cannot
grow the kernel heap until the VM has no memory left (issue 15): epoll items by
fs.epoll.max_user_watches (4 % of RAM / 200 bytes: about 51,000 in 256 MiB), threads by
kernel.threads-max (RAM / 8 kernel stacks: 512 in 64 MiB), queued real-time signals by
RLIMIT_SIGPENDING (the corpus program signal_queue_limit, compared with the host).
The host's limits scale with its own RAM, so this one runs in the guest only."""

from __future__ import annotations

import subprocess
from pathlib import Path

from guest_harness import GuestRunner

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
    (tmp_path / "flood.c").write_text(EPOLL_FLOOD)
    exe = tmp_path / "flood"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(tmp_path / "flood.c")], check=True)
    argv = [*guest.command, "exec", "--accel", "tcg", "--memory", "256M", "--timeout", "300",
            str(exe)]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr
    first, second = r.stdout.splitlines()
    assert first.startswith("stopped by ENOSPC after "), r.stdout
    items = int(first.split()[-2])
    assert 40_000 < items < 60_000, r.stdout  # 4 % of 256 MiB / 200 bytes, less the kernel's own
    assert second == "after a close: added", r.stdout


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
    close(p[1]); /* every parked thread's read ends */
    return 0;
}
"""


def test_threads_are_bounded_like_threads_max(guest: GuestRunner, tmp_path: Path) -> None:
    (tmp_path / "threads.c").write_text(THREAD_FLOOD)
    exe = tmp_path / "threads"
    subprocess.run(["gcc", "-O2", "-pthread", "-o", str(exe), str(tmp_path / "threads.c")],
                   check=True)  # fmt: skip
    argv = [*guest.command, "exec", "--accel", "tcg", "--memory", "64M", "--timeout", "300",
            str(exe)]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=400)
    assert r.returncode == 0, r.stderr
    words = r.stdout.split()
    assert r.stdout.startswith("pthread_create failed with EAGAIN after "), r.stdout
    assert 400 < int(words[-2]) < 512, r.stdout  # 512 with main and the kernel's own
