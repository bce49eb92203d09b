"""The Linux-guest baseline of `make bench`: Debian's cloud kernel running an lwjvm image.

The same QEMU (machine, TCG, memory, network backend and device, isa-debug-exit) boots Debian's
`linux-image-cloud-amd64` kernel instead of ours. The lwjvm root image (ext4) is its read-only
virtio-blk disk; a tiny initramfs holds /init (bench/linux-init.c, built static) and the kernel's
modules for virtio over PCI, virtio-blk and virtio-net (ext4 is built in). /init mounts the image,
sets up lo and eth0 from boot.conf's net.* keys and runs boot.conf's command line, so the JVM, its
flags, the jlinked runtime and the application are byte for byte those lwjvm boots.

The kernel package is fetched with `apt-get download` into a cache directory (build/bench/linux)
and unpacked with `dpkg-deb -x`; nothing is installed on the host and /etc/apt is not touched.
Debian's kernel sometimes hangs early under TCG (after "tsc: Unable to calibrate against PIT"), so
every boot has a deadline for /init's first line and is retried; `Boot.hung` counts the retries.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from lwjvm import qemu, vm
from lwjvm.errors import LwjvmError
from lwjvm.network import NetConfig

META_PACKAGE = "linux-image-cloud-amd64"
INIT_SRC = Path("bench/linux-init.c")
# The drivers /init loads, with what they depend on before them (modinfo's depends=; the package
# has no modules.dep, which depmod makes at install time). ext4 and the 8250 UART are built in.
ROOT_MODULES = ("virtio_pci", "virtio_blk", "virtio_net")
# The kernel command line. `panic=-1` turns a panic into a reboot, which -no-reboot turns into
# QEMU's exit. Under TCG the guest's TSC runs at the host's rate, but microvm offers Linux no
# reference to measure it against (its PIT calibration fails, there is no HPET or ACPI PM timer),
# and without a TSC rate the boot hangs; tsc_early_khz (from the host, see `cmdline`) gives it,
# and tsc=reliable spares the clocksource watchdog.
CMDLINE = ("console=ttyS0", "quiet", "panic=-1", "tsc=reliable")
INIT_MARK = b"linux-init: start"
EXEC_MARK = b"linux-init: exec "
EXIT_MARK = b"linux-init: exit "


@dataclass(frozen=True)
class Kernel:
    """Debian's cloud kernel, unpacked: its bzImage, its modules directory and version."""

    vmlinuz: Path
    modules: Path
    version: str
    package: str


def _run(cmd: list[str], cwd: Path | None = None) -> str:
    try:
        r = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise LwjvmError(f"{cmd[0]} is not installed (the Linux baseline needs it)") from None
    if r.returncode != 0:
        raise LwjvmError(f"{' '.join(cmd)} failed: {r.stderr.strip()[-300:]}")
    return r.stdout


def _kernel_package() -> str:
    """The versioned package the cloud metapackage depends on (apt-get update once if apt does
    not know it yet)."""
    for attempt in range(2):
        out = subprocess.run(
            ["apt-cache", "depends", META_PACKAGE], capture_output=True, text=True, check=False
        ).stdout
        for line in out.splitlines():
            word = line.strip().split()
            if len(word) == 2 and word[0] == "Depends:" and word[1].startswith("linux-image-"):
                return word[1]
        if attempt == 0:
            print(f"linux baseline: apt knows no {META_PACKAGE}; apt-get update", flush=True)
            _run(["apt-get", "update", "-q"])
    raise LwjvmError(f"apt cannot find {META_PACKAGE}'s kernel package")


def fetch_kernel(cache: Path) -> Kernel:
    """Debian's cloud kernel in `cache` (downloaded and unpacked on the first call only)."""
    cache.mkdir(parents=True, exist_ok=True)
    tree = cache / "root"
    debs = sorted(cache.glob("linux-image-*-cloud-amd64_*.deb"))
    if not debs:
        package = _kernel_package()
        print(f"linux baseline: apt-get download {package}", flush=True)
        _run(["apt-get", "download", package], cwd=cache)
        debs = sorted(cache.glob("linux-image-*-cloud-amd64_*.deb"))
        if not debs:
            raise LwjvmError(f"apt-get download {package} left no .deb in {cache}")
    deb = debs[-1]
    stamp = cache / "unpacked"
    if not stamp.exists() or stamp.read_text() != deb.name:
        shutil.rmtree(tree, ignore_errors=True)
        _run(["dpkg-deb", "-x", str(deb), str(tree)])
        stamp.write_text(deb.name)
    images = sorted((tree / "boot").glob("vmlinuz-*"))
    if not images:
        raise LwjvmError(f"{deb.name} has no /boot/vmlinuz-*")
    version = images[-1].name.removeprefix("vmlinuz-")
    return Kernel(images[-1], tree / "lib" / "modules" / version, version, deb.name)


