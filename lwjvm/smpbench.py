"""`make bench`, SMP part (issue 12): lwjvm and the Linux guest with 1 and 2 virtual CPUs.

`python -m lwjvm.baseline --only smp` runs it (it is part of the default run). In one run,
interleaved (per boot: lwjvm then Linux, 1 CPU then 2):

- bench/smp/SmpWork.java: a fixed amount of independent CPU-bound work summed by a parallel
  stream; the JVM sizes its common pool from the CPUs it counts. The program times its own rounds
  after a warm-up round, so QEMU and JVM start-up are not in the figure, and says how busy each
  CPU was meanwhile (the guest's /proc/stat). Its result must be the host's (the host's `java`
  runs it once first) and the JVM must count the VM's CPUs. The speedup of a side is its median
  round time at 1 CPU over that at 2 (the issue's target under MTTCG on 2 host cores: 1.7x).
- bench/smp/pingpong.c (static): two threads pinned to CPUs 0 and 1 of a 2-CPU VM pass a turn
  through one futex word; round trips per second, each round trip two wake-ups across CPUs. The
  host runs it too (pinned to its CPUs 0 and 1).
- bench/smp/mprotect.c (static): one thread on CPU 0 makes a page it wrote read-only and writable
  again; microseconds per mprotect at 1 CPU and at 2 with the other idle: what a TLB shootdown
  costs when no other CPU runs the program.

Both sides boot the same root image (lwjvm's image of SmpWork, and one holding pingpong and its
boot.conf): lwjvm maps it as its ivshmem root, Linux gets it as its virtio-blk disk
(lwjvm/linuxguest.py). Nothing is asserted; LwjvmError only when a side fails in every boot.
"""

from __future__ import annotations

import io
import os
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lwjvm import bootconf, linuxguest, qemu, uptodate, vm
from lwjvm import build as build_mod
from lwjvm.errors import LwjvmError
from lwjvm.image import Staging, build_image
from lwjvm.jdk import find_jdk
from lwjvm.manifest import load as load_manifest

WORK_SRC = Path("bench/smp/SmpWork.java")
PINGPONG_SRC = Path("bench/smp/pingpong.c")
CPU_COUNTS = (1, 2)
WORK_MILLIONS = 1000  # xorshift iterations per round, in millions (about 1 s on a host core)
WORK_ROUNDS = 3
PINGPONG_TRIPS = 5000  # round trips per round (the program does 5 rounds)
BOOTS = 2
MEMORY_MIB = 512
TIMEOUT = 1800.0  # seconds a boot gets (a loaded host runs TCG many times slower)
MPROTECT_SRC = Path("bench/smp/mprotect.c")
MPROTECT_PAIRS = 2000  # pairs of mprotect calls per round (the program does 3 rounds)

_ROUND = "smp: round "
_RESULT = "smp: result "
_BUSY = "smp: busy % "
_PP_ROUND = "pingpong: round "
_MP_ROUND = "mprotect: round "


@dataclass(frozen=True)
class Output:
    """What one run of a benchmark program printed (stdout and, for Linux, its console), whether
    it ended well, and how many Linux boots hung before /init and were retried."""

    text: str
    ok: bool
    hung: int = 0

    @property
    def boots(self) -> int:
        """QEMU boots this run took (1 unless Linux hung before /init)."""
        return 1 + self.hung


def work_rounds(text: str) -> tuple[list[float], int | None]:
    """SmpWork's round times (seconds) and its result, from its output."""
    rounds: list[float] = []
    result = None
    for line in text.splitlines():
        if _ROUND in line:
            rounds.append(int(line.rsplit(" ", 1)[1]) / 1e3)
        elif line.startswith(_RESULT):
            result = int(line[len(_RESULT) :])
    return rounds, result


def busy_percent(text: str) -> list[int] | None:
    """How busy each CPU was during SmpWork's timed rounds (percent, from the guest's /proc/stat),
    or None if it did not say."""
    for line in text.splitlines():
        if line.startswith(_BUSY):
            return [int(w) for w in line[len(_BUSY) :].split()[1::2]]
    return None


