"""The kernel's ext4 reader (kernel/fs/ext4.c), compiled for the host with ASan/UBSan, against
real `mke2fs -d` images; the staging tree seen through os.walk/os.lstat is the oracle."""

import os
import random
import re
import shutil
import stat
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CFLAGS = [
    "-std=c11", "-g", "-O1", "-fsanitize=address,undefined", "-fno-sanitize-recover=all",
    "-Wall", "-Wextra", "-Werror", f"-I{ROOT / 'kernel/include'}", f"-I{ROOT / 'kernel'}",
]
KERNEL_CFLAGS = [
    "-std=c11", "-ffreestanding", "-fno-builtin", "-nostdlib", "-mno-red-zone",
    "-mcmodel=kernel", "-fno-pic", "-Wall", "-Wextra", "-Werror",
    f"-I{ROOT / 'kernel/include'}", f"-I{ROOT / 'kernel'}",
]
SOURCES = [ROOT / "tests/kernel/ext4_test.c", ROOT / "kernel/fs/ext4.c"]

# Image kinds: mke2fs options, and whether inodes carry the extra timestamp fields.
IMAGE_KINDS = {
    # The root-image format (docs/protocol.md): 4 KiB blocks, no journal.
    "4k": ["-t", "ext4", "-b", "4096", "-O", "^has_journal"],
    "1k": ["-t", "ext4", "-b", "1024", "-O", "^has_journal"],
    "2k": ["-t", "ext4", "-b", "2048", "-O", "^has_journal"],
    # The largest block size: a record spanning a whole block stores rec_len 65536 as 65535.
    "64k": ["-t", "ext4", "-b", "65536", "-O", "^has_journal"],
    # mke2fs's default ext4: journal, metadata_csum, 64bit, flex_bg ...
    "default": ["-t", "ext4"],
    # No extents: ext2/3 direct and indirect block maps.
    "ext2": ["-t", "ext2", "-b", "4096"],
    # meta_bg with small groups, so descriptors live in several meta groups; without
    # sparse_super every group has a superblock, so they sit one block into each meta group.
    "meta_bg": ["-t", "ext4", "-b", "1024", "-g", "1024",
                "-O", "meta_bg,^resize_inode,^has_journal,^sparse_super"],
}

S_DT = {
    stat.S_IFREG: 8, stat.S_IFDIR: 4, stat.S_IFLNK: 10, stat.S_IFIFO: 1,
    stat.S_IFCHR: 2, stat.S_IFBLK: 6, stat.S_IFSOCK: 12,
}
BIG_DIR_ENTRIES = 2000
FRAGMENTS = 400  # > 4 extents needs depth 1 (4 KiB); > 4 * 84 extents needs depth 2 (1 KiB)
HUGE = 5 << 30  # past the triple-indirect boundary of an ext2 map with 4 KiB blocks
# mke2fs 1.47 stores the low 32 bits of the seconds; the extra field is set with debugfs.
TIMES_MTIME_NS = ((1 << 31) + 5) * 10**9 + 987654321
TIMES_ATIME_NS = 1234567890 * 10**9


def _run(args: list, **kw: object) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, check=False, **kw)


@pytest.fixture(scope="session")
def ext4_tool(tmp_path_factory: pytest.TempPathFactory) -> Path:
    if not shutil.which("gcc") or not shutil.which("mke2fs"):
        pytest.skip("needs gcc and mke2fs")
    out = tmp_path_factory.mktemp("ext4tool") / "ext4_test"
    r = _run(["gcc", *CFLAGS, *SOURCES, "-o", out])
    assert r.returncode == 0, r.stderr.decode()
    return out


