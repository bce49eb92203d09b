"""`lwjvm inspect`: what an image built by `lwjvm build` holds.

The descriptor (image.json) says how the image was made; the boot configuration is read back from
the root image itself with debugfs, so what is shown as the JVM command line is what the kernel
will run. `extract_root` unpacks a root image into a directory (for the chroot proof).
"""

from __future__ import annotations

import json
import shlex
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

from lwjvm import bootconf
from lwjvm.build import DESCRIPTOR, KERNEL, ROOT_IMAGE, sha256_file
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


def load(image: Path) -> dict[str, Any]:
    """The descriptor of the image at `image`, with the boot configuration read from the image."""
    directory = locate(image)
    try:
        desc: dict[str, Any] = json.loads((directory / DESCRIPTOR).read_text(encoding="utf-8"))
    except ValueError as e:
        raise LwjvmError(f"{directory / DESCRIPTOR}: not valid JSON: {e}") from e
    root_img = directory / ROOT_IMAGE
    if not root_img.is_file():
        raise LwjvmError(f"{directory}: {ROOT_IMAGE} is missing")
    conf = bootconf.parse(read_file(root_img, bootconf.PATH))
    desc["boot"] = {
        "exec": conf.exec.decode(errors="replace"),
        "argv": [a.decode(errors="replace") for a in conf.argv],
        "env": [e.decode(errors="replace") for e in conf.env],
        "cwd": conf.cwd.decode(errors="replace"),
    }
    desc["checks"] = {
        ROOT_IMAGE: sha256_file(root_img) == desc["files"][ROOT_IMAGE]["sha256"],
        KERNEL: (
            (directory / KERNEL).is_file()
            and sha256_file(directory / KERNEL) == desc["files"][KERNEL]["sha256"]
            if desc["files"].get(KERNEL)
            else None
        ),
    }
    return desc


def _mb(n: int | None) -> str:
    return "-" if n is None else f"{n / (1 << 20):.1f} MiB"


def render(desc: dict[str, Any]) -> str:
    """A human-readable summary of a loaded descriptor."""
    app, jdk, rt, boot, mem = (
        desc["app"],
        desc["jdk"],
        desc["runtime"],
        desc["boot"],
        desc["memory"],
    )
    files = desc["files"]
    kernel = files.get(KERNEL)
    cds = desc.get("cds")
    ok = desc["checks"]
    lines = [
        f"name:        {desc['name']}",
        f"main class:  {app['main']}",
        f"class path:  {':'.join(e['path'] for e in app['classpath'])}",
        f"args:        {shlex.join(app['args'])}",
        *(
            [
                f"spring boot: {b['jar']} (Spring Boot {b['spring_boot'] or '?'}) extracted: "
                f"Start-Class {b['start_class']}, {b['libraries']} libraries in the class path"
                f"{' and the class-data archive' if cds else ''}"
            ]
            if (b := app.get("spring_boot"))
            else []
        ),
        f"jdk:         {jdk['implementor']} {jdk['version']} ({jdk['home']})",
        f"modules:     {', '.join(rt['modules'])}"
        + "".join(
            f"\n             {mod}: {why}"
            for mod, why in sorted(rt.get("module_reasons", {}).items())
        ),
        f"jlink:       {' '.join(rt['jlink_options'])}",
        f"libraries:   {len(desc['libraries'])} from the host, {_mb(desc['libraries_size'])}"
        + "".join(
            f"\n             not on the host: {name} (for {', '.join(users)})"
            for name, users in sorted(desc.get("libraries_missing", {}).items())
        ),
        "sizes:",
        f"  root.img   {_mb(files[ROOT_IMAGE]['size'])}"
        f" ({'sha256 ok' if ok[ROOT_IMAGE] else 'sha256 MISMATCH'})",
        f"  runtime    {_mb(rt['size'])}",
        f"  cds        {_mb(cds['size']) if cds else 'none'}",
        f"  kernel.elf {_mb(kernel['size']) if kernel else 'not included'}"
        + ("" if not kernel else f" ({'sha256 ok' if ok[KERNEL] else 'sha256 MISMATCH'})"),
        f"memory:      vm {_mb(mem['vm'])}, heap {_mb(mem['heap'])}, metaspace "
        f"{_mb(mem['metaspace'])}, code cache {_mb(mem['code_cache'])}, cpus {mem['cpus']}",
        f"cwd:         {boot['cwd']}",
        f"env:         {' '.join(boot['env'])}",
        f"command:     {shlex.join(boot['argv'])}",
    ]
    return "\n".join(lines)
