"""Booting the guest: one QEMU (lwjvm/qemu.py) with its consoles read as the protocol says
(lwjvm/protocol.py), and where the kernel is.

`run_vm` starts QEMU with three 16550 UARTs, each a chardev on a pipe or socket this process
reads: COM1 is streamed to our stdout, COM2 to our stderr, and COM3 (the kernel log) goes through
`protocol.KernelLog`. `VmResult.exit_code` is the exit code `lwjvm exec` ends with, per protocol
section 5. Signals to lwjvm are forwarded to the program; `VmControl` lets a supervisor do the
same from another thread.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import select
import selectors
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lwjvm import protocol, qemu, sizes
from lwjvm.errors import LwjvmError
from lwjvm.protocol import BootTiming, KernelLog
from lwjvm.qemu import VmConfig

# Default for how long a program sent SIGINT/SIGTERM gets to stop (`lwjvm run --stop-timeout`).
STOP_TIMEOUT_S = protocol.STOP_TIMEOUT_S


def repo_root() -> Path:
    """The source tree lwjvm runs from (an editable install)."""
    return Path(__file__).resolve().parent.parent


def packaged_kernel() -> Path:
    """Where an installed lwjvm keeps its kernel (lwjvm/data/kernel.elf)."""
    return Path(__file__).resolve().parent / "data" / "kernel.elf"


def find_kernel() -> Path:
    """$LWJVM_KERNEL, else the package's data/kernel.elf (in the source tree a link to
    kernel/build/kernel.elf; in an installed wheel the kernel itself); LwjvmError if neither."""
    env = os.environ.get("LWJVM_KERNEL")
    if env:
        p = Path(env)
        if not p.is_file():
            raise LwjvmError(f"LWJVM_KERNEL={env}: no such file")
        return p
    packaged = packaged_kernel()
    if packaged.is_file():
        return packaged.resolve()
    p = repo_root() / "kernel" / "build" / "kernel.elf"
    if not p.is_file():
        raise LwjvmError(f"kernel not built ({p} missing): run make kernel")
    return p


def parse_memory(text: str) -> int:
    """A guest memory size (lwjvm/sizes.py: 128M, 1G) in MiB: 16M to 1T, whole MiB; LwjvmError
    if it is bad."""
    return sizes.size_arg(text, "memory size", 16 * sizes.MIB, 1 << 40, sizes.MIB) // sizes.MIB


@dataclass
class VmResult:
    """How a boot ended, and when things happened (seconds after QEMU was started)."""

    outcome: str
    exit_code: int
    program_code: int | None
    qemu_status: int | None
    boot: BootTiming | None
    t_first_output: float | None
    t_exit_record: float | None
    t_qemu_exit: float
    qemu_stderr: str
    log: KernelLog | None = None
    signal_sent: int | None = None  # the signal forwarded to the program, if any
    command: list[str] = field(default_factory=list)  # the QEMU command line that ran


class _Pump:
    """Writes one output stream (our stdout or stderr) from a thread of its own, as it comes.

    A reader that stops reading stalls only its own stream: the loop stops taking that console
    from QEMU once PAUSE_BYTES wait here (QEMU then holds the guest's writes, which sleep or say
    EAGAIN, as a full pipe does), while the other stream, the kernel log, signals, the control
    channel and the timeout go on. `write` never blocks. If the reader goes away (a closed pipe,
    as `| head` does), later output is dropped and `broken` is set; the loop hears of both through
    `wake_fd`."""

    PAUSE_BYTES = 256 * 1024

    def __init__(self, stream: BinaryIO, wake_fd: int, lock: threading.Lock | None = None) -> None:
        self._stream = stream
        self._wake_fd = wake_fd
        self._write_lock = lock or threading.Lock()  # shared by pumps writing one stream
        self._queue: deque[bytes] = deque()
        self._bytes = 0
        self._closed = False
        self._cv = threading.Condition()
        self.broken = False
        self._thread = threading.Thread(target=self._run, name="lwjvm-output", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> None:
        with self._cv:
            if self.broken or not data:
                return
            self._queue.append(data)
            self._bytes += len(data)
            self._cv.notify()

    def full(self) -> bool:
        with self._cv:
            return self._bytes >= self.PAUSE_BYTES

    def close(self) -> None:
        """Waits until everything written has gone out (or the reader has gone)."""
        with self._cv:
            self._closed = True
            self._cv.notify()
        self._thread.join()

    def _run(self) -> None:
        while True:
            with self._cv:
                while not self._queue and not self._closed:
                    self._cv.wait()
                if not self._queue:
                    return
                data = self._queue.popleft()
            try:
                with self._write_lock:
                    self._stream.write(data)
                    self._stream.flush()
            except (BrokenPipeError, ValueError, OSError) as e:
                if isinstance(e, BrokenPipeError):
                    with contextlib.suppress(OSError, ValueError):
                        # Our own stdout/stderr: point the fd at /dev/null so the flush at exit
                        # is quiet.
                        fd = self._stream.fileno()
                        if fd in (1, 2):
                            null = os.open(os.devnull, os.O_WRONLY)
                            os.dup2(null, fd)
                            os.close(null)
                with self._cv:
                    self.broken = True
                    self._queue.clear()
                    self._bytes = 0
            with self._cv:
                self._bytes = max(0, self._bytes - len(data))
            with contextlib.suppress(BlockingIOError, OSError):
                os.write(self._wake_fd, b"w")


@dataclass
class _Outputs:
    """The two output pumps and the pipe their threads wake the loop through."""

    out: _Pump
    err: _Pump
    wake_fd: int
    sigpipe_sent: bool = False


class _Signals:
    """While QEMU runs: SIGINT, SIGTERM and SIGHUP are noted, not acted on, and wake the loop.

    The loop forwards the first one to the program (a COM3 control line) and kills QEMU on the
    second. Only the main thread can do this; elsewhere `fd` is None and signals act as usual.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled

    def __enter__(self) -> _Signals:
        self.fd: int | None = None
        if not self.enabled or threading.current_thread() is not threading.main_thread():
            return self
        r, w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self.fd, self._w = r, w
        self._old_wakeup = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
        self._old = {s: signal.signal(s, _note_signal) for s in self.SIGNALS}
        return self

    def read(self) -> list[int]:
        """The signals received since the last call."""
        if self.fd is None:
            return []
        try:
            return list(os.read(self.fd, 64))
        except BlockingIOError:
            return []

    def __exit__(self, *exc: object) -> None:
        if self.fd is None:
            return
        for s, h in self._old.items():
            signal.signal(s, h)
        signal.set_wakeup_fd(self._old_wakeup)
        os.close(self.fd)
        os.close(self._w)