def build_staging(root: Path) -> None:
    """Writes the tree every image is made from."""
    rng = random.Random(1)
    root.mkdir()
    (root / "empty").write_bytes(b"")
    (root / "small.txt").write_bytes(b"hello, ext4\n")
    (root / "multi.bin").write_bytes(rng.randbytes(50_000))
    with open(root / "sparse.bin", "wb") as f:
        f.truncate(10 << 20)
        f.write(b"A" * 100)
        f.seek((5 << 20) - 100)
        f.write(b"B" * 5000)
        f.seek((10 << 20) - 1)
        f.write(b"C")
    with open(root / "huge_sparse.bin", "wb") as f:
        f.truncate(HUGE)
        f.seek(HUGE - 3)
        f.write(b"END")
    # Data in every other 4 KiB: each piece is its own extent (mke2fs -d keeps holes).
    with open(root / "frag.bin", "wb") as f:
        for i in range(FRAGMENTS):
            f.seek(i * 8192)
            f.write(bytes([i % 251 + 1]) * 4096)
    big = root / "bigdir"
    big.mkdir()
    for i in range(BIG_DIR_ENTRIES):
        content = b"%d\n" % i if i % 100 == 0 else b""
        (big / f"entry-{i:05d}-with-a-longer-name").write_bytes(content)
    deep = root / "nested/a/b/c/d/e/f/g"
    deep.mkdir(parents=True)
    (deep / "deep.txt").write_bytes(b"deep\n")
    (root / "nested/a/b/file").write_bytes(b"in b\n")
    uni = root / "unicode"
    uni.mkdir()
    for name in ["héllo wörld.txt", "日本語のファイル", "emoji-😀", "new\nline", "n" * 255]:
        (uni / name).write_bytes(name.encode() + b"\n")
    links = root / "links"
    links.mkdir()
    os.symlink("../small.txt", links / "fast")
    os.symlink("/nested/a/b", links / "abs_dir")
    os.symlink("../nested/a/b", links / "rel_dir")
    os.symlink("missing", links / "dangling")
    os.symlink("loop2", links / "loop1")
    os.symlink("loop1", links / "loop2")
    slow_target = "./" * 150 + "../small.txt"  # 312 bytes: stored in a block
    os.symlink(slow_target, links / "slow")
    os.link(root / "small.txt", root / "hardlink.txt")
    os.mkfifo(root / "fifo")
    modes = root / "modes"
    modes.mkdir()
    for name, mode in [("setuid", 0o4755), ("private", 0o600), ("none", 0o000)]:
        (modes / name).write_bytes(name.encode())
        os.chmod(modes / name, mode)
    (modes / "sticky").mkdir()
    os.chmod(modes / "sticky", 0o1777)
    (root / "times.txt").write_bytes(b"t\n")
    set_times(root)
    if os.geteuid() == 0:
        (root / "owned").write_bytes(b"o\n")
        os.chown(root / "owned", 1000, 70000)  # gid needs the high 16 bits
        devs = root / "dev"
        devs.mkdir()
        os.mknod(devs / "null", stat.S_IFCHR | 0o666, os.makedev(1, 3))  # old 8:8 encoding
        os.mknod(devs / "big", stat.S_IFBLK | 0o600, os.makedev(259, 70000))  # new encoding


def set_times(root: Path) -> None:
    """Sets times.txt's atime and mtime (again: reading it moves the atime)."""
    os.utime(root / "times.txt", ns=(TIMES_ATIME_NS, TIMES_MTIME_NS))


