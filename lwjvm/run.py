"""`lwjvm run`: bring the image up to date, boot it in the foreground, exit with the app's code.

The image lives in the build directory (`build/NAME`, as `lwjvm build` writes it). Beside it,
`run-inputs.json` records what the image was built from: the manifest's bytes, the digests of the
class path and `files:` sources (build.py's content digests), the JDK's `release` digest, the
kernel's digest, the JVM port profile and lwjvm's own source. When any of them differs, or the
image is missing, `lwjvm run` rebuilds (jlinked runtimes, jdeps results and CDS archives come from
build.py's caches, so that takes about a second); otherwise it says the image is up to date.
A lock file in the build directory keeps a rebuild from rewriting an image a running VM has mapped:
runs of an up-to-date image share it, a rebuild waits for them (and says so).

Failures of the guest become one line on stderr and a distinct exit code (docs/protocol.md,
section 5): a kernel panic (123), a JVM crash (134, the hs_err report above on the console), the VM
out of memory (137), a guest killed while stopping (121), plus the program's own code with the
system calls the kernel lacked named when the program failed.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO, TextIO

from lwjvm import __version__, accel, network, vm
from lwjvm import build as build_mod
from lwjvm import manifest as manifest_mod
from lwjvm.errors import EXIT_NO_RECORD, EXIT_PANIC, EXIT_STOP_TIMEOUT, EXIT_TIMEOUT, LwjvmError
from lwjvm.jdk import find_jdk
from lwjvm.runtime import PROFILE_PATH

INPUTS = "run-inputs.json"
LOCK = ".lwjvm-run.lock"
EXIT_JVM_CRASH = 134  # 128 + SIGABRT: HotSpot aborts after writing its fatal error report
EXIT_OUT_OF_MEMORY = 137  # 128 + SIGKILL: the kernel ends the program as Linux's OOM killer would
# The kernel reports these on every JVM start, and they never explain a failure: glibc falls back
# by design (rseq registration is optional, clone3 falls back to clone), and socket is glibc's
# nscd probe, which must fail (the guest has no network yet).
BENIGN_ENOSYS = ("rseq", "clone3", "socket")
HS_ERR_MARK = b"A fatal error has been detected by the Java Runtime Environment"
OUTPUT_TAIL = 1 << 16


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


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


# The modules whose code decides an image's bytes (lwjvm build and what it calls).
IMAGE_MODULES = (
    "bootconf", "build", "elfinfo", "guestrun", "image", "jdk", "jvmflags", "jvmtools", "manifest",
    "modules", "network", "rootrun", "runtime", "springboot",
)  # fmt: skip


def _source_digest() -> str:
    """SHA-256 over the code that builds images: a changed lwjvm may build a different image."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    for name in IMAGE_MODULES:
        h.update(name.encode() + b"\0" + (here / f"{name}.py").read_bytes())
    return h.hexdigest()


def image_inputs(
    manifest_path: Path,
    args: list[str] | None,
    kernel: Path,
    extra: build_mod.Extra | None = None,
    allow_outside: Sequence[Path] = (),
) -> dict[str, object]:
    """What decides the image's bytes, each by content; equal inputs give an equal image."""
    m = manifest_mod.load(manifest_path, allow_outside)
    jdk = find_jdk(m.jvm_home, m.where(("jvm", "home")) if m.jvm_home else "jvm.home")
    inputs: dict[str, object] = {
        "manifest": _digest(Path(manifest_path).read_bytes()),
        "args": args,
        "classpath": [build_mod._tree_digest(p) for p in m.full_classpath()],
        "files": [build_mod._tree_digest(c.src) for c in m.files],
        "jdk": jdk.release_sha256,
        "kernel": build_mod.sha256_file(kernel),
        "profile": _digest(PROFILE_PATH.read_bytes()),
        "lwjvm": _source_digest(),
    }
    record = extra.record() if extra is not None else None
    if record:
        inputs["extra"] = record  # only when given, so records written before it stay valid
    return inputs


_WHAT_CHANGED = {
    "manifest": "the manifest changed",
    "args": "the app arguments changed",
    "extra": "the --env or --debug options changed",
    "classpath": "the app's jars changed",
    "files": "the app's files changed",
    "jdk": "the JDK changed",
    "kernel": "the kernel changed",
    "profile": "the JVM port profile changed",
    "lwjvm": "lwjvm changed",
}


