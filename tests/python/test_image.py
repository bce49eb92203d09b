"""The root image builder (lwjvm/image.py): determinism, contents, and its errors."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

import pytest

from lwjvm import image
from lwjvm.errors import LwjvmError
from lwjvm.image import Staging, build_image


def debugfs(img: Path, request: str) -> str:
    r = subprocess.run(
        ["debugfs", "-R", request, str(img)], capture_output=True, text=True, check=True
    )
    return r.stdout


def sha256(p: Path) -> str:
    return hashlib.sha256(p.read_bytes()).hexdigest()


def stage_sample(root: Path, order: int = 1) -> Staging:
    """The same content every time, staged in a different order when `order` is -1."""
    s = Staging(root)
    names = ["zeta", "alpha", "mid", "a", "b"][::order]
    for n in names:
        s.stage_bytes(f"{n}\n".encode(), f"/etc/{n}")
    s.stage_bytes(b"\x7fELF" + bytes(5000), "/bin/prog", mode=0o755)
    s.stage_symlink("prog", "/bin/link")
    s.stage_symlink("/a/very/long/target/" + "x" * 80, "/bin/longlink")
    s.mkdir("/empty/dir")
    return s


def test_same_content_gives_the_same_bytes(tmp_path: Path) -> None:
    stage_sample(tmp_path / "s1")
    stage_sample(tmp_path / "s2", order=-1)
    os.utime(tmp_path / "s2" / "etc" / "a", (12345, 67890))  # host times must not leak
    (tmp_path / "s2" / "etc" / "b").chmod(0o600)  # nor host permission quirks
    build_image(tmp_path / "s1", tmp_path / "one.img")
    build_image(tmp_path / "s2", tmp_path / "two.img")
    assert sha256(tmp_path / "one.img") == sha256(tmp_path / "two.img")


def test_source_date_epoch_sets_every_timestamp(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    stage_sample(tmp_path / "s")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")
    build_image(tmp_path / "s", tmp_path / "a.img")
    out = debugfs(tmp_path / "a.img", "stat /etc/alpha")
    for field in ("ctime", "atime", "mtime", "crtime"):
        assert f"{field}: 0x6553f100" in out, out
    assert "User:     0   Group:     0" in out
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000001")
    build_image(tmp_path / "s", tmp_path / "b.img")
    assert sha256(tmp_path / "a.img") != sha256(tmp_path / "b.img")


def test_image_holds_files_modes_and_symlinks(tmp_path: Path) -> None:
    stage_sample(tmp_path / "s")
    img = tmp_path / "root.img"
    build_image(tmp_path / "s", img)
    assert debugfs(img, "cat /etc/mid") == "mid\n"
    assert "Mode:  0755" in debugfs(img, "stat /bin/prog")
    assert "Mode:  0644" in debugfs(img, "stat /etc/zeta")
    assert 'Fast link dest: "prog"' in debugfs(img, "stat /bin/link")
    assert debugfs(img, "cat /bin/longlink") == "/a/very/long/target/" + "x" * 80
    assert "Type: directory" in debugfs(img, "stat /empty/dir")
    subprocess.run(["e2fsck", "-fn", str(img)], capture_output=True, check=True)


def test_file_names_that_look_like_messages_are_not_errors(tmp_path: Path) -> None:
    """debugfs echoes every command with its file name: a name with "error" in it is no error."""
    stage = tmp_path / "s"
    (stage / "bin").mkdir(parents=True)
    (stage / "bin" / "my_errors_prog").write_text("x")
    img = tmp_path / "root.img"
    build_image(stage, img)
    assert debugfs(img, "cat /bin/my_errors_prog") == "x"


def test_image_format_is_the_documented_one(tmp_path: Path) -> None:
    stage_sample(tmp_path / "s")
    img = tmp_path / "root.img"
    build_image(tmp_path / "s", img)
    r = subprocess.run(["dumpe2fs", "-h", str(img)], capture_output=True, text=True, check=True)
    fields = dict(
        (k.strip(), v.strip()) for k, _, v in (ln.partition(":") for ln in r.stdout.splitlines())
    )
    assert set(fields["Filesystem features"].split()) == set(image.FEATURES.split(","))
    assert fields["Block size"] == "4096"
    assert fields["Inode size"] == "256"
    assert fields["Filesystem UUID"] == image.FIXED_UUID
    assert fields["Directory Hash Seed"] == image.FIXED_HASH_SEED


def test_size_follows_content_with_headroom(tmp_path: Path) -> None:
    s = Staging(tmp_path / "s")
    s.stage_bytes(os.urandom(3 << 20), "/big")
    for i in range(300):
        s.stage_bytes(b"x", f"/many/f{i:03}")
    stats = build_image(s.root, tmp_path / "root.img")
    assert stats.blocks > stats.content_blocks >= (3 << 20) // 4096
    assert stats.blocks * 4096 <= (tmp_path / "root.img").stat().st_size  # may be padded
    assert debugfs(tmp_path / "root.img", "ls /many").count("f2") == 100


def test_stage_tree_copies_a_host_tree(tmp_path: Path) -> None:
    src = tmp_path / "src"
    (src / "sub").mkdir(parents=True)
    (src / "sub" / "f").write_text("data")
    (src / "run.sh").write_text("#!/bin/sh\n")
    (src / "run.sh").chmod(0o700)
    os.symlink("sub/f", src / "ln")
    s = Staging(tmp_path / "s")
    s.stage_tree(src, "/opt/app")
    img = tmp_path / "root.img"
    build_image(s.root, img)
    assert debugfs(img, "cat /opt/app/sub/f") == "data"
    assert "Mode:  0755" in debugfs(img, "stat /opt/app/run.sh")
    assert 'Fast link dest: "sub/f"' in debugfs(img, "stat /opt/app/ln")


def test_staging_never_writes_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    s = Staging(tmp_path / "s")
    s.stage_symlink(str(outside), "/lib")
    with pytest.raises(LwjvmError, match="/lib is a symlink"):
        s.stage_bytes(b"x", "/lib/libc.so.6")
    assert not any(outside.iterdir())


@pytest.mark.parametrize("bad", ["relative/path", "/a/../b", '/with"quote'])
def test_bad_guest_paths_are_refused(tmp_path: Path, bad: str) -> None:
    with pytest.raises(LwjvmError):
        Staging(tmp_path / "s").stage_bytes(b"x", bad)


def test_missing_mke2fs_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    stage_sample(tmp_path / "s")
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    monkeypatch.setattr(image, "SBIN_DIRS", ())
    with pytest.raises(LwjvmError, match="mke2fs not found: install e2fsprogs"):
        build_image(tmp_path / "s", tmp_path / "root.img")
