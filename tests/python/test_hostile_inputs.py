"""Hostile input to the host tool: every one ends in one `lwjvm: error:` line and exit code 125
(docs/protocol.md section 5), never a traceback or a hang, and nothing is written outside the build
directory. The bad-manifest corpus (tests/python/manifests/bad: alias bombs, recursive aliases,
1,000-deep nesting, NUL bytes) pins each message; here are the cases a text file cannot hold
(FIFOs, sockets, devices, sizes) and a property-based test over mutated manifests."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lwjvm import manifest
from lwjvm.errors import LwjvmError

BAD = Path(__file__).parent / "manifests" / "bad"
HOSTILE = ("alias-bomb", "alias-bomb-few-aliases", "alias-recursive", "nesting-deep", "nul-raw")


def _lwjvm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "lwjvm", *args], cwd=cwd, capture_output=True, text=True, timeout=60
    )


def _tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_manifest_is_one_error_line_and_exit_125(name: str, tmp_path: Path) -> None:
    work = tmp_path / "project"
    work.mkdir()
    (work / "app.jar").write_bytes(b"")
    (work / "app.yaml").write_bytes((BAD / f"{name}.yaml").read_bytes())
    before = _tree(tmp_path)
    r = _lwjvm("build", "app.yaml", cwd=work)
    assert r.returncode == 125, r.stderr
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("lwjvm: error: app.yaml:"), r.stderr
    assert "Traceback" not in r.stderr
    assert _tree(tmp_path) == before  # nothing written, not even the build directory


def _app(tmp_path: Path, extra: str) -> Path:
    (tmp_path / "app.jar").write_bytes(b"")
    m = tmp_path / "app.yaml"
    m.write_text(f"name: hostile\napp:\n  jar: app.jar\n  main: Main\n{extra}")
    return m


def test_fifo_on_the_class_path_is_refused_without_opening_it(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "lib.jar")
    _app(tmp_path, "  classpath: [lib.jar]\n")
    r = _lwjvm("build", "app.yaml", cwd=tmp_path)  # opening the FIFO would hang: timeout=60
    assert r.returncode == 125
    want = f"app.yaml:5: app.classpath[0]: {tmp_path}/lib.jar is a FIFO: expected a file"
    assert r.stderr == f"lwjvm: error: {want}\n"


def test_fifo_socket_or_device_in_files_is_refused(tmp_path: Path) -> None:
    conf = tmp_path / "conf"
    conf.mkdir()
    (conf / "ok.txt").write_text("fine\n")
    os.mkfifo(conf / "pipe")
    m = _app(tmp_path, "files: [{src: conf/, dst: /app/conf/}]\n")
    with pytest.raises(
        LwjvmError, match=r"files\[0\]\.src: .*/conf/pipe is a FIFO: expected a file"
    ):
        manifest.load(m)
    (conf / "pipe").unlink()
    with socket.socket(socket.AF_UNIX) as s:
        s.bind(str(conf / "sock"))
        with pytest.raises(LwjvmError, match=r"conf/sock is a socket: expected a file"):
            manifest.load(m)
    (conf / "sock").unlink()
    os.symlink("/dev/null", tmp_path / "null.jar")
    m = _app(tmp_path, "  classpath: [null.jar]\n")
    with pytest.raises(LwjvmError, match=r"app.classpath\[0\]: 'null.jar' is outside"):
        manifest.load(m)  # the link leads outside the manifest's directory
    with pytest.raises(LwjvmError, match=r"app.classpath\[0\]: /dev/null is a device"):
        manifest.load(m, [Path("/dev/null")])


def test_paths_outside_the_manifest_directory_need_allow_outside(tmp_path: Path) -> None:
    """The jar, class path entries and files: resolve (symlinks followed) inside the manifest's
    directory, or inside a path the user names with --allow-outside: a directory allows what is
    under it, a file allows that file only."""
    project, repo = tmp_path / "project", tmp_path / "m2"
    (repo / "a").mkdir(parents=True)
    for jar in ("a/one.jar", "a/two.jar"):
        (repo / jar).write_bytes(b"")
    project.mkdir()
    (project / "deps").symlink_to(repo)  # inside by name, outside once followed
    m = _app(project, f"  classpath: [{repo}/a/one.jar, deps/a/two.jar]\n")
    with pytest.raises(LwjvmError, match=r"app.yaml:5: app.classpath\[0\]: '.*/m2/a/one.jar' is "
                       r"outside the manifest's directory .*/project: expected a path inside it "
                       r"\(or allow it with --allow-outside PATH\)$"):  # fmt: skip
        manifest.load(m)
    loaded = manifest.load(m, [repo])
    assert loaded.classpath == [repo / "a" / "one.jar", repo / "a" / "two.jar"]
    with pytest.raises(LwjvmError, match=r"app.classpath\[1\]: 'deps/a/two.jar' is outside"):
        manifest.load(m, [repo / "a" / "one.jar"])  # a file allows only itself
    assert len(manifest.load(m, [repo / "a" / "one.jar", repo / "a" / "two.jar"]).classpath) == 2
    with pytest.raises(LwjvmError, match=r"^--allow-outside .*/nowhere: no such file or directory"):
        manifest.load(m, [tmp_path / "nowhere"])
    # A manifest cannot walk or probe the host: a directory outside is refused before it is read.
    m = _app(project, "  classpath: [/]\n")
    with pytest.raises(LwjvmError, match=r"app.classpath\[0\]: '/' is outside"):
        manifest.load(m)
    m = _app(project, "  classpath: [/no/such/file.jar]\n")
    with pytest.raises(LwjvmError, match=r"app.classpath\[0\]: '/no/such/file.jar' is outside"):
        manifest.load(m)


def test_build_refuses_a_jar_outside_unless_allowed(tmp_path: Path) -> None:
    """`lwjvm build` of a manifest whose jar is elsewhere: one error line and 125, nothing
    written; with --allow-outside the manifest is accepted and the build goes on to the jar."""
    project, elsewhere = tmp_path / "project", tmp_path / "elsewhere"
    project.mkdir()
    elsewhere.mkdir()
    (elsewhere / "app.jar").write_bytes(b"not a zip")
    (project / "app.yaml").write_text("name: out\napp:\n  jar: ../elsewhere/app.jar\n")
    before = _tree(tmp_path)
    r = _lwjvm("build", "app.yaml", cwd=project)
    assert r.returncode == 125, r.stderr
    assert r.stderr == (
        f"lwjvm: error: app.yaml:3: app.jar: '../elsewhere/app.jar' is outside the manifest's "
        f"directory {project}: expected a path inside it (or allow it with --allow-outside PATH)\n"
    )
    assert _tree(tmp_path) == before
    r = _lwjvm("build", "--no-kernel", "--allow-outside", "../elsewhere", "app.yaml", cwd=project)
    assert (r.returncode, r.stderr) == (  # accepted, then refused for what it holds
        125, f"lwjvm: error: {elsewhere}/app.jar: not a readable jar: zip END header not found\n"
    )


def test_manifest_that_is_a_fifo_or_too_large_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "app.yaml")
    with pytest.raises(LwjvmError, match="the manifest is not a regular file"):
        manifest.load(tmp_path / "app.yaml")
    big = tmp_path / "big.yaml"
    big.write_text("name: big\n" + "#" * manifest.MAX_MANIFEST_BYTES + "\n")
    with pytest.raises(LwjvmError, match="the manifest is larger than 1M"):
        manifest.load(big)


BASE = """\
name: prop
app:
  jar: app.jar
  main: com.example.Main
  args: ["--port", "8080"]
