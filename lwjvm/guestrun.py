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

import http.client
import io
import signal
import struct
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from lwjvm import accel, bootconf, image, network, qemu, vm
from lwjvm.errors import LwjvmError

if TYPE_CHECKING:
    from lwjvm.manifest import Manifest

EXPORT_MAGIC = 0x3158455F4D564A4C  # "LJVM_EX1", as kernel/core/export.c
EXPORT_DATA = 4096
EXPORT_PATH_MAX = 240
EXPORT_SIZE = 256 << 20  # a power of two (ivshmem); sparse: only what the guest writes is stored
_STATUS = {0: "the kernel never wrote it", 2: "no such regular file", 3: "larger than 256 MiB",
           4: "a read error"}  # fmt: skip
STOP_GRACE_S = 20.0
TRAFFIC_ROUNDS = 3  # each path is asked this many times: the first answer loads, later ones warm


@dataclass(frozen=True)
class Traffic:
    """Requests a training run sends the app (manifest jvm.cds.requests), so that what a request
    loads is recorded too: GET each path on guest port `port`, from the host, through a forward.
    The run is stopped once every path has answered TRAFFIC_ROUNDS times, not at its timeout."""

    port: int
    paths: tuple[str, ...]

    def describe(self) -> str:
        return f"GET {', '.join(self.paths)} on port {self.port}"


def traffic_of(m: Manifest) -> Traffic | None:
    """The requests the manifest's training runs are sent (Manifest.training_requests)."""
    req = m.training_requests()
    return Traffic(req[0], tuple(req[1])) if req else None


def send_traffic(traffic: Traffic, host_port: int, deadline: float, done: threading.Event,
                 answered: list[str], rounds: int = TRAFFIC_ROUNDS) -> None:  # fmt: skip
    """Waits for the app to answer on the forward, then asks every path `rounds` times;
    `answered` gets one line per answer. Sets `done` when it is through (or at the deadline)."""
    try:
        for _ in range(rounds):
            for path in traffic.paths:
                while time.monotonic() < deadline and not done.is_set():
                    conn = http.client.HTTPConnection("127.0.0.1", host_port, timeout=10)
                    try:
                        conn.request("GET", path, headers={"User-Agent": "lwjvm-training"})
                        resp = conn.getresponse()
                        resp.read()
                        answered.append(f"{path} {resp.status}")
                        break
                    except (OSError, http.client.HTTPException):
                        time.sleep(0.05)  # not listening yet: QEMU closes the forward at once
                    finally:
                        conn.close()
    finally:
        done.set()


def summarize_answers(answered: list[str] | tuple[str, ...]) -> str:
    """The answers of send_traffic ("PATH STATUS" each) counted: "/ 200 x3, /health 200 x3"."""
    counts: dict[str, int] = {}
    for a in answered:
        counts[a] = counts.get(a, 0) + 1
    return ", ".join(f"{a} x{n}" for a, n in counts.items())


@dataclass(frozen=True)
class GuestRun:
    """How a build-time run in the guest ended, and the file it handed back (None: none)."""

    returncode: int
    stdout: bytes
    stderr: bytes
    stopped: bool
    exported: bytes | None
    export_problem: str | None
    answered: tuple[str, ...] = ()  # the training requests answered: "PATH STATUS" each
    served: bool = False  # every training request was answered, and then the run was stopped

    def ended(self, stop_after: float | None) -> str:
        """How the run ended, in a few words (for image.json and inspect)."""
        if self.served:
            said = summarize_answers(self.answered)
            return f"stopped after serving {len(self.answered)} requests ({said})"
        tail = f", {len(self.answered)} requests answered" if self.answered else ""
        if self.stopped:
            return f"stopped after {stop_after:g}s{tail}"
        return f"exit {self.returncode}{tail}"


def unavailable() -> str | None:
    """None if build-time runs can boot the guest here, else why not."""
    try:
        vm.find_kernel()
        qemu.find_qemu()
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
    traffic: Traffic | None = None,
) -> GuestRun:
    """Boots the tree `root` as a root image running `argv` (argv[0] the program) with exactly
    `env` in `cwd`, and returns how it ended and the guest file `export` as it was at the exit.

    The program gets SIGTERM after `stop_after` seconds (the JVM runs its shutdown hooks and
    exits, which is when the file is handed back) and the VM is killed STOP_GRACE_S later; the
    whole boot is killed after `timeout`. Writes the boot configuration into `root`. `kernel`:
    the image's kernel, else this tree's (vm.find_kernel). With `traffic`, the guest gets QEMU's
    user network and the program is stopped as soon as the requests are answered (GuestRun's
    `answered`), `stop_after` at the latest.
    """
    kernel = kernel or vm.find_kernel()
    net = None
    host_port = 0
    if traffic is not None:
        host_port = network.free_port()
        net = network.NetConfig(ports=(network.PortMap(host_port, traffic.port),))
    conf = bootconf.BootConfig.make(
        argv[0], argv, [f"{k}={v}" for k, v in env.items()], cwd,
        network.boot_keys("lwjvm-training") if net else None,
    )  # fmt: skip
    staged = image.Staging(root)
    staged.stage_bytes(conf.render(), bootconf.PATH)
    with tempfile.TemporaryDirectory(prefix="lwjvm-guestrun-") as td:
        img = Path(td) / "root.img"
        image.build_image(root, img)
        region = Path(td) / "export"
        prepare_export(region, export)
        cfg = qemu.VmConfig(
            kernel=kernel,
            initrd=img,
            memory_mib=memory_mib,
            accel=accel.choose(kernel, quiet=True),
            append=["lwjvm.quiet=1"],
            timeout=timeout,
            stop_timeout=STOP_GRACE_S,
            export=region,
            net=net,
        )
        out, err = io.BytesIO(), io.BytesIO()
        control = vm.VmControl()
        stopped = threading.Event()

        def stop() -> None:
            stopped.set()
            control.signal(signal.SIGTERM, STOP_GRACE_S)

        timer = threading.Timer(stop_after, stop) if stop_after is not None else None
        answered: list[str] = []
        served = threading.Event()
        done = threading.Event()
        sender = None
        if traffic is not None:
            limit = time.monotonic() + (stop_after if stop_after is not None else timeout)

            def drive() -> None:
                send_traffic(traffic, host_port, limit, done, answered)
                if len(answered) == TRAFFIC_ROUNDS * len(traffic.paths) and not stopped.is_set():
                    served.set()
                    stop()

            sender = threading.Thread(target=drive, daemon=True)
        try:
            if timer is not None:
                timer.daemon = True
                timer.start()
            if sender is not None:
                sender.start()
            result = vm.run_vm(cfg, out, err, control=control)
        finally:
            if timer is not None:
                timer.cancel()
            if sender is not None:
                done.set()
                sender.join()
            control.close()
        data, problem = collect_export(region)
    return GuestRun(
        result.exit_code, out.getvalue(), err.getvalue(), stopped.is_set(), data, problem,
        tuple(answered), served.is_set(),
    )  # fmt: skip
