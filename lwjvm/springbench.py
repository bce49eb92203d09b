"""`make bench`, Spring Boot part (issue 11): samples/spring-boot's start-up on lwjvm, on the Linux
guest and on the host, with and without the application's class-data archive, in one run.

`python -m lwjvm.baseline --only spring` runs it (it is part of the default run). The sample's
executable jar is built with Maven if it is missing. Two images are built from the sample's
app.yaml as it is: with its archive (lwjvm extracts the jar and dumps the archive from a training
run in the guest, docs/plugins.md) and with `jvm.cds: false`. Each boot of each image, lwjvm then
Linux (the same root image, lwjvm/linuxguest.py), records from QEMU's start:

- `started`: Spring's "Started SampleApplication in ..." line on the console, with Spring's own
  figure beside it;
- `http`: the first 200 from GET /actuator/health through the forwarded port (polled from the
  host every 50 ms);
- `started_cpu` and `http_cpu`: the CPU time (user + system, all its threads) QEMU had used at
  those two points, read from /proc within 50 ms of each. On a loaded host the wall times grow
  with the load while the CPU times hardly move, so they compare the two kernels there.

On the host (the full JDK, both host CPUs, so no VM at all) the same two points from process
start, with the sample's JVM options: the executable jar as Spring Boot ships it (`java -jar`),
and lwjvm's extraction of it (the image's class path) without and with an application archive
(a dynamic one, `-XX:ArchiveClassesAtExit` after the same training run, Spring's
`-Dspring.context.exit=onRefresh`). Nothing is asserted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import yaml

from lwjvm import springboot, uptodate
from lwjvm.descriptor import ImageDescriptor
from lwjvm.errors import LwjvmError
from lwjvm.manifest import load as load_manifest
from lwjvm.runtime import cache_root

SAMPLE = Path("samples/spring-boot")
JAR_NAME = "spring-boot-sample.jar"
HEALTH = "/actuator/health"
STARTED = re.compile(rb"Started SampleApplication in ([0-9.]+) seconds \(process running for")
BOOTS = 2
HOST_RUNS = 3
TIMEOUT = 1800.0  # seconds a boot gets to answer (a loaded host runs TCG many times slower)
VARIANTS = {"archive": True, "no archive": False}


class Booted(Protocol):
    """What lwjvm.baseline's servers offer (lwjvm.baseline.Server)."""

    t0: float

    def running(self) -> bool: ...
    def output(self) -> bytes: ...
    def time_of(self, needle: bytes) -> float | None: ...
    def stop(self) -> None: ...
    def qemu_pid(self) -> int | None: ...


# (image directory, host port forwarded to the guest's 8080) -> a booted VM
Booter = Callable[[Path, int], Booted]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _health_ok(port: int, timeout: float) -> bool:
    """Whether GET /actuator/health answered 200 (Connection: close) within `timeout`."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {HEALTH} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
            head = s.recv(64)
            return head.startswith(b"HTTP/1.1 200")
    except OSError:
        return False


def _median(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}  # fmt: skip


def sample_jar(root: Path) -> Path:
    """samples/spring-boot's executable jar, built with `mvn package` when missing (offline
    first: make setup fetched what it needs)."""
    jar = root / SAMPLE / "target" / JAR_NAME
    if not jar.is_file():
        mvn = ["mvn", "-B", "-q", "package"]
        sample = root / SAMPLE
        if subprocess.run([*mvn, "-o"], cwd=sample, capture_output=True).returncode != 0:
            r = subprocess.run(mvn, cwd=sample, capture_output=True, text=True)
            if r.returncode != 0:
                raise LwjvmError(f"mvn package in {SAMPLE} failed: {r.stdout[-300:]}")
    return jar


def build_images(root: Path, out_dir: Path, kernel: Path) -> dict[str, Path]:
    """The sample's image with its archive and without, from its app.yaml (the manifests are
    written beside the jar, in the sample's target/, so the jar is inside their directory)."""
    doc = yaml.safe_load((root / SAMPLE / "app.yaml").read_text(encoding="utf-8"))
    doc["app"]["jar"] = JAR_NAME
    doc["vm"].pop("ports", None)  # each boot forwards a free port instead
    images = {}
    for name, cds in VARIANTS.items():
        variant = json.loads(json.dumps(doc))
        if not cds:
            variant.setdefault("jvm", {})["cds"] = False
        slug = name.replace(" ", "-")
        manifest = root / SAMPLE / "target" / f"bench-{slug}.yaml"
        manifest.write_text(json.dumps(variant), encoding="utf-8")
        image = out_dir / "spring" / slug
        uptodate.ensure_image(load_manifest(manifest), image, None, kernel, quiet=True)
        images[name] = image
    return images


