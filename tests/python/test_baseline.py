"""The pure parts of `make bench`'s Linux-guest baseline: wrk's output, the initramfs archive,
module order and the host TSC rate. No VM boots here, and no timing is asserted."""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
from pathlib import Path

import pytest

from lwjvm import baseline, corpusbench, linuxguest
from lwjvm.errors import LwjvmError

WRK_OUTPUT = """Running 10s test @ http://127.0.0.1:40123/
  1 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.34ms    3.21ms  98.00ms   91.00%
    Req/Sec     1.30k   120.00     1.50k    70.00%
  Latency Distribution
     50%  635.00us
     75%   14.20ms
     90%   18.00ms
     99%    1.02s
  12974 requests in 10.01s, 1.63MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 4
Requests/sec:   1296.10
Transfer/sec:    166.85KB
"""


def test_parse_wrk_reads_rate_percentiles_and_errors() -> None:
    r = baseline.parse_wrk(WRK_OUTPUT)
    assert r.rps == pytest.approx(1296.10)
    assert r.p50 == pytest.approx(635e-6)
    assert r.p99 == pytest.approx(1.02)
    assert r.requests == 12974
    assert r.errors == 2 + 3 + 4


def test_parse_wrk_without_errors_and_missing_figures() -> None:
    clean = "\n".join(
        line for line in WRK_OUTPUT.splitlines() if "errors" not in line and "Non-2xx" not in line
    )
    assert baseline.parse_wrk(clean).errors == 0
    with pytest.raises(LwjvmError, match="unexpected output"):
        baseline.parse_wrk(WRK_OUTPUT.replace("Requests/sec", "Reqs"))


@pytest.mark.parametrize(
    ("text", "secs"),
    [("635.00us", 635e-6), ("1.23ms", 1.23e-3), ("2.00s", 2.0), ("1.50m", 90.0)],
)
def test_parse_duration_units(text: str, secs: float) -> None:
    assert baseline.parse_duration(text) == pytest.approx(secs)


def test_ratio_is_above_one_when_lwjvm_is_better() -> None:
    assert baseline.ratio(200.0, 100.0, higher_is_better=True) == 2.0
    assert baseline.ratio(1.0, 3.0, higher_is_better=False) == 3.0
    assert baseline.ratio(None, 3.0, higher_is_better=False) is None


def test_report_names_both_sides_and_failures() -> None:
    one = {"median": 1.0, "min": 0.9, "max": 1.2, "n": 3}
    two = {"median": 2.0, "min": 1.8, "max": 2.5, "n": 3}
    text = baseline.report(
        {
            "hello": {
                "seconds": {"lwjvm": one, "linux": two, "host": one},
                "linux_qemu_start_to_init": one,
            },
            "memory": {"lwjvm": 16, "linux": 96},
            "http": {
                "first_request": {"lwjvm": None, "linux": two},
                "wrk": {},
                "failures": {"lwjvm": "no answer"},
            },
            "linux_boots": 5,
            "linux_hung": 1,
            "load_before": (14.08, 13.77, 14.22),
        }
    )
    assert "1000 ms [900-1200]" in text and "2.00x" in text
    assert "16 MiB" in text and "6.00x" in text
    assert "http: lwjvm: no answer" in text
    assert "Linux boots: 5, of which hung before /init (killed and retried): 1" in text
    assert "before: 14.1 13.8 14.2" in text


def test_guest_cpu_records_sum_threads_by_name_and_give_shares() -> None:
    server = baseline.LwjvmServer.__new__(baseline.LwjvmServer)
    server._report, server._reports = None, []
    server._reported = threading.Event()

    def answer(c2_ns: int, worker_ns: int, idle_ns: int) -> None:
        server._record("threads", {"now_ns": "1", "cpus": "1", "count": "3"})
        server._record("cpu", {"n": "0", "idle_ns": str(idle_ns)})
        server._record("thread", {"tid": "9", "cpu_ns": str(c2_ns), "name": "C2_CompilerThre"})
        server._record("thread", {"tid": "17", "cpu_ns": str(worker_ns), "name": "pool-1-thread-1"})
        server._record("thread", {"tid": "18", "cpu_ns": "5", "name": "pool-1-thread-1"})
        server._record("threads-end", {})

    server._record("thread", {"tid": "1", "cpu_ns": "7", "name": "x"})  # outside a report
    answer(100, 200, 1000)
    answer(700, 400, 1200)
    before, after = server._reports
    assert before.threads == {"C2_CompilerThre": 100, "pool-1-thread-1": 205}
    assert after.idle_ns == 1200
    shares = after.since(before)
    assert shares == pytest.approx({"jit": 0.6, "other": 0.2, "idle": 0.2})
    assert before.since(before) == {"jit": 0.0, "other": 0.0, "idle": 0.0}


