"""`make bench`, volume part (issue 13): lwjvm's volume against ext4 in the Linux guest.

`python -m lwjvm.baseline --only volume` runs it (it is part of the default run). The same C
program (bench/volume.c, static, in the same root image) runs on a 1 GiB volume file on each
side, interleaved per boot, with the same QEMU drive options (qemu.disk_args: virtio-blk-pci,
raw, cache=none, io_uring where the host has it, discard=unmap):

- lwjvm: a fresh volume (`volfs-tool format`) mounted at /data (kernel argument
  lwjvm.volume=/data), the VM's memory 256 MiB, so its ARC is 32 MiB;
- Linux: a fresh raw file made ext4 on the host (`mkfs.ext4 -q -F`), mounted at /data by
  bench/linux-init.c (lwjvm.volume=/data on its command line, /dev/vdb), same memory;
- the host: the program in a scratch directory of build/bench (the host's own file system).

Figures per run: sequential write MB/s (64 MiB, then fsync), sequential read MB/s (after
posix_fadvise DONTNEED), 4 KiB random writes each followed by fsync per second, empty-file
creates per second in one directory, re-reads of an 8 MiB working set MB/s and (lwjvm only) the
ARC's hit rate over them. Then on the host, with lwjvm's own volfs code: a 1 GiB volume filled
with a 900 MiB file, and its snapshot taken N times: the operation's own time (volfs-tool's
LWJVM_VOLFS_TIMES: open, snapshot with its commits and flushes), volfs-tool's process wall time,
the same operation on an empty 1 GiB volume in turn with it (constant time: the two agree), and
`lwjvm volume snapshot NAME@SNAP`'s wall time (Python's start-up included). Nothing is
asserted; LwjvmError only when a side fails in every run.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lwjvm import linuxguest, qemu, smpbench, vm
from lwjvm import volume as volume_mod
from lwjvm.errors import LwjvmError

SRC = Path("bench/volume.c")
MOUNT = "/data"
VOLUME_BYTES = 1 << 30
FILL_BYTES = 900 << 20
MEMORY_MIB = 256
RUNS = 2
SNAPSHOTS = 5
TIMEOUT = 1800.0
FIGURES = ("seq_write_MBps", "seq_read_MBps", "fsync_4k_writes_per_s", "creates_per_s",
           "reread_MBps", "arc_reread_hit_percent")  # fmt: skip
LABELS = {
    "seq_write_MBps": ("sequential write 64 MiB + fsync", "MB/s", True),
    "seq_read_MBps": ("sequential read of it (cold where the side can drop it)", "MB/s", True),
    "fsync_4k_writes_per_s": ("4 KiB random writes, each fsync'd", "/s", True),
    "creates_per_s": ("creates of empty files in one directory", "/s", True),
    "reread_MBps": ("re-reads of an 8 MiB working set", "MB/s", True),
    "arc_reread_hit_percent": ("  ARC hit rate over those re-reads (lwjvm)", "%", True),
}
_TIMES = re.compile(r"times open_ms ([0-9.]+) op_ms ([0-9.]+) close_ms ([0-9.]+)")


def parse(text: str) -> dict[str, float]:
    """bench/volume.c's figures (`name value` pairs on its one line) from a run's output."""
    for line in text.splitlines():
        if "seq_write_MBps" in line:
            words = line[line.index("seq_write_MBps") :].split()
            return {k: float(v) for k, v in zip(words[::2], words[1::2], strict=False)}
    return {}


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}  # fmt: skip


def lwjvm_run(kernel: Path, root: Path, disk: Path, chosen: str) -> smpbench.Output:
    """lwjvm's kernel running the bench image with `disk` as its volume at MOUNT."""
    out, err = io.BytesIO(), io.BytesIO()
    cfg = qemu.VmConfig(kernel=kernel, initrd=root, memory_mib=MEMORY_MIB, accel=chosen,
                        append=["lwjvm.quiet=1", f"lwjvm.volume={MOUNT}"], timeout=TIMEOUT,
                        disks=[disk])  # fmt: skip
    res = vm.run_vm(cfg, out, err)
    text = (out.getvalue() + err.getvalue()).decode(errors="replace")
    return smpbench.Output(text, res.program_code == 0)


def linux_run(guest: linuxguest.Guest, root: Path, disk: Path, chosen: str) -> smpbench.Output:
    """Debian's kernel running the bench image with `disk` (ext4) mounted at MOUNT."""
    cmd = linuxguest.qemu_command(guest, root, MEMORY_MIB, chosen, None, disks=(disk,),
                                  extra_cmdline=(f"lwjvm.volume={MOUNT}",))  # fmt: skip
    boot = linuxguest.boot(cmd, TIMEOUT / 10)
    status = boot.wait(TIMEOUT)
    return smpbench.Output(boot.output().decode(errors="replace"), status == 1, boot.hung)


