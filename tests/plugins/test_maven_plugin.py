"""lwjvm-maven-plugin end to end: its own build with the maven-invoker-plugin integration test
(plugins/maven/src/it/hello: a project with a runtime dependency, `mvn package lwjvm:run` in the
guest, a build that lwjvm refuses, `lwjvm:deploy` and `lwjvm:stop`), and `lwjvm:help` by
coordinates."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MVN_TIMEOUT_S = 1200  # a cold jlink plus a TCG boot on a loaded 2-CPU machine, with headroom


def test_invoker_project_builds_runs_in_the_guest_and_fails_with_lwjvms_line(
    tmp_path: Path, lwjvm_executable: Path, plugin_env: dict[str, str], guest: None
) -> None:
    src = tmp_path / "maven"
    shutil.copytree(REPO / "plugins" / "maven", src, ignore=shutil.ignore_patterns("target"))
    proc = subprocess.run(
        ["mvn", "-B", "verify", f"-Dlwjvm.executable={lwjvm_executable}"],
        cwd=src, env=plugin_env, capture_output=True, text=True, timeout=MVN_TIMEOUT_S,
    )  # fmt: skip
    build_log = src / "target" / "it" / "hello" / "build.log"
    detail = proc.stdout[-4000:] + (build_log.read_text()[-4000:] if build_log.exists() else "")
    assert proc.returncode == 0, detail
    assert "Passed: 1, Failed: 0, Errors: 0, Skipped: 0" in proc.stdout, detail
    log = build_log.read_text()
    # The app's own line, streamed from the guest into Maven's log.
    assert "[INFO] Hello from-maven, it.property=set, os.name=Linux" in log
    # The generated manifest is in target/lwjvm; the jar and the dependency in the local
    # repository are outside it, each allowed by name.
    assert re.search(r"--allow-outside \S*/target/Hello_IT-[^ ]*\.jar ", log), log[-4000:]
    assert re.search(r"--allow-outside \S*/commons-lang3-3\.17\.0\.jar ", log), log[-4000:]
    # lwjvm's one-line error became the MojoFailureException's message.
    assert "on project Hello_IT: lwjvm: error: " in log
    assert "name: expected a name of lower-case letters" in log
    # Deployed detached, healthy, then stopped gracefully (verify.groovy read the app's log too).
    assert "hello_it: healthy in " in log and "hello_it: stopped (exited 143" in log


def test_help_documents_every_parameter(plugin_env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.run(
        ["mvn", "-B", "-o", "dev.lwjvm:lwjvm-maven-plugin:0.1.0:help", "-Ddetail"],
        cwd=tmp_path, env=plugin_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    for goal in ("lwjvm:build", "lwjvm:run", "lwjvm:deploy", "lwjvm:stop", "lwjvm:help"):
        assert goal in proc.stdout
    for param in (
        "executable", "manifest", "name", "memory", "ports", "jvmOptions", "env", "mainClass",
        "args", "jar", "outputDirectory", "skip", "timeout", "stopTimeout", "allowOutside",
    ):  # fmt: skip
        assert f"\n    {param}" in proc.stdout, param
