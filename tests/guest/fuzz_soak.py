"""Soak run of the guest syscall fuzzer (tests/guest/c/fuzz/sysfuzz.c): `make soak`.

Runs sysfuzz under `lwjvm exec` for new seeds until the time is up, and for every seed that does
not end clean (a kernel panic 123, a VM timeout 124, a fuzzer verdict 3/4/6) prints the seed, how
it ended, the tail of the kernel's output, and the last calls: the seed is replayed with `-v`,
which prints each call before making it. The fuzzer never runs on the host.

    python tests/guest/fuzz_soak.py [--minutes 60] [--calls 200000] [--first-seed N] [--jobs 2]
                                    [--cpus 1,2]

`--cpus 1,2` boots the seeds on 1 and 2 virtual CPUs in turn (seed N on the N-th of the list,
cyclically), so the fuzzer's threads also run side by side in the kernel; a failing seed is
printed with its CPU count, which its replay uses.

A seed killed at its timeout is a kernel failure only if the kernel says so: at the timeout
`lwjvm exec` asks it over the control channel what each thread is doing (`lwjvm:threads`) and
names a kernel hang when it does not answer, when a thread has waited in a run queue for 10 s,
or when a deadline passed 10 s ago and its thread still waits. Otherwise the program was blocked
as it would be on Linux, or still running on a machine too slow for the timeout: printed with
each thread's state, counted apart, not failed.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
FUZZER = REPO / "tests" / "build" / "guest-c" / "sysfuzz"
REPLAYS = REPO / "build" / "soak"  # a failing seed's replay writes its calls here as it goes
VERDICTS = {
    0: "clean",
    3: "the fuzzer faulted",
    4: "a call hung",
    6: "kernel memory reachable",
    122: "VM stopped without an exit record",
    123: "kernel panic",
    124: "timeout (kernel hang)",
}


def lwjvm() -> list[str]:
    venv = REPO / ".venv" / "bin" / "lwjvm"
    return [str(venv)] if venv.exists() else [sys.executable, "-m", "lwjvm"]


def run_seed(
    seed: int,
    calls: int,
    timeout: float,
    verbose: bool = False,
    cpus: int = 1,
    out: Path | None = None,
) -> subprocess.CompletedProcess[bytes]:
    """One fuzzer run in the guest on `cpus` CPUs; the VM is killed `timeout` seconds in. With
    `out`, the program's stdout goes to that file as it comes (`tail -f` it) and is read back."""
    argv = [
        *lwjvm(), "exec", "--accel", "tcg", "--timeout", str(timeout), "--memory", "256M",
        "--cpus", str(cpus), "--env", "SYSFUZZ_IN_GUEST=1", str(FUZZER),
        *(["-v"] if verbose else []), str(seed), str(calls),
    ]  # fmt: skip
    try:
        if out is None:
            return subprocess.run(argv, capture_output=True, timeout=timeout + 120)
        with open(out, "wb") as f:
            r = subprocess.run(argv, stdout=f, stderr=subprocess.PIPE, timeout=timeout + 120)
        return subprocess.CompletedProcess(argv, r.returncode, out.read_bytes(), r.stderr)
    except subprocess.TimeoutExpired as e:
        got = out.read_bytes() if out is not None else e.stdout or b""
        return subprocess.CompletedProcess(argv, 124, got, e.stderr or b"")


def seed_timeout(calls: int, cpus: int = 1) -> float:
    """Generous under load: the main thread makes 1,000-2,900 calls/s on a loaded machine and
    some 300 at worst (seed 408 was killed at 520 s after 160,000 calls; its replay ran clean).
    On 2 CPUs TCG needs two host threads: 141-658 calls/s were seen at load 10 (seed 7201 took
    1,418 s; 7103 and 7203 were killed at 1,453 s after 80,000-100,000 calls, and their replays
    ran clean), so the floor there is 50 calls/s."""
    return 120 + calls / (150 if cpus == 1 else 50)


