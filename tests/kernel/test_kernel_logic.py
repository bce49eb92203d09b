"""Kernel logic that has no hardware dependency, compiled for the host with ASan/UBSan:
the page allocator, the ELF checks and the boot configuration parser (tests/kernel/logic_test.c)."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "tests/kernel/logic_test.c",
    ROOT / "kernel/mm/palloc.c",
    ROOT / "kernel/loader/elf.c",
    ROOT / "kernel/core/bootconf.c",
]
CFLAGS = [
    "-std=gnu11", "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
    "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'kernel/include'}", f"-I{ROOT / 'kernel'}",
]


@pytest.fixture(scope="module")
def logic_test(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("klogic") / "logic_test"
    subprocess.run(["gcc", *CFLAGS, *map(str, SOURCES), "-o", str(exe)], check=True)
    return exe


def _run(exe: Path, *args: str) -> None:
    r = subprocess.run([str(exe), *args], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


def test_page_allocator_hands_out_each_frame_once_and_coalesces(logic_test: Path) -> None:
    _run(logic_test, "palloc")


def test_boot_config_parser_accepts_the_protocol_and_names_bad_lines(logic_test: Path) -> None:
    _run(logic_test, "bootconf")


def test_elf_checks_accept_real_programs_and_refuse_corruptions(
    logic_test: Path, tmp_path: Path
) -> None:
    src = tmp_path / "p.c"
    src.write_text("int main(void) { return 0; }\n")
    binaries = []
    for kind in ("-static", "-static-pie", "-pie"):
        out = tmp_path / f"p{kind}"
        subprocess.run(["gcc", kind, str(src), "-o", str(out)], check=True)
        binaries.append(str(out))
    _run(logic_test, "elf", *binaries, "/bin/true")
