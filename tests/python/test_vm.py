"""Booting and the exit protocol (lwjvm/vm.py): record parsing, outcome mapping, and real QEMU
runs of a generated guest (lwjvm/miniguest.py) that writes chosen bytes on the three consoles."""

from __future__ import annotations

import io
import os
import threading
from pathlib import Path

import pytest

from lwjvm import miniguest, network, protocol, qemu, vm
from lwjvm.errors import EXIT_NO_RECORD, EXIT_PANIC, EXIT_TIMEOUT, LwjvmError

COM1, COM2, COM3 = (base for base, _ in qemu.UARTS)


def test_parse_record() -> None:
    assert protocol.parse_record(b"\x1elwjvm:exit code=42") == ("exit", {"code": "42"})
    assert protocol.parse_record(b"\x1elwjvm:boot tsc_hz=3 entry_to_user_ns=7") == (
        "boot",
        {"tsc_hz": "3", "entry_to_user_ns": "7"},
    )
    assert protocol.parse_record(b"lwjvm:exit code=1") is None
    assert protocol.parse_record(b"plain log line") is None


def test_kernel_log_consumes_records_split_across_reads() -> None:
    shown: list[bytes] = []
    log = protocol.KernelLog(shown.append, live=True)
    chunks = [b"banner\n\x1elwjvm:bo", b"ot tsc_hz=1000 entry_to_user_ns=5\r\n", b"\x1elwjvm:exi"]
    for chunk in chunks:
        log.feed(chunk)
    log.feed(b"t code=300\n")
    assert shown == [b"banner\n"]
    assert log.boot == protocol.BootTiming(1000, 5)
    assert log.exit_code == 300 & 0xFF


THREADS_ANSWER = (
    b"\x1elwjvm:threads now_ns=90000000000 cpus=2 count=2 next_timer_ns=0\n"
    b"\x1elwjvm:cpu n=0 current=-1 queued=0 armed_ns=0\n"
    b"\x1elwjvm:cpu n=1 current=-1 queued=0 armed_ns=0\n"
    b"\x1elwjvm:thread tid=1 state=blocked cpu=0 for_ns=61000000000 syscall=read "
    b"wait=waitq_wait_unlock on=pipe_readers deadline_ns=0 pending=0x0 blocked=0x0\n"
    b"\x1elwjvm:thread tid=2 state=blocked cpu=1 for_ns=60000000000 syscall=futex "
    b"wait=futex_wait on=futex deadline_ns=0 pending=0x0 blocked=0x0\n"
    b"\x1elwjvm:threads-end\n"
)


def test_kernel_log_collects_the_threads_report() -> None:
    log = protocol.KernelLog(lambda _: None, live=False)
    log.feed(THREADS_ANSWER[:100])
    assert log.threads is not None and not log.threads.complete
    log.feed(THREADS_ANSWER[100:])
    report = log.threads
    assert report.complete and not log.unknown_records
    assert [c["n"] for c in report.cpus] == [0, 1]
    assert [(t.tid, t.state, t.syscall, t.on) for t in report.threads] == [
        (1, "blocked", "read", "pipe_readers"),
        (2, "blocked", "futex", "futex"),
    ]
    assert report.threads[0].describe() == (
        "thread 1 blocked on CPU 0 for 61.0 s in read "
        "(waitq_wait_unlock on pipe_readers, no deadline)"
    )
    kind, sentence = report.verdict()
    assert kind == "blocked" and "as it would on Linux" in sentence
    assert protocol.THREADS_REQUEST == b"lwjvm:threads\n"


def _report(*threads: protocol.GuestThread, now_s: float = 100) -> protocol.ThreadReport:
    return protocol.ThreadReport(int(now_s * 1e9), [], list(threads), True)


def _thread(state: str, for_s: float, deadline_s: float = 0) -> protocol.GuestThread:
    return protocol.GuestThread(1, state, 0, for_s, "-", "thread_block", "-", int(deadline_s * 1e9))


@pytest.mark.parametrize(
    ("threads", "kind"),
    [
        ([_thread("queued", 30), _thread("running", 30)], "kernel"),  # starved in a run queue
        ([_thread("blocked", 30, deadline_s=50)], "kernel"),  # 50 s past its deadline
        ([_thread("blocked", 30, deadline_s=95)], "sleeping"),  # 5 s late: a loaded host
        ([_thread("blocked", 30, deadline_s=200), _thread("blocked", 9)], "sleeping"),
        ([_thread("running", 30), _thread("queued", 0.01)], "running"),
        ([_thread("blocked", 30), _thread("blocked", 40)], "blocked"),
    ],
)
def test_threads_report_verdict(threads: list[protocol.GuestThread], kind: str) -> None:
    assert _report(*threads).verdict()[0] == kind


