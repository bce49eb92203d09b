"""virtio-blk end to end: `lwjvm exec --disk FILE` attaches a raw file (cache=none, io_uring
where the host has it) that the guest sees as the block device /dev/vda. A C program in the
guest writes a pattern in one 3 MiB pwrite (cut by the driver into many requests in flight) and
fsyncs (a FLUSH); the host finds the bytes in the file; a second boot reads back what the first
wrote and what the host wrote in between."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from lwjvm.testing import guest_unavailable, lwjvm_command

DISK_IO = r"""
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
static unsigned char pat(long i, int seed) { return (unsigned char)(i * 7 + seed + (i >> 12)); }
static int check(int fd, long off, long len, int seed) {
    unsigned char *b = malloc(len);
    if (pread(fd, b, len, off) != len) { perror("pread"); return 1; }
    for (long i = 0; i < len; i++)
        if (b[i] != pat(i, seed)) { printf("mismatch at %ld+%ld\n", off, i); return 1; }
    free(b);
    return 0;
}
int main(int argc, char **argv) {
    int fd = open("/dev/vda", O_RDWR);
    if (fd < 0) { perror("open /dev/vda"); return 1; }
    struct stat st;
    if (fstat(fd, &st) || !S_ISBLK(st.st_mode)) { printf("not a block device\n"); return 1; }
    if (!strcmp(argv[1], "write")) {
        long len = 3 << 20;
        unsigned char *b = malloc(len);
        for (long i = 0; i < len; i++) b[i] = pat(i, 1);
        if (pwrite(fd, b, len, 1 << 20) != len) { perror("pwrite"); return 1; }
        if (pwrite(fd, b, 1000, 0) != -1 || errno != EINVAL) {
            printf("unaligned accepted\n");
            return 1;
        }
        if (fsync(fd)) { perror("fsync"); return 1; }
        if (check(fd, 1 << 20, len, 1)) return 1;
        char end[512];
        if (pread(fd, end, 512, 64 << 20) != 0) { printf("read past the end\n"); return 1; }
        if (pwrite(fd, end, 512, 64 << 20) != -1 || errno != ENOSPC) {
            printf("no ENOSPC\n");
            return 1;
        }
    } else {
        if (check(fd, 1 << 20, 3 << 20, 1) || check(fd, 8 << 20, 1 << 20, 2)) return 1;
    }
    printf("ok\n");
    return 0;
}
"""


def pattern(n: int, seed: int) -> bytes:
    return bytes((i * 7 + seed + (i >> 12)) & 0xFF for i in range(n))


@pytest.fixture(scope="module")
def disk_io(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("disk")
    (d / "disk_io.c").write_text(DISK_IO)
    subprocess.run(["gcc", "-O2", "-o", str(d / "disk_io"), str(d / "disk_io.c")], check=True)
    return d / "disk_io"


def _boot(prog: Path, disk: Path, mode: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "300", "--disk", str(disk),
         str(prog), mode],
        cwd=cwd, capture_output=True, text=True, timeout=400,
    )  # fmt: skip


def test_guest_writes_reach_the_disk_file_and_survive_a_reboot(
    disk_io: Path, tmp_path: Path
) -> None:
    disk = tmp_path / "vol.img"
    with disk.open("wb") as f:
        f.truncate(64 << 20)
    r = _boot(disk_io, disk, "write", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "ok\n"
    data = disk.read_bytes()
    assert data[: 1 << 20] == bytes(1 << 20)
    assert data[1 << 20 : 4 << 20] == pattern(3 << 20, 1)
    with disk.open("r+b") as f:
        f.seek(8 << 20)
        f.write(pattern(1 << 20, 2))
    r = _boot(disk_io, disk, "read", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == "ok\n"


def test_a_missing_disk_file_is_a_one_line_error(disk_io: Path, tmp_path: Path) -> None:
    r = _boot(disk_io, tmp_path / "absent.img", "read", tmp_path)
    assert r.returncode != 0
    assert "--disk" in r.stderr and "no such file" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


DISCARD = r"""
#include <fcntl.h>
#include <linux/fs.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
int main(void) {
    int fd = open("/dev/vda", O_RDWR);
    uint64_t size = 0;
    if (fd < 0 || ioctl(fd, BLKGETSIZE64, &size)) { perror("BLKGETSIZE64"); return 1; }
    static unsigned char b[4 << 20];
    memset(b, 0xab, sizeof b);
    if (pwrite(fd, b, sizeof b, 0) != (ssize_t)sizeof b || fsync(fd)) { perror("w"); return 1; }
    uint64_t zero[2] = {4096, 8192}, drop[2] = {1 << 20, 2 << 20}, bad[2] = {100, 512};
    if (ioctl(fd, BLKZEROOUT, zero)) { perror("BLKZEROOUT"); return 1; }
    if (ioctl(fd, BLKDISCARD, drop)) { perror("BLKDISCARD"); return 1; }
    int unaligned = ioctl(fd, BLKDISCARD, bad);
    if (fsync(fd) || pread(fd, b, 16384, 0) != 16384) { perror("r"); return 1; }
    int zeros = 1, kept = 1;
    for (int i = 4096; i < 12288; i++) zeros &= b[i] == 0;
    for (int i = 0; i < 4096; i++) kept &= b[i] == 0xab && b[12288 + i] == 0xab;
    printf("size %llu zeroed %d kept %d unaligned %d\n", (unsigned long long)size, zeros, kept,
           unaligned);
    return 0;
}
"""


def test_discard_gives_space_back_to_the_host_and_write_zeroes_zeroes(tmp_path: Path) -> None:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    (tmp_path / "discard.c").write_text(DISCARD)
    subprocess.run(["gcc", "-O2", "-o", str(tmp_path / "discard"), str(tmp_path / "discard.c")],
                   check=True)  # fmt: skip
    disk = tmp_path / "vol.img"
    with disk.open("wb") as f:
        f.truncate(64 << 20)
    r = _boot(tmp_path / "discard", disk, "", tmp_path)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout == f"size {64 << 20} zeroed 1 kept 1 unaligned -1\n"
    data = disk.read_bytes()
    assert data[4096:12288] == bytes(8192) and data[:4096] == b"\xab" * 4096
    # The discarded 2 MiB are holes in the file again: 4 MiB were written, about 2 remain.
    assert disk.stat().st_blocks * 512 <= (2 << 20) + (256 << 10)