def fresh_volfs(path: Path) -> Path:
    """An empty 1 GiB lwjvm volume at `path` (replacing one there)."""
    path.unlink(missing_ok=True)
    subprocess.run([str(volume_mod.find_tool()), "format", str(path), str(VOLUME_BYTES), "bench"],
                   check=True, capture_output=True)  # fmt: skip
    return path


def fresh_ext4(path: Path) -> Path:
    """An empty 1 GiB ext4 file system in a raw file at `path` (mkfs.ext4 on the host)."""
    path.unlink(missing_ok=True)
    with path.open("wb") as f:
        f.truncate(VOLUME_BYTES)
    r = subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "bench", str(path)], capture_output=True,
                       text=True, check=False)  # fmt: skip
    if r.returncode != 0:
        raise LwjvmError(f"mkfs.ext4 failed: {r.stderr.strip()[-300:]}")
    return path


def guest_runs(guest: linuxguest.Guest, chosen: str, runs: int,
               log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """bench/volume.c on lwjvm, the Linux guest and the host, `runs` times, interleaved."""
    out_dir = vm.repo_root() / "build" / "bench"
    kernel = vm.find_kernel()
    exe, image = smpbench.build_c_image(out_dir, SRC, [MOUNT], dirs=(MOUNT,))
    work = out_dir / "volume"
    figures: dict[str, dict[str, list[float]]] = {s: {} for s in ("lwjvm", "linux", "host")}
    failed: dict[str, int] = {}
    qemu_boots = {"lwjvm": 0, "linux": 0}
    hung = 0
    for i in range(runs):
        scratch = Path(tempfile.mkdtemp(prefix="volbench-", dir=work))
        try:
            h = subprocess.run([str(exe), str(scratch)], capture_output=True, text=True,
                               timeout=TIMEOUT, check=False)  # fmt: skip
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
        sides: list[tuple[str, Callable[[], smpbench.Output]]] = [
            ("host", lambda h=h: smpbench.Output(h.stdout + h.stderr, h.returncode == 0)),
            ("lwjvm", lambda: lwjvm_run(kernel, image, fresh_volfs(work / "lwjvm.vol"), chosen)),
            ("linux", lambda: linux_run(guest, image, fresh_ext4(work / "ext4.img"), chosen)),
        ]
        for name, run in sides:
            t = time.monotonic()
            out = run()
            if name in qemu_boots:
                qemu_boots[name] += out.boots
                hung += out.hung
            got = parse(out.text)
            if not out.ok or not got:
                failed[name] = failed.get(name, 0) + 1
                log(f"  run {i + 1}/{runs} {name}: failed: {out.text[-400:].strip()!r}")
                continue
            for k, v in got.items():
                figures[name].setdefault(k, []).append(v)
            said = ", ".join(f"{k} {v:g}" for k, v in got.items())
            log(f"  run {i + 1}/{runs} {name}: {said} ({time.monotonic() - t:.0f} s)")
    for f in ("lwjvm.vol", "ext4.img"):
        (work / f).unlink(missing_ok=True)
    for name in ("lwjvm", "linux"):
        if failed.get(name) == runs:
            raise LwjvmError(f"volume bench: {name} failed in every run")
    return {"figures": {n: {k: _stats(v) for k, v in by.items()} for n, by in figures.items()},
            "failed_runs": failed, "qemu_boots": qemu_boots, "linux_hung": hung}  # fmt: skip


def snapshots(count: int, log: Callable[[str], None]) -> dict[str, Any]:
    """A 1 GiB volume holding a 900 MiB file, snapshotted `count` times with volfs-tool and
    `count` times with `lwjvm volume snapshot` (the CLI, a state directory of its own)."""
    tool = volume_mod.find_tool()
    work = vm.repo_root() / "build" / "bench" / "volume"
    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)
    path = volume_mod.volume_path(state, "full")
    path.parent.mkdir(parents=True)
    subprocess.run([str(tool), "format", str(path), str(VOLUME_BYTES), "full"], check=True,
                   capture_output=True)  # fmt: skip
    log(f"  filling a 1 GiB volume with a {FILL_BYTES >> 20} MiB file (volfs-tool put)")
    put = subprocess.Popen([str(tool), "put", str(path), "/fill"], stdin=subprocess.PIPE,
                           stderr=subprocess.PIPE)  # fmt: skip
    assert put.stdin is not None
    chunk = bytes(range(256)) * 4096  # 1 MiB, not all zeros
    for _ in range(FILL_BYTES >> 20):
        put.stdin.write(chunk)
    put.stdin.close()
    if put.wait() != 0:
        raise LwjvmError("volfs-tool put failed while filling the snapshot volume")
    info = subprocess.run([str(tool), "info", str(path)], capture_output=True, text=True,
                          check=True).stdout.split()  # fmt: skip
    keys = ("open_ms", "op_ms", "tool_wall_ms", "empty_open_ms", "empty_op_ms", "cli_wall_ms")
    own: dict[str, list[float]] = {k: [] for k in keys}
    env = {**os.environ, "LWJVM_VOLFS_TIMES": "1"}
    empty = state / "empty.vol"  # the same operation on an empty 1 GiB volume, interleaved
    subprocess.run([str(tool), "format", str(empty), str(VOLUME_BYTES), "empty"], check=True,
                   capture_output=True)  # fmt: skip
    for i in range(count):
        for vol, prefix in ((path, ""), (empty, "empty_")):
            t = time.monotonic()
            r = subprocess.run([str(tool), "snapshot", str(vol), "root", f"t{i}"], env=env,
                               capture_output=True, text=True, check=False)  # fmt: skip
            wall = (time.monotonic() - t) * 1e3
            m = _TIMES.search(r.stderr)
            if r.returncode != 0 or m is None:
                raise LwjvmError(f"volfs-tool snapshot failed: {r.stderr.strip()[-300:]}")
            own[prefix + "open_ms"].append(float(m.group(1)))
            own[prefix + "op_ms"].append(float(m.group(2)))
            if not prefix:
                own["tool_wall_ms"].append(wall)
    # The installed command (the venv's script beside this Python), as a user runs it.
    script = Path(sys.executable).parent / "lwjvm"
    cli = [str(script)] if script.is_file() else [sys.executable, "-m", "lwjvm"]
    lwjvm_cmd = [*cli, "--state-dir", str(state), "volume", "snapshot"]
    for i in range(count):
        t = time.monotonic()
        r = subprocess.run([*lwjvm_cmd, f"full@c{i}"], capture_output=True, text=True,
                           check=False)  # fmt: skip
        if r.returncode != 0:
            raise LwjvmError(f"lwjvm volume snapshot failed: {r.stderr.strip()[-300:]}")
        own["cli_wall_ms"].append((time.monotonic() - t) * 1e3)
    log("  " + ", ".join(f"{k} {statistics.median(v):.1f}" for k, v in own.items()))
    shutil.rmtree(state, ignore_errors=True)
    return {"ms": {k: _stats(v) for k, v in own.items()}, "volume_info": " ".join(info),
            "fill_bytes": FILL_BYTES, "count": count}  # fmt: skip