def test_timeout_cause_says_whether_the_kernel_answered() -> None:
    assert protocol.timeout_cause(60, None) == (
        "the guest did not finish within 60 s; killed (the kernel did not answer lwjvm:threads "
        f"within {protocol.THREADS_GRACE_S:g} s: a kernel hang)"
    )
    blocked = _report(_thread("blocked", 30))
    cause = protocol.timeout_cause(60, blocked)
    assert cause.endswith("the program is blocked, the kernel is not)")


def test_kernel_log_holds_lines_until_a_panic() -> None:
    shown: list[bytes] = []
    log = protocol.KernelLog(shown.append, live=False)
    log.feed(b"banner\n\x1elwjvm:boot tsc_hz=1 entry_to_user_ns=1\nPANIC: bad thing\nrip=0x1\n")
    assert shown == []
    log.feed(b"\x1elwjvm:panic\n")
    assert shown == [b"banner\n", b"PANIC: bad thing\n", b"rip=0x1\n"]
    assert log.panicked


@pytest.mark.parametrize("record", [b"fatal signal=11", b"oom"])
def test_kernel_log_shows_why_a_program_was_killed(record: bytes) -> None:
    shown: list[bytes] = []
    log = protocol.KernelLog(shown.append, live=False)
    log.feed(b"banner\n\x1elwjvm:boot tsc_hz=1 entry_to_user_ns=1\n")
    log.feed(b"SIGSEGV at rip=0x401000 addr=0x0\n\x1elwjvm:" + record + b"\n")
    assert shown == [b"SIGSEGV at rip=0x401000 addr=0x0\n"]
    log.feed(b"\x1elwjvm:exit code=139\n")
    assert log.exit_code == 139 and not log.panicked


@pytest.mark.parametrize(
    ("exit_code", "panicked", "timed_out", "status", "expected"),
    [
        (0, False, False, 1, ("exit", 0)),
        (42, False, False, 1, ("exit", 42)),
        (137, False, False, 1, ("exit", 137)),  # killed by SIGKILL: the record says 128+9
        (5, False, False, 0, ("exit", 5)),  # the record wins over QEMU's status
        (5, False, True, None, ("exit", 5)),  # hung after exiting: the program still exited
        (None, True, False, 3, ("panic", EXIT_PANIC)),
        (None, False, False, 3, ("panic", EXIT_PANIC)),  # debug-exit 1 without the record
        (None, False, True, 0, ("timeout", EXIT_TIMEOUT)),
        (None, False, False, 1, ("no-record", EXIT_NO_RECORD)),
        (None, False, False, -9, ("no-record", EXIT_NO_RECORD)),
    ],
)
def test_decide_outcome(
    exit_code: int | None,
    panicked: bool,
    timed_out: bool,
    status: int | None,
    expected: tuple[str, int],
) -> None:
    assert protocol.decide_outcome(exit_code, panicked, timed_out, status) == expected


@pytest.mark.parametrize(
    ("text", "mib"), [("128M", 128), ("1G", 1024), ("512m", 512), ("65536k", 64), ("1T", 1 << 20)]
)
def test_parse_memory(text: str, mib: int) -> None:
    assert vm.parse_memory(text) == mib


@pytest.mark.parametrize(
    "text", ["", "12X", "-1M", "1.5G", "8M", "100000T", "1000k", "256", "512MiB", "256MB", " 1G"]
)
def test_parse_memory_rejects(text: str) -> None:
    with pytest.raises(LwjvmError, match="bad memory size"):
        vm.parse_memory(text)


