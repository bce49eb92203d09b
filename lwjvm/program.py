"""`lwjvm exec`: run one host ELF program in the guest and give back its exit code.

The program goes into a fresh root image at /bin/<basename> (a dynamic one with its interpreter
and libraries at their host paths), with the `--add` files and a boot.conf holding argv (argv[0]
exactly as the user typed the program), exactly the `--env` entries (nothing else: no PATH, no
HOME) and cwd /. Then the kernel boots it under the accelerator `accel.choose` picks.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from lwjvm import accel, bootconf, elfinfo, vm
from lwjvm.errors import EXIT_NO_RECORD, EXIT_PANIC, EXIT_TIMEOUT, LwjvmError
from lwjvm.image import Staging, build_image


@dataclass
class ExecRequest:
    """Everything `lwjvm exec` was asked to do."""

    program: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    memory: str = "128M"
    trace_syscalls: bool = False
    accel: str | None = None
    timeout: float | None = None
    verbose: bool = False
    kernel_args: list[str] = field(default_factory=list)


@dataclass
class ExecResult:
    """The guest's outcome and how long the two host-side steps took (seconds)."""

    exit_code: int
    image_build_s: float
    vm: vm.VmResult
    accel: str


def parse_env(entry: str) -> str:
    """Checks one --env entry, NAME=VALUE with a non-empty NAME."""
    name, eq, _ = entry.partition("=")
    if not eq or not name:
        raise LwjvmError(f"bad --env {entry!r}: expected NAME=VALUE")
    return entry


def parse_add(spec: str) -> tuple[Path, str]:
    """Splits an --add HOSTPATH:GUESTPATH at its last colon; the guest path must be absolute."""
    host, sep, guest = spec.rpartition(":")
    if not sep or not host or not guest.startswith("/"):
        raise LwjvmError(f"bad --add {spec!r}: expected HOSTPATH:/GUEST/PATH")
    p = Path(host)
    if not p.exists():
        raise LwjvmError(f"--add {spec}: {host}: no such file or directory")
    return p, guest


def find_program(typed: str) -> Path:
    """The host file for PROGRAM: a path if it has a slash, else looked up in PATH (as a shell)."""
    if "/" in typed:
        return Path(typed)
    found = shutil.which(typed)
    if found is None:
        hint = f" (use ./{typed})" if Path(typed).exists() else ""
        raise LwjvmError(f"{typed}: not found in PATH{hint}")
    return Path(found)


def stage_program(staging: Staging, req: ExecRequest, prog: elfinfo.ElfProgram) -> str:
    """Stages the program, its libraries, the --add files and boot.conf; returns the exec path."""
    guest_exec = f"/bin/{prog.path.name}"
    for dep in elfinfo.dependencies(prog):
        staging.stage_host_file(dep.links, dep.real)
    staging.stage_file(prog.path, guest_exec)
    for spec in req.adds:
        host, guest = parse_add(spec)
        staging.stage(host, guest)
    conf = bootconf.BootConfig.make(
        exec=guest_exec, argv=[req.program, *req.args], env=req.env, cwd="/"
    )
    staging.stage_bytes(conf.render(), bootconf.PATH)
    return guest_exec


def exec_program(
    req: ExecRequest, stdout: BinaryIO | None = None, stderr: BinaryIO | None = None
) -> ExecResult:
    """Runs the request; LwjvmError for bad input, a missing tool, a panic, timeout or lost VM.

    The guest's stdout and stderr go to `stdout` and `stderr` (default: ours) as they arrive.
    """
    memory_mib = vm.parse_memory(req.memory)
    env = [parse_env(e) for e in req.env]
    req.env = env
    for spec in req.adds:
        parse_add(spec)
    for word in req.kernel_args:
        if not word or any(c.isspace() for c in word):
            raise LwjvmError(f"bad --kernel-arg {word!r}: one word without spaces")
    if req.timeout is not None and req.timeout <= 0:
        raise LwjvmError(f"bad --timeout {req.timeout}: must be positive")
    prog = elfinfo.check_program(find_program(req.program))
    kernel = vm.find_kernel()
    vm.find_qemu()

    with tempfile.TemporaryDirectory(prefix="lwjvm-exec-") as td:
        t0 = time.monotonic()
        staging = Staging(Path(td) / "root")
        stage_program(staging, req, prog)
        image = Path(td) / "root.img"
        build_image(staging.root, image)
        image_s = time.monotonic() - t0

        chosen = accel.choose(kernel, req.accel)
        append = []
        if req.trace_syscalls:
            append.append("lwjvm.trace=1")
        if not req.verbose:
            append.append("lwjvm.quiet=1")
        append += req.kernel_args
        cfg = vm.VmConfig(
            kernel=kernel,
            initrd=image,
            memory_mib=memory_mib,
            accel=chosen,
            append=append,
            timeout=req.timeout,
        )
        result = vm.run_vm(cfg, stdout, stderr, live_log=req.verbose or req.trace_syscalls)

    if result.outcome == vm.OUTCOME_PANIC:
        raise LwjvmError("the guest kernel panicked (see the kernel log above)", EXIT_PANIC)
    if result.outcome == vm.OUTCOME_TIMEOUT:
        raise LwjvmError(f"the guest did not finish within {req.timeout:g} s; killed", EXIT_TIMEOUT)
    if result.outcome == vm.OUTCOME_NO_RECORD:
        qemu_said = result.qemu_stderr.strip().splitlines()
        detail = f": {qemu_said[-1]}" if qemu_said else ""
        if req.verbose and qemu_said:
            sys.stderr.write(result.qemu_stderr)
        raise LwjvmError(
            f"the VM stopped without an exit record (QEMU status {result.qemu_status}){detail}",
            EXIT_NO_RECORD,
        )
    return ExecResult(result.exit_code, image_s, result, chosen)
