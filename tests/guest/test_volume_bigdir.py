"""Many files in one directory on a volume (issue 13: 100,000 files in one directory), in the
guest against the host: tests/guest/volume/bigdir.c creates N files in one directory, looks each
up, lists the directory (each name exactly once), renames a tenth within it and back, removes
them as rm -r does (unlinking each name as readdir gives it) and removes the directory; its
output on the volume is the host's in a scratch directory, and the volume checks clean after.
Format version 3 directories are hashed (docs/volume-format.md), so each step costs the same per
file whatever N is. `make test` runs 10,000 files (LWJVM_BIGDIR_FILES to change it), `make soak`
100,000 (LWJVM_SOAK=1). Timings go to stderr and are not asserted."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from lwjvm import volume
from lwjvm.testing import guest_unavailable, lwjvm_command

HERE = Path(__file__).resolve().parent
SOAK = os.environ.get("LWJVM_SOAK") == "1"
FILES = int(os.environ.get("LWJVM_BIGDIR_FILES", "100000" if SOAK else "10000"))


@pytest.fixture(scope="module")
def bigdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    try:
        volume.find_tool()
    except Exception as e:  # noqa: BLE001 - volfs-tool not built: nothing to test
        pytest.skip(str(e))
    exe = tmp_path_factory.mktemp("bigdir") / "bigdir"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(HERE / "volume" / "bigdir.c")], check=True)  # fmt: skip
    return exe


def test_files_in_one_directory_on_a_volume_behave_as_on_the_host(
    bigdir: Path, tmp_path: Path
) -> None:
    scratch = tmp_path / "host"
    scratch.mkdir()
    host = subprocess.run([str(bigdir), str(scratch), str(FILES)], capture_output=True,
                          text=True, timeout=600)  # fmt: skip
    assert host.returncode == 0, host.stdout + host.stderr
    assert f"listed {FILES} entries, {FILES} names once each" in host.stdout
    state = tmp_path / "state"
    vol = volume.create(state, "bigdir", 512 << 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--memory", "512M", "--timeout", "3000",
         "--disk", str(vol), "--kernel-arg", "lwjvm.volume=/data", "--add", f"{empty}:/data",
         str(bigdir), "/data", str(FILES)],
        capture_output=True, text=True, timeout=3600,
    )  # fmt: skip
    print(r.stderr[-2000:])
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-3000:]
    assert r.stdout == host.stdout
    assert volume.check(state, "bigdir", repair=False).sound