def test_qemu_command_has_three_uarts_and_debug_exit(tmp_path: Path) -> None:
    (tmp_path / "r").write_bytes(bytes(4096))
    cfg = qemu.VmConfig(kernel=tmp_path / "k", initrd=tmp_path / "r", memory_mib=64, append=["a=1"])
    cmd = qemu.qemu_command("qemu", cfg, [7, 8, 9])
    line = " ".join(cmd)
    assert "-nodefaults -no-user-config" in line and "microvm" in line
    assert "-device isa-debug-exit,iobase=0xf4,iosize=4" in line
    for i, (fd, base) in enumerate([(7, "0x3f8"), (8, "0x2f8"), (9, "0x3e8")], start=1):
        kind = "socket" if i == 3 else "file"
        path = f"fd={fd}" if i == 3 else f"path=/dev/fd/{fd}"
        assert f"-chardev {kind},id=com{i},{path}" in line
        assert f"-device isa-serial,chardev=com{i},iobase={base}" in line
    assert cmd[cmd.index("-append") + 1] == "a=1"
    assert cmd[cmd.index("-m") + 1] == "64M"


def test_virtio_vectors_reach_every_virtio_device_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(qemu.VIRTIO_VECTORS_ENV, raising=False)
    cfg = qemu.VmConfig(kernel=tmp_path / "k", disks=[tmp_path / "d"], net=network.NetConfig())
    assert cfg.virtio_vectors is None
    assert "vectors=" not in " ".join(qemu.qemu_command("qemu", cfg, [7, 8, 9]))
    monkeypatch.setenv(qemu.VIRTIO_VECTORS_ENV, "0")
    cfg = qemu.VmConfig(kernel=tmp_path / "k", disks=[tmp_path / "d"], net=network.NetConfig())
    cmd = qemu.qemu_command("qemu", cfg, [7, 8, 9])
    devices = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-device"]
    virtio = [d for d in devices if d.split(",")[0].startswith("virtio-")]
    assert [d.split(",")[0] for d in virtio] == [
        "virtio-net-pci", "virtio-rng-pci", "virtio-blk-pci", "virtio-serial-pci",
        "virtio-serial-pci",
    ]  # fmt: skip
    assert all(d.endswith(",vectors=0") for d in virtio)
    assert not any("vectors=" in d for d in devices if d not in virtio)


