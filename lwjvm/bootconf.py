"""The boot configuration, /etc/lwjvm/boot.conf inside the root image (docs/protocol.md section 2).

`BootConfig.render()` gives the file's bytes and `parse()` reads them back with the same rules the
kernel applies, so tests and `lwjvm inspect` can check an image. Strings are turned into bytes with
`os.fsencode`, so an argument the host could pass to a program reaches the guest unchanged.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from lwjvm.errors import LwjvmError

PATH = "/etc/lwjvm/boot.conf"
HEADER = b"lwjvm-boot 1"
# The network keys (protocol section 2), in the order they are written.
NET_KEYS = (b"net.ipv4", b"net.gateway", b"net.dns", b"net.hostname")


def escape(value: bytes) -> bytes:
    """Escapes a value for one line: backslash as `\\\\`, newline as `\\n`."""
    if b"\0" in value:
        raise LwjvmError(f"boot.conf values cannot contain a NUL byte: {value!r}")
    return value.replace(b"\\", b"\\\\").replace(b"\n", b"\\n")


def unescape(value: bytes, lineno: int = 0) -> bytes:
    """Reverses `escape`; a backslash before anything but `n` or `\\` is an error."""
    out = bytearray()
    i = 0
    while i < len(value):
        c = value[i]
        if c != 0x5C:
            out.append(c)
            i += 1
            continue
        nxt = value[i + 1 : i + 2]
        if nxt == b"n":
            out += b"\n"
        elif nxt == b"\\":
            out += b"\\"
        else:
            bad = (b"\\" + nxt).decode(errors="replace")
            raise LwjvmError(f"boot.conf line {lineno}: bad escape {bad!r}")
        i += 2
    return bytes(out)


def _b(s: str | bytes) -> bytes:
    return s if isinstance(s, bytes) else os.fsencode(s)


@dataclass
class BootConfig:
    """What the kernel runs: `exec` with `argv` and exactly the environment `env`, in `cwd`;
    `net` holds the network keys (NET_KEYS) when the VM has a network device."""

    exec: bytes
    argv: list[bytes]
    env: list[bytes] = field(default_factory=list)
    cwd: bytes = b"/"
    net: dict[bytes, bytes] = field(default_factory=dict)

    @classmethod
    def make(
        cls,
        exec: str | bytes,
        argv: list[str] | list[bytes],
        env: list[str] | list[bytes] | None = None,
        cwd: str | bytes = "/",
        net: list[tuple[str, str]] | None = None,
    ) -> BootConfig:
        """Builds a config from host strings (or bytes) and checks it."""
        conf = cls(
            _b(exec),
            [_b(a) for a in argv],
            [_b(e) for e in env or []],
            _b(cwd),
            {_b(k): _b(v) for k, v in net or []},
        )
        conf.check()
        return conf

    def check(self) -> None:
        """Raises LwjvmError unless the config is one the kernel accepts."""
        if not self.exec:
            raise LwjvmError("exec must name a file in the image")
        if b"\n" in self.exec or b"\n" in self.cwd:
            raise LwjvmError("exec and cwd cannot contain a newline")
        if not self.cwd.startswith(b"/"):
            raise LwjvmError(f"cwd must be an absolute path in the image, got {self.cwd!r}")
        if not self.argv:
            raise LwjvmError("argv needs at least one element (argv[0])")
        for e in self.env:
            name, eq, _ = e.partition(b"=")
            if not eq or not name:
                raise LwjvmError(f"environment entry must be NAME=VALUE, got {os.fsdecode(e)!r}")
        for k, v in self.net.items():
            if k not in NET_KEYS:
                raise LwjvmError(f"unknown network key {os.fsdecode(k)!r}")
            if not v or b"\n" in v:
                raise LwjvmError(f"{os.fsdecode(k)} needs a one-line value, got {v!r}")

    def render(self) -> bytes:
        """The bytes of boot.conf."""
        self.check()
        lines = [HEADER, b"exec=" + escape(self.exec)]
        lines += [b"arg=" + escape(a) for a in self.argv]
        lines += [b"env=" + escape(e) for e in self.env]
        lines.append(b"cwd=" + escape(self.cwd))
        lines += [k + b"=" + escape(self.net[k]) for k in NET_KEYS if k in self.net]
        return b"\n".join(lines) + b"\n"


def parse(data: bytes) -> BootConfig:
    """Parses boot.conf bytes as the kernel does; raises LwjvmError naming the bad line."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines or lines[0] != HEADER:
        raise LwjvmError(f"boot.conf line 1: expected {HEADER.decode()!r}")
    exec_: bytes | None = None
    argv: list[bytes] = []
    env: list[bytes] = []
    cwd = b"/"
    net: dict[bytes, bytes] = {}
    for lineno, line in enumerate(lines[1:], start=2):
        if not line or line.startswith(b"#"):
            continue
        key, eq, raw = line.partition(b"=")
        if not eq:
            raise LwjvmError(f"boot.conf line {lineno}: expected key=value")
        value = unescape(raw, lineno)
        if key == b"exec":
            exec_ = value
        elif key == b"arg":
            argv.append(value)
        elif key == b"env":
            env.append(value)
        elif key == b"cwd":
            cwd = value
        elif key in NET_KEYS:
            net[key] = value
        else:
            name = key.decode(errors="replace")
            raise LwjvmError(f"boot.conf line {lineno}: unknown key {name!r}")
    if exec_ is None:
        raise LwjvmError("boot.conf: no exec= line")
    conf = BootConfig(exec_, argv, env, cwd, net)
    conf.check()
    return conf
