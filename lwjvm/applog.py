"""A deployed VM's log: the app's stdout and stderr, line by line, with timestamps, rotated by size.

Each line of `app.log` is `TIMESTAMP STREAM TEXT`: an ISO-8601 UTC time with microseconds, one
letter for the stream (`o` the app's stdout, `e` its stderr, `l` lwjvm's supervisor saying what
it did), and the text as the app wrote it (bytes, without the newline). When the file passes
`max_bytes` it becomes `app.log.1` (and that one `app.log.2`; older output is dropped). The
supervisor writes it (`AppLog`); `lwjvm logs` reads it (`read_lines`, `follow`).
"""

from __future__ import annotations

import calendar
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lwjvm.state import now_iso

MAX_BYTES = 10 << 20
KEEP = 2  # rotated files kept beside app.log
PARTIAL_MAX = 16 << 10  # a line longer than this is written in pieces
STDOUT, STDERR, LWJVM = "o", "e", "l"


class AppLog:
    """Appends timestamped lines to `path`, rotating it; safe to use from several threads."""

    def __init__(self, path: Path, max_bytes: int = MAX_BYTES) -> None:
        self.path = path
        self.max_bytes = max_bytes
        self.lock = threading.Lock()
        self.f = open(path, "ab")  # noqa: SIM115 (closed by close())
        self.on_line: Callable[[str, bytes], None] | None = None

    def write_line(self, stream: str, text: bytes, when: float | None = None) -> None:
        """Writes one line of `stream` (no newline in `text`)."""
        record = f"{now_iso(when)} {stream} ".encode() + text + b"\n"
        with self.lock:
            self.f.write(record)
            self.f.flush()
            if self.f.tell() >= self.max_bytes:
                self._rotate()
        if self.on_line is not None:
            self.on_line(stream, text)

    def note(self, text: str) -> None:
        """A line from lwjvm itself (stream `l`)."""
        self.write_line(LWJVM, text.encode())

    def _rotate(self) -> None:
        self.f.close()
        for i in range(KEEP, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{i}")
            newer = self.path.with_name(f"{self.path.name}.{i - 1}") if i > 1 else self.path
            if newer.exists():
                os.replace(newer, older)
        self.f = open(self.path, "ab")  # noqa: SIM115

    def stream(self, name: str) -> LineSink:
        """A binary stream for `run_vm` that turns what it is given into lines of `name`."""
        return LineSink(self, name)

    def close(self) -> None:
        with self.lock:
            self.f.close()


class LineSink:
    """Collects bytes into lines for one stream of an AppLog; a partial line waits for more."""

    def __init__(self, log: AppLog, name: str) -> None:
        self.log = log
        self.name = name
        self.buf = b""

    def write(self, data: bytes) -> int:
        self.buf += data
        while True:
            nl = self.buf.find(b"\n")
            if nl < 0:
                break
            line, self.buf = self.buf[:nl], self.buf[nl + 1 :]
            self.log.write_line(self.name, line.rstrip(b"\r"))
        while len(self.buf) > PARTIAL_MAX:
            piece, self.buf = self.buf[:PARTIAL_MAX], self.buf[PARTIAL_MAX:]
            self.log.write_line(self.name, piece)
        return len(data)

    def flush(self) -> None:
        pass

    def close(self) -> None:
        """Writes a last line that had no newline."""
        if self.buf:
            line, self.buf = self.buf, b""
            self.log.write_line(self.name, line)

    def fileno(self) -> int:
        raise OSError("an app log stream has no file descriptor")


@dataclass(frozen=True)
class Line:
    """One line of the log."""

    at: str  # ISO timestamp
    stream: str
    text: bytes

    @property
    def epoch(self) -> float:
        """The timestamp as seconds since the epoch."""
        main, _, frac = self.at.rstrip("Z").partition(".")
        base = calendar.timegm(time.strptime(main, "%Y-%m-%dT%H:%M:%S"))
        return base + (float(f"0.{frac}") if frac else 0.0)


def parse_line(raw: bytes) -> Line | None:
    """The Line in `raw` (without its newline), or None if it is not one."""
    parts = raw.split(b" ", 2)
    if len(parts) < 2 or len(parts[1]) != 1:
        return None
    return Line(
        parts[0].decode(errors="replace"), parts[1].decode(), parts[2] if len(parts) > 2 else b""
    )


def files(path: Path) -> list[Path]:
    """The log's files, oldest first."""
    older = [path.with_name(f"{path.name}.{i}") for i in range(KEEP, 0, -1)]
    return [p for p in [*older, path] if p.exists()]


def read_lines(path: Path) -> list[Line]:
    """Every line in the log and its rotated files, oldest first."""
    out: list[Line] = []
    for p in files(path):
        try:
            data = p.read_bytes()
        except OSError:
            continue
        for raw in data.split(b"\n"):
            line = parse_line(raw)
            if line is not None:
                out.append(line)
    return out


def follow(
    path: Path, alive: Callable[[], bool], poll: float = 0.2, start_at_end: bool = True
) -> Iterator[Line]:
    """The lines written to the log from now on (or from its start), across rotations, until
    `alive()` is false and everything written has been read."""
    f = None
    ino = None
    buf = b""
    if start_at_end and path.exists():
        f = open(path, "rb")  # noqa: SIM115
        f.seek(0, os.SEEK_END)
        ino = os.fstat(f.fileno()).st_ino
    try:
        while True:
            if f is None and path.exists():
                f = open(path, "rb")  # noqa: SIM115
                ino = os.fstat(f.fileno()).st_ino
            data = f.read() if f is not None else b""
            if data:
                buf += data
                *whole, buf = buf.split(b"\n")
                for raw in whole:
                    line = parse_line(raw)
                    if line is not None:
                        yield line
                continue
            try:
                rotated = path.stat().st_ino != ino
            except FileNotFoundError:
                rotated = f is not None
            if rotated and f is not None:
                f.close()  # everything in the old file has been read: go on with the new one
                f, buf = None, b""
                continue
            if not alive():
                if f is not None:
                    rest = f.read()
                    if rest:
                        buf += rest
                        continue
                return
            time.sleep(poll)
    finally:
        if f is not None:
            f.close()
