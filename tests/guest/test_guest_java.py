"""The guest Java corpus (tests/guest/java/): each program runs on the host JVM (the oracle, where
it must pass: that proves the test itself right) and in the guest under `lwjvm run`, where its
stdout and exit code must equal the host's. On OpenJDK 17 always, and on Temurin 25 where it is
installed. Every guest run happens on 1 and on 2 virtual CPUs: a program's image is built once
and booted with each (a failure names the CPU counts that differ); the tests that start `lwjvm
run` themselves (signals, the stop timeout) have one test id per CPU count. LWJVM_GUEST_CPUS=4
runs them all on 4 CPUs instead, as `make soak` does.

Which programs the kernel is expected to run today is listed in one place,
tests/guest/java/GUEST_READY; the others are skipped in the guest with "kernel support pending".
LWJVM_GUEST_ALL=1 runs them all in the guest anyway (for kernel work).

To keep the suite within its time budget (each guest run is a TCG boot of a JVM), Temurin 25 runs
the smoke subset JDK25_SMOKE in the guest; LWJVM_JAVA_FULL=1 runs the whole corpus on it too. A
program that runs in the guest is checked on the host inside that test (the oracle must pass
first), so it has no separate host-only test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from guest_harness import GUEST_CPU_COUNTS

from lwjvm.errors import EXIT_STOP_TIMEOUT
from lwjvm.jdk import Jdk, open_jdk
from lwjvm.testing import (
    JavaRun,
    assert_same_runs,
    guest_unavailable,
    lwjvm_command,
    run_java,
    write_manifest,
)

JAVA_DIR = Path(__file__).resolve().parent / "java"
GUEST_READY_FILE = JAVA_DIR / "GUEST_READY"
RUN_ALL_IN_GUEST = os.environ.get("LWJVM_GUEST_ALL") == "1"
FULL_JDK25 = os.environ.get("LWJVM_JAVA_FULL") == "1"
# The Temurin 25 runs in the guest by default: start-up, GC, JIT, threads, exceptions, signals.
JDK25_SMOKE = {
    "Hello", "version", "GcPressure:g1", "Jit:c2", "ManyThreads", "NullChecks", "Uncaught",
    "signal:SIGTERM",
}  # fmt: skip
SMOKE_REASON = "Temurin 25 runs a smoke subset in the guest (LWJVM_JAVA_FULL=1 runs all)"
PENDING_REASON = "kernel support pending (issue 6)"
JDKS = {
    "17": Path("/usr/lib/jvm/java-17-openjdk-amd64"),
    "25": Path("/usr/lib/jvm/temurin-25-jdk-amd64"),
}
# One module set for the corpus, so every program of a JDK shares one jlinked runtime; Hello
# alone lets jdeps choose, as a user's app would.
MODULES = ("java.base", "java.management", "jdk.unsupported")
SIGNAL_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class JavaCase:
    """One run of one corpus program: the same on the host and in the guest."""

    program: str
    args: tuple[str, ...] = ()
    options: tuple[str, ...] = ()
    exit_code: int = 0
    name: str = ""
    stderr_has: tuple[str, ...] = ()
    auto_modules: bool = False

    @property
    def id(self) -> str:
        return f"{self.program}:{self.name}" if self.name else self.program


CASES = [
    JavaCase("Hello", args=("one", "two words"), auto_modules=True),
    JavaCase("NullChecks"),
    JavaCase("Safepoints"),
    JavaCase("StackOverflow"),
    *[
        JavaCase("GcPressure", options=(f"-XX:+Use{gc}GC", "-Xmx64m"), name=gc.lower())
        for gc in ("Serial", "Parallel", "G1")
    ],
    JavaCase("ManyThreads"),
    *[
        JavaCase("ExitCode", args=(str(code),), exit_code=code, name=f"exit{code}")
        for code in (0, 1, 42)
    ],
    JavaCase(
        "Uncaught",
        exit_code=1,
        stderr_has=(
            'Exception in thread "main" java.lang.IllegalStateException: boom',
            "\tat Uncaught.main(Uncaught.java:12)",
        ),
    ),
    JavaCase("ShutdownHook"),
    JavaCase("SleepAccuracy"),
    JavaCase("TmpFiles"),
    JavaCase("ZipRoundTrip"),
    JavaCase("SecureRandomTest"),
    JavaCase("TimeZones"),
    JavaCase("Jit", options=("-XX:TieredStopAtLevel=1",), name="c1"),
    JavaCase("Jit", options=("-XX:-TieredCompilation",), name="c2"),
    JavaCase("CdsMapped"),
    JavaCase("SelectorPipe"),
    JavaCase("NetSockets"),
    JavaCase("NioServer"),
    JavaCase("UnixChannels"),
]
# Tests that are not a plain program run; their names in GUEST_READY are these.
SPECIAL = ("version", "signal:SIGTERM", "signal:SIGINT", "stop-timeout", "crash", "inline")
HS_ERR_MARK = "A fatal error has been detected by the Java Runtime Environment"


def read_guest_ready() -> set[str]:
    """Names expected to pass in the guest: a case id, or `JDK/id` for one JDK only."""
    names = set()
    for line in GUEST_READY_FILE.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            names.add(line)
    return names


GUEST_READY = read_guest_ready()


def guest_ready(jdk: str, test_id: str) -> bool:
    program = test_id.split(":")[0]
    names = {test_id, program, f"{jdk}/{test_id}", f"{jdk}/{program}"}
    return RUN_ALL_IN_GUEST or bool(names & GUEST_READY)


def guest_skip_reason(jdk: str, test_id: str) -> str | None:
    """Why the guest run of `test_id` on `jdk` is skipped, or None if it runs."""
    if not JDKS[jdk].is_dir():
        return f"{JDKS[jdk]} not installed"
    if not guest_ready(jdk, test_id):
        return PENDING_REASON
    if jdk == "25" and not (FULL_JDK25 or RUN_ALL_IN_GUEST) and test_id not in JDK25_SMOKE:
        return SMOKE_REASON
    return None


def _jdk_param(version: str) -> Any:
    home = JDKS[version]
    mark = () if home.is_dir() else pytest.mark.skip(reason=f"{home} not installed")
    return pytest.param(version, id=f"jdk{version}", marks=mark)


JDK_PARAMS = [_jdk_param(v) for v in JDKS]


@pytest.fixture(scope="module")
def jdks() -> dict[str, Jdk]:
    return {v: open_jdk(home, str(home)) for v, home in JDKS.items() if home.is_dir()}


@pytest.fixture(scope="module")
def corpus_jar(java_program: Any) -> Any:
    """`corpus_jar(program) -> jar` of tests/guest/java/PROGRAM.java, compiled once per module."""
    jars: dict[str, Path] = {}

    def get(program: str) -> Path:
        if program not in jars:
            source = (JAVA_DIR / f"{program}.java").read_text(encoding="utf-8")
            jars[program] = java_program(program, {f"{program}.java": source}, program)
        return jars[program]

    return get


def _check_host(case: JavaCase, run: JavaRun) -> None:
    text = f"stdout:\n{run.stdout}\nstderr:\n{run.stderr}"
    assert run.exit_code == case.exit_code, text
    assert "FAIL" not in run.stdout, text
    for want in case.stderr_has:
        assert want in run.stderr, text


def _host_params() -> list[Any]:
    """The (case, JDK) pairs not run in the guest: they are checked on the host alone."""
    return [
        pytest.param(case, v, id=f"{case.id}-jdk{v}")
        for case in CASES
        for v in JDKS
        if JDKS[v].is_dir() and guest_skip_reason(v, case.id) is not None
    ]


@pytest.mark.parametrize(("case", "jdk"), _host_params())
def test_java_program_passes_on_host(
    case: JavaCase, jdk: str, jdks: dict[str, Jdk], corpus_jar: Any
) -> None:
    jar = corpus_jar(case.program)
    _check_host(case, run_java(jdks[jdk], [jar], case.program, case.args, case.options))


def _guest_params() -> list[Any]:
    out = []
    for case in CASES:
        for v in JDKS:
            reason = guest_skip_reason(v, case.id)
            marks = [pytest.mark.skip(reason=reason)] if reason else []
            out.append(pytest.param(case, v, id=f"{case.id}-jdk{v}", marks=marks))
    return out


@pytest.mark.parametrize(("case", "jdk"), _guest_params())
def test_java_guest_output_matches_host(
    case: JavaCase, jdk: str, jdks: dict[str, Jdk], corpus_jar: Any, guest_java_on: Any
) -> None:
    jar = corpus_jar(case.program)
    host = run_java(jdks[jdk], [jar], case.program, case.args, case.options)
    _check_host(case, host)
    modules = None if case.auto_modules else MODULES
    guests = guest_java_on(
        GUEST_CPU_COUNTS, jar, case.program, case.args, jdks[jdk], case.options, modules
    )
    assert_same_runs(host, guests)
    for cpus, guest in guests.items():
        for want in case.stderr_has:
            assert want in guest.stderr, f"on {cpus} CPUs:\n{guest.stderr}"


def _skip_unless_ready(jdk: str, name: str) -> None:
    reason = guest_skip_reason(jdk, name)
    if reason is not None:
        pytest.skip(reason)
    reason = guest_unavailable()
    if reason is not None:
        pytest.skip(f"no guest: {reason}")


def _version_line(stderr: str) -> str:
    lines = [ln for ln in stderr.splitlines() if ln and not ln.startswith("lwjvm:")]
    return lines[0] if lines else ""


@pytest.mark.parametrize("jdk", JDK_PARAMS)
def test_java_version_in_guest_matches_host(
    jdk: str, jdks: dict[str, Jdk], corpus_jar: Any, guest_java_on: Any
) -> None:
    _skip_unless_ready(jdk, "version")
    host = subprocess.run(
        [str(jdks[jdk].java), "-version"], capture_output=True, text=True, timeout=60
    )
    jar = corpus_jar("Hello")
    guests = guest_java_on(
        GUEST_CPU_COUNTS, jar, "Hello", (), jdks[jdk], ("-version",), MODULES, cds=False
    )
    for cpus, guest in guests.items():
        assert guest.exit_code == 0, f"on {cpus} CPUs:\n{guest.stderr}"
        assert _version_line(guest.stderr) == _version_line(host.stderr), f"on {cpus} CPUs"


class _Lines:
    """Reads a child's stdout on a thread; `wait_for(text)` blocks until a line holds it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        self.lines: list[str] = []
        self.cond = threading.Condition()
        assert proc.stdout is not None
        self.stream = proc.stdout
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        for raw in self.stream:
            with self.cond:
                self.lines.append(raw.decode(errors="replace").rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, text: str, timeout: float) -> bool:
        end = time.monotonic() + timeout
        with self.cond:
            while not any(text in ln for ln in self.lines):
                left = end - time.monotonic()
                if left <= 0:
                    return False
                self.cond.wait(left)
        return True

    def text(self) -> str:
        self.thread.join(timeout=30)
        return "\n".join(self.lines) + "\n"


