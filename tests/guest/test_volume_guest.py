"""Data volumes end to end: a manifest's `volumes: [{name, size, mount}]` is created on first use
under the state directory and mounted in the guest (virtio-blk, volfs from kernel/fs/volfs). A
Java program writes a file there and forces it (fsync: the transaction group is committed, then
FLUSH); the VM stops; the host's volfs-tool (the same C code) finds the bytes and `lwjvm volume
check` finds every checksum right; a second boot reads the file back, with one the host added.
A snapshot of a volume in use is taken by the guest (asked through the control channel): it
holds a whole prefix of what a running program wrote; the host refuses to remove the volume
meanwhile (QEMU's image lock). A clone made from a snapshot is mounted by a manifest."""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

import pytest
from guest_harness import sigkill_env

from lwjvm import volume
from lwjvm.testing import guest_unavailable, lwjvm_command

HERE = Path(__file__).resolve().parent

JDK = Path("/usr/lib/jvm/java-17-openjdk-amd64")

VOLUME_APP = r"""
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.*;
import java.util.stream.Collectors;

public class VolumeApp {
    public static void main(String[] args) throws Exception {
        Path dir = Paths.get("/data/notes");
        Path f = dir.resolve("note.txt");
        if (!Files.exists(f)) {
            Files.createDirectories(dir);
            try (FileChannel ch = FileChannel.open(f, StandardOpenOption.CREATE,
                    StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING)) {
                byte[] text = "written by the guest\n".getBytes(StandardCharsets.UTF_8);
                ch.write(ByteBuffer.wrap(text));
                ch.force(true);
            }
            System.out.println("wrote " + Files.size(f));
        } else {
            System.out.print(Files.readString(f));
            System.out.print(Files.readString(Paths.get("/data/from-host.txt")));
            try (var s = Files.list(Paths.get("/data"))) {
                System.out.println(s.map(p -> p.getFileName().toString()).sorted()
                        .collect(Collectors.joining(",")));
            }
        }
    }
}
"""


@pytest.fixture(scope="module")
def app(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    if not (JDK / "bin" / "javac").is_file():
        pytest.skip(f"no JDK at {JDK}")
    try:
        volume.find_tool()
    except Exception as e:  # noqa: BLE001 - volfs-tool not built: nothing to test
        pytest.skip(str(e))
    d = tmp_path_factory.mktemp("volapp")
    (d / "VolumeApp.java").write_text(VOLUME_APP)
    subprocess.run([str(JDK / "bin/javac"), "-d", str(d / "classes"), str(d / "VolumeApp.java")],
                   check=True)  # fmt: skip
    subprocess.run(
        [str(JDK / "bin/jar"), "--create", "--file", str(d / "app.jar"), "--main-class",
         "VolumeApp", "-C", str(d / "classes"), "."],
        check=True,
    )  # fmt: skip
    manifest = {
        "name": "volapp",
        "app": {"jar": str(d / "app.jar")},
        "jvm": {"home": str(JDK), "cds": False},
        "vm": {"memory": "256M", "network": "none"},
        "volumes": [{"name": "appdata", "size": "64M", "mount": "/data"}],
    }
    (d / "app.yaml").write_text(json.dumps(manifest))
    return d / "app.yaml"


def _run(manifest: Path, state: Path, image: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lwjvm_command(), "run", "-q", "--accel", "tcg", "--timeout", "300", "-o", str(image),
         str(manifest)],
        capture_output=True, text=True, timeout=600,
        env={**os.environ, "LWJVM_STATE_DIR": str(state)},
    )  # fmt: skip


def test_a_file_written_in_the_guest_is_on_the_volume_after_the_vm_stops(
    app: Path, tmp_path: Path
) -> None:
    state, image = tmp_path / "state", tmp_path / "image"
    r = _run(app, state, image)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "wrote 21\n"
    vol = state / "volumes" / "appdata.vol"
    assert vol.stat().st_size == 64 << 20  # created on first use
    tool = str(volume.find_tool())
    got = subprocess.run([tool, "cat", str(vol), "/notes/note.txt"], capture_output=True)
    assert got.stdout == b"written by the guest\n"
    report = volume.check(state, "appdata", repair=False)
    assert report.sound and report.bad == 0
    subprocess.run([tool, "put", str(vol), "/from-host.txt"], input=b"from the host\n", check=True)
    r = _run(app, state, image)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "written by the guest\nfrom the host\nfrom-host.txt,notes\n"
    assert volume.check(state, "appdata", repair=False).sound


