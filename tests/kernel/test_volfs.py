"""volfs (kernel/fs/volfs, docs/volume-format.md) compiled for the host with ASan/UBSan over a
block device in memory (tests/kernel/volfs_test.c): files against a model across commits and
reopens, a crash at every write of a commit sequence, a bit flipped in every block, snapshots,
clones, rollback, destroy and space by birth txg, hard links and attributes."""

import os
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "tests/kernel/volfs_test.c", *sorted((ROOT / "kernel/fs/volfs").glob("*.c"))]
CFLAGS = [
    "-std=gnu11", "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
    "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'kernel/include'}", f"-I{ROOT / 'kernel'}",
]


@pytest.fixture(scope="module")
def volfs_test(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("volfs") / "volfs_test"
    subprocess.run(["gcc", *CFLAGS, *map(str, SOURCES), "-o", str(exe)], check=True)
    return exe


def _run(exe: Path, what: str) -> str:
    r = subprocess.run([str(exe), what], capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"
    return r.stderr


def test_files_match_a_model_across_commits_and_reopens(volfs_test: Path) -> None:
    _run(volfs_test, "model")


def test_a_crash_at_any_write_leaves_the_last_committed_txg(volfs_test: Path) -> None:
    _run(volfs_test, "crash")


def test_a_flipped_bit_is_eio_or_repaired_from_the_ditto_copy_never_wrong_data(
    volfs_test: Path,
) -> None:
    out = _run(volfs_test, "bitflip")
    assert "metadata blocks were repaired" in out


def test_snapshots_keep_their_data_while_the_dataset_changes(volfs_test: Path) -> None:
    _run(volfs_test, "snapshot")


def test_clones_rollback_and_destroy_keep_every_dataset_right_and_free_what_nothing_reaches(
    volfs_test: Path,
) -> None:
    _run(volfs_test, "datasets")


def test_hard_links_and_attributes(volfs_test: Path) -> None:
    _run(volfs_test, "links")


def test_what_fsync_returned_for_survives_a_crash_at_any_write_through_the_intent_log(
    volfs_test: Path,
) -> None:
    out = _run(volfs_test, "log")
    assert "fsyncs through the log" in out


def test_open_reads_the_space_map_which_matches_a_walk_and_v1_volumes_still_work(
    volfs_test: Path,
) -> None:
    _run(volfs_test, "spacemap")


def test_thousands_of_names_in_one_hashed_directory_list_once_each_through_splits(
    volfs_test: Path,
) -> None:
    _run(volfs_test, "bigdir")


def test_files_unlinked_while_open_when_the_volume_died_are_freed_by_the_next_open(
    volfs_test: Path,
) -> None:
    _run(volfs_test, "orphans")


def test_o_direct_reads_and_writes_bypass_the_arc_and_match_a_model(volfs_test: Path) -> None:
    _run(volfs_test, "direct")


def test_the_arc_keeps_a_working_set_through_a_scan_and_never_serves_stale_blocks(
    volfs_test: Path,
) -> None:
    out = _run(volfs_test, "arc")
    assert "hot set re-read" in out



# The format fuzzer: the seed volumes in tests/kernel/volfs_corpus mutated (bits, bytes, fields set
# to edge values, blocks copied over others) with checksums made to match (-DVOLFS_FUZZ), then
# opened read-only and writable and run through every read path, changes and a commit. CI: seeds
# 1-2, 400 mutants of each volume; `make soak` (LWJVM_SOAK=1): 4 seeds from LWJVM_SOAK_SEED, 25
# times as many. A hang is a mutant that takes over 20 s (the fuzzer names it).
CORPUS = sorted((ROOT / "tests/kernel/volfs_corpus").glob("*.vol"))
FUZZ_SOAK = os.environ.get("LWJVM_SOAK") == "1"
FUZZ_BASE = int(os.environ.get("LWJVM_SOAK_SEED", "1000")) if FUZZ_SOAK else 1
FUZZ_SEEDS = [FUZZ_BASE + i for i in range(4 if FUZZ_SOAK else 2)]
FUZZ_COUNT = 400 * (25 if FUZZ_SOAK else 1)


@pytest.fixture(scope="module")
def volfs_fuzz(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("volfs_fuzz") / "volfs_fuzz"
    subprocess.run(["gcc", *CFLAGS, "-DVOLFS_FUZZ", *map(str, SOURCES), "-o", str(exe)],
                   check=True)  # fmt: skip
    return exe


@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_the_format_parser_survives_mutated_volumes(volfs_fuzz: Path, seed: int) -> None:
    assert CORPUS, "tests/kernel/volfs_corpus is empty"
    r = subprocess.run(
        [str(volfs_fuzz), "fuzz", str(seed), str(FUZZ_COUNT), *map(str, CORPUS)],
        capture_output=True, text=True, timeout=3600,
        env={**os.environ, "ASAN_OPTIONS": "allocator_may_return_null=1"},
    )  # fmt: skip
    assert r.returncode == 0, f"seed {seed}: {r.stderr[-3000:]}"
    assert r.stdout == "ok\n"


def test_the_corpus_is_what_mkcorpus_writes(volfs_test: Path, tmp_path: Path) -> None:
    """The checked-in seed volumes are the format's current ones (regenerate: volfs_test
    mkcorpus tests/kernel/volfs_corpus), and each opens and checks clean."""
    _run_args = [str(volfs_test), "mkcorpus", str(tmp_path)]
    assert subprocess.run(_run_args, capture_output=True, text=True).stdout == "ok\n"
    assert sorted(p.name for p in tmp_path.glob("*.vol")) == [p.name for p in CORPUS]
    for p in CORPUS:
        assert (tmp_path / p.name).read_bytes() == p.read_bytes(), f"{p.name} is stale"
    tool = ROOT / "kernel/build/volfs-tool"
    for p in CORPUS:
        if tool.is_file():
            r = subprocess.run([str(tool), "check", str(p)], capture_output=True, text=True)
            assert r.returncode == 0, r.stdout + r.stderr


def test_libfuzzer_entry_point_compiles(tmp_path: Path) -> None:
    """The libFuzzer target (clang -fsanitize=fuzzer -DVOLFS_FUZZ -DVOLFS_LIBFUZZER, corpus
    tests/kernel/volfs_corpus) stays buildable without clang."""
    argv = ["gcc", *CFLAGS, "-DVOLFS_FUZZ", "-DVOLFS_LIBFUZZER", "-c", str(SOURCES[0])]
    r = subprocess.run([*argv, "-o", str(tmp_path / "f.o")], capture_output=True)
    assert r.returncode == 0, r.stderr.decode()
    r = subprocess.run(["nm", str(tmp_path / "f.o")], capture_output=True)
    assert " T LLVMFuzzerTestOneInput" in r.stdout.decode()
