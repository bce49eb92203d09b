"""Which JDK modules an application's runtime links, and why each one is in.

With `jvm.modules: auto` (the default) four sources are joined, each module keeping the first
reason found:
- jdeps over the class path (and the jars nested in it): the modules its classes name. When jdeps
  fails (a modular jar that requires a module not on the class path makes it throw), it runs again
  over copies of the jars without their module descriptors; if that fails too, the runtime gets the
  broad set FALLBACK. Either way the build says so in one line.
- The module descriptors of modular jars: a JDK module they `require` (even `requires static`,
  which a library uses when present: lucene-core requires jdk.unsupported and jdk.management).
- ALWAYS: small modules that common libraries probe by reflection, where no static tool sees it.
- A training run: the application runs once at build time, in the guest (lwjvm/guestrun.py: a
  VM booted from a root tree laid out as the image but with the whole JDK; the app never runs on
  the host), and every JDK module it loads a class from is linked. This finds what libraries reach
  reflectively (Class.forName, ServiceLoader, MethodHandles). It runs with the CDS training run's
  arguments and time limit (`jvm.cds.args`, `jvm.cds.timeout`) and needs the kernel and QEMU;
  without them the build says it was skipped.
Modules listed in `jvm.modules` are always in. The result is cached by everything it depends on.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
import zipfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lwjvm import guestrun, image
from lwjvm.errors import LwjvmError
from lwjvm.jdk import Jdk
from lwjvm.jvmtools import JavaTools
from lwjvm.manifest import Manifest

FORMAT = 2  # bumped when what a cached result means changes
ALWAYS = {
    "jdk.unsupported": "always linked: libraries probe sun.misc.Unsafe by reflection (26 KB)",
}
# What jdeps' failure falls back to: Java SE and the JDK modules libraries commonly use.
FALLBACK = (
    "java.se", "jdk.unsupported", "jdk.management", "jdk.crypto.ec", "jdk.zipfs", "jdk.charsets",
    "jdk.localedata", "jdk.net", "jdk.jfr", "jdk.httpserver",
)  # fmt: skip
LOADED_LOG = "/tmp/lwjvm-class-load.log"  # written in the guest, handed back at exit
TRAINING_MEMORY_MIB = 512
# Parts of a JDK the training run has no use for.
JDK_SKIP = {"jmods", "include", "man", "legal", "docs", "demo", "lib/src.zip", "lib/ct.sym"}
_LOADED = re.compile(r"\]\s*(\S+) source: jrt:/([\w.]+)")


@dataclass
class ModuleSet:
    """The modules to link, each with why, and notes for the build's output."""

    reasons: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, module: str, reason: str) -> None:
        self.reasons.setdefault(module, reason)

    @property
    def modules(self) -> list[str]:
        return sorted(self.reasons)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    if path.is_file():
        with open(path, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        return h.hexdigest()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            h.update(p.relative_to(path).as_posix().encode() + b"\0" + _digest(p).encode())
    return h.hexdigest()


def _cached(cache: Path, kind: str, desc: dict[str, Any], make: Callable[[], Any]) -> Any:
    """The JSON value cached under `kind` for `desc`, or make() stored there."""
    key = hashlib.sha256(json.dumps({"format": FORMAT, **desc}, sort_keys=True).encode())
    path = cache / kind / f"{key.hexdigest()}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        pass
    value = make()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(value), encoding="utf-8")
    os.replace(tmp, path)
    return value


def _strip_descriptors(jars: list[Path], work: Path) -> list[Path]:
    """Copies of `jars` without module-info.class (any version), so jdeps reads them as plain
    class path jars; directories and non-modular jars are passed through."""
    out: list[Path] = []
    for i, jar in enumerate(jars):
        if not jar.is_file() or not zipfile.is_zipfile(jar):
            out.append(jar)
            continue
        with zipfile.ZipFile(jar) as zf:
            names = zf.namelist()
            if not any(n.endswith("module-info.class") for n in names):
                out.append(jar)
                continue
            dest = work / f"{i}-{jar.name}"
            with zipfile.ZipFile(dest, "w", zipfile.ZIP_DEFLATED) as zout:
                for info in zf.infolist():
                    if not info.filename.endswith("module-info.class"):
                        zout.writestr(info, zf.read(info))
        out.append(dest)
    return out


