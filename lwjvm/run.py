"""`lwjvm run`: bring the image up to date, boot it in the foreground, exit with the app's code.

The image lives in the build directory (`build/NAME`, as `lwjvm build` writes it) and is rebuilt
when what it was built from changed (lwjvm/uptodate.py); the boot takes everything from its
descriptor (lwjvm/descriptor.py) and the command's options.

Failures of the guest become one line on stderr and a distinct exit code (docs/protocol.md,
section 5): a kernel panic (123), a JVM crash (134, the hs_err report above on the console), the VM
out of memory (137), a guest killed while stopping (121), plus the program's own code with the
system calls the kernel lacked named when the program failed.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lwjvm import accel, descriptor, network, protocol, qemu, snapshot, uptodate, vm
from lwjvm import build as build_mod
from lwjvm import manifest as manifest_mod
from lwjvm.errors import LwjvmError

OUTPUT_TAIL = 1 << 16  # the end of the app's output kept for protocol.explain (hs_err)


@dataclass
class RunRequest:
    """Everything `lwjvm run` was asked to do."""

    manifest: Path
    args: list[str] | None = None  # replaces app.args when given
    output: Path | None = None
    memory: str | None = None  # overrides vm.memory for this boot
    cpus: int | None = None  # overrides vm.cpus for this boot
    accel: str | None = None
    timeout: float | None = None
    stop_timeout: float = vm.STOP_TIMEOUT_S
    verbose: bool = False
    quiet: bool = False
    kernel_args: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)  # -p [ADDR:]HOST:GUEST, added to vm.ports
    debug: int | None = None  # --debug[=PORT]: the JDWP agent on PORT, forwarded from 127.0.0.1
    jmx: int | None = None  # --jmx[=PORT]: the JMX agent on PORT, forwarded from 127.0.0.1
    # --allow-outside PATH: files the manifest may name outside its directory
    allow_outside: list[Path] = field(default_factory=list)


@dataclass
class RunResult:
    """How the run went: the exit code lwjvm ends with, the cause line if it failed, the boot."""

    exit_code: int
    cause: str | None
    rebuilt: bool
    out_dir: Path
    memory_mib: int
    accel: str
    vm: vm.VmResult


class _Tee:
    """A binary stream that writes through to `sink` and keeps the last OUTPUT_TAIL bytes."""

    def __init__(self, sink: BinaryIO) -> None:
        self.sink = sink
        self.tail = bytearray()

    def write(self, data: bytes) -> int:
        self.sink.write(data)
        self.tail += data
        if len(self.tail) > OUTPUT_TAIL:
            del self.tail[: len(self.tail) - OUTPUT_TAIL]
        return len(data)

    def flush(self) -> None:
        self.sink.flush()

    def fileno(self) -> int:
        return self.sink.fileno()


def run_app(
    req: RunRequest, stdout: BinaryIO | None = None, stderr: BinaryIO | None = None
) -> RunResult:
    """Builds the image if stale and boots it; LwjvmError for bad input or a missing tool.

    The guest's stdout and stderr go to `stdout` and `stderr` (default: ours) as they arrive.
    Guest failures are not raised: they are in `RunResult.cause` and `exit_code`.
    """
    if req.timeout is not None and req.timeout <= 0:
        raise LwjvmError(f"bad --timeout {req.timeout:g}: must be positive")
    if req.stop_timeout <= 0:
        raise LwjvmError(f"bad --stop-timeout {req.stop_timeout:g}: must be positive")
    for word in req.kernel_args:
        if not word or any(c.isspace() for c in word):
            raise LwjvmError(f"bad --kernel-arg {word!r}: one word without spaces")
    override_mib = vm.parse_memory(req.memory) if req.memory is not None else None
    extra_ports = [network.parse_port(p) for p in req.ports]
    extra = uptodate.agent_extras(req.debug, req.jmx, extra_ports)
    kernel = vm.find_kernel()
    qemu.find_qemu()
    m = manifest_mod.load(req.manifest, req.allow_outside)
    out_dir = req.output or build_mod.default_output(m)
    err_stream = stderr if stderr is not None else sys.stderr.buffer
    with uptodate.up_to_date_image(
        m, out_dir, req.args, kernel, req.quiet, err_stream, extra
    ) as rebuilt:
        return _boot(req, out_dir, rebuilt, override_mib, extra_ports, stdout, err_stream)


def net_config(
    plan: descriptor.VmPlan, name: str, extra_ports: list[network.PortMap]
) -> network.NetConfig | None:
    """The network of a boot of an image planned as `plan` as VM `name`: its network and ports
    with `extra_ports` (-p) added; None for vm.network: none. LwjvmError for -p without one."""
    if plan.network == network.NETWORK_NONE:
        if extra_ports:
            raise LwjvmError("-p needs a network, and the manifest says vm.network: none")
        return None
    if plan.tap is not None:
        if extra_ports:
            raise LwjvmError(
                f"-p, --debug and --jmx forward ports of QEMU's user network; with vm.network: "
                f"tap the guest is reached at its own address, {plan.tap.ip}"
            )
        return network.NetConfig(plan.network, (), network.mac_for(name), plan.tap.device)
    ports = [network.parse_port(p, "vm.ports") for p in plan.ports]
    ports = network.merge_ports(ports, extra_ports)
    return network.NetConfig(plan.network, tuple(ports), network.mac_for(name))


def _boot(
    req: RunRequest,
    out_dir: Path,
    rebuilt: bool,
    override_mib: int | None,
    extra_ports: list[network.PortMap],
    stdout: BinaryIO | None,
    err_stream: BinaryIO,
) -> RunResult:
    desc = descriptor.ImageDescriptor.read(out_dir)
    net = net_config(desc.vm, desc.name, extra_ports)
    if net is not None:
        network.check_free(list(net.ports))
    memory_mib = override_mib or desc.vm.memory_mib
    chosen = accel.choose(out_dir / build_mod.KERNEL, req.accel)
    append = [] if req.verbose else ["lwjvm.quiet=1"]
    append += req.kernel_args
    from lwjvm import state, volume

    disks, words = volume.attach(state.default_root(), desc.vm.volumes)
    append += words
    cfg = qemu.VmConfig(
        kernel=out_dir / build_mod.KERNEL,
        initrd=out_dir / build_mod.ROOT_IMAGE,
        memory_mib=memory_mib,
        accel=chosen,
        append=append,
        timeout=req.timeout,
        stop_timeout=req.stop_timeout,
        net=net,
        disks=disks,
        cpus=req.cpus or desc.vm.cpus,
        balloon=True,  # as deploy: a warm snapshot restores only into the same devices
    )
    snap, why_not = snapshot.choose(out_dir, desc, cfg)
    if snap is not None:
        cfg = snapshot.restore_config(cfg, out_dir, snap)
        if not req.quiet:
            err_stream.write(f"lwjvm: restoring the warm snapshot ({snap.served})\n".encode())
    elif why_not and not req.quiet:
        err_stream.write(
            f"lwjvm: booting cold: the warm snapshot does not fit ({why_not})\n".encode()
        )
    out = _Tee(stdout if stdout is not None else sys.stdout.buffer)
    err = _Tee(err_stream)
    result = vm.run_vm(cfg, out, err, live_log=req.verbose)  # type: ignore[arg-type]
    if req.verbose and result.qemu_stderr.strip():
        err_stream.write(result.qemu_stderr.encode())
    tail = bytes(out.tail) + bytes(err.tail)
    code, cause = protocol.explain(
        result, tail, memory_mib, req.timeout, req.stop_timeout, override_mib is not None
    )
    return RunResult(code, cause, rebuilt, out_dir, memory_mib, chosen, result)
