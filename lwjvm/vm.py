"""Booting the guest: QEMU microvm with our kernel, the consoles, and the exit protocol.

docs/protocol.md is the contract (sections 3-5). `run_vm` starts QEMU with three output-only
16550 UARTs, each a chardev writing to a pipe this process reads: COM1 is streamed to our stdout,
COM2 to our stderr, and COM3 (the kernel log) goes through `KernelLog`, which consumes the control
records (`\\x1elwjvm:...`) and decides which other lines reach stderr. `VmResult.exit_code` is the
exit code `lwjvm exec` ends with, per protocol section 5.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import re
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lwjvm import sizes
from lwjvm.errors import (
    EXIT_NO_RECORD,
    EXIT_PANIC,
    EXIT_STOP_TIMEOUT,
    EXIT_TIMEOUT,
    LwjvmError,
)
from lwjvm.network import NetConfig

QEMU = "qemu-system-x86_64"
RECORD_PREFIX = b"\x1elwjvm:"
# (I/O base, IRQ) of COM1, COM2, COM3; COM3 shares IRQ 4 with COM1 as on a PC (output-only).
UARTS = ((0x3F8, 4), (0x2F8, 3), (0x3E8, 5))  # COM3 on IRQ 5 of its own: it receives
DEBUG_EXIT_PORT = 0xF4
# After the exit record, how long QEMU gets to stop by itself before it is killed.
EXIT_GRACE_S = 5.0
KERNEL_LOG_TAIL = 200
# Default for how long a program sent SIGINT/SIGTERM gets to stop (`lwjvm run --stop-timeout`).
STOP_TIMEOUT_S = 10.0


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


def find_qemu() -> str:
    """The QEMU binary; LwjvmError if it is not installed."""
    q = shutil.which(QEMU)
    if q is None:
        raise LwjvmError(f"{QEMU} not found: install qemu-system-x86 (make setup)")
    return q


def parse_memory(text: str) -> int:
    """A guest memory size (lwjvm/sizes.py: 128M, 1G) in MiB: 16M to 1T, whole MiB; LwjvmError
    if it is bad."""
    return sizes.size_arg(text, "memory size", 16 * sizes.MIB, 1 << 40, sizes.MIB) // sizes.MIB


# ---------------------------------------------------------------------------------------------
# The kernel log (COM3)


def parse_record(line: bytes) -> tuple[str, dict[str, str]] | None:
    """`(kind, {key: value})` for a control record line, else None."""
    if not line.startswith(RECORD_PREFIX):
        return None
    words = line[len(RECORD_PREFIX) :].decode(errors="replace").split()
    if not words:
        return ("", {})
    fields: dict[str, str] = {}
    for w in words[1:]:
        k, _, v = w.partition("=")
        fields[k] = v
    return (words[0], fields)


@dataclass
class BootTiming:
    """The kernel's `boot` record: TSC frequency and time from kernel entry to the program."""

    tsc_hz: int | None
    entry_to_user_ns: int | None


def _int(v: str | None) -> int | None:
    try:
        return int(v) if v is not None else None
    except ValueError:
        return None


_ENOSYS = re.compile(r"^lwjvm: syscall (\w+) \((\d+)\) is not implemented: -ENOSYS")
OOM_PREFIX = "lwjvm: out of memory"
PROCESS_PREFIX = "lwjvm: process creation refused: "
STATS_PREFIX = "lwjvm: stats:"
SYSCALL_STATS_PREFIX = "lwjvm: syscall stats:"


