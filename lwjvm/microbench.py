"""`make bench`, micro part: the cost of a null syscall (getppid), of clock_gettime through the vDSO
and through the syscall instruction, and the futex ping-pong switch rate, in the guest against the
host, in one run.

bench/micro.c prints "name value" lines (the best of several rounds each); it runs on the host and
then in the guest through `lwjvm exec` (the same dynamically linked binary). Under TCG the guest
does fewer iterations (the argument divides them), since an emulated CPU is ~10x slower. The
ratios guest/host are printed and returned; nothing is asserted.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

from lwjvm import accel, program, vm
from lwjvm.errors import LwjvmError

SRC = Path("bench/micro.c")
# name -> (label, unit)
MEASURES = {
    "getppid_ns": ("null syscall (getppid)", "ns"),
    "clock_gettime_vdso_ns": ("clock_gettime, vDSO", "ns"),
    "clock_gettime_syscall_ns": ("clock_gettime, syscall", "ns"),
    "futex_pingpong_switches_per_s": ("futex ping-pong, one CPU", "switch/s"),
}


def build(out_dir: Path) -> Path:
    """Compiles bench/micro.c (when it changed) and returns the binary."""
    src = vm.repo_root() / SRC
    out = out_dir / "micro"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        subprocess.run(["gcc", "-O2", "-pthread", "-o", str(out), str(src)], check=True)
    return out


def parse(text: str) -> dict[str, float]:
    """The "name value" lines of micro's output; LwjvmError if one is missing."""
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in MEASURES:
            values[parts[0]] = float(parts[1])
    missing = set(MEASURES) - set(values)
    if missing:
        raise LwjvmError(f"bench/micro.c printed no {', '.join(sorted(missing))}: {text[-300:]!r}")
    return values


def run(out_dir: Path, chosen: str | None = None) -> dict[str, object]:
    """Runs micro on the host and in the guest; prints and returns the figures and ratios."""
    binary = build(out_dir)
    kernel = vm.find_kernel()
    chosen = chosen or accel.choose(kernel)
    scale = "1" if chosen == "kvm" else "4"
    host = parse(subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout)
    sink, err = io.BytesIO(), io.BytesIO()
    res = program.exec_program(
        program.ExecRequest(program=str(binary), args=[scale], accel=chosen, timeout=300), sink, err
    )
    if res.exit_code != 0:
        tail = err.getvalue()[-300:]
        raise LwjvmError(f"bench/micro.c in the guest: exit {res.exit_code}: {tail!r}")
    guest = parse(sink.getvalue().decode(errors="replace"))
    ratios = {k: guest[k] / host[k] if host[k] else None for k in MEASURES}
    results: dict[str, object] = {
        "accel": chosen,
        "host": host,
        "guest": guest,
        "guest_over_host": ratios,
    }
    _print(results, guest, host)
    return results


def _print(results: dict[str, object], guest: dict[str, float], host: dict[str, float]) -> None:
    print(f"lwjvm bench: micro (bench/micro.c), guest under {results['accel']} against the host")
    print(f"{'measure':<34} {'guest':>12} {'host':>12} {'guest/host':>11}")
    for name, (label, unit) in MEASURES.items():
        g, h = guest[name], host[name]
        ratio = f"{g / h:.2f}x" if h else "-"
        print(f"{label + ' (' + unit + ')':<34} {g:>12.1f} {h:>12.1f} {ratio:>11}")
    v, s = guest["clock_gettime_vdso_ns"], guest["clock_gettime_syscall_ns"]
    if v:
        print(f"in the guest, clock_gettime through the vDSO is {s / v:.1f}x faster than a syscall")
