"""`lwjvm volume create|ls|check|rm` on the kernel's own volfs code (volfs-tool, built by make
kernel from kernel/fs/volfs): a volume file is made, listed, written through the tool, checked;
a bit flipped in each block in turn is caught by check, repaired from the ditto copy where
metadata has one, and never read back as wrong data."""

from __future__ import annotations

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
        volume.find_tool()
    except Exception as e:  # noqa: BLE001 - not built here: nothing to test
        pytest.skip(str(e))
    return tmp_path / "state"


def lwjvm(state: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "LWJVM_STATE_DIR": str(state)}
    return subprocess.run([*lwjvm_command(), *args], capture_output=True, text=True, env=env)


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
    assert lines[0].split() == ["NAME", "SIZE", "USED", "TXG"]
    assert lines[1].split()[:2] == ["data", "64M"] and lines[1].split()[3] == "2"
    r = lwjvm(state, "volume", "check", "data")
    assert r.returncode == 0
    assert " 0 bad, 0 repaired, 0 unrecoverable" in r.stdout
    assert lwjvm(state, "volume", "rm", "data").returncode == 0
    assert not vol.exists()
    r = lwjvm(state, "volume", "check", "data")
    assert r.returncode == 125 and "no volume named data" in r.stderr
    r = lwjvm(state, "volume", "create", "x", "--size", "1K")
    assert r.returncode == 125 and "at least 1M" in r.stderr


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
