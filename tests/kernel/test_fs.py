"""The VFS (path walk, mounts, open/create), tmpfs and the /proc/self/maps formatter, compiled for
the host with ASan/UBSan (tests/kernel/fs_test.c); Linux's formats and errno values are the
oracle."""

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "tests/kernel/fs_test.c",
    ROOT / "kernel/fs/vfs.c",
    ROOT / "kernel/fs/tmpfs.c",
    ROOT / "kernel/fs/procfs_maps.c",
    ROOT / "kernel/fs/flock.c",
]
CFLAGS = [
    "-std=gnu11", "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
    "-Wall", "-Wextra", "-Werror", "-DTMPFS_HOST",
    f"-I{ROOT / 'kernel/include'}", f"-I{ROOT / 'kernel'}",
]


@pytest.fixture(scope="module")
def fs_test(tmp_path_factory: pytest.TempPathFactory) -> Path:
    exe = tmp_path_factory.mktemp("kfs") / "fs_test"
    subprocess.run(["gcc", *CFLAGS, *map(str, SOURCES), "-o", str(exe)], check=True)
    return exe


def _run(exe: Path, what: str) -> None:
    r = subprocess.run([str(exe), what], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "ok\n"


def test_vfs_walks_mounts_symlinks_and_opens_with_linux_errors(fs_test: Path) -> None:
    _run(fs_test, "vfs")


def test_tmpfs_names_data_holes_unlinked_files_and_rename_rules(fs_test: Path) -> None:
    _run(fs_test, "tmpfs")


def test_proc_maps_lines_match_linux_byte_for_byte(fs_test: Path) -> None:
    _run(fs_test, "maps")


def test_flock_locks_belong_to_open_files_and_go_with_them(fs_test: Path) -> None:
    _run(fs_test, "flock")