def test_a_volume_without_a_disk_is_a_clear_boot_error(tmp_path: Path) -> None:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    (tmp_path / "empty").mkdir()
    r = subprocess.run(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "120", "--kernel-arg",
         "lwjvm.volume=/data", "--add", f"{tmp_path / 'empty'}:/data", "/bin/true"],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert r.returncode == 125
    assert "cannot mount the volume at /data: no disk" in r.stderr


FSYNC_KILL = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    int fd = open("/data/records", O_CREAT | O_WRONLY | O_APPEND, 0644);
    if (fd < 0) { perror("open"); return 1; }
    for (int i = 0; i < 20; i++) {
        char rec[32];
        int n = snprintf(rec, sizeof rec, "record %d\n", i);
        if (write(fd, rec, n) != n || fsync(fd)) { perror("write"); return 1; }
    }
    write(fd, "not synced\n", 11); /* no fsync: may or may not survive, never half */
    printf("synced\n");
    fflush(stdout);
    for (;;) pause();
}
"""


def test_what_fsync_returned_for_survives_qemu_killed_with_sigkill(tmp_path: Path) -> None:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    (tmp_path / "prog.c").write_text(FSYNC_KILL)
    subprocess.run(["gcc", "-O2", "-o", str(tmp_path / "prog"), str(tmp_path / "prog.c")],
                   check=True)  # fmt: skip
    state = tmp_path / "state"
    vol = volume.create(state, "recs", 16 << 20)
    (tmp_path / "empty").mkdir()
    proc = subprocess.Popen(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "300", "--disk", str(vol),
         "--kernel-arg", "lwjvm.volume=/data", "--add", f"{tmp_path / 'empty'}:/data",
         str(tmp_path / "prog")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env=sigkill_env(tmp_path),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == b"synced\n", proc.stderr.read() if proc.stderr else b""
    finally:
        os.killpg(proc.pid, 9)  # lwjvm and its QEMU: no exit path runs in the guest
        proc.wait()
    got = subprocess.run(
        [str(volume.find_tool()), "cat", str(vol), "/records"], capture_output=True, check=True
    ).stdout
    want = b"".join(b"record %d\n" % i for i in range(20))
    assert got in (want, want + b"not synced\n")
    assert volume.check(state, "recs", repair=False).sound


WRITER = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    int fd = open("/data/log", O_CREAT | O_WRONLY | O_APPEND, 0644);
    if (fd < 0) { perror("open"); return 1; }
    for (int i = 0;; i++) {
        char rec[64];
        int n = snprintf(rec, sizeof rec, "record %08d %s\n", i, "padding-padding-padding");
        if (write(fd, rec, n) != n) { perror("write"); return 1; }
        if (i == 2000) { printf("going\n"); fflush(stdout); }
    }
}
"""


def _records_ok(data: bytes) -> int:
    """The number of whole records in data, which must be exactly records 0..n-1."""
    lines = data.split(b"\n")
    assert lines[-1] == b""
    for i, line in enumerate(lines[:-1]):
        assert line == b"record %08d padding-padding-padding" % i, (i, line)
    return len(lines) - 1


