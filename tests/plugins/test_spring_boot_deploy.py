"""samples/spring-boot end to end, as a user does it: `mvn package lwjvm:deploy` (Spring Boot's
executable jar from Maven Central, extracted by lwjvm build so the class-data archive covers
Spring, deployed detached until /actuator/health answers), real HTTP requests to the guest's
Tomcat, then `mvn lwjvm:stop` (SIGTERM: Spring's graceful shutdown, exit 143 as on Linux), and the
image's extraction and archive as `lwjvm inspect` shows them.

What it costs, and why it is one test: under TCG every start of Spring in the guest is the
expensive part (the module training run, the class-data training run and the deploy each start
the context; the dump loads its classes). This test does that once per step, where the sample
used to be built and started by a second test as well. The sample runs with
-XX:TieredStopAtLevel=1 (its app.yaml: C2 compilations took half the CPU of Spring's start on one
CPU). docs/plugins.md has the figures.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
from pathlib import Path

import requests
import yaml

REPO = Path(__file__).resolve().parents[2]
NAME = "spring-boot-sample"
# Under TCG on a loaded 2-CPU machine one Spring start took minutes (a quiet one: see the module
# docstring); these bound the Maven runs and the deploy's health wait with a wide margin.
MVN_TIMEOUT_S = 3600
HEALTH_TIMEOUT = "50m"
STOP_TIMEOUT_S = 300


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _mvn(src: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["mvn", "-B", *args], cwd=src, env=env, capture_output=True, text=True,
        timeout=MVN_TIMEOUT_S,
    )  # fmt: skip


def test_spring_boot_sample_deploys_with_maven_and_serves_http_from_the_guest(
    tmp_path: Path, lwjvm_executable: Path, plugin_env: dict[str, str], guest: None
) -> None:
    src = tmp_path / "spring-boot"
    shutil.copytree(REPO / "samples" / "spring-boot", src, ignore=shutil.ignore_patterns("target"))
    # The sample as it is, but forwarded from a free host port (8080 may be taken here) and with
    # a health wait and training-run limit that a loaded machine cannot outlast.
    port = _free_port()
    manifest = src / "app.yaml"
    doc = yaml.safe_load(manifest.read_text(encoding="utf-8"))
    assert doc["vm"]["ports"] == ["8080:8080"] and doc["health"]["http"] == "/actuator/health"
    assert doc["jvm"]["options"] == ["-XX:TieredStopAtLevel=1"]
    doc["vm"]["ports"] = [f"{port}:8080"]
    doc["health"]["timeout"] = HEALTH_TIMEOUT
    doc["jvm"]["cds"]["timeout"] = HEALTH_TIMEOUT
    # YAML, as a user writes it: the plugin reads the name: line to stop the app.
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    exe = f"-Dlwjvm.executable={lwjvm_executable}"
    lwjvm = [str(lwjvm_executable)]
    try:
        deploy = _mvn(src, plugin_env, "package", "lwjvm:deploy", exe,
                      f"-Dlwjvm.stopTimeout={STOP_TIMEOUT_S}")  # fmt: skip
        assert deploy.returncode == 0, deploy.stdout[-6000:]
        assert f"[INFO] {NAME}: healthy in " in deploy.stdout, deploy.stdout[-6000:]
        # health.http end to end: healthy once GET /actuator/health answered 2xx in the guest.
        assert "(GET /actuator/health: HTTP 200)" in deploy.stdout, deploy.stdout[-6000:]

        base = f"http://127.0.0.1:{port}"
        health = requests.get(f"{base}/actuator/health", timeout=120)
        assert health.status_code == 200 and health.json()["status"] == "UP", health.text
        hello = requests.get(f"{base}/hello", params={"name": "lwjvm"}, timeout=120)
        assert hello.status_code == 200, hello.text
        # The guest's kernel and the image's JDK answered.
        assert hello.text.startswith("Hello, lwjvm, from Spring Boot on Linux "), hello.text
        assert "-lwjvm, Java 17" in hello.text, hello.text

        stop = _mvn(src, plugin_env, "lwjvm:stop", exe)
        assert stop.returncode == 0, stop.stdout[-4000:]
        assert f"[INFO] {NAME}: stopped (exited 143)" in stop.stdout, stop.stdout[-4000:]
        logs = subprocess.run(
            [*lwjvm, "logs", NAME], env=plugin_env, capture_output=True, text=True, check=True
        ).stdout
        assert "Starting SampleApplication v1.0 using Java 17" in logs, logs[-3000:]
        assert "Tomcat started on port 8080" in logs and "Started SampleApplication in " in logs
        assert "Graceful shutdown complete" in logs, logs[-3000:]
    finally:
        subprocess.run([*lwjvm, "rm", "-f", NAME], env=plugin_env, capture_output=True)

    image = src / "target" / "lwjvm" / "image"
    desc = json.loads(
        subprocess.run(
            [*lwjvm, "inspect", "--json", str(image)],
            env=plugin_env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout  # fmt: skip
    )
    boot = desc["app"]["spring_boot"]
    assert boot["jar"] == "spring-boot-sample.jar" and boot["spring_boot"].startswith("3.")
    assert boot["start_class"] == desc["app"]["main"] == "dev.lwjvm.samples.boot.SampleApplication"
    paths = [e["path"] for e in desc["app"]["classpath"]]
    assert paths[0] == "/app/spring-boot-sample.jar"
    assert any(p.startswith("/app/lib/spring-context-") for p in paths)
    assert len(paths) == boot["libraries"] + 1
    # The training run stopped itself after the context refresh, and the archive holds Spring.
    assert desc["cds"]["training"] == "exit 0", desc["cds"]
    assert desc["cds"]["classes"] > 4000, desc["cds"]
    shown = subprocess.run(
        [*lwjvm, "inspect", str(image)], env=plugin_env, capture_output=True, text=True, check=True
    ).stdout
    assert "spring boot: spring-boot-sample.jar (Spring Boot 3." in shown
