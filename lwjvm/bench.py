"""`make bench`: how long a static hello and a Java Hello take on the kernel, and where time goes.

In one run, interleaved, RUNS times each:
- `lwjvm exec` wall time, measured around the real command (a new Python process each time);
- the same work in-process, split into image build and QEMU start-to-exit, with the time from
  QEMU start to the program's first output and the kernel's own entry-to-user time (its
  `\\x1elwjvm:boot` record, read from the TSC);
- the empty-guest baseline: the same QEMU command line booting a guest that does nothing but write
  to isa-debug-exit (lwjvm/miniguest.py; no root image), so QEMU's own start-up and teardown
  cost stands beside ours.
Then the micro-benchmarks (lwjvm/microbench.py: a null syscall, clock_gettime through the vDSO and
through the syscall, a futex ping-pong), guest against host.
Then the Java Hello (issue 6), RUNS times each: the host's `java -cp hello.jar Hello`; `lwjvm run`
of the same jar (image already built) from process start to exit; the same boot in-process with
`lwjvm.stats=1`, for QEMU start to the first line printed and where the time went, from
timestamps: QEMU start to the kernel's boot record (host clock), of which kernel entry to the
program (the record's own TSC figure; QEMU start to kernel entry is what is left), the JVM from its
first instruction to the first line (start-up, class loading, main), to the exit record, and to
QEMU's exit; and the kernel's counters (faults, syscall CPU time, idle time, switches). Then the
smallest memory that runs Hello, found by bisection over MiB with real boots (`--memory`), and the
image's size.
Prints median, min and max of each, and writes them to build/bench/results.json. Nothing is
asserted: these are measurements.
"""

from __future__ import annotations

import io
import json
import platform
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from lwjvm import accel, microbench, miniguest, program, qemu, uptodate, vm
from lwjvm import run as run_mod
from lwjvm.descriptor import ImageDescriptor
from lwjvm.errors import LwjvmError
from lwjvm.jdk import find_jdk
from lwjvm.manifest import load

RUNS = 10
HELLO_SRC = Path("samples/hello-c/hello.c")
EXPECTED = b"Hello from lwjvm!\n"


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "median": statistics.median(values),
        "min": min(values),
        "max": max(values),
        "n": len(values),
    }


def _build_hello(root: Path, out_dir: Path) -> Path:
    out = out_dir / "hello"
    src = root / HELLO_SRC
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(src)], check=True)
    return out


def run(runs: int = RUNS) -> dict[str, object]:
    """Measures and prints; returns the results written to build/bench/results.json."""
    root = vm.repo_root()
    out_dir = root / "build" / "bench"
    out_dir.mkdir(parents=True, exist_ok=True)
    kernel = vm.find_kernel()
    qemu.find_qemu()
    hello = _build_hello(root, out_dir)
    empty = miniguest.write(out_dir / "empty-guest.elf")
    chosen = accel.choose(kernel)
    lwjvm_cmd = [sys.executable, "-c", "from lwjvm.cli import main; main()"]

    wall: list[float] = []
    image: list[float] = []
    qemu_s: list[float] = []
    first_output: list[float] = []
    entry_to_user: list[float] = []
    empty_qemu: list[float] = []
    qemu_command: list[str] = []
    for _ in range(runs):
        t = time.monotonic()
        r = subprocess.run(
            [*lwjvm_cmd, "exec", "--accel", chosen, str(hello)], capture_output=True, check=False
        )
        wall.append(time.monotonic() - t)
        if r.returncode != 0 or r.stdout != EXPECTED:
            raise LwjvmError(f"lwjvm exec hello failed (exit {r.returncode}): {r.stderr[-300:]!r}")

        sink = io.BytesIO()
        res = program.exec_program(
            program.ExecRequest(program=str(hello), accel=chosen), sink, sink
        )
        if res.exit_code != 0 or sink.getvalue() != EXPECTED:
            raise LwjvmError(f"in-process hello failed: {sink.getvalue()[-300:]!r}")
        image.append(res.image_build_s)
        qemu_command = res.vm.command
        qemu_s.append(res.vm.t_qemu_exit)
        if res.vm.t_first_output is not None:
            first_output.append(res.vm.t_first_output)
        if res.vm.boot is not None and res.vm.boot.entry_to_user_ns is not None:
            entry_to_user.append(res.vm.boot.entry_to_user_ns / 1e9)

        e = vm.run_vm(qemu.VmConfig(kernel=empty, accel=chosen), io.BytesIO(), io.BytesIO())
        if e.qemu_status != 1:
            raise LwjvmError(f"empty guest: QEMU status {e.qemu_status}: {e.qemu_stderr!r}")
        empty_qemu.append(e.t_qemu_exit)

    results: dict[str, object] = {
        "accel": chosen,
        "runs": runs,
        "host": platform.node(),
        "qemu_command": " ".join(qemu_command),
        "seconds": {
            "lwjvm_exec_wall": _stats(wall),
            "image_build": _stats(image),
            "qemu_start_to_exit": _stats(qemu_s),
            "qemu_start_to_first_output": _stats(first_output) if first_output else None,
            "kernel_entry_to_user": _stats(entry_to_user) if entry_to_user else None,
            "empty_guest_qemu_start_to_exit": _stats(empty_qemu),
        },
    }
    (out_dir / "results.json").write_text(json.dumps(results, indent=2) + "\n")
    _print(results)
    return results