def build_warm_image(root: Path, out_dir: Path, kernel: Path) -> Path:
    """The sample with its archive and `vm.snapshot: true` (docs/snapshots.md): its VM saved at
    build time after 20 GETs of /actuator/health. It keeps the manifest's 8080 forward (the
    snapshot needs a port to warm the app through; each restore forwards a free port to it)."""
    doc = yaml.safe_load((root / SAMPLE / "app.yaml").read_text(encoding="utf-8"))
    doc["app"]["jar"] = JAR_NAME
    doc["vm"]["snapshot"] = True
    manifest = root / SAMPLE / "target" / "bench-warm.yaml"
    manifest.write_text(json.dumps(doc), encoding="utf-8")
    image = out_dir / "spring" / "warm"
    uptodate.ensure_image(load_manifest(manifest), image, None, kernel, quiet=True)
    return image


def warm_boot(make: Booter, image: Path, timeout: float) -> dict[str, float] | str:
    """One restore of the warm snapshot: seconds from QEMU start to the first 200 from
    /actuator/health (a restored VM prints no Started line: it printed it before it was saved)."""
    port = free_port()
    server = make(image, port)
    try:
        deadline = server.t0 + timeout
        while time.monotonic() < deadline and server.running():
            if _health_ok(port, 30.0):
                return {"http": time.monotonic() - server.t0}
            time.sleep(0.01)
        return "no answer from /actuator/health: " + server.output()[-300:].decode(
            errors="replace"
        ).strip()
    finally:
        server.stop()


def guest_boot(make: Booter, image: Path, timeout: float) -> dict[str, float] | str:
    """One boot: seconds from QEMU start to Spring's Started line and to the first 200 from
    /actuator/health, and Spring's own figure; or why it failed."""
    port = free_port()
    server = make(image, port)
    try:
        deadline = server.t0 + timeout
        started = None
        while time.monotonic() < deadline and server.running():
            started = server.time_of(b"Started SampleApplication in ")
            if started is not None:
                break
            time.sleep(0.05)
        if started is None:
            return "no Started line: " + server.output()[-300:].decode(errors="replace").strip()
        started_cpu = _cpu(server.qemu_pid())
        while time.monotonic() < deadline and server.running():
            if _health_ok(port, 30.0):
                http = time.monotonic() - server.t0
                http_cpu = _cpu(server.qemu_pid())
                m = STARTED.search(server.output())
                own = float(m.group(1)) if m else float("nan")
                out = {"started": started, "http": http, "spring_says": own}
                if started_cpu is not None and http_cpu is not None:
                    out |= {"started_cpu": started_cpu, "http_cpu": http_cpu}
                return out
            time.sleep(0.05)
        return (
            "no answer from /actuator/health: "
            + server.output()[-300:].decode(errors="replace").strip()
        )
    finally:
        server.stop()