def test_a_snapshot_of_a_volume_in_use_is_taken_by_the_guest_and_consistent(
    tmp_path: Path,
) -> None:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    (tmp_path / "prog.c").write_text(WRITER)
    subprocess.run(["gcc", "-O2", "-o", str(tmp_path / "prog"), str(tmp_path / "prog.c")],
                   check=True)  # fmt: skip
    state = tmp_path / "state"
    vol = volume.create(state, "recs", 64 << 20)
    (tmp_path / "empty").mkdir()
    env = {**os.environ, "LWJVM_STATE_DIR": str(state)}
    proc = subprocess.Popen(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "600", "--disk", str(vol),
         "--kernel-arg", "lwjvm.volume=/data", "--add", f"{tmp_path / 'empty'}:/data",
         str(tmp_path / "prog")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env=sigkill_env(tmp_path),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == b"going\n", proc.stderr.read() if proc.stderr else b""
        lw = [*lwjvm_command(), "volume"]
        r = subprocess.run([*lw, "snapshot", "recs@live"], capture_output=True, text=True, env=env,
                           timeout=400)  # fmt: skip
        assert r.returncode == 0, r.stderr
        r = subprocess.run([*lw, "rm", "recs"], capture_output=True, text=True, env=env)
        assert r.returncode == 125
        assert "volume recs is in use by a running VM: stop it first" in r.stderr
        r = subprocess.run([*lw, "snapshot", "recs@live"], capture_output=True, text=True, env=env,
                           timeout=400)  # fmt: skip
        assert r.returncode == 125 and "recs@live: already exists" in r.stderr
        assert proc.poll() is None  # the program went on writing all along
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    out = tmp_path / "out"
    r = subprocess.run([*lwjvm_command(), "volume", "export", "recs@live", str(out)],
                       capture_output=True, text=True, env=env)  # fmt: skip
    assert r.returncode == 0, r.stderr
    n = _records_ok((out / "log").read_bytes())
    assert n > 2000
    assert volume.check(state, "recs", repair=False).sound
    names = [d.name for d in volume.datasets(state, "recs")]
    assert names == ["recs", "recs@live"]


ORPHAN = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(void) {
    static char buf[1 << 20];
    memset(buf, 0x6f, sizeof buf);
    int fd = open("/data/scratch", O_CREAT | O_RDWR, 0600);
    if (fd < 0) { perror("open"); return 1; }
    for (int i = 0; i < 8; i++)
        if (write(fd, buf, sizeof buf) != sizeof buf) { perror("write"); return 1; }
    if (unlink("/data/scratch") || fsync(fd)) { perror("unlink"); return 1; } /* commits it */
    if (pread(fd, buf, 4, 4096) != 4 || memcmp(buf, "oooo", 4)) return 1; /* still readable */
    printf("orphaned\n");
    fflush(stdout);
    for (;;) pause();
}
"""


def test_a_file_unlinked_while_open_when_the_vm_died_is_freed_by_the_next_boot(
    tmp_path: Path,
) -> None:
    """A program keeps an 8 MiB file open after unlinking it (committed); QEMU is killed, so the
    file is never released: the volume's dataset still reaches it (an orphan). The next boot's
    mount frees it (format version 4's orphan table), and the volume checks clean."""
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    (tmp_path / "prog.c").write_text(ORPHAN)
    subprocess.run(["gcc", "-O2", "-o", str(tmp_path / "prog"), str(tmp_path / "prog.c")],
                   check=True)  # fmt: skip
    state = tmp_path / "state"
    vol = volume.create(state, "orph", 32 << 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    disk = ["--disk", str(vol), "--kernel-arg", "lwjvm.volume=/data", "--add", f"{empty}:/data"]
    proc = subprocess.Popen(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "300", *disk,
         str(tmp_path / "prog")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
        env=sigkill_env(tmp_path),
    )  # fmt: skip
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line == b"orphaned\n", proc.stderr.read() if proc.stderr else b""
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
    def refer() -> int:  # bytes of the blocks the volume's own dataset reaches
        return next(d.refer for d in volume.datasets(state, "orph") if d.name == "orph")

    before = refer()
    assert before >= 8 << 20, before  # the orphan's blocks are still held
    r = subprocess.run(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "300", *disk, "/bin/true"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr[-2000:]
    after = refer()  # (its blocks return to the free space 4 commits on, as every free)
    assert after < before - (7 << 20), (before, after)
    assert volume.check(state, "orph", repair=False).sound


def test_o_direct_on_a_volume_behaves_as_on_the_host_and_bypasses_the_arc(
    tmp_path: Path,
) -> None:
    """tests/guest/volume/direct.c: EINVAL for a buffer, offset or length not a multiple of 512;
    aligned direct writes of whole and part blocks read back through O_DIRECT and buffered
    descriptors, and buffered writes through O_DIRECT; the same output as on the host (when the
    host's file system takes O_DIRECT). The direct read of 74 blocks costs the ARC no data
    block (a hit or miss each otherwise)."""
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    exe = tmp_path / "direct"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(HERE / "volume" / "direct.c")], check=True)  # fmt: skip
    scratch = tmp_path / "host"
    scratch.mkdir()
    host = subprocess.run([str(exe), str(scratch)], capture_output=True, text=True, timeout=120)
    state = tmp_path / "state"
    vol = volume.create(state, "direct", 16 << 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    r = subprocess.run(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "300", "--disk", str(vol),
         "--kernel-arg", "lwjvm.volume=/data", "--add", f"{empty}:/data", str(exe), "/data"],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
    assert "misaligned buffer: EINVAL" in r.stdout and "sees it: yes" in r.stdout
    if host.returncode == 0:  # the host's file system has O_DIRECT
        assert r.stdout == host.stdout
    m = re.search(r"ARC hits \+(\d+), misses \+(\d+)", r.stderr)
    assert m is not None, r.stderr[-2000:]
    assert int(m.group(1)) + int(m.group(2)) <= 8, m.group(0)
    assert volume.check(state, "direct", repair=False).sound
