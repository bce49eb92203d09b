"""Real applications on a volume, killed with SIGKILL: SQLite (a C program linked against Debian's
libsqlite3, tests/guest/volume/sqlite_crash.c) inserts rows in transactions with synchronous=FULL in
WAL mode (its -shm index is a shared mapping of a volume file) and EXTRA in rollback-journal mode
(FULL there leaves the journal's unlink, the commit, unsynced: SQLite's own documented window, seen
once in make test as the last 10 rows rolled back); QEMU is killed at a random instant; the next
boot opens the database, `PRAGMA integrity_check` says ok, and every row whose COMMIT returned is
there, with its data; the host's own sqlite3 agrees on the database exported from the volume. H2 in
file mode (the Maven Central jar `make corpus` fetches), syncing after each commit (CHECKPOINT
SYNC), killed twice: it opens, its SCRIPT runs over every table, and every synced row is there."""

from __future__ import annotations

import os
import random
import re
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest
from guest_harness import sigkill_env

from lwjvm import volume
from lwjvm.testing import guest_unavailable, lwjvm_command

HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def sqlite_prog(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    if not Path("/usr/include/sqlite3.h").is_file():
        pytest.skip("libsqlite3-dev is not installed (make setup installs it)")
    try:
        volume.find_tool()
    except Exception as e:  # noqa: BLE001 - volfs-tool not built: nothing to test
        pytest.skip(str(e))
    exe = tmp_path_factory.mktemp("sqlite") / "sqlite_crash"
    subprocess.run(["gcc", "-O2", "-Wall", "-Werror", "-o", str(exe),
                    str(HERE / "volume" / "sqlite_crash.c"), "-lsqlite3"], check=True)  # fmt: skip
    return exe


def _argv(exe: Path, vol: Path, empty: Path, *args: str) -> list[str]:
    return [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "600", "--disk", str(vol),
            "--kernel-arg", "lwjvm.volume=/data", "--add", f"{empty}:/data", str(exe),
            *args]  # fmt: skip


def _run_and_kill(argv: list[str], delay: float, scratch: Path) -> int:
    """Runs the writer until `delay` s after its first commit, kills QEMU; the rows acked."""
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=sigkill_env(scratch))  # fmt: skip
    acked = 0
    first = threading.Event()

    def read() -> None:
        nonlocal acked
        assert proc.stdout is not None
        for line in proc.stdout:
            m = re.match(rb"committed (\d+)$", line.strip())
            if m:
                acked = int(m.group(1))
                first.set()
            elif line.startswith(b"FAILED"):
                first.set()
                acked = -1
        first.set()  # it ended: no wait for what will not come

    t = threading.Thread(target=read, daemon=True)
    t.start()
    try:
        first.wait(300)
        assert acked > 0 and proc.poll() is None, proc.stderr.read() if proc.stderr else b""
        time.sleep(delay)
    finally:
        os.killpg(proc.pid, 9)
        proc.wait()
        t.join(10)
    return acked


@pytest.mark.parametrize("mode", ["wal", "delete"])
def test_sqlite_keeps_every_committed_row_through_kill_9(
    sqlite_prog: Path, tmp_path: Path, mode: str
) -> None:
    state = tmp_path / "state"
    vol = volume.create(state, "db", 64 << 20)
    empty = tmp_path / "empty"
    empty.mkdir()
    rng = random.Random(11)
    acked = 0
    for _ in range(2):
        got = _run_and_kill(_argv(sqlite_prog, vol, empty, "/data/app.db", mode),
                            rng.uniform(0.5, 2.5), tmp_path)  # fmt: skip
        assert got > acked, "the writer did not commit (FAILED, or nothing new)"
        acked = got
        r = subprocess.run(_argv(sqlite_prog, vol, empty, "/data/app.db", "check"),
                           capture_output=True, text=True, timeout=600)  # fmt: skip
        assert r.returncode == 0, r.stdout + r.stderr[-2000:]
        m = re.fullmatch(r"integrity ok rows (\d+)\n", r.stdout)
        assert m, r.stdout
        assert int(m.group(1)) >= acked
    assert volume.check(state, "db", repair=False).sound
    # The host's own SQLite reads the database as the volume holds it.
    out = tmp_path / "out"
    volume.export(state, "db", str(out))
    with sqlite3.connect(out / "app.db") as con:
        assert con.execute("PRAGMA integrity_check").fetchone() == ("ok",)
        assert con.execute("SELECT count(*) FROM t").fetchone()[0] >= acked