def _signalled(cmd: list[str], signum: int, timeout: float) -> tuple[int, str, str]:
    """Starts `cmd`, waits for its "ready" line, sends it `signum`; (exit code, stdout, stderr)."""
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    lines = _Lines(proc)
    try:
        ready = lines.wait_for("ready", timeout)
        if ready:
            proc.send_signal(signum)
        proc.wait(timeout=timeout)  # stdout belongs to the reader thread: no communicate()
        assert proc.stderr is not None
        err = proc.stderr.read()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert ready, f"no 'ready' line within {timeout:g} s: {lines.text()}"
    code = proc.returncode if proc.returncode >= 0 else 128 - proc.returncode
    return code, lines.text(), err.decode(errors="replace")


CPU_PARAMS = [pytest.param(n, id=f"{n}cpu") for n in GUEST_CPU_COUNTS]


@pytest.mark.parametrize("cpus", CPU_PARAMS)
@pytest.mark.parametrize("jdk", JDK_PARAMS)
@pytest.mark.parametrize("signame", ["SIGTERM", "SIGINT"])
def test_signal_to_lwjvm_run_runs_shutdown_hooks(
    signame: str, jdk: str, cpus: int, jdks: dict[str, Jdk], corpus_jar: Any, tmp_path: Path
) -> None:
    """SIGTERM/SIGINT to `lwjvm run` reach the JVM: hooks run, exit 143/130 as on the host."""
    _skip_unless_ready(jdk, f"signal:{signame}")
    signum = int(signal.Signals[signame])
    jar = corpus_jar("ShutdownHook")
    host = _signalled([str(jdks[jdk].java), "-cp", str(jar), "ShutdownHook", "wait"], signum, 60)
    assert host[:2] == (128 + signum, "ready\nhook ran\n"), host
    manifest = write_manifest(
        tmp_path, "hook", jar, "ShutdownHook", ["wait"], jdks[jdk].home, (), MODULES, cds=False
    )
    cmd = [*lwjvm_command(), "run", "-q", "--accel", "tcg", "--cpus", str(cpus)]
    cmd += ["-o", str(tmp_path / "image")]
    guest = _signalled([*cmd, str(manifest)], signum, SIGNAL_TIMEOUT_S)
    assert guest[:2] == host[:2], guest


