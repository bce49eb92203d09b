"""pytest plugin (entry point `pytest11`): Java test programs compiled, run on the host JVM (the
oracle) and in the guest (`lwjvm run`), and compared.

Fixtures:
- `java_jdk`: the JDK the tests use: $LWJVM_TEST_JDK, else what `lwjvm build` would find.
- `javac`: compiles Java sources in-process with `javax.tools` through JPype (this process's one
  JVM is started from `java_jdk`); compile errors fail with javac's diagnostics.
- `make_jar`: packages a class directory into a jar (the `jar` tool in-process, fixed entry dates).
- `java_program`: sources -> classes -> jar in one call.
- `run_java`: runs a main class on the host JVM as the oracle: stdout, stderr and exit code.
- `guest_java`: runs a main class in the guest: an app.yaml for the jar, then `lwjvm run` (which
  builds the image; runtimes, jdeps results and CDS archives come from lwjvm's caches, so only
  the first build of a JDK and module set links a runtime). Skips when there is no kernel or QEMU.
- `java_guest_and_host`: sources -> jar -> (host run, guest run), for `assert_same_run`.
- `guest_jmx`: the remote half: `lwjvm deploy --jmx` of an app, this process's JVM (JPype)
  connected to the guest JVM's MBean server (`JmxSession`: threads, heap, GC); the app is
  stopped and removed afterwards.

Guest runs are independent of each other: each has its own directory, manifest and image, and
lwjvm's caches are safe to share between processes, so tests may run under pytest-xdist.

Why the run is in a child process: System.exit must end the program, not pytest, and the JVM
cannot intercept it (the Security Manager that could is disabled for good since JDK 24, JEP 486,
and deprecated in 17); a program's static state and threads would also outlive it in a shared
JVM. So `run_java` starts `python -m lwjvm.testing`, which starts its own JVM through JPype with
the program's class path and calls `main` the way the `java` launcher does: an uncaught exception
goes to the thread's handler ("Exception in thread "main" ...") and exits 1; after `main` returns
the JVM waits for non-daemon threads, then exits 0; System.exit(n) exits n.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from lwjvm import qemu
from lwjvm.errors import LwjvmError
from lwjvm.jdk import Jdk, find_jdk, open_jdk
from lwjvm.jvmtools import JavaTools, start_jvm

JAR_DATE = "1980-01-01T00:00:02Z"  # fixed entry times so a jar's bytes depend on its content


def find_test_jdk() -> Jdk:
    """The JDK for Java test programs: $LWJVM_TEST_JDK, else JAVA_HOME / java on PATH."""
    home = os.environ.get("LWJVM_TEST_JDK")
    if home:
        return open_jdk(Path(home), f"LWJVM_TEST_JDK={home}")
    return find_jdk()


class CompileError(AssertionError):
    """javac rejected the sources; the message holds its diagnostics."""


@dataclass(frozen=True)
class JavaRun:
    """What a Java program did: its exit code and its output as text."""

    exit_code: int
    stdout: str
    stderr: str


class Javac:
    """javax.tools.JavaCompiler of this process's JVM."""

    def __init__(self, jdk: Jdk) -> None:
        reason = start_jvm(jdk)
        if reason is not None:
            raise LwjvmError(f"cannot compile in-process: {reason}")
        self.jdk = jdk

    def compile(
        self,
        sources: dict[str, str] | Sequence[Path],
        out_dir: Path,
        classpath: Sequence[Path] = (),
        release: int = 17,
        src_dir: Path | None = None,
    ) -> Path:
        """Compile `sources` (file name -> text, or source files) into `out_dir`; returns it.

        Text sources are written under `src_dir` (default: `out_dir`/../src) first, so
        diagnostics name real files.
        """
        import jpype

        if isinstance(sources, dict):
            src_root = src_dir or out_dir.parent / f"{out_dir.name}-src"
            files = []
            for name, text in sources.items():
                path = src_root / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(text, encoding="utf-8")
                files.append(path)
        else:
            files = [Path(p) for p in sources]
        out_dir.mkdir(parents=True, exist_ok=True)
        tool_provider = jpype.JClass("javax.tools.ToolProvider")
        collector_cls = jpype.JClass("javax.tools.DiagnosticCollector")
        charset = jpype.JClass("java.nio.charset.StandardCharsets").UTF_8
        compiler = tool_provider.getSystemJavaCompiler()
        if compiler is None:
            raise LwjvmError(f"{self.jdk.home} has no system Java compiler (a JRE?)")
        collector = collector_cls()
        manager = compiler.getStandardFileManager(collector, None, charset)
        try:
            units = manager.getJavaFileObjects(*[str(f) for f in files])
            options = ["--release", str(release), "-d", str(out_dir), "-encoding", "UTF-8"]
            options += ["-implicit:class", "-Xlint:-options"]
            if classpath:
                options += ["-cp", os.pathsep.join(str(p) for p in classpath)]
            joptions = jpype.JClass("java.util.ArrayList")()
            for option in options:
                joptions.add(jpype.JString(option))
            ok = compiler.getTask(None, manager, collector, joptions, None, units).call()
        finally:
            manager.close()
        if not ok:
            diags = [str(d.toString()) for d in collector.getDiagnostics()]
            raise CompileError("javac failed:\n" + "\n".join(diags))
        return out_dir


