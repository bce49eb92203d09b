"""`lwjvm inspect`: what an image built by `lwjvm build` holds.

The descriptor (image.json) says how the image was made; the boot configuration is read back from
the root image itself with debugfs, so what is shown as the JVM command line is what the kernel
will run. `extract_root` unpacks a root image into a directory (for the chroot proof).
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lwjvm import bootconf
from lwjvm.build import sha256_file
from lwjvm.descriptor import FILE as DESCRIPTOR
from lwjvm.descriptor import KERNEL, ROOT_IMAGE, ImageDescriptor
from lwjvm.errors import LwjvmError


def _debugfs() -> str:
    found = shutil.which("debugfs") or shutil.which("debugfs", path="/usr/sbin:/sbin")
    if found is None:
        raise LwjvmError("debugfs not found: install e2fsprogs")
    return found


def locate(image: Path) -> Path:
    """The output directory of a build, given it, its image.json or its root.img."""
    directory = image if image.is_dir() else image.parent
    if not (directory / DESCRIPTOR).is_file():
        raise LwjvmError(f"{image}: not an lwjvm image (no {DESCRIPTOR} in {directory})")
    return directory


def read_file(root_img: Path, guest_path: str) -> bytes:
    """The bytes of `guest_path` inside the ext4 image `root_img`."""
    with tempfile.TemporaryDirectory(prefix="lwjvm-inspect-") as td:
        out = Path(td) / "file"
        proc = subprocess.run(
            [_debugfs(), "-R", f'dump "{guest_path}" {out}', str(root_img)],
            capture_output=True,
            text=True,
        )
        if proc.returncode != 0 or not out.is_file():
            raise LwjvmError(f"{root_img}: cannot read {guest_path}: {proc.stderr.strip()}")
        return out.read_bytes()


def extract_root(root_img: Path, dest: Path) -> None:
    """Unpack the whole root image into the directory `dest` (created if needed)."""
    dest.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(
        [_debugfs(), "-R", f"rdump / {dest}", str(root_img)], capture_output=True, text=True
    )
    errors = [ln for ln in proc.stderr.splitlines() if ln and not ln.startswith("debugfs ")]
    if proc.returncode != 0 or errors:
        raise LwjvmError(f"{root_img}: cannot extract: {(errors or [proc.stderr])[0].strip()}")


@dataclass
class Inspection:
    """An image as `lwjvm inspect` shows it: its descriptor, the boot configuration read back
    from root.img, and whether root.img and kernel.elf still have the digests it records."""

    desc: ImageDescriptor
    boot: dict[str, Any]
    checks: dict[str, bool | None]

    def to_json(self) -> dict[str, Any]:
        return {**self.desc.to_json(), "boot": self.boot, "checks": self.checks}


def load(image: Path) -> Inspection:
    """The image at `image` (a build directory, its image.json or its root.img), inspected."""
    directory = locate(image)
    desc = ImageDescriptor.read(directory)
    root_img = directory / ROOT_IMAGE
    if not root_img.is_file():
        raise LwjvmError(f"{directory}: {ROOT_IMAGE} is missing")
    conf = bootconf.parse(read_file(root_img, bootconf.PATH))
    boot = {
        "exec": conf.exec.decode(errors="replace"),
        "argv": [a.decode(errors="replace") for a in conf.argv],
        "env": [e.decode(errors="replace") for e in conf.env],
        "cwd": conf.cwd.decode(errors="replace"),
    }
    kernel = directory / KERNEL
    checks: dict[str, bool | None] = {
        ROOT_IMAGE: sha256_file(root_img) == desc.root_img.sha256,
        KERNEL: (
            kernel.is_file() and sha256_file(kernel) == desc.kernel.sha256
            if desc.kernel is not None
            else None
        ),
    }
    return Inspection(desc, boot, checks)


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / (1 << 20):.1f} MiB"


def render(info: Inspection) -> str:
    """A human-readable summary of an inspected image."""
    desc, boot, ok = info.desc, info.boot, info.checks
    app, jdk, rt, mem, cds, kernel = (
        desc.app, desc.jdk, desc.runtime, desc.memory, desc.cds, desc.kernel
    )  # fmt: skip
    b = app.spring_boot
    lines = [
        f"name:        {desc.name}",
        f"main class:  {app.main}",
        f"class path:  {':'.join(e.path for e in app.classpath)}",
        f"args:        {shlex.join(app.args)}",
        *(
            [
                f"spring boot: {b.jar} (Spring Boot {b.spring_boot or '?'}) extracted: "
                f"Start-Class {b.start_class}, {b.libraries} libraries in the class path"
                f"{' and the class-data archive' if cds else ''}"
            ]
            if b
            else []
        ),
        f"jdk:         {jdk.implementor} {jdk.version} ({jdk.home})",
        f"modules:     {', '.join(rt.modules)}"
        + "".join(f"\n             {mod}: {why}" for mod, why in sorted(rt.module_reasons.items())),
        f"jlink:       {' '.join(rt.jlink_options)}",
        f"libraries:   {len(desc.libraries)} from the host, {_mb(desc.libraries_size)}"
        + "".join(
            f"\n             not on the host: {name} (for {', '.join(users)})"
            for name, users in sorted(desc.libraries_missing.items())
        ),
        "sizes:",
        f"  root.img   {_mb(desc.root_img.size)}"
        f" ({'sha256 ok' if ok[ROOT_IMAGE] else 'sha256 MISMATCH'})",
        f"  runtime    {_mb(rt.size)}",
        f"  cds        {_mb(cds.size) if cds else 'none'}",
        f"  kernel.elf {_mb(kernel.size) if kernel else 'not included'}"
        + ("" if not kernel else f" ({'sha256 ok' if ok[KERNEL] else 'sha256 MISMATCH'})"),
        f"memory:      vm {_mb(mem.vm)}, heap {_mb(mem.heap)}, metaspace "
        f"{_mb(mem.metaspace)}, code cache {_mb(mem.code_cache)}, cpus {mem.cpus}",
        f"vm:          network {desc.vm.network}, ports {', '.join(desc.vm.ports) or '-'}, "
        f"restart {desc.vm.restart}"
        + "".join(f", volume {v.name} at {v.mount}" for v in desc.vm.volumes),
        f"cwd:         {boot['cwd']}",
        f"env:         {' '.join(boot['env'])}",
        f"command:     {shlex.join(boot['argv'])}",
    ]
    return "\n".join(lines)
