"""Kernel logic that has no hardware dependency, compiled for the host with ASan/UBSan:
the page allocator, the ELF checks and the boot configuration parser (tests/kernel/logic_test.c),
the index of the program's memory areas (tests/kernel/vma_tree_test.c)."""

import os
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
# CI: seeds 1-3. `make soak` (LWJVM_SOAK=1): 8 new seeds from LWJVM_SOAK_SEED, 10 times the files.
SOAK = os.environ.get("LWJVM_SOAK") == "1"
_BASE = int(os.environ.get("LWJVM_SOAK_SEED", "1000")) if SOAK else 1
FUZZ_SEEDS = [_BASE + i for i in range(8 if SOAK else 3)]
SCALE = 10 if SOAK else 1
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


@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_elf_checks_survive_mutated_headers(logic_test: Path, tmp_path: Path, seed: int) -> None:
    """Mutated copies (headers and program headers, special values, truncations) of a dynamic
    program (20,000 per seed) and a static one (2,000: each copy is the whole 800 KB file):
    refused or accepted with a sane range, never a read past the buffer (ASan/UBSan)."""
    src = tmp_path / "p.c"
    src.write_text("int main(void) { return 0; }\n")
    for kind, count in (("-static", 2000), ("-pie", 20000)):
        out = tmp_path / f"p{kind}"
        subprocess.run(["gcc", kind, str(src), "-o", str(out)], check=True)
        _run(logic_test, "fuzz-elf", str(seed), str(count * SCALE), str(out))


@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_boot_config_parser_survives_mutated_files(logic_test: Path, seed: int) -> None:
    """200,000 files per seed from the format's own tokens, then mutated: parsed with every
    invariant, or refused with a message; never a write past the buffer."""
    _run(logic_test, "fuzz-bootconf", str(seed), str(200_000 * SCALE))


@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_memory_area_index_matches_a_model_and_stays_balanced(tmp_path: Path, seed: int) -> None:
    """kernel/mm/vma_tree.c: 100,000 seeded links, unlinks and moved ends per seed, the whole
    tree checked after each (order, AVL balance, every subtree's largest gap) and its lookups
    compared with a plain list's; then 65,530 areas (vm.max_map_count) in a shuffled order."""
    exe = tmp_path / "vma_tree_test"
    sources = [ROOT / "tests/kernel/vma_tree_test.c", ROOT / "kernel/mm/vma_tree.c"]
    subprocess.run(["gcc", *CFLAGS, *map(str, sources), "-o", str(exe)], check=True)
    r = subprocess.run([str(exe), str(seed), str(100_000 * SCALE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
