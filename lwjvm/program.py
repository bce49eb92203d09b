"""`lwjvm exec`: run one host ELF program in the guest and give back its exit code.

The program goes into a fresh root image at its own absolute host path (with the symlinks that
lead to it; a dynamic one with its interpreter and libraries at their host paths), with the `--add`
files and the libraries their ELF files need, and a boot.conf holding argv (argv[0] exactly as the
user typed the program), exactly the `--env` entries (nothing else: no PATH, no HOME) and the
working directory (the host's, created in the image). exec is what a shell would pass to execve:
the path as typed, or the PATH hit; so argv[0], AT_EXECFN, /proc/self/exe and the file agree as on
Linux. Then the kernel boots it under the accelerator `accel.choose` picks.
"""

from __future__ import annotations

import os
import posixpath
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import BinaryIO

from lwjvm import accel, bootconf, elfinfo, network, protocol, qemu, vm
from lwjvm.errors import EXIT_NO_RECORD, EXIT_PANIC, EXIT_TIMEOUT, LwjvmError
from lwjvm.image import Staging, build_image

# Guest RAM costs host memory only when touched; README.md (lwjvm exec) has the boot cost.
DEFAULT_MEMORY = "1G"


@dataclass
class ExecRequest:
    """Everything `lwjvm exec` was asked to do."""

    program: str
    args: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    adds: list[str] = field(default_factory=list)
    memory: str = DEFAULT_MEMORY
    trace_syscalls: bool = False
    accel: str | None = None
    timeout: float | None = None
    verbose: bool = False
    kernel_args: list[str] = field(default_factory=list)
    # Host ports forwarded into the guest ([ADDR:]HOST:GUEST): the VM gets a network device.
    ports: list[str] = field(default_factory=list)
    machine: str = qemu.MACHINE_MICROVM
    disks: list[str] = field(default_factory=list)  # raw disk files: /dev/vda, ...
    cpus: int = 1
    workdir: str | None = None  # default: the host's working directory
    warn: Callable[[str], None] | None = None  # one line per warning (default: our stderr)


@dataclass
class ExecResult:
    """The guest's outcome and how long the two host-side steps took (seconds)."""

    exit_code: int
    image_build_s: float
    vm: vm.VmResult
    accel: str

    @property
    def cause(self) -> str | None:
        """The one-line cause of a failure the exit code does not explain, or None."""
        log = self.vm.log
        if self.exit_code != 0 and log is not None and log.process_refused:
            return (
                f"the program exited with {self.exit_code} after it tried to start a process "
                f"({log.process_refused}); a lwjvm VM runs one process, so fork, vfork and "
                "posix_spawn fail with EPERM"
            )
        return None


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


# Where the kernel mounts its own filesystems: what the image holds there is hidden. (/tmp is a
# tmpfs too, but the kernel copies the image's /tmp into it at boot.)
HIDDEN_BY_MOUNTS = ("/proc", "/sys", "/dev")
MAX_LINKS = 40


def _warn(req: ExecRequest, text: str) -> None:
    if req.warn is not None:
        req.warn(text)
    else:
        sys.stderr.write(f"lwjvm: warning: {text}\n")


def place(staging: Staging, guest: str) -> str:
    """`guest` with the symlinks among its directories resolved in the image, so a file can be
    staged there. A directory that is a symlink on the host (/lib -> usr/lib) and not yet in the
    image is made the same symlink first, as the host has it."""
    parts = list(PurePosixPath(posixpath.normpath(guest)).parts[1:])
    cur = "/"
    links = 0
    i = 0
    while i < len(parts) - 1:
        nxt = posixpath.join(cur, parts[i])
        staged = staging.host_path(nxt)
        if not staged.is_symlink() and not staged.exists() and os.path.islink(nxt):
            staging.stage_symlink(os.readlink(nxt), nxt)
        if staged.is_symlink():
            links += 1
            if links > MAX_LINKS:
                raise LwjvmError(f"{guest}: too many levels of symbolic links in the image")
            target = os.readlink(staged)
            base = "/" if target.startswith("/") else cur
            rest = parts[i + 1 :]
            parts = list(PurePosixPath(posixpath.normpath(posixpath.join(base, target))).parts[1:])
            parts += rest
            cur, i = "/", 0
            continue
        cur = nxt
        i += 1
    return posixpath.join(cur, parts[-1]) if parts else "/"


def _elf_files(host: Path) -> list[Path]:
    """The ELF files at `host` (a file, or every file of a tree; symlinks not followed)."""
    candidates = [host] if host.is_file() else sorted(p for p in host.rglob("*") if p.is_file())
    out = []
    for p in candidates:
        if p.is_symlink():
            continue
        try:
            with open(p, "rb") as f:
                if f.read(4) == b"\x7fELF":
                    out.append(p)
        except OSError:
            continue
    return out