def cpio_newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """An uncompressed cpio archive in the `newc` format the kernel unpacks as its initramfs.

    Each entry is (path without leading slash, st_mode, data): data is a file's bytes, a symlink's
    target, or empty for directories and device nodes (whose rdev is packed in the data as
    b"MAJOR:MINOR"). Ends with the TRAILER!!! record.
    """
    out = bytearray()

    def pad() -> None:
        out.extend(b"\0" * (-len(out) % 4))

    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        rmaj = rmin = 0
        body = data
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
            rmaj, rmin = (int(x) for x in data.split(b":"))
            body = b""
        nlink = 2 if stat.S_ISDIR(mode) else 1
        raw = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, nlink, 0, len(body), 0, 0, rmaj, rmin, len(raw), 0)
        out += b"070701" + b"".join(f"{v:08x}".encode() for v in fields)
        out += raw
        pad()
        out += body
        pad()
    return bytes(out)


def module_depends(ko: bytes) -> list[str]:
    """The module names a .ko's modinfo section says it depends on (`depends=a,b`)."""
    at = ko.find(b"\0depends=")
    if at < 0:
        return []
    value = ko[at + len(b"\0depends=") : ko.index(b"\0", at + 1)]
    return [n for n in value.decode().split(",") if n]


def module_order(modules: Path, roots: tuple[str, ...]) -> list[Path]:
    """The .ko files of `roots` and everything they depend on, each after its dependencies;
    LwjvmError for a module the tree lacks (a name's - and _ are the same, as for modprobe)."""
    index = {p.name.removesuffix(".ko").replace("-", "_"): p for p in modules.rglob("*.ko")}
    order: list[Path] = []
    done: set[str] = set()

    def visit(name: str, chain: tuple[str, ...]) -> None:
        key = name.replace("-", "_")
        if key in done:
            return
        if key in chain:
            raise LwjvmError(f"module dependency loop: {' -> '.join((*chain, key))}")
        path = index.get(key)
        if path is None:
            raise LwjvmError(f"no module {name}.ko under {modules}")
        for dep in module_depends(path.read_bytes()):
            visit(dep, (*chain, key))
        done.add(key)
        order.append(path)

    for root in roots:
        visit(root, ())
    return order


def build_init(root: Path, out: Path) -> Path:
    """bench/linux-init.c built static into `out` (again only when the source is newer)."""
    src = root / INIT_SRC
    if not out.exists() or out.stat().st_mtime < src.stat().st_mtime:
        _run(["gcc", "-static", "-O2", "-Wall", "-Wextra", "-Werror", "-o", str(out), str(src)])
    return out


def build_initramfs(kernel: Kernel, init: Path, out: Path) -> Path:
    """The initramfs: /init, the modules (flat in /modules) and /modules.list in load order."""
    entries: list[tuple[str, int, bytes]] = [
        (d, stat.S_IFDIR | 0o755, b"") for d in ("dev", "proc", "sys", "root", "modules")
    ]
    entries.append(("dev/console", stat.S_IFCHR | 0o600, b"5:1"))
    entries.append(("init", stat.S_IFREG | 0o755, init.read_bytes()))
    names = []
    for path in module_order(kernel.modules, ROOT_MODULES):
        names.append(path.name)
        entries.append((f"modules/{path.name}", stat.S_IFREG | 0o644, path.read_bytes()))
    entries.append(
        ("modules.list", stat.S_IFREG | 0o644, "".join(n + "\n" for n in names).encode())
    )
    out.write_bytes(cpio_newc(entries))
    return out


def host_tsc_khz(cpuinfo: str) -> int | None:
    """The host TSC's rate in kHz from /proc/cpuinfo's text: its `cpu MHz` when the flags say
    the TSC is constant at a known rate (constant_tsc and tsc_known_freq), else None."""
    mhz: float | None = None
    flags: set[str] = set()
    for line in cpuinfo.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "cpu MHz" and mhz is None:
            mhz = float(value)
        elif key == "flags" and not flags:
            flags = set(value.split())
    if mhz is None or not {"constant_tsc", "tsc_known_freq"} <= flags:
        return None
    return round(mhz * 1000)


def cmdline(extra: tuple[str, ...] = ()) -> tuple[str, ...]:
    """CMDLINE with the host's TSC rate (tsc_early_khz=) when the host knows it, then `extra`."""
    khz = host_tsc_khz(Path("/proc/cpuinfo").read_text())
    rate = (f"tsc_early_khz={khz}",) if khz else ()
    return (*CMDLINE, *rate, *extra)


@dataclass
class Guest:
    """What a Linux-guest boot needs: the kernel, the initramfs and the extra command line."""

    kernel: Kernel
    initramfs: Path
    cmdline: tuple[str, ...] = field(default_factory=cmdline)


def prepare(cache: Path) -> Guest:
    """Fetches the kernel (first time only), builds /init and the initramfs."""
    kernel = fetch_kernel(cache)
    init = build_init(vm.repo_root(), cache / "init")
    return Guest(kernel, build_initramfs(kernel, init, cache / "initramfs.cpio"))


