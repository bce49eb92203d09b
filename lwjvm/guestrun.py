"""Running the application at build time inside the guest, never on the host.

lwjvm build runs the app twice before the image is final: the module training run (which JDK
modules does it load?) and the class-data training run and dump. Both run the user's code (or
parse its classes), so both run in a VM on our kernel, like the app itself: the VM boundary is the
isolation boundary. A run boots a temporary root image made from a staged tree with a boot
configuration for the command, and gets one file back through the export region
(docs/protocol.md section 7): a second ivshmem device, a sparse host file the kernel copies the
named guest file into when the program exits. What comes back is the guest's output: it is only
ever stored or parsed as text, never run on the host.
"""

from __future__ import annotations

import io
import signal
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from lwjvm import accel, bootconf, image, vm
from lwjvm.errors import LwjvmError

EXPORT_MAGIC = 0x3158455F4D564A4C  # "LJVM_EX1", as kernel/core/export.c
EXPORT_DATA = 4096
EXPORT_PATH_MAX = 240
EXPORT_SIZE = 256 << 20  # a power of two (ivshmem); sparse: only what the guest writes is stored
_STATUS = {0: "the kernel never wrote it", 2: "no such regular file", 3: "larger than 256 MiB",
           4: "a read error"}  # fmt: skip
STOP_GRACE_S = 20.0


@dataclass(frozen=True)
class GuestRun:
    """How a build-time run in the guest ended, and the file it handed back (None: none)."""

    returncode: int
    stdout: bytes
    stderr: bytes
    stopped: bool
    exported: bytes | None
    export_problem: str | None


def unavailable() -> str | None:
    """None if build-time runs can boot the guest here, else why not."""
    try:
        vm.find_kernel()
        vm.find_qemu()
    except LwjvmError as e:
        return str(e)
    return None


def prepare_export(path: Path, guest_file: str) -> None:
    """A sparse export region at `path` asking for `guest_file`."""
    name = guest_file.encode()
    if len(name) >= EXPORT_PATH_MAX or b"\0" in name:
        raise LwjvmError(f"cannot export {guest_file!r}: the name is too long")
    with open(path, "wb") as f:
        f.truncate(EXPORT_SIZE)
        f.write(struct.pack("<Q", EXPORT_MAGIC) + name.ljust(EXPORT_PATH_MAX, b"\0"))


def collect_export(path: Path) -> tuple[bytes | None, str | None]:
    """(the exported bytes, None), or (None, why not) from an export region after the boot."""
    with open(path, "rb") as f:
        header = f.read(8 + EXPORT_PATH_MAX + 16)
        status, _reserved, length = struct.unpack_from("<IIQ", header, 8 + EXPORT_PATH_MAX)
        if status != 1:
            return None, _STATUS.get(status, f"status {status}")
        if length > EXPORT_SIZE - EXPORT_DATA:
            return None, f"a length of {length} bytes does not fit the region"
        f.seek(EXPORT_DATA)
        data = f.read(length)
    return data, None


def run_in_guest(
    root: Path,
    argv: list[str],
    env: dict[str, str],
    cwd: str,
    export: str,
    memory_mib: int,
    stop_after: float | None = None,
    timeout: float = 900.0,
    kernel: Path | None = None,
) -> GuestRun:
    """Boots the tree `root` as a root image running `argv` (argv[0] the program) with exactly
    `env` in `cwd`, and returns how it ended and the guest file `export` as it was at the exit.

    The program gets SIGTERM after `stop_after` seconds (the JVM runs its shutdown hooks and
    exits, which is when the file is handed back) and the VM is killed STOP_GRACE_S later; the
    whole boot is killed after `timeout`. Writes the boot configuration into `root`. `kernel`:
    the image's kernel, else this tree's (vm.find_kernel).
    """
    kernel = kernel or vm.find_kernel()
    conf = bootconf.BootConfig.make(argv[0], argv, [f"{k}={v}" for k, v in env.items()], cwd)
    staged = image.Staging(root)
    staged.stage_bytes(conf.render(), bootconf.PATH)
    with tempfile.TemporaryDirectory(prefix="lwjvm-guestrun-") as td:
        img = Path(td) / "root.img"
        image.build_image(root, img)
        region = Path(td) / "export"
        prepare_export(region, export)
        cfg = vm.VmConfig(
            kernel=kernel,
            initrd=img,
            memory_mib=memory_mib,
            accel=accel.choose(kernel, quiet=True),
            append=["lwjvm.quiet=1"],
            timeout=timeout,
            stop_timeout=STOP_GRACE_S,
            export=region,
        )
        out, err = io.BytesIO(), io.BytesIO()
        control = vm.VmControl()
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            control.signal(signal.SIGTERM, STOP_GRACE_S)

        timer = threading.Timer(stop_after, stop) if stop_after is not None else None
        try:
            if timer is not None:
                timer.daemon = True
                timer.start()
            result = vm.run_vm(cfg, out, err, control=control)
        finally:
            if timer is not None:
                timer.cancel()
            control.close()
        data, problem = collect_export(region)
    return GuestRun(
        result.exit_code, out.getvalue(), err.getvalue(), stopped.is_set(), data, problem
    )