def pingpong_rates(text: str) -> list[float]:
    """pingpong's round trips per second, one per round, from its output."""
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if _PP_ROUND in line]


def mprotect_costs(text: str) -> list[float]:
    """mprotect's microseconds per call, one per round, from its output."""
    return [float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if _MP_ROUND in line]


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}  # fmt: skip


# --- the programs and their images ------------------------------------------------------------


def build_work(out_dir: Path, millions: int, rounds: int) -> tuple[Path, Path]:
    """build/bench/smp: SmpWork's jar and its manifest (vm.cpus 2; the image's JVM flags are the
    same for 1 and 2 CPUs at this memory, and the JVM counts the CPUs it boots with).
    Returns (jar, manifest)."""
    jdk = find_jdk()
    work = out_dir / "smp"
    src = vm.repo_root() / WORK_SRC
    jar = work / "smpwork.jar"
    if not jar.exists() or jar.stat().st_mtime < src.stat().st_mtime:
        subprocess.run([str(jdk.tool("javac")), "--release", "17", "-d", str(work / "classes"),
                        str(src)], check=True)  # fmt: skip
        subprocess.run([str(jdk.tool("jar")), "--create", "--file", str(jar), "--main-class",
                        "SmpWork", "--date=1980-01-01T00:00:02Z", "-C", str(work / "classes"),
                        "."], check=True)  # fmt: skip
    manifest = work / "app.yaml"
    text = (f'name: bench-smp\napp:\n  jar: smpwork.jar\n  args: ["{millions}", "{rounds}"]\n'
            f"vm:\n  memory: {MEMORY_MIB}M\n  cpus: 2\n  network: none\n")  # fmt: skip
    if not manifest.exists() or manifest.read_text() != text:
        manifest.write_text(text)
    return jar, manifest


def build_c_image(out_dir: Path, src: Path, argv: list[str],
                  dirs: tuple[str, ...] = ()) -> tuple[Path, Path]:  # fmt: skip
    """A C program of bench/ built static into build/bench/NAME/NAME, and a root image holding
    it at /bench/NAME with a boot.conf that runs it with `argv` (and the empty directories
    `dirs`, mount points); (binary, root image), each remade only when out of date."""
    name = src.stem
    work = out_dir / name
    work.mkdir(parents=True, exist_ok=True)
    source = vm.repo_root() / src
    exe = work / name
    if not exe.exists() or exe.stat().st_mtime < source.stat().st_mtime:
        subprocess.run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-pthread", "-o",
                        str(exe), str(source)], check=True)  # fmt: skip
    image = work / "root.img"
    guest = f"/bench/{name}"
    conf = bootconf.BootConfig.make(guest, [name, *argv]).render()
    stamp = work / "image-of"
    key = f"{exe.stat().st_mtime_ns} {conf.hex()} {' '.join(dirs)}"
    if not image.exists() or not stamp.exists() or stamp.read_text() != key:
        staging = Staging(work / "root")
        if staging.root.exists():
            subprocess.run(["rm", "-rf", str(staging.root)], check=True)
        staging.root.mkdir()
        for d in (*build_mod.MOUNT_POINTS, *dirs):
            staging.mkdir(d)
        staging.stage_file(exe, guest)
        staging.stage_bytes(conf, bootconf.PATH)
        build_image(staging.root, image)
        stamp.write_text(key)
    return exe, image


# --- boots ----------------------------------------------------------------------------------


def lwjvm_boot(kernel: Path, root: Path, chosen: str, cpus: int) -> Output:
    """lwjvm's kernel running `root` on `cpus` CPUs; the program's stdout and stderr."""
    out, err = io.BytesIO(), io.BytesIO()
    cfg = qemu.VmConfig(kernel=kernel, initrd=root, memory_mib=MEMORY_MIB, accel=chosen,
                      append=["lwjvm.quiet=1"], timeout=TIMEOUT, cpus=cpus)  # fmt: skip
    res = vm.run_vm(cfg, out, err)
    text = (out.getvalue() + err.getvalue()).decode(errors="replace")
    return Output(text, res.program_code == 0)


