"""The root image: a deterministic ext4 filesystem built from a staging directory.

docs/protocol.md (section 1) is the contract. A `Staging` directory is filled with the files the
guest needs (`stage_file`, `stage_bytes`, `stage_symlink`, `stage_tree`); `build_image` turns it
into an ext4 image with `mke2fs -d`, then pins every inode's times and owner with `debugfs -w`
(mke2fs copies ctime, atime and the owner from the staging files, which a caller cannot fix).
Same staged content and the same `SOURCE_DATE_EPOCH` give the same image bytes.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from lwjvm.errors import LwjvmError

BLOCK_SIZE = 4096
INODE_SIZE = 256
# Fixed so that two builds of the same content are byte-identical (UUID and directory hash seed).
FIXED_UUID = "6c776a76-6d00-4000-8000-000000000001"
FIXED_HASH_SEED = "6c776a76-6d00-4000-8000-000000000002"
# e2fsprogs takes a fake time of 0 as "not set" and uses the clock, so the default epoch is 1.
DEFAULT_EPOCH = 1

# mke2fs reads its defaults from /etc/mke2fs.conf; we give it our own so the feature set does not
# depend on the host. These are Debian 12's ext4 defaults without the journal (documented in
# docs/protocol.md section 1; the kernel's ext4 reader relies on this list).
FEATURES = (
    "sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr,"
    "extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize"
)
_MKE2FS_CONF = f"""[defaults]
\tbase_features = sparse_super,large_file,filetype,resize_inode,dir_index,ext_attr
\tdefault_mntopts = acl,user_xattr
\tenable_periodic_fsck = 0
\tblocksize = {BLOCK_SIZE}
\tinode_size = {INODE_SIZE}
\tinode_ratio = 16384
\treserved_ratio = 0