@pytest.fixture(scope="session")
def staging(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("ext4staging") / "root"
    build_staging(root)
    return root


def make_image(path: Path, staging: Path, kind: str) -> Path:
    """Builds an image of `kind` from staging, indexes its directories (htree), and sets one
    timestamp's extra field, which mke2fs -d does not write."""
    set_times(staging)
    r = _run(["mke2fs", "-q", "-F", *IMAGE_KINDS[kind], "-N", "4096", "-d", staging, path, "64M"])
    assert r.returncode == 0, r.stderr.decode()
    r = _run(["e2fsck", "-fyD", path])
    assert r.returncode in (0, 1), r.stdout.decode() + r.stderr.decode()
    sec = TIMES_MTIME_NS // 10**9
    epoch = ((sec - ((sec + 2**31) % 2**32 - 2**31)) >> 32) & 3  # sec - (int32_t)sec
    extra = ((TIMES_MTIME_NS % 10**9) << 2) | epoch
    r = _run(["debugfs", "-w", "-R", f"sif /times.txt mtime_extra {extra}", path])
    assert r.returncode == 0, r.stderr.decode()
    return path


@pytest.fixture(scope="session", params=sorted(IMAGE_KINDS))
def image(request: pytest.FixtureRequest, staging: Path,
          tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    kind = request.param
    return kind, make_image(tmp_path_factory.mktemp("ext4img") / f"{kind}.img", staging, kind)


def dump(tool: Path, img: Path) -> dict:
    """Runs `ext4_test dump`: {path: fields}."""
    r = _run([tool, "dump", img])
    assert r.returncode == 0, r.stderr.decode()
    entries = {}
    for line in r.stdout.decode().splitlines()[1:]:
        f = line.split("\t")
        path = bytes.fromhex(f[0])
        target = b"" if f[14] == "-" else bytes.fromhex(f[14])
        entries[path] = {
            "ino": int(f[1]), "dt": int(f[2]), "mode": int(f[3], 8), "nlink": int(f[4]),
            "uid": int(f[5]), "gid": int(f[6]), "size": int(f[7]), "blocks": int(f[8]),
            "atime": f[9], "mtime": f[10], "flags": int(f[12], 16), "crc": int(f[13], 16),
            "target": target, "rdev": f[15],
        }
    return entries


def expected_tree(staging: Path) -> dict:
    """What the image must show, from the host's view of the staging tree."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(staging):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            st = os.lstat(p)
            rel = b"/" + os.fsencode(p.relative_to(staging))
            e = {"mode": st.st_mode, "dt": S_DT[stat.S_IFMT(st.st_mode)], "uid": st.st_uid,
                 "gid": st.st_gid, "nlink": st.st_nlink}
            if stat.S_ISDIR(st.st_mode):
                e["nlink"] = 2 + sum(1 for c in p.iterdir() if c.is_dir() and not c.is_symlink())
            if stat.S_ISREG(st.st_mode):
                e["size"] = st.st_size
                if st.st_size <= 64 << 20:
                    e["crc"] = zlib.crc32(p.read_bytes())
            if stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                e["rdev"] = f"{os.major(st.st_rdev)}:{os.minor(st.st_rdev)}"
            if stat.S_ISLNK(st.st_mode):
                e["target"] = os.fsencode(os.readlink(p))
                e["size"] = len(e["target"])
            sec = st.st_mtime_ns // 10**9
            e["mtime"] = f"{(sec + 2**31) % 2**32 - 2**31}.000000000"  # as mke2fs stores it
            out[rel] = e
    out[b"/lost+found"] = {"mode": 0o40700, "dt": 4, "nlink": 2}  # made by mke2fs
    out[b"/times.txt"]["mtime"] = f"{TIMES_MTIME_NS // 10**9}.{TIMES_MTIME_NS % 10**9:09d}"
    return out


def test_ext4_compiles_freestanding_for_the_kernel(tmp_path: Path) -> None:
    r = _run(["gcc", *KERNEL_CFLAGS, "-c", ROOT / "kernel/fs/ext4.c", "-o", tmp_path / "ext4.o"])
    assert r.returncode == 0, r.stderr.decode()
    r = _run(["nm", "-u", tmp_path / "ext4.o"])
    undefined = set(r.stdout.decode().split()) - {"U"}
    assert undefined <= {"memcpy", "memset", "memcmp"}, undefined


def test_libfuzzer_entry_point_compiles(tmp_path: Path) -> None:
    """The libFuzzer target (see the end of ext4_test.c) stays buildable without clang."""
    r = _run(["gcc", *CFLAGS, "-DEXT4_LIBFUZZER", "-c", SOURCES[0], "-o", tmp_path / "f.o"])
    assert r.returncode == 0, r.stderr.decode()
    r = _run(["nm", tmp_path / "f.o"])
    assert " T LLVMFuzzerTestOneInput" in r.stdout.decode()


def test_every_file_dir_and_symlink_matches_the_staging_tree(
        ext4_tool: Path, image: tuple[str, Path], staging: Path) -> None:
    kind, img = image
    got = dump(ext4_tool, img)
    want = expected_tree(staging)
    assert sorted(got) == sorted(want)
    for path, e in want.items():
        g = got[path]
        for key, value in e.items():
            assert g[key] == value, (kind, path, key)
    # Hard links share the inode.
    assert got[b"/hardlink.txt"]["ino"] == got[b"/small.txt"]["ino"]
    # Holes take no space; a file's blocks cover its data.
    assert got[b"/sparse.bin"]["blocks"] * 512 < 1 << 20
    assert got[b"/multi.bin"]["blocks"] * 512 >= 50_000
    assert got[b"/times.txt"]["atime"] == "1234567890.000000000"


def test_statfs_matches_dumpe2fs(ext4_tool: Path, image: tuple[str, Path]) -> None:
    _, img = image
    r = _run(["dumpe2fs", "-h", img])
    sb = dict(line.split(":", 1) for line in r.stdout.decode().splitlines() if ":" in line)
    sb = {k.strip(): v.strip() for k, v in sb.items()}
    r = _run([ext4_tool, "statfs", img])
    assert r.returncode == 0, r.stderr.decode()
    bs, blocks, free, avail, inodes, free_inodes, uuid = r.stdout.decode().split()
    assert int(bs) == int(sb["Block size"])
    assert int(blocks) == int(sb["Block count"])
    assert int(free) == int(sb["Free blocks"])
    assert int(avail) == int(sb["Free blocks"]) - int(sb["Reserved block count"])
    assert int(inodes) == int(sb["Inode count"])
    assert int(free_inodes) == int(sb["Free inodes"])
    assert uuid == sb["Filesystem UUID"].replace("-", "")


def test_directory_indexes_and_extent_trees_are_really_exercised(image: tuple[str, Path]) -> None:
    """Guards the oracle test: the big directory is an htree and frag.bin's extent tree is deep."""
    kind, img = image
    r = _run(["debugfs", "-R", "stat /bigdir", img])
    assert "Flags: 0x" in r.stdout.decode()
    flags = int(r.stdout.decode().split("Flags: 0x")[1].split()[0], 16)
    assert flags & 0x1000, "bigdir is not htree-indexed"
    if kind in ("ext2", "64k"):  # block maps; 64 KiB blocks hold whole 8 KiB strides
        return
    r = _run(["debugfs", "-R", "ex /frag.bin", img])
    depth = int(r.stdout.decode().splitlines()[1].split("/")[1].split()[0])
    assert depth >= (2 if kind in ("1k", "meta_bg") else 1)


def test_paths_resolve_through_symlinks_like_linux(
        ext4_tool: Path, image: tuple[str, Path]) -> None:
    _, img = image

    def resolve(path: str) -> str:
        r = _run([ext4_tool, "resolve", img, path])
        assert r.returncode == 0, r.stderr.decode()
        return r.stdout.decode().strip()

    b = resolve("/nested/a/b")
    assert b == resolve("/links/abs_dir") == resolve("/links/rel_dir/")
    assert b == resolve("/nested/a/b/c/../../b") == resolve("//nested/./a/b/")
    assert resolve("/links/rel_dir/file") == resolve("/nested/a/b/file")
    assert resolve("/links/slow") == resolve("/small.txt") == resolve("/links/fast")
    assert resolve("/links/dangling") == "error 2"
    assert resolve("/links/loop1") == "error 40"
    assert resolve("/small.txt/x") == "error 20"
    assert resolve("/nope") == "error 2"
    assert resolve("/unicode/日本語のファイル").endswith(" 100644")
    r = _run([ext4_tool, "cat", img, "/links/abs_dir/c/d/e/f/g/deep.txt"])
    assert r.returncode == 0 and r.stdout == b"deep\n"


def test_reads_at_offsets_holes_and_past_eof(ext4_tool: Path, image: tuple[str, Path]) -> None:
    _, img = image

    def pread(path: str, off: int, n: int) -> tuple[int, bytes]:
        r = _run([ext4_tool, "pread", img, path, off, n])
        assert r.returncode == 0, r.stderr.decode()
        count, data = r.stdout.decode().split()
        return int(count), b"" if data == "-" else bytes.fromhex(data)

    assert pread("/huge_sparse.bin", HUGE - 5, 100) == (5, b"\0\0END")
    assert pread("/huge_sparse.bin", 3 << 30, 10) == (10, b"\0" * 10)
    assert pread("/huge_sparse.bin", HUGE, 10) == (0, b"")
    assert pread("/sparse.bin", (5 << 20) - 101, 3) == (3, b"\0BB")
    assert pread("/sparse.bin", (10 << 20) - 2, 100) == (2, b"\0C")
    assert pread("/sparse.bin", 1 << 40, 1) == (0, b"")
    assert pread("/empty", 0, 10) == (0, b"")
    assert pread("/frag.bin", 8192 * 399 - 1, 2) == (2, b"\0" + bytes([399 % 251 + 1]))
    assert pread("/bigdir", 0, 1) == (-21, b"")  # EISDIR
    assert pread("/fifo", 0, 1) == (-22, b"")  # EINVAL


def test_unwritten_extents_read_as_zeros(ext4_tool: Path, tmp_path: Path) -> None:
    """An fallocate'd (unwritten) extent maps to nothing: reads give zeros, block_ptr NULL.
    mke2fs -d never writes one, so the test splits a file's extent in the inode by hand."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "pre.bin").write_bytes(b"P" * 12288)
    img = tmp_path / "un.img"
    r = _run(["mke2fs", "-q", "-F", *IMAGE_KINDS["4k"], "-d", root, img, "8M"])
    assert r.returncode == 0, r.stderr.decode()
    r = _run(["debugfs", "-R", "imap /pre.bin", img])
    m = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", r.stdout.decode())
    assert m, r.stdout.decode() + r.stderr.decode()
    at = int(m.group(1)) * 4096 + int(m.group(2), 16) + 0x28  # i_block
    data = bytearray(img.read_bytes())
    magic, entries, _, depth = struct.unpack_from("<HHHH", data, at)
    assert (magic, entries, depth) == (0xF30A, 1, 0)
    first, length, hi, start = struct.unpack_from("<IHHI", data, at + 12)
    assert (first, length) == (0, 3)
    struct.pack_into("<H", data, at + 2, 2)
    struct.pack_into("<IHHI", data, at + 12, 0, 1, hi, start)
    struct.pack_into("<IHHI", data, at + 24, 1, 32768 + 2, hi, start + 1)  # unwritten, 2 blocks
    img.write_bytes(bytes(data))
    r = _run([ext4_tool, "pread", img, "/pre.bin", 4094, 6])
    assert r.stdout.decode().split() == ["6", "505000000000"]
    r = _run([ext4_tool, "dump", img])
    assert r.returncode == 0, r.stderr.decode()
    line = [x for x in r.stdout.decode().splitlines() if x.startswith(b"/pre.bin".hex())][0]
    assert int(line.split("\t")[13], 16) == zlib.crc32(b"P" * 4096 + bytes(8192))


@pytest.fixture(scope="session")
def small_staging(staging: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A smaller tree for the corruption test: mostly metadata, so flips land on it."""
    small = tmp_path_factory.mktemp("ext4small") / "root"
    small.mkdir()
    for name in ["small.txt", "multi.bin", "frag.bin", "sparse.bin", "hardlink.txt"]:
        shutil.copy2(staging / name, small / name, follow_symlinks=False)
    for name in ["links", "nested", "unicode"]:
        shutil.copytree(staging / name, small / name, symlinks=True)
    big = small / "bigdir"
    big.mkdir()
    for i in range(300):
        (big / f"e{i:04d}").write_bytes(b"")
    return small


def _inode_at(img: Path, path: str) -> int:
    """Byte offset of path's inode record in a 4 KiB-block image."""
    r = _run(["debugfs", "-R", f"imap {path}", img])
    m = re.search(r"located at block (\d+), offset 0x([0-9a-f]+)", r.stdout.decode())
    assert m, r.stdout.decode() + r.stderr.decode()
    return int(m.group(1)) * 4096 + int(m.group(2), 16)


def _block_at(img: Path, path: str, lblk: int) -> int:
    r = _run(["debugfs", "-R", f"bmap {path} {lblk}", img])
    return int(r.stdout.decode().split()[0]) * 4096


# name: (where, struct format, value, command, path, expected first word of the output)
CORRUPTIONS = {
    "bad superblock magic": (lambda i: 1024 + 0x38, "<H", 0, "resolve", "/", "error 22"),
    "unknown incompat feature (inline_data)":
        (lambda i: 1024 + 0x60, "<I", 0x8000 | 0x2C2, "resolve", "/", "error 22"),
    "inode table past the end": (lambda i: 4096 + 8, "<I", 0xFFFFFF00, "resolve", "/", "error 5"),
    "extent index past the end":
        (lambda i: _inode_at(i, "/frag.bin") + 0x28 + 16, "<I", 0xFFFFFF00,
         "pread", "/frag.bin", "-5"),
    "extent tree deeper than 5":
        (lambda i: _inode_at(i, "/frag.bin") + 0x28 + 6, "<H", 6, "pread", "/frag.bin", "-5"),
    "extent child at the wrong depth":
        (lambda i: _inode_at(i, "/frag.bin") + 0x28 + 6, "<H", 2, "pread", "/frag.bin", "-5"),
    "directory record length 0":
        (lambda i: _block_at(i, "/nested", 0) + 4, "<H", 0, "resolve", "/nested/a", "error 5"),
    "directory entry past the inode count":
        (lambda i: _block_at(i, "/nested", 0), "<I", 0xFFFFFFF0, "resolve", "/nested/a",
         "error 5"),
    "directory larger than the filesystem":
        (lambda i: _inode_at(i, "/nested") + 0x6C, "<I", 1 << 10, "resolve", "/nested/a",
         "error 5"),
    "symlink longer than a block":
        (lambda i: _inode_at(i, "/links/slow") + 4, "<I", 100_000, "resolve", "/links/slow",
         "error 5"),
    "extra inode size past the record":
        (lambda i: _inode_at(i, "/small.txt") + 0x80, "<H", 300, "resolve", "/small.txt",
         "error 5"),
}


@pytest.mark.parametrize("name", sorted(CORRUPTIONS))
def test_specific_corruptions_are_reported_not_followed(
        ext4_tool: Path, small_staging: Path, tmp_path: Path, name: str) -> None:
    where, fmt, value, command, path, expected = CORRUPTIONS[name]
    img = tmp_path / "c.img"
    r = _run(["mke2fs", "-q", "-F", *IMAGE_KINDS["4k"], "-N", "512", "-d", small_staging, img,
              "4M"])
    assert r.returncode == 0, r.stderr.decode()
    data = bytearray(img.read_bytes())
    struct.pack_into(fmt, data, where(img), value)
    img.write_bytes(bytes(data))
    args = [path, 0, 10] if command == "pread" else [path]
    r = _run([ext4_tool, command, img, *args])
    assert r.returncode == 0, r.stderr.decode()
    assert r.stdout.decode().startswith(expected), r.stdout.decode()


FUZZ_ROUNDS = 150


@pytest.mark.parametrize("kind,seed", [("4k", 1), ("1k", 2), ("ext2", 3), ("default", 4)])
def test_corrupt_images_never_crash_the_reader(
        ext4_tool: Path, small_staging: Path, tmp_path: Path, kind: str, seed: int) -> None:
    """Random byte flips aimed at metadata (fixed seed), some truncations; errors are fine,
    ASan/UBSan reports and hangs are not."""
    img = tmp_path / f"{kind}.img"
    r = _run(["mke2fs", "-q", "-F", *IMAGE_KINDS[kind], "-N", "512", "-d", small_staging, img,
              "4M"])
    assert r.returncode == 0, r.stderr.decode()
    _run(["e2fsck", "-fyD", img])
    r = _run([ext4_tool, "fuzz", img, seed, FUZZ_ROUNDS], timeout=60)
    assert r.returncode == 0, r.stderr.decode()[-3000:]
    assert r.stdout.startswith(b"rounds %d mounted " % FUZZ_ROUNDS)
