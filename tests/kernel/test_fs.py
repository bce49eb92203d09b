"""The VFS (path walk, mounts, open/create), tmpfs, the file syscalls and the /proc/self/maps
formatter, compiled for the host with ASan/UBSan (tests/kernel/fs_test.c); Linux is the oracle:
its formats and errno values, and its own tmpfs running the same random scripts of file
operations (LWJVM_FS_SEEDS sets how many; 12 by default)."""

import ctypes
import os
import random
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [
    ROOT / "tests/kernel/fs_test.c",
    ROOT / "kernel/fs/vfs.c",
    ROOT / "kernel/fs/tmpfs.c",
    ROOT / "kernel/fs/procfs_maps.c",
    ROOT / "kernel/fs/flock.c",
    ROOT / "kernel/linux/fs.c",
    ROOT / "kernel/linux/fs_dir.c",
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


# Differential test: random scripts of name and data operations run on our tmpfs (fs_test script)
# and on Linux's own tmpfs (a fresh directory in /dev/shm) must give the same results line by line.
NAMES = ("a", "b", "c")
FD_SLOTS = 3
OPEN_FLAGS = {
    "r": os.O_RDONLY,
    "w": os.O_WRONLY,
    "rw": os.O_RDWR,
    "wc": os.O_WRONLY | os.O_CREAT,
    "rwa": os.O_RDWR | os.O_APPEND | os.O_CREAT,
    "rwt": os.O_RDWR | os.O_TRUNC,
}


def _random_path(rng: random.Random) -> str:
    parts = [rng.choice(NAMES) for _ in range(rng.randint(1, 3))]
    if rng.random() < 0.08:
        parts.insert(rng.randint(1, len(parts)), ".")
    if rng.random() < 0.08:
        # ".." only after a name: the walk never climbs above the top directory
        parts.insert(rng.randint(1, len(parts)), "..")
    return "/".join(parts) + ("/" if rng.random() < 0.05 else "")


def _random_script(rng: random.Random, n: int) -> list[str]:
    ops = []
    for _ in range(n):
        p, q = _random_path(rng), _random_path(rng)
        kind = rng.choices(
            ["mkdir", "rmdir", "unlink", "rename", "link", "symlink", "write", "truncate",
             "read", "list", "stat", "append", "excl", "trunc", "readlink", "chmod", "statf",
             "opendir", "renamenr", "open", "fwrite", "fread", "fseek", "ftrunc", "fstat",
             "fclose"],
            weights=[6, 3, 3, 4, 2, 2, 6, 2, 3, 3, 3, 2, 2, 1, 1, 1, 2, 1, 1, 4, 3, 3, 2, 1, 2,
                     1],
        )[0]
        k = rng.randrange(FD_SLOTS)
        if kind == "mkdir":
            ops.append(f"mkdir {p} {rng.choice(['755', '700'])}")
        elif kind in ("rmdir", "unlink", "read", "list", "stat", "excl", "trunc", "readlink",
                      "statf", "opendir"):
            ops.append(f"{kind} {p}")
        elif kind == "append":
            ops.append(f"append {p} {rng.choice([1, 100, 5000])} {rng.randint(0, 255)}")
        elif kind == "open":
            ops.append(f"open {k} {p} {rng.choice(sorted(OPEN_FLAGS))}")
        elif kind == "fwrite":
            ops.append(f"fwrite {k} {rng.choice([1, 100, 4096, 5000])} {rng.randint(0, 255)}")
        elif kind == "fread":
            ops.append(f"fread {k} {rng.choice([1, 100, 4096, 20000])}")
        elif kind == "fseek":
            off = rng.choice([0, 1, 100, 4096, 9000, -1, -100])
            ops.append(f"fseek {k} {off} {rng.choice([0, 1, 2, 3, 4])}")
        elif kind == "ftrunc":
            ops.append(f"ftrunc {k} {rng.choice([0, 10, 4097, -1])}")
        elif kind in ("fstat", "fclose"):
            ops.append(f"{kind} {k}")
        elif kind == "chmod":
            ops.append(f"chmod {p} {rng.choice(['600', '755', '1777'])}")
        elif kind in ("rename", "link", "renamenr"):
            ops.append(f"{kind} {p} {q}")
        elif kind == "symlink":
            target = "/".join(rng.choice(NAMES) for _ in range(rng.randint(1, 2)))
            ops.append(f"symlink {target} {p}")
        elif kind == "write":
            off = rng.choice([0, 0, 1, 4095, 4096, 5000, 12288])
            n = rng.choice([0, 1, 100, 4096, 9000])
            ops.append(f"write {p} {off} {n} {rng.randint(0, 255)}")
        else:
            ops.append(f"truncate {p} {rng.choice([0, 1, 4095, 4097, 20000])}")
    return ops


def libc_renameat2(old: str, new: str, flags: int) -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.renameat2(-100, old.encode(), -100, new.encode(), flags) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def _oracle(root: Path, ops: list[str]) -> list[str]:
    """Runs the script with Linux system calls under root (a tmpfs directory)."""
    out = []
    fds: dict[int, int] = {}

    def at(p: str) -> str:
        return f"{root}/{p}"  # not pathlib: it would fold "." components away

    for line in ops:
        op, *args = line.split()
        if op in ("fwrite", "fread", "fseek", "ftrunc", "fstat", "fclose") and \
                int(args[0]) not in fds:
            out.append("nofd")
            continue
        try:
            if op == "open":
                k = int(args[0])
                if k in fds:
                    os.close(fds.pop(k))
                fds[k] = os.open(at(args[1]), OPEN_FLAGS[args[2]], 0o640)
                out.append("ok")
            elif op == "fwrite":
                n, seed = int(args[1]), int(args[2])
                out.append(str(os.write(fds[int(args[0])],
                                        bytes((seed + i * 3) & 0xFF for i in range(n)))))
            elif op == "fread":
                data = os.read(fds[int(args[0])], int(args[1]))
                h = 2166136261
                for byte in data:
                    h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
                out.append(f"{len(data)} {h:08x}")
            elif op == "fseek":
                out.append(str(os.lseek(fds[int(args[0])], int(args[1]), int(args[2]))))
            elif op == "ftrunc":
                os.ftruncate(fds[int(args[0])], int(args[1]))
                out.append("ok")
            elif op == "fstat":
                st = os.fstat(fds[int(args[0])])
                size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
                out.append(f"{st.st_mode:o} {st.st_nlink} {size}")
            elif op == "fclose":
                os.close(fds.pop(int(args[0])))
                out.append("ok")
            elif op == "mkdir":
                os.mkdir(at(args[0]), int(args[1], 8))
                out.append("ok")
            elif op == "rmdir":
                os.rmdir(at(args[0]))
                out.append("ok")
            elif op == "unlink":
                os.unlink(at(args[0]))
                out.append("ok")
            elif op == "rename":
                os.rename(at(args[0]), at(args[1]))
                out.append("ok")
            elif op == "link":
                os.link(at(args[0]), at(args[1]), follow_symlinks=False)
                out.append("ok")
            elif op == "symlink":
                os.symlink(args[0], at(args[1]))
                out.append("ok")
            elif op == "write":
                off, n, seed = map(int, args[1:])
                fd = os.open(at(args[0]), os.O_WRONLY | os.O_CREAT, 0o644)
                try:
                    os.pwrite(fd, bytes((seed + i * 7) & 0xFF for i in range(n)), off)
                finally:
                    os.close(fd)
                out.append("ok")
            elif op == "truncate":
                os.truncate(at(args[0]), int(args[1]))
                out.append("ok")
            elif op == "append":
                n, seed = map(int, args[1:])
                fd = os.open(at(args[0]), os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, bytes((seed + i * 7) & 0xFF for i in range(n)))
                finally:
                    os.close(fd)
                out.append("ok")
            elif op in ("excl", "trunc"):
                flags = os.O_CREAT | os.O_EXCL if op == "excl" else os.O_TRUNC
                os.close(os.open(at(args[0]), os.O_WRONLY | flags, 0o600))
                out.append("ok")
            elif op == "readlink":
                out.append("=" + os.readlink(at(args[0])))
            elif op == "chmod":
                os.chmod(at(args[0]), int(args[1], 8))
                out.append("ok")
            elif op == "read":
                fd = os.open(at(args[0]), os.O_RDONLY)
                try:
                    data = b""
                    while chunk := os.read(fd, 1 << 16):
                        data += chunk
                finally:
                    os.close(fd)
                h = 2166136261
                for byte in data:
                    h = ((h ^ byte) * 16777619) & 0xFFFFFFFF
                out.append(f"{len(data)} {h:08x}")
            elif op == "list":
                entries = []
                with os.scandir(at(args[0])) as it:
                    for e in it:
                        t = 10 if e.is_symlink() else 4 if e.is_dir() else 8
                        entries.append(f"{e.name}:{t}")
                out.append(" ".join(sorted(entries)) + "|")
            elif op == "opendir":
                os.close(os.open(at(args[0]), os.O_RDONLY | os.O_DIRECTORY))
                out.append("ok")
            elif op == "renamenr":
                libc_renameat2(at(args[0]), at(args[1]), 1)  # RENAME_NOREPLACE
                out.append("ok")
            elif op in ("stat", "statf"):
                st = os.lstat(at(args[0])) if op == "stat" else os.stat(at(args[0]))
                size = 0 if stat.S_ISDIR(st.st_mode) else st.st_size
                out.append(f"{st.st_mode:o} {st.st_nlink} {size}")
        except OSError as e:
            out.append(f"-{e.errno}")
    for fd in fds.values():
        os.close(fd)
    return out


@pytest.mark.parametrize("seed", range(int(os.environ.get("LWJVM_FS_SEEDS", "12"))))
def test_tmpfs_matches_linux_tmpfs_on_random_scripts(fs_test: Path, seed: int) -> None:
    shm = Path("/dev/shm")
    if not shm.is_dir():
        pytest.skip("no /dev/shm tmpfs on this host")
    rng = random.Random(seed)
    ops = _random_script(rng, 250)
    old_umask = os.umask(0)
    root = Path(tempfile.mkdtemp(prefix="lwjvm-oracle-", dir=shm))
    os.chmod(root, 0o1777)  # as /tmp
    try:
        want = _oracle(root, ops)
    finally:
        os.umask(old_umask)
        shutil.rmtree(root)
    script = _absolute(ops)
    r = subprocess.run([str(fs_test), "script"], input=script, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    got = r.stdout.splitlines()
    for i, (line, w, g) in enumerate(zip(ops, want, got, strict=False)):
        assert g == w, f"op {i}: {line}: tmpfs gave {g!r}, Linux {w!r}"
    assert len(got) == len(want)


def _absolute(ops: list[str]) -> str:
    """The script for fs_test: path arguments under /tmp (symlink targets stay relative)."""
    lines = []
    for line in ops:
        op, *args = line.split()
        paths = {"symlink": [1], "rename": [0, 1], "renamenr": [0, 1], "link": [0, 1],
                 "open": [1], "fwrite": [], "fread": [], "fseek": [], "ftrunc": [], "fstat": [],
                 "fclose": []}.get(op, [0])
        args = [f"/tmp/{a}" if i in paths else a for i, a in enumerate(args)]
        lines.append(" ".join([op, *args]) + "\n")
    return "".join(lines)