class KernelLog:
    """Splits COM3 into lines, consumes control records and routes the other lines.

    `echo(line)` is called for lines to show now; lines not shown are kept (the last
    KERNEL_LOG_TAIL) so a panic or a VM that died can still show them.
    """

    def __init__(self, echo: Callable[[bytes], None], live: bool) -> None:
        self.echo = echo
        self.live = live
        self.buf = b""
        self.held: deque[bytes] = deque(maxlen=KERNEL_LOG_TAIL)
        self.boot_lines: deque[bytes] = deque(maxlen=KERNEL_LOG_TAIL)  # held, before boot record
        self.exit_code: int | None = None
        self.panicked = False
        self.boot: BootTiming | None = None
        self.boot_at: float | None = None
        self.exit_at: float | None = None
        self.end_at: float | None = None  # time of the exit or panic record
        self.unknown_records: list[bytes] = []
        self.sent_signals: set[int] = set()  # signals the host sent the program (control lines)
        self.tail: deque[bytes] = deque(maxlen=40)  # the last lines, shown or not
        self.enosys: list[str] = []  # "NAME (N)" of each syscall the kernel said it lacks
        self.out_of_memory: str | None = None  # the kernel's out-of-memory line
        self.process_refused: str | None = None  # "clone (flags 0x...)", refused by the kernel
        self.stats: dict[str, int] = {}  # the `lwjvm: stats:` line (lwjvm.stats=1)
        # name -> {calls, errors, cpu_us, wall_us}: the `lwjvm: syscall stats:` lines
        self.syscall_stats: dict[str, dict[str, int]] = {}
        self.on_record: Callable[[str, dict[str, str]], None] | None = None  # each record seen
        self.on_volume: Callable[[dict[str, str]], None] | None = None  # `volume` records

    def feed(self, data: bytes, now: float = 0.0) -> None:
        """Takes bytes from COM3; complete lines are handled at once."""
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            line, self.buf = self.buf[: nl + 1], self.buf[nl + 1 :]
            self._line(line, now)

    def close(self, now: float = 0.0) -> None:
        """Handles a last line without a newline."""
        if self.buf:
            line, self.buf = self.buf, b""
            self._line(line + b"\n", now)

    def _line(self, line: bytes, now: float) -> None:
        rec = parse_record(line.rstrip(b"\r\n"))
        if rec is None:
            self._notice(line)
            if self.live:
                self.echo(line)
            else:
                self.held.append(line)
            return
        kind, fields = rec
        if self.on_record is not None:
            self.on_record(kind, fields)
        if kind == "exit":
            code = _int(fields.get("code"))
            self.exit_code = code & 0xFF if code is not None else None
            self.exit_at = now
            self.end_at = now
            self.panicked = False
        elif kind == "panic":
            self.panicked = True
            self.end_at = now
            self.show_held()
        elif kind == "error":
            # The kernel could not start the program (boot.conf, exec): its reason is held.
            self.show_held()
        elif kind in ("fatal", "oom"):
            # The program was killed (a fault without handler, or no memory left): the lines
            # since the boot record say where. Not for a signal the host sent: that is no news.
            if _int(fields.get("signal")) not in self.sent_signals:
                self.show_held(since_boot=True)
        elif kind == "volume":
            if self.on_volume is not None:
                self.on_volume(fields)
        elif kind == "boot":
            self.boot_lines += self.held
            self.held.clear()
            self.boot = BootTiming(_int(fields.get("tsc_hz")), _int(fields.get("entry_to_user_ns")))
            self.boot_at = now
        else:
            self.unknown_records.append(line)

    def _notice(self, line: bytes) -> None:
        """Remembers the lines the host reports on: -ENOSYS notices, out of memory, stats."""
        text = line.decode(errors="replace").strip()
        self.tail.append(line)
        m = _ENOSYS.match(text)
        if m:
            name = f"{m.group(1)} ({m.group(2)})"
            if name not in self.enosys:
                self.enosys.append(name)
        elif text.startswith(OOM_PREFIX):
            self.out_of_memory = text
        elif text.startswith(PROCESS_PREFIX) and self.process_refused is None:
            self.process_refused = text[len(PROCESS_PREFIX) :].split(": -")[0]
        elif text.startswith(STATS_PREFIX):
            for word in text[len(STATS_PREFIX) :].split():
                k, _, v = word.partition("=")
                n = _int(v)
                if n is not None:
                    self.stats[k] = n
        elif text.startswith(SYSCALL_STATS_PREFIX):
            words = text[len(SYSCALL_STATS_PREFIX) :].split()
            counts = {k: _int(v) for k, _, v in (w.partition("=") for w in words[1:])}
            if words:
                self.syscall_stats[words[0]] = {k: n for k, n in counts.items() if n is not None}

    def panic_line(self) -> str | None:
        """The kernel's `kernel panic: ...` line, if it printed one."""
        for line in reversed(self.tail):
            text = line.decode(errors="replace").strip()
            if text.startswith("kernel panic:"):
                return text
        return None

    def show_held(self, since_boot: bool = False) -> None:
        """Echoes the lines held back so far (panic text, or the log of a VM that died); with
        `since_boot`, only those after the boot record."""
        if not since_boot:
            for line in self.boot_lines:
                self.echo(line)
            self.boot_lines.clear()
        while self.held:
            self.echo(self.held.popleft())