JDK = Path("/usr/lib/jvm/java-17-openjdk-amd64")
H2_JAR = HERE.parent / "build" / "corpus" / "lib" / "h2-2.3.232.jar"


def test_h2_in_file_mode_opens_with_its_synced_rows_after_kill_9(tmp_path: Path) -> None:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    if not H2_JAR.is_file() or not (JDK / "bin" / "javac").is_file():
        pytest.skip(f"no {H2_JAR.name} (make corpus fetches it) or no JDK at {JDK}")
    import json

    classes = tmp_path / "classes"
    subprocess.run([str(JDK / "bin/javac"), "-cp", str(H2_JAR), "-d", str(classes),
                    str(HERE / "volume" / "H2Crash.java")], check=True)  # fmt: skip
    jar = tmp_path / "h2crash.jar"
    h2 = tmp_path / H2_JAR.name  # the manifest's files live beside it
    h2.write_bytes(H2_JAR.read_bytes())
    subprocess.run([str(JDK / "bin/jar"), "--create", "--file", str(jar), "-C", str(classes), "."],
                   check=True)  # fmt: skip
    state = tmp_path / "state"
    env = {**os.environ, "LWJVM_STATE_DIR": str(state)}

    def manifest(mode: str) -> Path:
        doc = {
            "name": f"h2{mode}",
            "app": {"jar": str(jar), "classpath": [str(h2)], "main": "H2Crash",
                    "args": [mode]},
            "jvm": {"home": str(JDK), "cds": False},
            "vm": {"memory": "512M", "network": "none"},
            "volumes": [{"name": "h2data", "size": "256M", "mount": "/data"}],
        }  # fmt: skip
        p = tmp_path / f"{mode}.yaml"
        p.write_text(json.dumps(doc))
        return p

    def run(mode: str) -> list[str]:
        return [*lwjvm_command(), "run", "-q", "--accel", "tcg", "--timeout", "600", "-o",
                str(tmp_path / f"image-{mode}"), str(manifest(mode))]  # fmt: skip

    acked = 0
    for delay in (1.0, 3.0):
        proc = subprocess.Popen(run("write"), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, env=sigkill_env(tmp_path, env))  # fmt: skip
        got = 0
        first = threading.Event()

        def read(p: subprocess.Popen[bytes] = proc, first: threading.Event = first) -> None:
            nonlocal got
            assert p.stdout is not None
            for line in p.stdout:
                m = re.match(rb"synced (\d+)$", line.strip())
                if m:
                    got = int(m.group(1))
                    first.set()
            first.set()  # it ended: no wait for what will not come

        t = threading.Thread(target=read, daemon=True)
        t.start()
        try:
            first.wait(500)
            assert got and proc.poll() is None, proc.stderr.read() if proc.stderr else b""
            time.sleep(delay)
        finally:
            os.killpg(proc.pid, 9)
            proc.wait()
            t.join(10)
        assert got > acked
        acked = got
        r = subprocess.run(run("check"), capture_output=True, text=True, timeout=700, env=env)
        assert r.returncode == 0, r.stdout + r.stderr[-2000:]
        m = re.fullmatch(r"ok rows (\d+)\n", r.stdout)
        assert m, r.stdout
        assert int(m.group(1)) >= acked
    assert volume.check(state, "h2data", repair=False).sound
