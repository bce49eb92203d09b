"""`make bench`'s baselines: lwjvm against a Linux guest running the same image (issue 9).

The Linux guest (lwjvm/linuxguest.py) is Debian's cloud kernel in the same QEMU (microvm, TCG,
one vCPU, the same memory, QEMU user networking with a virtio-net-pci device and the same
forwards) booting the very root image lwjvm built, so the jlinked JDK, the JVM flags and the
application are the same bytes. Each figure is lwjvm's, the Linux guest's and their ratio (above 1
when lwjvm is better), with the host's JVM where it applies; both sides are measured interleaved,
so a change of host load touches both:

- Java Hello: QEMU start to QEMU's exit (the host's `java -cp hello.jar Hello` beside it); the
  smallest memory (MiB, bisection with real boots) in which Hello prints and exits 0.
- samples/http (GET /): QEMU start to the first request served (polled every 10 ms from the
  host), and lwjvm's restore of the same app's warm snapshot (vm.snapshot: saved at build time
  after its warm-up; the Linux guest boots, it has no such snapshot); requests/s and p50/p99
  latency with wrk (one thread, --latency) at 1, 16 and 64 connections, against the host port
  forwarded to the guest's 8080, after a warm-up of 100,000 requests at 16 connections and one of
  3 s at each point's own count; with each point, QEMU's CPU time per request, and for lwjvm the
  share of the guest's time its JIT compiler threads took (the kernel's `threads` records).
- bench/download/Download.java: MB/s (10^6 bytes/s) of a 100 MiB file in the image, sent with
  FileChannel.transferTo, read by the host over the forwarded port.
- SMP (lwjvm/smpbench.py): a CPU-bound parallel stream's speedup from 1 to 2 CPUs on each side,
  and a futex ping-pong between threads pinned to two CPUs.
- The real-software corpus (lwjvm/corpusbench.py, docs/real-software.md): each program's time on
  the host, on lwjvm and on the Linux guest, and the CPU time QEMU spent on it on each side.
- Spring Boot (lwjvm/springbench.py): samples/spring-boot's start to its "Started" line and to
  the first 200 from /actuator/health, with and without its class-data archive, on each side and
  on the host.
- Volumes (lwjvm/volbench.py): bench/volume.c on a 1 GiB lwjvm volume and on ext4 in the
  Linux guest over the same kind of volume file and drive options, and on the host; the snapshot
  of a full 1 GiB volume (the operation, volfs-tool and `lwjvm volume snapshot`).

A Linux boot that never reaches /init is retried (`hung` in the results). Nothing is asserted.
Results go to build/bench/baseline.json. `python -m lwjvm.baseline --help` for the knobs.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lwjvm import (
    accel,
    corpusbench,
    linuxguest,
    network,
    protocol,
    qemu,
    smpbench,
    snapshot,
    springbench,
    uptodate,
    vm,
    volbench,
)
from lwjvm import bench as bench_mod
from lwjvm import build as build_mod
from lwjvm import run as run_mod
from lwjvm.descriptor import ImageDescriptor
from lwjvm.errors import LwjvmError
from lwjvm.jdk import find_jdk
from lwjvm.manifest import load as load_manifest

CONNECTIONS = (1, 16, 64)
WRK_SECONDS = 10
# The warm-up before the first wrk point: wrk -c16 in rounds of WARMUP_ROUND_SECONDS until the
# server has answered WARMUP_REQUESTS requests (or WARMUP_MAX_SECONDS went by). Counted in
# requests, not seconds, so both sides run the same code as often whatever their speed: HotSpot's
# tier-4 (C2) thresholds are counts (Tier4InvocationThreshold 5,000, Tier4CompileThreshold
# 15,000), and a C2 compile takes about 100 ms of the one vCPU under TCG. With samples/http the
# C2 thread kept about 30% of the vCPU until some 80,000 requests had been served (a thousand
# tier-4 compiles); a 5 s warm-up (about 2,500 requests) left nearly all of it to the measured
# points, the first of which is -c1 (docs/bench.md).
WARMUP_REQUESTS = 100_000
WARMUP_ROUND_SECONDS = 10
WARMUP_MAX_SECONDS = 300
# Each point then runs this long at its own connection count, unmeasured: a new pattern of calls
# (one connection's selector loop) deoptimizes and recompiles a few methods.
POINT_WARMUP_SECONDS = 3
# JVM threads whose guest CPU time is counted as the JIT's (their prctl names, spaces as `_`).
JIT_THREADS = ("C1_CompilerThre", "C2_CompilerThre")
HELLO_RUNS = 5
HTTP_BOOTS = 3
DOWNLOADS = 3
DOWNLOAD_BYTES = 100 << 20
GUEST_PORT = 8080
WARM = "lwjvm-warm"  # the side that restores samples/http's warm snapshot
LINUX_WARM = "linux-warm"  # the Linux guest restoring a snapshot of its own (LinuxWarm)
BOOT_TIMEOUT = 180.0  # seconds a boot gets to serve its first request or print Hello
HTTP_SAMPLE = Path("samples/http")
LISTENING = b"http: listening on port"  # samples/http's line once its server has started
DOWNLOAD_SRC = Path("bench/download/Download.java")

# --- wrk's output ---------------------------------------------------------------------------

_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0, "h": 3600.0}
_DURATION = re.compile(r"^([0-9.]+)(us|ms|s|m|h)$")


@dataclass(frozen=True)
class WrkResult:
    """What one wrk run measured: requests/s, latency percentiles (seconds), requests done, and
    errors (socket errors plus non-2xx/3xx answers)."""

    rps: float
    p50: float
    p99: float
    requests: int
    errors: int


def parse_duration(text: str) -> float:
    """A wrk duration such as 635.00us, 1.23ms, 2.00s or 1.50m in seconds."""
    m = _DURATION.match(text.strip())
    if not m:
        raise LwjvmError(f"wrk: unreadable duration {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def parse_wrk(text: str) -> WrkResult:
    """Reads `wrk --latency` output; LwjvmError if a figure is missing."""
    rps = re.search(r"^Requests/sec:\s+([0-9.]+)", text, re.M)
    done = re.search(r"^\s*(\d+) requests in ", text, re.M)
    pct = {m.group(1): parse_duration(m.group(2))
           for m in re.finditer(r"^\s+(50|75|90|99)(?:\.0+)?%\s+(\S+)", text, re.M)}  # fmt: skip
    if rps is None or done is None or "50" not in pct or "99" not in pct:
        raise LwjvmError(f"wrk: unexpected output: {text[-400:]!r}")
    errors = 0
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if sock:
        errors += sum(int(g) for g in sock.groups())
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if bad:
        errors += int(bad.group(1))
    return WrkResult(float(rps.group(1)), pct["50"], pct["99"], int(done.group(1)), errors)


def run_wrk(port: int, connections: int, seconds: int) -> WrkResult:
    """wrk with one thread against GET / on 127.0.0.1:`port` for `seconds`."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise LwjvmError("wrk is not installed (make bench installs it: apt-get install wrk)")
    cmd = [wrk, "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           f"http://127.0.0.1:{port}/"]  # fmt: skip
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60, check=False)
    if r.returncode != 0:
        raise LwjvmError(f"wrk failed (exit {r.returncode}): {r.stderr.strip()[-300:]}")
    return parse_wrk(r.stdout)


