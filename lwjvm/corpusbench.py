"""The real-software corpus timed three ways (`python -m lwjvm.baseline --only corpus`).

Each program of the corpus (docs/real-software.md: Java programs over jars from Maven Central,
fetched by `make corpus`, and native programs from the host) runs on the host, on lwjvm and on the
Linux guest (lwjvm/linuxguest.py: Debian's kernel in the same QEMU booting the very same root
image), one after the other for each program and run, so a change of host load touches all three.

For each guest run: QEMU start to exit; the program's own time, from its start to its exit (lwjvm:
the kernel's boot record to its exit record; Linux: /init's `exec` line to its `exit` line, both
as the host saw them arrive); and the CPU time QEMU spent on the program (its user + system time
at exit, less what it had used when the program started), which a loaded host inflates far less
than wall time: that is the figure that tells TCG's cost (the same for both guests) from the
kernel's. lwjvm runs with `lwjvm.stats=1`, so its page-fault and system-call time is reported too.
A guest's output must be the host's (lwjvm: stdout exactly; Linux: the host's stdout within its
console, where stdout and stderr mix); a run that differs is reported as failed, not timed.
"""

from __future__ import annotations

import io
import json
import os
import resource
import shutil
import statistics
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lwjvm import build as build_mod
from lwjvm import elfinfo, linuxguest, qemu, uptodate, vm
from lwjvm import run as run_mod
from lwjvm.descriptor import ImageDescriptor
from lwjvm.errors import LwjvmError
from lwjvm.image import Staging, build_image
from lwjvm.jdk import find_jdk
from lwjvm.manifest import load as load_manifest
from lwjvm.program import ExecRequest, find_program, stage_program

CORPUS_LIB = Path("tests/build/corpus/lib")
SPRING_JAR = Path("tests/build/corpus/spring/corpus-spring.jar")  # built by make corpus
JAVA_SOURCES = Path("tests/corpus/java")
NATIVE_SOURCES = Path("tests/corpus/native")
GUEST_WORKDIR = "/bench"  # the native programs' working directory (not under /tmp: a tmpfs)
RUNS = 2
TIMEOUT = 1800.0  # seconds one guest run may take on a loaded machine
JAVA_MEMORY = "512M"
NATIVE_MEMORY_MIB = 1024  # lwjvm exec's default


@dataclass(frozen=True)
class Program:
    """One corpus program: Java (`main` over the corpus jars whose names start with `jars`, or
    the executable jar `jar` with `args`) or native (`argv`, with `files` put in the working
    directory)."""

    name: str
    main: str = ""
    jar: Path | None = None
    args: tuple[str, ...] = ()
    jars: tuple[str, ...] = ()
    argv: tuple[str, ...] = ()
    files: tuple[str, ...] = ()


def programs() -> list[Program]:
    """The corpus, in the order of docs/real-software.md's table."""
    script = (vm.repo_root() / NATIVE_SOURCES / "sqlite_demo.py").read_text()
    sql = ("create table t(x); insert into t select value from generate_series(1, 5000); "
           "select count(*), sum(x), avg(x) from t;")  # fmt: skip
    return [
        Program("Lucene, index and search 200 documents", "LuceneDemo", ("200",),
                ("lucene-core", "lucene-queryparser")),
        Program("H2 file mode, 2,000 rows", "H2Demo", ("2000",), ("h2-",)),
        Program("Jackson + Guava", "JsonDemo", (), ("jackson-", "guava-", "failureaccess")),
        Program("WatchService", "WatchDemo"),
        Program("Spring Boot CommandLineRunner, executable jar", args=("--mode=corpus", "extra"),
                jar=SPRING_JAR),
        Program("python3 + sqlite3, 2,000 rows", argv=("/usr/bin/python3", "-c", script, "2000")),
        Program("sqlite3 shell, 5,000 rows", argv=("/usr/bin/sqlite3", ":memory:", sql)),
        Program("zstd -19, 1.7 MB", argv=("/usr/bin/zstd", "-q", "-19", "-c", "data.txt"),
                files=("data.txt",)),
        Program("C++17 thread pool", argv=("pool",)),
    ]  # fmt: skip


@dataclass
class Prepared:
    """A program ready to run: the host command and directory, and the image both guests boot."""

    program: Program
    host_argv: list[str]
    host_dir: Path
    image: Path  # root.img
    kernel: Path
    memory_mib: int
    net: Any  # network.NetConfig | None


