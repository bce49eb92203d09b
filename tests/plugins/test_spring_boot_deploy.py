"""samples/spring-boot end to end, as a user does it: `mvn package lwjvm:deploy` (Spring Boot's
executable jar from Maven Central, extracted by lwjvm build so the class-data archive covers
Spring, deployed detached until /actuator/health answers), real HTTP requests to the guest's
Tomcat, then `mvn lwjvm:stop` (SIGTERM: Spring's graceful shutdown, exit 143 as on Linux).

Opt-in (LWJVM_SPRING_E2E=1) and not yet seen to pass as a whole: under TCG on a machine loaded by
other builds one run took over 30 minutes. Its parts were seen working: the deploy and stop goals
(test_maven_plugin), Tomcat serving /hello from the guest by hand, and the health check once the
sample stopped checking the read-only root's free space (samples/spring-boot/README.md).
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
from pathlib import Path

import pytest
import requests

pytestmark = pytest.mark.skipif(
    os.environ.get("LWJVM_SPRING_E2E") != "1",
    reason="opt-in (LWJVM_SPRING_E2E=1): over 30 minutes under TCG on a loaded machine",
)

REPO = Path(__file__).resolve().parents[2]
NAME = "spring-boot-sample"
# Spring's start-up under TCG on a loaded 2-CPU machine took 3 to 6 minutes; app.yaml's health
# timeout (15m) bounds the deploy, and this bounds the whole Maven run.
MVN_TIMEOUT_S = 1800


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
    # The sample as it is, but forwarded from a free host port (8080 may be taken here).
    port = _free_port()
    manifest = src / "app.yaml"
    text = manifest.read_text(encoding="utf-8")
    assert 'ports: ["8080:8080"]' in text
    manifest.write_text(text.replace('"8080:8080"', f'"{port}:8080"'), encoding="utf-8")
    exe = f"-Dlwjvm.executable={lwjvm_executable}"
    lwjvm = [str(lwjvm_executable)]
    try:
        deploy = _mvn(src, plugin_env, "package", "lwjvm:deploy", exe)
        assert deploy.returncode == 0, deploy.stdout[-6000:]
        assert f"[INFO] {NAME}: healthy in " in deploy.stdout, deploy.stdout[-6000:]

        base = f"http://127.0.0.1:{port}"
        health = requests.get(f"{base}/actuator/health", timeout=60)
        assert health.status_code == 200 and health.json()["status"] == "UP"
        hello = requests.get(f"{base}/hello", params={"name": "lwjvm"}, timeout=60)
        assert hello.status_code == 200
        assert hello.text.startswith("Hello, lwjvm, from Spring Boot on Linux "), hello.text
        assert "Java 17" in hello.text

        stop = _mvn(src, plugin_env, "lwjvm:stop", exe)
        assert stop.returncode == 0, stop.stdout[-4000:]
        assert f"[INFO] {NAME}: stopped (exited 143)" in stop.stdout, stop.stdout[-4000:]
        logs = subprocess.run(
            [*lwjvm, "logs", NAME], env=plugin_env, capture_output=True, text=True, check=True
        ).stdout
        assert "Tomcat started on port 8080" in logs and "Started SampleApplication in " in logs
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
    assert desc["cds"]["training"] == "exit 0"
    assert desc["cds"]["classes"] > 4000, desc["cds"]
    shown = subprocess.run(
        [*lwjvm, "inspect", str(image)], env=plugin_env, capture_output=True, text=True, check=True
    ).stdout
    assert "spring boot: spring-boot-sample.jar (Spring Boot 3." in shown