# --- the two kinds of VM --------------------------------------------------------------------


free_port = network.free_port


class Server:
    """A booted VM: `t0` is the host's monotonic time just before QEMU was started."""

    t0: float
    hung: int = 0

    def running(self) -> bool:
        raise NotImplementedError

    def output(self) -> bytes:
        raise NotImplementedError

    def time_of(self, needle: bytes) -> float | None:
        """Seconds after QEMU start when the program's output held `needle`, or None."""
        raise NotImplementedError

    def stop(self) -> None:
        raise NotImplementedError

    def qemu_pid(self) -> int | None:
        """QEMU's process id once it runs (for its CPU time), else None."""
        raise NotImplementedError

    def guest_cpu(self) -> GuestCpu | None:
        """The guest kernel's own account of its CPU time so far, where the kernel gives one."""
        return None


@dataclass(frozen=True)
class GuestCpu:
    """lwjvm's `lwjvm:threads` answer summed up: nanoseconds each named thread has run (threads
    with the same name added) and the CPUs' idle time."""

    threads: dict[str, int]
    idle_ns: int

    def since(self, before: GuestCpu) -> dict[str, float]:
        """Shares of the guest's time between `before` and this one: `jit` (the compiler
        threads), `other` (every other thread: the requests, GC, the VM thread) and `idle`."""
        run = {k: v - before.threads.get(k, 0) for k, v in self.threads.items()}
        jit = sum(v for k, v in run.items() if k.startswith(JIT_THREADS))
        idle = self.idle_ns - before.idle_ns
        total = sum(run.values()) + idle
        if total <= 0:
            return {"jit": 0.0, "other": 0.0, "idle": 0.0}
        return {"jit": jit / total, "other": (total - jit - idle) / total, "idle": idle / total}


class LwjvmServer(Server):
    """lwjvm's kernel booting the image in `image_dir`, run by vm.run_vm in a thread."""

    def __init__(self, image_dir: Path, chosen: str, net: network.NetConfig | None,
                 memory_mib: int | None = None, timeout: float = BOOT_TIMEOUT * 4,
                 warm: bool = False) -> None:  # fmt: skip
        desc = ImageDescriptor.read(image_dir)
        self.cfg = qemu.VmConfig(
            kernel=image_dir / build_mod.KERNEL,
            initrd=image_dir / build_mod.ROOT_IMAGE,
            memory_mib=memory_mib or desc.vm.memory_mib,
            accel=chosen,
            append=list(snapshot.KERNEL_ARGS),
            timeout=timeout,
            net=net,
            balloon=True,  # as lwjvm run and deploy boot an app
        )
        if warm:  # restore the image's warm snapshot (vm.snapshot) instead of booting
            snap, why = snapshot.choose(image_dir, desc, self.cfg)
            if snap is None:
                raise LwjvmError(f"{image_dir}: no usable warm snapshot ({why or 'none taken'})")
            self.cfg = snapshot.restore_config(self.cfg, image_dir, snap)
        self.control = vm.VmControl()
        self._pid: int | None = None
        self.control.on_start = lambda proc: setattr(self, "_pid", proc.pid)
        self.control.on_record = self._record
        self._report: tuple[dict[str, int], int] | None = None  # being received
        self._reports: list[GuestCpu] = []
        self._reported = threading.Event()
        self.sink = bench_mod._TimedSink()
        self.result: vm.VmResult | None = None
        self.t0 = time.monotonic()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        self.result = vm.run_vm(self.cfg, self.sink, self.sink, control=self.control)

    def _record(self, kind: str, fields: dict[str, str]) -> None:
        """Collects the `threads` records (docs/protocol.md, section 4) into a GuestCpu."""
        if kind == "threads":
            self._report = ({}, 0)
        elif self._report is None:
            return
        elif kind == "cpu":
            self._report = (self._report[0], self._report[1] + int(fields.get("idle_ns", "0")))
        elif kind == "thread":
            name = fields.get("name", "-")
            self._report[0][name] = self._report[0].get(name, 0) + int(fields.get("cpu_ns", "0"))
        elif kind == "threads-end":
            self._reports.append(GuestCpu(*self._report))
            self._report = None
            self._reported.set()

    def guest_cpu(self) -> GuestCpu | None:
        """Asks the kernel for its `threads` records; None if it does not answer in 10 s."""
        self._reported.clear()
        n = len(self._reports)
        self.control.send(protocol.THREADS_REQUEST)
        if not self._reported.wait(protocol.THREADS_GRACE_S) or len(self._reports) == n:
            return None
        return self._reports[-1]

    def running(self) -> bool:
        return self.thread.is_alive()

    def output(self) -> bytes:
        return self.sink.getvalue()

    def time_of(self, needle: bytes) -> float | None:
        t = self.sink.time_of(needle)
        return None if t is None else t - self.t0

    def stop(self) -> None:
        if self.thread.is_alive():
            self.control.kill()
        self.thread.join(60)

    def qemu_pid(self) -> int | None:
        return self._pid