def stale_reason(out_dir: Path, inputs: dict[str, object]) -> str | None:
    """Why the image in `out_dir` must be rebuilt for `inputs`, or None if it is up to date."""
    for name in (build_mod.ROOT_IMAGE, build_mod.KERNEL, build_mod.DESCRIPTOR):
        if not (out_dir / name).is_file():
            return "no image yet" if name == build_mod.ROOT_IMAGE else f"{name} missing"
    try:
        old = json.loads((out_dir / INPUTS).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "no record of what it was built from"
    for key, what in _WHAT_CHANGED.items():
        if old.get(key) != inputs.get(key):
            return what
    return None


def ensure_image(
    manifest_path: Path,
    out_dir: Path,
    args: list[str] | None,
    kernel: Path,
    quiet: bool = False,
    note: BinaryIO | None = None,
    extra: build_mod.Extra | None = None,
    allow_outside: Sequence[Path] = (),
) -> bool:
    """Rebuilds the image in `out_dir` if it is stale; True if it did. Says which on `note`."""
    stream = note if note is not None else sys.stderr.buffer
    inputs = image_inputs(manifest_path, args, kernel, extra, allow_outside)
    reason = stale_reason(out_dir, inputs)
    if reason is None:
        if not quiet:
            stream.write(f"lwjvm: image {out_dir} up to date\n".encode())
            stream.flush()
        return False
    if not quiet:
        stream.write(f"lwjvm: building {out_dir} ({reason})\n".encode())
        stream.flush()
    progress = build_mod.Progress(enabled=not quiet)
    build_recorded(manifest_path, out_dir, kernel, progress, args, extra, allow_outside)
    return True


def build_recorded(
    manifest_path: Path,
    out_dir: Path,
    kernel: Path,
    progress: build_mod.Progress,
    args: list[str] | None = None,
    extra: build_mod.Extra | None = None,
    allow_outside: Sequence[Path] = (),
) -> build_mod.BuildResult:
    """`lwjvm build`, recording its inputs in `out_dir` so `lwjvm run` knows the image is current.

    The record is removed first and written only after a whole build; the inputs are taken
    before the build, so a file changed during it makes the next run rebuild.
    """
    inputs = image_inputs(manifest_path, args, kernel, extra, allow_outside)
    (out_dir / INPUTS).unlink(missing_ok=True)
    result = build_mod.build(
        manifest_path, out_dir, kernel, progress, args=args, extra=extra,
        allow_outside=allow_outside,
    )  # fmt: skip
    tmp = out_dir / f".{INPUTS}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(inputs, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / INPUTS)
    return result


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


def explain(
    result: vm.VmResult,
    output_tail: bytes,
    memory_mib: int,
    timeout: float | None,
    stop_timeout: float = vm.STOP_TIMEOUT_S,
    memory_overridden: bool = False,
) -> tuple[int, str | None]:
    """(lwjvm's exit code, the one-line cause or None) for how the guest ended."""
    log = result.log
    if result.outcome == vm.OUTCOME_PANIC:
        line = log.panic_line() if log is not None else None
        return EXIT_PANIC, f"the guest kernel panicked{': ' + line if line else ''}"
    if result.outcome == vm.OUTCOME_STOP_TIMEOUT:
        return EXIT_STOP_TIMEOUT, (
            f"the app did not stop within {stop_timeout:g} s of the signal; the VM was killed"
        )
    if result.outcome == vm.OUTCOME_TIMEOUT:
        return EXIT_TIMEOUT, f"the guest did not finish within {timeout:g} s; killed"
    if result.outcome == vm.OUTCOME_NO_RECORD:
        said = result.qemu_stderr.strip().splitlines()
        detail = f": {said[-1]}" if said else ""
        return EXIT_NO_RECORD, (
            f"the VM stopped without an exit record (QEMU status {result.qemu_status}){detail}"
        )
    code = result.exit_code
    if log is not None and log.out_of_memory is not None:
        knob = "--memory" if memory_overridden else "vm.memory"
        return EXIT_OUT_OF_MEMORY, f"the VM ran out of memory ({memory_mib} MiB); raise {knob}"
    if code != 0 and HS_ERR_MARK in output_tail:
        # HotSpot aborts (134) after its report, or exits 1 with -XX:-CreateCoredumpOnCrash.
        return code, "the JVM crashed (hs_err above)"
    if code == 0 or (result.signal_sent is not None and code == 128 + result.signal_sent):
        return code, None
    if log is not None and log.process_refused:
        return code, process_cause("app", code, log.process_refused)
    missing = [n for n in (log.enosys if log else []) if n.split(" ")[0] not in BENIGN_ENOSYS]
    if missing:
        return code, (
            f"the app exited with {code}; the kernel does not implement system calls it "
            f"called: {', '.join(missing)}"
        )
    return code, None


def process_cause(who: str, code: int, call: str) -> str:
    """The cause line for a program that failed after the kernel refused to start a process."""
    return (
        f"the {who} exited with {code} after it tried to start a process ({call}); "
        "a lwjvm VM runs one process, so fork, vfork and posix_spawn fail with EPERM"
    )


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
    extra = agent_extras(req.debug, req.jmx, extra_ports)
    kernel = vm.find_kernel()
    vm.find_qemu()
    out_dir = req.output or build_mod.default_output(req.manifest, req.allow_outside)
    err_stream = stderr if stderr is not None else sys.stderr.buffer
    with up_to_date_image(
        req.manifest, out_dir, req.args, kernel, req.quiet, err_stream, extra, req.allow_outside
    ) as rebuilt:
        return _boot(req, out_dir, rebuilt, override_mib, extra_ports, stdout, err_stream)


@contextmanager
def up_to_date_image(
    manifest_path: Path,
    out_dir: Path,
    args: list[str] | None,
    kernel: Path,
    quiet: bool,
    note: BinaryIO,
    extra: build_mod.Extra | None = None,
    allow_outside: Sequence[Path] = (),
) -> Iterator[bool]:
    """Brings the image in `out_dir` up to date (rebuilt: True) and holds it while in the block.

    The build directory's lock is exclusive while checking and rebuilding, shared afterwards, so
    runs of an up-to-date image go on side by side and a rebuild never rewrites an image a VM
    has mapped.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / LOCK, "w") as lock:
        _lock(lock, fcntl.LOCK_EX, out_dir, note)
        rebuilt = ensure_image(
            manifest_path, out_dir, args, kernel, quiet, note, extra, allow_outside
        )
        fcntl.flock(lock, fcntl.LOCK_SH)
        yield rebuilt


def agent_extras(
    debug: int | None, jmx: int | None, ports: list[network.PortMap]
) -> build_mod.Extra | None:
    """The image additions for --debug and --jmx; their forwards are appended to `ports`."""
    extras = []
    if debug is not None:
        extras.append(build_mod.debug_extra(check_port(debug, "--debug")))
        ports.append(network.PortMap(debug, debug))
    if jmx is not None:
        extras.append(build_mod.jmx_extra(check_port(jmx, "--jmx")))
        ports.append(network.PortMap(jmx, jmx))
    return build_mod.merge_extras(*extras) if extras else None


def check_port(port: int, what: str) -> int:
    """`port` if it is a TCP port number; LwjvmError naming the option otherwise."""
    if not 1 <= port <= 65535:
        raise LwjvmError(f"bad {what} port {port}: ports run from 1 to 65535")
    return port


def net_config(
    desc: dict[str, object], name: str, extra_ports: list[network.PortMap]
) -> network.NetConfig | None:
    """The network of a boot of the image `desc` as VM `name`: its vm.network and vm.ports with
    `extra_ports` (-p) added; None for vm.network: none. LwjvmError for -p without a network."""
    vm_desc = desc.get("vm")
    vm_desc = vm_desc if isinstance(vm_desc, dict) else {}
    mode = str(vm_desc.get("network", network.NETWORK_USER))
    if mode == network.NETWORK_NONE:
        if extra_ports:
            raise LwjvmError("-p needs a network, and the manifest says vm.network: none")
        return None
    ports = [network.parse_port(str(p), "vm.ports") for p in vm_desc.get("ports", [])]
    ports = network.merge_ports(ports, extra_ports)
    return network.NetConfig(mode, tuple(ports), network.mac_for(name))


def _lock(lock: TextIO, how: int, out_dir: Path, note: BinaryIO) -> None:
    """Takes the lock, saying on `note` that it waits when another run holds it."""
    try:
        fcntl.flock(lock, how | fcntl.LOCK_NB)
    except BlockingIOError:
        note.write(f"lwjvm: waiting for another lwjvm run of {out_dir} to finish\n".encode())
        note.flush()
        fcntl.flock(lock, how)


def _boot(
    req: RunRequest,
    out_dir: Path,
    rebuilt: bool,
    override_mib: int | None,
    extra_ports: list[network.PortMap],
    stdout: BinaryIO | None,
    err_stream: BinaryIO,
) -> RunResult:
    desc = json.loads((out_dir / build_mod.DESCRIPTOR).read_text(encoding="utf-8"))
    net = net_config(desc, str(desc["name"]), extra_ports)
    if net is not None:
        network.check_free(list(net.ports))
    memory_mib = override_mib or int(desc["vm"]["memory"]) // (1 << 20)
    chosen = accel.choose(out_dir / build_mod.KERNEL, req.accel)
    append = [] if req.verbose else ["lwjvm.quiet=1"]
    append += req.kernel_args
    from lwjvm import state, volume

    disks, words = volume.attach(state.default_root(), desc["vm"].get("volumes", []))
    append += words
    cfg = vm.VmConfig(
        kernel=out_dir / build_mod.KERNEL,
        initrd=out_dir / build_mod.ROOT_IMAGE,
        memory_mib=memory_mib,
        accel=chosen,
        append=append,
        timeout=req.timeout,
        stop_timeout=req.stop_timeout,
        net=net,
        disks=disks,
        cpus=req.cpus or int(desc["vm"].get("cpus", 1)),
    )
    out = _Tee(stdout if stdout is not None else sys.stdout.buffer)
    err = _Tee(err_stream)
    result = vm.run_vm(cfg, out, err, live_log=req.verbose)  # type: ignore[arg-type]
    if req.verbose and result.qemu_stderr.strip():
        err_stream.write(result.qemu_stderr.encode())
    tail = bytes(out.tail) + bytes(err.tail)
    code, cause = explain(
        result, tail, memory_mib, req.timeout, req.stop_timeout, override_mib is not None
    )
    return RunResult(code, cause, rebuilt, out_dir, memory_mib, chosen, result)
