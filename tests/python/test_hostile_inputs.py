"""Hostile input to the host tool: every one ends in one `lwjvm: error:` line and exit code 125
(docs/protocol.md section 5), never a traceback or a hang, and nothing is written outside the build
directory. The bad-manifest corpus (tests/python/manifests/bad: alias bombs, recursive aliases,
1,000-deep nesting, NUL bytes) pins each message; here are the cases a text file cannot hold
(FIFOs, sockets, devices, sizes) and a property-based test over mutated manifests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

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
    with pytest.raises(LwjvmError, match=r"app.classpath\[0\]: /dev/null is a device"):
        manifest.load(m)


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
