"""The one size grammar of lwjvm, for the manifest (`vm.memory`, `volumes[].size`), the command
line (`--memory`, `volume create --size`) and the JVM port profile: a whole number followed by
K, M, G or T (powers of 1024; the letter in either case), such as 64M or 1G. Nothing else: no
bare numbers, no decimals, no `MB` (decimal or binary?). manifests/schema matches SIZE_PATTERN.
"""

from __future__ import annotations

import re

from lwjvm.errors import LwjvmError

SIZE_PATTERN = r"^[1-9][0-9]*[KMGTkmgt]$"
_SIZE = re.compile(SIZE_PATTERN)
_UNITS = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30, "T": 1 << 40}
EXPECTED = "a size such as 256M or 1G"
MIB = 1 << 20


def parse_size(text: str) -> int:
    """Bytes in a size such as `256M`; ValueError if `text` is not one."""
    if not isinstance(text, str) or not _SIZE.match(text):
        raise ValueError(text)
    return int(text[:-1]) * _UNITS[text[-1].upper()]


def format_size(n: int) -> str:
    """The shortest exact K/M/G/T spelling of `n` bytes (`n` a multiple of 1K), else bytes."""
    for unit in ("T", "G", "M", "K"):
        if n and n % _UNITS[unit] == 0:
            return f"{n // _UNITS[unit]}{unit}"
    return str(n)


def size_arg(text: str, what: str, minimum: int, maximum: int, multiple: int = 1) -> int:
    """A command-line size in bytes: `what` names the option or value in the error. LwjvmError if
    it is not a size, or is below `minimum`, above `maximum`, or not a multiple of `multiple`."""
    try:
        n = parse_size(text)
    except ValueError:
        raise LwjvmError(f"bad {what} {text!r}: expected {EXPECTED}") from None
    if n < minimum:
        raise LwjvmError(f"bad {what} {text!r}: at least {format_size(minimum)}")
    if n > maximum:
        raise LwjvmError(f"bad {what} {text!r}: at most {format_size(maximum)}")
    if n % multiple:
        raise LwjvmError(f"bad {what} {text!r}: must be a multiple of {format_size(multiple)}")
    return n
