"""Running guest test programs: building the C corpus, and running a program on the host (the
oracle) and in the guest through `lwjvm exec`.

A run is described by a `Case` (program, arguments, environment, data files). `run_on_host` and
`GuestRunner.run` take the same case and give an `Outcome` (exit code, stdout, stderr), so a test
only compares the two.
"""

from __future__ import annotations

import difflib
import fcntl
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
C_DIR = REPO / "tests" / "guest" / "c"
BUILD_DIR = REPO / "tests" / "build" / "guest-c"
GUEST_READY_FILE = C_DIR / "GUEST_READY"
# Where `lwjvm exec --add` puts a case's data files inside the image.
GUEST_DATA_DIR = "/data"
HOST_TIMEOUT_S = 60
# A TCG boot takes about a second; the rest is headroom for a loaded machine under `-n auto`.
# `lwjvm exec --timeout` stops a hung guest (exit 124); the subprocess timeout is the backstop.
GUEST_TIMEOUT_S = 60
# LWJVM_GUEST_ALL=1 runs every program in the guest, GUEST_READY or not (for kernel work).
RUN_ALL_IN_GUEST = os.environ.get("LWJVM_GUEST_ALL") == "1"


def sigkill_env(scratch: Path, env: dict[str, str] | None = None) -> dict[str, str]:
    """The environment for an lwjvm a test kills with SIGKILL (`env`, else this process's): its
    temporary directory, with the image it built, goes in `scratch`, which pytest removes, since
    a killed lwjvm cannot remove it."""
    return {**(os.environ if env is None else env), "TMPDIR": str(scratch)}


def guest_cpu_counts(text: str) -> tuple[int, ...]:
    """The CPU counts of `LWJVM_GUEST_CPUS` ("1,2"): each corpus program boots once per count."""
    try:
        counts = tuple(int(word) for word in text.split(","))
    except ValueError:
        counts = ()
    if not counts or min(counts) < 1:
        raise pytest.UsageError(f"LWJVM_GUEST_CPUS={text!r}: CPU counts such as 1,2 or 4")
    return counts


# LWJVM_GUEST_CPUS=N[,M...]: the corpora boot each program once with each of these numbers of
# virtual CPUs. CI runs them at 1 and 2; make soak at 4.
GUEST_CPU_COUNTS = guest_cpu_counts(os.environ.get("LWJVM_GUEST_CPUS", "1,2"))
PENDING_REASON = "kernel support pending (issue 4)"


@dataclass(frozen=True)
class Case:
    """One run of one program: the same on the host and in the guest.

    `args` may contain `{data:NAME}`, replaced by the path of data file NAME (a key of `files`) on
    the side that runs, and `{host_time}`, replaced by the host's time when the run starts. `env`
    is the whole environment of the program. `files` maps a file name to a function returning its
    bytes. `exit_code` is what the host run must exit with. `kernel_args` are words added to the
    guest kernel's command line (the host run ignores them).
    """

    program: str
    args: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = ()
    files: dict[str, Callable[[], bytes]] = field(default_factory=dict, hash=False)
    exit_code: int = 0
    name: str = ""
    kernel_args: tuple[str, ...] = ()
    timeout_s: int = GUEST_TIMEOUT_S  # the guest run's limit (a long soak-like case sets more)

    @property
    def id(self) -> str:
        """The test id: the program, and the case name when one program has several cases."""
        return f"{self.program}:{self.name}" if self.name else self.program


@dataclass(frozen=True)
class Outcome:
    """What a run produced; `exit_code` is 128+S for a program killed by signal S."""

    exit_code: int
    stdout: bytes
    stderr: bytes


