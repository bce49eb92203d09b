"""Host ELF programs: check that a file can run in the guest and find what it needs from the host.

`check_program` accepts ELF64 little-endian x86_64 executables (ET_EXEC or ET_DYN, which covers
PIE and static-PIE) and explains in one line why anything else is refused. `dependencies` lists the
files a dynamically linked program loads (its PT_INTERP and the libraries `ldd` reports), each with
the chain of symlinks that leads to it on the host, so the image can hold them at the same paths.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from lwjvm.errors import LwjvmError

EM_X86_64 = 62
ET_NAMES = {0: "ET_NONE", 1: "ET_REL, an object file", 2: "ET_EXEC", 3: "ET_DYN", 4: "ET_CORE"}
PT_INTERP = 3
PT_DYNAMIC = 2


@dataclass(frozen=True)
class ElfProgram:
    """What lwjvm needs to know about a program: its type, interpreter and whether it is dynamic."""

    path: Path
    elf_type: int
    entry: int
    interp: str | None
    dynamic: bool


def check_program(path: Path) -> ElfProgram:
    """Reads `path`'s ELF headers; raises LwjvmError unless it is an x86_64 ELF64 executable."""
    try:
        with open(path, "rb") as f:
            data = f.read(64)
            if len(data) < 4 or data[:4] != b"\x7fELF":
                raise LwjvmError(f"{path}: not an ELF file")
            if len(data) < 64:
                raise LwjvmError(f"{path}: truncated ELF header")
            if data[4] != 2:
                bits = "32-bit" if data[4] == 1 else f"class {data[4]}"
                raise LwjvmError(f"{path}: not a 64-bit ELF ({bits})")
            if data[5] != 1:
                raise LwjvmError(f"{path}: not a little-endian ELF")
            e_type, e_machine = struct.unpack_from("<HH", data, 16)
            if e_machine != EM_X86_64:
                raise LwjvmError(f"{path}: not an x86_64 program (ELF machine {e_machine})")
            if e_type not in (2, 3):
                name = ET_NAMES.get(e_type, str(e_type))
                raise LwjvmError(f"{path}: not an executable (ELF type {name})")
            (e_entry, e_phoff) = struct.unpack_from("<QQ", data, 24)
            e_phentsize, e_phnum = struct.unpack_from("<HH", data, 54)
            if e_phnum == 0 or e_phentsize < 56:
                raise LwjvmError(f"{path}: ELF has no program headers")
            size = os.fstat(f.fileno()).st_size  # offsets are checked before seeking: a huge one
            if e_phoff > size:  # is EINVAL to lseek, not a short read
                raise LwjvmError(f"{path}: corrupt ELF program headers (offsets out of range)")
            f.seek(e_phoff)
            table = f.read(e_phentsize * e_phnum)
            if len(table) < e_phentsize * e_phnum:
                raise LwjvmError(f"{path}: truncated ELF program headers")
            interp = None
            dynamic = False
            for i in range(e_phnum):
                p_type, _flags, p_offset, _va, _pa, p_filesz = struct.unpack_from(
                    "<IIQQQQ", table, i * e_phentsize
                )
                if p_type == PT_DYNAMIC:
                    dynamic = True
                elif p_type == PT_INTERP:
                    if p_offset > size:
                        raise LwjvmError(f"{path}: corrupt ELF program headers (PT_INTERP offset)")
                    f.seek(p_offset)
                    interp = f.read(min(p_filesz, 4096)).split(b"\0", 1)[0].decode(errors="replace")
    except (ValueError, OverflowError):  # an offset beyond what a file can have
        raise LwjvmError(f"{path}: corrupt ELF program headers (offsets out of range)") from None
    except FileNotFoundError:
        raise LwjvmError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise LwjvmError(f"{path}: is a directory, not a program") from None
    except PermissionError:
        raise LwjvmError(f"{path}: permission denied") from None
    return ElfProgram(path, e_type, e_entry, interp, dynamic and interp is not None)


@dataclass(frozen=True)
class HostFile:
    """A file the guest needs at `path`: the symlinks met on the way and the real file's path."""

    path: str
    links: list[tuple[str, str]] = field(default_factory=list)  # (link path, target as stored)
    real: str = ""


