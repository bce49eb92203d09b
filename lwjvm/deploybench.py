"""`python -m lwjvm.deploybench [--vms N]`: what deployed VMs cost (make bench runs it).

Measures, with a state directory of its own under build/bench/deploy:
- `lwjvm deploy` of samples/hello, wall time to the command's return (it runs to a clean exit
  within its start period), 3 times;
- an idle app (prints one line, then sleeps) deployed N times (default 20), each deploy's wall
  time to healthy (start period 1 s from its first line);
- `lwjvm ps` with those N VMs running, as a new process (wall time, 10 runs; the issue's target
  is under 200 ms);
- the host memory of the N QEMU processes: RSS and PSS summed (from /proc/PID/smaps_rollup), and
  the root image's mapping alone (RSS and PSS from /proc/PID/smaps): what sharing the read-only
  image's page cache saves; beside it the guests' own figure (their kernels' `mem` records, as
  `lwjvm ps` shows them).
Prints median, min and max and writes build/bench/deploy.json. Nothing is asserted. A Linux guest
running the same app (the issue's comparison) is not measured here yet.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lwjvm import state as st
from lwjvm.jdk import find_jdk
from lwjvm.vm import repo_root

IDLE = """
public class Idle {
    public static void main(String[] args) throws Exception {
        System.out.println("ready");
        Thread.sleep(Long.MAX_VALUE);
    }
}
"""


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


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lwjvm.deploybench")
    p.add_argument("--vms", type=int, default=20)
    p.add_argument("--accel", default="tcg")
    a = p.parse_args(argv)
    root = repo_root()
    work = root / "build" / "bench" / "deploy"
    state = work / "state"
    shutil.rmtree(state, ignore_errors=True)
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {"accel": a.accel, "vms": a.vms}
    sample = root / "samples" / "hello"
    if not (sample / "target" / "hello.jar").is_file():
        subprocess.run([str(sample / "build.sh")], check=True)
    try:
        times = []
        for i in range(3):
            t, proc = _lwjvm(state, "deploy", "-q", "--accel", a.accel, "-o",
                             str(work / "hello-image"), "--name", f"hello-{i}",
                             str(sample / "app.yaml"))  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            times.append(t)
            print(f"deploy samples/hello #{i + 1}: {t:.2f} s", flush=True)
        results["deploy_hello_s"] = _summary(times)

        manifest = _idle_app(work)
        times = []
        for i in range(a.vms):
            image = str(work / "idle-image")
            t, proc = _lwjvm(state, "deploy", "-q", "--accel", a.accel, "-o", image,
                             "--name", f"idle-{i}", str(manifest))  # fmt: skip
            if proc.returncode != 0:
                print(proc.stderr, file=sys.stderr)
                return 1
            times.append(t)
            print(f"deploy idle-{i} to healthy: {t:.2f} s", flush=True)
        results["deploy_idle_to_healthy_s"] = _summary(times)

        ps_times = []
        for _ in range(10):
            t, proc = _lwjvm(state, "ps")
            ps_times.append(t)
        results["ps_s"] = _summary(ps_times)
        print(f"lwjvm ps with {a.vms} VMs: median {statistics.median(ps_times) * 1000:.0f} ms",
              flush=True)  # fmt: skip

        idle = [d for d in st.list_vms(state) if d.name.startswith("idle-")]
        deadline = time.monotonic() + 60  # the supervisors ask the guests every 5 s
        while time.monotonic() < deadline and not all(d.state().guest_memory for d in idle):
            time.sleep(1)
        mems = []
        for d in idle:
            s = d.state()
            if s.qemu_pid:
                m = _mem(s.qemu_pid, "root.img")
                g = s.guest_memory
                m["guest_used"] = g["total_kib"] - g["free_kib"] if g else 0
                mems.append(m)
        keys = ("rss", "pss", "image_rss", "image_pss", "guest_used")
        total = {k: sum(m[k] for m in mems) for k in keys}
        results["memory_kib"] = {"per_vm": mems, "total": total}
        print(
            f"{len(mems)} idle VMs: RSS {total['rss'] / 1024:.0f} MiB, PSS "
            f"{total['pss'] / 1024:.0f} MiB; root image mapping RSS "
            f"{total['image_rss'] / 1024:.0f} MiB, PSS {total['image_pss'] / 1024:.0f} MiB; "
            f"the guests' own figure {total['guest_used'] / 1024:.0f} MiB"
        )
    finally:
        for d in st.list_vms(state):
            _lwjvm(state, "rm", "-f", d.name)
    out = root / "build" / "bench" / "deploy.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
