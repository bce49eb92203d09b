"""Keeping an image current: rebuild it when what it was built from changed (run and deploy).

Beside the image, `run-inputs.json` records what it was built from: the manifest's bytes, the
digests of the class path and `files:` sources (build.py's content digests), the JDK's `release`
digest, the kernel's digest, the JVM port profile, lwjvm's own source and what a command added
(`--env`, `--debug`, `--jmx`). When any of them differs, or the image is missing, it is rebuilt
(jlinked runtimes, jdeps results and CDS archives come from build.py's caches, so that takes about
a second); otherwise the image is up to date. A lock file in the build directory keeps a rebuild
from rewriting an image a running VM has mapped: boots of an up-to-date image share it, a rebuild
waits for them (and says so).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO, TextIO

from lwjvm import __version__, network
from lwjvm import build as build_mod
from lwjvm.errors import LwjvmError
from lwjvm.jdk import find_jdk
from lwjvm.manifest import Manifest
from lwjvm.runtime import PROFILE_PATH

INPUTS = "run-inputs.json"
LOCK = ".lwjvm-run.lock"

# The modules whose code decides an image's bytes (lwjvm build and what it calls).
IMAGE_MODULES = (
    "bootconf", "build", "descriptor", "elfinfo", "guestrun", "image", "jdk", "jvmflags",
    "jvmtools", "manifest", "modules", "network", "rootrun", "runtime", "sizes", "snapshot",
    "springboot",
)  # fmt: skip


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _source_digest() -> str:
    """SHA-256 over the code that builds images: a changed lwjvm may build a different image."""
    h = hashlib.sha256(__version__.encode())
    here = Path(__file__).resolve().parent
    for name in IMAGE_MODULES:
        h.update(name.encode() + b"\0" + (here / f"{name}.py").read_bytes())
    return h.hexdigest()


def image_inputs(
    m: Manifest, args: list[str] | None, kernel: Path, extra: build_mod.Extra | None = None
) -> dict[str, object]:
    """What decides the image's bytes, each by content; equal inputs give an equal image."""
    jdk = find_jdk(
        m.jvm_home, m.where(("jvm", "home")) if m.jvm_home else "jvm.home", m.directory
    )
    inputs: dict[str, object] = {
        "manifest": m.sha256,
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
    if m.snapshot:  # a warm snapshot restores only on the QEMU that saved it: retake it
        from lwjvm import snapshot

        inputs["qemu"] = snapshot.qemu_version()
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
    "qemu": "QEMU changed (the warm snapshot is QEMU's)",
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
    m: Manifest,
    out_dir: Path,
    args: list[str] | None,
    kernel: Path,
    quiet: bool = False,
    note: BinaryIO | None = None,
    extra: build_mod.Extra | None = None,
) -> bool:
    """Rebuilds the image in `out_dir` if it is stale; True if it did. Says which on `note`."""
    stream = note if note is not None else sys.stderr.buffer
    reason = stale_reason(out_dir, image_inputs(m, args, kernel, extra))
    if reason is None:
        if not quiet:
            stream.write(f"lwjvm: image {out_dir} up to date\n".encode())
            stream.flush()
        return False
    if not quiet:
        stream.write(f"lwjvm: building {out_dir} ({reason})\n".encode())
        stream.flush()
    build_recorded(m, out_dir, kernel, build_mod.Progress(enabled=not quiet), args, extra)
    return True


def build_recorded(
    m: Manifest,
    out_dir: Path,
    kernel: Path,
    progress: build_mod.Progress,
    args: list[str] | None = None,
    extra: build_mod.Extra | None = None,
) -> build_mod.BuildResult:
    """`lwjvm build`, recording its inputs in `out_dir` so run and deploy know the image is
    current. The record is removed first and written only after a whole build; the inputs are
    taken before the build, so a file changed during it makes the next run rebuild.
    """
    inputs = image_inputs(m, args, kernel, extra)
    (out_dir / INPUTS).unlink(missing_ok=True)
    result = build_mod.build(m, out_dir, kernel, progress, args=args, extra=extra)
    tmp = out_dir / f".{INPUTS}.{os.getpid()}.tmp"
    tmp.write_text(json.dumps(inputs, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out_dir / INPUTS)
    return result


@contextmanager
def up_to_date_image(
    m: Manifest,
    out_dir: Path,
    args: list[str] | None,
    kernel: Path,
    quiet: bool,
    note: BinaryIO,
    extra: build_mod.Extra | None = None,
) -> Iterator[bool]:
    """Brings the image in `out_dir` up to date (rebuilt: True) and holds it while in the block.

    The build directory's lock is exclusive while checking and rebuilding, shared afterwards, so
    boots of an up-to-date image go on side by side and a rebuild never rewrites an image a VM
    has mapped.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    with open(out_dir / LOCK, "w") as lock:
        _lock(lock, fcntl.LOCK_EX, out_dir, note)
        rebuilt = ensure_image(m, out_dir, args, kernel, quiet, note, extra)
        fcntl.flock(lock, fcntl.LOCK_SH)
        yield rebuilt


def _lock(lock: TextIO, how: int, out_dir: Path, note: BinaryIO) -> None:
    """Takes the lock, saying on `note` that it waits when another run holds it."""
    try:
        fcntl.flock(lock, how | fcntl.LOCK_NB)
    except BlockingIOError:
        note.write(f"lwjvm: waiting for another lwjvm run of {out_dir} to finish\n".encode())
        note.flush()
        fcntl.flock(lock, how)


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
