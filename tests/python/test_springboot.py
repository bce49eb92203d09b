"""Spring Boot executable jars: recognised, and extracted into Spring Boot's `extract` layout
(the application jar with Main-Class = Start-Class, lib/ with the nested jars unchanged, in
classpath.idx order) deterministically, once per jar."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from lwjvm import springboot
from lwjvm.errors import LwjvmError

BOOT_MANIFEST = (
    "Manifest-Version: 1.0\r\n"
    "Main-Class: org.springframework.boot.loader.launch.JarLauncher\r\n"
    "Start-Class: com.example.App\r\n"
    "Spring-Boot-Version: 3.5.7\r\n"
    "Spring-Boot-Classes: BOOT-INF/classes/\r\n"
    "Spring-Boot-Lib: BOOT-INF/lib/\r\n"
    "Spring-Boot-Classpath-Index: BOOT-INF/classpath.idx\r\n"
    "Implementation-Title: a-very-long-implementation-title-that-needs-a-continuation-line-here\r\n"
    "\r\n"
)


def _jar(path: Path, entries: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in entries.items():
            zf.writestr(name, data)
    return path


def _boot_jar(path: Path) -> Path:
    lib_b = _jar(path.parent / "b.jar", {"b/B.class": b"B"})
    lib_a = _jar(path.parent / "a.jar", {"a/A.class": b"A"})
    tools = _jar(path.parent / "t.jar", {"t/T.class": b"T"})
    return _jar(
        path,
        {
            "META-INF/MANIFEST.MF": BOOT_MANIFEST.encode(),
            "META-INF/maven/com.example/app/pom.properties": b"version=1\n",
            "org/springframework/boot/loader/launch/JarLauncher.class": b"launcher",
            "BOOT-INF/classes/com/example/App.class": b"app",
            "BOOT-INF/classes/application.properties": b"x=1\n",
            "BOOT-INF/lib/b-1.0.jar": lib_b.read_bytes(),
            "BOOT-INF/lib/a-1.0.jar": lib_a.read_bytes(),
            "BOOT-INF/lib/spring-boot-jarmode-tools-3.5.7.jar": tools.read_bytes(),
            "BOOT-INF/classpath.idx": b'- "BOOT-INF/lib/b-1.0.jar"\n- "BOOT-INF/lib/a-1.0.jar"\n'
            b'- "BOOT-INF/lib/spring-boot-jarmode-tools-3.5.7.jar"\n',
        },
    )


def test_start_class_only_for_executable_jars(tmp_path: Path) -> None:
    assert springboot.start_class(_boot_jar(tmp_path / "app.jar")) == "com.example.App"
    plain = _jar(tmp_path / "plain.jar", {"META-INF/MANIFEST.MF": b"Main-Class: X\r\n\r\n"})
    assert springboot.start_class(plain) is None
    (tmp_path / "junk.jar").write_bytes(b"not a zip")
    assert springboot.start_class(tmp_path / "junk.jar") is None


def test_extract_gives_spring_boots_layout_in_class_path_order(tmp_path: Path) -> None:
    source = _boot_jar(tmp_path / "app.jar")
    ex = springboot.extract(source, tmp_path / "cache")
    assert ex.start_class == "com.example.App" and ex.boot_version == "3.5.7"
    assert [p.name for p in ex.libs] == ["b-1.0.jar", "a-1.0.jar"]  # jarmode tools left out
    assert all(p.parent.name == "lib" and p.parent.parent == ex.jar.parent for p in ex.libs)
    with zipfile.ZipFile(source) as zf:
        assert ex.libs[0].read_bytes() == zf.read("BOOT-INF/lib/b-1.0.jar")  # unchanged bytes
    with zipfile.ZipFile(ex.jar) as zf:
        names = zf.namelist()
        manifest = zf.read("META-INF/MANIFEST.MF").decode()
    assert ex.jar.name == "app.jar"
    assert names[0] == "META-INF/MANIFEST.MF"
    assert "com/example/App.class" in names and "application.properties" in names
    assert "META-INF/maven/com.example/app/pom.properties" in names
    assert not any(n.startswith(("BOOT-INF/", "org/springframework/boot/loader/")) for n in names)
    unfolded = manifest.replace("\r\n ", "")
    assert "Main-Class: com.example.App\r\n" in unfolded
    assert "Start-Class" not in unfolded and "Spring-Boot-Lib" not in unfolded
    assert "Implementation-Title: a-very-long-implementation-title-that-needs-a" in unfolded
    assert all(len(line) <= 72 for line in manifest.encode().split(b"\r\n"))


def test_extract_is_deterministic_and_cached(tmp_path: Path) -> None:
    source = _boot_jar(tmp_path / "app.jar")
    one = springboot.extract(source, tmp_path / "c1")
    two = springboot.extract(source, tmp_path / "c2")
    assert one.jar.read_bytes() == two.jar.read_bytes()
    again = springboot.extract(source, tmp_path / "c1")
    assert again.jar == one.jar and again.jar.stat().st_mtime == one.jar.stat().st_mtime


def test_extract_refuses_a_plain_jar(tmp_path: Path) -> None:
    plain = _jar(tmp_path / "plain.jar", {"META-INF/MANIFEST.MF": b"Main-Class: X\r\n\r\n"})
    with pytest.raises(LwjvmError, match="not a Spring Boot executable jar"):
        springboot.extract(plain, tmp_path / "cache")
