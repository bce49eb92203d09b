"""volfs (kernel/fs/volfs, docs/volume-format.md) compiled for the host with ASan/UBSan over a
block device in memory (tests/kernel/volfs_test.c): files against a model across commits and
reopens, a crash at every write of a commit sequence, a bit flipped in every block, snapshots,
clones, rollback, destroy and space by birth txg, hard links and attributes."""

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


def test_the_arc_keeps_a_working_set_through_a_scan_and_never_serves_stale_blocks(
    volfs_test: Path,
) -> None:
    out = _run(volfs_test, "arc")
    assert "hot set re-read" in out
