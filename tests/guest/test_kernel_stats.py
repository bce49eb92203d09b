"""The kernel's per-syscall counts under `lwjvm.stats=1` (docs/kernel.md, "Kernel command line"),
against `strace -c` on the host: a program making known numbers of calls, some failing, is counted
call for call, with its failures, and a blocking call's wall time includes the time it slept."""

from __future__ import annotations

import io
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from guest_harness import GuestRunner

from lwjvm.program import ExecRequest, exec_program

CALLS = r"""
#define _GNU_SOURCE
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <sys/syscall.h>
int main(void) {
    for (int i = 0; i < 1000; i++)
        syscall(SYS_getppid);
    for (int i = 0; i < 7; i++)
        close(1000 + i); /* EBADF */
    struct timespec ts = {0, 200 * 1000 * 1000};
    nanosleep(&ts, NULL);
    printf("done\n");
    return 0;
}
"""


def _strace_counts(path: Path) -> dict[str, tuple[int, int]]:
    """name -> (calls, errors) from an `strace -c` summary."""
    out = {}
    for line in path.read_text().splitlines():
        m = re.match(r"^\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\d+)?\s*(\w+)$", line)
        if m and m.group(3) != "total":
            out[m.group(3)] = (int(m.group(1)), int(m.group(2) or 0))
    return out


def test_syscall_counts_match_strace_on_the_host(guest: GuestRunner, tmp_path: Path) -> None:
    if shutil.which("strace") is None:
        pytest.skip("strace is not installed")
    src = tmp_path / "calls.c"
    src.write_text(CALLS)
    exe = tmp_path / "calls"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(src)], check=True)
    summary = tmp_path / "strace.txt"
    host = subprocess.run(["strace", "-c", "-o", str(summary), str(exe)], capture_output=True,
                          text=True, cwd=tmp_path)  # fmt: skip
    assert host.returncode == 0, host.stderr
    expected = _strace_counts(summary)
    assert expected["getppid"] == (1000, 0)

    out = io.BytesIO()
    req = ExecRequest(program=str(exe), accel="tcg", timeout=600, workdir=str(tmp_path),
                      kernel_args=["lwjvm.stats=1"])  # fmt: skip
    r = exec_program(req, out, io.BytesIO())
    assert (r.exit_code, out.getvalue()) == (0, host.stdout.encode())
    assert r.vm.log is not None
    counts = r.vm.log.syscall_stats
    assert {k: counts["getppid"][k] for k in ("calls", "errors")} == {"calls": 1000, "errors": 0}
    # The dynamic loader's own closes differ with the libraries found; the failed ones do not.
    assert counts["close"]["errors"] == expected["close"][1] == 7
    # The sleep is wall time, not CPU time.
    sleep = counts.get("nanosleep") or counts["clock_nanosleep"]
    assert sleep["wall_us"] >= 200_000 > sleep["cpu_us"]
    assert sum(c["calls"] for c in counts.values()) <= r.vm.log.stats["syscalls"]