def measure(guest: linuxguest.Guest, chosen: str, runs: int, log: Callable[[str], None],
            snapshot_count: int = SNAPSHOTS) -> dict[str, Any]:  # fmt: skip
    """The whole volume part: the guest runs, then the snapshots."""
    (vm.repo_root() / "build" / "bench" / "volume").mkdir(parents=True, exist_ok=True)
    log(f"bench/volume.c on a 1 GiB volume: lwjvm's volfs, ext4 in the Linux guest, the host "
        f"({runs} runs):")  # fmt: skip
    res = guest_runs(guest, chosen, runs, log)
    log(f"snapshot of a full 1 GiB volume ({snapshot_count} times each), milliseconds:")
    res["snapshot"] = snapshots(snapshot_count, log)
    return res


def rows(v: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, lwjvm, Linux guest, ratio, host) rows of the volume part of the report."""

    def fmt(s: dict[str, float] | None, unit: str) -> str:
        if s is None:
            return "n/a"
        digits = 0 if s["median"] >= 100 else 1
        return f"{s['median']:.{digits}f} {unit} [{s['min']:.{digits}f}-{s['max']:.{digits}f}]"

    out = []
    f = v["figures"]
    for key in FIGURES:
        label, unit, hib = LABELS[key]
        a, b, h = (f[n].get(key) for n in ("lwjvm", "linux", "host"))
        r = "n/a"
        if a and b and a["median"] and b["median"]:
            x = a["median"] / b["median"] if hib else b["median"] / a["median"]
            r = f"{x:.2f}x"
        out.append((f"volume: {label}", fmt(a, unit), fmt(b, unit), r, fmt(h, unit)))
    s = v["snapshot"]["ms"]
    out.append(("snapshot of a full 1 GiB volume: the operation", fmt(s["op_ms"], "ms"), "-", "-",
                "-"))  # fmt: skip
    out.append(("  volfs-tool's open of it (before the operation)", fmt(s["open_ms"], "ms"), "-",
                "-", "-"))  # fmt: skip
    if "empty_op_ms" in s:
        out.append(("  the operation on an empty 1 GiB volume", fmt(s["empty_op_ms"], "ms"), "-",
                    "-", "-"))  # fmt: skip
        out.append(("  the open of the empty one", fmt(s["empty_open_ms"], "ms"), "-", "-", "-"))
    out.append(("  volfs-tool snapshot, process wall time", fmt(s["tool_wall_ms"], "ms"), "-",
                "-", "-"))  # fmt: skip
    out.append(("  lwjvm volume snapshot, wall time (Python included)", fmt(s["cli_wall_ms"], "ms"),
                "-", "-", "-"))  # fmt: skip
    return out


def notes(v: dict[str, Any]) -> list[str]:
    """Failed runs of the volume part, for the report's notes."""
    return [f"volume: {name}: {n} run(s) failed (left out of its figures)"
            for name, n in v["failed_runs"].items()]  # fmt: skip
