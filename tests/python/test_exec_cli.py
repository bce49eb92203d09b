"""`lwjvm exec` as a user meets it: one-line errors with exit code 125, and the guest's exit code.

The runs that boot use a generated guest (lwjvm/miniguest.py) as the kernel through
$LWJVM_KERNEL, so they pin the host side only; tests/guest runs the real kernel.
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from lwjvm import bootconf, elfinfo, miniguest, program, protocol, qemu
from lwjvm.image import Staging

COM1, COM2, COM3 = (base for base, _ in qemu.UARTS)


@pytest.fixture(scope="module")
def hello(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("prog")
    (d / "hello.c").write_text('#include <stdio.h>\nint main(void){puts("hi");return 0;}\n')
    subprocess.run(["gcc", "-static", "-o", str(d / "hello"), str(d / "hello.c")], check=True)
    return d / "hello"


def lwjvm(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    full_env = dict(os.environ, **(env or {}))
    return subprocess.run(
        [sys.executable, "-c", "from lwjvm.cli import main; main()", *args],
        capture_output=True,
        text=True,
        env=full_env,
        timeout=60,
    )


def assert_one_line_error(r: subprocess.CompletedProcess[str], message: str) -> None:
    assert r.returncode == 125, r.stderr
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("lwjvm: error: "), r.stderr
    assert message in lines[0]
    assert "Traceback" not in r.stderr


def test_missing_program(tmp_path: Path) -> None:
    assert_one_line_error(lwjvm("exec", str(tmp_path / "nope")), "no such file")
    assert_one_line_error(lwjvm("exec", "no-such-program-xyz"), "not found in PATH")


def test_not_an_elf(tmp_path: Path) -> None:
    script = tmp_path / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    assert_one_line_error(lwjvm("exec", str(script)), "not an ELF file")


def test_not_x86_64(tmp_path: Path) -> None:
    elf32 = miniguest.write(tmp_path / "elf32")
    assert_one_line_error(lwjvm("exec", str(elf32)), "not a 64-bit ELF")
    arm = tmp_path / "arm"
    ident = b"\x7fELF" + bytes([2, 1, 1]) + bytes(9)  # ELF64, little-endian
    arm.write_bytes(ident + struct.pack("<HH", 2, 183) + bytes(44))  # ET_EXEC, EM_AARCH64
    assert_one_line_error(lwjvm("exec", str(arm)), "not an x86_64 program")


def test_bad_memory_and_options(hello: Path) -> None:
    assert_one_line_error(lwjvm("exec", "--memory", "lots", str(hello)), "bad memory size")
    assert_one_line_error(lwjvm("exec", "--env", "NOEQUALS", str(hello)), "bad --env")
    assert_one_line_error(lwjvm("exec", "--add", "/nope:/x", str(hello)), "no such file")
    assert_one_line_error(lwjvm("exec", "--accel", "hvf", str(hello)), "'hvf' is not one of")


def test_no_qemu(hello: Path, tmp_path: Path) -> None:
    kernel = miniguest.write(tmp_path / "k.elf")
    r = lwjvm("exec", str(hello), env={"PATH": str(tmp_path), "LWJVM_KERNEL": str(kernel)})
    assert_one_line_error(r, "qemu-system-x86_64 not found")


def test_kernel_not_built(hello: Path, tmp_path: Path) -> None:
    r = lwjvm("exec", str(hello), env={"LWJVM_KERNEL": str(tmp_path / "none.elf")})
    assert_one_line_error(r, "no such file")


def test_exit_code_and_streams_come_from_the_guest(hello: Path, tmp_path: Path) -> None:
    kernel = miniguest.write(
        tmp_path / "k.elf",
        [(COM1, b"out\n"), (COM2, b"err\n"), (COM3, b"log\n\x1elwjvm:exit code=42\n")],
    )
    r = lwjvm("exec", "--accel", "tcg", str(hello), env={"LWJVM_KERNEL": str(kernel)})
    assert (r.returncode, r.stdout, r.stderr) == (42, "out\n", "err\n")


def test_guest_timeout_is_124(hello: Path, tmp_path: Path) -> None:
    kernel = miniguest.write(tmp_path / "k.elf", [], None)
    r = lwjvm(
        "exec", "--accel", "tcg", "--timeout", "0.5", str(hello), env={"LWJVM_KERNEL": str(kernel)}
    )
    assert r.returncode == 124
    # The miniguest is no lwjvm kernel: it never answers the lwjvm:threads asked at the timeout.
    assert r.stderr.strip() == (
        "lwjvm: error: the guest did not finish within 0.5 s; killed (the kernel did not answer "
        "lwjvm:threads within 10 s: a kernel hang)"
    )


def test_guest_panic_is_123_with_the_text(hello: Path, tmp_path: Path) -> None:
    kernel = miniguest.write(tmp_path / "k.elf", [(COM3, b"oops\n\x1elwjvm:panic\n")], 1)
    r = lwjvm("exec", "--accel", "tcg", str(hello), env={"LWJVM_KERNEL": str(kernel)})
    assert r.returncode == 123
    assert r.stderr.splitlines()[0] == "oops"


def test_program_args_pass_through_untouched(
    hello: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Options after PROGRAM belong to the program, not to lwjvm."""
    monkeypatch.chdir(hello.parent)
    req = program.ExecRequest(program="./hello", args=["--memory", "x", "-h"], env=["A=1"])
    staging = Staging(tmp_path / "root")
    prog = elfinfo.check_program(program.find_program(req.program))
    assert program.stage_program(staging, req, prog) == "./hello"
    conf = bootconf.parse((tmp_path / "root" / "etc/lwjvm/boot.conf").read_bytes())
    assert conf.argv == [b"./hello", b"--memory", b"x", b"-h"]
    assert conf.env == [b"A=1"]
    # As a shell's execve: the path as typed, relative to the working directory, which is ours.
    assert conf.exec == b"./hello" and conf.cwd == str(hello.parent).encode()
    assert staging.host_path(str(hello.resolve())).is_file()
    kernel = miniguest.write(tmp_path / "k.elf", [(COM3, b"\x1elwjvm:exit code=0\n")])
    r = lwjvm("exec", "--accel", "tcg", str(hello), "-h", "--x", env={"LWJVM_KERNEL": str(kernel)})
    assert r.returncode == 0, r.stderr


def test_first_signal_goes_to_the_program_second_stops_the_vm(hello: Path, tmp_path: Path) -> None:
    """The generated guest ignores the control line, so the second SIGTERM must stop QEMU."""
    kernel = miniguest.write(tmp_path / "k.elf", [(COM1, b"up\n")], None)
    p = subprocess.Popen(
        [sys.executable, "-c", "from lwjvm.cli import main; main()", "exec", "--accel", "tcg"]
        + [str(hello)],
        env=dict(os.environ, LWJVM_KERNEL=str(kernel)),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert p.stdout is not None and p.stderr is not None
    assert p.stdout.readline() == b"up\n"  # QEMU runs the guest
    p.send_signal(signal.SIGTERM)
    assert p.stderr.readline() == b"lwjvm: sent SIGTERM to the program; again to stop the VM\n"
    assert p.poll() is None
    p.send_signal(signal.SIGTERM)
    assert p.wait(timeout=30) == 143
    p.stdout.close()
    p.stderr.close()


def test_control_line_format() -> None:
    assert protocol.control_line(15) == b"lwjvm:signal num=15\n"