def test_the_balloon_is_on_only_when_asked_and_keeps_no_vectors(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(qemu.VIRTIO_VECTORS_ENV, "1")
    plain = qemu.qemu_command("qemu", qemu.VmConfig(kernel=tmp_path / "k"), [7, 8, 9])
    plain_devices = [plain[i + 1] for i, a in enumerate(plain) if a == "-device"]
    assert not any("balloon" in d for d in plain_devices)  # exec and test VMs: no balloon
    cmd = qemu.qemu_command("qemu", qemu.VmConfig(kernel=tmp_path / "k", balloon=True), [7, 8, 9])
    devices = [cmd[i + 1] for i, a in enumerate(cmd) if a == "-device"]
    # QEMU's virtio-balloon-pci has no MSI-X and refuses a vectors= property.
    assert "virtio-balloon-pci,id=balloon0,deflate-on-oom=on" in devices
    assert qemu.BALLOON_QOM == "/machine/peripheral/balloon0"


@pytest.mark.parametrize("value", ["x", "-1", "65", " 1"])
def test_bad_virtio_vectors_is_a_clear_error(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(qemu.VIRTIO_VECTORS_ENV, value)
    with pytest.raises(LwjvmError, match=f"LWJVM_VIRTIO_VECTORS={value}: expected a number"):
        qemu.virtio_vectors_from_env()


def boot(
    tmp_path: Path, writes: list[tuple[int, bytes]], exit_byte: int | None, timeout: float
) -> tuple[vm.VmResult, bytes, bytes]:
    """Boots a miniguest that makes `writes` and exits with `exit_byte` (None: hangs)."""
    kernel = miniguest.write(tmp_path / "guest.elf", writes, exit_byte)
    out, err = io.BytesIO(), io.BytesIO()
    cfg = qemu.VmConfig(kernel=kernel, accel="tcg", memory_mib=32, timeout=timeout)
    return vm.run_vm(cfg, stdout=out, stderr=err), out.getvalue(), err.getvalue()


def test_guest_output_and_exit_record_reach_the_host(tmp_path: Path) -> None:
    writes = [
        (COM3, b"banner\n\x1elwjvm:boot tsc_hz=2000000000 entry_to_user_ns=1234\n"),
        (COM1, b"to stdout\n"),
        (COM2, b"to stderr\n"),
        (COM3, b"\x1elwjvm:exit code=42\n"),
    ]
    r, out, err = boot(tmp_path, writes, 0, timeout=30)
    assert (r.outcome, r.exit_code, r.qemu_status) == ("exit", 42, 1)
    assert out == b"to stdout\n"
    assert err == b"to stderr\n"  # the banner is held back without live_log
    assert r.boot == protocol.BootTiming(2000000000, 1234)
    assert r.t_first_output is not None and r.t_first_output <= r.t_qemu_exit


def test_panic_shows_the_kernel_log(tmp_path: Path) -> None:
    writes = [(COM3, b"PANIC: page fault at 0x0\n\x1elwjvm:panic\n")]
    r, out, err = boot(tmp_path, writes, 1, timeout=30)
    assert (r.outcome, r.exit_code, r.qemu_status) == ("panic", EXIT_PANIC, 3)
    assert err == b"PANIC: page fault at 0x0\n"


def test_vm_without_exit_record(tmp_path: Path) -> None:
    r, _, err = boot(tmp_path, [(COM3, b"last words\n")], 0, timeout=30)
    assert (r.outcome, r.exit_code) == ("no-record", EXIT_NO_RECORD)
    assert err == b"last words\n"


def test_timeout_kills_the_guest(tmp_path: Path) -> None:
    r, out, _ = boot(tmp_path, [(COM1, b"started\n")], None, timeout=1.0)
    assert (r.outcome, r.exit_code) == ("timeout", EXIT_TIMEOUT)
    assert out == b"started\n"
    # The miniguest never answers the threads request made at the timeout: killed after the grace.
    assert 1.0 + protocol.THREADS_GRACE_S <= r.t_qemu_exit < 60
    assert r.log is not None and r.log.threads is None


def test_missing_kernel_says_run_make_kernel(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LWJVM_KERNEL", str(tmp_path / "nope.elf"))
    with pytest.raises(LwjvmError, match="no such file"):
        vm.find_kernel()
    monkeypatch.delenv("LWJVM_KERNEL")
    monkeypatch.setattr(vm, "repo_root", lambda: tmp_path)
    monkeypatch.setattr(vm, "packaged_kernel", lambda: tmp_path / "data" / "kernel.elf")
    with pytest.raises(LwjvmError, match="run make kernel"):
        vm.find_kernel()


def test_fatal_record_for_a_signal_the_host_sent_stays_quiet() -> None:
    shown: list[bytes] = []
    log = protocol.KernelLog(shown.append, live=False)
    log.sent_signals.add(15)
    log.feed(b"\x1elwjvm:boot tsc_hz=1 entry_to_user_ns=1\nkilled by signal 15\n")
    log.feed(b"\x1elwjvm:fatal signal=15\n\x1elwjvm:exit code=143\n")
    assert shown == [] and log.exit_code == 143


class _ClosedPipe(io.RawIOBase):
    def writable(self) -> bool:
        return True

    def write(self, _data: object) -> int:
        raise BrokenPipeError


def test_a_reader_that_goes_away_gets_the_program_a_sigpipe_once() -> None:
    """The pump drops output once its reader has gone, says so once (broken), and wakes the
    loop; close returns."""
    r, w = os.pipe()
    try:
        pump = vm._Pump(_ClosedPipe(), w)  # type: ignore[arg-type]
        pump.write(b"one\n")
        pump.write(b"two\n")
        pump.close()
        assert pump.broken
        assert os.read(r, 100)  # the loop was woken
        pump.write(b"three\n")  # dropped, no error
    finally:
        os.close(r)
        os.close(w)


class _SlowReader(io.RawIOBase):
    """A reader that takes nothing until released."""

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.got = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        self.gate.wait()
        self.got += bytes(data)  # type: ignore[call-overload]
        return len(bytes(data))  # type: ignore[call-overload]


def test_an_output_whose_reader_stalls_fills_then_says_full_and_loses_nothing() -> None:
    r, w = os.pipe()
    os.set_blocking(w, False)
    try:
        reader = _SlowReader()
        pump = vm._Pump(reader, w)  # type: ignore[arg-type]
        chunk = b"x" * 65536
        for _ in range(vm._Pump.PAUSE_BYTES // len(chunk) + 1):
            pump.write(chunk)  # never blocks
        assert pump.full()
        reader.gate.set()
        pump.close()
        assert not pump.full() and not pump.broken
        assert bytes(reader.got) == chunk * (vm._Pump.PAUSE_BYTES // len(chunk) + 1)
    finally:
        os.close(r)
        os.close(w)
