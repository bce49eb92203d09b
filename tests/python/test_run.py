"""`lwjvm run`: image staleness, the one-line causes and exit codes, the COM3 control line.

Boots of real Java images are in tests/guest/test_guest_java.py; these tests need no guest.
"""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from lwjvm import protocol, qemu, run, uptodate, vm
from lwjvm.errors import EXIT_NO_RECORD, EXIT_PANIC, EXIT_STOP_TIMEOUT, EXIT_TIMEOUT


def test_control_line_is_one_signal_line() -> None:
    assert protocol.control_line(15) == b"lwjvm:signal num=15\n"
    assert protocol.control_line(2) == b"lwjvm:signal num=2\n"


def _log(lines: list[bytes]) -> protocol.KernelLog:
    log = protocol.KernelLog(lambda _line: None, live=False)
    for line in lines:
        log.feed(line)
    return log


def test_kernel_log_collects_enosys_oom_and_stats() -> None:
    log = _log(
        [
            b"lwjvm: syscall rseq (334) is not implemented: -ENOSYS\n",
            b"lwjvm: syscall io_uring_setup (425) is not implemented: -ENOSYS\n",
            b"lwjvm: syscall rseq (334) is not implemented: -ENOSYS\n",
            b"lwjvm: out of memory: no free page for address 00007f (rip 0000401000); give...\n",
            b"lwjvm: stats: uptime_us=2591989 faults=6263 syscalls=1051 idle_us=2825\n",
            b"lwjvm: syscall stats: futex calls=220 errors=12 cpu_us=900 wall_us=83000\n",
            b"lwjvm: syscall stats: getppid calls=1000 errors=0 cpu_us=1500 wall_us=1510\n",
        ]
    )
    assert log.enosys == ["rseq (334)", "io_uring_setup (425)"]
    assert log.out_of_memory is not None and log.out_of_memory.startswith("lwjvm: out of memory")
    assert log.stats == {"uptime_us": 2591989, "faults": 6263, "syscalls": 1051, "idle_us": 2825}
    assert log.syscall_stats == {
        "futex": {"calls": 220, "errors": 12, "cpu_us": 900, "wall_us": 83000},
        "getppid": {"calls": 1000, "errors": 0, "cpu_us": 1500, "wall_us": 1510},
    }


def _result(
    outcome: str = protocol.OUTCOME_EXIT,
    code: int = 0,
    log: protocol.KernelLog | None = None,
    signal_sent: int | None = None,
) -> vm.VmResult:
    return vm.VmResult(
        outcome=outcome,
        exit_code=code,
        program_code=code if outcome == protocol.OUTCOME_EXIT else None,
        qemu_status=1,
        boot=None,
        t_first_output=None,
        t_exit_record=None,
        t_qemu_exit=1.0,
        qemu_stderr="",
        log=log or _log([]),
        signal_sent=signal_sent,
    )


def test_a_clean_exit_and_a_plain_failure_have_no_cause() -> None:
    assert protocol.explain(_result(code=0), b"", 256, None) == (0, None)
    assert protocol.explain(_result(code=3), b"", 256, None) == (3, None)


def test_a_graceful_stop_keeps_the_app_code_without_a_cause() -> None:
    assert protocol.explain(_result(code=143, signal_sent=15), b"", 256, None) == (143, None)
    assert protocol.explain(_result(code=130, signal_sent=2), b"", 256, None) == (130, None)


def test_panic_is_123_with_the_panic_line() -> None:
    log = _log([b"kernel panic: page fault in kernel at 0x0\n", b"backtrace:\n"])
    code, cause = protocol.explain(_result(protocol.OUTCOME_PANIC, EXIT_PANIC, log), b"", 256, None)
    assert code == EXIT_PANIC
    assert cause == "the guest kernel panicked: kernel panic: page fault in kernel at 0x0"