@pytest.mark.parametrize("cpus", CPU_PARAMS)
@pytest.mark.parametrize("jdk", JDK_PARAMS)
def test_an_app_that_ignores_sigterm_is_killed_after_the_stop_timeout(
    jdk: str, cpus: int, jdks: dict[str, Jdk], corpus_jar: Any, tmp_path: Path
) -> None:
    _skip_unless_ready(jdk, "stop-timeout")
    jar = corpus_jar("IgnoreTerm")
    manifest = write_manifest(
        tmp_path, "ignore", jar, "IgnoreTerm", (), jdks[jdk].home, (), MODULES, cds=False
    )
    cmd = [*lwjvm_command(), "run", "-q", "--accel", "tcg", "--stop-timeout", "3"]
    cmd += ["--cpus", str(cpus)]
    cmd += ["-o", str(tmp_path / "image"), str(manifest)]
    code, out, err = _signalled(cmd, signal.SIGTERM, SIGNAL_TIMEOUT_S)
    assert code == EXIT_STOP_TIMEOUT, (out, err)
    assert out == "ready\nignored SIGTERM\n"
    assert "lwjvm: the app did not stop within 3 s of the signal; the VM was killed" in err


@pytest.mark.parametrize("jdk", JDK_PARAMS)
def test_a_jvm_crash_is_reported_with_its_hs_err(
    jdk: str, jdks: dict[str, Jdk], corpus_jar: Any, guest_java_on: Any
) -> None:
    """A crashing JVM (Unsafe store to address 0): exit 134 as on the host, the hs_err report on
    the console (-XX:+ErrorFileToStderr), and lwjvm's cause line."""
    jar = corpus_jar("Crash")
    flags = ("-XX:+ErrorFileToStderr",)
    host = run_java(jdks[jdk], [jar], "Crash", (), flags)
    assert host.exit_code == 134 and HS_ERR_MARK in host.stderr, host
    _skip_unless_ready(jdk, "crash")
    guests = guest_java_on(GUEST_CPU_COUNTS, jar, "Crash", (), jdks[jdk], (), MODULES, cds=False)
    for cpus, guest in guests.items():
        on = f"on {cpus} CPUs: "
        assert guest.exit_code == 134, on + guest.stderr[-3000:]
        assert guest.stdout.startswith("crashing\n"), on + guest.stdout
        assert HS_ERR_MARK in guest.stderr + guest.stdout, on + guest.stderr[-3000:]
        assert guest.stderr.rstrip().endswith("lwjvm: the JVM crashed (hs_err above)"), (
            on + guest.stderr[-3000:]
        )


