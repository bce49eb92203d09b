"""QEMU: the command line of one boot (VmConfig -> argv), its console file descriptors, and the
process (started in a session of its own, dying with lwjvm, stopped through QMP or signals).

What flows over the consoles, and what the kernel's records mean, is lwjvm/protocol.py's;
lwjvm/vm.py joins the two into a boot.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import shutil
import signal
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from lwjvm.errors import LwjvmError
from lwjvm.network import NetConfig

QEMU = "qemu-system-x86_64"
# (I/O base, IRQ) of COM1, COM2, COM3.
UARTS = ((0x3F8, 4), (0x2F8, 3), (0x3E8, 5))  # COM3 on IRQ 5 of its own: it receives
DEBUG_EXIT_PORT = 0xF4
BALLOON_ID = "balloon0"
BALLOON_QOM = f"/machine/peripheral/{BALLOON_ID}"  # its guest-stats properties (QMP qom-get)


def find_qemu() -> str:
    """The QEMU binary; LwjvmError if it is not installed."""
    q = shutil.which(QEMU)
    if q is None:
        raise LwjvmError(f"{QEMU} not found: install qemu-system-x86 (make setup)")
    return q


MACHINE_MICROVM = "microvm"
MACHINE_Q35 = "q35"
MACHINES = (MACHINE_MICROVM, MACHINE_Q35)


VIRTIO_VECTORS_ENV = "LWJVM_VIRTIO_VECTORS"


def virtio_vectors_from_env() -> int | None:
    """$LWJVM_VIRTIO_VECTORS as a number of MSI-X vectors (None if unset); LwjvmError if it is not
    a number from 0 to 64."""
    value = os.environ.get(VIRTIO_VECTORS_ENV)
    if value is None or value == "":
        return None
    if not value.isdigit() or int(value) > 64:
        raise LwjvmError(
            f"{VIRTIO_VECTORS_ENV}={value}: expected a number of MSI-X vectors, 0 to 64"
        )
    return int(value)


@dataclass
class VmConfig:
    """One boot: kernel, optional root image, memory, accelerator and kernel command line."""

    kernel: Path
    initrd: Path | None = None
    memory_mib: int = 128
    accel: str = "tcg"
    append: list[str] = field(default_factory=list)
    timeout: float | None = None
    # Seconds the program gets to stop after a signal was forwarded to it; None: no limit.
    stop_timeout: float | None = None
    net: NetConfig | None = None  # None: no network device
    machine: str = MACHINE_MICROVM
    virtio_console: bool = True  # stdout/stderr over virtio consoles (else the UARTs alone)
    qmp: Path | None = None  # a QMP server on this Unix socket path
    # An export region (docs/protocol.md section 7, lwjvm/guestrun.py): a host file the guest
    # writes one file into at exit; attached after the root image's device.
    export: Path | None = None
    # Raw disk files attached as virtio-blk-pci devices (the first is the guest's /dev/vda).
    disks: list[Path] = field(default_factory=list)
    cpus: int = 1  # virtual CPUs (QEMU's -smp)
    # Guest RAM backed by this file (lwjvm/snapshot.py): shared (MAP_SHARED) while a snapshot is
    # taken, so the file is the RAM; private (copy on write) when a snapshot is restored.
    ram_file: Path | None = None
    ram_shared: bool = False
    # Restore the snapshot whose device state is in this file (QEMU's -incoming); the root image
    # is then mapped private too, as QEMU restores only memory it does not share (x-ignore-shared).
    incoming: Path | None = None
    # MSI-X vectors of every virtio-pci device (QEMU's vectors=): None keeps QEMU's default (one
    # per queue and one for configuration changes); 0 gives devices without MSI-X, whose
    # interrupts the kernel takes through their INTx lines; 1 one vector shared by all queues.
    # For tests and by hand ($LWJVM_VIRTIO_VECTORS, docs/network.md "Interrupts").
    virtio_vectors: int | None = field(default_factory=virtio_vectors_from_env)
    # A virtio-balloon device (BALLOON_ID): the guest's memory figures through QMP (its
    # guest-stats), and memory the host can take back and give again (QMP `balloon`); the guest
    # takes pages back from it before running out of memory (deflate-on-oom).
    balloon: bool = False


def with_virtio_vectors(args: list[str], vectors: int | None) -> list[str]:
    """`args` with vectors=N added to each virtio-pci -device (none if `vectors` is None), but
    the balloon's: QEMU's virtio-balloon-pci has no MSI-X, and no such property."""
    if vectors is None:
        return args
    out = list(args)
    for i in range(1, len(out)):
        driver = out[i].split(",", 1)[0]
        if driver == "virtio-balloon-pci":
            continue
        if out[i - 1] == "-device" and driver.startswith("virtio-") and driver.endswith("-pci"):
            out[i] += f",vectors={vectors}"
    return out


def accel_args(accel: str) -> list[str]:
    """QEMU options for the accelerator: KVM with the host CPU, or multi-threaded TCG."""
    if accel == "kvm":
        return ["-accel", "kvm", "-cpu", "host,-arch-capabilities"]
    if accel == "tcg":
        return ["-accel", "tcg,thread=multi", "-cpu", "max"]
    raise LwjvmError(f"unknown accelerator {accel!r}: expected kvm or tcg")


def machine_args(machine: str, cpus: int = 1) -> list[str]:
    """QEMU's -M for a machine lwjvm boots: microvm with PCIe (no firmware: the kernel assigns the
    devices' addresses; with ACPI tables when there are several CPUs, for the MADT that lists
    them), or q35 (libvirt's and KubeVirt's PCI machine; SeaBIOS runs first)."""
    if machine == MACHINE_MICROVM:
        return ["-M", "microvm,pcie=on" + (",acpi=on" if cpus > 1 else "")]
    if machine == MACHINE_Q35:
        # SeaBIOS would print its banner on the first serial port: the program's stdout.
        return ["-M", "q35", "-fw_cfg", "name=etc/sercon-port,string=0"]
    raise LwjvmError(f"unknown machine {machine!r}: expected {', '.join(MACHINES)}")


_AIO: str | None = None


def disk_aio() -> str:
    """QEMU's asynchronous I/O for disks: io_uring where this host's kernel lets a process use it
    (one io_uring_setup probe, cached), else a thread pool."""
    global _AIO
    if _AIO is None:
        _AIO = "threads"
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            params = ctypes.create_string_buffer(120)
            fd = libc.syscall(425, 1, params)  # io_uring_setup(1, &params), x86_64
            if fd >= 0:
                os.close(fd)
                _AIO = "io_uring"
        except (OSError, AttributeError):
            pass
    return _AIO


def disk_args(disks: list[Path]) -> list[str]:
    """Each disk file as a raw virtio-blk-pci drive: cache=none (O_DIRECT on the host, so a
    guest FLUSH reaches the file's storage), io_uring where the host has it, and discard=unmap
    (a guest DISCARD punches a hole in the file: the volume gives back the blocks it frees)."""
    args: list[str] = []
    for i, path in enumerate(disks):
        args += [
            "-drive",
            f"file={path},if=none,id=disk{i},format=raw,cache=none,aio={disk_aio()},"
            "discard=unmap",
            "-device", f"virtio-blk-pci,drive=disk{i}",
        ]  # fmt: skip
    return args


def qemu_command(qemu: str, cfg: VmConfig, console_fds: list[int]) -> list[str]:
    """The QEMU command line; `console_fds` are QEMU's ends for COM1, COM2 (pipes) and COM3 (a
    socket: the kernel log out, control lines in)."""
    machine = machine_args(cfg.machine, cfg.cpus)
    if cfg.ram_file is not None:
        machine[1] += ",memory-backend=ram"
    cmd = [
        qemu, *machine, "-nodefaults", "-no-user-config", "-nographic",
        "-display", "none", "-no-reboot", "-smp", str(cfg.cpus), "-m", f"{cfg.memory_mib}M",
        *accel_args(cfg.accel),
        "-kernel", str(cfg.kernel),
    ]  # fmt: skip
    if cfg.ram_file is not None:
        cmd += [
            "-object", f"memory-backend-file,id=ram,mem-path={cfg.ram_file},"
            f"size={cfg.memory_mib}M,share={'on' if cfg.ram_shared else 'off'}",
        ]  # fmt: skip
    if cfg.initrd is not None:
        # The root image is the memory of an ivshmem device: the file mapped shared and read-only
        # (docs/protocol.md, section 1), so it costs no guest RAM and VMs share its page cache.
        # A restored VM maps it private (still read-only: the same page cache). master=on lets
        # QEMU save the VM (the device's memory is the file's, nothing to migrate).
        size = cfg.initrd.stat().st_size
        share = "off" if cfg.incoming is not None else "on"
        cmd += [
            "-object", f"memory-backend-file,id=rootimg,mem-path={cfg.initrd},size={size},"
            f"share={share},readonly=on",
            "-device", "ivshmem-plain,memdev=rootimg,master=on",
        ]  # fmt: skip
    if cfg.export is not None:
        size = cfg.export.stat().st_size
        cmd += [
            "-object", f"memory-backend-file,id=export,mem-path={cfg.export},size={size},share=on",
            "-device", "ivshmem-plain,memdev=export",
        ]  # fmt: skip
    if cfg.net is not None:
        cmd += cfg.net.qemu_args()
    # Entropy from the host for a CPU without RDRAND (QEMU reads its /dev/urandom).
    cmd += ["-device", "virtio-rng-pci"]
    cmd += disk_args(cfg.disks)
    if cfg.balloon:
        cmd += ["-device", f"virtio-balloon-pci,id={BALLOON_ID},deflate-on-oom=on"]
    if cfg.qmp is not None:
        cmd += ["-qmp", f"unix:{cfg.qmp},server=on,wait=off"]
    if cfg.incoming is not None:
        cmd += ["-incoming", "defer"]  # lwjvm/snapshot.py restores it through QMP
    cmd += ["-append", " ".join(cfg.append)]
    cmd += ["-device", f"isa-debug-exit,iobase={DEBUG_EXIT_PORT:#x},iosize=4"]
    for i, ((base, irq), fd) in enumerate(zip(UARTS, console_fds, strict=True), start=1):
        if i == 3:
            cmd += ["-chardev", f"socket,id=com{i},fd={fd}"]
        else:
            cmd += ["-chardev", f"file,id=com{i},path=/dev/fd/{fd}"]
        cmd += ["-device", f"isa-serial,chardev=com{i},iobase={base:#x},irq={irq}"]
    if cfg.virtio_console:
        # The program's stdout and stderr as virtio-serial ports on the same pipes as COM1 and
        # COM2 (docs/protocol.md, section 4): the kernel writes whole buffers instead of a UART
        # access per byte, and falls back to the UART if a device is missing. Port 1, a
        # virtserialport: QEMU throttles it when the pipe is full (a virtconsole drops bytes).
        for i, fd in enumerate(console_fds[:2]):
            cmd += [
                "-device", f"virtio-serial-pci,id=vser{i},max_ports=2",
                "-chardev", f"file,id=vcon{i},path=/dev/fd/{fd}",
                "-device", f"virtserialport,chardev=vcon{i},bus=vser{i}.0,nr=1,"
                f"name=lwjvm.{'stdout' if i == 0 else 'stderr'}",
            ]  # fmt: skip
    return with_virtio_vectors(cmd, cfg.virtio_vectors)


class Consoles:
    """The host ends (read) and QEMU ends of COM1, COM2, COM3 and QEMU's own stderr."""

    def __init__(self) -> None:
        self.child: list[int] = []
        self.ours: dict[int, str] = {}
        try:
            for name in ("com1", "com2"):
                r, w = os.pipe()
                self.ours[r] = name
                self.child.append(w)
            host, guest = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            host.setblocking(False)
            self.com3 = host.detach()
            self.ours[self.com3] = "com3"
            self.child.append(guest.detach())
            r, w = os.pipe()
            self.ours[r] = "qemu"
            self.qemu_w = w
        except BaseException:
            self.close()
            raise

    def close_child_ends(self) -> None:
        for fd in self.child + [self.qemu_w]:
            os.close(fd)
        self.child = []
        self.qemu_w = -1

    def close(self) -> None:
        for fd in self.child + list(self.ours) + [getattr(self, "qemu_w", -1)]:
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self.child = []
        self.ours = {}
        self.qemu_w = -1