class LinuxServer(Server):
    """Debian's kernel booting the same root image (linuxguest). `boots` and `hung` count every
    boot of this process (each hung boot was retried)."""

    boots = 0
    total_hung = 0

    def __init__(self, guest: linuxguest.Guest, image_dir: Path, chosen: str,
                 net: network.NetConfig | None, memory_mib: int) -> None:  # fmt: skip
        cmd = linuxguest.qemu_command(
            guest, image_dir / build_mod.ROOT_IMAGE, memory_mib, chosen, net
        )
        self.boot = linuxguest.boot(cmd, BOOT_TIMEOUT / 3)
        self.t0 = self.boot.t0
        self.hung = self.boot.hung
        LinuxServer.boots += 1 + self.hung
        LinuxServer.total_hung += self.hung

    @classmethod
    def wrap(cls, boot: linuxguest.Boot) -> LinuxServer:
        """A Server over a Linux guest started some other way (a snapshot's restore)."""
        server = cls.__new__(cls)
        server.boot, server.t0, server.hung = boot, boot.t0, boot.hung
        return server

    def running(self) -> bool:
        return self.boot.running()

    def output(self) -> bytes:
        return self.boot.output()

    def time_of(self, needle: bytes) -> float | None:
        return self.boot.time_of(needle)

    def stop(self) -> None:
        self.boot.kill()

    def qemu_pid(self) -> int | None:
        return self.boot.proc.pid


def _with_ram_file(cmd: list[str], ram: Path, memory_mib: int, shared: bool) -> list[str]:
    """A Linux guest's QEMU command line with its RAM in `ram` (as lwjvm's snapshots have it)."""
    cmd = list(cmd)
    i = cmd.index("-M")
    cmd[i + 1] += ",memory-backend=ram"
    return cmd + ["-object", f"memory-backend-file,id=ram,mem-path={ram},size={memory_mib}M,"
                  f"share={'on' if shared else 'off'}"]  # fmt: skip


class LinuxWarm:
    """The Linux guest's own warm snapshot of an image, taken as lwjvm takes its (docs/
    snapshots.md): booted with its RAM in a shared file, warmed with the same GETs, stopped and
    its device state saved over QMP with x-ignore-shared. Linux gets no thaw line (its wall
    clock stays the saved one: no matter for a first request). `restore` starts a copy."""

    def __init__(self, guest: linuxguest.Guest, image_dir: Path, chosen: str, work: Path,
                 paths: tuple[str, ...], rounds: int) -> None:  # fmt: skip
        self.guest, self.image, self.chosen = guest, image_dir, chosen
        self.mib = ImageDescriptor.read(image_dir).vm.memory_mib
        work.mkdir(parents=True, exist_ok=True)
        self.ram, self.state, qmp = work / "linux.ram", work / "linux.state", work / "qmp"
        for f in (self.ram, self.state, qmp):
            f.unlink(missing_ok=True)
        port = free_port()
        cmd = linuxguest.qemu_command(guest, image_dir / build_mod.ROOT_IMAGE, self.mib, chosen,
                                      _net(image_dir, port))  # fmt: skip
        cmd = _with_ram_file(cmd, self.ram, self.mib, True)
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off"]
        b = linuxguest.boot(cmd, BOOT_TIMEOUT / 3)
        self.hung = b.hung
        try:
            if first_response(LinuxServer.wrap(b), port) is None:
                raise LwjvmError("the Linux guest never answered GET / for its snapshot")
            for _ in range(rounds):
                for path in paths:
                    http_get(port, path, 60.0)
            client = snapshot.connect_qmp(qmp, b.proc, time.monotonic() + 60)
            try:
                client.cmd("stop")
                client.cmd("migrate", uri=f"exec:cat > {self.state}")
                why = snapshot.wait_migration(client, b.proc, time.monotonic() + 120)
            finally:
                snapshot.close_qmp(client)
            if why:
                raise LwjvmError(f"the Linux guest's snapshot failed: {why}")
        finally:
            b.kill()

    def restore(self, net: network.NetConfig | None) -> Server:
        """A copy of the saved Linux guest, its forwards added once it runs."""
        qmp = self.state.with_name(f"qmp-{os.getpid()}-{time.monotonic_ns()}")
        forwards = [p.hostfwd() for p in net.ports] if net is not None else []
        bare = dataclasses.replace(net, ports=()) if net is not None else None
        cmd = linuxguest.qemu_command(self.guest, self.image / build_mod.ROOT_IMAGE, self.mib,
                                      self.chosen, bare)  # fmt: skip
        cmd = _with_ram_file(cmd, self.ram, self.mib, False)
        cmd += ["-qmp", f"unix:{qmp},server=on,wait=off", "-incoming", "defer"]
        b = linuxguest.start(cmd)
        why = snapshot.restore(b.proc, qmp, self.state, forwards)
        qmp.unlink(missing_ok=True)
        if why:
            b.kill()
            raise LwjvmError(f"the Linux guest's snapshot did not restore: {why}")
        return LinuxServer.wrap(b)


def first_response(server: Server, port: int, timeout: float = BOOT_TIMEOUT) -> float | None:
    """Seconds from QEMU start until GET / on `port` was answered 200 in full; None if the VM
    stopped or `timeout` passed first. Tries every 10 ms; a try waits 1 s for its answer until
    the program has said it listens, then up to 60 s (a first request can take seconds)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and server.running():
        wait = 60.0 if server.time_of(LISTENING) is not None else 1.0
        with_answer = http_get(port, "/", wait)
        if with_answer is not None and with_answer.startswith(b"HTTP/1.1 200"):
            return time.monotonic() - server.t0
        time.sleep(0.01)
    return None


def http_get(port: int, path: str, timeout: float) -> bytes | None:
    """The whole answer to GET `path` (Connection: close), or None if the connection failed."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            s.sendall(f"GET {path} HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n".encode())
            chunks = []
            while data := s.recv(65536):
                chunks.append(data)
            return b"".join(chunks)
    except OSError:
        return None


