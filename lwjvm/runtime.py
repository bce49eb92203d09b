"""The trimmed Java runtime: jlink of the modules an application needs, cached by content.

A runtime is keyed by the SHA-256 of what determines its bytes: the JDK's `release` file, the
module set and the jlink options (plus `FORMAT`, bumped when this module changes its output). It
lives under `$XDG_CACHE_HOME/lwjvm/runtimes/KEY/runtime`, with `info.json` beside it; a build that
finds the key reuses the directory and runs no jlink. A runtime is built in a private temporary
directory and renamed into place, so concurrent builds (pytest-xdist workers) never see half of one;
a lock file per key makes a second builder of the same runtime wait instead of linking it again.
The jlink options come from jvm-port/profile.json (see jvm-port/README.md for the measurements).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from lwjvm.errors import LwjvmError
from lwjvm.jdk import Jdk
from lwjvm.jvmtools import JavaTools

FORMAT = 2  # 2: jlink always as its own process (runtimes made in-process differ)
# Package data: in the source tree a link to jvm-port/profile.json.
PROFILE_PATH = Path(__file__).resolve().parent / "data" / "jvm-port-profile.json"


@lru_cache(maxsize=1)
def profile() -> dict[str, Any]:
    """jvm-port/profile.json: jlink options and JVM flag defaults."""
    try:
        return json.loads(PROFILE_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise LwjvmError(f"cannot read the JVM port profile {PROFILE_PATH}: {e}") from e


def cache_root() -> Path:
    """lwjvm's cache directory: $XDG_CACHE_HOME/lwjvm, default ~/.cache/lwjvm."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lwjvm"


def jlink_options(jdk: Jdk, compress: bool) -> list[str]:
    """The jlink options for `jdk`: the profile's, plus compression spelled for its version."""
    prof = profile()["jlink"]
    opts = list(prof["options"])
    if compress:
        opts.append(prof["compress_21"] if jdk.feature >= 21 else prof["compress_17"])
    else:
        opts.append(prof["no_compress_21"] if jdk.feature >= 21 else prof["no_compress_17"])
    return opts


def runtime_key(jdk: Jdk, modules: list[str], options: list[str]) -> str:
    """Content hash naming a runtime in the cache."""
    desc = {
        "format": FORMAT,
        "jdk_release_sha256": jdk.release_sha256,
        "modules": sorted(set(modules)),
        "jlink_options": options,
    }
    return hashlib.sha256(json.dumps(desc, sort_keys=True).encode()).hexdigest()


@dataclass(frozen=True)
class Runtime:
    """A jlinked runtime directory and what made it."""

    path: Path
    key: str
    modules: list[str]
    jlink_options: list[str]
    cache_hit: bool

    @property
    def java(self) -> Path:
        return self.path / "bin" / "java"


def check_modules(jdk: Jdk, modules: list[str]) -> list[str]:
    """Modules in `modules` that `jdk` does not have (its release file's MODULES)."""
    known = set(jdk.modules)
    return [m for m in modules if known and m not in known]


def assemble(
    tools: JavaTools,
    modules: list[str],
    options: list[str],
    cache: Path | None = None,
    on_jlink: Callable[[], None] | None = None,
) -> Runtime:
    """The runtime with `modules` linked with `options`, from the cache or made by jlink now.

    `on_jlink` is called just before a jlink starts (for progress display).
    """
    jdk = tools.jdk
    mods = sorted(set(modules))
    key = runtime_key(jdk, mods, options)
    root = (cache or cache_root()) / "runtimes"
    final = root / key
    if _complete(final):
        return Runtime(final / "runtime", key, mods, options, cache_hit=True)
    root.mkdir(parents=True, exist_ok=True)
    # One jlink per key at a time: a concurrent build of the same runtime waits for it.
    with open(root / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _complete(final):
            return Runtime(final / "runtime", key, mods, options, cache_hit=True)
        return _link(tools, mods, options, key, root, final, on_jlink)


def _complete(final: Path) -> bool:
    return (final / "info.json").is_file() and (final / "runtime" / "bin" / "java").is_file()


def _link(
    tools: JavaTools,
    mods: list[str],
    options: list[str],
    key: str,
    root: Path,
    final: Path,
    on_jlink: Callable[[], None] | None,
) -> Runtime:
    jdk = tools.jdk
    if on_jlink:
        on_jlink()
    work = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=root))
    try:
        out = work / "runtime"
        args = ["--add-modules", ",".join(mods), *options, "--output", str(out)]
        if jdk.has_jmods:
            args = ["--module-path", str(jdk.home / "jmods"), *args]
        # jlink always runs as its own process: its generate-jli-classes plugin writes the
        # java.lang.invoke species classes the *running* JVM produces, and a JVM that already did
        # other work (the in-process one) produces different bytes. A fresh jlink gives the same
        # runtime every time; it runs only on a cache miss.
        JavaTools(jdk, mode="exec").check(
            "jlink", args, f"linking the runtime from {jdk.describe()} (jlink)"
        )
        info = {
            "format": FORMAT,
            "jdk_home": str(jdk.home),
            "jdk_version": jdk.runtime_version,
            "jdk_release_sha256": jdk.release_sha256,
            "modules": mods,
            "jlink_options": options,
            "jlink_mode": "exec",
        }
        (work / "info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n")
        try:
            os.rename(work, final)
        except OSError:
            if not (final / "info.json").is_file():
                raise
            # Another process linked the same runtime first; its bytes are the same as ours.
            return Runtime(final / "runtime", key, mods, options, cache_hit=True)
        return Runtime(final / "runtime", key, mods, options, cache_hit=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def tree_size(path: Path) -> int:
    """Bytes in the regular files under `path` (symlinks not followed)."""
    total = 0
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            p = Path(dirpath) / name
            if not p.is_symlink():
                total += p.stat().st_size
    return total
