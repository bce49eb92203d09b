"""POSIX on a volume, in the guest: tests/kernel/test_fs.py's random scripts of file operations
(create, write, read, truncate, rename, hard and symbolic links, chmod, SEEK_DATA/SEEK_HOLE, open
files unlinked and renamed over...) run with real system calls on a mounted volume
(tests/guest/volume/fs_script.c) and give the same results line by line as Linux's own tmpfs on
the host (that test's oracle); then the volume checks clean and its tree, read back on the host,
is the one the scripts left. Also statfs, flock and fcntl locks, fallocate, files over 4 GiB."""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from guest_harness import sigkill_env

from lwjvm import volume
from lwjvm.testing import guest_unavailable, lwjvm_command

HERE = Path(__file__).resolve().parent
SEEDS = range(int(os.environ.get("LWJVM_VOLUME_FS_SEEDS", "6")))


def _test_fs() -> object:
    spec = importlib.util.spec_from_file_location(
        "lwjvm_test_fs", HERE.parent / "kernel" / "test_fs.py"
    )
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def runner(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    try:
        volume.find_tool()
    except Exception as e:  # noqa: BLE001 - volfs-tool not built: nothing to test
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("fs_script")
    exe = d / "fs_script"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(HERE / "volume" / "fs_script.c")], check=True)  # fmt: skip
    return exe


def _exec(exe: Path, vol: Path, scripts: Path, args: list[str]) -> subprocess.CompletedProcess[str]:
    empty = scripts.parent / "empty"
    empty.mkdir(exist_ok=True)
    return subprocess.run(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "600", "--disk", str(vol),
         "--kernel-arg", "lwjvm.volume=/data", "--add", f"{empty}:/data",
         "--add", f"{scripts}:/scripts", str(exe), *args],
        capture_output=True, text=True, timeout=900,
    )  # fmt: skip


def test_random_file_scripts_on_a_volume_match_linux_tmpfs(runner: Path, tmp_path: Path) -> None:
    if not Path("/dev/shm").is_dir():
        pytest.skip("no /dev/shm tmpfs on this host for the oracle")
    tf = _test_fs()
    scripts = tmp_path / "scripts"
    scripts.mkdir()
    wants, opss = [], []
    for seed in SEEDS:
        ops = tf._random_script(random.Random(seed), 250)  # type: ignore[attr-defined]
        (scripts / f"{seed}.txt").write_text("\n".join(ops) + "\n")
        old = os.umask(0)
        root = Path(tempfile.mkdtemp(prefix="lwjvm-oracle-", dir="/dev/shm"))
        os.chmod(root, 0o1777)
        try:
            wants.append(tf._oracle(root, ops))  # type: ignore[attr-defined]
        finally:
            os.umask(old)
            shutil.rmtree(root)
        opss.append(ops)
    state = tmp_path / "state"
    vol = volume.create(state, "posix", 64 << 20)
    r = _exec(runner, vol, scripts, ["/data", *(f"/scripts/{s}.txt" for s in SEEDS)])
    assert r.returncode == 0, r.stderr[-3000:]
    outs = r.stdout.split("=== ")[1:]
    assert len(outs) == len(SEEDS), r.stdout[-2000:]
    for seed, out, want, ops in zip(SEEDS, outs, wants, opss, strict=True):
        got = out.splitlines()[1:]
        for i, (line, w, g) in enumerate(zip(ops, want, got, strict=False)):
            assert g == w, f"seed {seed} op {i}: {line}: the volume gave {g!r}, Linux {w!r}"
        assert len(got) == len(want), f"seed {seed}"
    assert volume.check(state, "posix", repair=False).sound


def test_mappings_seek_data_fallocate_statfs_and_locks_on_a_volume_as_on_linux(
    runner: Path, tmp_path: Path
) -> None:
    exe = tmp_path / "posix_extra"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(HERE / "volume" / "posix_extra.c")], check=True)  # fmt: skip
    scratch = tmp_path / "oracle"
    scratch.mkdir()
    want = subprocess.run([str(exe), str(scratch)], capture_output=True, text=True, timeout=120)
    assert want.returncode == 0, want.stdout
    state = tmp_path / "state"
    vol = volume.create(state, "extra", 64 << 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    proc = subprocess.Popen(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "600", "--disk", str(vol),
         "--kernel-arg", "lwjvm.volume=/data", "--add", f"{empty}:/data", str(exe), "/data",
         "pause"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, text=True,
        env=sigkill_env(tmp_path),
    )  # fmt: skip
    lines = []
    try:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line)
            if line == "durable\n" or line.startswith("FAILED"):
                break
    finally:
        os.killpg(proc.pid, 9)  # no exit path runs in the guest: msync alone made it durable
        proc.wait()
    assert "".join(lines) == want.stdout, proc.stderr.read() if proc.stderr else ""
    tool = str(volume.find_tool())
    got = subprocess.run([tool, "cat", str(vol), "/durable"], capture_output=True, check=True)
    assert got.stdout == bytes(ord("A") + i % 26 for i in range(8192))
    shared = subprocess.run([tool, "cat", str(vol), "/shared"], capture_output=True, check=True)
    assert shared.stdout[:4096] == b"a" * 4096
    assert shared.stdout[4096 + 10 : 4096 + 29] == b"through the mapping"
    assert volume.check(state, "extra", repair=False).sound