# ---------------------------------------------------------------------------------------------
# Outcomes


OUTCOME_EXIT = "exit"
OUTCOME_PANIC = "panic"
OUTCOME_TIMEOUT = "timeout"
OUTCOME_NO_RECORD = "no-record"
OUTCOME_STOP_TIMEOUT = "stop-timeout"


def decide_outcome(
    exit_code: int | None,
    panicked: bool,
    timed_out: bool,
    qemu_status: int | None,
    stop_killed: bool = False,
) -> tuple[str, int]:
    """(outcome, lwjvm exit code) from what the kernel log said and how QEMU ended.

    The program's code comes from the exit record, never from QEMU's status (protocol section 5).
    A QEMU status of 3 (debug-exit byte 1) without a record still counts as a panic.
    `stop_killed`: a signal was forwarded and the guest killed when it had not stopped in time.
    """
    if panicked:
        return OUTCOME_PANIC, EXIT_PANIC
    if exit_code is not None:
        return OUTCOME_EXIT, exit_code
    if stop_killed:
        return OUTCOME_STOP_TIMEOUT, EXIT_STOP_TIMEOUT
    if timed_out:
        return OUTCOME_TIMEOUT, EXIT_TIMEOUT
    if qemu_status == 3:
        return OUTCOME_PANIC, EXIT_PANIC
    return OUTCOME_NO_RECORD, EXIT_NO_RECORD


MACHINE_MICROVM = "microvm"
MACHINE_Q35 = "q35"
MACHINES = (MACHINE_MICROVM, MACHINE_Q35)


@dataclass
class VmConfig:
    """One boot: kernel, optional root image, memory, accelerator and kernel command line."""

    kernel: Path
    initrd: Path | None = None
    memory_mib: int = 128
    accel: str = "tcg"
    append: list[str] = field(default_factory=list)
    timeout: float | None = None
    # Seconds the program gets to stop after a signal was forwarded to it; None: no limit.
    stop_timeout: float | None = None
    net: NetConfig | None = None  # None: no network device
    machine: str = MACHINE_MICROVM
    virtio_console: bool = True  # stdout/stderr over virtio consoles (else the UARTs alone)
    qmp: Path | None = None  # a QMP server on this Unix socket path
    # An export region (docs/protocol.md section 7, lwjvm/guestrun.py): a host file the guest
    # writes one file into at exit; attached after the root image's device.
    export: Path | None = None
    # Raw disk files attached as virtio-blk-pci devices (the first is the guest's /dev/vda).
    disks: list[Path] = field(default_factory=list)
    cpus: int = 1  # virtual CPUs (QEMU's -smp)


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


def accel_args(accel: str) -> list[str]:
    """QEMU options for the accelerator: KVM with the host CPU, or multi-threaded TCG."""
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    if accel == "tcg":
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]
    raise LwjvmError(f"unknown accelerator {accel!r}: expected kvm or tcg")


def machine_args(machine: str, cpus: int = 1) -> list[str]:
    """QEMU's -M for a machine lwjvm boots: microvm with PCIe (no firmware: the kernel assigns the
    devices' addresses; with ACPI tables when there are several CPUs, for the MADT that lists
    them), or q35 (libvirt's and KubeVirt's PCI machine; SeaBIOS runs first)."""
    if machine == MACHINE_MICROVM:
        return ["-M", "microvm,pcie=on" + (",acpi=on" if cpus > 1 else "")]
    if machine == MACHINE_Q35:
        # SeaBIOS would print its banner on the first serial port: the program's stdout.
        return ["-M", "q35", "-fw_cfg", "name=etc/sercon-port,string=0"]
    raise LwjvmError(f"unknown machine {machine!r}: expected {', '.join(MACHINES)}")


_AIO: str | None = None


