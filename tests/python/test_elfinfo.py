"""Program checks and library discovery (lwjvm/elfinfo.py)."""

from __future__ import annotations

import os
import struct
import subprocess
from pathlib import Path

import pytest

from lwjvm import elfinfo, miniguest
from lwjvm.errors import LwjvmError

HELLO_C = b'#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n'


@pytest.fixture(scope="module")
def programs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("elf")
    src = d / "hello.c"
    src.write_bytes(HELLO_C)
    out = {}
    for name, flags in {
        "static": ["-static"],
        "static_pie": ["-static-pie"],
        "dynamic": [],
        "object": ["-c"],
    }.items():
        out[name] = d / name
        subprocess.run(["gcc", *flags, "-o", str(out[name]), str(src)], check=True)
    return out


def test_static_and_static_pie_programs_have_no_interpreter(programs: dict[str, Path]) -> None:
    assert elfinfo.check_program(programs["static"]).elf_type == 2
    static_pie = elfinfo.check_program(programs["static_pie"])
    assert static_pie.elf_type == 3 and static_pie.interp is None
    assert elfinfo.dependencies(static_pie) == []


def test_dynamic_program_brings_interpreter_and_libc(programs: dict[str, Path]) -> None:
    prog = elfinfo.check_program(programs["dynamic"])
    assert prog.interp is not None and prog.dynamic
    deps = {d.path: d for d in elfinfo.dependencies(prog)}
    assert prog.interp in deps
    libc = next(d for p, d in deps.items() if os.path.basename(p) == "libc.so.6")
    assert os.path.realpath(libc.path) == libc.real
    assert Path(libc.real).is_file() and not Path(libc.real).is_symlink()


def _header(e_class: int = 2, machine: int = 62, e_type: int = 2) -> bytes:
    ident = b"\x7fELF" + bytes([e_class, 1, 1]) + bytes(9)
    return ident + struct.pack("<HHI", e_type, machine, 1) + bytes(40)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"#!/bin/sh\necho hi\n", "not an ELF file"),
        (b"", "not an ELF file"),
        (b"\x7fELF\x02", "truncated ELF header"),
        (miniguest.build(), "not a 64-bit ELF"),
        (_header(machine=183), "not an x86_64 program"),
        (_header(e_type=4), "not an executable"),
        (_header(), "no program headers"),
    ],
)
def test_files_that_cannot_run_are_refused_clearly(
    tmp_path: Path, content: bytes, message: str
) -> None:
    p = tmp_path / "prog"
    p.write_bytes(content)
    with pytest.raises(LwjvmError, match=message):
        elfinfo.check_program(p)


def test_object_files_missing_files_and_directories_are_refused(
    tmp_path: Path, programs: dict[str, Path]
) -> None:
    with pytest.raises(LwjvmError, match="not an executable .ELF type ET_REL"):
        elfinfo.check_program(programs["object"])
    with pytest.raises(LwjvmError, match="no such file"):
        elfinfo.check_program(tmp_path / "missing")
    with pytest.raises(LwjvmError, match="is a directory"):
        elfinfo.check_program(tmp_path)


def test_mutated_headers_are_read_or_refused_in_one_line(
    tmp_path: Path, programs: dict[str, Path]
) -> None:
    """5,000 seeded mutants of a dynamic program's ELF and program headers (special values over
    1-8 bytes, as tests/guest/test_kernel_failures does for the kernel): check_program returns or
    raises LwjvmError, never another exception (a huge e_phoff was an lseek EINVAL traceback)."""
    import random

    orig = programs["dynamic"].read_bytes()
    phoff = struct.unpack_from("<Q", orig, 32)[0]
    specials = [0, 1, 0x7F, 0xFFFF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7FFFFFFFF000, 0x800000000000,
                0x8000000000000000, 0xFFFF800000000000, 0xFFFFFFFFFFFFFFFF]  # fmt: skip
    rng = random.Random(15)
    exe = tmp_path / "mutant"
    outcomes = {"read": 0, "refused": 0}
    for _ in range(5000):
        data = bytearray(orig)
        for _ in range(rng.randint(1, 3)):
            at = rng.choice([rng.randrange(64), phoff + rng.randrange(56 * 13)])
            width = rng.choice([1, 2, 4, 8])
            value = rng.choice(specials + [rng.getrandbits(64)]) & ((1 << (8 * width)) - 1)
            data[at : at + width] = value.to_bytes(width, "little")
        exe.write_bytes(bytes(data[: rng.choice([len(data), len(data), rng.randrange(len(data))])]))
        try:
            elfinfo.check_program(exe)
            outcomes["read"] += 1
        except LwjvmError as e:
            assert "\n" not in str(e) and str(e).startswith(str(exe)), str(e)
            outcomes["refused"] += 1
    assert min(outcomes.values()) > 100, outcomes


def test_parse_ldd_takes_paths_and_reports_missing_libraries() -> None:
    out = (
        "\tlinux-vdso.so.1 (0x00007ffd5a5f2000)\n"
        "\tlibc.so.6 => /lib/x86_64-linux-gnu/libc.so.6 (0x00007f0b1c000000)\n"
        "\t/lib64/ld-linux-x86-64.so.2 (0x00007f0b1c400000)\n"
    )
    assert elfinfo.parse_ldd(out) == [
        "/lib/x86_64-linux-gnu/libc.so.6",
        "/lib64/ld-linux-x86-64.so.2",
    ]
    with pytest.raises(LwjvmError, match="library libfoo.so.1 not found on the host"):
        elfinfo.parse_ldd("\tlibfoo.so.1 => not found\n")


def test_resolve_chain_records_every_symlink_in_order(tmp_path: Path) -> None:
    real = tmp_path / "usr" / "lib" / "libx.so.1.2"
    real.parent.mkdir(parents=True)
    real.write_bytes(b"x")
    os.symlink("usr/lib", tmp_path / "lib")  # a directory link, relative
    os.symlink("libx.so.1.2", tmp_path / "usr" / "lib" / "libx.so.1")
    os.symlink(str(tmp_path / "lib" / "libx.so.1"), tmp_path / "abs")  # absolute
    hf = elfinfo.resolve_chain(str(tmp_path / "abs"))
    assert hf.real == str(real)
    assert hf.links == [
        (str(tmp_path / "abs"), str(tmp_path / "lib" / "libx.so.1")),
        (str(tmp_path / "lib"), "usr/lib"),
        (str(tmp_path / "usr" / "lib" / "libx.so.1"), "libx.so.1.2"),
    ]
