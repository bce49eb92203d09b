"""Data volumes on the host: `lwjvm volume create|ls|check|rm|snapshot|rollback|clone|export|
import`. A volume is one file, STATE/volumes/NAME.vol, in lwjvm's own format
(docs/volume-format.md); everything that reads or writes the format goes through volfs-tool,
built by `make kernel` from the kernel's own volfs sources (kernel/tools/volfs_tool.c), so the
host never re-implements it.

Names: `NAME` is a volume (its own dataset, `root` inside the file), `NAME@SNAP` a snapshot of it,
`NAME/CLONE` a clone made inside the same file from one of its snapshots, `NAME/CLONE@SNAP` a
snapshot of the clone."""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import socket
import stat
import subprocess
import sys
import tarfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from lwjvm import sizes
from lwjvm.descriptor import Volume
from lwjvm.errors import LwjvmError
from lwjvm.state import check_name

MIN_SIZE = 1 << 20


def parse_size(text: str) -> int:
    """A volume size (lwjvm/sizes.py: 64M, 1G) in bytes: at least 1M, a multiple of 4K."""
    return sizes.size_arg(text, "volume size", MIN_SIZE, 1 << 50, 4096)


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


IN_USE = 3  # volfs-tool's exit code: a VM has the volume attached (QEMU's image lock)


class VolumeInUse(LwjvmError):
    """The volume is attached to a running VM."""


def _tool_error(args: tuple[str, ...] | list[str], code: int, stderr: str) -> LwjvmError:
    msg = stderr.strip().splitlines()
    text = msg[-1].removeprefix("volfs-tool: ") if msg else f"volfs-tool {args[0]} failed"
    if code == IN_USE:
        name = Path(args[1]).stem
        return VolumeInUse(f"volume {name} is in use by a running VM: stop it first")
    return LwjvmError(text)


def _tool(*args: str, ok: tuple[int, ...] = (0,)) -> subprocess.CompletedProcess[str]:
    r = subprocess.run([str(find_tool()), *args], capture_output=True, text=True)
    if r.returncode not in ok:
        raise _tool_error(args, r.returncode, r.stderr)
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


def attach(root: Path, volumes: list[Volume]) -> tuple[list[Path], list[str]]:
    """For an image descriptor's `vm.volumes`: the disk files to attach and the kernel command
    line words that mount them (the kernel mounts one volume, at lwjvm.volume=PATH; a clone
    NAME/CLONE is dataset CLONE of volume NAME, lwjvm.volume_dataset=CLONE, made beforehand by
    lwjvm volume clone). A volume is created with its size on first use; LwjvmError if an
    existing one has another size (a clone's size is its volume's)."""
    disks, words = [], []
    for v in volumes:
        vol, ds = split_name(v.name)
        if ds == ROOT_DS:
            disks.append(ensure(root, vol, v.size))
            have = info(root, vol).size
            if have != v.size:
                raise LwjvmError(
                    f"volume {vol} is {human(have)} and the manifest's volumes size says "
                    f"{human(v.size)}: lwjvm does not resize volumes (make the sizes agree, or "
                    f"lwjvm volume rm {vol} to start it again empty)"
                )
        else:
            if "@" in ds:
                raise LwjvmError(f"volume {v.name}: a snapshot is read-only: mount a clone")
            disks.append(_existing(root, vol))
            if not any(d.name == v.name for d in datasets(root, vol)):
                raise LwjvmError(f"volume {vol} has no clone {ds} (lwjvm volume clone "
                                 f"{vol}@SNAP {v.name})")  # fmt: skip
            words.append(f"lwjvm.volume_dataset={ds}")
        words.append(f"lwjvm.volume={v.mount}")
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
    unmarked: int = 0  # blocks in use the space map had free (marked in use by --repair)
    repair: bool = False

    @property
    def sound(self) -> bool:
        marks = self.unmarked == 0 or self.repair
        return self.unrecoverable == 0 and self.bad <= self.repaired and marks