def test_out_of_memory_is_137_and_says_raise_vm_memory() -> None:
    log = _log([b"lwjvm: out of memory: no free page for address 1000 (rip 2000)\n"])
    code, cause = protocol.explain(_result(code=137, log=log), b"", 48, None)
    assert (code, cause) == (137, "the VM ran out of memory (48 MiB); raise vm.memory")
    _, cause = protocol.explain(_result(code=137, log=log), b"", 48, None, memory_overridden=True)
    assert cause == "the VM ran out of memory (48 MiB); raise --memory"


def test_jvm_crash_is_134_with_hs_err_above() -> None:
    tail = b"#\n# A fatal error has been detected by the Java Runtime Environment:\n#\n"
    crashed = (134, "the JVM crashed (hs_err above)")
    assert protocol.explain(_result(code=134), tail, 256, None) == crashed
    assert protocol.explain(_result(code=1), tail, 256, None) == (1, crashed[1])
    assert protocol.explain(_result(code=134), b"Aborted\n", 256, None) == (134, None)


def test_a_failed_app_names_the_missing_syscalls_but_not_the_benign_ones() -> None:
    log = _log(
        [
            b"lwjvm: syscall rseq (334) is not implemented: -ENOSYS\n",
            b"lwjvm: syscall clone3 (435) is not implemented: -ENOSYS\n",
            b"lwjvm: syscall socket (41) is not implemented: -ENOSYS\n",
            b"lwjvm: syscall inotify_init1 (294) is not implemented: -ENOSYS\n",
        ]
    )
    code, cause = protocol.explain(_result(code=1, log=log), b"", 256, None)
    assert code == 1
    assert cause == (
        "the app exited with 1; the kernel does not implement system calls it called: "
        "inotify_init1 (294)"
    )
    assert protocol.explain(_result(code=0, log=log), b"", 256, None) == (0, None)


def test_a_failed_app_that_tried_to_start_a_process_is_told_so_with_the_flags() -> None:
    log = _log(
        [
            b"lwjvm: syscall clone3 (435) is not implemented: -ENOSYS\n",
            b"lwjvm: process creation refused: clone (flags 0x4111): -EPERM (a lwjvm VM runs one "
            b"process)\n",
            b"lwjvm: syscall inotify_init1 (294) is not implemented: -ENOSYS\n",
        ]
    )
    assert log.process_refused == "clone (flags 0x4111)"
    code, cause = protocol.explain(_result(code=3, log=log), b"", 256, None)
    assert code == 3
    assert cause == (
        "the app exited with 3 after it tried to start a process (clone (flags 0x4111)); a lwjvm "
        "VM runs one process, so fork, vfork and posix_spawn fail with EPERM"
    )
    assert protocol.explain(_result(code=0, log=log), b"", 256, None) == (0, None)


def test_timeouts_and_a_lost_vm_have_their_own_codes() -> None:
    code, cause = protocol.explain(_result(protocol.OUTCOME_TIMEOUT, EXIT_TIMEOUT), b"", 256, 30.0)
    assert (code, cause) == (
        EXIT_TIMEOUT,
        "the guest did not finish within 30 s; killed (the kernel did not answer lwjvm:threads "
        "within 10 s: a kernel hang)",
    )
    code, cause = protocol.explain(
        _result(protocol.OUTCOME_STOP_TIMEOUT, EXIT_STOP_TIMEOUT, signal_sent=15),
        b"",
        256,
        None,
        2.5,
    )
    assert code == EXIT_STOP_TIMEOUT
    assert cause == "the app did not stop within 2.5 s of the signal; the VM was killed"
    code, _ = protocol.explain(_result(protocol.OUTCOME_NO_RECORD, EXIT_NO_RECORD), b"", 256, None)
    assert code == EXIT_NO_RECORD


def test_decide_outcome_of_a_stop_that_timed_out() -> None:
    assert protocol.decide_outcome(None, False, False, None, stop_killed=True) == (
        protocol.OUTCOME_STOP_TIMEOUT,
        EXIT_STOP_TIMEOUT,
    )
    # The app finished after all: its code wins.
    outcome = protocol.decide_outcome(143, False, False, 1, stop_killed=True)
    assert outcome == (protocol.OUTCOME_EXIT, 143)