@dataclass
class Run:
    """One guest run: seconds (QEMU start to exit, the program's own), QEMU's CPU seconds on the
    program, our kernel's fault + syscall seconds (lwjvm only), and why it failed (None: ok)."""

    wall: float | None = None
    program: float | None = None
    cpu: float | None = None
    kernel: float | None = None
    failed: str | None = None


@dataclass
class Row:
    """A program's runs on each side."""

    name: str
    host: list[float] = field(default_factory=list)
    lwjvm: list[Run] = field(default_factory=list)
    linux: list[Run] = field(default_factory=list)
    linux_hung: int = 0


def _data_file(path: Path) -> None:
    if not path.exists():
        path.write_bytes(
            b"".join(b"line %d of some compressible text\n" % (i % 500) for i in range(50000))
        )


def _java_classes(work: Path, lib: Path) -> Path:
    """tests/corpus/java compiled against the corpus jars, as one jar (rebuilt when a source
    is newer)."""
    jdk = find_jdk()
    sources = sorted((vm.repo_root() / JAVA_SOURCES).glob("*.java"))
    jar = work / "corpus-demo.jar"
    if jar.exists() and all(s.stat().st_mtime < jar.stat().st_mtime for s in sources):
        return jar
    classes = work / "classes"
    shutil.rmtree(classes, ignore_errors=True)
    cp = ":".join(str(p) for p in sorted(lib.glob("*.jar")))
    subprocess.run([str(jdk.tool("javac")), "-cp", cp, "-d", str(classes),
                    *map(str, sources)], check=True)  # fmt: skip
    subprocess.run([str(jdk.tool("jar")), "--create", "--file", str(jar), "-C", str(classes),
                    "."], check=True)  # fmt: skip
    return jar


def prepare(work: Path, log: Callable[[str], None]) -> list[Prepared]:
    """Builds every program's image under `work` (Java images again only when stale)."""
    root = vm.repo_root()
    lib = root / CORPUS_LIB
    if not any(lib.glob("h2-*.jar")):
        raise LwjvmError(f"no corpus jars in {lib}: run `make corpus` first")
    kernel = vm.find_kernel()
    work.mkdir(parents=True, exist_ok=True)
    host_dir = work / "host"
    host_dir.mkdir(exist_ok=True)
    _data_file(host_dir / "data.txt")
    jar = _java_classes(work, lib)
    jdk = find_jdk()
    out = []
    for prog in programs():
        d = work / prog.name.split(",")[0].split()[0].lower().replace("+", "")
        d.mkdir(exist_ok=True)
        if prog.jar is not None:
            fat = root / prog.jar
            if not fat.is_file():
                raise LwjvmError(f"no {prog.jar}: run `make corpus` first")
            shutil.copy2(fat, d / fat.name)
            manifest = d / "app.yaml"
            text = json.dumps({"name": fat.stem, "app": {"jar": fat.name, "args": list(prog.args)},
                               "vm": {"memory": JAVA_MEMORY}}, indent=2) + "\n"  # fmt: skip
            if not manifest.exists() or manifest.read_text() != text:
                manifest.write_text(text)
            log(f"  image of {fat.name}")
            uptodate.ensure_image(load_manifest(manifest), d / "image", None, kernel, quiet=True)
            desc = ImageDescriptor.read(d / "image")
            out.append(Prepared(
                prog, [str(jdk.tool("java")), "-jar", str(fat), *prog.args], host_dir,
                d / "image" / build_mod.ROOT_IMAGE, kernel,
                desc.vm.memory_mib,
                run_mod.net_config(desc.vm, desc.name, []),
            ))  # fmt: skip
            continue
        if prog.main:
            jars = [p for p in sorted(lib.glob("*.jar")) if p.name.startswith(prog.jars)]
            doc = {"name": prog.main.lower(), "app": {"jar": str(jar), "main": prog.main,
                   "classpath": [str(p) for p in jars], "args": list(prog.args)},
                   "vm": {"memory": JAVA_MEMORY}}  # fmt: skip
            manifest = d / "app.yaml"
            text = json.dumps(doc, indent=2) + "\n"
            if not manifest.exists() or manifest.read_text() != text:
                manifest.write_text(text)
            log(f"  image of {prog.main}")
            m = load_manifest(manifest, [jar, lib])  # the corpus's jars
            uptodate.ensure_image(m, d / "image", None, kernel, quiet=True)
            desc = ImageDescriptor.read(d / "image")
            cp = ":".join([str(jar), *map(str, jars)])
            out.append(Prepared(
                prog, [str(jdk.tool("java")), "-cp", cp, prog.main, *prog.args], host_dir,
                d / "image" / build_mod.ROOT_IMAGE, kernel,
                desc.vm.memory_mib,
                run_mod.net_config(desc.vm, desc.name, []),
            ))  # fmt: skip
            continue
        argv = list(prog.argv)
        if argv[0] == "pool":
            exe = d / "pool"
            src = root / NATIVE_SOURCES / "pool.cpp"
            if not exe.exists() or exe.stat().st_mtime < src.stat().st_mtime:
                subprocess.run(["g++", "-std=c++17", "-O2", "-pthread", str(src), "-o", str(exe)],
                               check=True)  # fmt: skip
            argv[0] = str(exe)
        adds = [f"{host_dir / f}:{GUEST_WORKDIR}/{f}" for f in prog.files]
        if argv[0] == "/usr/bin/python3":
            stdlib = Path("/usr/lib") / Path(argv[0]).resolve().name
            adds.append(f"{stdlib}:{stdlib}")
        req = ExecRequest(program=argv[0], args=argv[1:], adds=adds, workdir=GUEST_WORKDIR)
        shutil.rmtree(d / "root", ignore_errors=True)
        staging = Staging(d / "root")
        stage_program(staging, req, elfinfo.check_program(find_program(argv[0])))
        for mount in ("/proc", "/sys", "/dev", "/tmp"):  # the Linux guest's /init mounts them
            staging.mkdir(mount)
        log(f"  image of {Path(argv[0]).name}")
        build_image(staging.root, d / "root.img")
        out.append(Prepared(prog, argv, host_dir, d / "root.img", kernel, NATIVE_MEMORY_MIB, None))
    return out


