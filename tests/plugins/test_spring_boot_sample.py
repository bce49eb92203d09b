"""samples/spring-boot: built with Maven from Maven Central, its executable jar extracted by lwjvm
build so the class-data archive covers Spring's classes, and the application started in the guest.

The guest has no network yet, so the application runs with --spring.main.web-application-type=none:
the whole Spring context (auto-configuration, actuator, Jackson, logging) starts on our kernel,
logs "Started ... in", and the JVM exits 0; Tomcat is not started.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
# Spring's start-up under TCG on a loaded 2-CPU machine took 3.5 minutes; generous headroom.
GUEST_TIMEOUT_S = 1200
NO_WEB = "--spring.main.web-application-type=none"


def test_spring_boot_sample_builds_with_its_archive_and_starts_in_the_guest(
    tmp_path: Path, lwjvm_executable: Path, plugin_env: dict[str, str], guest: None
) -> None:
    src = tmp_path / "spring-boot"
    shutil.copytree(REPO / "samples" / "spring-boot", src, ignore=shutil.ignore_patterns("target"))
    mvn = subprocess.run(
        ["mvn", "-B", "-q", "package"], cwd=src, env=plugin_env, capture_output=True, text=True,
        timeout=900,
    )  # fmt: skip
    assert mvn.returncode == 0, mvn.stdout[-3000:] + mvn.stderr[-3000:]
    doc = yaml.safe_load((src / "app.yaml").read_text(encoding="utf-8"))
    doc["app"]["args"] = [NO_WEB]
    (src / "app-noweb.yaml").write_text(json.dumps(doc), encoding="utf-8")

    out = tmp_path / "image"
    run = subprocess.run(
        [str(lwjvm_executable), "run", "--accel", "tcg", "--timeout", str(GUEST_TIMEOUT_S),
         "-o", str(out), str(src / "app-noweb.yaml")],
        env=plugin_env, capture_output=True, text=True, timeout=GUEST_TIMEOUT_S + 600,
    )  # fmt: skip
    detail = run.stdout[-4000:] + run.stderr[-4000:]
    assert run.returncode == 0, detail
    assert "Starting SampleApplication v1.0 using Java 17" in run.stdout, detail
    assert "Started SampleApplication in " in run.stdout, detail

    desc = json.loads(
        subprocess.run(
            [str(lwjvm_executable), "inspect", "--json", str(out)],
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
    text = subprocess.run(
        [str(lwjvm_executable), "inspect", str(out)], env=plugin_env, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    assert "spring boot: spring-boot-sample.jar (Spring Boot 3." in text