def disk_aio() -> str:
    """QEMU's asynchronous I/O for disks: io_uring where this host's kernel lets a process use it
    (one io_uring_setup probe, cached), else a thread pool."""
    global _AIO
    if _AIO is None:
        _AIO = "threads"
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            params = ctypes.create_string_buffer(120)
            fd = libc.syscall(425, 1, params)  # io_uring_setup(1, &params), x86_64
            if fd >= 0:
                os.close(fd)
                _AIO = "io_uring"
        except (OSError, AttributeError):
            pass
    return _AIO


def disk_args(disks: list[Path]) -> list[str]:
    """Each disk file as a raw virtio-blk-pci drive: cache=none (O_DIRECT on the host, so a
    guest FLUSH reaches the file's storage), io_uring where the host has it, and discard=unmap
    (a guest DISCARD punches a hole in the file: the volume gives back the blocks it frees)."""
    args: list[str] = []
    for i, path in enumerate(disks):
        args += [
            "-drive",
            f"file={path},if=none,id=disk{i},format=raw,cache=none,aio={disk_aio()},"
            "discard=unmap",
            "-device", f"virtio-blk-pci,drive=disk{i}",
        ]  # fmt: skip
    return args


def qemu_command(qemu: str, cfg: VmConfig, console_fds: list[int]) -> list[str]:
    """The QEMU command line; `console_fds` are QEMU's ends for COM1, COM2 (pipes) and COM3 (a
    socket: the kernel log out, control lines in)."""
    cmd = [
        qemu, *machine_args(cfg.machine, cfg.cpus), "-nodefaults", "-no-user-config", "-nographic",
        "-display", "none", "-no-reboot", "-smp", str(cfg.cpus), "-m", f"{cfg.memory_mib}M",
        *accel_args(cfg.accel),
        "-kernel", str(cfg.kernel),
    ]  # fmt: skip
    if cfg.initrd is not None:
        # The root image is the memory of an ivshmem device: the file mapped shared and read-only
        # (docs/protocol.md, section 1), so it costs no guest RAM and VMs share its page cache.
        size = cfg.initrd.stat().st_size
        cmd += [
            "-object", f"memory-backend-file,id=rootimg,mem-path={cfg.initrd},size={size},"
            "share=on,readonly=on",
            "-device", "ivshmem-plain,memdev=rootimg",
        ]  # fmt: skip
    if cfg.export is not None:
        size = cfg.export.stat().st_size
        cmd += [
            "-object", f"memory-backend-file,id=export,mem-path={cfg.export},size={size},share=on",
            "-device", "ivshmem-plain,memdev=export",
        ]  # fmt: skip
    if cfg.net is not None:
        cmd += cfg.net.qemu_args()
    # Entropy from the host for a CPU without RDRAND (QEMU reads its /dev/urandom).
    cmd += ["-device", "virtio-rng-pci"]
    cmd += disk_args(cfg.disks)
    if cfg.qmp is not None:
        cmd += ["-qmp", f"unix:{cfg.qmp},server=on,wait=off"]
    cmd += ["-append", " ".join(cfg.append)]
    cmd += ["-device", f"isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=4"]
    for i, ((base, irq), fd) in enumerate(zip(UARTS, console_fds, strict=True), start=1):
        if i == 3:
            cmd += ["-chardev", f"socket,id=com{i},fd={fd}"]
        else:
            cmd += ["-chardev", f"file,id=com{i},path=/dev/fd/{fd}"]
        cmd += ["-device", f"isa-serial,chardev=com{i},iobase={base:#x},irq={irq}"]
    if cfg.virtio_console:
        # The program's stdout and stderr as virtio-serial ports on the same pipes as COM1 and
        # COM2 (docs/protocol.md, section 4): the kernel writes whole buffers instead of a UART
        # access per byte, and falls back to the UART if a device is missing. Port 1, a
        # virtserialport: QEMU throttles it when the pipe is full (a virtconsole drops bytes).
        for i, fd in enumerate(console_fds[:2]):
            cmd += [
                "-device", f"virtio-serial-pci,id=vser{i},max_ports=2",
                "-chardev", f"file,id=vcon{i},path=/dev/fd/{fd}",
                "-device", f"virtserialport,chardev=vcon{i},bus=vser{i}.0,nr=1,"
                f"name=lwjvm.{'stdout' if i == 0 else 'stderr'}",
            ]  # fmt: skip
    return cmd


def control_line(signum: int) -> bytes:
    """The COM3 control line that asks the kernel to send signal `signum` to the program."""
    return f"lwjvm:signal num={signum}\n".encode()