def linux_boot(guest: linuxguest.Guest, root: Path, chosen: str, cpus: int) -> Output:
    """Debian's kernel running `root` on `cpus` CPUs; its console (the program's output too)."""
    cmd = linuxguest.qemu_command(guest, root, MEMORY_MIB, chosen, None, cpus)
    boot = linuxguest.boot(cmd, TIMEOUT / 10)
    status = boot.wait(TIMEOUT)
    # /init writes the program's status to isa-debug-exit: QEMU exits (code << 1) | 1, so 1 is
    # the program's exit 0. (/init's own "exit 0" line can be lost: QEMU ends before the UART
    # has sent it.)
    return Output(boot.output().decode(errors="replace"), status == 1, boot.hung)


Booter = Callable[[Path, int], Output]


def work(sides: dict[str, Booter], image_root: Path, expected: int, boots: int,
         log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """SmpWork on each side at each CPU count, `boots` times, interleaved: per-boot median
    round times, the speedup of each side, and failed runs."""
    rounds: dict[str, dict[int, list[float]]] = {s: {c: [] for c in CPU_COUNTS} for s in sides}
    busy: dict[str, dict[int, list[list[int]]]] = {s: {c: [] for c in CPU_COUNTS} for s in sides}
    failed: dict[str, int] = {}
    qemu_boots = dict.fromkeys(sides, 0)
    hung = 0
    for i in range(boots):
        for cpus in CPU_COUNTS:
            for name, boot in sides.items():
                t = time.monotonic()
                out = boot(image_root, cpus)
                hung += out.hung
                qemu_boots[name] += out.boots
                times, result = work_rounds(out.text)
                seen = f"smp: cpus {cpus}," in out.text
                if not out.ok or not times or result != expected or not seen:
                    failed[name] = failed.get(name, 0) + 1
                    why = "failed"
                    if out.ok and times:
                        why = "wrong result" if result != expected else "wrong CPU count"
                    log(f"  boot {i + 1}/{boots} {name} {cpus} CPU: {why}: "
                        f"{out.text[-300:].strip()!r}")  # fmt: skip
                    continue
                rounds[name][cpus].append(statistics.median(times))
                shares = busy_percent(out.text)
                if shares is not None:
                    busy[name][cpus].append(shares)
                said = "" if shares is None else f", CPUs busy {'/'.join(map(str, shares))}%"
                log(f"  boot {i + 1}/{boots} {name} {cpus} CPU: rounds "
                    f"{', '.join(f'{x:.2f}' for x in times)} s{said} (boot to exit "
                    f"{time.monotonic() - t:.0f} s)")  # fmt: skip
    seconds = {n: {str(c): _stats(v) for c, v in by.items()} for n, by in rounds.items()}
    speedup: dict[str, float | None] = {}
    for name, by in rounds.items():
        one, two = by[1], by[2]
        speedup[name] = statistics.median(one) / statistics.median(two) if one and two else None
    busy_json = {n: {str(c): v for c, v in by.items()} for n, by in busy.items()}
    return {"round_seconds": seconds, "speedup": speedup, "busy_percent": busy_json,
            "failed_runs": failed, "qemu_boots": qemu_boots, "linux_hung": hung}  # fmt: skip


def pingpong(sides: dict[str, Booter], image: Path, host_exe: Path, trips: int, boots: int,
             log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """The futex ping-pong across two CPUs: round trips/s on each side (2 CPUs) and the host."""
    rates: dict[str, list[float]] = {n: [] for n in (*sides, "host")}
    failed: dict[str, int] = {}
    qemu_boots = dict.fromkeys(sides, 0)
    hung = 0
    h = subprocess.run([str(host_exe), str(trips)], capture_output=True, text=True,
                       timeout=TIMEOUT, check=False)  # fmt: skip
    if h.returncode == 0:
        rates["host"] = pingpong_rates(h.stdout)
        log(f"  host: {', '.join(f'{x:.0f}' for x in rates['host'])} round trips/s")
    else:
        log(f"  host: pingpong exited {h.returncode}: {h.stderr.strip()[-200:]}")
    for i in range(boots):
        for name, boot in sides.items():
            out = boot(image, 2)
            hung += out.hung
            qemu_boots[name] += out.boots
            got = pingpong_rates(out.text)
            if not out.ok or not got:
                failed[name] = failed.get(name, 0) + 1
                log(f"  boot {i + 1}/{boots} {name}: failed: {out.text[-300:].strip()!r}")
                continue
            rates[name] += got
            log(f"  boot {i + 1}/{boots} {name}: {', '.join(f'{x:.0f}' for x in got)} "
                "round trips/s")  # fmt: skip
    return {"round_trips_per_s": {k: _stats(v) for k, v in rates.items()}, "failed_runs": failed,
            "qemu_boots": qemu_boots, "linux_hung": hung}  # fmt: skip


def mprotect(sides: dict[str, Booter], image: Path, boots: int,
             log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """bench/smp/mprotect.c on each side at each CPU count: microseconds per mprotect call."""
    costs: dict[str, dict[int, list[float]]] = {s: {c: [] for c in CPU_COUNTS} for s in sides}
    failed: dict[str, int] = {}
    qemu_boots = dict.fromkeys(sides, 0)
    hung = 0
    for i in range(boots):
        for cpus in CPU_COUNTS:
            for name, boot in sides.items():
                out = boot(image, cpus)
                hung += out.hung
                qemu_boots[name] += out.boots
                got = mprotect_costs(out.text)
                if not out.ok or not got:
                    failed[name] = failed.get(name, 0) + 1
                    log(f"  boot {i + 1}/{boots} {name} {cpus} CPU: failed: "
                        f"{out.text[-300:].strip()!r}")  # fmt: skip
                    continue
                costs[name][cpus] += got
                log(f"  boot {i + 1}/{boots} {name} {cpus} CPU: "
                    f"{', '.join(f'{x:.1f}' for x in got)} us")  # fmt: skip
    per_call = {n: {str(c): _stats(v) for c, v in by.items()} for n, by in costs.items()}
    return {"us_per_call": per_call, "failed_runs": failed, "qemu_boots": qemu_boots,
            "linux_hung": hung}  # fmt: skip


def measure(guest: linuxguest.Guest, chosen: str, boots: int, millions: int, rounds: int,
            trips: int, log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """The SmpWork speedups and the ping-pong, lwjvm against the Linux guest."""
    out_dir = vm.repo_root() / "build" / "bench"
    kernel = vm.find_kernel()
    jar, manifest = build_work(out_dir, millions, rounds)
    image = out_dir / "smp" / "image"
    uptodate.ensure_image(load_manifest(manifest), image, None, kernel, quiet=True)
    java = find_jdk().java
    log(f"SmpWork ({millions}M iterations a round, {rounds} rounds) on the host first:")
    h = subprocess.run([str(java), "-cp", str(jar), "SmpWork", str(millions), str(rounds)],
                       capture_output=True, text=True, timeout=TIMEOUT, check=False)  # fmt: skip
    host_rounds, expected = work_rounds(h.stdout)
    if h.returncode != 0 or expected is None:
        raise LwjvmError(f"SmpWork failed on the host (exit {h.returncode}): {h.stderr[-300:]}")
    log(f"  host ({os.cpu_count()} CPUs): rounds {', '.join(f'{x:.2f}' for x in host_rounds)} s")

    def lw(root: Path, cpus: int) -> Output:
        k = image / build_mod.KERNEL if root == image / build_mod.ROOT_IMAGE else kernel
        return lwjvm_boot(k, root, chosen, cpus)

    def lx(root: Path, cpus: int) -> Output:
        return linux_boot(guest, root, chosen, cpus)

    sides: dict[str, Booter] = {"lwjvm": lw, "linux": lx}
    log("SmpWork, per boot: the median of its rounds (seconds):")
    results: dict[str, Any] = {"work": work(sides, image / build_mod.ROOT_IMAGE, expected, boots,
                                            log)}  # fmt: skip
    results["work"]["host_round_seconds"] = _stats(host_rounds)
    results["work"]["millions_per_round"] = millions
    pp_exe, pp_image = build_c_image(out_dir, PINGPONG_SRC, [str(trips)])
    log(f"futex ping-pong across 2 CPUs ({trips} round trips a round, 5 rounds):")
    results["pingpong"] = pingpong(sides, pp_image, pp_exe, trips, boots, log)
    _, mp_image = build_c_image(out_dir, MPROTECT_SRC, [str(MPROTECT_PAIRS)])
    log(f"mprotect of a written page, the other CPU idle ({MPROTECT_PAIRS} pairs a round, 3 "
        "rounds), microseconds a call:")  # fmt: skip
    results["mprotect"] = mprotect(sides, mp_image, boots, log)
    for part, runs in (("work", 2), ("pingpong", 1), ("mprotect", 2)):
        for name, n in results[part]["failed_runs"].items():
            if n == boots * runs:
                raise LwjvmError(f"SMP bench: {name}: {part} failed in every boot")
    return results


def rows(smp: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, lwjvm, Linux guest, ratio, host) rows of the SMP part of the report."""

    def fmt(s: dict[str, float] | None, digits: int, unit: str) -> str:
        if s is None:
            return "n/a"
        u = f" {unit}" if unit else ""
        return (f"{s['median']:.{digits}f}{u} "
                f"[{s['min']:.{digits}f}-{s['max']:.{digits}f}]")  # fmt: skip

    def rat(a: float | None, b: float | None) -> str:
        return f"{a / b:.2f}x" if a and b else "n/a"

    out = []
    w = smp["work"]
    secs = w["round_seconds"]
    for cpus in CPU_COUNTS:
        a, b = secs["lwjvm"][str(cpus)], secs["linux"][str(cpus)]
        out.append((f"SmpWork round, {cpus} CPU", fmt(a, 2, "s"), fmt(b, 2, "s"),
                    rat(b and b["median"], a and a["median"]),
                    fmt(w["host_round_seconds"], 2, "s") if cpus == 1 else "-"))  # fmt: skip
    sp = w["speedup"]

    def x(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2f}x"

    out.append(("  speedup, 1 -> 2 CPUs (target 1.7x)", x(sp.get("lwjvm")), x(sp.get("linux")),
                rat(sp.get("lwjvm"), sp.get("linux")), "-"))  # fmt: skip
    shares = w.get("busy_percent", {})

    def busy(name: str) -> str:
        per_boot = shares.get(name, {}).get("2") or []
        if not per_boot:
            return "n/a"
        return "/".join(f"{statistics.median(b[c] for b in per_boot):.0f}"
                        for c in range(len(per_boot[0]))) + " %"  # fmt: skip

    out.append(("  CPUs busy in the 2-CPU rounds (/proc/stat)", busy("lwjvm"), busy("linux"),
                "-", "-"))  # fmt: skip
    r = smp["pingpong"]["round_trips_per_s"]
    out.append(("futex ping-pong across 2 CPUs, round trips/s", fmt(r.get("lwjvm"), 0, ""),
                fmt(r.get("linux"), 0, ""),
                rat(r["lwjvm"] and r["lwjvm"]["median"], r["linux"] and r["linux"]["median"]),
                fmt(r.get("host"), 0, "")))  # fmt: skip
    m = smp.get("mprotect")
    if m:
        for cpus in CPU_COUNTS:
            a, b = m["us_per_call"]["lwjvm"][str(cpus)], m["us_per_call"]["linux"][str(cpus)]
            label = "1 CPU" if cpus == 1 else f"{cpus} CPUs, the others idle"
            out.append((f"mprotect of a written page, {label}", fmt(a, 1, "us"), fmt(b, 1, "us"),
                        rat(b and b["median"], a and a["median"]), "-"))  # fmt: skip
    return out


def notes(smp: dict[str, Any]) -> list[str]:
    """Failed runs of the SMP part, for the report's notes."""
    lines = []
    for part in ("work", "pingpong", "mprotect"):
        for name, n in (smp.get(part) or {}).get("failed_runs", {}).items():
            lines.append(f"smp {part}: {name}: {n} run(s) failed (left out of its figures)")
    return lines