jvm:
  options: ["-XX:+UseSerialGC"]
  properties: {app.mode: prod}
env: {GREETING: hello}
files: [{src: conf/, dst: /app/conf/}]
vm: {memory: 256M, cpus: 1}
"""
FRAGMENTS = [
    "&a ", "*a", "<<: *a\n", "[", "]", "{", "}", ": ", "- ", "\n  ", "\x00", "\\0", '"\\0"',
    "\t", "\x1b", "\ufeff", "!!python/object:os.system", "!!binary AAAA", "? ", "|", ">",
    "../", "/etc/passwd", "~", "1e309", "0x7fffffffffffffff", "-1", "null", "'", '"', "#",
    "[" * 40 + "]" * 40, "&b [*b]", "%YAML 1.1\n", "---\n", "...\n", "\u2028", "\r",
]  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn) -> str:
    text = BASE
    for _ in range(draw(st.integers(1, 6))):
        pos = draw(st.integers(0, len(text)))
        op = draw(st.sampled_from(["insert", "delete", "replace"]))
        piece = draw(st.one_of(st.sampled_from(FRAGMENTS), st.text(max_size=8)))
        if op == "insert":
            text = text[:pos] + piece + text[pos:]
        elif op == "delete":
            text = text[:pos] + text[pos + draw(st.integers(1, 20)) :]
        else:
            text = text[:pos] + piece + text[pos + len(piece) :]
    return text


@settings(
    max_examples=3000, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
@given(text=mutated())
def test_mutated_manifests_load_or_fail_with_one_line(
    text: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    work = tmp_path_factory.mktemp("m")
    (work / "app.jar").write_bytes(b"")
    (work / "conf").mkdir()
    (work / "app.yaml").write_text(text, encoding="utf-8", errors="surrogatepass")
    before = _tree(work)
    try:
        manifest.load(work / "app.yaml")
    except LwjvmError as e:
        message = str(e)
        assert message and "\n" not in message and "Traceback" not in message, repr(message)
        assert message.startswith(str(work / "app.yaml")), message
    assert _tree(work) == before


MARKER = "jdk-code-ran"


def _trojan_jdk(root: Path, marker: Path) -> Path:
    """A directory that passes for a JDK 17 by its release file and layout, whose java, jlink
    and jdeps are shell scripts that leave `marker` behind: what a hostile project could ship."""
    for sub in ("bin", "lib/server", "jmods"):
        (root / sub).mkdir(parents=True)
    script = f"#!/bin/sh\ntouch {marker}\n"
    for tool in ("java", "jlink", "jdeps", "jar"):
        (root / "bin" / tool).write_text(script)
        (root / "bin" / tool).chmod(0o755)
    (root / "lib" / "server" / "libjvm.so").write_text(script)
    (root / "lib" / "modules").write_bytes(b"\xda\xda\xfe\xca")
    (root / "jmods" / "java.base.jmod").write_bytes(b"")
    (root / "release").write_text('JAVA_VERSION="17.0.9"\nMODULES="java.base jdk.jlink"\n')
    return root


def test_a_jdk_inside_the_project_is_refused_and_never_run(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    marker = tmp_path / MARKER
    _trojan_jdk(project / "jdk", marker)
    _app(project, "jvm:\n  home: jdk\n")
    r = _lwjvm("build", "--no-kernel", "app.yaml", cwd=project)
    assert r.returncode == 125, r.stderr
    assert r.stderr.startswith("lwjvm: error: ") and r.stderr.count("\n") == 1, r.stderr
    assert r.stderr.endswith(
        f"app.yaml:6: jvm.home: {project}/jdk is inside the manifest's directory "
        f"{project}: lwjvm runs that JDK's jlink and jdeps on this host while it builds, so "
        "jvm.home must name a JDK installed outside the project (or leave jvm.home out and set "
        "JAVA_HOME)\n"
    ), r.stderr
    assert not marker.exists()
    assert not (project / "build").exists()


def test_a_jdk_outside_the_project_must_be_a_real_installed_one(
    tmp_path: Path, java_jdk: Any
) -> None:
    from lwjvm.jdk import find_jdk

    project = tmp_path / "project"
    project.mkdir()
    marker = tmp_path / MARKER
    fake = _trojan_jdk(tmp_path / "jdk-17", marker)
    m = _app(project, f"jvm:\n  home: {fake}\n")
    with pytest.raises(LwjvmError, match=r"app.yaml:6: jvm.home: .*/jdk-17 is not a JDK: "
                       r"lib/modules is not the JDK's module image|bin/java is not an ELF"):
        loaded = manifest.load(m)
        find_jdk(loaded.jvm_home, loaded.where(("jvm", "home")), loaded.directory)
    # The host's own JDK, named directly or through a link in the project, is fine.
    (project / "jdk-link").symlink_to(java_jdk.home)
    for home in (str(java_jdk.home), "jdk-link"):
        loaded = manifest.load(_app(project, f"jvm:\n  home: {home}\n"))
        jdk = find_jdk(loaded.jvm_home, loaded.where(("jvm", "home")), loaded.directory)
        assert jdk.home == java_jdk.home.resolve()
    # A copy of the real JDK that other users can change, or that belongs to one, is not.
    copy = tmp_path / "shared" / "jdk"
    shutil.copytree(java_jdk.home, copy, ignore_dangling_symlinks=True)
    copy.parent.chmod(0o777)
    loaded = manifest.load(_app(project, f"jvm:\n  home: {copy}\n"))
    with pytest.raises(LwjvmError, match=r"jvm.home: .*/shared is writable by other users "
                       r"\(drwxrwxrwx\): anyone could replace the JDK lwjvm runs on the host"):
        find_jdk(loaded.jvm_home, loaded.where(("jvm", "home")), loaded.directory)
    copy.parent.chmod(0o755)
    find_jdk(loaded.jvm_home, loaded.where(("jvm", "home")), loaded.directory)
    if os.geteuid() == 0:
        os.chown(copy / "bin" / "jlink", 4242, 4242)
        with pytest.raises(LwjvmError, match=r"jvm.home: .*/bin/jlink belongs to uid 4242, not "
                           "to root or to you"):
            find_jdk(loaded.jvm_home, loaded.where(("jvm", "home")), loaded.directory)
    assert not marker.exists()


JVM_HOMES = ["jdk", "./jdk/", "jdk/bin", "../jdk-17", "/", "/etc", "/dev/null", "/proc/self/root",
             "/tmp", "..", ".", "", "~", "jdk-link", "root-link", "fifo", "/nonexistent/jdk",
             "a" * 300, "jdk\\0", "$JAVA_HOME", "%s"]  # fmt: skip


@settings(max_examples=300, deadline=None, database=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(home=st.one_of(st.sampled_from(JVM_HOMES), st.text(max_size=12)),
       suffix=st.sampled_from(["", "/", "/.", "/../jdk", "/bin/.."]))  # fmt: skip
def test_mutated_jvm_homes_never_pick_a_jdk_from_the_project(
    home: str, suffix: str, tmp_path_factory: pytest.TempPathFactory, java_jdk: Any
) -> None:
    """Whatever jvm.home says, the JDK found is an installed one outside the project (the host's
    own, here) or the answer is one error line naming the field; nothing of a JDK the project
    ships runs, and nothing is written."""
    from lwjvm.jdk import find_jdk

    work = tmp_path_factory.mktemp("jh")
    project = work / "project"
    project.mkdir()
    marker = work / MARKER
    _trojan_jdk(project / "jdk", marker)
    _trojan_jdk(work / "jdk-17", marker)
    (project / "jdk-link").symlink_to(java_jdk.home)
    (project / "root-link").symlink_to("/")
    os.mkfifo(project / "fifo")
    m = _app(project, "jvm:\n  home: " + json.dumps(home + suffix) + "\n")
    before = _tree(work)
    try:
        loaded = manifest.load(m)
        if loaded.jvm_home is not None:
            jdk = find_jdk(loaded.jvm_home, loaded.where(("jvm", "home")), loaded.directory)
            assert jdk.home == java_jdk.home.resolve(), jdk.home
    except LwjvmError as e:
        message = str(e)
        assert message and "\n" not in message and "Traceback" not in message, repr(message)
        assert message.startswith(str(m)), message
    assert not marker.exists()
    assert _tree(work) == before


@pytest.mark.parametrize("home", ["\n", "jdk\n17", "\x1b[2J\x1b[H"])
def test_control_characters_in_a_value_stay_out_of_the_error_line(
    home: str, tmp_path: Path
) -> None:
    """A newline or a terminal escape in jvm.home (a legal path) is written escaped in the error:
    one line, and nothing that drives the terminal (hypothesis found the newline)."""
    from lwjvm.jdk import find_jdk

    m = _app(tmp_path, "jvm:\n  home: " + json.dumps(home) + "\n")
    loaded = manifest.load(m)
    assert loaded.jvm_home is not None
    with pytest.raises(LwjvmError) as e:
        find_jdk(loaded.jvm_home, loaded.where(("jvm", "home")), loaded.directory)
    message = str(e.value)
    assert "\n" not in message and "\x1b" not in message, repr(message)
    assert repr(home)[1:-1] in message, message


def test_a_program_naming_a_host_file_as_its_interpreter_is_refused(tmp_path: Path) -> None:
    """lwjvm exec copies a dynamic program's interpreter and libraries into the image: a crafted
    PT_INTERP (/etc/shadow) must not bring a host file along (the program is never run here)."""
    from lwjvm import elfinfo

    src = tmp_path / "p.c"
    src.write_text("int main(void) { return 0; }\n")
    subprocess.run(["gcc", str(src), "-o", str(tmp_path / "p")], check=True)
    data = (tmp_path / "p").read_bytes()
    old = b"/lib64/ld-linux-x86-64.so.2"
    evil = tmp_path / "evil"
    evil.write_bytes(data.replace(old, b"/etc/shadow".ljust(len(old), b"\0"), 1))
    prog = elfinfo.check_program(evil)
    assert prog.interp == "/etc/shadow"
    with pytest.raises(LwjvmError, match="interpreter or library /etc/shadow is not an ELF file"):
        elfinfo.dependencies(prog)