def qemu_command(
    guest: Guest, image: Path, memory_mib: int, accel: str, net: NetConfig | None, cpus: int = 1,
    disks: tuple[Path, ...] = (), extra_cmdline: tuple[str, ...] = (),
) -> list[str]:
    """The QEMU command line: lwjvm's machine (with ACPI's MADT for `cpus` above 1, as lwjvm
    boots it), accelerator and network with Linux and a disk; `disks` after the root image's
    (/dev/vdb on), with the drive options lwjvm gives its volumes (qemu.disk_args), and
    `extra_cmdline` appended to the kernel command line (lwjvm.volume=PATH: /init mounts
    /dev/vdb there)."""
    cmd = [
        qemu.find_qemu(), *qemu.machine_args(qemu.MACHINE_MICROVM, cpus), "-nodefaults",
        "-no-user-config", "-nographic", "-display", "none", "-no-reboot", "-smp", str(cpus),
        "-m", f"{memory_mib}M",
        *qemu.accel_args(accel),
        "-kernel", str(guest.kernel.vmlinuz), "-initrd", str(guest.initramfs),
        "-append", " ".join((*guest.cmdline, *extra_cmdline)),
        "-drive", f"file={image},if=none,id=root,format=raw,readonly=on",
        "-device", "virtio-blk-pci,drive=root",
        "-device", f"isa-debug-exit,iobase={qemu.DEBUG_EXIT_PORT:#x},iosize=4",
        "-chardev", "stdio,id=con,signal=off", "-serial", "chardev:con",
    ]  # fmt: skip
    cmd += qemu.disk_args(list(disks))
    if net is not None:
        cmd += net.qemu_args()
    return cmd


@dataclass
class Boot:
    """One boot: the console's bytes with the time (seconds after QEMU start) each chunk arrived,
    and when QEMU exited."""

    proc: subprocess.Popen[bytes]
    t0: float
    chunks: list[tuple[float, bytes]] = field(default_factory=list)
    hung: int = 0  # boots before this one that never reached /init
    t_exit: float | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _reader: threading.Thread | None = None

    def output(self) -> bytes:
        with self._lock:
            return b"".join(c for _, c in self.chunks)

    def time_of(self, needle: bytes) -> float | None:
        """Seconds after QEMU start when `needle` had arrived whole on the console."""
        seen = b""
        with self._lock:
            for t, chunk in self.chunks:
                seen += chunk
                if needle in seen:
                    return t
        return None

    def running(self) -> bool:
        return self._reader is not None and self._reader.is_alive()

    def wait_for(self, needle: bytes, timeout: float) -> float | None:
        """When `needle` arrived, waiting up to `timeout` seconds; None if it did not (or QEMU
        ended without it)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            t = self.time_of(needle)
            if t is not None or not self.running():
                return t if t is not None else self.time_of(needle)
            time.sleep(0.005)
        return None

    def wait(self, timeout: float) -> int | None:
        """QEMU's exit status, or None (and QEMU killed) if it has not ended within `timeout`."""
        assert self._reader is not None
        self._reader.join(timeout)
        if self._reader.is_alive():
            self.kill()
            return None
        return self.proc.returncode

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        if self._reader is not None:
            self._reader.join(10)

    def _read(self) -> None:
        assert self.proc.stdout is not None
        fd = self.proc.stdout.fileno()
        while data := os.read(fd, 65536):
            now = time.monotonic()
            with self._lock:
                self.chunks.append((now - self.t0, data))
        self.proc.wait()
        self.t_exit = time.monotonic() - self.t0
        self.proc.stdout.close()


def start(cmd: list[str]) -> Boot:
    """Starts QEMU with the console on a pipe read by a thread."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        preexec_fn=qemu.dies_with_us(),  # a bench killed mid-run leaves no QEMU
    )  # fmt: skip
    boot = Boot(proc, t0)
    boot._reader = threading.Thread(target=boot._read, daemon=True)
    boot._reader.start()
    return boot


def boot(cmd: list[str], init_timeout: float = 60.0, tries: int = 3) -> Boot:
    """Starts QEMU and waits for /init's first line. A boot still running without it after
    `init_timeout` seconds has hung: it is killed and started again, up to `tries` boots in all
    (`Boot.hung` counts them). A QEMU that ended before /init (a panic at low memory) is returned
    as it is. LwjvmError if every boot hung (with the last console output)."""
    hung = 0
    last = ""
    for _ in range(tries):
        b = start(cmd)
        b.hung = hung
        if b.wait_for(INIT_MARK, init_timeout) is not None or b.proc.poll() is not None:
            return b
        b.kill()
        hung += 1
        last = b.output()[-600:].decode(errors="replace")
    raise LwjvmError(f"the Linux guest never reached /init in {tries} boots; last console:\n{last}",
                     multiline=True)
