"""`lwjvm volume create|ls|check|rm|snapshot|rollback|clone|export|import` on the kernel's own volfs
code (volfs-tool, built by make kernel from kernel/fs/volfs): a volume file is made, listed,
written through the tool, checked; a bit flipped in each block in turn is caught by check,
repaired from the ditto copy where metadata has one, and never read back as wrong data;
snapshots, clones and rollback keep each tree as it was, exported as files or tar and imported
back; a volume a VM has attached (QEMU's image lock) is never written from the host."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import pytest

from lwjvm import volume
from lwjvm.descriptor import Volume
from lwjvm.testing import lwjvm_command


@pytest.fixture
def state(tmp_path: Path) -> Path:
    try:
        volume.find_tool()
    except Exception as e:  # noqa: BLE001 - not built here: nothing to test
        pytest.skip(str(e))
    return tmp_path / "state"


def lwjvm(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LWJVM_STATE_DIR": str(state)}
    return subprocess.run([*lwjvm_command(), *args], capture_output=True, text=True, env=env)


def lwjvm_in(state: Path, data: bytes, *args: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "LWJVM_STATE_DIR": str(state)}
    return subprocess.run([*lwjvm_command(), *args], input=data, capture_output=True, env=env)


def tool(*args: str, data: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([str(volume.find_tool()), *args], input=data, capture_output=True)


def test_create_ls_check_rm(state: Path) -> None:
    r = lwjvm(state, "volume", "create", "data", "--size", "64M")
    assert r.returncode == 0, r.stderr
    vol = state / "volumes" / "data.vol"
    assert vol.stat().st_size == 64 << 20
    r = lwjvm(state, "volume", "create", "data", "--size", "64M")
    assert r.returncode == 125
    assert r.stderr.strip() == f"lwjvm: error: volume data already exists ({vol})"
    assert tool("put", str(vol), "/dir/hello.txt", data=b"hello\n").returncode == 0
    assert tool("cat", str(vol), "/dir/hello.txt").stdout == b"hello\n"
    r = lwjvm(state, "volume", "ls")
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["NAME", "SIZE", "USED", "REFER", "TXG"]
    assert lines[1].split()[:2] == ["data", "64M"] and lines[1].split()[4] == "2"
    r = lwjvm(state, "volume", "check", "data")
    assert r.returncode == 0
    assert " 0 bad, 0 repaired, 0 unrecoverable" in r.stdout
    assert lwjvm(state, "volume", "rm", "data").returncode == 0
    assert not vol.exists()
    r = lwjvm(state, "volume", "check", "data")
    assert r.returncode == 125 and "no volume named data" in r.stderr
    r = lwjvm(state, "volume", "create", "x", "--size", "1K")
    assert r.returncode == 125 and "at least 1M" in r.stderr


def test_a_manifest_volume_is_made_with_its_size_and_never_resized(state: Path) -> None:
    from lwjvm.descriptor import Volume
    from lwjvm.errors import LwjvmError

    disks, words = volume.attach(state, [Volume("data", 8 << 20, "/data")])
    assert disks == [state / "volumes" / "data.vol"] and words == ["lwjvm.volume=/data"]
    assert volume.info(state, "data").size == 8 << 20
    assert volume.attach(state, [Volume("data", 8 << 20, "/data")])[0] == disks
    with pytest.raises(LwjvmError, match="volume data is 8M and the manifest's volumes size sa"):
        volume.attach(state, [Volume("data", 16 << 20, "/data")])


def test_check_finds_every_flipped_bit_and_repairs_metadata_from_ditto_copies(
    state: Path, tmp_path: Path
) -> None:
    assert lwjvm(state, "volume", "create", "v", "--size", "1M").returncode == 0
    vol = state / "volumes" / "v.vol"
    payload = bytes(range(256)) * 64  # 16 KiB: four data blocks
    assert tool("put", str(vol), "/a/b/file", data=payload).returncode == 0
    image = vol.read_bytes()
    repaired = unrecoverable = 0
    for blk in range(33, len(image) // 4096):
        block = image[blk * 4096 : (blk + 1) * 4096]
        if not any(block):
            continue
        copy = tmp_path / "copy.vol"
        shutil.copyfile(vol, copy)
        with copy.open("r+b") as f:
            f.seek(blk * 4096 + 100)
            f.write(bytes([block[100] ^ 0x10]))
        read = tool("cat", str(copy), "/a/b/file")
        assert read.returncode == 0 and read.stdout == payload or read.returncode == 2
        r = tool("check", str(copy))
        if r.returncode == 0:  # a block no committed tree reaches (an older txg's copy)
            assert b"bad 0" in r.stdout and read.stdout == payload
            continue
        assert b"bad 1" in r.stdout
        if b"unrecoverable 1" in r.stdout:  # file data: one copy
            assert read.returncode == 2 and b"Input/output error" in read.stderr
            unrecoverable += 1
            continue
        assert read.stdout == payload  # metadata: its ditto copy answered
        assert tool("check", str(copy), "--repair").returncode == 0
        assert tool("check", str(copy)).stdout.count(b"bad 0") == 1
        repaired += 1
    assert unrecoverable == 4
    assert repaired > 0


def _tree(d: Path) -> dict[str, object]:
    """A directory as {relative path: contents, link target or 'dir'}, with hard-link groups."""
    out: dict[str, object] = {}
    for p in sorted(d.rglob("*")):
        rel = str(p.relative_to(d))
        if p.is_symlink():
            out[rel] = ("link", os.readlink(p))
        elif p.is_dir():
            out[rel] = ("dir", p.stat().st_mode & 0o7777)
        else:
            st = p.stat()
            out[rel] = ("file", p.read_bytes(), st.st_mode & 0o7777, st.st_nlink, st.st_mtime_ns)
    return out


def _source(d: Path) -> Path:
    (d / "sub" / "deep").mkdir(parents=True)
    (d / "a.txt").write_text("alpha\n")
    (d / "big.bin").write_bytes(os.urandom(300_000))
    (d / "sub" / "deep" / "x").write_bytes(b"")
    os.chmod(d / "sub" / "deep" / "x", 0o600)
    os.link(d / "a.txt", d / "sub" / "hard")
    os.symlink("../a.txt", d / "sub" / "sym")
    os.utime(d / "big.bin", ns=(1_600_000_000_000_000_000, 1_600_000_000_000_000_000))
    return d


def test_import_export_round_trip_as_files_and_as_tar(state: Path, tmp_path: Path) -> None:
    src = _source(tmp_path / "src")
    r = lwjvm(state, "volume", "import", "data", str(src), "--size", "64M")
    assert r.returncode == 0, r.stderr
    assert "(3 files)" in r.stderr
    assert (state / "volumes" / "data.vol").stat().st_size == 64 << 20
    r = lwjvm(state, "volume", "export", "data", str(tmp_path / "out"))
    assert r.returncode == 0, r.stderr
    assert _tree(tmp_path / "out") == _tree(src)
    # As tar on stdout, and that tar imported into a second volume gives the same tree.
    tar = lwjvm_in(state, b"", "volume", "export", "data", "-")
    assert tar.returncode == 0, tar.stderr
    with tarfile.open(fileobj=io.BytesIO(tar.stdout)) as t:
        names = {m.name: m for m in t.getmembers()}
    assert names["sub/sym"].issym() and names["sub/sym"].linkname == "../a.txt"
    assert names["big.bin"].size == 300_000 and names["big.bin"].mtime == 1_600_000_000
    r = lwjvm_in(state, tar.stdout, "volume", "import", "copy", "-")
    assert r.returncode == 0, r.stderr
    assert lwjvm(state, "volume", "export", "copy", str(tmp_path / "out2")).returncode == 0
    got, want = _tree(tmp_path / "out2"), _tree(src)
    assert got.keys() == want.keys()  # tar keeps whole seconds only: compare without mtimes
    assert {k: v[:4] for k, v in got.items()} == {k: v[:4] for k, v in want.items()}
    # A tar member leaving the tree is refused, and nothing half-imported is committed.
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as t:
        info = tarfile.TarInfo("../escape")
        info.size = 1
        t.addfile(info, io.BytesIO(b"x"))
    r = lwjvm_in(state, evil.getvalue(), "volume", "import", "copy", "-")
    assert r.returncode == 125 and b"outside its tree: '../escape'" in r.stderr
    r = lwjvm(state, "volume", "export", "data", str(tmp_path / "out"))
    assert r.returncode == 125 and "is not an empty directory" in r.stderr
    assert lwjvm(state, "volume", "check", "copy").returncode == 0


def test_snapshot_clone_rollback_and_rm_keep_each_tree(state: Path, tmp_path: Path) -> None:
    v1 = tmp_path / "v1"
    v1.mkdir()
    (v1 / "f").write_text("one\n")
    assert lwjvm(state, "volume", "import", "data", str(v1)).returncode == 0
    assert lwjvm(state, "volume", "snapshot", "data@s1").returncode == 0
    v2 = tmp_path / "v2"
    shutil.copytree(v1, v2)
    (v2 / "f").write_text("two\n")
    (v2 / "g").write_bytes(os.urandom(100_000))
    assert lwjvm(state, "volume", "import", "data", str(v2)).returncode == 0
    assert lwjvm(state, "volume", "clone", "data@s1", "data/feature").returncode == 0
    v3 = tmp_path / "v3"
    v3.mkdir()
    (v3 / "h").write_text("clone only\n")
    assert lwjvm(state, "volume", "import", "data/feature", str(v3)).returncode == 0

    def exported(spec: str) -> dict[str, object]:
        out = tmp_path / f"x-{spec.replace('/', '_')}-{time.monotonic_ns()}"
        r = lwjvm(state, "volume", "export", spec, str(out))
        assert r.returncode == 0, r.stderr
        return {k: v[1] for k, v in _tree(out).items()}  # type: ignore[index]

    assert exported("data@s1") == {"f": b"one\n"}
    assert exported("data") == {"f": b"two\n", "g": (v2 / "g").read_bytes()}
    assert exported("data/feature") == {"f": b"one\n", "h": b"clone only\n"}
    lines = {ln.split()[0]: ln.split() for ln in lwjvm(state, "volume", "ls").stdout.splitlines()}
    assert set(lines) == {"NAME", "data", "data@s1", "data/feature"}
    assert lines["data@s1"][1] == "-"
    # The errors a user meets, named as the user names things.
    cases = {
        ("snapshot", "data@s1"): "data@s1: already exists",
        ("rm", "data@s1"): "data@s1: has snapshots or clones (remove them first)",
        ("clone", "data", "data/x"): "clone takes a snapshot, NAME@SNAP, not 'data'",
        ("clone", "data@s1", "other/x"): "a clone of data@s1 is named data/CLONE",
        ("rollback", "data@nope"): "data@nope: does not exist",
        ("snapshot", "data@bad/name"): "bad snapshot name",
    }
    for args, msg in cases.items():
        r = lwjvm(state, "volume", *args)
        assert r.returncode == 125 and msg in r.stderr, (args, r.stderr)
    assert lwjvm(state, "volume", "snapshot", "data@s2").returncode == 0
    r = lwjvm(state, "volume", "rollback", "data@s1")
    assert r.returncode == 125 and "data@s1: a later snapshot exists" in r.stderr
    assert lwjvm(state, "volume", "rm", "data@s2").returncode == 0
    assert lwjvm(state, "volume", "rollback", "data@s1").returncode == 0
    assert exported("data") == {"f": b"one\n"}
    assert exported("data/feature") == {"f": b"one\n", "h": b"clone only\n"}
    assert lwjvm(state, "volume", "rm", "data/feature", "data@s1").returncode == 0
    assert lwjvm(state, "volume", "check", "data").returncode == 0
    lines = {ln.split()[0] for ln in lwjvm(state, "volume", "ls").stdout.splitlines()}
    assert lines == {"NAME", "data"}


LOCKER = """
import fcntl, sys, time
f = open(sys.argv[1], "rb")
fcntl.lockf(f, fcntl.LOCK_SH, 200, 100)  # as QEMU's image locking holds a disk it has open
print("locked", flush=True)
time.sleep(60)
"""


def test_a_volume_a_vm_holds_is_never_written_from_the_host(state: Path, tmp_path: Path) -> None:
    assert lwjvm(state, "volume", "create", "busy", "--size", "4M").returncode == 0
    vol = state / "volumes" / "busy.vol"
    holder = subprocess.Popen([sys.executable, "-c", LOCKER, str(vol)], stdout=subprocess.PIPE)
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"locked\n"
        for args in (("rm", "busy"), ("snapshot", "busy@s"), ("import", "busy", str(tmp_path))):
            r = lwjvm(state, "volume", *args)
            assert r.returncode == 125, r.stderr
            assert r.stderr.startswith("lwjvm: error: volume busy is in use by a running VM"), args
        r = lwjvm(state, "volume", "export", "busy", str(tmp_path / "o"))
        assert r.returncode == 125 and "export a snapshot of it" in r.stderr
        assert lwjvm(state, "volume", "check", "busy").returncode == 0  # reading is fine
    finally:
        holder.kill()
        holder.wait()
    assert lwjvm(state, "volume", "rm", "busy").returncode == 0


def test_a_manifest_mounts_a_clone_by_name(state: Path) -> None:
    assert lwjvm(state, "volume", "create", "data", "--size", "4M").returncode == 0
    assert lwjvm(state, "volume", "snapshot", "data@s").returncode == 0
    assert lwjvm(state, "volume", "clone", "data@s", "data/feat").returncode == 0
    disks, words = volume.attach(state, [Volume("data/feat", 1 << 30, "/d")])
    assert disks == [state / "volumes" / "data.vol"]
    assert words == ["lwjvm.volume_dataset=feat", "lwjvm.volume=/d"]
    with pytest.raises(volume.LwjvmError, match="volume data has no clone nope"):
        volume.attach(state, [Volume("data/nope", 1 << 30, "/d")])
    with pytest.raises(volume.LwjvmError, match="a snapshot is read-only: mount a clone"):
        volume.attach(state, [Volume("data@s", 1 << 30, "/d")])