def proc_cpu(pid: int) -> float | None:
    """User + system seconds of process `pid` so far (None if it is gone)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _children_cpu() -> float:
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    return ru.ru_utime + ru.ru_stime


def run_host(p: Prepared) -> tuple[float, bytes]:
    """(seconds, stdout) of the program on the host, in the scratch directory."""
    t = time.monotonic()
    r = subprocess.run(p.host_argv, cwd=p.host_dir, capture_output=True, timeout=TIMEOUT, env={})
    secs = time.monotonic() - t
    if r.returncode != 0:
        raise LwjvmError(f"{p.program.name} failed on the host (exit {r.returncode}): "
                         f"{r.stderr[-300:].decode(errors='replace')}")  # fmt: skip
    return secs, r.stdout


def run_lwjvm(p: Prepared, chosen: str, expect: bytes) -> Run:
    """One lwjvm boot of the program's image."""
    cfg = qemu.VmConfig(kernel=p.kernel, initrd=p.image, memory_mib=p.memory_mib, accel=chosen,
                      append=["lwjvm.quiet=1", "lwjvm.stats=1"], timeout=TIMEOUT,
                      net=p.net)  # fmt: skip
    control = vm.VmControl()
    pid: list[int] = []
    at_start: list[float | None] = []
    control.on_start = lambda proc: pid.append(proc.pid)

    def record(kind: str, _fields: dict[str, str]) -> None:
        if kind == "boot" and pid:
            at_start.append(proc_cpu(pid[0]))

    control.on_record = record
    out = io.BytesIO()
    cpu0 = _children_cpu()
    res = vm.run_vm(cfg, out, io.BytesIO(), control=control)
    cpu = _children_cpu() - cpu0
    g = res.log
    if res.program_code != 0 or g is None or g.boot_at is None or g.exit_at is None:
        return Run(failed=f"outcome {res.outcome}, exit {res.program_code}")
    if out.getvalue() != expect:
        return Run(failed=f"output differs from the host's: {out.getvalue()[-200:]!r}")
    start = at_start[0] if at_start and at_start[0] is not None else None
    kernel_s = (g.stats.get("fault_us", 0) + g.stats.get("syscall_us", 0)) / 1e6
    return Run(res.t_qemu_exit, g.exit_at - g.boot_at,
               cpu - start if start is not None else None, kernel_s)  # fmt: skip


