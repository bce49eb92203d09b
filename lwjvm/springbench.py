"""Spring Boot start-up, measured by `python -m lwjvm.springbench` (issue 11; docs/plugins.md).

samples/spring-boot (built with `mvn package` if its jar is missing), in one run:
- on the host (full JDK): the executable jar as Spring Boot ships it (`java -jar`), and lwjvm's
  extraction of it run from Start-Class without and with an application class-data archive (dumped
  once with Spring's training run, -XX:ArchiveClassesAtExit and -Dspring.context.exit=onRefresh):
  process start to Spring's "Started ... in" line and to the first 200 from /actuator/health;
- on lwjvm (TCG): the image with its class-data archive and the same with `jvm.cds: false`:
  `lwjvm run` process start to the "Started" line (beside Spring's own figure) and to the first
  200 from /actuator/health over the forwarded port.
Not measured: a Linux guest (the project has no Linux-guest runner yet). Nothing is asserted.
"""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests
import yaml

from lwjvm import springboot
from lwjvm.runtime import cache_root

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "samples" / "spring-boot"
JAR = SAMPLE / "target" / "spring-boot-sample.jar"
STARTED = re.compile(
    r"Started SampleApplication in ([0-9.]+) seconds \(process running for ([0-9.]+)\)"
)
HOST_RUNS = 3


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _host_run(argv: list[str]) -> dict[str, float]:
    """One host start: ms to the Started line and to the first 200 from /actuator/health."""
    port = _port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*argv, f"--server.port={port}"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    out: dict[str, float] = {}
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            m = STARTED.search(line)
            if m:
                out["started_ms"] = (time.perf_counter() - t0) * 1000
                out["spring_s"] = float(m.group(1))
                break
        deadline = time.perf_counter() + 120
        while "started_ms" in out and "http_ms" not in out and time.perf_counter() < deadline:
            try:
                if requests.get(f"http://127.0.0.1:{port}/actuator/health", timeout=5).ok:
                    out["http_ms"] = (time.perf_counter() - t0) * 1000
            except requests.RequestException:
                time.sleep(0.01)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=60)
    return out


def _median(runs: list[dict[str, float]], key: str) -> float | None:
    values = [r[key] for r in runs if key in r]
    return round(statistics.median(values), 1) if values else None


def _guest_run(manifest: Path, out: Path) -> dict[str, Any]:
    """`lwjvm run` of `manifest` after an untimed build, its port 8080 forwarded: ms from process
    start to Spring's Started line and to the first 200 from /actuator/health."""
    lwjvm = [sys.executable, "-m", "lwjvm"]
    allow = ["--allow-outside", str(JAR)]  # the sample's jar, beside its own manifest
    subprocess.run([*lwjvm, "build", "-q", *allow, str(manifest), "-o", str(out)], check=True)
    port = _port()
    t0 = time.perf_counter()
    proc = subprocess.Popen(
        [*lwjvm, "run", "-q", "--accel", "tcg", "--timeout", "3000", "-p", f"{port}:8080",
         *allow, "-o", str(out), str(manifest)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    result: dict[str, Any] = {}
    assert proc.stdout is not None
    for line in proc.stdout:
        m = STARTED.search(line)
        if m:
            result["started_ms"] = round((time.perf_counter() - t0) * 1000, 1)
            result["spring_s"] = float(m.group(1))
            result["jvm_running_s"] = float(m.group(2))
            break
    while "started_ms" in result and "http_ms" not in result:
        if time.perf_counter() - t0 > 3000 or proc.poll() is not None:
            break
        try:
            if requests.get(f"http://127.0.0.1:{port}/actuator/health", timeout=30).ok:
                result["http_ms"] = round((time.perf_counter() - t0) * 1000, 1)
        except requests.RequestException:
            time.sleep(0.05)
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    for _ in proc.stdout:
        pass
    result["exit"] = proc.wait()
    return result


def measure() -> dict[str, Any]:
    if not JAR.is_file():
        subprocess.run(["mvn", "-B", "-q", "package"], cwd=SAMPLE, check=True)
    ex = springboot.extract(JAR, cache_root())
    cp = ":".join(str(p) for p in [ex.jar, *ex.libs])
    results: dict[str, Any] = {"host_runs": HOST_RUNS}
    with tempfile.TemporaryDirectory(prefix="lwjvm-springbench-") as td:
        work = Path(td)
        jsa = work / "host.jsa"
        subprocess.run(
            ["java", f"-XX:ArchiveClassesAtExit={jsa}", "-Dspring.context.exit=onRefresh", "-cp",
             cp, ex.start_class],
            check=True, capture_output=True,
        )  # fmt: skip
        variants = {
            "host java -jar (executable jar)": ["java", "-jar", str(JAR)],
            "host extracted, no app archive": ["java", "-cp", cp, ex.start_class],
            "host extracted, app archive": [
                "java", f"-XX:SharedArchiveFile={jsa}", "-cp", cp, ex.start_class,
            ],
        }  # fmt: skip
        for name, argv in variants.items():
            runs = [_host_run(argv) for _ in range(HOST_RUNS)]
            results[name] = {
                "started_ms": _median(runs, "started_ms"),
                "http_ms": _median(runs, "http_ms"),
                "spring_s": _median(runs, "spring_s"),
            }
            print(f"{name}: {results[name]}", flush=True)
        doc = yaml.safe_load((SAMPLE / "app.yaml").read_text(encoding="utf-8"))
        doc["app"]["jar"] = str(JAR)
        doc["vm"].pop("ports", None)  # forwarded from a free port instead
        for name, cds in (("lwjvm, app archive", True), ("lwjvm, no app archive", False)):
            doc.setdefault("jvm", {})["cds"] = {"timeout": "120s"} if cds else False
            manifest = work / f"app-{int(cds)}.yaml"
            manifest.write_text(json.dumps(doc), encoding="utf-8")
            results[name] = _guest_run(manifest, work / f"image-{int(cds)}")
            print(f"{name}: {results[name]}", flush=True)
    return results


def main() -> None:
    results = measure()
    out = REPO / "build" / "bench" / "spring.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    print(f"load average at the end: {os.getloadavg()}; written to {out}")


if __name__ == "__main__":
    main()