def resolve_chain(path: str) -> HostFile:
    """Resolves `path` on the host component by component, recording every symlink passed.

    Each recorded link's own directory is already fully resolved, so the links and `real` can be
    created in an image in order without writing through a symlink.
    """
    parts = deque(PurePosixPath(path).parts[1:])
    cur = PurePosixPath("/")
    links: list[tuple[str, str]] = []
    while parts:
        name = parts.popleft()
        if name in ("", "."):
            continue
        if name == "..":
            cur = cur.parent
            continue
        nxt = cur / name
        if os.path.islink(nxt):
            if len(links) >= 40:
                raise LwjvmError(f"{path}: too many levels of symbolic links")
            target = os.readlink(nxt)
            links.append((str(nxt), target))
            tp = PurePosixPath(target)
            if tp.is_absolute():
                cur = PurePosixPath("/")
                parts = deque(tp.parts[1:]) + parts
            else:
                parts = deque(tp.parts) + parts
        else:
            cur = nxt
    if not os.path.isfile(cur):
        raise LwjvmError(f"{path}: not a regular file on the host")
    return HostFile(path, links, str(cur))


_LDD_ARROW = re.compile(r"^\s*(\S+) => (.*?) \(0x[0-9a-f]+\)\s*$")
_LDD_PLAIN = re.compile(r"^\s*(/\S+) \(0x[0-9a-f]+\)\s*$")


def parse_ldd(output: str) -> list[str]:
    """The library paths in `ldd` output (not the vDSO); raises LwjvmError on 'not found'."""
    paths: list[str] = []
    for line in output.splitlines():
        m = _LDD_ARROW.match(line)
        if m:
            if m.group(2).strip() == "":
                continue  # linux-vdso.so.1 =>  (0x...) on old glibc
            paths.append(m.group(2).strip())
            continue
        if "=> not found" in line:
            lib = line.split("=>")[0].strip()
            raise LwjvmError(f"library {lib} not found on the host (ldd)")
        m = _LDD_PLAIN.match(line)
        if m:
            paths.append(m.group(1))
    return paths


def dependencies(prog: ElfProgram) -> list[HostFile]:
    """The interpreter and shared libraries of a dynamic program (none for a static one)."""
    if prog.interp is None:
        return []
    ldd = shutil.which("ldd")
    if ldd is None:
        raise LwjvmError("ldd not found: install libc-bin")
    proc = subprocess.run([ldd, str(prog.path)], capture_output=True, text=True, errors="replace")
    if proc.returncode != 0:
        msg = (proc.stderr or proc.stdout).strip().splitlines()
        raise LwjvmError(f"ldd {prog.path} failed: {msg[-1] if msg else proc.returncode}")
    paths = parse_ldd(proc.stdout)
    if prog.interp not in paths:
        paths.insert(0, prog.interp)
    # glibc dlopens libgcc_s.so.1 for pthread_exit, pthread_cancel and backtrace(): ldd cannot see
    # that, so it comes along with libc wherever the host has it beside libc.
    for p in list(paths):
        if Path(p).name == "libc.so.6":
            gcc_s = Path(p).with_name("libgcc_s.so.1")
            if gcc_s.exists() and str(gcc_s) not in paths:
                paths.append(str(gcc_s))
    seen: set[str] = set()
    out: list[HostFile] = []
    for p in paths:
        if p not in seen:
            seen.add(p)
            _require_elf(p, prog.path)
            out.append(resolve_chain(p))
    return out


def _require_elf(path: str, program: Path) -> None:
    """Only ELF files go into the image as a program's interpreter or libraries: a crafted
    PT_INTERP naming a host file (/etc/shadow) must not copy it into the guest."""
    try:
        with open(path, "rb") as f:
            magic = f.read(4)
    except OSError as e:
        raise LwjvmError(f"{program}: cannot read its dependency {path}: {e.strerror}") from None
    if magic != b"\x7fELF":
        raise LwjvmError(f"{program}: its interpreter or library {path} is not an ELF file")