def _writer(stream: BinaryIO, on_broken: Callable[[], None]) -> Callable[[bytes], None]:
    """A function writing guest output to `stream` as it comes. If the reader goes away (a closed
    pipe, as `| head` does), later output is dropped and `on_broken` runs once."""
    broken = False

    def write(data: bytes) -> None:
        nonlocal broken
        if broken:
            return
        try:
            stream.write(data)
            stream.flush()
        except BrokenPipeError:
            broken = True
            with contextlib.suppress(OSError, ValueError):
                # Our own stdout/stderr: point the fd at /dev/null so the flush at exit is quiet.
                fd = stream.fileno()
                if fd in (1, 2):
                    null = os.open(os.devnull, os.O_WRONLY)
                    os.dup2(null, fd)
                    os.close(null)
            on_broken()

    return write


class _Consoles:
    """The host ends (read) and QEMU ends of COM1, COM2, COM3 and QEMU's own stderr."""

    def __init__(self) -> None:
        self.child: list[int] = []
        self.ours: dict[int, str] = {}
        try:
            for name in ("com1", "com2"):
                r, w = os.pipe()
                self.ours[r] = name
                self.child.append(w)
            host, guest = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            host.setblocking(False)
            self.com3 = host.detach()
            self.ours[self.com3] = "com3"
            self.child.append(guest.detach())
            r, w = os.pipe()
            self.ours[r] = "qemu"
            self.qemu_w = w
        except BaseException:
            self.close()
            raise

    def close_child_ends(self) -> None:
        for fd in self.child + [self.qemu_w]:
            os.close(fd)
        self.child = []
        self.qemu_w = -1

    def close(self) -> None:
        for fd in self.child + list(self.ours) + [getattr(self, "qemu_w", -1)]:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.child = []
        self.ours = {}
        self.qemu_w = -1


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
        self.quit: Callable[[], bool] | None = None
        self.on_start: Callable[[subprocess.Popen[bytes]], None] | None = None
        self.on_record: Callable[[str, dict[str, str]], None] | None = None  # kernel records

    def signal(self, signum: int, stop_timeout: float | None = None) -> None:
        """Sends `signum` to the program; QEMU is killed if it has not ended `stop_timeout`
        seconds later (None: the VmConfig's stop_timeout)."""
        self._pending.append(("signal", signum, stop_timeout))
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
    qemu = find_qemu()
    cons = _Consoles()
    stack = contextlib.ExitStack()
    try:
        # A program whose stdout or stderr reader has gone gets SIGPIPE, as on the host.
        def sigpipe() -> None:
            log.sent_signals.add(signal.SIGPIPE)
            _send(cons.com3, control_line(signal.SIGPIPE))

        out = _writer(stdout if stdout is not None else sys.stdout.buffer, sigpipe)
        err = _writer(stderr if stderr is not None else sys.stderr.buffer, sigpipe)
        log = KernelLog(err, live_log)
        if control is not None:
            log.on_record = control.on_record
        if cfg.disks:  # `lwjvm volume snapshot` of the volume in use, relayed to the guest
            from lwjvm.volume import ControlServer

            volctl = ControlServer(cfg.disks[0], lambda line: _send(cons.com3, line))
            log.on_volume = volctl.record
            stack.callback(volctl.close)
        cmd = qemu_command(qemu, cfg, cons.child)
        with _Signals(enabled=control is None) as sigs:
            t0 = time.monotonic()
            try:
                proc = subprocess.Popen(
                    cmd,
                    stdin=subprocess.DEVNULL,
                    stdout=cons.qemu_w,
                    stderr=cons.qemu_w,
                    pass_fds=cons.child,
                    start_new_session=True,  # the terminal's Ctrl-C reaches us only
                    preexec_fn=dies_with_us(),
                )
            except OSError as e:
                raise LwjvmError(f"cannot start {qemu}: {e.strerror}") from None
            cons.close_child_ends()
            if control is not None and control.on_start is not None:
                control.on_start(proc)
            result = _wait(proc, cfg, cons, sigs, log, out, err, t0, control)
            result.command = cmd
            return result
    finally:
        stack.close()
        cons.close()