def download(port: int, timeout: float = 60.0) -> tuple[int, float]:
    """GET / from the download server: (body bytes, seconds from request to the last byte).
    OSError if the connection fails or stalls for `timeout` seconds."""
    buf = bytearray(4 << 20)
    view = memoryview(buf)
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        t = time.monotonic()
        s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
        total = 0
        head = b""
        while n := s.recv_into(view):
            if len(head) < 4096 and b"\r\n\r\n" not in head:
                head += bytes(view[: min(n, 4096)])
            total += n
        elapsed = time.monotonic() - t
    end = head.find(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200") or end < 0:
        raise LwjvmError(f"download: unexpected answer {head[:200]!r}")
    return total - (end + 4), elapsed


# --- the figures ----------------------------------------------------------------------------


def _stats(values: list[float]) -> dict[str, float] | None:
    if not values:
        return None
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "n": len(values)}  # fmt: skip


@dataclass
class Side:
    """How one kind of VM is started: `make(image_dir, net, memory_mib)`."""

    name: str
    make: Callable[[Path, network.NetConfig | None, int | None], Server]


def _net(image_dir: Path, host_port: int | None) -> network.NetConfig | None:
    """The image's network as `lwjvm run` gives it, with `host_port` forwarded to GUEST_PORT."""
    desc = ImageDescriptor.read(image_dir)
    extra = [network.PortMap(host_port, GUEST_PORT)] if host_port else []
    return run_mod.net_config(desc.vm, desc.name, extra)


def hello(sides: list[Side], runs: int, log: Callable[[str], None]) -> dict[str, Any]:
    """Java Hello, QEMU start to exit, interleaved; the host's java beside them."""
    out_dir = vm.repo_root() / "build" / "bench"
    jar, manifest, java = bench_mod._build_java_hello(out_dir)
    image = out_dir / "java" / "image"
    uptodate.ensure_image(load_manifest(manifest), image, None, vm.find_kernel(), quiet=True)
    times: dict[str, list[float]] = {s.name: [] for s in sides}
    times["host"] = []
    to_init: list[float] = []
    failed: dict[str, int] = {}
    hung = 0
    for i in range(runs):
        t = time.monotonic()
        h = subprocess.run([str(java), "-cp", str(jar), "Hello"], capture_output=True)
        times["host"].append(time.monotonic() - t)
        if h.returncode != 0:
            raise LwjvmError(f"host java Hello failed: {h.stderr[-300:]!r}")
        line = f"  Hello run {i + 1}/{runs}: host {times['host'][-1] * 1e3:.0f} ms"
        for side in sides:
            secs, n_hung, tail = _hello_once(side, image, None, to_init)
            hung += n_hung
            if secs is None:
                failed[side.name] = failed.get(side.name, 0) + 1
                line += f", {side.name} failed: {tail!r}"
                continue
            times[side.name].append(secs)
            line += f", {side.name} {secs * 1e3:.0f} ms"
        log(line)
    for name, n in failed.items():
        if n == runs:
            raise LwjvmError(f"{name}: Java Hello failed in every run")
    return {"seconds": {k: _stats(v) for k, v in times.items()}, "linux_hung": hung,
            "linux_qemu_start_to_init": _stats(to_init), "failed_runs": failed,
            "image": image}  # fmt: skip


def _hello_once(
    side: Side, image: Path, memory_mib: int | None, to_init: list[float] | None = None
) -> tuple[float | None, int, str]:
    """(QEMU start to exit if Hello printed and exited 0 else None, Linux boots that hung, the
    end of the output); appends the Linux guest's QEMU start to /init's line to `to_init`."""
    server = side.make(image, _net(image, None), memory_mib)
    if isinstance(server, LwjvmServer):
        server.thread.join(BOOT_TIMEOUT)
        server.stop()
        res = server.result
        ok = res is not None and res.program_code == 0
        ok = ok and bench_mod.EXPECTED in server.output()
        tail = server.output()[-200:].decode(errors="replace")
        return (res.t_qemu_exit if ok and res is not None else None), 0, tail
    assert isinstance(server, LinuxServer)
    status = server.boot.wait(BOOT_TIMEOUT)
    t_init = server.boot.time_of(linuxguest.INIT_MARK)
    if to_init is not None and t_init is not None:
        to_init.append(t_init)
    out = server.output()
    ok = status == 1 and bench_mod.EXPECTED.strip() in out
    t_exit = server.boot.t_exit
    tail = f"QEMU status {status}: " + out[-200:].decode(errors="replace")
    return (t_exit if ok else None), server.hung, tail


def smallest_memory(side: Side, image: Path, hi: int, log: Callable[[str], None]) -> int | None:
    """The fewest MiB in which Hello prints and exits 0, by bisection (as lwjvm/bench.py)."""

    def ok(mib: int) -> bool:
        secs, _, _ = _hello_once(side, image, mib)
        log(f"  {side.name} Hello in {mib} MiB: {'ok' if secs is not None else 'fails'}")
        return secs is not None

    if not ok(hi):
        return None
    lo = bench_mod.MIN_MEMORY_MIB - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            hi = mid
        else:
            lo = mid
    return hi


