"""The kernel log and exit protocol (docs/protocol.md, sections 4 and 5), host side.

`KernelLog` splits COM3 into lines, consumes the control records (`\\x1elwjvm:...`) and decides
which other lines reach stderr; `decide_outcome` turns the records and QEMU's status into how a
boot ended; `explain` turns that into lwjvm's exit code and one cause line: a kernel panic (123),
a JVM crash (134, the hs_err report above on the console), the VM out of memory (137), a guest
killed while stopping (121), plus the program's own code with the system calls the kernel lacked
named when the program failed. The control lines the host sends the kernel are made here too.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lwjvm.errors import (
    EXIT_NO_RECORD,
    EXIT_PANIC,
    EXIT_STOP_TIMEOUT,
    EXIT_TIMEOUT,
)

if TYPE_CHECKING:
    from lwjvm.vm import VmResult

STOP_TIMEOUT_S = 10.0  # default for how long a program sent SIGINT/SIGTERM gets to stop
RECORD_PREFIX = b"\x1elwjvm:"
# After the exit record, how long QEMU gets to stop by itself before it is killed.
EXIT_GRACE_S = 5.0
KERNEL_LOG_TAIL = 200
EXIT_JVM_CRASH = 134  # 128 + SIGABRT: HotSpot aborts after writing its fatal error report
EXIT_OUT_OF_MEMORY = 137  # 128 + SIGKILL: the kernel ends the program as Linux's OOM killer would
# The kernel reports these on every JVM start, and they never explain a failure: glibc falls back
# by design (rseq registration is optional, clone3 falls back to clone), and socket is glibc's
# nscd probe, which must fail (the guest has no network yet).
BENIGN_ENOSYS = ("rseq", "clone3", "socket")
HS_ERR_MARK = b"A fatal error has been detected by the Java Runtime Environment"


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
        self.threads: ThreadReport | None = None  # the last answer to THREADS_REQUEST
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
        elif kind == "threads":
            self.threads = ThreadReport(now_ns=_int(fields.get("now_ns")) or 0)
        elif kind in ("cpu", "thread", "threads-end") and self.threads is not None:
            if kind == "cpu":
                self.threads.cpus.append(
                    {k: n for k, v in fields.items() if (n := _int(v)) is not None}
                )
            elif kind == "thread":
                self.threads.threads.append(parse_thread(fields))
            else:
                self.threads.complete = True
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


# The control line that asks the kernel what each thread and CPU is doing (the `threads` records).
THREADS_REQUEST = b"lwjvm:threads\n"
# How long a guest at its timeout gets to answer THREADS_REQUEST before QEMU is killed.
THREADS_GRACE_S = 10.0  # a loaded host may leave the guest's CPUs unscheduled for seconds
# Past these, a thread queued to run, or waiting beyond its deadline, is a kernel fault: a turn
# lasts at most 16 ms and a timer fires at its deadline. Generous: a loaded host may leave a
# virtual CPU unscheduled for seconds while the guest's clock runs on.
STARVED_S = 10.0
LATE_TIMER_S = 10.0


@dataclass
class GuestThread:
    """One `thread` record: what a thread of the program was doing when asked."""

    tid: int
    state: str  # running, queued, blocked
    cpu: int
    for_s: float  # in that state for this long
    syscall: str  # the call it is in, "-" for none
    wait: str  # blocked: the kernel function it blocked in
    on: str  # blocked: the wait queue's name, or "-"
    deadline_ns: int  # blocked: its deadline on the monotonic clock, 0 for none
    cpu_ns: int = 0  # the CPU time it has had since it started
    name: str = "-"  # its prctl(PR_SET_NAME) name, spaces as `_`; "-" if it set none

    def describe(self) -> str:
        what = f"thread {self.tid} {self.state} on CPU {self.cpu} for {self.for_s:.1f} s"
        if self.syscall != "-":
            what += f" in {self.syscall}"
        if self.state == "blocked":
            on = "" if self.on == "-" else f" on {self.on}"
            what += f" ({self.wait}{on}"
            what += ", no deadline)" if not self.deadline_ns else ", with a deadline)"
        if self.cpu_ns:
            what += f"; {self.cpu_ns / 1e9:.1f} s of CPU"
        if self.name != "-":
            what += f", named {self.name}"
        return what


@dataclass
class ThreadReport:
    """The kernel's answer to THREADS_REQUEST (docs/protocol.md, section 4)."""

    now_ns: int = 0
    cpus: list[dict[str, int]] = field(default_factory=list)
    threads: list[GuestThread] = field(default_factory=list)
    complete: bool = False  # the `threads-end` record came

    def verdict(self) -> tuple[str, str]:
        """(kind, sentence): `kernel` (a kernel fault: a thread starved or a timer lost),
        `blocked` (every thread waits with no deadline: the program is stuck as it would be on
        Linux), `sleeping` (every thread waits, some until a deadline to come) or `running`
        (the program was still at work: too slow, or looping)."""
        for t in self.threads:
            if t.state == "queued" and t.for_s > STARVED_S:
                return "kernel", (
                    f"thread {t.tid} has waited {t.for_s:.0f} s in CPU {t.cpu}'s run queue: "
                    "the scheduler never ran it (a kernel hang)"
                )
            late = (self.now_ns - t.deadline_ns) / 1e9
            if t.state == "blocked" and t.deadline_ns and late > LATE_TIMER_S:
                return "kernel", (
                    f"thread {t.tid}'s deadline passed {late:.0f} s ago and it still waits in "
                    f"{t.wait}: a lost timer (a kernel hang)"
                )
        if self.threads and all(t.state == "blocked" for t in self.threads):
            if all(not t.deadline_ns for t in self.threads):
                return "blocked", (
                    "every thread waits with no deadline, as it would on Linux: the program is "
                    "blocked, the kernel is not"
                )
            return "sleeping", "every thread waits, some until a deadline still to come"
        return "running", "the program was still running (the kernel answered)"