def _print(results: dict[str, object]) -> None:
    secs = results["seconds"]
    assert isinstance(secs, dict)
    print(f"lwjvm bench: static hello, {results['runs']} runs, accel {results['accel']}")
    print(f"{'measure':<40} {'median':>9} {'min':>9} {'max':>9}")
    labels = {
        "lwjvm_exec_wall": "lwjvm exec, wall (new process)",
        "image_build": "  image build (in-process)",
        "qemu_start_to_exit": "  QEMU start to exit (in-process)",
        "qemu_start_to_first_output": "    QEMU start to first output",
        "kernel_entry_to_user": "    kernel entry to user (TSC)",
        "empty_guest_qemu_start_to_exit": "empty guest: QEMU start to exit",
    }
    for key, label in labels.items():
        s = secs.get(key)
        if s is None:
            print(f"{label:<40} {'n/a':>9}")
            continue
        print(
            f"{label:<40} {s['median'] * 1e3:>7.1f}ms {s['min'] * 1e3:>7.1f}ms "
            f"{s['max'] * 1e3:>7.1f}ms"
        )
    print("results: build/bench/results.json")


JAVA_HELLO = """public class Hello {
    public static void main(String[] args) {
        System.out.println("Hello from lwjvm!");
    }
}
"""
JAVA_MANIFEST = "name: bench-hello\napp:\n  jar: hello.jar\n"
# The same app with HotSpot's own start-up phase timings on stderr (separate boots and image).
PHASES_MANIFEST = (
    "name: bench-hello-phases\napp:\n  jar: hello.jar\n"
    'jvm:\n  options: ["-Xlog:startuptime:stderr"]\n'
)
_PHASE = re.compile(rb"\[info\]\[startuptime\] ([^,]+), ([0-9.]+) secs")
MIN_MEMORY_MIB = 16  # vm.parse_memory's floor


def _build_java_hello(out_dir: Path) -> tuple[Path, Path, Path]:
    """build/bench/java/{Hello.java, hello.jar, app.yaml}; (jar, manifest, java) of the JDK."""
    jdk = find_jdk()
    work = out_dir / "java"
    (work / "classes").mkdir(parents=True, exist_ok=True)
    src = work / "Hello.java"
    src.write_text(JAVA_HELLO)
    jar = work / "hello.jar"
    subprocess.run(
        [str(jdk.tool("javac")), "--release", "17", "-d", str(work / "classes"), str(src)],
        check=True,
    )
    subprocess.run(
        [str(jdk.tool("jar")), "--create", "--file", str(jar), "--main-class", "Hello",
         "--date=1980-01-01T00:00:02Z", "-C", str(work / "classes"), "."],
        check=True,
    )  # fmt: skip
    manifest = work / "app.yaml"
    manifest.write_text(JAVA_MANIFEST)
    (work / "phases.yaml").write_text(PHASES_MANIFEST)
    return jar, manifest, jdk.java


def _jvm_phases(manifest: Path, image: Path, chosen: str, runs: int) -> dict[str, list[float]]:
    """Seconds of HotSpot's start-up phases in the guest (-Xlog:startuptime, on stderr), and the
    time from the end of Create VM to the first line (the launcher loading the main class, and
    main), from the boot record, Create VM's duration and the first output."""
    series: dict[str, list[float]] = {}
    for _ in range(runs):
        out, err = _TimedSink(), _TimedSink()
        req = run_mod.RunRequest(
            manifest=manifest, output=image, accel=chosen, quiet=True, timeout=300
        )
        res = run_mod.run_app(req, out, err)  # type: ignore[arg-type]
        if res.exit_code != 0 or out.getvalue() != EXPECTED:
            raise LwjvmError(f"Hello with -Xlog:startuptime failed (exit {res.exit_code})")
        phases = {m.group(1).decode(): float(m.group(2)) for m in _PHASE.finditer(err.getvalue())}
        for name, secs in phases.items():
            series.setdefault(f"phase: {name}", []).append(secs)
        created = err.time_of(b"] Create VM, ")
        if created is not None and out.writes:
            series.setdefault("end of Create VM to first line", []).append(
                out.writes[0][0] - created
            )
    return series