[fs_types]
\text4 = {{
\t\tfeatures = extent,huge_file,flex_bg,metadata_csum,64bit,dir_nlink,extra_isize
\t}}
"""


MIN_IMAGE_FILE = 2 << 20


def source_date_epoch() -> int:
    """The image timestamp: $SOURCE_DATE_EPOCH if set (and >= 1), else DEFAULT_EPOCH."""
    raw = os.environ.get("SOURCE_DATE_EPOCH", "")
    if not raw:
        return DEFAULT_EPOCH
    try:
        value = int(raw)
    except ValueError:
        raise LwjvmError(f"SOURCE_DATE_EPOCH must be an integer, got {raw!r}") from None
    return max(value, DEFAULT_EPOCH)


def _guest_rel(guest_path: str) -> PurePosixPath:
    """Checks an absolute guest path and returns it relative to the image root."""
    p = PurePosixPath(guest_path)
    if not p.is_absolute():
        raise LwjvmError(f"guest path must be absolute: {guest_path!r}")
    parts = [x for x in p.parts[1:] if x not in ("", ".")]
    if ".." in parts:
        raise LwjvmError(f"guest path must not contain '..': {guest_path!r}")
    for part in parts:
        if '"' in part or "\n" in part or "\0" in part:
            raise LwjvmError(f"guest path has a character the image cannot hold: {guest_path!r}")
    return PurePosixPath(*parts) if parts else PurePosixPath(".")


class Staging:
    """A directory tree that becomes the root image; paths given to its methods are guest paths."""

    def __init__(self, root: Path) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)

    def host_path(self, guest_path: str) -> Path:
        """The staging path that holds `guest_path`."""
        return self.root / _guest_rel(guest_path)

    def _no_links_above(self, guest_path: str) -> None:
        # Never write through a staged symlink: its target may be absolute (a host path).
        cur = self.root
        for part in _guest_rel(guest_path).parent.parts:
            cur = cur / part
            if cur.is_symlink():
                link = cur.relative_to(self.root)
                raise LwjvmError(f"cannot stage {guest_path}: /{link} is a symlink")

    def mkdir(self, guest_path: str) -> Path:
        """Creates a directory (and its parents) in the image; returns its staging path."""
        self._no_links_above(guest_path)
        dest = self.host_path(guest_path)
        if dest.is_symlink() or (dest.exists() and not dest.is_dir()):
            raise LwjvmError(f"{guest_path} is already in the image as a file")
        dest.mkdir(parents=True, exist_ok=True)
        return dest

    def _prepare(self, guest_path: str) -> Path:
        dest = self.host_path(guest_path)
        if dest == self.root:
            raise LwjvmError("cannot put a file at / in the image")
        self._no_links_above(guest_path)
        self.mkdir(str(PurePosixPath("/") / _guest_rel(guest_path).parent))
        if dest.is_symlink() or dest.is_file():
            dest.unlink()
        elif dest.exists():
            raise LwjvmError(f"{guest_path} is already in the image as a directory")
        return dest

    def stage_file(self, host: Path, guest_path: str) -> Path:
        """Copies regular file `host` (following symlinks) to `guest_path`; keeps its x bit."""
        try:
            st = host.stat()
        except OSError as e:
            raise LwjvmError(f"cannot read {host}: {e.strerror}") from None
        if not stat.S_ISREG(st.st_mode):
            raise LwjvmError(f"{host} is not a regular file")
        dest = self._prepare(guest_path)
        try:
            shutil.copyfile(host, dest)
        except OSError as e:
            raise LwjvmError(f"cannot copy {host} into the image: {e.strerror}") from None
        dest.chmod(0o755 if st.st_mode & 0o111 else 0o644)
        return dest

    def stage_bytes(self, data: bytes, guest_path: str, mode: int = 0o644) -> Path:
        """Writes `data` as the file `guest_path`."""
        dest = self._prepare(guest_path)
        dest.write_bytes(data)
        dest.chmod(mode)
        return dest

    def stage_symlink(self, target: str, guest_path: str) -> Path:
        """Creates the symlink `guest_path` -> `target` (target kept verbatim)."""
        dest = self._prepare(guest_path)
        os.symlink(target, dest)
        return dest

    def stage_tree(self, host: Path, guest_path: str) -> None:
        """Copies directory `host` to `guest_path`: files, directories and symlinks as they are."""
        if not host.is_dir():
            raise LwjvmError(f"{host} is not a directory")
        base = _guest_rel(guest_path)
        self.mkdir(guest_path)
        for dirpath, dirnames, filenames in os.walk(host):
            dirnames.sort()
            rel = Path(dirpath).relative_to(host)
            for name in sorted(dirnames) + sorted(filenames):
                src = Path(dirpath) / name
                guest = str(PurePosixPath("/") / base / PurePosixPath(*rel.parts, name))
                if src.is_symlink():
                    self.stage_symlink(os.readlink(src), guest)
                elif src.is_dir():
                    self.mkdir(guest)
                elif src.is_file():
                    self.stage_file(src, guest)
                else:
                    raise LwjvmError(f"{src} is not a file, directory or symlink")
            # os.walk does not descend into symlinked directories; they were staged as links.

    def stage_host_file(self, links: list[tuple[str, str]], real: str) -> None:
        """Stages a host file at its own path, with the symlinks that lead to it (see elfinfo)."""
        for link, target in links:
            existing = self.host_path(link)
            if existing.is_symlink() and os.readlink(existing) == target:
                continue
            self.stage_symlink(target, link)
        self.stage_file(Path(real), real)

    def stage(self, host: Path, guest_path: str) -> None:
        """Stages a file or a directory tree from the host at `guest_path`."""
        if host.is_dir() and not host.is_symlink():
            self.stage_tree(host, guest_path)
        else:
            self.stage_file(host, guest_path)


@dataclass(frozen=True)
class ImageStats:
    """What went into an image: entries staged and the sizes chosen."""

    entries: int
    content_blocks: int
    blocks: int
    inodes: int


def _walk_sorted(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            out.append(Path(dirpath) / name)
    return sorted(out)


def _normalize(root: Path, entries: list[Path], epoch: int) -> None:
    """Gives staged entries fixed permission bits and mtimes (ctime is fixed in the image)."""
    for p in entries + [root]:
        st = p.lstat()
        if stat.S_ISLNK(st.st_mode):
            os.utime(p, (epoch, epoch), follow_symlinks=False)
            continue
        if stat.S_ISDIR(st.st_mode):
            p.chmod(0o755)
        elif stat.S_ISREG(st.st_mode):
            p.chmod(0o755 if st.st_mode & 0o111 else 0o644)
        else:
            raise LwjvmError(f"{p} is not a file, directory or symlink")
    for p in entries + [root]:
        if not p.is_symlink():
            os.utime(p, (epoch, epoch))


def _size_blocks(root: Path, entries: list[Path]) -> tuple[int, int, int]:
    """(content blocks, total blocks, inode count) for the staged tree, with headroom."""
    content = 1  # the root directory
    for p in entries:
        st = p.lstat()
        if stat.S_ISREG(st.st_mode):
            content += -(-st.st_size // BLOCK_SIZE) + 1  # +1: an extent block for fragmented files
        elif stat.S_ISDIR(st.st_mode):
            names = os.listdir(p)
            dirent_bytes = sum(8 + ((len(os.fsencode(n)) + 3) & ~3) for n in names) + 24
            content += -(-dirent_bytes // BLOCK_SIZE) + 1  # +1: an htree index block
        elif stat.S_ISLNK(st.st_mode) and len(os.fsencode(os.readlink(p))) >= 60:
            content += 1
    inodes = max(64, len(entries) + 16)
    inodes += -inodes % 32
    itable = inodes * INODE_SIZE // BLOCK_SIZE
    total = content + itable
    # Per block group (32768 blocks): superblock copy, descriptors, reserved GDT, bitmaps.
    groups = total // 32768 + 1
    overhead = groups * 8 + 256 + 64
    blocks = int((total + overhead) * 1.1) + 256
    return content, blocks, inodes


SBIN_DIRS = ("/usr/sbin", "/sbin")  # searched after PATH: e2fsprogs lives there


def _tool(name: str) -> str:
    path = os.pathsep.join([os.environ.get("PATH", ""), *SBIN_DIRS])
    found = shutil.which(name, path=path)
    if found is None:
        raise LwjvmError(f"{name} not found: install e2fsprogs (make setup)")
    return found


def _debugfs_quote(rel: str) -> str:
    return '"/' + rel + '"'


def build_image(staging: Path, out: Path, epoch: int | None = None) -> ImageStats:
    """Builds the ext4 root image `out` from the directory `staging` (which it normalizes).

    Raises LwjvmError if mke2fs or debugfs is missing or fails.
    """
    if epoch is None:
        epoch = source_date_epoch()
    if not staging.is_dir():
        raise LwjvmError(f"staging directory {staging} does not exist")
    mke2fs = _tool("mke2fs")
    debugfs = _tool("debugfs")
    entries = _walk_sorted(staging)
    for p in entries:
        rel = p.relative_to(staging).as_posix()
        if '"' in rel or "\n" in rel:
            raise LwjvmError(f"file name the image builder cannot take: {rel!r}")
    _normalize(staging, entries, epoch)
    content, blocks, inodes = _size_blocks(staging, entries)

    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.unlink(missing_ok=True)
    with tempfile.TemporaryDirectory(prefix="lwjvm-mke2fs-") as td:
        conf = Path(td) / "mke2fs.conf"
        conf.write_text(_MKE2FS_CONF)
        env = dict(os.environ, MKE2FS_CONFIG=str(conf), E2FSPROGS_FAKE_TIME=str(epoch))
        env.pop("MKE2FS_DEVICE_SECTSIZE", None)
        env.pop("MKE2FS_DEVICE_PHYS_SECTSIZE", None)
        cmd = [
            mke2fs, "-q", "-F", "-t", "ext4", "-b", str(BLOCK_SIZE), "-I", str(INODE_SIZE),
            "-N", str(inodes), "-m", "0", "-O", "^has_journal", "-U", FIXED_UUID,
            "-E", f"hash_seed={FIXED_HASH_SEED},root_owner=0:0,nodiscard", "-L", "lwjvm-root",
            "-d", str(staging), str(tmp), str(blocks),
        ]  # fmt: skip
        _run(cmd, env, "mke2fs")

        # Pin what mke2fs copied from the staging files and the clock.
        script = Path(td) / "fixup.debugfs"
        lines = []
        for p in [staging] + entries:
            q = '"/"' if p == staging else _debugfs_quote(p.relative_to(staging).as_posix())
            for field in ("atime", "ctime", "mtime", "crtime"):
                lines.append(f"sif {q} {field} {epoch}")
            lines.append(f"sif {q} uid 0")
            lines.append(f"sif {q} gid 0")
        script.write_text("\n".join(lines) + "\n")
        res = _run([debugfs, "-w", "-f", str(script), str(tmp)], env, "debugfs")
        # debugfs prints its version, then echoes each command as "debugfs: CMD" (file names and
        # all); any other line is the message of a command that failed.
        errors = [
            ln
            for ln in res.splitlines()
            if ln.strip() and not ln.startswith(("debugfs:", "debugfs "))
        ]
        if errors:
            tmp.unlink(missing_ok=True)
            raise LwjvmError(f"debugfs could not fix up the image: {errors[0]}")
    # The guest sees the file as the memory of an ivshmem PCI device, whose size must be a power of
    # two (and at least 2 MiB, the pages it is mapped with): the padding is a sparse hole.
    size = tmp.stat().st_size
    os.truncate(tmp, max(1 << (size - 1).bit_length(), MIN_IMAGE_FILE))
    tmp.replace(out)
    return ImageStats(entries=len(entries), content_blocks=content, blocks=blocks, inodes=inodes)


def _run(cmd: list[str], env: dict[str, str], what: str) -> str:
    try:
        proc = subprocess.run(cmd, env=env, capture_output=True, text=True, errors="replace")
    except OSError as e:
        raise LwjvmError(f"cannot run {what}: {e.strerror}") from None
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LwjvmError(f"{what} failed: {detail[-1] if detail else f'exit {proc.returncode}'}")
    return proc.stderr + proc.stdout