def check(root: Path, name: str, repair: bool) -> CheckReport:
    """Verifies every copy of every block (read-only unless repair: then bad copies are rewritten
    from their good ditto copies)."""
    args = ["check", str(_existing(root, name))] + (["--repair"] if repair else [])
    f = _fields(_tool(*args, ok=(0, 1)).stdout)
    return CheckReport(f["txg"], f["blocks"], f["bad"], f["repaired"], f["unrecoverable"],
                       f.get("unmarked", 0), repair)  # fmt: skip


def remove(root: Path, name: str) -> None:
    """Removes a volume file (refused while a VM has it attached), or with NAME@SNAP, NAME/CLONE
    a snapshot or clone inside it."""
    vol, ds = split_name(name)
    path = _existing(root, vol)
    if ds != ROOT_DS:
        _change(vol, "destroy", str(path), ds)
        return
    import fcntl

    with path.open("r+b") as f:  # held while unlinking: no VM attaches it meanwhile
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 200, 100)
        except OSError:
            raise VolumeInUse(f"volume {vol} is in use by a running VM: stop it first") from None
        path.unlink()


# ---------------------------------------------------------------------------------------------
# Datasets: snapshots and clones inside a volume file

ROOT_DS = "root"  # the volume's own dataset inside its file
_PART = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def split_name(spec: str) -> tuple[str, str]:
    """`NAME[/CLONE][@SNAP]` as (volume name, dataset inside its file)."""
    head, at, snap = spec.partition("@")
    vol, slash, clone = head.partition("/")
    check_name(vol)
    for part, what in ((clone, "clone"), (snap, "snapshot")):
        if (slash if what == "clone" else at) and not _PART.match(part):
            raise LwjvmError(
                f"bad {what} name {part!r} in {spec!r}: expected letters, digits, '.', '_' or "
                "'-', starting with a letter or digit"
            )
    ds = (clone if slash else ROOT_DS) + (f"@{snap}" if at else "")
    if len(ds) > 43:
        raise LwjvmError(f"name too long: {spec!r} (a dataset and snapshot name of 43 bytes)")
    return vol, ds


def display_name(vol: str, ds: str) -> str:
    """The user's name of dataset `ds` of volume `vol` (split_name's inverse)."""
    head, at, snap = ds.partition("@")
    base = vol if head == ROOT_DS else f"{vol}/{head}"
    return f"{base}@{snap}" if at else base


@dataclass
class DatasetInfo:
    name: str  # as the user writes it: data, data@snap, data/clone
    snapshot: bool
    txg: int  # created in
    refer: int  # bytes of every block copy it reaches
    written: int  # bytes born since its previous snapshot (or its clone origin)
    unique: int  # bytes no other dataset reaches: what removing it would free


def _change(vol: str, op: str, *args: str) -> None:
    """Runs a volfs-tool dataset change; its error names the dataset as the user does."""
    try:
        _tool(op, *args)
    except VolumeInUse:
        raise
    except LwjvmError as e:
        ds, _, reason = str(e).partition(": ")[2].partition(": ")
        if not reason:
            raise
        raise LwjvmError(f"{display_name(vol, ds)}: {reason}") from None


def datasets(root: Path, name: str) -> list[DatasetInfo]:
    """The datasets of volume `name`: its own, its snapshots, its clones and theirs."""
    out = []
    for line in _tool("list", str(_existing(root, name))).stdout.splitlines():
        ds, snap, txg, _floor, refer, written, unique = line.split()
        out.append(DatasetInfo(display_name(name, ds), snap == "1", int(txg), int(refer),
                               int(written), int(unique)))  # fmt: skip
    return out


