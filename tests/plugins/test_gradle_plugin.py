"""The Gradle plugin (plugin id dev.lwjvm) with Debian's gradle (4.4.1): built and published into a
scratch Maven repository, then applied by plugins/gradle/sample (an application with a library
subproject) through the plugins { } block: lwjvmRun runs it in the guest, a setting lwjvm refuses
fails the task with lwjvm's own line, lwjvmDeploy and lwjvmStop deploy it detached and stop it
gracefully, and the four tasks are listed in the lwjvm group.

Gradle 8 is not installable on these machines (only Debian's 4.4.1 is), so the plugin's use of API
that both have is checked by reading, not by a run: docs/plugins.md says which calls those are.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
# What the plugin is built with besides the Gradle API: lwjvm-plugin-common, as make plugins
# installed it into the local Maven repository (the Makefile's M2_REPO).
M2_REPO = Path(os.environ.get("M2_REPO", Path.home() / ".m2" / "repository"))
COMMON = Path("dev/lwjvm/lwjvm-plugin-common/0.1.0")
GRADLE_TIMEOUT_S = 1200  # a cold Gradle API jar, jlink and a TCG boot on a loaded machine


def _gradle(
    project: Path, repo: Path, env: dict[str, str], *args: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["gradle", "--offline", "--no-daemon", f"-Dmaven.repo.local={repo}", *args],
        cwd=project, env=env, capture_output=True, text=True, timeout=GRADLE_TIMEOUT_S,
    )  # fmt: skip


def test_gradle_plugin_runs_the_sample_in_the_guest_and_fails_with_lwjvms_line(
    tmp_path: Path, lwjvm_executable: Path, plugin_env: dict[str, str], guest: None
) -> None:
    repo = tmp_path / "m2"
    plugin = tmp_path / "plugin"
    sample = tmp_path / "sample"
    outputs = shutil.ignore_patterns("build", ".gradle")
    shutil.copytree(REPO / "plugins" / "gradle" / "src", plugin / "src")
    for name in ("build.gradle", "settings.gradle"):
        shutil.copy(REPO / "plugins" / "gradle" / name, plugin / name)
    shutil.copytree(REPO / "plugins" / "gradle" / "sample", sample, ignore=outputs)
    assert (M2_REPO / COMMON).is_dir(), f"{M2_REPO / COMMON} missing: run make plugins"
    shutil.copytree(M2_REPO / COMMON, repo / COMMON)
    published = _gradle(plugin, repo, plugin_env, "-q", "publishToMavenLocal")
    assert published.returncode == 0, published.stdout[-3000:] + published.stderr[-3000:]
    assert (repo / "dev/lwjvm/dev.lwjvm.gradle.plugin/0.1.0").is_dir()  # the plugin marker
    pom = (repo / "dev/lwjvm/lwjvm-gradle-plugin/0.1.0/lwjvm-gradle-plugin-0.1.0.pom").read_text()
    assert "<artifactId>lwjvm-plugin-common</artifactId>" in pom  # resolved with the plugin

    exe = f"-PlwjvmExecutable={lwjvm_executable}"
    run = _gradle(sample, repo, plugin_env, exe, "lwjvmRun")
    detail = run.stdout[-4000:] + run.stderr[-4000:]
    assert run.returncode == 0, detail
    # The app's line from the guest: the library subproject, the variable, the JVM option.
    assert "\nHello from gradle, sample.property=set, os.name=Linux\n" in run.stdout, detail
    manifest = (sample / "build" / "lwjvm" / "app.yaml").read_text()
    assert "/lib/build/libs/lib.jar" in manifest and 'main: "sample.Main"' in manifest
    # build/lwjvm/app.yaml names jars outside build/lwjvm: each is allowed by name.
    assert "--allow-outside " in run.stdout and "/lib/build/libs/lib.jar" in run.stdout, detail

    bad = _gradle(sample, repo, plugin_env, exe, "-PsampleMemory=64MB", "lwjvmBuild")
    assert bad.returncode != 0
    assert "lwjvm: error: " in bad.stderr and "vm.memory: expected a size such as 256M" in (
        bad.stderr
    ), bad.stdout[-2000:] + bad.stderr[-2000:]

    # Deployed detached (healthy after running with no fatal line), then stopped gracefully: the
    # shutdown hook's line is in the VM's log and the JVM exited 143.
    # The ports setting: a forward from a free host port, named in deploy's output.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    deployed = _gradle(sample, repo, plugin_env, exe, "-PsampleArgs=serve",
                       f"-PsamplePort={port}:8080", "lwjvmDeploy")  # fmt: skip
    assert deployed.returncode == 0, deployed.stdout[-3000:] + deployed.stderr[-3000:]
    assert "gradle-sample: healthy in " in deployed.stdout, deployed.stdout[-3000:]
    assert f"http://127.0.0.1:{port}/ (guest port 8080)" in deployed.stdout, deployed.stdout[-3000:]
    stopped = _gradle(sample, repo, plugin_env, exe, "lwjvmStop")
    assert stopped.returncode == 0, stopped.stdout[-3000:] + stopped.stderr[-3000:]
    assert "gradle-sample: stopped (exited 143" in stopped.stdout, stopped.stdout[-3000:]
    logs = subprocess.run(
        [str(lwjvm_executable), "logs", "gradle-sample"], env=plugin_env, capture_output=True,
        text=True, check=True,
    ).stdout  # fmt: skip
    assert "serving until stopped" in logs and "Goodbye from gradle-sample" in logs, logs
    # skip: the task does nothing (stopping a VM that is not running would say so).
    skipped = _gradle(sample, repo, plugin_env, exe, "-PsampleSkip", "lwjvmStop")
    assert skipped.returncode == 0 and "lwjvm: skipped" in skipped.stdout, skipped.stdout[-2000:]
    assert "not running" not in skipped.stdout
    subprocess.run([str(lwjvm_executable), "rm", "gradle-sample"], env=plugin_env, check=True)

    tasks = _gradle(sample, repo, plugin_env, "-q", "tasks")
    assert tasks.returncode == 0, tasks.stderr[-2000:]
    for name in ("lwjvmBuild", "lwjvmRun", "lwjvmDeploy", "lwjvmStop"):
        assert f"\n{name} - " in tasks.stdout, tasks.stdout
