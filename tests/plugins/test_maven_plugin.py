"""lwjvm-maven-plugin end to end: its own build with the maven-invoker-plugin integration test
(plugins/maven/src/it/hello: a project with a runtime dependency, `mvn package lwjvm:run` in the
guest, a build that lwjvm refuses, `lwjvm:deploy` and `lwjvm:stop`), and `lwjvm:help` by
coordinates."""

from __future__ import annotations

import os
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


MOJOS = REPO / "plugins" / "maven" / "src" / "main" / "java" / "dev" / "lwjvm" / "maven"
EXTENSION = REPO / "plugins/gradle/src/main/java/dev/lwjvm/gradle/LwjvmExtension.java"


def mojo_parameters() -> dict[str, str | None]:
    """Every user-settable @Parameter of the mojos' sources (name -> its user property or None);
    read-only ones (the project) are left out."""
    found: dict[str, str | None] = {}
    pattern = re.compile(
        r"@Parameter(\(([^)]*)\))?\s+(?:protected|private|public)\s+[\w<>, ]+?\s+(\w+);"
    )
    for src in sorted(MOJOS.glob("*.java")):
        for m in pattern.finditer(src.read_text()):
            attrs = m.group(2) or ""
            if "readonly = true" in attrs:
                continue
            prop = re.search(r'property = "([^"]+)"', attrs)
            found[m.group(3)] = prop.group(1) if prop else None
    return found


def extension_settings() -> list[str]:
    """The Gradle extension's settings: the properties with a public setter."""
    return re.findall(r"public void set(\w+)\(", EXTENSION.read_text())


def test_help_documents_every_parameter(plugin_env: dict[str, str], tmp_path: Path) -> None:
    proc = subprocess.run(
        ["mvn", "-B", "-o", "dev.lwjvm:lwjvm-maven-plugin:0.1.0:help", "-Ddetail"],
        cwd=tmp_path, env=plugin_env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stdout[-3000:]
    for goal in ("lwjvm:build", "lwjvm:run", "lwjvm:deploy", "lwjvm:stop", "lwjvm:help"):
        assert goal in proc.stdout
    params = mojo_parameters()
    assert len(params) >= 15 and "allowOutside" in params, params
    for param, prop in params.items():
        assert f"\n    {param}" in proc.stdout, param
        if prop:
            assert f"User property: {prop}" in proc.stdout, prop


def test_docs_show_every_setting_of_both_plugins() -> None:
    """docs/plugins.md's Maven table has a row per parameter (with its user property), and its
    Gradle section names every extension setting."""
    docs = (REPO / "docs" / "plugins.md").read_text()
    for param, prop in mojo_parameters().items():
        row = next((ln for ln in docs.splitlines() if ln.startswith(f"| `{param}`")), None)
        assert row is not None, f"docs/plugins.md: no row for the Maven parameter {param}"
        if prop:
            assert f"`{prop}`" in row, (param, row)
    gradle = docs[docs.index("## Gradle") :]
    settings = extension_settings()
    assert len(settings) >= 15, settings
    for name in settings:
        setting = name[0].lower() + name[1:]
        assert f"`{setting}`" in gradle, f"docs/plugins.md: Gradle setting {setting} missing"


def test_make_plugins_again_would_rebuild_nothing() -> None:
    """make setup ran make plugins (make test depends on it): the three jars are in the local
    repository, and a second run has nothing to do (make -n lists what it would run: only the
    apt check, none of the plugin builds, each of which starts with its `make plugins:` line)."""
    m2 = Path(os.environ.get("M2_REPO", Path.home() / ".m2" / "repository")) / "dev" / "lwjvm"
    for artifact in ("lwjvm-plugin-common", "lwjvm-maven-plugin", "lwjvm-gradle-plugin"):
        assert (m2 / artifact / "0.1.0" / f"{artifact}-0.1.0.jar").is_file(), artifact
    assert (m2 / "dev.lwjvm.gradle.plugin" / "0.1.0").is_dir()  # the Gradle plugin marker
    proc = subprocess.run(["make", "-n", "plugins"], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "make plugins:" not in proc.stdout, proc.stdout