def snapshot(root: Path, spec: str) -> int | None:
    """Takes snapshot NAME@SNAP (constant time). Of a volume a VM uses, through the VM: the
    guest commits its open transaction group and records the snapshot itself (the process
    running the VM relays the request, ControlServer); returns the snapshot's txg then."""
    vol, ds = split_name(spec)
    base, at, snap = ds.partition("@")
    if not at:
        raise LwjvmError(f"a snapshot is named NAME@SNAP, not {spec!r}")
    path = _existing(root, vol)
    try:
        _change(vol, "snapshot", str(path), base, snap)
        return None
    except VolumeInUse as busy:
        try:
            return request_snapshot(path, ds)
        except (ConnectionRefusedError, FileNotFoundError):
            raise busy from None


# ---------------------------------------------------------------------------------------------
# FUSE: a dataset mounted read-only on the host (kernel/tools/volfs_fuse.c)


def find_fuse() -> Path:
    """$LWJVM_VOLFS_FUSE, else volfs-fuse beside volfs-tool (make kernel builds it when libfuse 3
    is installed, as make setup does)."""
    env = os.environ.get("LWJVM_VOLFS_FUSE")
    p = Path(env) if env else find_tool().parent / "volfs-fuse"
    if not p.is_file():
        raise LwjvmError(f"volfs-fuse not built ({p} missing): run make setup and make kernel")
    return p


def mount(root: Path, spec: str, where: Path) -> None:
    """Mounts NAME, NAME@SNAP or NAME/CLONE read-only at directory `where` (made if missing);
    returns once it is mounted. A volume a VM uses can be mounted: what the VM commits later is
    not seen (mount a snapshot for a stable view)."""
    vol, ds = split_name(spec)
    path = _existing(root, vol)
    if display_name(vol, ds) not in {d.name for d in datasets(root, vol)}:
        raise LwjvmError(f"{display_name(vol, ds)}: does not exist")
    if not Path("/dev/fuse").exists():
        raise LwjvmError("cannot mount: this host has no /dev/fuse")
    where.mkdir(parents=True, exist_ok=True)
    if os.path.ismount(where):
        raise LwjvmError(f"{where} is already a mount point")
    r = subprocess.run([str(find_fuse()), str(path), ds, str(where)], capture_output=True,
                       text=True)  # fmt: skip
    if r.returncode != 0:
        msg = r.stderr.strip().splitlines()
        raise LwjvmError(msg[-1].removeprefix("volfs-fuse: ") if msg else "volfs-fuse failed")


def unmount(where: Path) -> None:
    """Unmounts what `lwjvm volume mount` mounted at `where`."""
    if not os.path.ismount(where):
        raise LwjvmError(f"{where} is not a mount point")
    why = "neither fusermount3 nor umount is installed"
    for cmd in (["fusermount3", "-u", str(where)], ["umount", str(where)]):
        try:
            r = subprocess.run(cmd, capture_output=True, text=True)
        except FileNotFoundError:
            continue
        if r.returncode == 0:
            return
        why = r.stderr.strip() or f"{cmd[0]} failed"
    raise LwjvmError(f"cannot unmount {where}: {why}")


# ---------------------------------------------------------------------------------------------
# A volume in use: requests relayed to the guest by the process running its VM

SNAPSHOT_TIMEOUT_S = 300.0  # a commit of a large open txg under TCG on a loaded host
_GUEST_ERRORS = {
    errno.EEXIST: "already exists",
    errno.ENOENT: "does not exist",
    errno.ENAMETOOLONG: "name too long (43 bytes in all)",
    errno.EINVAL: "bad name",
    errno.ENOSPC: "the volume is full",
    errno.EROFS: "the volume is read-only in the VM",
    errno.EIO: "the VM's volume failed an I/O (see its kernel log)",
    errno.ENXIO: "the VM has not mounted the volume (yet)",
    errno.EBUSY: "the VM is taking another snapshot",
}


def control_address(path: Path) -> bytes:
    """The abstract unix socket where the process running a VM with volume file `path` attached
    takes requests for it (abstract: no file to clean up, no path length limit)."""
    digest = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:32]
    return b"\0lwjvm-volume-" + digest.encode()