def _fake_image(out: Path, inputs: dict[str, object]) -> None:
    out.mkdir(parents=True, exist_ok=True)
    for name in ("root.img", "kernel.elf", "image.json"):
        (out / name).write_text("x")
    (out / uptodate.INPUTS).write_text(json.dumps(inputs))


def test_stale_reason_names_what_changed(tmp_path: Path) -> None:
    inputs: dict[str, object] = {"manifest": "a", "args": None, "classpath": ["c"], "kernel": "k"}
    out = tmp_path / "img"
    assert uptodate.stale_reason(out, inputs) == "no image yet"
    _fake_image(out, inputs)
    assert uptodate.stale_reason(out, inputs) is None
    assert uptodate.stale_reason(out, {**inputs, "kernel": "k2"}) == "the kernel changed"
    assert uptodate.stale_reason(out, {**inputs, "classpath": ["d"]}) == "the app's jars changed"
    assert uptodate.stale_reason(out, {**inputs, "args": ["x"]}) == "the app arguments changed"
    # An image with a warm snapshot records QEMU's version: another QEMU retakes the snapshot.
    assert uptodate.stale_reason(out, {**inputs, "qemu": "QEMU emulator version 9.2.0"}) == (
        "QEMU changed (the warm snapshot is QEMU's)"
    )
    (out / uptodate.INPUTS).unlink()
    assert uptodate.stale_reason(out, inputs) == "no record of what it was built from"


def _lwjvm(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from lwjvm.cli import main; main()", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        timeout=120,
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.yaml"], "lwjvm: error: missing.yaml: manifest not found"),
        (["--memory", "12M", "app.yaml"], "lwjvm: error: bad memory size '12M'"),
        (["--timeout", "0", "app.yaml"], "lwjvm: error: bad --timeout 0: must be positive"),
    ],
)
def test_run_errors_are_one_line_and_125(tmp_path: Path, args: list[str], message: str) -> None:
    (tmp_path / "app.yaml").write_text("name: x\napp:\n  jar: x.jar\n")
    r = _lwjvm("run", *args, cwd=tmp_path)
    assert r.returncode == 125, r.stderr
    assert r.stderr.startswith(message), r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr


def test_a_guest_that_does_not_stop_is_killed_after_the_stop_timeout(tmp_path: Path) -> None:
    """SIGTERM to lwjvm goes to the guest as a control line; a guest that ignores it (this one
    halts forever) is killed `stop_timeout` seconds later: outcome stop-timeout, exit 121."""
    import os
    import signal
    import threading

    from lwjvm import miniguest

    kernel = miniguest.write(tmp_path / "hang.elf", [], exit_byte=None)
    cfg = qemu.VmConfig(kernel=kernel, accel="tcg", memory_mib=32, timeout=60, stop_timeout=1.0)
    timer = threading.Timer(1.0, os.kill, (os.getpid(), signal.SIGTERM))
    timer.start()
    try:
        r = vm.run_vm(cfg, stdout=io.BytesIO(), stderr=io.BytesIO())
    finally:
        timer.cancel()
    assert (r.outcome, r.exit_code, r.signal_sent) == (
        protocol.OUTCOME_STOP_TIMEOUT,
        EXIT_STOP_TIMEOUT,
        signal.SIGTERM,
    )
    assert r.t_qemu_exit < 30


def test_image_modules_cover_what_build_imports() -> None:
    """A change to any lwjvm module `lwjvm build` uses makes `lwjvm run` rebuild."""
    import ast

    build_py = Path(run.__file__).with_name("build.py")
    used: set[str] = set()
    for node in ast.walk(ast.parse(build_py.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module == "lwjvm":
            used |= {a.name for a in node.names if a.name != "__version__"}
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("lwjvm."):
            used.add((node.module or "").split(".")[1])
    assert used - {"errors"} <= set(uptodate.IMAGE_MODULES)