def library_needs(files: list[Path]) -> tuple[list[str], dict[str, list[str]]]:
    """The host libraries that the ELF `files` load (ldd, in batches), and those the host lacks
    (library name -> the files that want it)."""
    ldd = shutil.which("ldd")
    if ldd is None:
        raise LwjvmError("ldd not found: install libc-bin")
    found: list[str] = []
    missing: dict[str, list[str]] = {}
    for start in range(0, len(files), 64):
        batch = files[start : start + 64]
        proc = subprocess.run(
            [ldd, *map(str, batch)], capture_output=True, text=True, errors="replace"
        )
        current = str(batch[0])
        for line in proc.stdout.splitlines():
            if len(batch) > 1 and not line.startswith(("\t", " ")) and line.endswith(":"):
                current = line[:-1]
                continue
            if "=> not found" in line:
                missing.setdefault(line.split("=>")[0].strip(), []).append(current)
            elif "not a dynamic executable" not in line and "statically linked" not in line:
                found += elfinfo.parse_ldd(line)
    return list(dict.fromkeys(found)), missing


def stage_program(staging: Staging, req: ExecRequest, prog: elfinfo.ElfProgram) -> str:
    """Stages the program, its libraries, the --add files and their libraries, the working
    directory and boot.conf; returns the path exec is given."""
    host_cwd = os.getcwd()
    workdir = posixpath.normpath(req.workdir or host_cwd)
    if not workdir.startswith("/"):
        raise LwjvmError(f"bad --workdir {req.workdir!r}: must be an absolute path")
    guest_prog = os.path.abspath(prog.path)
    for dep in elfinfo.dependencies(prog):
        staging.stage_host_file(dep.links, dep.real)
    chain = elfinfo.resolve_chain(guest_prog)
    staging.stage_host_file(chain.links, chain.real)
    # A shell passes execve the path as typed (relative to its directory) or the PATH hit.
    typed_relative = "/" in req.program and not req.program.startswith("/")
    exec_path = req.program if typed_relative and workdir == host_cwd else guest_prog
    added: list[Path] = []
    for spec in req.adds:
        host, guest = parse_add(spec)
        for mount in HIDDEN_BY_MOUNTS:
            if guest == mount or guest.startswith(mount + "/"):
                _warn(req, f"--add {spec}: the kernel mounts {mount} over it at boot; "
                      "the program will not see it")  # fmt: skip
        staging.stage(host, place(staging, guest))
        added += _elf_files(host)
    if added:
        libs, missing = library_needs(added)
        for lib in libs:
            dep = elfinfo.resolve_chain(lib)
            staging.stage_host_file(dep.links, dep.real)
        for name, users in sorted(missing.items()):
            more = f" and {len(users) - 1} more" if len(users) > 1 else ""
            _warn(req, f"{name} is not on this host (wanted by {users[0]}{more}); left out")
    staging.mkdir(place(staging, workdir) if workdir != "/" else "/")
    conf = bootconf.BootConfig.make(
        exec=exec_path,
        argv=[req.program, *req.args],
        env=req.env,
        cwd=workdir,
        net=network.boot_keys("lwjvm") if req.ports else None,
    )
    staging.stage_bytes(conf.render(), bootconf.PATH)
    return exec_path


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
    ports = [network.parse_port(p) for p in req.ports]
    network.check_free(ports)
    net = network.NetConfig(network.NETWORK_USER, tuple(ports)) if ports else None
    disks = [Path(d).resolve() for d in req.disks]
    for d in disks:
        if not d.is_file():
            raise LwjvmError(f"--disk {d}: no such file (create it, e.g. truncate -s 64M {d})")
    if req.machine not in qemu.MACHINES:
        raise LwjvmError(f"unknown machine {req.machine!r}: expected {', '.join(qemu.MACHINES)}")
    prog = elfinfo.check_program(find_program(req.program))
    kernel = vm.find_kernel()
    qemu.find_qemu()

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
        cfg = qemu.VmConfig(
            kernel=kernel,
            initrd=image,
            memory_mib=memory_mib,
            accel=chosen,
            append=append,
            timeout=req.timeout,
            net=net,
            machine=req.machine,
            disks=disks,
            cpus=req.cpus,
        )
        result = vm.run_vm(cfg, stdout, stderr, live_log=req.verbose or req.trace_syscalls)

    if result.outcome == protocol.OUTCOME_PANIC:
        raise LwjvmError("the guest kernel panicked (see the kernel log above)", EXIT_PANIC)
    if result.outcome == protocol.OUTCOME_TIMEOUT:
        report = result.log.threads if result.log is not None else None
        if report is not None:
            # What the kernel said each thread was doing when the time ran out.
            dest = stderr if stderr is not None else sys.stderr.buffer
            lines = "".join(f"lwjvm: at the timeout, {t.describe()}\n" for t in report.threads)
            dest.write(lines.encode())
            dest.flush()
        raise LwjvmError(protocol.timeout_cause(req.timeout, report), EXIT_TIMEOUT)
    if result.outcome == protocol.OUTCOME_NO_RECORD:
        qemu_said = result.qemu_stderr.strip().splitlines()
        detail = f": {qemu_said[-1]}" if qemu_said else ""
        if req.verbose and qemu_said:
            sys.stderr.write(result.qemu_stderr)
        raise LwjvmError(
            f"the VM stopped without an exit record (QEMU status {result.qemu_status}){detail}",
            EXIT_NO_RECORD,
        )
    return ExecResult(result.exit_code, image_s, result, chosen)
