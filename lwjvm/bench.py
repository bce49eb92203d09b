"""`make bench`: how long `lwjvm exec` of a static hello takes, and where the time goes.

In one run, interleaved, RUNS times each:
- `lwjvm exec` wall time, measured around the real command (a new Python process each time);
- the same work in-process, split into image build and QEMU start-to-exit, with the time from
  QEMU start to the program's first output and the kernel's own entry-to-user time (its
  `\\x1elwjvm:boot` record, read from the TSC);
- the empty-guest baseline: the same QEMU command line booting a guest that does nothing but write
  to isa-debug-exit (lwjvm/miniguest.py; no root image), so QEMU's own start-up and teardown
  cost stands beside ours.
Prints median, min and max of each, and writes them to build/bench/results.json. Nothing is
asserted: these are measurements.
"""

from __future__ import annotations

import io
import json
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

from lwjvm import accel, miniguest, program, vm
from lwjvm.errors import LwjvmError

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
    vm.find_qemu()
    hello = _build_hello(root, out_dir)
    empty = miniguest.write(out_dir / "empty-guest.elf")
    chosen = accel.choose(kernel)
    lwjvm_cmd = [sys.executable, "-c", "from lwjvm.cli import main; main()"]

    wall: list[float] = []
    image: list[float] = []
    qemu: list[float] = []
    first_output: list[float] = []
    entry_to_user: list[float] = []
    empty_qemu: list[float] = []
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
        qemu.append(res.vm.t_qemu_exit)
        if res.vm.t_first_output is not None:
            first_output.append(res.vm.t_first_output)
        if res.vm.boot is not None and res.vm.boot.entry_to_user_ns is not None:
            entry_to_user.append(res.vm.boot.entry_to_user_ns / 1e9)

        e = vm.run_vm(vm.VmConfig(kernel=empty, accel=chosen), io.BytesIO(), io.BytesIO())
        if e.qemu_status != 1:
            raise LwjvmError(f"empty guest: QEMU status {e.qemu_status}: {e.qemu_stderr!r}")
        empty_qemu.append(e.t_qemu_exit)

    results: dict[str, object] = {
        "accel": chosen,
        "runs": runs,
        "host": platform.node(),
        "qemu_command": " ".join(
            vm.qemu_command(
                "qemu-system-x86_64",
                vm.VmConfig(kernel, Path("root.img"), 128, chosen, ["lwjvm.quiet=1"]),
                [3, 4, 5],
            )
        ),
        "seconds": {
            "lwjvm_exec_wall": _stats(wall),
            "image_build": _stats(image),
            "qemu_start_to_exit": _stats(qemu),
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


def main() -> None:
    """Entry point of `python -m lwjvm.bench`."""
    try:
        run()
    except LwjvmError as e:
        print(f"lwjvm bench: error: {e}", file=sys.stderr)
        sys.exit(e.code)


if __name__ == "__main__":
    main()