def _wait(
    proc: subprocess.Popen[bytes],
    cfg: VmConfig,
    cons: _Consoles,
    sigs: _Signals,
    log: KernelLog,
    out: Callable[[bytes], None],
    err: Callable[[bytes], None],
    t0: float,
    control: VmControl | None = None,
) -> VmResult:
    """Reads the consoles until QEMU has gone, enforcing the timeout; kills QEMU on any error."""
    sel = selectors.DefaultSelector()
    sinks = dict(cons.ours)
    for fd in sinks:
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
    stop_deadline: float | None = None
    stop_killed = False
    try:
        while sinks:
            limit = None
            if not killed:
                limit = deadline
                if log.end_at is not None:
                    grace = t0 + log.end_at + EXIT_GRACE_S
                    limit = grace if limit is None else min(limit, grace)
                elif stop_deadline is not None:
                    limit = stop_deadline if limit is None else min(limit, stop_deadline)
            wait = None if limit is None else max(0.0, limit - time.monotonic())
            events = sel.select(wait)
            if not events and limit is not None and time.monotonic() >= limit:
                timed_out = deadline is not None and time.monotonic() >= deadline
                stop_killed = (
                    stop_deadline is not None
                    and log.end_at is None
                    and time.monotonic() >= stop_deadline
                )
                _kill(proc, quit_hook)
                killed = True  # QEMU is gone: every console reaches EOF, drain them
                continue
            for key, _ in events:
                fd = int(key.fd)
                if control is not None and fd == control.fd:
                    for what, signum, limit_s in control.take():
                        if what == "kill" and not killed:
                            stop_killed = log.end_at is None
                            _kill(proc, quit_hook)
                            killed = True
                        elif what == "signal" and log.end_at is None and not killed:
                            _send(cons.com3, control_line(signum))
                            log.sent_signals.add(signum)
                            forwarded = signum if forwarded is None else forwarded
                            limit_s = cfg.stop_timeout if limit_s is None else limit_s
                            if limit_s is not None:
                                stop_deadline = time.monotonic() + limit_s
                    continue
                if fd == sigs.fd:
                    was = forwarded
                    forwarded = _on_signals(sigs.read(), forwarded, proc, cons.com3, err)
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
                if name == "com1":
                    out(data)
                elif name == "com2":
                    err(data)
                elif name == "com3":
                    log.feed(data, now)
                else:
                    qemu_err += data
        status = proc.wait()
    except BaseException:
        _kill(proc)
        raise
    finally:
        sel.close()
    t_exit = time.monotonic() - t0
    log.close(t_exit)
    outcome, code = decide_outcome(log.exit_code, log.panicked, timed_out, status, stop_killed)
    if outcome == OUTCOME_NO_RECORD or outcome == OUTCOME_PANIC:
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
            _send(com3, control_line(signum))
            name = signal.Signals(signum).name
            err(f"lwjvm: sent {name} to the program; again to stop the VM\n".encode())
            continue
        _kill(proc)
        if signum == signal.SIGINT:
            raise KeyboardInterrupt
        raise SystemExit(128 + signum)
    return forwarded


def _send(fd: int, data: bytes) -> None:
    """Writes a control line to COM3; a guest that is gone or not reading is not an error."""
    with contextlib.suppress(OSError):
        os.write(fd, data)


def _find_prctl() -> Callable[..., int] | None:
    try:
        fn: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return fn


_PRCTL = _find_prctl()  # looked up in the parent, so the child between fork and exec only calls it
PR_SET_PDEATHSIG = 1


def dies_with_us() -> Callable[[], None]:
    """A `preexec_fn` for a QEMU child that must not outlive this process (see below)."""
    return functools.partial(_die_with_parent, os.getpid())


def _die_with_parent(parent: int) -> None:
    """In the QEMU child: ask Linux to SIGKILL it if lwjvm dies (prctl PR_SET_PDEATHSIG). If
    lwjvm (pid `parent`) died between the fork and the prctl, nobody is left to kill it: go now."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def _kill(proc: subprocess.Popen[bytes], quit: Callable[[], bool] | None = None) -> None:
    """Stops QEMU: `quit` (QMP) if given, else or if it did not work SIGTERM, then SIGKILL if it
    has not gone within a second."""
    if proc.poll() is not None:
        return
    if quit is not None:
        with contextlib.suppress(Exception):
            if quit():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2.0)
                    return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