def parse_thread(fields: dict[str, str]) -> GuestThread:
    """A `thread` record's fields as a GuestThread (missing numbers read as 0)."""
    return GuestThread(
        tid=_int(fields.get("tid")) or 0,
        state=fields.get("state", "?"),
        cpu=_int(fields.get("cpu")) or 0,
        for_s=(_int(fields.get("for_ns")) or 0) / 1e9,
        syscall=fields.get("syscall", "-"),
        wait=fields.get("wait", "-"),
        on=fields.get("on", "-"),
        deadline_ns=_int(fields.get("deadline_ns")) or 0,
        cpu_ns=_int(fields.get("cpu_ns")) or 0,
        name=fields.get("name", "-"),
    )


def timeout_cause(timeout: float | None, report: ThreadReport | None) -> str:
    """The one-line cause for a guest killed at its timeout, with the kernel's own account."""
    base = f"the guest did not finish within {timeout:g} s; killed"
    if report is None or not report.complete:
        return base + (
            f" (the kernel did not answer {THREADS_REQUEST.decode().strip()} within "
            f"{THREADS_GRACE_S:g} s: a kernel hang)"
        )
    return f"{base} ({report.verdict()[1]})"


def control_line(signum: int) -> bytes:
    """The COM3 control line that asks the kernel to send signal `signum` to the program."""
    return f"lwjvm:signal num={signum}\n".encode()


def explain(
    result: VmResult,
    output_tail: bytes,
    memory_mib: int,
    timeout: float | None,
    stop_timeout: float = STOP_TIMEOUT_S,
    memory_overridden: bool = False,
) -> tuple[int, str | None]:
    """(lwjvm's exit code, the one-line cause or None) for how the guest ended."""
    log = result.log
    if result.outcome == OUTCOME_PANIC:
        line = log.panic_line() if log is not None else None
        return EXIT_PANIC, f"the guest kernel panicked{': ' + line if line else ''}"
    if result.outcome == OUTCOME_STOP_TIMEOUT:
        return EXIT_STOP_TIMEOUT, (
            f"the app did not stop within {stop_timeout:g} s of the signal; the VM was killed"
        )
    if result.outcome == OUTCOME_TIMEOUT:
        return EXIT_TIMEOUT, timeout_cause(timeout, log.threads if log is not None else None)
    if result.outcome == OUTCOME_NO_RECORD:
        said = result.qemu_stderr.strip().splitlines()
        detail = f": {said[-1]}" if said else ""
        return EXIT_NO_RECORD, (
            f"the VM stopped without an exit record (QEMU status {result.qemu_status}){detail}"
        )
    code = result.exit_code
    if log is not None and log.out_of_memory is not None:
        knob = "--memory" if memory_overridden else "vm.memory"
        return EXIT_OUT_OF_MEMORY, f"the VM ran out of memory ({memory_mib} MiB); raise {knob}"
    if code != 0 and HS_ERR_MARK in output_tail:
        # HotSpot aborts (134) after its report, or exits 1 with -XX:-CreateCoredumpOnCrash.
        return code, "the JVM crashed (hs_err above)"
    if code == 0 or (result.signal_sent is not None and code == 128 + result.signal_sent):
        return code, None
    if log is not None and log.process_refused:
        return code, process_cause("app", code, log.process_refused)
    missing = [n for n in (log.enosys if log else []) if n.split(" ")[0] not in BENIGN_ENOSYS]
    if missing:
        return code, (
            f"the app exited with {code}; the kernel does not implement system calls it "
            f"called: {', '.join(missing)}"
        )
    return code, None


def process_cause(who: str, code: int, call: str) -> str:
    """The cause line for a program that failed after the kernel refused to start a process."""
    return (
        f"the {who} exited with {code} after it tried to start a process ({call}); "
        "a lwjvm VM runs one process, so fork, vfork and posix_spawn fail with EPERM"
    )


