"""At its timeout, `lwjvm exec` asks the kernel over the control channel what each thread is doing
(`lwjvm:threads`, docs/protocol.md section 4) and says whether the program is blocked as it would
be on Linux (every thread waits with no deadline), sleeping, still running, or the kernel lost a
wake-up or never answered (a kernel hang). The kernel's timers and the control channel keep
working while every thread of the program is blocked (issue 15: a call that blocks forever on
Linux may block, the kernel may not hang)."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest
from guest_harness import GuestRunner

# Main blocks reading an empty pipe and a second thread in FUTEX_WAIT on a word nobody wakes:
# on Linux this program never ends either. `sleep` makes both wait a day instead.
BLOCKER = r"""
#include <linux/futex.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static int word, sleeping;
static void *waiter(void *arg)
{
    (void)arg;
    if (sleeping) {
        struct timespec day = {86400, 0};
        nanosleep(&day, NULL);
    } else {
        syscall(SYS_futex, &word, FUTEX_WAIT_PRIVATE, 0, NULL, NULL, 0);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    sleeping = argc > 1 && !strcmp(argv[1], "sleep");
    pthread_t t;
    pthread_create(&t, NULL, waiter, NULL);
    printf("blocking\n");
    fflush(stdout);
    if (sleeping) {
        struct timespec day = {86400, 0};
        nanosleep(&day, NULL);
    } else {
        int p[2];
        char c;
        pipe(p);
        read(p[0], &c, 1);
    }
    return 0;
}
"""


@pytest.fixture(scope="module")
def blocker(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("blocker")
    (d / "blocker.c").write_text(BLOCKER)
    subprocess.run(["gcc", "-O2", "-pthread", "-o", str(d / "blocker"), str(d / "blocker.c")],
                   check=True)  # fmt: skip
    return d / "blocker"


@pytest.mark.parametrize(
    ("mode", "verdict"),
    [
        ("pipe", "every thread waits with no deadline, as it would on Linux"),
        ("sleep", "every thread waits, some until a deadline still to come"),
    ],
)
def test_timeout_reports_a_program_blocked_as_on_linux(
    guest: GuestRunner, blocker: Path, mode: str, verdict: str
) -> None:
    argv = [*guest.command, "exec", "--accel", "tcg", "--cpus", "2", "--timeout", "30",
            str(blocker), mode]  # fmt: skip
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 124, r.stderr
    assert r.stdout == "blocking\n"
    assert verdict in r.stderr, r.stderr
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("lwjvm: at the timeout, thread")]
    assert len(lines) == 2, r.stderr
    if mode == "pipe":
        assert any("thread 1 blocked" in ln for ln in lines), r.stderr
        reads = [ln for ln in lines if " in read (" in ln]
        assert reads and "on pipe_readers, no deadline); " in reads[0], r.stderr
        assert any(" in futex (futex_wait on futex, no deadline)" in ln for ln in lines), r.stderr
    else:
        sleeping = "nanosleep (waitq_wait_unlock on sleep, with a deadline)"
        assert all(sleeping in ln for ln in lines), r.stderr


def test_timeout_of_a_running_program_says_it_ran(guest: GuestRunner, tmp_path: Path) -> None:
    src = tmp_path / "spin.c"
    src.write_text('#include <sys/prctl.h>\n'
                   'int main(void) { prctl(PR_SET_NAME, "spin loop"); for (;;) ; }\n')
    subprocess.run(["gcc", "-static", "-O0", "-o", str(tmp_path / "spin"), str(src)], check=True)
    argv = [*guest.command, "exec", "--accel", "tcg", "--timeout", "20", str(tmp_path / "spin")]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert r.returncode == 124, r.stderr
    assert "lwjvm: at the timeout, thread 1 running on CPU 0" in r.stderr, r.stderr
    # Its CPU time and its prctl name (spaces as _) come with it.
    named = r"thread 1 running .*; \d+\.\d s of CPU, named spin_loop\n"
    assert re.search(named, r.stderr), r.stderr
    assert "the program was still running (the kernel answered)" in r.stderr, r.stderr