def read_guest_ready() -> set[str]:
    """The programs (or single cases, as `program:case`) expected to pass in the guest today.

    GUEST_READY holds one name a line; `#` starts a comment.
    """
    names = set()
    for line in GUEST_READY_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """Holds an exclusive lock on `path` (xdist workers build and probe one at a time)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def build_corpus() -> Path:
    """Builds the C corpus (make's mtime checks make this cheap when nothing changed)."""
    with _locked(BUILD_DIR.parent / ".guest-c.lock"):
        r = subprocess.run(
            ["make", "-s", "-C", str(C_DIR), f"OUT={BUILD_DIR}"],
            capture_output=True,
            text=True,
        )
    if r.returncode != 0:
        pytest.fail(f"building tests/guest/c failed:\n{r.stdout}{r.stderr}", pytrace=False)
    return BUILD_DIR


def corpus_programs() -> list[str]:
    """The program names the Makefile builds."""
    r = subprocess.run(
        ["make", "-s", "-C", str(C_DIR), "list"], capture_output=True, text=True, check=True
    )
    return r.stdout.split()


def _write_files(case: Case, directory: Path) -> dict[str, Path]:
    """Writes the case's data files into `directory`; returns name -> host path."""
    paths = {}
    for name, make in case.files.items():
        p = directory / name
        p.write_bytes(make())
        paths[name] = p
    return paths


def _substitute(args: tuple[str, ...], paths: dict[str, str]) -> list[str]:
    """Fills in `{data:NAME}` (the path of data file NAME on this side) and `{host_time}` (the
    host's clock, in whole seconds since the epoch, when the run starts)."""
    now = str(int(time.time()))
    out = []
    for a in args:
        for name, p in paths.items():
            a = a.replace("{data:" + name + "}", p)
        out.append(a.replace("{host_time}", now))
    return out


def _exit_code(returncode: int) -> int:
    """subprocess's -S for a signal death becomes 128+S, the guest's convention."""
    return 128 - returncode if returncode < 0 else returncode


def run_on_host(case: Case, corpus: Path, workdir: Path) -> Outcome:
    """Runs the case on the host, in `workdir`, with exactly the case's environment."""
    paths = _write_files(case, workdir)
    args = _substitute(case.args, {name: str(p) for name, p in paths.items()})
    argv = [str(corpus / case.program), *args]
    r = subprocess.run(
        argv, cwd=workdir, env=dict(case.env), capture_output=True, timeout=HOST_TIMEOUT_S
    )
    return Outcome(_exit_code(r.returncode), r.stdout, r.stderr)


def _find_lwjvm() -> list[str] | None:
    """The command that runs lwjvm: the repo's .venv, then PATH, then `python -m lwjvm`."""
    venv = REPO / ".venv" / "bin" / "lwjvm"
    if venv.exists():
        return [str(venv)]
    on_path = shutil.which("lwjvm")
    if on_path:
        return [on_path]
    if (REPO / "lwjvm" / "__main__.py").exists():
        return [sys.executable, "-m", "lwjvm"]
    return None


class GuestRunner:
    """Runs cases in the guest with `lwjvm exec --accel tcg`, on `cpus` virtual CPUs."""

    def __init__(self, command: list[str], cpus: int = 1) -> None:
        self.command = command
        self.cpus = cpus

    def run(self, case: Case, corpus: Path, workdir: Path, cpus: int | None = None) -> Outcome:
        """Boots the guest on the case (its data files written into `workdir`) and waits for it;
        `cpus` overrides the runner's number of CPUs."""
        paths = _write_files(case, workdir)
        cpus = cpus or self.cpus
        argv = [*self.command, "exec", "--accel", "tcg", "--timeout", str(case.timeout_s)]
        if cpus != 1:
            argv += ["--cpus", str(cpus)]
        for name, p in paths.items():
            argv += ["--add", f"{p}:{GUEST_DATA_DIR}/{name}"]
        for k, v in case.env:
            argv += ["--env", f"{k}={v}"]
        for word in case.kernel_args:
            argv += ["--kernel-arg", word]
        guest_paths = {name: f"{GUEST_DATA_DIR}/{name}" for name in paths}
        argv += ["--", str(corpus / case.program), *_substitute(case.args, guest_paths)]
        backstop = case.timeout_s + 60
        try:
            r = subprocess.run(argv, cwd=workdir, capture_output=True, timeout=backstop)
        except subprocess.TimeoutExpired as e:
            pytest.fail(
                f"lwjvm exec did not return within {backstop} s: {' '.join(argv)}\n"
                f"stdout so far:\n{(e.stdout or b'').decode(errors='replace')}\n"
                f"stderr so far:\n{(e.stderr or b'').decode(errors='replace')}",
                pytrace=False,
            )
        return Outcome(r.returncode, r.stdout, r.stderr)


def probe_guest() -> GuestRunner | str:
    """A GuestRunner, or the reason the guest cannot run yet."""
    command = _find_lwjvm()
    if command is None:
        return "lwjvm is not installed (run `make setup`)"
    r = subprocess.run([*command, "exec", "--help"], capture_output=True, text=True, timeout=60)
    if r.returncode != 0:
        return "`lwjvm exec` is not available yet"
    kernel = REPO / "kernel" / "build" / "kernel.elf"
    if not kernel.exists():
        if not (REPO / "kernel" / "Makefile").exists():
            return "the kernel is not there yet (no kernel/Makefile)"
        with _locked(REPO / "tests" / "build" / ".kernel.lock"):
            if not kernel.exists():
                b = subprocess.run(
                    ["make", "-C", str(REPO / "kernel")], capture_output=True, text=True
                )
                if b.returncode != 0:
                    pytest.fail(f"make -C kernel failed:\n{b.stdout}{b.stderr}", pytrace=False)
    return GuestRunner(command)


def describe_mismatch(case: Case, host: Outcome, guest: Outcome, cpus: int = 1) -> str:
    """A readable account of how the guest run (on `cpus` CPUs) differs from the host run."""
    on = f" on {cpus} CPUs" if cpus != 1 else ""
    lines = [f"{case.id}: guest{on} differs from host"]
    if host.exit_code != guest.exit_code:
        lines.append(f"exit code: host {host.exit_code}, guest {guest.exit_code}")
    if host.stdout != guest.stdout:
        diff = difflib.unified_diff(
            host.stdout.decode(errors="replace").splitlines(),
            guest.stdout.decode(errors="replace").splitlines(),
            "host stdout",
            "guest stdout",
            lineterm="",
        )
        lines.extend(diff)
    tail = guest.stderr.decode(errors="replace").splitlines()[-40:]
    if tail:
        lines.append("guest stderr (last 40 lines):")
        lines.extend(tail)
    return "\n".join(lines)