def timeout_verdict(stderr: bytes) -> tuple[bool, str, list[str]]:
    """For a run killed at its timeout: (a kernel fault?, lwjvm's cause line, the thread lines
    of the kernel's answer). lwjvm/protocol.py's timeout_cause says "a kernel hang" for a kernel
    that did not answer, starved a thread or lost a timer."""
    lines = stderr.decode(errors="replace").splitlines()
    cause = next((ln for ln in reversed(lines) if "did not finish within" in ln), "")
    threads = [ln for ln in lines if ln.startswith("lwjvm: at the timeout, ")]
    return "a kernel hang" in cause or not cause, cause, threads


def report(seed: int, calls: int, cpus: int, r: subprocess.CompletedProcess[bytes]) -> None:
    verdict = VERDICTS.get(r.returncode, f"exit {r.returncode}")
    print(f"soak: seed {seed} on {cpus} CPU(s): FAILED: {verdict}", flush=True)
    for line in r.stdout.decode(errors="replace").splitlines()[-5:]:
        print(f"  out| {line}")
    for line in r.stderr.decode(errors="replace").splitlines()[-25:]:
        print(f"  err| {line}")
    REPLAYS.mkdir(parents=True, exist_ok=True)
    out = REPLAYS / f"seed-{seed}-{cpus}cpu.calls"
    print(f"  replaying with -v into {out}", flush=True)
    replay = run_seed(seed, calls, seed_timeout(calls, cpus) * 4, verbose=True, cpus=cpus, out=out)
    calls_made = [ln for ln in replay.stdout.decode(errors="replace").splitlines() if ln[:1] == "#"]
    print(f"  replay with -v: exit {replay.returncode}; the last calls:")
    for line in calls_made[-12:]:
        print(f"  call| {line}")
    sys.stdout.flush()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, default=60)
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--first-seed", type=int, default=int(time.time()))
    ap.add_argument("--jobs", type=int, default=max(1, (os.cpu_count() or 2) // 2))
    ap.add_argument("--cpus", default="1", help="CPU counts the seeds boot on in turn: 1,2")
    args = ap.parse_args()
    cpu_counts = [int(c) for c in args.cpus.split(",")]
    subprocess.run(["make", "-s", "-C", str(REPO / "tests" / "guest" / "c")], check=True)
    deadline = time.monotonic() + args.minutes * 60
    failed: list[int] = []
    slow: list[int] = []  # killed at the timeout while the kernel answered: not kernel faults
    clean = calls_clean = 0
    next_seed = args.first_seed

    def cpus_of(seed: int) -> int:
        return cpu_counts[seed % len(cpu_counts)]

    def one(seed: int) -> tuple[int, subprocess.CompletedProcess[bytes]]:
        cpus = cpus_of(seed)
        return seed, run_seed(seed, args.calls, seed_timeout(args.calls, cpus), cpus=cpus)

    with ThreadPoolExecutor(args.jobs) as pool:
        running = set()
        while running or time.monotonic() < deadline:
            while len(running) < args.jobs and time.monotonic() < deadline:
                running.add(pool.submit(one, next_seed))
                next_seed += 1
            finished, _ = wait(running, return_when=FIRST_COMPLETED)
            done = finished.pop()
            seed, r = done.result()
            running.discard(done)
            if r.returncode == 0:
                clean += 1
                calls_clean += args.calls
                lines = r.stdout.decode(errors="replace").strip().splitlines()
                # The fuzzer's last lines: calls and rate, then the structures it built.
                last = [ln for ln in lines if ln.startswith(("sysfuzz: seed ", "sysfuzz: struct"))]
                said = " / ".join(last[-2:]) or "clean"
                print(f"soak: seed {seed} on {cpus_of(seed)} CPU(s): {said}", flush=True)
            elif r.returncode == 124 and not (verdict := timeout_verdict(r.stderr))[0]:
                slow.append(seed)
                print(f"soak: seed {seed} on {cpus_of(seed)} CPU(s): timed out, not a kernel "
                      f"fault: {verdict[1]}", flush=True)  # fmt: skip
                for line in [*r.stdout.decode(errors="replace").splitlines()[-2:], *verdict[2]]:
                    print(f"  {line}")
            else:
                failed.append(seed)
                report(seed, args.calls, cpus_of(seed), r)
    print(
        f"soak: {clean} seeds clean ({calls_clean} calls), {len(failed)} failed: {failed}, "
        f"{len(slow)} timed out with the kernel answering: {slow}"
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