def _build_download(out_dir: Path) -> Path:
    """build/bench/download: the server's jar, a 100 MiB file (fixed pseudo-random bytes) and
    its manifest; returns the manifest."""
    work = out_dir / "download"
    (work / "classes").mkdir(parents=True, exist_ok=True)
    jdk = find_jdk()
    src = vm.repo_root() / DOWNLOAD_SRC
    jar = work / "download.jar"
    if not jar.exists() or jar.stat().st_mtime < src.stat().st_mtime:
        subprocess.run([str(jdk.tool("javac")), "--release", "17", "-d", str(work / "classes"),
                        str(src)], check=True)  # fmt: skip
        subprocess.run([str(jdk.tool("jar")), "--create", "--file", str(jar), "--main-class",
                        "Download", "--date=1980-01-01T00:00:02Z", "-C", str(work / "classes"),
                        "."], check=True)  # fmt: skip
    data = work / "data.bin"
    if not data.exists() or data.stat().st_size != DOWNLOAD_BYTES:
        data.write_bytes(random.Random(9).randbytes(DOWNLOAD_BYTES))
    manifest = work / "app.yaml"
    manifest.write_text(
        "name: bench-download\napp:\n  jar: download.jar\n"
        f'  args: ["{GUEST_PORT}", "/data/download.bin"]\n'
        f'vm:\n  memory: 256M\n  ports: ["{GUEST_PORT}:{GUEST_PORT}"]\n'
        "files:\n  - src: data.bin\n    dst: /data/download.bin\n"
    )
    return manifest


