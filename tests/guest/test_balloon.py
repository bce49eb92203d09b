"""The virtio-balloon driver (kernel/drivers/virtio_balloon.c) end to end through QEMU's QMP, as
lwjvm's supervisor uses it. A guest program allocates and touches memory in steps, one per
SIGUSR1, and prints what it holds and what /proc/meminfo says; the balloon's guest-stats (qom-get)
must agree with /proc/meminfo and fall by what the program touched. QMP `balloon` must shrink the
guest's free memory while the program goes on, and give it back; with the balloon holding nearly
all the free memory, allocations take pages back from it (deflate-on-oom) instead of ending the
program out of memory."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lwjvm import accel, elfinfo, qemu, vm
from lwjvm.image import Staging, build_image
from lwjvm.program import ExecRequest, stage_program
from lwjvm.testing import guest_unavailable

MEMORY_MIB = 256
UNSET = (1 << 64) - 1  # QEMU's value for a figure the guest did not send (-1 as a u64)
MIB = 1 << 20
TIMEOUT_S = 300.0  # a boot and a step under TCG on a loaded host: generous

PROGRAM = r"""
/* Allocates and touches memory in steps, one step per SIGUSR1 (argv[1..]: MiB per step), and
 * prints what it holds and what /proc/meminfo says before each; SIGTERM ends it. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static volatile sig_atomic_t go, stop;
static void on_usr1(int s) { (void)s; go = 1; }
static void on_term(int s) { (void)s; stop = 1; }

static long meminfo(const char *key)
{
    FILE *f = fopen("/proc/meminfo", "r");
    char line[128];
    long v = -1;
    size_t n = strlen(key);
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, key, n) && line[n] == ':')
            v = atol(line + n + 1);
    if (f)
        fclose(f);
    return v;
}

int main(int argc, char **argv)
{
    signal(SIGUSR1, on_usr1);
    signal(SIGTERM, on_term);
    sigset_t none, block;
    sigemptyset(&none);
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigaddset(&block, SIGTERM);
    sigprocmask(SIG_BLOCK, &block, 0);
    long held = 0;
    unsigned long sum = 0, expect = 0;
    for (int step = 0;; step++) {
        printf("step %d held_kib=%ld memtotal_kib=%ld memfree_kib=%ld ok=%d\n", step, held,
               meminfo("MemTotal"), meminfo("MemFree"), sum == expect);
        fflush(stdout);
        while (!go && !stop)
            sigsuspend(&none);
        if (stop)
            return 0;
        go = 0;
        if (step + 1 >= argc)
            continue;
        long bytes = atol(argv[step + 1]) << 20;
        unsigned char *p = mmap(0, (size_t)bytes, PROT_READ | PROT_WRITE,
                                MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED) {
            perror("mmap");
            return 1;
        }
        for (long i = 0; i < bytes; i += 4096) {
            p[i] = (unsigned char)(i >> 12);
            expect += (unsigned char)(i >> 12);
        }
        for (long i = 0; i < bytes; i += 4096)
            sum += p[i]; /* read back: pages the balloon lent and took back hold what was written */
        held += bytes >> 10;
    }
}
"""

STEP_RE = re.compile(
    r"^step (\d+) held_kib=(\d+) memtotal_kib=(\d+) memfree_kib=(\d+) ok=(\d)$"
)


class Lines:
    """The guest's stdout, line by line, as it arrives."""

    def __init__(self) -> None:
        self.buf = b""
        self.lines: list[str] = []
        self.cond = threading.Condition()

    def write(self, data: bytes) -> int:
        with self.cond:
            self.buf += data
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.lines.append(line.decode(errors="replace"))
            self.cond.notify_all()
        return len(data)

    def flush(self) -> None:
        pass

    def step(self, n: int, timeout: float = TIMEOUT_S) -> dict[str, int]:
        """The program's line for step n (it is waiting for the next signal then)."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for line in self.lines:
                    m = STEP_RE.match(line)
                    if m and int(m.group(1)) == n:
                        keys = ("step", "held_kib", "memtotal_kib", "memfree_kib", "ok")
                        return dict(zip(keys, map(int, m.groups()), strict=True))
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no step {n} line; the guest printed {self.lines}")
                self.cond.wait(left)


class Guest:
    """The program booted with a balloon and a QMP socket; the test drives both."""

    def __init__(self, cfg: qemu.VmConfig, out: Lines) -> None:
        self.out = out
        self.control = vm.VmControl()
        self.result: vm.VmResult | None = None
        self.started = threading.Event()
        self.control.on_start = lambda _proc: self.started.set()
        self.err = Lines()
        self.thread = threading.Thread(target=self._run, args=(cfg,), daemon=True)
        self.thread.start()
        assert self.started.wait(TIMEOUT_S), "QEMU did not start"
        from qemu.qmp.legacy import QEMUMonitorProtocol

        deadline = time.monotonic() + 30
        while True:
            try:
                self.qmp: Any = QEMUMonitorProtocol(str(cfg.qmp))
                self.qmp.connect(negotiate=True)
                break
            except Exception:  # noqa: BLE001 (not listening yet)
                if not self.thread.is_alive():
                    raise AssertionError(f"the VM ended: {self.result}, {self.err.lines}") from None
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        # As the supervisor does: QEMU asks the guest for fresh figures every second.
        self.qmp.cmd("qom-set", path=qemu.BALLOON_QOM, property="guest-stats-polling-interval",
                     value=1)  # fmt: skip

    def _run(self, cfg: qemu.VmConfig) -> None:
        self.result = vm.run_vm(cfg, self.out, self.err, control=self.control)  # type: ignore[arg-type]

    def signal(self, signum: int) -> None:
        self.control.signal(signum)

    def stats(self, newer_than: int = 0, timeout: float = TIMEOUT_S) -> dict[str, int]:
        """guest-stats once their last-update is past `newer_than`: the figures, and `at`."""
        deadline = time.monotonic() + timeout
        while True:
            got = self.qmp.cmd("qom-get", path=qemu.BALLOON_QOM, property="guest-stats")
            if got["last-update"] > newer_than:
                return {**got["stats"], "at": got["last-update"]}
            assert time.monotonic() < deadline, f"guest-stats not updated: {got}"
            time.sleep(0.2)

    def fresh_stats(self) -> dict[str, int]:
        """guest-stats the guest sent after this call began (last-update has 1 s steps)."""
        now = int(time.time())
        return self.stats(newer_than=now)

    def balloon_actual(self) -> int:
        """What QEMU says the guest has: its memory less the balloon, in bytes."""
        return int(self.qmp.cmd("query-balloon")["actual"])

    def set_balloon(self, guest_bytes: int, timeout: float = TIMEOUT_S) -> None:
        """Asks for the guest to have `guest_bytes` and waits until the balloon says so."""
        self.qmp.cmd("balloon", value=guest_bytes)
        deadline = time.monotonic() + timeout
        while self.balloon_actual() != guest_bytes:
            assert time.monotonic() < deadline, f"the balloon stayed at {self.balloon_actual()}"
            time.sleep(0.1)

    def finish(self) -> vm.VmResult:
        self.control.signal(15)
        self.thread.join(TIMEOUT_S)
        self.qmp.close()
        self.control.close()
        assert self.result is not None, "the VM did not end"
        return self.result


STEPS_MIB = (64, 16, 128)  # what the program allocates and touches at each SIGUSR1


@pytest.fixture(scope="module")
def image(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("balloon")
    (d / "prog.c").write_text(PROGRAM)
    exe = d / "balloonprog"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(d / "prog.c")], check=True)
    staging = Staging(d / "root")
    req = ExecRequest(program=str(exe), args=[str(s) for s in STEPS_MIB], workdir="/")
    stage_program(staging, req, elfinfo.check_program(exe))
    build_image(staging.root, d / "root.img")
    return d / "root.img"


@pytest.fixture
def boot(image: Path) -> Iterator[Any]:
    guests: list[Guest] = []
    tmp = Path(tempfile.mkdtemp(prefix="lwjvm-balloon-"))

    def start(machine: str = qemu.MACHINE_MICROVM, cpus: int = 1) -> Guest:
        kernel = vm.find_kernel()
        cfg = qemu.VmConfig(
            kernel=kernel, initrd=image, memory_mib=MEMORY_MIB,
            accel=accel.choose(kernel, "tcg", quiet=True), append=["lwjvm.quiet=1"],
            timeout=TIMEOUT_S * 4, machine=machine, qmp=tmp / f"qmp{len(guests)}",
            balloon=True, cpus=cpus,
        )  # fmt: skip
        g = Guest(cfg, Lines())
        guests.append(g)
        return g

    yield start
    for g in guests:
        if g.thread.is_alive():
            g.control.kill()
            g.thread.join(30)
    shutil.rmtree(tmp, ignore_errors=True)


def _mib(n: int) -> str:
    return f"{n / MIB:.1f} MiB"


@pytest.mark.parametrize("machine", [qemu.MACHINE_MICROVM, qemu.MACHINE_Q35])
def test_guest_stats_agree_with_meminfo_and_follow_what_the_program_touches(
    boot: Any, machine: str
) -> None:
    g = boot(machine)
    before = g.out.step(0)
    s0 = g.fresh_stats()
    total, free = s0["stat-total-memory"], s0["stat-free-memory"]
    # The kernel's own figures, as /proc/meminfo shows them to the program.
    assert total == before["memtotal_kib"] * 1024
    assert MEMORY_MIB * MIB * 0.85 < total <= MEMORY_MIB * MIB
    assert 0 < free < total
    assert abs(free - before["memfree_kib"] * 1024) < 2 * MIB, (s0, before)
    assert s0["stat-available-memory"] == free  # nothing the kernel could drop: all free
    assert s0["stat-minor-faults"] > 0
    for absent in ("stat-swap-in", "stat-swap-out", "stat-major-faults", "stat-disk-caches"):
        assert s0[absent] == UNSET, f"{absent}: the kernel has no such figure and sends none"

    g.signal(10)  # SIGUSR1: allocate and touch STEPS_MIB[0]
    after = g.out.step(1)
    assert after["held_kib"] == STEPS_MIB[0] * 1024 and after["ok"] == 1
    s1 = g.fresh_stats()
    touched = STEPS_MIB[0] * MIB
    dropped = free - s1["stat-free-memory"]
    # At least what the program touched; beyond it a little: its page tables, the kernel's own.
    assert touched <= dropped < touched + 4 * MIB, f"free fell by {_mib(dropped)}"
    assert abs(s1["stat-free-memory"] - after["memfree_kib"] * 1024) < 2 * MIB
    assert s1["stat-total-memory"] == total
    # One fault per 4 KiB page touched (no 2 MiB pages under TCG); at least one per 2 MiB.
    assert s1["stat-minor-faults"] - s0["stat-minor-faults"] >= touched // (2 * MIB)
    result = g.finish()
    assert result.exit_code == 0


def test_balloon_takes_free_memory_while_the_program_runs_and_gives_it_back(boot: Any) -> None:
    g = boot()
    g.out.step(0)
    g.signal(10)
    g.out.step(1)  # the program holds STEPS_MIB[0]
    full = MEMORY_MIB * MIB
    assert g.balloon_actual() == full
    s0 = g.fresh_stats()
    lent = 64 * MIB
    g.set_balloon(full - lent)  # inflate: the guest lends 64 MiB to the host
    s1 = g.fresh_stats()
    assert s0["stat-free-memory"] - s1["stat-free-memory"] >= lent
    assert s0["stat-free-memory"] - s1["stat-free-memory"] < lent + 2 * MIB
    assert s1["stat-total-memory"] == s0["stat-total-memory"]  # lent, still the guest's
    g.signal(10)  # the program goes on: allocates, touches and reads back STEPS_MIB[1]
    step = g.out.step(2)
    assert step["ok"] == 1 and step["held_kib"] == sum(STEPS_MIB[:2]) * 1024
    assert abs(step["memfree_kib"] * 1024 - (s1["stat-free-memory"] - STEPS_MIB[1] * MIB)) < 4 * MIB
    g.set_balloon(full)  # deflate: all of it back
    s2 = g.fresh_stats()
    gained = s2["stat-free-memory"] - (s1["stat-free-memory"] - STEPS_MIB[1] * MIB)
    assert lent - 2 * MIB < gained <= lent + 2 * MIB, f"free rose by {_mib(gained)}"
    assert g.finish().exit_code == 0


@pytest.mark.parametrize("cpus", [1, 2])
def test_an_allocation_takes_memory_back_from_the_balloon_before_running_out(
    boot: Any, cpus: int
) -> None:
    # On 2 CPUs the program's faults (and so the balloon's reclaim) may run on either CPU while
    # the balloon's interrupt runs on the first.
    g = boot(cpus=cpus)
    g.out.step(0)
    s0 = g.fresh_stats()
    full = MEMORY_MIB * MIB
    # Lend all but 48 MiB of what is free: the program's 64 + 16 + 128 MiB cannot fit beside it.
    lend = (s0["stat-free-memory"] - 48 * MIB) // MIB * MIB
    g.set_balloon(full - lend)
    for n in range(1, len(STEPS_MIB) + 1):
        g.signal(10)
        step = g.out.step(n)
        assert step["ok"] == 1, step
    assert step["held_kib"] == sum(STEPS_MIB) * 1024
    # The balloon gave back what the program needed (and the host was told: actual rose).
    given_back = g.balloon_actual()
    assert given_back >= full - lend + (sum(STEPS_MIB) - 48) * MIB
    # And it does not take them again at its next interrupts (the stats polls) while the host
    # asks for the same size.
    g.fresh_stats()
    g.fresh_stats()
    assert g.balloon_actual() == given_back
    result = g.finish()
    assert result.exit_code == 0