PROPERTIES_SOURCE = """
public class Props {
    public static void main(String[] args) {
        for (String k : new String[] {"os.name", "os.arch", "file.encoding", "sun.jnu.encoding",
                "java.specification.version", "line.separator", "file.separator"}) {
            System.out.println(k + "=" + System.getProperty(k).replace("\\n", "\\\\n"));
        }
        System.out.println("caf\u00e9 \u2713");
        System.exit(args.length);
    }
}
"""


def test_inline_sources_run_the_same_in_guest_and_host(
    java_program: Any, java_jdk: Jdk, guest_java_on: Any
) -> None:
    """The harness end to end from Java source text: system properties the JVM derives from the
    kernel and the locale, UTF-8 output, and an exit code from the arguments."""
    _skip_unless_ready("17", "inline")
    jar = java_program("props", {"Props.java": PROPERTIES_SOURCE}, "Props")
    host = run_java(java_jdk, [jar], "Props", ("a", "b"))
    assert host.exit_code == 2 and "os.name=Linux" in host.stdout, host
    guests = guest_java_on(GUEST_CPU_COUNTS, jar, "Props", ("a", "b"), modules=MODULES)
    assert_same_runs(host, guests)


def test_guest_ready_names_only_known_cases() -> None:
    known = {c.id for c in CASES} | {c.program for c in CASES} | set(SPECIAL)
    unknown = {n.split("/", 1)[-1] for n in GUEST_READY} - known
    assert unknown == set(), "unknown names in tests/guest/java/GUEST_READY"


def test_every_corpus_program_has_a_case() -> None:
    programs = {p.stem for p in JAVA_DIR.glob("*.java")}
    covered = {c.program for c in CASES} | {"IgnoreTerm", "Crash"}
    assert programs == covered