def jdeps_modules(tools: JavaTools, jars: list[Path], work: Path) -> tuple[list[str] | None, str]:
    """jdeps' modules for `jars` and how they were found; None if jdeps failed both ways."""
    try:
        return tools.jdeps_modules(jars), "jdeps"
    except LwjvmError as first:
        why = str(first).split("jdeps: ", 1)[-1]
    stripped = _strip_descriptors(jars, work)
    try:
        return tools.jdeps_modules(stripped), f"jdeps over the jars as plain class path ({why})"
    except LwjvmError as second:
        return None, f"{why}; again without module descriptors: {str(second).split('jdeps: ')[-1]}"


def descriptor_requires(tools: JavaTools, jars: list[Path]) -> dict[str, str]:
    """JDK-looking modules (java.*, jdk.*) that modular jars in `jars` require -> the jar."""
    out: dict[str, str] = {}
    for jar in jars:
        if not jar.is_file() or not zipfile.is_zipfile(jar):
            continue
        with zipfile.ZipFile(jar) as zf:
            if not any(n.endswith("module-info.class") for n in zf.namelist()):
                continue
        result = tools.run("jar", ["--describe-module", "--file", str(jar)])
        if result.rc != 0:
            continue
        for line in result.out.splitlines():
            words = line.split()
            if len(words) >= 2 and words[0] == "requires":
                name = words[1]
                if name.startswith(("java.", "jdk.")):
                    out.setdefault(name, jar.name)
    return out


def loaded_modules(log_text: str) -> dict[str, str]:
    """Module -> the first class loaded from it, from a -Xlog:class+load log."""
    out: dict[str, str] = {}
    for m in _LOADED.finditer(log_text):
        out.setdefault(m.group(2), m.group(1))
    return out


def _stage_jdk(jdk: Jdk, staging: image.Staging, guest_dir: str) -> None:
    """Copies the JDK's run-time parts to `guest_dir` (copies: the tree becomes a root image);
    symlinks followed (Debian's conf/ points into /etc), dangling ones left out."""
    dest_root = staging.host_path(guest_dir)
    for dirpath, dirnames, filenames in os.walk(jdk.home, followlinks=True):
        rel_dir = Path(dirpath).relative_to(jdk.home)
        dirnames[:] = sorted(d for d in dirnames if (rel_dir / d).as_posix() not in JDK_SKIP)
        (dest_root / rel_dir).mkdir(parents=True, exist_ok=True)
        for name in sorted(filenames):
            rel = rel_dir / name
            if rel.as_posix() in JDK_SKIP or (rel_dir.as_posix() == "bin" and name != "java"):
                continue  # the training run needs bin/java and no other tool
            src = Path(dirpath) / name
            try:
                real = src.resolve(strict=True)
            except OSError:
                continue
            shutil.copy2(real, dest_root / rel)


def _training_root(
    m: Manifest, jdk: Jdk, cp: list[tuple[Path, str]], root: Path, java_dir: str, cache: Path
) -> image.Staging:
    """A root tree like the image's, with the whole JDK at `java_dir`."""
    from lwjvm import build as build_mod  # build imports this module

    staging = image.Staging(root)
    _stage_jdk(jdk, staging, java_dir)

    def libraries() -> list[dict[str, Any]]:
        found = build_mod.runtime_libraries(staging.host_path(java_dir)).files
        return [{"links": f.links, "real": f.real} for f in found]

    # The host libraries the JDK loads: found with ldd once per JDK.
    for lib in _cached(cache, "modules-jdk-libraries", {"jdk": jdk.release_sha256}, libraries):
        staging.stage_host_file([(a, b) for a, b in lib["links"]], lib["real"])
    for host, guest in cp:
        if host.is_dir():
            build_mod.jar_directory(host, staging.host_path(guest))
        else:
            staging.stage(host, guest)
    for copy in m.files:
        dst = copy.dst
        if copy.src.is_file() and dst.endswith("/"):
            dst += copy.src.name
        staging.stage(copy.src, dst.rstrip("/") or "/")
    for path, text in build_mod.ETC_FILES.items():
        if not staging.host_path(path).exists():
            staging.stage_bytes(text.encode(), path)
    for path in build_mod.MOUNT_POINTS:
        staging.mkdir(path)
    if Path(build_mod.C_UTF8_LOCALE).is_dir():
        staging.stage_tree(Path(build_mod.C_UTF8_LOCALE), build_mod.C_UTF8_LOCALE)
    return staging


