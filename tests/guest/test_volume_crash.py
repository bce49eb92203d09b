"""Crash safety of a volume, end to end: a program appends numbered records and fsyncs them (or
writes them O_SYNC), printing "acked N" after each fsync returned; QEMU is killed with SIGKILL
at a random instant; then every acked record is on the volume (read by the host's volfs-tool,
which replays the intent log in memory), the file is exactly a prefix of what was written, and
`check` is clean. The next boot (the kernel replays and commits the log) goes on with a new file.
CI runs a few kills (LWJVM_VOLUME_KILLS, default 3); `make soak` runs hundreds."""

from __future__ import annotations

import os
import random
import re
import subprocess
import threading
import time
from pathlib import Path

import pytest
from guest_harness import sigkill_env

from lwjvm import volume
from lwjvm.testing import guest_unavailable, lwjvm_command

HERE = Path(__file__).resolve().parent
KILLS = int(os.environ.get("LWJVM_VOLUME_KILLS", "3"))


def record(i: int) -> bytes:
    tail = b"abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghij"[: i * 7 % 60]
    return b"record %08d %s\n" % (i, tail)


def whole_records(data: bytes) -> int:
    """How many records data starts with; it must hold nothing else but a cut last one."""
    n, at = 0, 0
    while True:
        r = record(n)
        if data[at : at + len(r)] != r:
            assert r.startswith(data[at:]), f"record {n} is wrong: {data[at:at + 80]!r}"
            return n
        at += len(r)
        n += 1


@pytest.fixture(scope="module")
def writer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    try:
        volume.find_tool()
    except Exception as e:  # noqa: BLE001 - volfs-tool not built: nothing to test
        pytest.skip(str(e))
    exe = tmp_path_factory.mktemp("fsync_records") / "fsync_records"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(HERE / "volume" / "fsync_records.c")], check=True)  # fmt: skip
    return exe


def _one_kill(exe: Path, vol: Path, empty: Path, run: int, mode: str, delay: float) -> int:
    """Boots, lets the writer go for `delay` seconds after its first ack, kills QEMU; returns
    the records acked."""
    proc = subprocess.Popen(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "600", "--disk", str(vol),
         "--kernel-arg", "lwjvm.volume=/data", "--add", f"{empty}:/data", str(exe), "/data",
         str(run), mode],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env=sigkill_env(empty.parent),
    )  # fmt: skip
    acked = 0
    first = threading.Event()

    def read() -> None:
        nonlocal acked
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.match(rb"acked (\d+)$", line.strip())
            if m:
                acked = int(m.group(1))
                first.set()

    t = threading.Thread(target=read, daemon=True)
    t.start()
    try:
        assert first.wait(300), proc.stderr.read() if proc.stderr else b""
        time.sleep(delay)
    finally:
        os.killpg(proc.pid, 9)  # QEMU dies mid-write: no exit path runs in the guest
        proc.wait()
        t.join(10)
    return acked


def test_every_acked_record_survives_qemu_killed_at_a_random_instant(
    writer: Path, tmp_path: Path
) -> None:
    state = tmp_path / "state"
    vol = volume.create(state, "crash", 64 << 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    rng = random.Random(int(os.environ.get("LWJVM_VOLUME_KILL_SEED", "7")))
    tool = str(volume.find_tool())
    for run in range(KILLS):
        mode = "o_sync" if run % 3 == 2 else "fsync"
        acked = _one_kill(writer, vol, empty, run, mode, rng.uniform(0.0, 2.5))
        # Read-only: volfs-tool replays the intent log in memory, as the next boot will.
        got = subprocess.run([tool, "cat", str(vol), f"/records-{run}"], capture_output=True)
        assert got.returncode == 0, got.stderr
        n = whole_records(got.stdout)
        assert n >= acked, f"run {run} ({mode}): {acked} records acked, {n} on the volume"
        report = volume.check(state, "crash", repair=False)
        assert report.sound and report.bad == 0, report
    # The runs' files are all still there after the last boot replayed its log.
    for run in range(KILLS):
        got = subprocess.run([tool, "cat", str(vol), f"/records-{run}"], capture_output=True)
        assert got.returncode == 0 and whole_records(got.stdout) > 0