class _TimedSink(io.BytesIO):
    """A BytesIO that remembers when (host monotonic clock) each chunk arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[float, bytes]] = []

    def write(self, data: bytes) -> int:  # type: ignore[override]
        self.writes.append((time.monotonic(), bytes(data)))
        return super().write(data)

    def time_of(self, needle: bytes) -> float | None:
        """When the bytes holding `needle` had all arrived."""
        seen = b""
        for t, chunk in self.writes:
            seen += chunk
            if needle in seen:
                return t
        return None


def _boot_java(manifest: Path, image: Path, chosen: str, memory: str | None, stats: bool) -> Any:
    sink = io.BytesIO()
    req = run_mod.RunRequest(
        manifest=manifest,
        output=image,
        memory=memory,
        accel=chosen,
        quiet=True,
        timeout=300,
        kernel_args=["lwjvm.stats=1"] if stats else [],
    )
    res = run_mod.run_app(req, sink, sink)
    return res, sink.getvalue()


def _smallest_memory(manifest: Path, image: Path, chosen: str, hi: int) -> int | None:
    """The fewest MiB with which Hello prints and exits 0, by bisection with real boots."""

    def runs(mib: int) -> bool:
        res, out = _boot_java(manifest, image, chosen, f"{mib}M", False)
        return res.exit_code == 0 and EXPECTED in out

    if not runs(hi):
        return None
    lo = MIN_MEMORY_MIB - 1  # below the floor: never tried, counts as failing
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if runs(mid):
            hi = mid
        else:
            lo = mid
    return hi


def run_java(runs: int = RUNS) -> dict[str, object]:
    """The Java Hello measurements (see the module docstring); printed and returned."""
    root = vm.repo_root()
    out_dir = root / "build" / "bench"
    jar, manifest, java = _build_java_hello(out_dir)
    image = out_dir / "java" / "image"
    kernel = vm.find_kernel()
    chosen = accel.choose(kernel)
    uptodate.ensure_image(load(manifest), image, None, kernel, quiet=True)
    lwjvm_cmd = [sys.executable, "-c", "from lwjvm.cli import main; main()"]
    series: dict[str, list[float]] = {
        k: []
        for k in (
            "host_java", "lwjvm_run_wall", "qemu_start_to_first_line", "qemu_start_to_exit",
            "qemu_start_to_boot_record", "kernel_entry_to_user", "qemu_start_to_kernel_entry",
            "jvm_start_to_first_line", "first_line_to_exit_record", "exit_record_to_qemu_exit",
        )
    }  # fmt: skip
    counters: dict[str, list[float]] = {}
    for _ in range(runs):
        t = time.monotonic()
        h = subprocess.run([str(java), "-cp", str(jar), "Hello"], capture_output=True)
        series["host_java"].append(time.monotonic() - t)
        if h.returncode != 0 or h.stdout != EXPECTED:
            raise LwjvmError(f"host java Hello failed (exit {h.returncode}): {h.stderr[-300:]!r}")

        t = time.monotonic()
        r = subprocess.run(
            [*lwjvm_cmd, "run", "-q", "--accel", chosen, "-o", str(image), str(manifest)],
            capture_output=True,
        )
        series["lwjvm_run_wall"].append(time.monotonic() - t)
        if r.returncode != 0 or r.stdout != EXPECTED:
            raise LwjvmError(f"lwjvm run Hello failed (exit {r.returncode}): {r.stderr[-300:]!r}")

        res, out = _boot_java(manifest, image, chosen, None, True)
        v = res.vm
        if res.exit_code != 0 or out != EXPECTED:
            raise LwjvmError(f"in-process Hello failed (exit {res.exit_code}): {out[-300:]!r}")
        series["qemu_start_to_exit"].append(v.t_qemu_exit)
        log = v.log
        boot_at = log.boot_at if log is not None else None
        e2u = v.boot.entry_to_user_ns / 1e9 if v.boot and v.boot.entry_to_user_ns else None
        if v.t_first_output is not None:
            series["qemu_start_to_first_line"].append(v.t_first_output)
        if boot_at is not None:
            series["qemu_start_to_boot_record"].append(boot_at)
            if e2u is not None:
                series["kernel_entry_to_user"].append(e2u)
                series["qemu_start_to_kernel_entry"].append(max(0.0, boot_at - e2u))
            if v.t_first_output is not None:
                series["jvm_start_to_first_line"].append(v.t_first_output - boot_at)
        if v.t_first_output is not None and v.t_exit_record is not None:
            series["first_line_to_exit_record"].append(v.t_exit_record - v.t_first_output)
        if v.t_exit_record is not None:
            series["exit_record_to_qemu_exit"].append(v.t_qemu_exit - v.t_exit_record)
        for k, n in (log.stats if log is not None else {}).items():
            counters.setdefault(k, []).append(float(n))

    phases_image = out_dir / "java" / "phases-image"
    phases_manifest = manifest.with_name("phases.yaml")
    uptodate.ensure_image(load(phases_manifest), phases_image, None, kernel, quiet=True)
    phases = _jvm_phases(phases_manifest, phases_image, chosen, runs)

    desc = ImageDescriptor.read(image)
    planned = desc.vm.memory_mib
    smallest = _smallest_memory(manifest, image, chosen, planned)
    results: dict[str, object] = {
        "accel": chosen,
        "runs": runs,
        "seconds": {k: _stats(v) for k, v in series.items() if v},
        "kernel_stats": {k: _stats(v) for k, v in counters.items()},
        "jvm_phases": {k: _stats(v) for k, v in phases.items()},
        "smallest_memory_mib": smallest,
        "planned_memory_mib": planned,
        "image_bytes": (image / "root.img").stat().st_size,
        "kernel_bytes": (image / "kernel.elf").stat().st_size,
        "jvm_argv": desc.jvm.argv,
    }
    _print_java(results)
    return results


def _print_java(results: dict[str, Any]) -> None:
    secs = results["seconds"]
    print()
    print(f"lwjvm bench: Java Hello, {results['runs']} runs, accel {results['accel']}")
    print(f"{'measure':<44} {'median':>9} {'min':>9} {'max':>9}")
    labels = {
        "host_java": "host: java -cp hello.jar Hello",
        "lwjvm_run_wall": "lwjvm run, process start to exit",
        "qemu_start_to_exit": "  QEMU start to exit (in-process)",
        "qemu_start_to_first_line": "  QEMU start to first line printed",
        "qemu_start_to_boot_record": "    QEMU start to boot record (host clock)",
        "qemu_start_to_kernel_entry": "      QEMU start to kernel entry (the rest)",
        "kernel_entry_to_user": "      kernel entry to JVM's first instr (TSC)",
        "jvm_start_to_first_line": "    JVM start to first line (init, classes)",
        "first_line_to_exit_record": "    first line to exit record (JVM exit)",
        "exit_record_to_qemu_exit": "    exit record to QEMU exit",
    }
    for key, label in labels.items():
        s = secs.get(key)
        if s is None:
            print(f"{label:<44} {'n/a':>9}")
            continue
        print(
            f"{label:<44} {s['median'] * 1e3:>7.1f}ms {s['min'] * 1e3:>7.1f}ms "
            f"{s['max'] * 1e3:>7.1f}ms"
        )
    phases = results["jvm_phases"]
    if phases:
        print("JVM start-up in the guest (separate boots with -Xlog:startuptime):")
        for k, s in phases.items():
            print(
                f"  {k:<42} {s['median'] * 1e3:>7.1f}ms {s['min'] * 1e3:>7.1f}ms "
                f"{s['max'] * 1e3:>7.1f}ms"
            )
    ks = results["kernel_stats"]
    if ks:
        print("kernel counters (lwjvm.stats=1), median [min, max]:")
        for k, s in ks.items():
            print(f"  {k:<14} {s['median']:>12.0f} [{s['min']:.0f}, {s['max']:.0f}]")
    smallest = results["smallest_memory_mib"]
    if smallest is None:
        found = "none up to the planned size"
    elif smallest == MIN_MEMORY_MIB:
        found = f"{smallest} MiB or less ({MIN_MEMORY_MIB} MiB is the least lwjvm boots with)"
    else:
        found = f"{smallest} MiB"
    print(
        f"smallest memory that runs Hello: {found} "
        f"(image built for vm.memory {results['planned_memory_mib']} MiB; --memory per boot)"
    )
    print(
        f"image: root.img {results['image_bytes'] / (1 << 20):.1f} MiB, "
        f"kernel.elf {results['kernel_bytes'] / (1 << 10):.0f} KiB"
    )


def main() -> None:
    """Entry point of `python -m lwjvm.bench`."""
    try:
        results = run()
        results["micro"] = microbench.run(vm.repo_root() / "build" / "bench", str(results["accel"]))
        results["java"] = run_java()
        out = vm.repo_root() / "build" / "bench" / "results.json"
        out.write_text(json.dumps(results, indent=2) + "\n")
    except LwjvmError as e:
        print(f"lwjvm bench: error: {e}", file=sys.stderr)
        sys.exit(e.code)


if __name__ == "__main__":
    main()