def training_run(
    m: Manifest,
    jdk: Jdk,
    main: str,
    cp: list[tuple[Path, str]],
    env: dict[str, str],
    flags: list[str],
    work: Path,
    cache: Path,
) -> tuple[dict[str, str], str]:
    """Runs the app once with the whole JDK; (module -> first class loaded, how the run ended)."""
    from lwjvm.runtime import profile

    java_dir = profile()["runtime_dir"]
    staging = _training_root(m, jdk, cp, work / "root", java_dir, cache)
    args = m.args if m.cds_args is None else m.cds_args
    argv = [
        f"{java_dir}/bin/java", *flags, "-Xshare:off",
        f"-Xlog:class+load=info:file={LOADED_LOG}", "-XX:-UsePerfData",
        "-cp", ":".join(guest for _, guest in cp), main, *args,
    ]  # fmt: skip
    run = guestrun.run_in_guest(
        staging.root, argv, env, profile()["app_dir"], LOADED_LOG, TRAINING_MEMORY_MIB,
        stop_after=m.cds_timeout, traffic=guestrun.traffic_of(m),
    )  # fmt: skip
    ended = run.ended(m.cds_timeout)
    text = (run.exported or b"").decode(errors="replace")
    if not text:
        said = (run.stderr or run.stdout).decode(errors="replace").strip().splitlines()
        ended += f", no class loaded{': ' + said[-1] if said else ''}"
    return loaded_modules(text), ended


def discover(
    m: Manifest,
    tools: JavaTools,
    main: str,
    cp: list[tuple[Path, str]],
    env: dict[str, str],
    flags: list[str],
    cache: Path,
    nested: Callable[[list[Path], Path], list[Path]],
) -> ModuleSet:
    """The modules for manifest `m` (see the module docstring); `nested` copies nested jars out."""
    jdk = tools.jdk
    result = ModuleSet()
    known = set(jdk.modules)
    for mod in m.modules:
        result.add(mod, "listed in jvm.modules")
    if m.modules_auto:
        hosts = [host for host, _ in cp]
        digests = [_digest(h) for h in hosts]
        base = {"jdk": jdk.release_sha256, "classpath": digests}

        def static() -> dict[str, Any]:
            with tempfile.TemporaryDirectory(prefix="lwjvm-jdeps-") as td:
                jars = hosts + nested(hosts, Path(td))
                mods, how = jdeps_modules(tools, jars, Path(td))
                return {
                    "jdeps": mods,
                    "how": how,
                    "requires": descriptor_requires(tools, jars),
                }

        found = _cached(cache, "modules-static", base, static)
        if found["jdeps"] is None:
            result.notes.append(
                f"jdeps failed ({found['how']}): linking the broad set {', '.join(FALLBACK)}"
            )
            for mod in FALLBACK:
                if mod in known:
                    result.add(mod, "jdeps failed: the broad fallback set")
        else:
            if found["how"] != "jdeps":
                result.notes.append(f"modules found by {found['how']}")
            for mod in found["jdeps"]:
                result.add(mod, "jdeps: the app's classes refer to it")
        for mod, jar in sorted(found["requires"].items()):
            if mod in known:
                result.add(mod, f"required by the module descriptor of {jar}")
        for mod, why in ALWAYS.items():
            if mod in known:
                result.add(mod, why)
        why_not = guestrun.unavailable()
        if why_not:
            result.notes.append(
                f"no module training run ({why_not}): modules the app reaches only by "
                "reflection may be missing; list them in jvm.modules"
            )
        else:
            desc = {
                **base,
                "main": main,
                "args": m.args if m.cds_args is None else m.cds_args,
                "timeout": m.cds_timeout,
                "requests": m.training_requests(),
                "env": sorted(env.items()),
                "flags": flags,
                "files": [[c.dst, _digest(c.src)] for c in m.files],
                "guest": [g for _, g in cp],
            }

            def train() -> dict[str, Any]:
                with tempfile.TemporaryDirectory(prefix="lwjvm-modtrain-") as td:
                    loaded, ended = training_run(m, jdk, main, cp, env, flags, Path(td), cache)
                return {"loaded": loaded, "ended": ended}

            try:
                trained = _cached(cache, "modules-training", desc, train)
            except LwjvmError as e:  # a discovery step never fails the build
                trained = {"loaded": {}, "ended": f"it could not run: {e}"}
            if not trained["loaded"]:
                result.notes.append(
                    f"the module training run found nothing ({trained['ended']}): modules the app "
                    "reaches only by reflection may be missing; list them in jvm.modules"
                )
            for mod, cls in sorted(trained["loaded"].items()):
                if mod in known:
                    result.add(mod, f"the training run ({trained['ended']}) loaded {cls}")
    result.add("java.base", "always: the base module")
    return result
