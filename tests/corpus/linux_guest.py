"""A Linux guest in the same QEMU, for the corpus figures (tests/corpus/measure.py): Debian's cloud
kernel (fetched with `apt-get download` into tests/build/linux-guest/ once) boots the very root tree
lwjvm's kernel would get, as an initramfs, with tests/corpus/linux-guest/init.c as /init running
the program boot.conf names. The difference to our guest is then the kernel alone: same QEMU, same
TCG, same files, same program. The machine is QEMU's `pc` (microvm has no timer this kernel can
calibrate against under TCG: it stops at TSC calibration); the program's own time is measured by
/init, so the firmware and boot do not count in it."""

from __future__ import annotations

import re
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from lwjvm import bootconf, vm

REPO = Path(__file__).resolve().parents[2]
WORK = REPO / "tests" / "build" / "linux-guest"
PACKAGE = "linux-image-cloud-amd64"
_DONE = re.compile(rb"linux-guest: program_ns=(\d+) status=(\d+)")


@dataclass(frozen=True)
class LinuxRun:
    """How a run went: QEMU start to exit, the program's own time (measured by /init), output."""

    qemu_s: float
    program_s: float
    status: int
    output: bytes


def kernel() -> Path:
    """Debian's cloud kernel (vmlinuz), downloaded and unpacked once."""
    found = sorted(WORK.glob("x/boot/vmlinuz-*"))
    if found:
        return found[-1]
    WORK.mkdir(parents=True, exist_ok=True)
    deps = subprocess.run(["apt-cache", "depends", PACKAGE], capture_output=True, text=True)
    image = next(
        line.split()[-1] for line in deps.stdout.splitlines() if "Depends: linux-image" in line
    )
    subprocess.run(["apt-get", "download", image], cwd=WORK, check=True, capture_output=True)
    deb = next(WORK.glob(f"{image}_*.deb"))
    subprocess.run(["dpkg-deb", "-x", str(deb), str(WORK / "x")], check=True)
    return sorted(WORK.glob("x/boot/vmlinuz-*"))[-1]


def init() -> Path:
    """/init, built static from tests/corpus/linux-guest/init.c."""
    src = REPO / "tests" / "corpus" / "linux-guest" / "init.c"
    out = WORK / "init"
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        WORK.mkdir(parents=True, exist_ok=True)
        subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(src)], check=True)
    return out


def initramfs(root: Path, out: Path) -> Path:
    """`root` (a tree with /etc/lwjvm/boot.conf) plus /init and its arguments, as a newc cpio."""
    conf = bootconf.parse((root / bootconf.PATH.lstrip("/")).read_bytes())
    words = [conf.exec, conf.cwd, str(len(conf.argv)).encode(), *conf.argv]
    words += [str(len(conf.env)).encode(), *conf.env]
    (root / "linux-guest.args").write_bytes(b"".join(w + b"\0" for w in words))
    shutil.copy2(init(), root / "init")
    for d in ("proc", "sys", "dev", "tmp"):
        (root / d).mkdir(exist_ok=True)
    names = subprocess.run(["find", "."], cwd=root, capture_output=True, check=True).stdout
    with open(out, "wb") as f:
        subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=root, input=names, stdout=f,
                       check=True)  # fmt: skip
    return out


def run(root: Path, work: Path, memory: str = "1G", timeout: float = 900) -> LinuxRun:
    """Boots the Linux guest on `root` under TCG; its run."""
    cpio = initramfs(root, work / "root.cpio")
    cmd = [
        vm.find_qemu(), "-M", "pc", "-accel", "tcg", "-m", memory, "-nodefaults",
        "-no-user-config", "-display", "none", "-serial", "stdio", "-no-reboot",
        "-kernel", str(kernel()), "-initrd", str(cpio),
        "-append", "console=ttyS0 quiet loglevel=0 rdinit=/init",
    ]  # fmt: skip
    t = time.monotonic()
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout)
    qemu_s = time.monotonic() - t
    m = _DONE.search(proc.stdout)
    if not m:
        raise RuntimeError(f"the Linux guest did not finish: {proc.stdout[-500:]!r}")
    output = proc.stdout[: m.start()].replace(b"\r\n", b"\n").rstrip(b"\n") + b"\n"
    return LinuxRun(qemu_s, int(m.group(1)) / 1e9, int(m.group(2)), output)
