"""`lwjvm volume mount NAME[@SNAP|/CLONE] DIR` and `umount DIR`: a dataset mounted read-only on
the host through FUSE (kernel/build/volfs-fuse, the kernel's volfs code over libfuse 3) shows
the tree that was imported, with modes, links and contents; a snapshot shows its own tree; writes
are refused."""

from __future__ import annotations

import errno
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from lwjvm import volume
from lwjvm.testing import lwjvm_command


@pytest.fixture
def state(tmp_path: Path) -> Path:
    try:
        volume.find_fuse()
    except Exception as e:  # noqa: BLE001 - not built here: nothing to test
        pytest.skip(str(e))
    if not Path("/dev/fuse").exists() or os.geteuid() != 0:
        pytest.skip("no /dev/fuse (or not root) on this host")
    return tmp_path / "state"


def lwjvm(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LWJVM_STATE_DIR": str(state)}
    return subprocess.run([*lwjvm_command(), *args], capture_output=True, text=True, env=env)


def _tree(d: Path) -> dict[str, object]:
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


def test_a_mounted_volume_and_snapshot_show_their_trees_read_only(
    state: Path, tmp_path: Path
) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("alpha\n")
    (src / "big").write_bytes(os.urandom(200_000))
    os.chmod(src / "a.txt", 0o640)
    os.link(src / "a.txt", src / "sub" / "hard")
    os.symlink("../a.txt", src / "sub" / "sym")
    assert lwjvm(state, "volume", "import", "data", str(src), "--size", "16M").returncode == 0
    assert lwjvm(state, "volume", "snapshot", "data@before").returncode == 0
    (src / "later").write_text("after the snapshot\n")
    assert lwjvm(state, "volume", "import", "data", str(src)).returncode == 0
    live, snap = tmp_path / "live", tmp_path / "snap"
    r = lwjvm(state, "volume", "mount", "data", str(live))
    assert r.returncode == 0, r.stderr
    try:
        assert lwjvm(state, "volume", "mount", "data@before", str(snap)).returncode == 0
        try:
            assert _tree(live) == _tree(src)
            before = _tree(src)
            del before["later"]
            assert _tree(snap) == before
            with pytest.raises(OSError) as e:
                (live / "new").write_text("x")
            assert e.value.errno == errno.EROFS
            assert os.statvfs(live).f_flag & os.ST_RDONLY
            r = lwjvm(state, "volume", "mount", "data", str(live))
            assert r.returncode == 125 and "already a mount point" in r.stderr
        finally:
            assert lwjvm(state, "volume", "umount", str(snap)).returncode == 0
    finally:
        assert lwjvm(state, "volume", "umount", str(live)).returncode == 0
    assert not os.path.ismount(live)
    r = lwjvm(state, "volume", "umount", str(live))
    assert r.returncode == 125 and "is not a mount point" in r.stderr
    r = lwjvm(state, "volume", "mount", "data@nope", str(tmp_path / "x"))
    assert r.returncode == 125 and "data@nope: does not exist" in r.stderr
    shutil.rmtree(tmp_path / "x", ignore_errors=True)