def http(sides: list[Side], image: Path, boots: int, seconds: int,
         log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """samples/http: first request served, then wrk at each connection count, per boot."""
    first: dict[str, list[float]] = {s.name: [] for s in sides}
    listening: dict[str, list[float]] = {s.name: [] for s in sides}
    points: dict[str, dict[int, list[WrkResult]]] = {s.name: {} for s in sides}
    cpu_points: dict[str, dict[int, list[dict[str, float]]]] = {s.name: {} for s in sides}
    warmups: dict[str, list[float]] = {s.name: [] for s in sides}
    failures: dict[str, str] = {}
    hung = 0
    for i in range(boots):
        for side in sides:
            if side.name in failures:
                continue
            port = free_port()
            server = side.make(image, _net(image, port), None)
            hung += server.hung
            try:
                t = first_response(server, port)
                if t is None:
                    tail = server.output()[-400:].decode(errors="replace")
                    failures[side.name] = f"no answer to GET /: {tail.strip()}"
                    log(f"  {side.name}: {failures[side.name]}")
                    continue
                first[side.name].append(t)
                t_listen = server.time_of(LISTENING)
                if t_listen is not None:
                    listening[side.name].append(t_listen)
                log(f"  boot {i + 1}/{boots} {side.name}: first request served at {t:.2f} s")
                if seconds <= 0 or side.name in (WARM, LINUX_WARM):  # as a booted VM serves
                    continue
                try:
                    n, t_warm = warm_up(port)
                except LwjvmError as e:
                    failures[side.name] = f"warm-up: {e}"
                    log(f"  {side.name}: {failures[side.name]}")
                    continue
                warmups[side.name].append(n)
                log(f"    {side.name}: warm-up of {n} requests in {t_warm:.0f} s")
                for c in CONNECTIONS:
                    try:
                        r, cpu = measure_point(server, port, c, seconds)
                    except LwjvmError as e:
                        failures[side.name] = f"wrk -c{c}: {e}"
                        log(f"  {side.name}: {failures[side.name]}")
                        break
                    points[side.name].setdefault(c, []).append(r)
                    if cpu.get("qemu_cpu_per_request") is not None:
                        cpu_points[side.name].setdefault(c, []).append(cpu)
                    log(f"    {side.name} c={c}: {r.rps:.0f} req/s, p50 {r.p50 * 1e3:.2f} ms, "
                        f"p99 {r.p99 * 1e3:.2f} ms, {r.errors} errors; "
                        f"{_cpu_text(cpu)}")  # fmt: skip
            finally:
                server.stop()
    wrk: dict[str, Any] = {}
    for name, by_c in points.items():
        wrk[name] = {
            str(c): {"rps": _stats([r.rps for r in rs]), "p50": _stats([r.p50 for r in rs]),
                     "p99": _stats([r.p99 for r in rs]), "errors": sum(r.errors for r in rs)}
            for c, rs in by_c.items()
        }  # fmt: skip
        for c, cs in cpu_points[name].items():
            wrk[name][str(c)].update({key: _stats([x[key] for x in cs if key in x])
                                      for key in ("qemu_cpu_per_request", "qemu_busy", "jit",
                                                  "other", "idle")})  # fmt: skip
    return {"first_request": {k: _stats(v) for k, v in first.items()},
            "listening_line": {k: _stats(v) for k, v in listening.items()}, "wrk": wrk,
            "warmup_requests": {k: _stats(v) for k, v in warmups.items()},
            "failures": failures, "linux_hung": hung}  # fmt: skip


def warm_up(port: int) -> tuple[int, float]:
    """wrk -c16 in rounds until WARMUP_REQUESTS requests were answered or WARMUP_MAX_SECONDS
    went by; returns (requests answered, seconds)."""
    t0 = time.monotonic()
    n = 0
    while n < WARMUP_REQUESTS and time.monotonic() - t0 < WARMUP_MAX_SECONDS:
        n += run_wrk(port, 16, WARMUP_ROUND_SECONDS).requests
    return n, time.monotonic() - t0


def measure_point(server: Server, port: int, connections: int,
                  seconds: int) -> tuple[WrkResult, dict[str, float]]:  # fmt: skip
    """One wrk point after its own POINT_WARMUP_SECONDS at the same connection count, with
    where the time went meanwhile: QEMU's CPU time per request (ms, all its threads: the vCPU
    and the main loop with the user network) and how busy QEMU was (its CPU time over the
    point's wall time, 1.0 = one host core); for a guest that reports its threads (lwjvm), the
    shares of its time in the JIT compiler threads, the other threads and idle."""
    run_wrk(port, connections, POINT_WARMUP_SECONDS)
    pid = server.qemu_pid()
    cpu0 = corpusbench.proc_cpu(pid) if pid else None
    guest0 = server.guest_cpu()
    t0 = time.monotonic()
    r = run_wrk(port, connections, seconds)
    wall = time.monotonic() - t0
    guest1 = server.guest_cpu()
    cpu1 = corpusbench.proc_cpu(pid) if pid else None
    out: dict[str, float] = {}
    if cpu0 is not None and cpu1 is not None and r.requests:
        out["qemu_cpu_per_request"] = (cpu1 - cpu0) / r.requests
        out["qemu_busy"] = (cpu1 - cpu0) / wall
    if guest0 is not None and guest1 is not None:
        out.update(guest1.since(guest0))
    return r, out


def _cpu_text(cpu: dict[str, float]) -> str:
    if "qemu_cpu_per_request" not in cpu:
        return "QEMU's CPU time unknown"
    text = (f"QEMU {cpu['qemu_cpu_per_request'] * 1e3:.2f} ms of CPU per request, "
            f"{cpu['qemu_busy'] * 100:.0f}% busy")  # fmt: skip
    if "jit" in cpu:
        text += (f"; guest time: JIT {cpu['jit'] * 100:.0f}%, other threads "
                 f"{cpu['other'] * 100:.0f}%, idle {cpu['idle'] * 100:.0f}%")  # fmt: skip
    return text


def downloads(sides: list[Side], boots: int, per_boot: int,
              log: Callable[[str], None]) -> dict[str, Any]:  # fmt: skip
    """MB/s of the 100 MiB transferTo download, `per_boot` downloads in each of `boots` boots."""
    out_dir = vm.repo_root() / "build" / "bench"
    manifest = _build_download(out_dir)
    image = out_dir / "download" / "image"
    uptodate.ensure_image(load_manifest(manifest), image, None, vm.find_kernel(), quiet=True)
    rates: dict[str, list[float]] = {s.name: [] for s in sides}
    failures: dict[str, str] = {}
    for _ in range(boots):
        for side in sides:
            if side.name in failures:
                continue
            port = free_port()
            server = side.make(image, _net(image, port), None)
            try:
                if first_response_tcp(server, port) is None:
                    tail = server.output()[-400:].decode(errors="replace")
                    failures[side.name] = f"the download server never answered: {tail.strip()}"
                    continue
                for _ in range(per_boot):
                    try:
                        n, secs = download(port)
                    except (OSError, LwjvmError) as e:
                        failures[side.name] = f"download failed: {e}"
                        log(f"  {side.name}: {failures[side.name]}")
                        break
                    if n != DOWNLOAD_BYTES:
                        failures[side.name] = f"download of {n} bytes, not {DOWNLOAD_BYTES}"
                        break
                    rates[side.name].append(n / secs / 1e6)
                    log(f"  {side.name}: {n >> 20} MiB in {secs:.2f} s, {n / secs / 1e6:.1f} MB/s")
            finally:
                server.stop()
    return {"mb_per_s": {k: _stats(v) for k, v in rates.items()}, "failures": failures}


def first_response_tcp(server: Server, port: int) -> float | None:
    """Seconds from QEMU start until the download server printed that it serves (its console)."""
    deadline = time.monotonic() + BOOT_TIMEOUT
    while time.monotonic() < deadline and server.running():
        if b"download: serving" in server.output():
            return time.monotonic() - server.t0
        time.sleep(0.05)
    return None


# --- report ---------------------------------------------------------------------------------


def ratio(ours: float | None, theirs: float | None, higher_is_better: bool) -> float | None:
    """How many times better lwjvm's figure is than the Linux guest's (above 1: lwjvm better)."""
    if not ours or not theirs:
        return None
    return ours / theirs if higher_is_better else theirs / ours


def rows(results: dict[str, Any]) -> list[tuple[str, str, str, str, str]]:
    """(measure, lwjvm, Linux guest, ratio, host) rows of the report, as text."""

    def med(s: dict[str, float] | None) -> float | None:
        return None if s is None else s["median"]

    def fmt(s: dict[str, float] | None, scale: float, unit: str, digits: int = 0) -> str:
        if s is None:
            return "n/a"
        u = f" {unit}" if unit else ""
        return (f"{s['median'] * scale:.{digits}f}{u} "
                f"[{s['min'] * scale:.{digits}f}-{s['max'] * scale:.{digits}f}]")  # fmt: skip

    def rat(a: float | None, b: float | None, hib: bool) -> str:
        r = ratio(a, b, hib)
        return "n/a" if r is None else f"{r:.2f}x"

    out = []
    h = results.get("hello")
    if h:
        s = h["seconds"]
        out.append(("Java Hello, QEMU start to exit", fmt(s.get("lwjvm"), 1e3, "ms"),
                    fmt(s.get("linux"), 1e3, "ms"),
                    rat(med(s.get("lwjvm")), med(s.get("linux")), False),
                    fmt(s.get("host"), 1e3, "ms")))  # fmt: skip
        out.append(("  of which Linux: QEMU start to /init", "-",
                    fmt(h.get("linux_qemu_start_to_init"), 1e3, "ms"), "-", "-"))  # fmt: skip
    mem = results.get("memory")
    if mem:
        a, b = mem.get("lwjvm"), mem.get("linux")
        out.append(("smallest memory that runs Hello", f"{a} MiB" if a else "n/a",
                    f"{b} MiB" if b else "n/a", rat(a, b, False), "-"))  # fmt: skip
    w = results.get("http")
    if w:
        f = w["first_request"]
        out.append(("samples/http: QEMU start to first request", fmt(f.get("lwjvm"), 1, "s", 2),
                    fmt(f.get("linux"), 1, "s", 2),
                    rat(med(f.get("lwjvm")), med(f.get("linux")), False), "-"))  # fmt: skip
        if f.get(WARM):
            theirs = f.get(LINUX_WARM) or f.get("linux")
            out.append(("  both restoring a warm snapshot" if f.get(LINUX_WARM)
                        else "  lwjvm restoring its warm snapshot (Linux: cold)",
                        fmt(f.get(WARM), 1, "s", 2), fmt(theirs, 1, "s", 2),
                        rat(med(f.get(WARM)), med(theirs), False), "-"))  # fmt: skip
        ln = w.get("listening_line", {})
        out.append(("  of which QEMU start to 'listening' line", fmt(ln.get("lwjvm"), 1, "s", 2),
                    fmt(ln.get("linux"), 1, "s", 2),
                    rat(med(ln.get("lwjvm")), med(ln.get("linux")), False), "-"))  # fmt: skip
        for c in CONNECTIONS:
            a = w["wrk"].get("lwjvm", {}).get(str(c))
            b = w["wrk"].get("linux", {}).get(str(c))
            for key, label, scale, unit, hib in (
                ("rps", "requests/s", 1, "", True),
                ("p50", "p50 latency", 1e3, "ms", False),
                ("p99", "p99 latency", 1e3, "ms", False),
            ):
                sa = a[key] if a else None
                sb = b[key] if b else None
                digits = 0 if key == "rps" else 2
                ours, theirs = fmt(sa, scale, unit, digits), fmt(sb, scale, unit, digits)
                r = rat(med(sa), med(sb), hib)
                out.append((f"  wrk -c{c}: {label}", ours, theirs, r, "-"))
            sa = a.get("qemu_cpu_per_request") if a else None
            sb = b.get("qemu_cpu_per_request") if b else None
            if sa or sb:
                out.append((f"  wrk -c{c}: QEMU CPU per request", fmt(sa, 1e3, "ms", 2),
                            fmt(sb, 1e3, "ms", 2), rat(med(sa), med(sb), False), "-"))  # fmt: skip
            if a and a.get("jit"):
                shares = ", ".join(f"{k} {med(a.get(k)) * 100:.0f}%"  # type: ignore[operator]
                                   for k in ("jit", "other", "idle") if a.get(k))  # fmt: skip
                out.append((f"  wrk -c{c}: lwjvm's guest time", shares, "-", "-", "-"))
    d = results.get("download")
    if d:
        r = d["mb_per_s"]
        out.append(("100 MiB transferTo download, MB/s", fmt(r.get("lwjvm"), 1, "MB/s", 1),
                    fmt(r.get("linux"), 1, "MB/s", 1),
                    rat(med(r.get("lwjvm")), med(r.get("linux")), True), "-"))  # fmt: skip
    if results.get("smp"):
        out += smpbench.rows(results["smp"])
    if results.get("spring"):
        out += springbench.rows(results["spring"])
    if results.get("volume"):
        out += volbench.rows(results["volume"])
    return out


def report(results: dict[str, Any]) -> str:
    """The table `make bench` prints: median [min-max] per side, and the ratio."""
    head = ("measure", "lwjvm", "Linux guest", "ratio", "host")
    table = [head, *rows(results)]
    widths = [max(len(r[i]) for r in table) for i in range(5)]
    lines = ["  ".join(c.ljust(widths[i]) for i, c in enumerate(r)).rstrip() for r in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = []
    for name, n in ((results.get("hello") or {}).get("failed_runs") or {}).items():
        notes.append(f"hello: {name}: {n} run(s) failed (left out of its figures)")
    for name, n in ((results.get("http") or {}).get("warmup_requests") or {}).items():
        if n:
            notes.append(f"http: {name}: warm-up of {n['median']:.0f} requests "
                         f"[{n['min']:.0f}-{n['max']:.0f}] before the wrk points")  # fmt: skip
    for part in ("http", "download"):
        for name, why in (results.get(part) or {}).get("failures", {}).items():
            notes.append(f"{part}: {name}: {why[-300:]}")
    if results.get("smp"):
        notes += smpbench.notes(results["smp"])
    if results.get("spring"):
        notes += springbench.notes(results["spring"])
    if results.get("volume"):
        notes += volbench.notes(results["volume"])
    notes.append(f"Linux boots: {results.get('linux_boots', '?')}, of which hung before /init "
                 f"(killed and retried): {results.get('linux_hung', '?')}")  # fmt: skip
    notes.append(f"Linux command line: {' '.join(results.get('linux_cmdline', []))}")

    def load(key: str) -> str:
        return " ".join(f"{x:.1f}" for x in results.get(key) or ())

    notes.append(f"host load average (1, 5, 15 min) before: {load('load_before')}; "
                 f"after: {load('load_after')}")  # fmt: skip
    return "\n".join(lines + notes)


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m lwjvm.baseline`."""
    p = argparse.ArgumentParser(prog="python -m lwjvm.baseline", description=__doc__.split("\n")[0])
    p.add_argument("--hello-runs", type=int, default=HELLO_RUNS)
    p.add_argument("--http-boots", type=int, default=HTTP_BOOTS)
    p.add_argument("--wrk-seconds", type=int, default=WRK_SECONDS,
                   help="seconds per wrk point (0: first request only)")  # fmt: skip
    p.add_argument("--downloads", type=int, default=DOWNLOADS, help="downloads per boot")
    p.add_argument("--smp-boots", type=int, default=smpbench.BOOTS,
                   help="boots per side and CPU count of the SMP part")  # fmt: skip
    p.add_argument("--smp-work", type=int, default=smpbench.WORK_MILLIONS,
                   help="millions of iterations in a round of the SMP part's SmpWork")  # fmt: skip
    p.add_argument("--smp-rounds", type=int, default=smpbench.WORK_ROUNDS,
                   help="timed rounds of SmpWork in each boot")  # fmt: skip
    p.add_argument("--pingpong-trips", type=int, default=smpbench.PINGPONG_TRIPS,
                   help="round trips in each of the ping-pong's 5 rounds")  # fmt: skip
    p.add_argument("--corpus-runs", type=int, default=corpusbench.RUNS,
                   help="runs of each corpus program on each side")  # fmt: skip
    p.add_argument("--spring-boots", type=int, default=springbench.BOOTS,
                   help="boots per side and image of the Spring Boot part")  # fmt: skip
    p.add_argument("--volume-runs", type=int, default=volbench.RUNS,
                   help="runs per side of the volume part")  # fmt: skip
    parts = ("hello", "memory", "http", "download", "smp", "corpus", "spring", "volume")
    p.add_argument("--only", choices=parts, action="append")
    args = p.parse_args(argv)
    only = set(args.only or parts)

    def log(line: str) -> None:
        print(line, flush=True)

    try:
        root = vm.repo_root()
        out_dir = root / "build" / "bench"
        out_dir.mkdir(parents=True, exist_ok=True)
        kernel = vm.find_kernel()
        chosen = accel.choose(kernel)
        guest = linuxguest.prepare(out_dir / "linux")
        log(f"lwjvm baseline: Linux guest {guest.kernel.package}, accel {chosen}")
        results: dict[str, Any] = {
            "accel": chosen,
            "linux_kernel": guest.kernel.package,
            "linux_cmdline": list(guest.cmdline),
            "load_before": os.getloadavg(),
        }

        def linux(image: Path, net: network.NetConfig | None, mib: int | None) -> Server:
            if mib is None:
                mib = ImageDescriptor.read(image).vm.memory_mib
            return LinuxServer(guest, image, chosen, net, mib)

        sides = [Side("lwjvm", lambda i, n, m: LwjvmServer(i, chosen, n, m)), Side("linux", linux)]
        hello_image = out_dir / "java" / "image"
        if "hello" in only or "memory" in only:
            log("Java Hello, QEMU start to exit:")
            h = hello(sides, args.hello_runs if "hello" in only else 1, log)
            hello_image = h.pop("image")
            if "hello" in only:
                results["hello"] = h
        if "memory" in only:
            planned = ImageDescriptor.read(hello_image).vm.memory_mib
            log("smallest memory that runs Hello (bisection):")
            results["memory"] = {s.name: smallest_memory(s, hello_image, planned, log)
                                 for s in sides}  # fmt: skip
        if "http" in only:
            subprocess.run([str(root / HTTP_SAMPLE / "build.sh")], check=True,
                           stdout=subprocess.DEVNULL)  # fmt: skip
            image = out_dir / "http" / "image"
            http_app = load_manifest(root / HTTP_SAMPLE / "app.yaml")
            uptodate.ensure_image(http_app, image, None, kernel, quiet=True)
            # The same app with vm.snapshot: its VM saved at build time after the warm-up.
            warm_image = out_dir / "http-warm" / "image"
            warm_app = dataclasses.replace(http_app, snapshot=True)
            uptodate.ensure_image(warm_app, warm_image, None, kernel, quiet=True)
            warm = Side(WARM, lambda i, n, m: LwjvmServer(warm_image, chosen, n, m, warm=True))
            extra = [warm]
            try:  # the Linux guest gets a warm snapshot of its own, warmed the same way
                lw = LinuxWarm(guest, image, chosen, out_dir / "http-warm" / "linux",
                               tuple(http_app.training_requests()[1]),  # type: ignore[index]
                               snapshot.WARM_ROUNDS)  # fmt: skip
                LinuxServer.boots += 1 + lw.hung
                LinuxServer.total_hung += lw.hung
                extra.append(Side(LINUX_WARM, lambda i, n, m: lw.restore(n)))
            except LwjvmError as e:
                log(f"  the Linux guest's warm snapshot: {e}")
            log("samples/http: first request served, then wrk:")
            results["http"] = http([*sides, *extra], image, args.http_boots, args.wrk_seconds,
                                   log)  # fmt: skip
        if "download" in only:
            log("100 MiB download through FileChannel.transferTo:")
            results["download"] = downloads(sides, args.http_boots, args.downloads, log)
        linux_boots, linux_hung = LinuxServer.boots, LinuxServer.total_hung
        if "smp" in only:
            smp = smpbench.measure(guest, chosen, args.smp_boots, args.smp_work,
                                   args.smp_rounds, args.pingpong_trips, log)  # fmt: skip
            results["smp"] = smp
            for part in ("work", "pingpong", "mprotect"):
                linux_boots += smp[part]["qemu_boots"].get("linux", 0)
                linux_hung += smp[part]["linux_hung"]
        if "corpus" in only:
            log("the real-software corpus on the host, lwjvm and the Linux guest:")
            results["corpus"] = corpusbench.measure(guest, chosen, args.corpus_runs, log)
            linux_boots += results["corpus"]["linux_boots"]
            linux_hung += results["corpus"]["linux_hung"]
        if "spring" in only:
            log("samples/spring-boot: start to 'Started' and to the first 200, both images:")
            before = LinuxServer.boots, LinuxServer.total_hung
            wait = springbench.TIMEOUT

            def spring_linux(image: Path, port: int) -> Server:
                return linux(image, _net(image, port), None)

            def spring_lwjvm(image: Path, port: int) -> Server:
                return LwjvmServer(image, chosen, _net(image, port), None, wait + 60)

            def spring_warm(image: Path, port: int) -> Server:
                return LwjvmServer(image, chosen, _net(image, port), None, wait + 60, warm=True)

            results["spring"] = springbench.measure(
                root, out_dir, kernel, {"lwjvm": spring_lwjvm, "linux": spring_linux},
                args.spring_boots, log, warm=spring_warm,
            )  # fmt: skip
            linux_boots += LinuxServer.boots - before[0]
            linux_hung += LinuxServer.total_hung - before[1]
        if "volume" in only:
            results["volume"] = volbench.measure(guest, chosen, args.volume_runs, log)
            linux_boots += results["volume"]["qemu_boots"]["linux"]
            linux_hung += results["volume"]["linux_hung"]
        results["load_after"] = os.getloadavg()
        results["linux_boots"] = linux_boots
        results["linux_hung"] = linux_hung
        (out_dir / "baseline.json").write_text(json.dumps(results, indent=2, default=str) + "\n")
        print()
        print(f"lwjvm against a Linux guest ({guest.kernel.package}), same QEMU, accel {chosen}; "
              "median [min-max]; ratio above 1: lwjvm better")  # fmt: skip
        print(report(results))
        if "corpus" in results:
            print()
            print("the real-software corpus, median of each side's runs (docs/real-software.md):")
            print("\n".join(corpusbench.table(results["corpus"])))
        print("results: build/bench/baseline.json")
    except LwjvmError as e:
        print(f"lwjvm baseline: error: {e}", file=sys.stderr)
        sys.exit(e.code)


if __name__ == "__main__":
    main()