ARC_REREAD = r"""
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
static long stat_of(const char *name) {
    static char text[4096];
    int fd = open("/proc/lwjvm/volume", O_RDONLY);
    long n = read(fd, text, sizeof text - 1);
    close(fd);
    text[n > 0 ? n : 0] = 0;
    char *p = strstr(text, name);
    return p ? atol(p + strlen(name) + 1) : -1;
}
int main(void) {
    static char buf[1 << 16];
    int fd = open("/data/working-set", O_RDWR | O_CREAT | O_TRUNC, 0644);
    for (int i = 0; i < 128; i++) { memset(buf, i, sizeof buf); write(fd, buf, sizeof buf); }
    fsync(fd);
    close(fd);
    long h0 = stat_of("arc_hits"), m0 = stat_of("arc_misses");
    for (int k = 0; k < 3; k++) {
        fd = open("/data/working-set", O_RDONLY);
        while (read(fd, buf, sizeof buf) > 0) {}
        close(fd);
    }
    long h = stat_of("arc_hits") - h0, m = stat_of("arc_misses") - m0;
    printf("max %ld hits %ld misses %ld rate %ld\n", stat_of("arc_max_bytes"), h, m,
           h + m ? h * 100 / (h + m) : 0);
    return 0;
}
"""


def test_the_block_cache_serves_a_re_read_working_set_and_counts_it_in_proc(
    runner: Path, tmp_path: Path
) -> None:
    (tmp_path / "arc.c").write_text(ARC_REREAD)
    exe = tmp_path / "arc"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(tmp_path / "arc.c")], check=True)
    state = tmp_path / "state"
    vol = volume.create(state, "arc", 64 << 20)
    r = _exec(exe, vol, tmp_path, [])
    assert r.returncode == 0, r.stderr[-2000:]
    words = r.stdout.split()
    fields = dict(zip(words[::2], map(int, words[1::2]), strict=True))
    assert (1 << 30) // 10 < fields["max"] <= (1 << 30) // 8  # an eighth of exec's 1G, managed
    assert fields["hits"] + fields["misses"] >= 3 * 2048  # three passes over 8 MiB
    assert fields["rate"] >= 95, r.stdout


FREE_SPACE = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char buf[1 << 20];
    memset(buf, 0x5a, sizeof buf);
    int fd = open("/data/big", O_RDWR | O_CREAT, 0644);
    for (int i = 0; i < 16; i++) write(fd, buf, sizeof buf);
    fsync(fd);
    close(fd);
    unlink("/data/big");
    for (int i = 0; i < 6; i++) { /* commits: the frees are past their four txgs */
        char name[32];
        snprintf(name, sizeof name, "/data/t%d", i);
        fd = open(name, O_RDWR | O_CREAT, 0644);
        fsync(fd);
        close(fd);
    }
    printf("done\n");
    return 0;
}
"""


def test_space_a_volume_frees_goes_back_to_the_host_file(runner: Path, tmp_path: Path) -> None:
    (tmp_path / "free.c").write_text(FREE_SPACE)
    exe = tmp_path / "free"
    subprocess.run(["gcc", "-O2", "-o", str(exe), str(tmp_path / "free.c")], check=True)
    state = tmp_path / "state"
    vol = volume.create(state, "free", 64 << 20)
    r = _exec(exe, vol, tmp_path, [])
    assert r.returncode == 0 and r.stdout == "done\n", r.stderr[-2000:]
    # 16 MiB were written then freed: DISCARD made them holes in the file again.
    assert vol.stat().st_blocks * 512 < (4 << 20), vol.stat().st_blocks
    assert volume.check(state, "free", repair=False).sound
