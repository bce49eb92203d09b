"""`python -m lwjvm.deploybench [--vms N] [--copies N]`: what deployed VMs cost (make bench).

Measures, with a state directory of its own under build/bench/deploy:
- `lwjvm deploy` of samples/hello, wall time to the command's return (it runs to a clean exit
  within its start period), 3 times; `lwjvm deploy` of samples/http (health.http: /health, on a
  free host port) to healthy, 3 times (each removed before the next);
- an idle app (prints one line, then sleeps) deployed N times (`--vms`, default 20), each deploy's
  wall time to healthy (start period 1 s from its first line);
- `lwjvm ps` with those N VMs running, as a new process (wall time, 10 runs; the issue's target
  is under 200 ms);
- the host memory of `--copies` (default 10) of those idle VMs (the others removed first), once
  they are idle: their QEMU processes' RSS and PSS summed (from /proc/PID/smaps_rollup), the root
  image's mapping alone (RSS and PSS from /proc/PID/smaps): what sharing the read-only image's
  page cache saves; beside it the guests' own figure (their balloon drivers' statistics, as
  `lwjvm ps` shows them) and the supervisors' own memory;
- then, in the same run, as many Linux guests of the same app (lwjvm/linuxguest.py: Debian's
  cloud kernel in the same QEMU booting the very root.img the idle VMs booted, as a read-only
  virtio-blk disk, with the same memory and network), booted one after another, each waited for
  until the app has printed its line and the guest is idle; their QEMU RSS and PSS when all are
  idle, and the ratio. A Linux boot that hangs before /init is retried (`linux.hung`).
"Idle" is each QEMU using under 10 % of a host CPU over 3 s (or the time limit passed: the report
says so). Prints median, min and max and writes build/bench/deploy.json. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lwjvm import linuxguest, network
from lwjvm import state as st
from lwjvm.build import ROOT_IMAGE
from lwjvm.deploy import guest_memory
from lwjvm.descriptor import ImageDescriptor
from lwjvm.errors import LwjvmError
from lwjvm.jdk import find_jdk
from lwjvm.run import net_config
from lwjvm.vm import repo_root

IDLE = """
public class Idle {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        Thread.sleep(Long.MAX_VALUE);
    }
}
"""
READY = b"ready"
IDLE_CPU = 0.10  # a QEMU under this share of a host CPU over IDLE_WINDOW_S is idle
IDLE_WINDOW_S = 3.0
IDLE_LIMIT_S = 180.0  # how long one waits for idleness before measuring anyway
LINUX_READY_S = 600.0  # a Linux boot's time to the app's line (TCG, loaded machine)
MEM_KEYS = ("rss", "pss", "image_rss", "image_pss")


def _lwjvm(state: Path, *args: str) -> tuple[float, subprocess.CompletedProcess[str]]:
    cmd = [sys.executable, "-c", "from lwjvm.cli import main; main()", "--state-dir", str(state)]
    t = time.monotonic()
    proc = subprocess.run([*cmd, *args], capture_output=True, text=True)
    return time.monotonic() - t, proc


def _summary(xs: list[float]) -> dict[str, float]:
    return {"median": statistics.median(xs), "min": min(xs), "max": max(xs), "n": len(xs)}


def _mem(pid: int, image: str) -> dict[str, int]:
    """RSS and PSS of process `pid` in KiB, in all and for the mapping of `image`."""
    out = {"rss": 0, "pss": 0, "image_rss": 0, "image_pss": 0}
    for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
        k, _, v = line.partition(":")
        if k in ("Rss", "Pss"):
            out[k.lower()] = int(v.split()[0])
    in_image = False
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        words = line.split()
        if words and "-" in words[0] and len(words) >= 5:
            in_image = len(words) >= 6 and words[5].endswith(image)
        elif in_image and words and words[0] in ("Rss:", "Pss:"):
            out["image_" + words[0][:-1].lower()] += int(words[1])
    return out


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of process `pid` (all its threads), in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_idle(pids: list[int], limit: float = IDLE_LIMIT_S) -> tuple[list[float], float]:
    """Waits until every process in `pids` used under IDLE_CPU of a CPU over IDLE_WINDOW_S, or
    `limit` seconds passed: (each one's share of a CPU over the last window, seconds waited)."""
    t0 = time.monotonic()
    while True:
        before = [cpu_seconds(p) for p in pids]
        t = time.monotonic()
        time.sleep(IDLE_WINDOW_S)
        span = time.monotonic() - t
        shares = [(cpu_seconds(p) - b) / span for p, b in zip(pids, before, strict=True)]
        waited = time.monotonic() - t0
        if all(s < IDLE_CPU for s in shares) or waited >= limit:
            return shares, waited


def _totals(mems: list[dict[str, int]]) -> dict[str, int]:
    return {k: sum(m.get(k, 0) for m in mems) for k in mems[0]} if mems else {}


def _mib(kib: float) -> str:
    return f"{kib / 1024:.0f} MiB"


def _idle_app(work: Path) -> Path:
    jdk = find_jdk()
    src = work / "src"
    src.mkdir(parents=True, exist_ok=True)
    (src / "Idle.java").write_text(IDLE)
    classes = work / "classes"
    subprocess.run([str(jdk.home / "bin" / "javac"), "-d", str(classes), str(src / "Idle.java")],
                   check=True)  # fmt: skip
    (work / "manifest.txt").write_text("Main-Class: Idle\n")
    jar = work / "idle.jar"
    subprocess.run([str(jdk.home / "bin" / "jar"), "cfm", str(jar), str(work / "manifest.txt"),
                    "-C", str(classes), "."], check=True)  # fmt: skip
    manifest = work / "app.yaml"
    manifest.write_text(
        json.dumps({
            "name": "idle", "app": {"jar": str(jar)}, "jvm": {"cds": True},
            "vm": {"memory": "192M"}, "health": {"start_period": "1s", "timeout": "5m"},
        })  # fmt: skip
    )
    return manifest


def _sample_jar(sample: Path, jar: str) -> None:
    if not (sample / "target" / jar).is_file():
        subprocess.run([str(sample / "build.sh")], check=True)


def lwjvm_copies(state: Path, names: list[str], log: Callable[[str], None]) -> dict[str, Any]:
    """The host memory of the deployed VMs `names`, once idle: QEMU's (and the root image
    mapping's) RSS and PSS, the guests' own figure, the supervisors' RSS and PSS."""
    dirs = [st.VmDir(state, n) for n in names]
    deadline = time.monotonic() + 60  # the supervisors read the guests' balloons every 5 s
    while time.monotonic() < deadline and not all(d.state().guest_memory for d in dirs):
        time.sleep(1)
    states = [d.state() for d in dirs]
    qemu_pids = [s.qemu_pid for s in states if s.qemu_pid]
    shares, waited = wait_idle(qemu_pids)
    mems, sups = [], []
    for s in states:
        if not s.qemu_pid:
            continue
        m: dict[str, int] = _mem(s.qemu_pid, ROOT_IMAGE)
        m["guest_used"] = guest_memory(s.guest_memory).get("guest_used_kib", 0)
        mems.append(m)
        if s.supervisor_pid:
            sups.append(_mem(s.supervisor_pid, ROOT_IMAGE))
    total, sup_total = _totals(mems), _totals(sups)
    log(f"{len(mems)} idle lwjvm VMs (each under {max(shares) * 100:.1f} % of a CPU after "
        f"{waited:.0f} s): QEMU RSS {_mib(total['rss'])}, PSS {_mib(total['pss'])}; root image "
        f"mapping RSS {_mib(total['image_rss'])}, PSS {_mib(total['image_pss'])}; the guests' "
        f"own figure {_mib(total['guest_used'])}; supervisors RSS {_mib(sup_total['rss'])}, "
        f"PSS {_mib(sup_total['pss'])}")  # fmt: skip
    return {"per_vm": mems, "total": total, "supervisors": {"per_vm": sups, "total": sup_total},
            "cpu_share": shares, "idle_wait_s": waited}  # fmt: skip


def linux_copies(image_dir: Path, copies: int, accel: str,
                 log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """`copies` Linux guests booting the image in `image_dir` (its memory and network), one after
    another, each once its app printed READY and it is idle; then their QEMUs' memory."""
    guest = linuxguest.prepare(repo_root() / "build" / "bench" / "linux")
    desc = ImageDescriptor.read(image_dir)
    net = net_config(desc.vm, desc.name, [])
    cmd = linuxguest.qemu_command(guest, image_dir / ROOT_IMAGE, desc.vm.memory_mib, accel, net)
    boots: list[linuxguest.Boot] = []
    hung = 0
    ready: list[float] = []
    try:
        for i in range(copies):
            b = linuxguest.boot(cmd, init_timeout=60.0)
            boots.append(b)
            hung += b.hung
            t = b.wait_for(READY, LINUX_READY_S)
            if t is None:
                tail = b.output()[-600:].decode(errors="replace")
                raise RuntimeError(f"Linux guest {i}: no {READY.decode()!r} line:\n{tail}")
            ready.append(t)
            shares, waited = wait_idle([b.proc.pid])
            log(f"Linux guest {i}: app ready {t:.1f} s after QEMU start (hung boots before it: "
                f"{b.hung}), idle ({shares[0] * 100:.1f} % of a CPU) {waited:.0f} s later")
        shares, waited = wait_idle([b.proc.pid for b in boots])
        mems = [_mem(b.proc.pid, ROOT_IMAGE) for b in boots]
    finally:
        for b in boots:
            b.kill()
    total = _totals(mems)
    log(f"{len(mems)} idle Linux guests (each under {max(shares) * 100:.1f} % of a CPU): QEMU "
        f"RSS {_mib(total['rss'])}, PSS {_mib(total['pss'])}; {hung} boot(s) hung before /init "
        f"and were retried")  # fmt: skip
    return {"per_vm": mems, "total": total, "cpu_share": shares, "idle_wait_s": waited,
            "ready_s": _summary(ready), "hung": hung, "kernel": guest.kernel.package,
            "cmdline": " ".join(guest.cmdline)}  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lwjvm.deploybench")
    p.add_argument("--vms", type=int, default=20, help="idle VMs deployed for `lwjvm ps`")
    p.add_argument("--copies", type=int, default=10,
                   help="idle copies per side whose memory is measured")  # fmt: skip
    p.add_argument("--no-linux", action="store_true", help="skip the Linux guests")
    p.add_argument("--accel", default="tcg")
    a = p.parse_args(argv)
    copies = min(a.copies, a.vms)
    root = repo_root()
    work = root / "build" / "bench" / "deploy"
    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"accel": a.accel, "vms": a.vms, "copies": copies}
    hello, http = root / "samples" / "hello", root / "samples" / "http"
    _sample_jar(hello, "hello.jar")
    _sample_jar(http, "http.jar")

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        times = []
        for i in range(3):
            t, proc = _lwjvm(state, "deploy", "-q", "--accel", a.accel, "-o",
                             str(work / "hello-image"), "--name", f"hello-{i}",
                             str(hello / "app.yaml"))  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            times.append(t)
            log(f"deploy samples/hello #{i + 1}: {t:.2f} s")
        results["deploy_hello_s"] = _summary(times)

        times = []
        for i in range(3):
            t, proc = _lwjvm(state, "deploy", "-q", "--accel", a.accel, "-o",
                             str(work / "http-image"), "--name", f"http-{i}", "-p",
                             f"{network.free_port()}:8080", str(http / "app.yaml"))  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            times.append(t)
            log(f"deploy samples/http #{i + 1} to healthy (GET /health): {t:.2f} s")
            _lwjvm(state, "rm", "-f", f"http-{i}")
        results["deploy_http_to_healthy_s"] = _summary(times)

        manifest = _idle_app(work)
        image = work / "idle-image"
        times = []
        for i in range(a.vms):
            t, proc = _lwjvm(state, "deploy", "-q", "--accel", a.accel, "-o", str(image),
                             "--name", f"idle-{i}", str(manifest))  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            times.append(t)
            log(f"deploy idle-{i} to healthy: {t:.2f} s")
        results["deploy_idle_to_healthy_s"] = _summary(times)

        ps_times = []
        for _ in range(10):
            t, proc = _lwjvm(state, "ps")
            ps_times.append(t)
        results["ps_s"] = _summary(ps_times)
        log(f"lwjvm ps with {a.vms} VMs: median {statistics.median(ps_times) * 1000:.0f} ms")

        for i in range(copies, a.vms):
            _lwjvm(state, "rm", "-f", f"idle-{i}")
        results["memory_kib"] = lwjvm_copies(state, [f"idle-{i}" for i in range(copies)], log)
        for i in range(copies):
            _lwjvm(state, "rm", "-f", f"idle-{i}")
        if not a.no_linux:
            linux: dict[str, Any] | None
            try:
                linux = linux_copies(image, copies, a.accel, log)
            except (LwjvmError, RuntimeError) as e:  # every boot hung, or the app never ran
                log(f"the Linux guests failed: {e}")
                results["linux"] = {"error": str(e)}
                linux = None
            if linux is not None:
                results["linux"] = linux
                ours, theirs = results["memory_kib"]["total"], linux["total"]
                results["ratio"] = {k: theirs[k] / ours[k] for k in ("rss", "pss") if ours[k]}
                log(f"{copies} copies: Linux guests' QEMU RSS / lwjvm's "
                    f"{results['ratio']['rss']:.2f}x, PSS {results['ratio']['pss']:.2f}x")
    finally:
        for d in st.list_vms(state):
            _lwjvm(state, "rm", "-f", d.name)
    out = root / "build" / "bench" / "deploy.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 1 if "error" in results.get("linux", {}) else 0


if __name__ == "__main__":
    sys.exit(main())