def _find_prctl() -> Callable[..., int] | None:
    try:
        fn: Callable[..., int] = ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):
        return None
    return fn


_PRCTL = _find_prctl()  # looked up in the parent, so the child between fork and exec only calls it
PR_SET_PDEATHSIG = 1


def dies_with_us() -> Callable[[], None]:
    """A `preexec_fn` for a QEMU child that must not outlive this process (see below)."""
    return functools.partial(_die_with_parent, os.getpid())


def _die_with_parent(parent: int) -> None:
    """In the QEMU child: ask Linux to SIGKILL it if lwjvm dies (prctl PR_SET_PDEATHSIG). If
    lwjvm (pid `parent`) died between the fork and the prctl, nobody is left to kill it: go now."""
    if _PRCTL is not None:
        _PRCTL(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0)
    if os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGKILL)


def stop(proc: subprocess.Popen[bytes], quit: Callable[[], bool] | None = None) -> None:
    """Stops QEMU: `quit` (QMP) if given, else or if it did not work SIGTERM, then SIGKILL if it
    has not gone within a second."""
    if proc.poll() is not None:
        return
    if quit is not None:
        with contextlib.suppress(Exception):
            if quit():
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=2.0)
                    return
    try:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=1.0)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def start(cmd: list[str], cons: Consoles) -> subprocess.Popen[bytes]:
    """Starts QEMU with `cmd` (from qemu_command with `cons.child`): its stdout and stderr into
    `cons`, in a session of its own (the terminal's Ctrl-C reaches lwjvm only), killed by Linux
    if lwjvm dies. LwjvmError if it cannot be started."""
    try:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=cons.qemu_w,
            stderr=cons.qemu_w,
            pass_fds=cons.child,
            start_new_session=True,
            preexec_fn=dies_with_us(),
        )
    except OSError as e:
        raise LwjvmError(f"cannot start {cmd[0]}: {e.strerror}") from None
    cons.close_child_ends()
    return proc