def run_linux(p: Prepared, guest: linuxguest.Guest, chosen: str, expect: bytes) -> tuple[Run, int]:
    """One Linux-guest boot of the same image; (run, boots that hung before /init)."""
    cmd = linuxguest.qemu_command(guest, p.image, p.memory_mib, chosen, p.net)
    cpu0 = _children_cpu()
    boot = linuxguest.boot(cmd, 60.0)
    t_exec = boot.wait_for(linuxguest.EXEC_MARK, TIMEOUT)
    start = proc_cpu(boot.proc.pid) if t_exec is not None else None
    status = boot.wait(TIMEOUT)
    cpu = _children_cpu() - cpu0
    t_end = boot.time_of(linuxguest.EXIT_MARK + b"0")
    text = boot.output().replace(b"\r\n", b"\n")
    if status != 1 or t_exec is None or t_end is None:
        return Run(failed=f"QEMU status {status}: {text[-300:]!r}"), boot.hung
    if expect.isascii() and expect not in text:
        return Run(failed=f"output differs from the host's: {text[-300:]!r}"), boot.hung
    # A hung boot's CPU time is in `cpu` too: then the figure is left out.
    usable = start is not None and boot.hung == 0
    return Run(boot.t_exit, t_end - t_exec, cpu - start if usable else None), boot.hung


def measure(guest: linuxguest.Guest, chosen: str, runs: int,
            log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """Every corpus program `runs` times on the host, lwjvm and the Linux guest, interleaved."""
    prepared = prepare(vm.repo_root() / "build" / "bench" / "corpus", log)
    rows = []
    boots = hung_total = 0
    for p in prepared:
        row = Row(p.program.name)
        for i in range(runs):
            secs, expect = run_host(p)
            row.host.append(secs)
            ours = run_lwjvm(p, chosen, expect)
            row.lwjvm.append(ours)
            theirs, hung = run_linux(p, guest, chosen, expect)
            row.linux.append(theirs)
            row.linux_hung += hung
            boots += 1 + hung
            hung_total += hung
            log(f"  {p.program.name} run {i + 1}/{runs}: host {secs:.2f} s, "
                f"lwjvm {_say(ours)}, Linux {_say(theirs)}")  # fmt: skip
        rows.append(summarize(row))
    return {"rows": rows, "linux_boots": boots, "linux_hung": hung_total}


def _say(r: Run) -> str:
    if r.failed:
        return f"failed ({r.failed[:200]})"
    cpu = f"{r.cpu:.1f} s CPU" if r.cpu is not None else "CPU n/a"
    return f"{r.program:.2f} s ({cpu})"


def _med(values: list[float | None]) -> float | None:
    got = [v for v in values if v is not None]
    return statistics.median(got) if got else None


def summarize(row: Row) -> dict[str, Any]:
    """A row's medians: the host's seconds, and each side's figures over its runs that passed."""

    def side(runs: list[Run]) -> dict[str, Any]:
        ok = [r for r in runs if not r.failed]
        return {"wall": _med([r.wall for r in ok]), "program": _med([r.program for r in ok]),
                "cpu": _med([r.cpu for r in ok]), "kernel": _med([r.kernel for r in ok]),
                "runs": len(ok), "failed": [r.failed for r in runs if r.failed]}  # fmt: skip

    return {"program": row.name, "host": _med(list(row.host)), "lwjvm": side(row.lwjvm),
            "linux": side(row.linux), "linux_hung": row.linux_hung}  # fmt: skip


def table(results: dict[str, Any]) -> list[str]:
    """The corpus table as Markdown lines (docs/real-software.md)."""

    def s(v: float | None) -> str:
        return "n/a" if v is None else f"{v:.2f} s"

    def x(a: float | None, b: float | None) -> str:
        return "n/a" if not a or not b else f"{a / b:.2f}x"

    lines = [
        "| program | host | lwjvm: program | lwjvm: QEMU CPU | in our kernel | Linux guest: "
        "program | Linux guest: QEMU CPU | lwjvm / host | Linux CPU / lwjvm CPU |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results["rows"]:
        a, b = r["lwjvm"], r["linux"]
        lines.append(
            f"| {r['program']} | {s(r['host'])} | {s(a['program'])} | {s(a['cpu'])} | "
            f"{s(a['kernel'])} | {s(b['program'])} | {s(b['cpu'])} | "
            f"{x(a['program'], r['host'])} | {x(b['cpu'], a['cpu'])} |"
        )
    for r in results["rows"]:
        for name in ("lwjvm", "linux"):
            for why in r[name]["failed"]:
                lines.append(f"{r['program']}: {name} run failed: {why[:300]}")
    return lines