def test_report_gives_cpu_per_request_and_lwjvm_jit_share() -> None:
    one = {"median": 1.0, "min": 0.9, "max": 1.2, "n": 3}
    point = {"rps": one, "p50": one, "p99": one, "errors": 0}
    lw = {**point, "qemu_cpu_per_request": {"median": 0.002, "min": 0.002, "max": 0.003, "n": 2},
          "jit": {"median": 0.55, "min": 0.5, "max": 0.6, "n": 2},
          "other": {"median": 0.4, "min": 0.4, "max": 0.4, "n": 2},
          "idle": {"median": 0.05, "min": 0.05, "max": 0.05, "n": 2}}  # fmt: skip
    lx = {**point, "qemu_cpu_per_request": {"median": 0.004, "min": 0.004, "max": 0.004, "n": 2}}
    text = baseline.report(
        {
            "http": {
                "first_request": {"lwjvm": one, "linux": one},
                "wrk": {"lwjvm": {"1": lw}, "linux": {"1": lx}},
                "warmup_requests": {"lwjvm": {"median": 20100, "min": 20001, "max": 20200}},
                "failures": {},
            },
        }
    )
    row = next(line for line in text.splitlines() if "-c1: QEMU CPU per request" in line)
    assert "2.00 ms [2.00-3.00]" in row and "4.00 ms" in row and "2.00x" in row
    assert "jit 55%, other 40%, idle 5%" in text
    assert "http: lwjvm: warm-up of 20100 requests [20001-20200]" in text


@pytest.mark.skipif(shutil.which("cpio") is None, reason="cpio is not installed")
def test_cpio_newc_unpacks_with_cpio(tmp_path: Path) -> None:
    data = linuxguest.cpio_newc(
        [
            ("dir", stat.S_IFDIR | 0o755, b""),
            ("dir/file", stat.S_IFREG | 0o644, b"hello\n"),
            ("link", stat.S_IFLNK | 0o777, b"dir/file"),
        ]
    )
    subprocess.run(["cpio", "-id", "--quiet"], input=data, cwd=tmp_path, check=True)
    assert (tmp_path / "dir" / "file").read_bytes() == b"hello\n"
    assert (tmp_path / "link").readlink() == Path("dir/file")


def test_cpio_newc_layout() -> None:
    data = linuxguest.cpio_newc([("init", stat.S_IFREG | 0o755, b"abc"),
                                 ("dev/console", stat.S_IFCHR | 0o600, b"5:1")])  # fmt: skip
    assert data.startswith(b"070701")
    assert len(data) % 4 == 0
    header = data[:110]
    assert int(header[6 + 8 : 6 + 16], 16) == stat.S_IFREG | 0o755  # mode
    assert int(header[6 + 48 : 6 + 56], 16) == 3  # file size
    assert b"init\0" in data and b"abc" in data
    console = data.index(b"070701", 110)
    dev = data[console : console + 110]
    assert (int(dev[6 + 72 : 6 + 80], 16), int(dev[6 + 80 : 6 + 88], 16)) == (5, 1)  # rdev
    assert data.rstrip(b"\0").endswith(b"TRAILER!!!")


def _ko(depends: str) -> bytes:
    return b"\x7fELF....\0license=GPL\0depends=" + depends.encode() + b"\0intree=Y\0"


def test_module_order_puts_dependencies_first(tmp_path: Path) -> None:
    for rel, deps in (("a/virtio_ring.ko", ""), ("a/virtio.ko", "virtio_ring"),
                      ("b/virtio_net.ko", "virtio_ring,virtio,net_failover"),
                      ("c/net_failover.ko", "failover"), ("c/failover.ko", "")):  # fmt: skip
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(_ko(deps))
    order = [p.name for p in linuxguest.module_order(tmp_path, ("virtio_net", "virtio"))]
    assert order == ["virtio_ring.ko", "virtio.ko", "failover.ko", "net_failover.ko",
                     "virtio_net.ko"]  # fmt: skip
    with pytest.raises(LwjvmError, match="no module missing.ko"):
        linuxguest.module_order(tmp_path, ("missing",))


def test_module_order_refuses_a_loop(tmp_path: Path) -> None:
    (tmp_path / "x.ko").write_bytes(_ko("y"))
    (tmp_path / "y.ko").write_bytes(_ko("x"))
    with pytest.raises(LwjvmError, match="loop"):
        linuxguest.module_order(tmp_path, ("x",))


def test_host_tsc_khz_needs_a_known_constant_rate() -> None:
    info = "processor\t: 0\ncpu MHz\t\t: 2600.000\nflags\t\t: fpu tsc constant_tsc tsc_known_freq\n"
    assert linuxguest.host_tsc_khz(info) == 2600000
    assert linuxguest.host_tsc_khz(info.replace(" tsc_known_freq", "")) is None
    assert linuxguest.host_tsc_khz("flags\t: constant_tsc tsc_known_freq\n") is None


def test_corpus_table_gives_each_side_and_the_failures() -> None:
    row = corpusbench.Row("H2 file mode, 2,000 rows", host=[1.0, 3.0])
    row.lwjvm = [corpusbench.Run(40.0, 30.0, 12.0, 1.5), corpusbench.Run(50.0, 40.0, 14.0, 1.7)]
    row.linux = [corpusbench.Run(60.0, 35.0, 13.0), corpusbench.Run(failed="QEMU status 3")]
    lines = corpusbench.table({"rows": [corpusbench.summarize(row)]})
    assert lines[2] == (
        "| H2 file mode, 2,000 rows | 2.00 s | 35.00 s | 13.00 s | 1.60 s | 35.00 s | 13.00 s "
        "| 17.50x | 1.00x |"
    )
    assert lines[3] == "H2 file mode, 2,000 rows: linux run failed: QEMU status 3"


def test_proc_cpu_reads_this_process() -> None:
    t = corpusbench.proc_cpu(os.getpid())
    assert t is not None and t >= 0
    assert corpusbench.proc_cpu(2**22 + 1) is None