def build_jar(
    tools: JavaTools,
    classes: Path,
    jar: Path,
    main_class: str | None = None,
    resources: Path | None = None,
) -> Path:
    """Package `classes` (and `resources`) into `jar` with the jar tool; returns `jar`."""
    jar.parent.mkdir(parents=True, exist_ok=True)
    jar.unlink(missing_ok=True)
    args = ["--create", "--file", str(jar), f"--date={JAR_DATE}", "--no-manifest"]
    if main_class:
        args = ["--create", "--file", str(jar), f"--date={JAR_DATE}", "--main-class", main_class]
    args += ["-C", str(classes), "."]
    if resources:
        args += ["-C", str(resources), "."]
    tools.check("jar", args, f"packaging {jar.name}")
    return jar


def run_java(
    jdk: Jdk,
    classpath: Sequence[Path],
    main: str,
    args: Sequence[str] = (),
    jvm_options: Sequence[str] = (),
    timeout: float = 60.0,
    cwd: Path | None = None,
    env: dict[str, str] | None = None,
) -> JavaRun:
    """Run `main` with `args` on the host JVM of `jdk` (a child process); its exit and output."""
    cmd = [
        sys.executable, "-m", "lwjvm.testing", str(jdk.home),
        os.pathsep.join(str(p) for p in classpath), str(len(jvm_options)), *jvm_options,
        main, *args,
    ]  # fmt: skip
    child_env = dict(os.environ if env is None else env)
    # The child imports lwjvm from wherever this process did.
    package_root = str(Path(__file__).resolve().parent.parent)
    child_env["PYTHONPATH"] = os.pathsep.join(
        p for p in (package_root, child_env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, cwd=cwd, env=child_env)
    # A death by signal S counts as 128+S, as a shell (and the guest's exit record) report it.
    return JavaRun(
        proc.returncode if proc.returncode >= 0 else 128 - proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def _child(argv: list[str]) -> int:
    """`python -m lwjvm.testing JAVA_HOME CLASSPATH N OPT... MAIN ARG...`: run MAIN like java."""
    import jpype

    home, classpath, n = Path(argv[0]), argv[1], int(argv[2])
    options, main, args = argv[3 : 3 + n], argv[3 + n], argv[4 + n :]
    libjvm = home / "lib" / "server" / "libjvm.so"
    extra = ["-Xshare:auto"]
    if open_jdk(home, "JAVA_HOME").feature >= 22:
        extra.append("--enable-native-access=ALL-UNNAMED")
    jpype.startJVM(
        str(libjvm),
        *extra,
        *options,
        classpath=[p for p in classpath.split(os.pathsep) if p],
        convertStrings=False,
    )
    thread_cls = jpype.JClass("java.lang.Thread")
    system = jpype.JClass("java.lang.System")
    try:
        main_cls = jpype.JClass(main)
    except (TypeError, jpype.JException):
        system.err.println(f"Error: Could not find or load main class {main}")
        system.err.flush()
        os._exit(1)
    try:
        main_cls.main(jpype.JArray(jpype.JString)(list(args)))
    except jpype.JException as ex:
        thread = thread_cls.currentThread()
        thread.getUncaughtExceptionHandler().uncaughtException(thread, ex)
        # The launcher then still waits for non-daemon threads and runs the shutdown hooks.
        jpype.shutdownJVM()
        sys.stdout.flush()
        os._exit(1)
    system.out.flush()
    system.err.flush()
    # Like the launcher's DestroyJavaVM: wait for non-daemon threads, run shutdown hooks.
    jpype.shutdownJVM()
    sys.stdout.flush()
    os._exit(0)


GUEST_TIMEOUT_S = 300.0  # a TCG boot of a JVM on a loaded 2-CPU machine, with lots of headroom


def lwjvm_command() -> list[str]:
    """The command that runs the lwjvm CLI of this very package (a new Python process)."""
    return [sys.executable, "-c", "from lwjvm.cli import main; main()"]


def write_manifest(
    directory: Path,
    name: str,
    jar: Path,
    main: str | None = None,
    args: Sequence[str] = (),
    jdk_home: Path | None = None,
    jvm_options: Sequence[str] = (),
    modules: Sequence[str] | None = None,
    cds: bool = True,
    memory: str | None = None,
) -> Path:
    """Writes `directory`/app.yaml for `jar`; returns its path. JSON is YAML, so it is JSON.

    The jar is copied into `directory` first (a manifest's files are inside its directory unless
    lwjvm is given --allow-outside); the image holds it under the same name.
    """
    import json
    import shutil

    directory.mkdir(parents=True, exist_ok=True)
    local = directory / jar.name
    if local.resolve() != jar.resolve():
        shutil.copyfile(jar, local)
    app: dict[str, Any] = {"jar": jar.name}
    if main:
        app["main"] = main
    if args:
        app["args"] = list(args)
    jvm: dict[str, Any] = {"cds": cds}
    if jdk_home is not None:
        jvm["home"] = str(jdk_home)
    if jvm_options:
        jvm["options"] = list(jvm_options)
    if modules is not None:
        jvm["modules"] = list(modules)
    doc: dict[str, Any] = {"name": name, "app": app, "jvm": jvm}
    if memory:
        doc["vm"] = {"memory": memory}
    path = directory / "app.yaml"
    path.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    return path


def guest_unavailable() -> str | None:
    """None if guest runs are possible here, else why not (no kernel, no QEMU)."""
    import shutil

    from lwjvm import vm

    try:
        vm.find_kernel()
    except LwjvmError as e:
        return str(e)
    if shutil.which(qemu.QEMU) is None:
        return f"{qemu.QEMU} not installed"
    return None


def run_in_guest(
    manifest: Path,
    out_dir: Path,
    run_options: Sequence[str] = (),
    timeout: float = GUEST_TIMEOUT_S,
    keep_image: bool = False,
    cpus: int | None = None,
) -> JavaRun:
    """`lwjvm run` of `manifest` with its image in `out_dir`, under TCG; the app's run.

    TCG because it is the same everywhere (KVM here may be unusable, see lwjvm/accel.py). The
    stderr holds the guest's stderr and lwjvm's own lines (a cause line on failure). The image
    (tens of MiB) is deleted afterwards unless `keep_image` (a second run of the same manifest
    and `out_dir` then boots it again without building). `cpus` boots that many CPUs instead of
    the manifest's `vm.cpus`.
    """
    cmd = [
        *lwjvm_command(), "run", "-q", "--accel", "tcg", "--timeout", f"{timeout:g}",
        "-o", str(out_dir), *(["--cpus", str(cpus)] if cpus else []), *run_options, str(manifest),
    ]  # fmt: skip
    try:
        proc = subprocess.run(cmd, capture_output=True, timeout=timeout + 120)
    finally:
        if not keep_image:
            (out_dir / "root.img").unlink(missing_ok=True)
    return JavaRun(
        proc.returncode,
        proc.stdout.decode("utf-8", "replace"),
        proc.stderr.decode("utf-8", "replace"),
    )


def describe_difference(host: JavaRun, guest: JavaRun) -> str:
    """A readable account of how the guest run differs from the host run."""
    import difflib

    lines = ["guest differs from host"]
    if host.exit_code != guest.exit_code:
        lines.append(f"exit code: host {host.exit_code}, guest {guest.exit_code}")
    if host.stdout != guest.stdout:
        lines += difflib.unified_diff(
            host.stdout.splitlines(), guest.stdout.splitlines(), "host", "guest", lineterm=""
        )
    lines += _crash_sections(guest.stderr)
    tail = guest.stderr.splitlines()[-30:]
    if tail:
        lines.append("guest stderr (last 30 lines):")
        lines += tail
    return "\n".join(lines)


# The parts of a JVM crash report (hs_err, -XX:+ErrorFileToStderr) that say where it stopped;
# the report is hundreds of lines and its tail (kept above) says little about the crash.
HS_ERR_SECTIONS = ("Current thread", "Stack:", "Registers:", "Instructions: (pc=")


def _crash_sections(stderr: str) -> list[str]:
    """The sections HS_ERR_SECTIONS of a crash report in `stderr` (up to 24 lines each)."""
    out: list[str] = []
    lines = stderr.splitlines()
    for i, line in enumerate(lines):
        if line.startswith(HS_ERR_SECTIONS):
            section = lines[i : i + 24]
            end = next((k for k, ln in enumerate(section) if k and not ln.strip()), len(section))
            out += section[:end]
    return ["guest crash report (where it stopped):", *out] if out else []


def assert_same_run(host: JavaRun, guest: JavaRun) -> None:
    """The guest run printed the same stdout and ended with the same exit code as the host."""
    assert (guest.exit_code, guest.stdout) == (host.exit_code, host.stdout), describe_difference(
        host, guest
    )


def assert_same_runs(host: JavaRun, guests: dict[int, JavaRun]) -> None:
    """Each guest run (by its number of CPUs) printed the host's stdout and exit code; a failure
    names every CPU count that differed, with its difference."""
    bad = [
        f"on {cpus} CPU{'s' if cpus != 1 else ''}: {describe_difference(host, guest)}"
        for cpus, guest in guests.items()
        if (guest.exit_code, guest.stdout) != (host.exit_code, host.stdout)
    ]
    assert not bad, "\n\n".join(bad)


@pytest.fixture(scope="session")
def java_jdk() -> Jdk:
    """The JDK that compiles and runs Java test programs."""
    try:
        return find_test_jdk()
    except LwjvmError as e:
        pytest.skip(f"no JDK for Java tests: {e}")


@pytest.fixture(scope="session")
def javac(java_jdk: Jdk) -> Javac:
    """The in-process Java compiler (javax.tools through JPype)."""
    return Javac(java_jdk)


@pytest.fixture(scope="session")
def java_tools(java_jdk: Jdk) -> JavaTools:
    """`JavaTools` of the test JDK (in-process jar, jdeps, jlink)."""
    return JavaTools(java_jdk)


@pytest.fixture(scope="session")
def make_jar(java_tools: JavaTools) -> Any:
    """`make_jar(classes_dir, jar_path, main_class=None, resources=None) -> jar_path`."""

    def make(
        classes: Path, jar: Path, main_class: str | None = None, resources: Path | None = None
    ) -> Path:
        return build_jar(java_tools, classes, jar, main_class, resources)

    return make


@pytest.fixture(scope="session")
def java_program(javac: Javac, make_jar: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`java_program(name, sources, main=None, classpath=()) -> jar`: compile and package."""

    def build(
        name: str,
        sources: dict[str, str],
        main: str | None = None,
        classpath: Sequence[Path] = (),
    ) -> Path:
        work = tmp_path_factory.mktemp(f"java-{name}")
        classes = javac.compile(sources, work / "classes", classpath, src_dir=work / "src")
        return make_jar(classes, work / f"{name}.jar", main)

    return build


@pytest.fixture(scope="session")
def host_java(java_jdk: Jdk) -> Iterator[Any]:
    """`host_java(classpath, main, args=(), jvm_options=(), timeout, env, cwd) -> JavaRun`."""

    def run(
        classpath: Sequence[Path],
        main: str,
        args: Sequence[str] = (),
        jvm_options: Sequence[str] = (),
        timeout: float = 60.0,
        env: dict[str, str] | None = None,
        cwd: Path | None = None,
    ) -> JavaRun:
        return run_java(java_jdk, classpath, main, args, jvm_options, timeout, cwd, env)

    yield run


def _java_manifest(
    work: Path,
    jar: Path,
    main: str | None,
    args: Sequence[str],
    jdk: Any,
    jvm_options: Sequence[str],
    modules: Sequence[str] | None,
    cds: bool,
    memory: str | None = None,
) -> Path:
    """The manifest guest_java and guest_java_on write for `jar` in `work` (named after it)."""
    name = jar.stem.lower().replace("_", "-") or "app"
    home = jdk.home if jdk is not None else None
    return write_manifest(work, name, jar, main, args, home, jvm_options, modules, cds, memory)


@pytest.fixture(scope="session")
def guest_java(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`guest_java(jar, main=None, args=(), jdk=None, jvm_options=(), modules=None, cds=True,
    memory=None, run_options=(), cpus=None) -> JavaRun`: the class run in the guest by `lwjvm run`
    (on `cpus` CPUs: default the manifest's one).

    `jdk` is the JDK to build the image from (a `Jdk`; default: what `lwjvm build` finds).
    """
    reason = guest_unavailable()
    if reason is not None:
        pytest.skip(f"no guest: {reason}")

    def run(
        jar: Path,
        main: str | None = None,
        args: Sequence[str] = (),
        jdk: Any = None,
        jvm_options: Sequence[str] = (),
        modules: Sequence[str] | None = None,
        cds: bool = True,
        memory: str | None = None,
        run_options: Sequence[str] = (),
        cpus: int | None = None,
    ) -> JavaRun:
        work = tmp_path_factory.mktemp(f"guest-{jar.stem}")
        manifest = _java_manifest(work, jar, main, args, jdk, jvm_options, modules, cds, memory)
        return run_in_guest(manifest, work / "image", run_options, cpus=cpus)

    return run


@pytest.fixture(scope="session")
def guest_java_on(tmp_path_factory: pytest.TempPathFactory) -> Any:
    """`guest_java_on(cpu_counts, jar, main=None, args=(), jdk=None, jvm_options=(),
    modules=None, cds=True) -> {cpus: JavaRun}`: one image built, then booted once with each
    number of CPUs (as `guest_java`, which builds an image per run)."""
    reason = guest_unavailable()
    if reason is not None:
        pytest.skip(f"no guest: {reason}")

    def run(
        cpu_counts: Sequence[int],
        jar: Path,
        main: str | None = None,
        args: Sequence[str] = (),
        jdk: Any = None,
        jvm_options: Sequence[str] = (),
        modules: Sequence[str] | None = None,
        cds: bool = True,
    ) -> dict[int, JavaRun]:
        work = tmp_path_factory.mktemp(f"guest-{jar.stem}")
        manifest = _java_manifest(work, jar, main, args, jdk, jvm_options, modules, cds)
        runs = {}
        for i, cpus in enumerate(cpu_counts):
            last = i == len(cpu_counts) - 1
            runs[cpus] = run_in_guest(manifest, work / "image", keep_image=not last, cpus=cpus)
        return runs

    return run


@pytest.fixture(scope="session")
def java_guest_and_host(java_program: Any, guest_java: Any, java_jdk: Any) -> Any:
    """`java_guest_and_host(name, sources, main, args=(), jvm_options=(), jdk=None, modules=None,
    cds=True, cpus=None) -> (host JavaRun, guest JavaRun)`: compiled once, run on both sides."""

    def run(
        name: str,
        sources: dict[str, str],
        main: str,
        args: Sequence[str] = (),
        jvm_options: Sequence[str] = (),
        jdk: Any = None,
        modules: Sequence[str] | None = None,
        cds: bool = True,
        cpus: int | None = None,
    ) -> tuple[JavaRun, JavaRun]:
        jar = java_program(name, sources, main)
        host = run_java(jdk or java_jdk, [jar], main, args, jvm_options)
        guest = guest_java(jar, main, args, jdk, jvm_options, modules, cds, cpus=cpus)
        return host, guest

    return run


if __name__ == "__main__":
    _child(sys.argv[1:])


class JmxSession:
    """This process's JVM (JPype) connected to a guest JVM's platform MBean server."""

    def __init__(self, name: str, port: int, state: Path, connector: Any, mbeans: Any) -> None:
        self.name = name
        self.port = port
        self.state = state  # the deploy's state directory
        self.connector = connector
        self.mbeans = mbeans  # javax.management.MBeanServerConnection

    def _proxy(self, name: str, cls: str) -> Any:
        import jpype

        factory = jpype.JClass("java.lang.management.ManagementFactory")
        return factory.newPlatformMXBeanProxy(self.mbeans, name, jpype.JClass(cls))

    def thread_count(self) -> int:
        """Live threads of the guest JVM."""
        t = self._proxy("java.lang:type=Threading", "java.lang.management.ThreadMXBean")
        return int(t.getThreadCount())

    def thread_names(self) -> list[str]:
        t = self._proxy("java.lang:type=Threading", "java.lang.management.ThreadMXBean")
        return sorted(str(i.getThreadName()) for i in t.dumpAllThreads(False, False))

    def heap(self) -> dict[str, int]:
        """The guest's heap: used, committed and max bytes."""
        m = self._proxy("java.lang:type=Memory", "java.lang.management.MemoryMXBean")
        u = m.getHeapMemoryUsage()
        return {"used": int(u.getUsed()), "committed": int(u.getCommitted()),
                "max": int(u.getMax())}  # fmt: skip

    def gc(self) -> dict[str, tuple[int, int]]:
        """Each garbage collector of the guest: (collections, milliseconds)."""
        import jpype

        query = jpype.JClass("javax.management.ObjectName")("java.lang:type=GarbageCollector,*")
        out = {}
        for on in self.mbeans.queryNames(query, None):
            b = self._proxy(str(on), "java.lang.management.GarbageCollectorMXBean")
            out[str(b.getName())] = (int(b.getCollectionCount()), int(b.getCollectionTime()))
        return out

    def invoke_gc(self) -> None:
        """System.gc() in the guest (MemoryMXBean.gc)."""
        self._proxy("java.lang:type=Memory", "java.lang.management.MemoryMXBean").gc()


@pytest.fixture
def guest_jmx(java_jdk: Jdk, tmp_path: Path) -> Iterator[Any]:
    """`guest_jmx(manifest, name=None, ready=None) -> JmxSession`: deploys the app of `manifest`
    with `--jmx` (TCG, a state directory of its own) and connects this process's JVM to it,
    retrying until the guest's agent answers (`ready`: a line to wait for in the app's stdout
    first). Every app deployed is stopped and removed at the end."""
    import socket
    import time

    from lwjvm.jvmtools import start_jvm

    reason = guest_unavailable() or start_jvm(java_jdk)
    if reason is not None:
        pytest.skip(f"no guest JMX: {reason}")
    import jpype

    state = tmp_path / "jmx-state"
    env = dict(os.environ, LWJVM_STATE_DIR=str(state))
    sessions: list[JmxSession] = []

    def lwjvm(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([*lwjvm_command(), *args], capture_output=True, text=True, env=env,
                              timeout=GUEST_TIMEOUT_S + 60)  # fmt: skip

    def deploy(manifest: Path, name: str | None = None, ready: str | None = None) -> JmxSession:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        name = name or f"jmx-{len(sessions)}"
        proc = lwjvm("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / f"image-{name}"),
                      "--name", name, f"--jmx={port}", str(manifest))  # fmt: skip
        if proc.returncode != 0:
            raise AssertionError(f"lwjvm deploy --jmx failed: {proc.stderr}")
        url = jpype.JClass("javax.management.remote.JMXServiceURL")(
            f"service:jmx:rmi:///jndi/rmi://127.0.0.1:{port}/jmxrmi"
        )
        factory = jpype.JClass("javax.management.remote.JMXConnectorFactory")
        deadline = time.monotonic() + GUEST_TIMEOUT_S
        last = None
        while time.monotonic() < deadline:
            if ready is None or ready in lwjvm("logs", name).stdout:
                try:
                    connector = factory.connect(url)
                    break
                except jpype.JException as e:  # the agent is not listening yet
                    last = e
            time.sleep(1.0)
        else:
            raise AssertionError(f"no JMX answer from {name} on port {port}: {last}")
        session = JmxSession(name, port, state, connector, connector.getMBeanServerConnection())
        sessions.append(session)
        return session

    yield deploy
    for session in sessions:
        with contextlib.suppress(Exception):
            session.connector.close()
        lwjvm("rm", "-f", session.name)
