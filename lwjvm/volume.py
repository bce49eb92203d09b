"""Data volumes on the host: `lwjvm volume create|ls|check|rm`. A volume is one file,
STATE/volumes/NAME.vol, in lwjvm's own format (docs/volume-format.md); everything that reads or
writes the format goes through volfs-tool, built by `make kernel` from the kernel's own volfs
sources (kernel/tools/volfs_tool.c), so the host never re-implements it."""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from lwjvm.errors import LwjvmError
from lwjvm.state import check_name

_SIZE = re.compile(r"^(\d+)([KMGT]?)(i?B)?$", re.IGNORECASE)
MIN_SIZE = 1 << 20


def parse_size(text: str) -> int:
    """A volume size such as 64M or 1G, in bytes (a multiple of 4 KiB, at least 1M)."""
    m = _SIZE.match(text.strip())
    if not m:
        raise LwjvmError(f"bad volume size {text!r}: expected a size like 64M or 1G")
    unit = m.group(2).upper()
    size = int(m.group(1)) << {"": 0, "K": 10, "M": 20, "G": 30, "T": 40}[unit]
    if size < MIN_SIZE:
        raise LwjvmError(f"bad volume size {text!r}: at least 1M")
    if size % 4096:
        raise LwjvmError(f"bad volume size {text!r}: must be a multiple of 4K")
    return size


def find_tool() -> Path:
    """$LWJVM_VOLFS_TOOL, else kernel/build/volfs-tool of the source tree."""
    env = os.environ.get("LWJVM_VOLFS_TOOL")
    if env:
        return Path(env)
    from lwjvm.vm import repo_root

    p = repo_root() / "kernel" / "build" / "volfs-tool"
    if not p.is_file():
        raise LwjvmError(f"volfs-tool not built ({p} missing): run make kernel")
    return p


def _tool(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(find_tool()), *args], capture_output=True, text=True)
    if r.returncode not in ok:
        msg = r.stderr.strip().splitlines()
        raise LwjvmError(msg[-1].removeprefix("volfs-tool: ") if msg else f"volfs-tool {args[0]}")
    return r


def _fields(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(" ")
        out[key] = int(value)
    return out


def volumes_dir(root: Path) -> Path:
    return root / "volumes"


def volume_path(root: Path, name: str) -> Path:
    return volumes_dir(root) / f"{check_name(name)}.vol"


def _existing(root: Path, name: str) -> Path:
    p = volume_path(root, name)
    if not p.is_file():
        raise LwjvmError(f"no volume named {name} (see lwjvm volume ls)")
    return p


def create(root: Path, name: str, size: int) -> Path:
    """Creates an empty volume; LwjvmError if one of that name exists."""
    p = volume_path(root, name)
    if p.exists():
        raise LwjvmError(f"volume {name} already exists ({p})")
    p.parent.mkdir(parents=True, exist_ok=True)
    _tool("format", str(p), str(size), name)
    return p


@dataclass
class VolumeInfo:
    name: str
    size: int
    used: int
    txg: int


def ensure(root: Path, name: str, size: int) -> Path:
    """The volume file of `name`, created with `size` on first use (a manifest's `volumes:`)."""
    p = volume_path(root, name)
    return p if p.is_file() else create(root, name, size)


def attach(root: Path, volumes: list[dict[str, object]]) -> tuple[list[Path], list[str]]:
    """For an image descriptor's `vm.volumes`: the disk files to attach and the kernel command
    line words that mount them (the kernel mounts one volume, at lwjvm.volume=PATH)."""
    disks, words = [], []
    for v in volumes:
        disks.append(ensure(root, str(v["name"]), int(str(v["size"]))))
        words.append(f"lwjvm.volume={v['mount']}")
    return disks, words


def info(root: Path, name: str) -> VolumeInfo:
    f = _fields(_tool("info", str(_existing(root, name))).stdout)
    return VolumeInfo(name, f["size"], f["used"], f["txg"])


def list_volumes(root: Path) -> list[VolumeInfo]:
    d = volumes_dir(root)
    if not d.is_dir():
        return []
    return [info(root, p.stem) for p in sorted(d.glob("*.vol"))]


@dataclass
class CheckReport:
    txg: int
    blocks: int
    bad: int
    repaired: int
    unrecoverable: int

    @property
    def sound(self) -> bool:
        return self.unrecoverable == 0 and self.bad <= self.repaired


def check(root: Path, name: str, repair: bool) -> CheckReport:
    """Verifies every copy of every block (read-only unless repair: then bad copies are rewritten
    from their good ditto copies)."""
    args = ["check", str(_existing(root, name))] + (["--repair"] if repair else [])
    f = _fields(_tool(*args, ok=(0, 1)).stdout)
    return CheckReport(f["txg"], f["blocks"], f["bad"], f["repaired"], f["unrecoverable"])


def remove(root: Path, name: str) -> None:
    _existing(root, name).unlink()


def human(n: int) -> str:
    """Bytes as 1G, 64M, 1.5M, 4096."""
    value = float(n)
    for unit in ("", "K", "M", "G"):
        if value < 1024:
            return f"{value:.0f}{unit}" if value.is_integer() else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.0f}T" if value.is_integer() else f"{value:.1f}T"