def _cpu(pid: int | None) -> float | None:
    """User + system seconds process `pid` has used (all its threads), or None."""
    if pid is None:
        return None
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def host_run(argv: list[str], timeout: float) -> dict[str, float] | str:
    """One start on the host: seconds from process start to the Started line and to the first
    200 from /actuator/health (the app listens on a free port), then SIGTERM."""
    port = free_port()
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [*argv, f"--server.port={port}"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    out: dict[str, float] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = STARTED.search(line)
            if m:
                out["started"] = time.monotonic() - t0
                out["spring_says"] = float(m.group(1))
                break
        while "started" in out and time.monotonic() - t0 < timeout:
            if _health_ok(port, 30.0):
                out["http"] = time.monotonic() - t0
                break
            time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    return out if "http" in out else f"{' '.join(argv[:2])}: no Started line or no answer"


def host_variants(jar: Path, options: list[str], work: Path) -> dict[str, list[str]]:
    """The host's command lines: the executable jar, and the extraction without and with a
    dynamic archive made here by one training run."""
    ex = springboot.extract(jar, cache_root())
    cp = ":".join(str(p) for p in [ex.jar, *ex.libs])
    jsa = work / "host.jsa"
    subprocess.run(
        ["java", *options, f"-XX:ArchiveClassesAtExit={jsa}", *springboot.TRAINING_OPTIONS,
         "-cp", cp, ex.start_class],
        check=True, capture_output=True,
    )  # fmt: skip
    return {
        "java -jar": ["java", *options, "-jar", str(jar)],
        "no archive": ["java", *options, "-cp", cp, ex.start_class],
        "archive": ["java", *options, f"-XX:SharedArchiveFile={jsa}", "-cp", cp, ex.start_class],
    }


def measure(
    root: Path,
    out_dir: Path,
    kernel: Path,
    sides: dict[str, Booter],
    boots: int,
    log: Callable[[str], None],
    timeout: float = TIMEOUT,
    warm: Booter | None = None,
) -> dict[str, Any]:
    """The Spring part's figures (see the module docstring), per variant and side; with `warm`,
    lwjvm's restores of the sample's warm snapshot too."""
    jar = sample_jar(root)
    images = build_images(root, out_dir, kernel)
    warm_image = build_warm_image(root, out_dir, kernel) if warm is not None else None
    warm_runs: list[dict[str, float]] = []
    cds = ImageDescriptor.read(images["archive"]).cds
    app = yaml.safe_load((root / SAMPLE / "app.yaml").read_text(encoding="utf-8"))
    options = list((app.get("jvm") or {}).get("options") or [])
    results: dict[str, Any] = {"boots": boots, "host_runs": HOST_RUNS, "jvm_options": options,
                               "cds_classes": cds.classes if cds else None}  # fmt: skip
    runs: dict[str, dict[str, list[dict[str, float]]]] = {
        v: {s: [] for s in sides} for v in VARIANTS
    }
    failures: dict[str, str] = {}
    for i in range(boots):
        for variant, image in images.items():
            for name, make in sides.items():
                key = f"{name}, {variant}"
                if key in failures:
                    continue
                r = guest_boot(make, image, timeout)
                if isinstance(r, str):
                    failures[key] = r
                    log(f"  {key}: failed: {r}")
                    continue
                runs[variant][name].append(r)
                cpu = (f" (QEMU CPU {r['started_cpu']:.1f} s / {r['http_cpu']:.1f} s)"
                       if "http_cpu" in r else "")  # fmt: skip
                log(f"  boot {i + 1}/{boots} {key}: Started at {r['started']:.1f} s (Spring: "
                    f"{r['spring_says']:.1f} s), first 200 at {r['http']:.1f} s{cpu}")  # fmt: skip
        if warm is not None and warm_image is not None and "lwjvm, warm" not in failures:
            w = warm_boot(warm, warm_image, timeout)
            if isinstance(w, str):
                failures["lwjvm, warm"] = w
                log(f"  lwjvm, warm snapshot: failed: {w}")
            else:
                warm_runs.append(w)
                log(f"  restore {i + 1}/{boots} lwjvm, warm snapshot: first 200 at "
                    f"{w['http']:.2f} s")  # fmt: skip
    host: dict[str, list[dict[str, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="lwjvm-springbench-") as td:
        for variant, argv in host_variants(jar, options, Path(td)).items():
            host[variant] = []
            for _ in range(HOST_RUNS):
                r = host_run(argv, timeout)
                if isinstance(r, str):
                    failures[f"host, {variant}"] = r
                    break
                host[variant].append(r)
            log(f"  host, {variant}: " + ", ".join(
                f"{r['started']:.2f}/{r['http']:.2f} s" for r in host[variant]))  # fmt: skip

    def figures(rs: list[dict[str, float]]) -> dict[str, Any]:
        keys = ("started", "http", "spring_says", "started_cpu", "http_cpu")
        return {k: _median([r[k] for r in rs if k in r]) for k in keys}

    results["guest"] = {v: {s: figures(rs) for s, rs in by_side.items()}
                        for v, by_side in runs.items()}  # fmt: skip
    results["host"] = {v: figures(rs) for v, rs in host.items()}
    results["warm"] = {"http": _median([r["http"] for r in warm_runs])} if warm_runs else None
    results["failures"] = failures
    return results


def _fmt(s: dict[str, float] | None) -> str:
    if s is None:
        return "n/a"
    if s["n"] == 1:
        return f"{s['median']:.1f} s"
    return f"{s['median']:.1f} s [{s['min']:.1f}-{s['max']:.1f}]"


def _ratio(ours: dict[str, float] | None, theirs: dict[str, float] | None) -> str:
    if not ours or not theirs or not ours["median"]:
        return "n/a"
    return f"{theirs['median'] / ours['median']:.2f}x"


def rows(spring: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, lwjvm, Linux guest, ratio, host) rows for lwjvm.baseline's report."""
    out = []
    for variant in VARIANTS:
        g = spring["guest"].get(variant, {})
        h = spring["host"].get(variant, {})
        for key, label in (("started", "'Started' line"), ("http", "first 200 (health)")):
            a, b = g.get("lwjvm", {}).get(key), g.get("linux", {}).get(key)
            out.append((f"Spring Boot, {variant}: start to {label}", _fmt(a), _fmt(b),
                        _ratio(a, b), _fmt(h.get(key))))  # fmt: skip
        a, b = g.get("lwjvm", {}).get("spring_says"), g.get("linux", {}).get("spring_says")
        out.append((f"  Spring's own 'Started ... in', {variant}", _fmt(a), _fmt(b),
                     _ratio(a, b), _fmt(h.get("spring_says"))))  # fmt: skip
        for key, label in (("started_cpu", "'Started'"), ("http_cpu", "first 200")):
            a, b = g.get("lwjvm", {}).get(key), g.get("linux", {}).get(key)
            out.append((f"  QEMU CPU time to {label}, {variant}", _fmt(a), _fmt(b),
                        _ratio(a, b), "-"))  # fmt: skip
    w = spring.get("warm")
    if w:
        b = spring["guest"].get("archive", {}).get("linux", {}).get("http")
        out.append(("  lwjvm restoring its warm snapshot: first 200 (Linux: cold, archive)",
                    _fmt(w["http"]), _fmt(b), _ratio(w["http"], b), "-"))  # fmt: skip
    jj = spring["host"].get("java -jar", {})
    out.append(("Spring Boot, host java -jar: Started / first 200", "-", "-", "-",
                f"{_fmt(jj.get('started'))} / {_fmt(jj.get('http'))}"))  # fmt: skip
    return out


def notes(spring: dict[str, Any]) -> list[str]:
    """Lines under lwjvm.baseline's report."""
    said = [f"spring: {k}: {why[-300:]}" for k, why in spring.get("failures", {}).items()]
    said.append(f"spring: {spring['boots']} boot(s) per side and image, {spring['host_runs']} "
                f"host runs each; JVM options {spring['jvm_options']}; the image's archive holds "
                f"{spring['cds_classes']} classes")  # fmt: skip
    return said
