"""`lwjvm exec --cpus N` boots N virtual CPUs: the kernel finds them in the ACPI MADT (microvm with
acpi=on, q35) and starts each with INIT and start-up IPIs, and the program still runs to its
end. The default boot stays on one CPU and says nothing about others."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lwjvm.testing import guest_unavailable, lwjvm_command

HELLO = r"""
#include <stdio.h>
int main(void) { printf("hello\n"); return 0; }
"""


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("smp")
    (d / "hello.c").write_text(HELLO)
    subprocess.run(["gcc", "-O2", "-o", str(d / "hello"), str(d / "hello.c")], check=True)
    return d / "hello"


def run(hello: Path, cwd: Path, *opts: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lwjvm_command(), "-v", "exec", "--accel", "tcg", "--timeout", "240", "--memory", "256M",
         *opts, str(hello)],
        cwd=cwd, capture_output=True, text=True, timeout=300,
    )  # fmt: skip


@pytest.mark.parametrize(("machine", "cpus"), [("microvm", 2), ("microvm", 4), ("q35", 2)])
def test_every_cpu_starts(machine: str, cpus: int, hello: Path, tmp_path: Path) -> None:
    r = run(hello, tmp_path, "--machine", machine, "--cpus", str(cpus))
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"
    assert f"lwjvm kernel: {cpus} CPUs started" in r.stderr
    assert "did not start" not in r.stderr


def test_one_cpu_by_default(hello: Path, tmp_path: Path) -> None:
    r = run(hello, tmp_path)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "hello\n"
    assert "CPUs started" not in r.stderr