def request_snapshot(path: Path, ds: str) -> int:
    """Asks the VM using volume file `path` to snapshot `ds` (DS@SNAP); returns its txg.
    ConnectionRefusedError when no lwjvm process serves the volume."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.connect(control_address(path))
        s.settimeout(SNAPSHOT_TIMEOUT_S + 10)
        s.sendall(f"snapshot {ds}\n".encode())
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = s.recv(256)
            if not chunk:
                break
            reply += chunk
    words = dict(w.partition("=")[::2] for w in reply.decode(errors="replace").split()[1:])
    name = display_name(path.stem, ds)
    if reply.startswith(b"ok "):
        return int(words.get("txg", "0"))
    if reply.startswith(b"error "):
        code = int(words.get("errno", "5"))
        raise LwjvmError(f"{name}: {_GUEST_ERRORS.get(code, os.strerror(code))}")
    raise LwjvmError(f"{name}: the VM stopped before it answered")


class ControlServer:
    """Relays snapshot requests for the volume a VM has attached (its first disk) to the guest:
    a thread accepts on control_address(disk), sends the kernel `lwjvm:volume op=snapshot id=N
    name=DS@SNAP` on COM3 with `send`, and answers with the kernel's `lwjvm:volume id=N rc=E
    txg=T` record, which the VM loop hands to `record`. One request at a time."""

    def __init__(self, disk: Path, send: Callable[[bytes], None]) -> None:
        self.send = send
        self.sock: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            self.sock.bind(control_address(disk))
            self.sock.listen(4)
        except OSError:  # another process serves it (QEMU will refuse the disk anyway)
            self.sock.close()
            self.sock = None
            return
        self.next_id = 1
        self.answers: dict[int, tuple[int, int]] = {}
        self.cond = threading.Condition()
        self.closed = False
        threading.Thread(target=self._serve, name="volume-control", daemon=True).start()

    def record(self, fields: dict[str, str]) -> None:
        """A `lwjvm:volume` record from the kernel log."""
        try:
            ident, rc, txg = int(fields["id"]), int(fields["rc"]), int(fields.get("txg", "0"))
        except (KeyError, ValueError):
            return
        with self.cond:
            self.answers[ident] = (rc, txg)
            self.cond.notify_all()

    def close(self) -> None:
        with self.cond:
            self.closed = True
            self.cond.notify_all()
        if self.sock is not None:
            with contextlib.suppress(OSError):
                self.sock.shutdown(socket.SHUT_RDWR)
            self.sock.close()

    def _serve(self) -> None:
        assert self.sock is not None
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return  # closed
            with conn:
                with contextlib.suppress(OSError):
                    self._one(conn)

    def _one(self, conn: socket.socket) -> None:
        conn.settimeout(5)
        line = b""
        while not line.endswith(b"\n") and len(line) < 256:
            chunk = conn.recv(256)
            if not chunk:
                return
            line += chunk
        op, _, name = line.decode(errors="replace").strip().partition(" ")
        if op != "snapshot" or not re.fullmatch(r"[A-Za-z0-9._-]+@[A-Za-z0-9._-]+", name):
            conn.sendall(b"error errno=22\n")
            return
        with self.cond:
            ident = self.next_id
            self.next_id += 1
        self.send(f"lwjvm:volume op=snapshot id={ident} name={name}\n".encode())
        with self.cond:
            self.cond.wait_for(lambda: ident in self.answers or self.closed, SNAPSHOT_TIMEOUT_S)
            answer = self.answers.pop(ident, None)
        if answer is None:
            return  # the VM stopped (or never answered): the client reports it
        rc, txg = answer
        conn.sendall(f"ok txg={txg}\n".encode() if rc == 0 else f"error errno={-rc}\n".encode())


def rollback(root: Path, spec: str) -> None:
    """Makes NAME what it was at its newest snapshot NAME@SNAP."""
    vol, ds = split_name(spec)
    if "@" not in ds:
        raise LwjvmError(f"rollback takes a snapshot, NAME@SNAP, not {spec!r}")
    _change(vol, "rollback", str(_existing(root, vol)), ds)


def clone(root: Path, spec: str, new: str) -> None:
    """Makes clone NAME/CLONE of snapshot NAME@SNAP (constant time), in the same volume file."""
    vol, ds = split_name(spec)
    nvol, nds = split_name(new)
    if "@" not in ds:
        raise LwjvmError(f"clone takes a snapshot, NAME@SNAP, not {spec!r}")
    if nvol != vol or nds == ROOT_DS or "@" in nds:
        raise LwjvmError(f"a clone of {spec} is named {vol}/CLONE (it lives in volume {vol})")
    _change(vol, "clone", str(_existing(root, vol)), ds, nds)


# ---------------------------------------------------------------------------------------------
# Export and import: volfs-tool's record stream (kernel/tools/volfs_tool.c) as tar or a directory


@dataclass
class Record:
    kind: str  # D directory, F file, L symlink, H hard link
    mode: int
    mtime_ns: int
    path: str
    size: int  # F: content bytes; L and H: their target's in `target`
    target: str = ""


class _Bounded:
    """Reads exactly `n` bytes of `f` (a file's contents in the stream)."""

    def __init__(self, f: IO[bytes], n: int) -> None:
        self.f, self.left = f, n

    def read(self, size: int = -1) -> bytes:
        if self.left <= 0:
            return b""
        size = self.left if size < 0 else min(size, self.left)
        data = self.f.read(size)
        if not data:
            raise LwjvmError("the volume's export stream ended in the middle of a file")
        self.left -= len(data)
        return data

    def drain(self) -> None:
        while self.read(1 << 16):
            pass


def _records(f: IO[bytes]) -> Iterator[tuple[Record, _Bounded]]:
    while True:
        line = f.readline()
        if not line:
            return
        kind, mode, mtime, size, plen = line.decode().split()
        path = f.read(int(plen)).decode("utf-8", "surrogateescape")
        rec = Record(kind, int(mode, 8), int(mtime), path, int(size))
        body = _Bounded(f, rec.size)
        if kind in "LH":
            rec.target = body.read().decode("utf-8", "surrogateescape")
        yield rec, body
        body.drain()


def _write_dir(recs: Iterator[tuple[Record, _Bounded]], dest: Path) -> int:
    """Creates the records under dest (which must be empty or absent); returns files written."""
    if dest.exists() and (not dest.is_dir() or any(dest.iterdir())):
        raise LwjvmError(f"{dest} exists and is not an empty directory")
    dest.mkdir(parents=True, exist_ok=True)
    dirs: list[tuple[Path, Record]] = []
    n = 0
    for rec, body in recs:
        parts = rec.path.split("/")
        if any(p in ("", ".", "..") for p in parts):
            raise LwjvmError(f"the volume holds a bad path {rec.path!r}")
        out = dest.joinpath(*parts)
        parent = out.parent
        if parent != dest and (parent.is_symlink() or not parent.is_dir()):
            raise LwjvmError(f"{rec.path}: its directory is not one in {dest}")
        if rec.kind == "D":
            out.mkdir()
            dirs.append((out, rec))
        elif rec.kind == "L":
            os.symlink(rec.target, out)
        elif rec.kind == "H":
            os.link(dest.joinpath(*rec.target.split("/")), out, follow_symlinks=False)
        else:
            fd = os.open(out, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
            with os.fdopen(fd, "wb") as w:
                while chunk := body.read(1 << 16):
                    w.write(chunk)
            os.chmod(out, rec.mode & 0o7777)
            os.utime(out, ns=(rec.mtime_ns, rec.mtime_ns))
            n += 1
    for d, rec in reversed(dirs):  # after their contents changed them
        os.chmod(d, rec.mode & 0o7777)
        os.utime(d, ns=(rec.mtime_ns, rec.mtime_ns))
    return n


def _write_tar(recs: Iterator[tuple[Record, _Bounded]], out: BinaryIO) -> int:
    n = 0
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        for rec, body in recs:
            info = tarfile.TarInfo(rec.path)
            info.mode = rec.mode & 0o7777
            info.mtime = rec.mtime_ns // 1_000_000_000
            info.type = {"D": tarfile.DIRTYPE, "F": tarfile.REGTYPE, "L": tarfile.SYMTYPE,
                         "H": tarfile.LNKTYPE}[rec.kind]  # fmt: skip
            if rec.kind in "LH":
                info.linkname = rec.target
            if rec.kind == "F":
                info.size = rec.size
                tar.addfile(info, body)  # type: ignore[arg-type]
                n += 1
            else:
                tar.addfile(info)
    return n


def export(root: Path, spec: str, dest: str, out: BinaryIO | None = None) -> int:
    """Writes the tree of NAME, NAME@SNAP or NAME/CLONE into directory `dest`, or as a tar
    stream to `out` (default: our stdout) when dest is "-". Returns the files written. A volume
    a VM uses is exported from a snapshot only: its live tree changes meanwhile."""
    vol, ds = split_name(spec)
    path = _existing(root, vol)
    if "@" not in ds and _attached(path):
        raise VolumeInUse(
            f"volume {vol} is in use by a running VM: export a snapshot of it "
            f"(lwjvm volume snapshot {spec}@NAME)"
        )
    proc = subprocess.Popen([str(find_tool()), "export", str(path), ds],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdout is not None and proc.stderr is not None
    try:
        recs = _records(proc.stdout)
        if dest == "-":
            n = _write_tar(recs, out if out is not None else sys.stdout.buffer)
        else:
            n = _write_dir(recs, Path(dest))
    except BaseException:
        proc.kill()
        proc.wait()
        err = proc.stderr.read().decode(errors="replace")
        if proc.returncode not in (0, -9) and err:
            raise _tool_error(["export", str(path)], proc.returncode, err) from None
        raise
    err = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise _tool_error(["export", str(path)], proc.returncode, err)
    return n


def _attached(path: Path) -> bool:
    """Whether a VM has the volume file attached: QEMU's image locking holds shared locks on
    bytes 100..299 of it, so an exclusive lock there is refused (volfs-tool takes the same)."""
    import fcntl

    with path.open("r+b") as f:
        try:
            fcntl.lockf(f, fcntl.LOCK_EX | fcntl.LOCK_NB, 200, 100)
        except OSError:
            return True
        fcntl.lockf(f, fcntl.LOCK_UN, 200, 100)
    return False


def _header(kind: str, mode: int, mtime_ns: int, size: int, path: str) -> bytes:
    p = path.encode("utf-8", "surrogateescape")
    return f"{kind} {mode & 0o7777:o} {mtime_ns} {size} {len(p)}\n".encode() + p


def _clean(name: str) -> str:
    """A tar member's path, relative, without . components; LwjvmError for one leaving the tree."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if name.startswith("/") or ".." in parts:
        raise LwjvmError(f"the archive holds a path outside its tree: {name!r}")
    return "/".join(parts)


def _from_tar(src: BinaryIO, emit: Callable[[bytes], None], warn: Callable[[str], None]) -> int:
    n = 0
    with tarfile.open(fileobj=src, mode="r|*") as tar:
        for m in tar:
            path = _clean(m.name)
            if not path:
                continue
            mtime = int(m.mtime) * 1_000_000_000
            if m.isdir():
                emit(_header("D", m.mode, mtime, 0, path))
            elif m.issym() or m.islnk():
                target = m.linkname if m.issym() else _clean(m.linkname)
                t = target.encode("utf-8", "surrogateescape")
                emit(_header("L" if m.issym() else "H", m.mode, mtime, len(t), path) + t)
            elif m.isfile():
                emit(_header("F", m.mode, mtime, m.size, path))
                f = tar.extractfile(m)
                assert f is not None
                while chunk := f.read(1 << 16):
                    emit(chunk)
                n += 1
            else:
                warn(f"{path}: not a file, directory or link: left out")
    return n


def _from_dir(src: Path, emit: Callable[[bytes], None], warn: Callable[[str], None]) -> int:
    if not src.is_dir():
        raise LwjvmError(f"{src} is not a directory")
    n = 0
    inodes: dict[tuple[int, int], str] = {}

    def walk(d: Path, rel: str) -> None:
        nonlocal n
        for entry in sorted(os.scandir(d), key=lambda e: e.name):
            path = f"{rel}{entry.name}"
            st = entry.stat(follow_symlinks=False)
            if stat.S_ISDIR(st.st_mode):
                emit(_header("D", st.st_mode, st.st_mtime_ns, 0, path))
                walk(Path(entry.path), path + "/")
            elif stat.S_ISLNK(st.st_mode):
                t = os.readlink(entry.path).encode("utf-8", "surrogateescape")
                emit(_header("L", st.st_mode, st.st_mtime_ns, len(t), path) + t)
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in inodes:
                    t = inodes[key].encode("utf-8", "surrogateescape")
                    emit(_header("H", st.st_mode, st.st_mtime_ns, len(t), path) + t)
                    continue
                inodes[key] = path
                with open(entry.path, "rb") as f:
                    size = os.fstat(f.fileno()).st_size
                    emit(_header("F", st.st_mode, st.st_mtime_ns, size, path))
                    left = size
                    while left > 0:
                        chunk = f.read(min(left, 1 << 16))
                        if not chunk:
                            raise LwjvmError(f"{entry.path} shrank while it was read")
                        emit(chunk)
                        left -= len(chunk)
                n += 1
            else:
                warn(f"{path}: not a file, directory or link: left out")

    walk(src, "")
    return n


def import_(
    root: Path,
    spec: str,
    src: str,
    size: int | None = None,
    stdin: BinaryIO | None = None,
    warn: Callable[[str], None] = lambda m: None,
) -> int:
    """Copies directory `src` (or a tar stream on stdin when src is "-") into NAME or NAME/CLONE;
    NAME is created first (with `size`, default 1G; the file is sparse) if it does not exist.
    Entries already there are replaced. Returns the files imported."""
    vol, ds = split_name(spec)
    if "@" in ds:
        raise LwjvmError(f"cannot import into a snapshot ({spec}): snapshots are read-only")
    if src != "-" and not Path(src).is_dir():
        raise LwjvmError(f"{src} is not a directory (or - for a tar stream on stdin)")
    path = volume_path(root, vol)
    if not path.is_file():
        if ds != ROOT_DS:
            raise LwjvmError(f"no volume named {vol} (see lwjvm volume ls)")
        create(root, vol, size if size is not None else 1 << 30)
    proc = subprocess.Popen([str(find_tool()), "import", str(path), ds],
                            stdin=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    assert proc.stdin is not None and proc.stderr is not None
    pipe = proc.stdin

    def emit(data: bytes) -> None:
        pipe.write(data)

    n = 0
    try:
        with contextlib.suppress(BrokenPipeError):  # the tool stopped: its stderr says why
            if src == "-":
                n = _from_tar(stdin if stdin is not None else sys.stdin.buffer, emit, warn)
            else:
                n = _from_dir(Path(src), emit, warn)
            pipe.close()
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    err = proc.stderr.read().decode(errors="replace")
    if proc.wait() != 0:
        raise _tool_error(["import", str(path)], proc.returncode, err)
    return n


def human(n: int) -> str:
    """Bytes as 1G, 64M, 1.5M, 4096."""
    value = float(n)
    for unit in ("", "K", "M", "G"):
        if value < 1024:
            return f"{value:.0f}{unit}" if value.is_integer() else f"{value:.1f}{unit}"
        value /= 1024
    return f"{value:.0f}T" if value.is_integer() else f"{value:.1f}T"
