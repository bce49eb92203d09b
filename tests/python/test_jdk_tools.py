"""JDK discovery and the JDK tools (jdeps, jlink, jar reading) in-process and as executables."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest

from lwjvm import runtime
from lwjvm.errors import LwjvmError
from lwjvm.jdk import find_jdk, open_jdk
from lwjvm.jvmtools import JavaTools, main_class_from_zip

TEMURIN_25 = Path("/usr/lib/jvm/temurin-25-jdk-amd64")


def _fake_jdk(root: Path, version: str, jmods: bool) -> Path:
    """A directory that looks like a JDK of `version` to the release-file checks."""
    (root / "bin").mkdir(parents=True)
    (root / "lib" / "server").mkdir(parents=True)
    (root / "bin" / "java").write_bytes(b"")
    (root / "bin" / "jlink").write_bytes(b"")
    (root / "lib" / "server" / "libjvm.so").write_bytes(b"")
    (root / "release").write_text(f'JAVA_VERSION="{version}"\nMODULES="java.base jdk.jlink"\n')
    if jmods:
        (root / "jmods").mkdir()
        (root / "jmods" / "java.base.jmod").write_bytes(b"")
    return root


def test_manifest_home_wins_over_java_home(
    java_jdk: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path / "nowhere"))
    assert find_jdk(java_jdk.home).home == java_jdk.home


def test_java_home_wins_over_path(
    java_jdk: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = _fake_jdk(tmp_path / "jdk21", "21.0.1", jmods=True)
    monkeypatch.setenv("JAVA_HOME", str(fake))
    assert find_jdk().home == fake.resolve()


def test_java_on_path_is_followed_to_its_jdk(
    java_jdk: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bindir = tmp_path / "bin"
    bindir.mkdir()
    (bindir / "java").symlink_to(java_jdk.java)
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(bindir))
    assert find_jdk().home == java_jdk.home


def test_no_jdk_anywhere_says_where_it_looked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("JAVA_HOME", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(
        LwjvmError, match="no JDK found: set jvm.home in the manifest, set JAVA_HOME"
    ):
        find_jdk()


def test_java_home_that_is_not_a_jdk(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("JAVA_HOME", str(tmp_path))
    with pytest.raises(LwjvmError) as info:
        find_jdk()
    assert str(info.value).startswith(
        f"JAVA_HOME={tmp_path}: {tmp_path} is not a JDK: no readable 'release' file"
    )


def test_jdk_older_than_17_is_refused(tmp_path: Path) -> None:
    fake = _fake_jdk(tmp_path / "jdk11", "11.0.2", jmods=True)
    with pytest.raises(LwjvmError) as info:
        find_jdk(fake, "app.yaml:7: jvm.home")
    assert str(info.value) == (
        f"app.yaml:7: jvm.home: JDK 11.0.2 at {fake.resolve()} is Java 11.0.2: "
        "lwjvm needs JDK 17 or later"
    )


def test_jdk_before_24_without_jmods_cannot_link(tmp_path: Path) -> None:
    fake = _fake_jdk(tmp_path / "jdk17", "17.0.9", jmods=False)
    with pytest.raises(LwjvmError, match="has no jmods/ directory, and before JDK 24 jlink"):
        find_jdk(fake)


def test_jdk_24_plus_links_from_its_runtime_image(tmp_path: Path) -> None:
    fake = _fake_jdk(tmp_path / "jdk25", "25.0.1", jmods=False)
    assert find_jdk(fake).feature == 25


def test_jdeps_in_process_and_as_executable_agree(
    java_jdk: Any, greeter_jars: tuple[Path, Path]
) -> None:
    in_process = JavaTools(java_jdk)
    assert in_process.mode == "jpype", in_process.fallback_reason
    executable = JavaTools(java_jdk, mode="exec")
    cp = list(greeter_jars)
    assert in_process.jdeps_modules(cp) == ["java.base", "java.xml"]
    assert executable.jdeps_modules(cp) == ["java.base", "java.xml"]


def test_main_class_read_in_process_and_from_zip(java_jdk: Any, hello_jar: Path) -> None:
    assert JavaTools(java_jdk).main_class(hello_jar) == "Hello"
    assert JavaTools(java_jdk, mode="exec").main_class(hello_jar) == "Hello"
    assert main_class_from_zip(hello_jar) == "Hello"


def _digest_tree(root: Path) -> dict[str, str]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            data = os.readlink(p).encode() if p.is_symlink() else p.read_bytes()
            out[str(p.relative_to(root))] = hashlib.sha256(data).hexdigest()
    return out


def test_jlink_gives_the_same_runtime_whatever_ran_before(
    java_jdk: Any, hello_jar: Path, tmp_path: Path, lwjvm_cache: Path
) -> None:
    """In-process jlink wrote method-handle species classes that depended on what its JVM had
    done before; jlink now always runs fresh, so every build of a key has the same bytes."""
    tools = JavaTools(java_jdk)
    tools.jdeps_modules([hello_jar])  # the in-process JVM (when JPype runs here) works first
    options = runtime.jlink_options(java_jdk, compress=True)
    a = runtime.assemble(tools, ["java.base"], options, lwjvm_cache)
    b = runtime.assemble(tools, ["java.base"], options, tmp_path / "one")
    c = runtime.assemble(JavaTools(java_jdk, mode="exec"), ["java.base"], options, tmp_path / "two")
    assert not b.cache_hit and not c.cache_hit and a.key == b.key == c.key
    assert _digest_tree(a.path) == _digest_tree(b.path) == _digest_tree(c.path)
    out = subprocess.run([a.java, "--list-modules"], capture_output=True, text=True, check=True)
    assert [line.split("@")[0] for line in out.stdout.split()] == ["java.base"]


def test_runtime_cache_hit_skips_jlink(java_jdk: Any, tmp_path: Path) -> None:
    tools = JavaTools(java_jdk)
    options = runtime.jlink_options(java_jdk, compress=True)
    calls: list[int] = []
    first = runtime.assemble(tools, ["java.base"], options, tmp_path, lambda: calls.append(1))
    second = runtime.assemble(tools, ["java.base"], options, tmp_path, lambda: calls.append(1))
    assert (first.cache_hit, second.cache_hit, calls) == (False, True, [1])
    assert first.path == second.path
    assert runtime.runtime_key(java_jdk, ["java.base", "java.logging"], options) != first.key
    assert runtime.runtime_key(java_jdk, ["java.base"], options[:-1]) != first.key


@pytest.mark.skipif(not TEMURIN_25.is_dir(), reason="Temurin 25 not installed")
def test_jdk_25_without_jmods_links_through_the_executable_fallback(
    java_jdk: Any, hello_jar: Path, lwjvm_cache: Path
) -> None:
    jdk25 = open_jdk(TEMURIN_25, "test")
    assert not jdk25.has_jmods
    tools = JavaTools(jdk25)
    if java_jdk.home != jdk25.home:
        # This process's one JVM is the test JDK: JPype cannot start Temurin 25 beside it.
        assert tools.mode == "exec" and "already" in (tools.fallback_reason or "")
    assert tools.jdeps_modules([hello_jar]) == ["java.base"]
    rt = runtime.assemble(tools, ["java.base"], runtime.jlink_options(jdk25, True), lwjvm_cache)
    out = subprocess.run(
        [rt.java, "-cp", hello_jar, "Hello", "x"], capture_output=True, text=True, check=True
    )
    assert out.stdout.startswith("Hello from lwjvm\nargs: x\n")


def test_jdeps_sees_the_jars_nested_in_a_spring_boot_style_jar(
    java_program: Any, java_jdk: Any, tmp_path: Path
) -> None:
    import zipfile

    from lwjvm.build import nested_jars
    from lwjvm.modules import jdeps_modules

    lib = java_program(
        "xmllib",
        {
            "lib/Xml.java": "package lib; public class Xml { public static Object f() throws "
            "Exception { return javax.xml.parsers.DocumentBuilderFactory.newInstance(); } }"
        },
    )
    app = java_program("bootapp", {"app/App.java": "package app; public class App {}"})
    fat = tmp_path / "fat.jar"
    with zipfile.ZipFile(fat, "w") as out, zipfile.ZipFile(app) as inner:
        for name in inner.namelist():
            target = name if name.startswith("META-INF/") else f"BOOT-INF/classes/{name}"
            out.writestr(target, inner.read(name))
        out.write(lib, "BOOT-INF/lib/xmllib.jar")
    tools = JavaTools(java_jdk)
    assert tools.jdeps_modules([fat]) == ["java.base"]  # jdeps alone misses the nested jar
    both = [fat, *nested_jars([fat], tmp_path / "nested")]
    assert jdeps_modules(tools, both, tmp_path) == (["java.base", "java.xml"], "jdeps")


def test_a_file_that_is_not_a_jar_is_a_clear_error(java_jdk: Any, tmp_path: Path) -> None:
    bad = tmp_path / "bad.jar"
    bad.write_text("not a zip\n")
    for mode in ("auto", "exec"):
        with pytest.raises(LwjvmError, match=f"{bad}: not a readable jar"):
            JavaTools(java_jdk, mode).main_class(bad)  # type: ignore[arg-type]
