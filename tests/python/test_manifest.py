"""Manifest validation: the good and bad corpus (with the exact messages), and `lwjvm init`."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from lwjvm import manifest
from lwjvm.cli import cli
from lwjvm.errors import LwjvmError

CORPUS = Path(__file__).parent / "manifests"
EXAMPLES = Path(__file__).resolve().parents[2] / "manifests" / "examples"
BAD = sorted((CORPUS / "bad").glob("*.yaml"))
GOOD = sorted((CORPUS / "good").glob("*.yaml"))


def _workspace(tmp_path: Path, files: list[Path]) -> Path:
    """A directory with the manifests and the files they point at."""
    work = tmp_path / "project"
    work.mkdir()
    for f in files:
        shutil.copy(f, work / f.name)
    (work / "app.jar").write_bytes(b"")
    (work / "lib").mkdir()
    (work / "config").mkdir()
    (work / "config" / "app.properties").write_text("a=1\n")
    (tmp_path / "secret.txt").write_text("outside\n")
    (work / "escape").symlink_to(tmp_path)  # a symlink inside that leads outside
    return work


@pytest.mark.parametrize("case", BAD, ids=lambda p: p.stem)
def test_bad_manifest_error_names_file_line_and_field(
    case: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = case.read_text().splitlines()[0]
    assert first.startswith("# error: "), f"{case.name} must start with '# error: MESSAGE'"
    work = _workspace(tmp_path, [case])
    monkeypatch.chdir(work)
    expected = (
        first[len("# error: ") :].replace("{file}", case.name).replace("{dir}", str(work.resolve()))
    )
    with pytest.raises(LwjvmError) as info:
        manifest.load(case.name)
    assert str(info.value) == expected


@pytest.mark.parametrize("case", GOOD, ids=lambda p: p.stem)
def test_good_manifest_loads(case: Path, tmp_path: Path) -> None:
    work = _workspace(tmp_path, [case])
    m = manifest.load(work / case.name)
    assert m.name
    assert all(p.is_absolute() and p.exists() for p in m.full_classpath())


def test_relative_paths_resolve_against_manifest_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    work = _workspace(tmp_path, [CORPUS / "good" / "files.yaml"])
    monkeypatch.chdir(tmp_path)
    m = manifest.load("project/files.yaml")
    assert m.jar == (work / "app.jar").resolve()
    assert [f.src for f in m.files] == [
        (work / "config").resolve(),
        (work / "config" / "app.properties").resolve(),
    ]


def test_full_manifest_values(tmp_path: Path) -> None:
    work = _workspace(tmp_path, [CORPUS / "good" / "modules-list.yaml"])
    m = manifest.load(work / "modules-list.yaml")
    assert (m.memory, m.cpus) == (1 << 30, 1)
    assert not m.modules_auto and m.modules == ["java.base", "java.logging"]
    assert m.properties == {"a.b": "1", "flag": "true", "text": "hi"}
    assert m.env == {"A_1": "x", "B": "2"}
    assert m.cds is True


@pytest.mark.parametrize("example", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.stem)
def test_reference_manifests_are_valid(example: Path, tmp_path: Path) -> None:
    shutil.copy(example, tmp_path / example.name)
    for rel in (
        "hello.jar",
        "target/greeter.jar",
        "target/lib/text-utils.jar",
        "target/hello-http.jar",
    ):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    (tmp_path / "config").mkdir()
    m = manifest.load(tmp_path / example.name)
    assert m.name == example.stem.replace("with-deps", "greeter")


def test_jar_without_main_class_and_no_main_is_an_error(
    java_program: Any,
    java_tools: Any,
    tmp_path: Path,
) -> None:
    jar = java_program("nomain", {"Lib.java": "public class Lib {}"})
    shutil.copy(jar, tmp_path / "lib.jar")
    (tmp_path / "app.yaml").write_text("name: nomain\napp:\n  jar: lib.jar\n")
    m = manifest.load(tmp_path / "app.yaml")
    with pytest.raises(LwjvmError) as info:
        m.resolve_main(java_tools.main_class)
    assert str(info.value) == (
        f"{tmp_path / 'app.yaml'}:3: app.jar: lib.jar has no Main-Class in its manifest: "
        "name the main class in app.main"
    )


def test_init_writes_a_manifest_that_builds_on_the_jar_main_class(
    hello_jar: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copy(hello_jar, tmp_path / "hello.jar")
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["init", "hello.jar"])
    assert result.exit_code == 0, result.output
    text = (tmp_path / "app.yaml").read_text()
    assert "main: Hello" in text and text.startswith("# lwjvm manifest for hello.jar")
    m = manifest.load("app.yaml")
    assert (m.name, m.main, m.jar) == ("hello", "Hello", (tmp_path / "hello.jar").resolve())


def test_init_refuses_to_overwrite(hello_jar: Path, tmp_path: Path) -> None:
    out = tmp_path / "app.yaml"
    out.write_text("keep me\n")
    with pytest.raises(LwjvmError, match="already exists"):
        manifest.init_manifest(hello_jar, out)
    assert out.read_text() == "keep me\n"


def test_init_without_main_class_leaves_main_commented(
    java_program: Any,
    tmp_path: Path,
) -> None:
    jar = java_program("initlib", {"Lib.java": "public class Lib {}"})
    out = tmp_path / "app.yaml"
    text = manifest.init_manifest(jar, out)
    assert "  # main: com.example.Main" in text
    # The jar is outside the manifest's directory: init says how to build it, and it builds so.
    assert f"# Build the image with: lwjvm build --allow-outside {jar.parent} app.yaml" in text
    with pytest.raises(LwjvmError, match="outside the manifest's directory"):
        manifest.load(out)
    assert manifest.load(out, [jar.parent]).main is None


def test_training_requests_default_to_the_health_path_on_the_first_port(tmp_path: Path) -> None:
    base = "name: svc\napp: {jar: a.jar}\nvm: {ports: ['9000:8080', '9001:8081']}\n"
    (tmp_path / "a.jar").write_bytes(b"")
    cases = {
        "": None,
        "health: {http: /healthz}\n": (8080, ["/healthz"]),
        "health: {http: /healthz, port: 8081}\n": (8081, ["/healthz"]),
        "health: {http: /h}\njvm: {cds: {requests: [/, /a]}}\n": (8080, ["/", "/a"]),
        "health: {http: /h}\njvm: {cds: {requests: []}}\n": None,
    }
    for extra, want in cases.items():
        m = tmp_path / "app.yaml"
        m.write_text(base + extra)
        assert manifest.load(m).training_requests() == want, extra
    m.write_text("name: svc\napp: {jar: a.jar}\nhealth: {http: /h}\n")
    assert manifest.load(m).training_requests() is None  # no port to send them to


def test_training_requests_must_be_paths(tmp_path: Path) -> None:
    (tmp_path / "a.jar").write_bytes(b"")
    m = tmp_path / "app.yaml"
    m.write_text("name: svc\napp: {jar: a.jar}\njvm: {cds: {requests: [health]}}\n")
    with pytest.raises(LwjvmError, match=r"app.yaml:3: jvm.cds"):
        manifest.load(m)