@contextlib.contextmanager
def _signals_held(enabled: bool = True) -> Iterator[None]:
    """Runs the block with SIGINT, SIGTERM and SIGHUP held back, then acts on those that came
    (their handlers run once it has ended; an ignored one stays ignored). For QEMU's start when
    signals are the caller's (a VmControl): a KeyboardInterrupt raised inside subprocess.Popen
    after its fork leaves the child running with nobody holding it, while it goes on writing
    into a directory lwjvm is removing. Main thread only, as signal handlers are."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return
    came: list[int] = []
    old = {}
    for s in _Signals.SIGNALS:
        h = signal.getsignal(s)
        if h not in (signal.SIG_IGN, None):
            old[s] = signal.signal(s, lambda signum, _frame: came.append(signum))
    try:
        yield
    finally:
        for s, h in old.items():
            signal.signal(s, h)
        for s in came:
            signal.raise_signal(s)


def _note_signal(_signum: int, _frame: object) -> None:
    """A Python-level handler, so the signal reaches the wakeup fd; the loop acts on it."""


class VmControl:
    """Acts on a running `run_vm` from another thread or a signal handler (lwjvm's supervisor).

    With a control, `run_vm` leaves the process's signals alone; `signal()` forwards a signal to
    the program (COM3 control line) and starts the stop deadline, `kill()` ends the VM at once.
    `quit`, when set, is tried before signals to end QEMU (the supervisor's QMP `quit`) and says
    whether QEMU went; `on_start` is told QEMU's process as soon as it runs.
    """

    def __init__(self) -> None:
        self.fd, self._w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._pending: deque[tuple[str, int, float | None]] = deque()  # appends are atomic
        self._lines: deque[bytes] = deque()  # for the "line" requests, in order
        self.quit: Callable[[], bool] | None = None
        self.on_start: Callable[[subprocess.Popen[bytes]], None] | None = None
        self.on_record: Callable[[str, dict[str, str]], None] | None = None  # kernel records

    def signal(self, signum: int, stop_timeout: float | None = None) -> None:
        """Sends `signum` to the program; QEMU is killed if it has not ended `stop_timeout`
        seconds later (None: the VmConfig's stop_timeout)."""
        self._pending.append(("signal", signum, stop_timeout))
        self._wake()

    def send(self, line: bytes) -> None:
        """Writes the control line `line` (a protocol request) to the kernel, if it runs."""
        self._pending.append(("line", 0, None))
        self._lines.append(line)
        self._wake()

    def kill(self) -> None:
        """Ends the VM now (as a stop that ran out of time: outcome stop-timeout)."""
        self._pending.append(("kill", 0, None))
        self._wake()

    def _wake(self) -> None:
        with contextlib.suppress(BlockingIOError):
            os.write(self._w, b"!")

    def take(self) -> list[tuple[str, int, float | None]]:
        """The requests made since the last call."""
        with contextlib.suppress(BlockingIOError):
            while os.read(self.fd, 64):
                pass
        out = []
        while self._pending:
            out.append(self._pending.popleft())
        return out

    def close(self) -> None:
        for fd in (self.fd, self._w):
            with contextlib.suppress(OSError):
                os.close(fd)


def run_vm(
    cfg: VmConfig,
    stdout: BinaryIO | None = None,
    stderr: BinaryIO | None = None,
    live_log: bool = False,
    control: VmControl | None = None,
) -> VmResult:
    """Boots the guest and waits for it; guest output is streamed as it arrives.

    COM1 goes to `stdout`, COM2 and the kernel log lines that are shown to `stderr` (default: ours).
    Kernel log lines are shown as they come with `live_log`, else only on a panic or when the VM
    stops without an exit record. Raises LwjvmError if QEMU cannot be started.
    In the main thread, a first SIGINT/SIGTERM/SIGHUP is sent on to the program (COM3 control
    line) and the run goes on to the program's exit; a second one kills QEMU and raises
    KeyboardInterrupt (SIGINT) or SystemExit(128 + signal). With `control`, signals are left to
    the caller, who acts through it.
    """
    if cfg.incoming is not None:
        try:
            return _run_vm(cfg, stdout, stderr, live_log, control)
        except _RestoreFailed as e:
            sink = stderr if stderr is not None else sys.stderr.buffer
            sink.write(f"lwjvm: warm snapshot not restored ({e}); booting cold\n".encode())
            sink.flush()
            cfg = dataclasses.replace(cfg, incoming=None, ram_file=None)
    return _run_vm(cfg, stdout, stderr, live_log, control)


class _RestoreFailed(Exception):
    """QEMU could not restore the warm snapshot (the message says why)."""


def _run_vm(
    cfg: VmConfig,
    stdout: BinaryIO | None,
    stderr: BinaryIO | None,
    live_log: bool,
    control: VmControl | None,
) -> VmResult:
    binary = qemu.find_qemu()
    cons = qemu.Consoles()
    stack = contextlib.ExitStack()
    try:
        if cfg.incoming is not None and cfg.qmp is None:  # the restore is driven through QMP
            tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="lwjvm-qmp-"))
            cfg = dataclasses.replace(cfg, qmp=Path(tmp) / "qmp")

        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        stack.callback(os.close, wake_r)
        stack.callback(os.close, wake_w)
        out_stream = stdout if stdout is not None else sys.stdout.buffer
        err_stream = stderr if stderr is not None else sys.stderr.buffer
        one = threading.Lock() if out_stream is err_stream else None  # both to one sink
        out = _Pump(out_stream, wake_w, one)
        err = _Pump(err_stream, wake_w, one)
        # Last in, first out: everything written has gone before the pipe closes.
        stack.callback(out.close)
        stack.callback(err.close)
        log = KernelLog(err.write, live_log)
        if control is not None:
            log.on_record = control.on_record
        if cfg.disks:  # `lwjvm volume snapshot` of the volume in use, relayed to the guest
            from lwjvm.volume import ControlServer

            volctl = ControlServer(cfg.disks[0], lambda line: _send(cons.com3, line))
            log.on_volume = volctl.record
            stack.callback(volctl.close)
        forwards: list[str] = []
        if cfg.incoming is not None and cfg.net is not None:  # added once restored (snapshot.py)
            forwards = [p.hostfwd() for p in cfg.net.ports]
            cmd = qemu.qemu_command(
                binary, dataclasses.replace(cfg, net=dataclasses.replace(cfg.net, ports=())),
                cons.child,
            )  # fmt: skip
        else:
            cmd = qemu.qemu_command(binary, cfg, cons.child)
        with _Signals(enabled=control is None) as sigs:
            t0 = time.monotonic()
            proc = None
            try:
                with _signals_held(enabled=control is not None):
                    proc = qemu.start(cmd, cons)
                if cfg.incoming is not None and cfg.qmp is not None:
                    _restore(proc, cfg.qmp, cfg.incoming, forwards, cons)
                if control is not None and control.on_start is not None:
                    control.on_start(proc)
            except BaseException:  # _wait kills QEMU on any error; before it, this does
                if proc is not None:
                    qemu.stop(proc)
                raise
            result = _wait(proc, cfg, cons, sigs, log, _Outputs(out, err, wake_r), t0, control)
            result.command = cmd
            return result
    finally:
        stack.close()
        cons.close()


def _restore(
    proc: subprocess.Popen[bytes],
    qmp_path: Path,
    state: Path,
    forwards: list[str],
    cons: qemu.Consoles,
) -> None:
    """Restores the warm snapshot `state` into `proc` and sends the thaw (lwjvm/snapshot.py);
    _RestoreFailed, with QEMU's own words, if it cannot."""
    from lwjvm import snapshot

    why = snapshot.restore(proc, qmp_path, state, forwards)
    if why is None:
        _send(cons.com3, snapshot.thaw_line())
        return
    qemu.stop(proc)
    said = b""
    for fd, name in cons.ours.items():
        if name == "qemu":
            while select.select([fd], [], [], 0.5)[0]:
                chunk = os.read(fd, 65536)
                if not chunk:
                    break
                said += chunk
    detail = said.decode(errors="replace").strip().replace("\n", "; ")
    raise _RestoreFailed(f"{why}: {detail}" if detail else why)


def _wait(
    proc: subprocess.Popen[bytes],
    cfg: VmConfig,
    cons: qemu.Consoles,
    sigs: _Signals,
    log: KernelLog,
    outs: _Outputs,
    t0: float,
    control: VmControl | None = None,
) -> VmResult:
    """Reads the consoles until QEMU has gone, enforcing the timeout; kills QEMU on any error.
    A console whose output waits for its reader (_Pump.full) is not read until it drains."""
    sel = selectors.DefaultSelector()
    sinks = dict(cons.ours)
    for fd in sinks:
        sel.register(fd, selectors.EVENT_READ)
    sel.register(outs.wake_fd, selectors.EVENT_READ)
    pumps = {"com1": outs.out, "com2": outs.err}
    paused: set[int] = set()  # console fds not read while their pump is full

    def resume(everything: bool) -> None:
        for fd in list(paused):
            if everything or not pumps[sinks[fd]].full():
                paused.discard(fd)
                sel.register(fd, selectors.EVENT_READ)

    if sigs.fd is not None:
        sel.register(sigs.fd, selectors.EVENT_READ)
    if control is not None:
        sel.register(control.fd, selectors.EVENT_READ)
    quit_hook = control.quit if control is not None else None
    qemu_err = bytearray()
    first_output: float | None = None
    timed_out = False
    killed = False
    forwarded: int | None = None
    deadline = t0 + cfg.timeout if cfg.timeout is not None else None
    asked_threads: float | None = None  # when THREADS_REQUEST went out, at the timeout
    stop_deadline: float | None = None
    stop_killed = False
    try:
        while sinks:
            if paused and proc.poll() is not None:
                resume(everything=True)  # QEMU is gone (stopped, or ended): drain what it left
            limit = None
            if not killed:
                limit = deadline
                if asked_threads is not None:
                    # At the timeout the kernel is asked what each thread does; its answer, or
                    # its silence for THREADS_GRACE_S, ends the wait.
                    answered = log.threads is not None and log.threads.complete
                    limit = time.monotonic() if answered else (
                        asked_threads + protocol.THREADS_GRACE_S
                    )
                if log.end_at is not None:
                    grace = t0 + log.end_at + protocol.EXIT_GRACE_S
                    limit = grace if limit is None else min(limit, grace)
                elif stop_deadline is not None:
                    limit = stop_deadline if limit is None else min(limit, stop_deadline)
            wait = None if limit is None else max(0.0, limit - time.monotonic())
            events = sel.select(wait)
            # Checked whatever came: a program that writes without pause still times out.
            if limit is not None and time.monotonic() >= limit:
                timed_out = deadline is not None and time.monotonic() >= deadline
                if timed_out and asked_threads is None and log.end_at is None:
                    log.threads = None
                    _send(cons.com3, protocol.THREADS_REQUEST)
                    asked_threads = time.monotonic()
                    continue
                stop_killed = (
                    stop_deadline is not None
                    and log.end_at is None
                    and time.monotonic() >= stop_deadline
                )
                qemu.stop(proc, quit_hook)
                killed = True  # QEMU is gone: every console reaches EOF, drain them
                continue
            for key, _ in events:
                fd = int(key.fd)
                if fd == outs.wake_fd:
                    with contextlib.suppress(BlockingIOError):
                        os.read(fd, 4096)
                    resume(everything=False)
                    if (outs.out.broken or outs.err.broken) and not outs.sigpipe_sent:
                        # A program whose stdout or stderr reader has gone gets SIGPIPE, as on
                        # the host.
                        outs.sigpipe_sent = True
                        log.sent_signals.add(signal.SIGPIPE)
                        _send(cons.com3, protocol.control_line(signal.SIGPIPE))
                    continue
                if control is not None and fd == control.fd:
                    for what, signum, limit_s in control.take():
                        if what == "line":
                            line = control._lines.popleft()
                            if log.end_at is None and not killed:
                                _send(cons.com3, line)
                        elif what == "kill" and not killed:
                            stop_killed = log.end_at is None
                            qemu.stop(proc, quit_hook)
                            killed = True
                        elif what == "signal" and log.end_at is None and not killed:
                            _send(cons.com3, protocol.control_line(signum))
                            log.sent_signals.add(signum)
                            forwarded = signum if forwarded is None else forwarded
                            limit_s = cfg.stop_timeout if limit_s is None else limit_s
                            if limit_s is not None:
                                stop_deadline = time.monotonic() + limit_s
                    continue
                if fd == sigs.fd:
                    was = forwarded
                    forwarded = _on_signals(sigs.read(), forwarded, proc, cons.com3, outs.err.write)
                    if forwarded is not None:
                        log.sent_signals.add(forwarded)
                    if was is None and forwarded is not None and cfg.stop_timeout is not None:
                        stop_deadline = time.monotonic() + cfg.stop_timeout
                    continue
                try:
                    data = os.read(fd, 65536)
                except ConnectionResetError:
                    data = b""  # QEMU closed COM3 with our control line unread: end of file
                except BlockingIOError:
                    continue
                now = time.monotonic() - t0
                if not data:
                    sel.unregister(fd)
                    del sinks[fd]
                    continue
                name = sinks[fd]
                if name in ("com1", "com2") and first_output is None:
                    first_output = now
                if name in pumps:
                    pumps[name].write(data)
                    if not killed and pumps[name].full():
                        sel.unregister(fd)
                        paused.add(fd)
                elif name == "com3":
                    log.feed(data, now)
                else:
                    qemu_err += data
        status = proc.wait()
    except BaseException:
        qemu.stop(proc)
        raise
    finally:
        sel.close()
    t_exit = time.monotonic() - t0
    log.close(t_exit)
    outcome, code = protocol.decide_outcome(
        log.exit_code, log.panicked, timed_out, status, stop_killed
    )
    if outcome == protocol.OUTCOME_NO_RECORD or outcome == protocol.OUTCOME_PANIC:
        log.show_held()
    return VmResult(
        outcome=outcome,
        exit_code=code,
        program_code=log.exit_code,
        qemu_status=status,
        boot=log.boot,
        t_first_output=first_output,
        t_exit_record=log.exit_at,
        t_qemu_exit=t_exit,
        qemu_stderr=qemu_err.decode(errors="replace"),
        log=log,
        signal_sent=forwarded,
    )


def _on_signals(
    signums: list[int],
    forwarded: int | None,
    proc: subprocess.Popen[bytes],
    com3: int,
    err: Callable[[bytes], None],
) -> int | None:
    """Forwards the first signal to the program; on a second, kills QEMU and raises."""
    for signum in signums:
        if forwarded is None:
            forwarded = signum
            _send(com3, protocol.control_line(signum))
            name = signal.Signals(signum).name
            err(f"lwjvm: sent {name} to the program; again to stop the VM\n".encode())
            continue
        qemu.stop(proc)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)
    return forwarded


def _send(fd: int, data: bytes) -> None:
    """Writes a control line to COM3; a guest that is gone or not reading is not an error."""
    with contextlib.suppress(OSError):
        os.write(fd, data)
