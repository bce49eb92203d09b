"""Finding the JDK an image is built from, and checking it can build one.

Order: the manifest's `jvm.home`, then `JAVA_HOME`, then `java` on `PATH` (symlinks followed to the
JDK). The JDK must be 17 or later and able to jlink: either it ships `jmods/`, or it is JDK 24+
linking from its own run-time image (JEP 493; Temurin 25 ships no jmods/).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from lwjvm.errors import LwjvmError

MIN_FEATURE = 17


@dataclass(frozen=True)
class Jdk:
    """One JDK installation, described by its `release` file."""

    home: Path
    release: dict[str, str]
    release_sha256: str

    @property
    def version(self) -> str:
        return self.release.get("JAVA_VERSION", "")

    @property
    def runtime_version(self) -> str:
        return self.release.get("JAVA_RUNTIME_VERSION", self.version)

    @property
    def implementor(self) -> str:
        return self.release.get("IMPLEMENTOR", "")

    @property
    def feature(self) -> int:
        """The feature release number: 17 for "17.0.15", 25 for "25.0.3"; 8 for "1.8.0"."""
        parts = self.version.split(".")
        try:
            first = int(parts[0].split("-")[0].split("+")[0])
        except ValueError:
            return 0
        if first == 1 and len(parts) > 1 and parts[1].isdigit():
            return int(parts[1])
        return first

    @property
    def modules(self) -> list[str]:
        return self.release.get("MODULES", "").split()

    @property
    def java(self) -> Path:
        return self.home / "bin" / "java"

    @property
    def libjvm(self) -> Path:
        return self.home / "lib" / "server" / "libjvm.so"

    @property
    def has_jmods(self) -> bool:
        return (self.home / "jmods" / "java.base.jmod").is_file()

    def tool(self, name: str) -> Path:
        return self.home / "bin" / name

    def describe(self) -> str:
        who = self.release.get("IMPLEMENTOR_VERSION") or self.implementor or "JDK"
        return f"{who} {self.runtime_version} at {self.home}"


def _parse_release(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip():
            value = value.strip()
            if len(value) >= 2 and value[0] == value[-1] == '"':
                value = value[1:-1]
            out[key.strip()] = value
    return out


def open_jdk(home: Path, origin: str) -> Jdk:
    """The JDK at `home`; `origin` says where the path came from, for the error message."""
    release = home / "release"
    try:
        data = release.read_bytes()
    except OSError as e:
        raise LwjvmError(
            f"{origin}: {home} is not a JDK: no readable 'release' file ({e.strerror})"
        ) from e
    jdk = Jdk(
        home=home.resolve(),
        release=_parse_release(data.decode("utf-8", "replace")),
        release_sha256=hashlib.sha256(data).hexdigest(),
    )
    if not jdk.version:
        raise LwjvmError(f"{origin}: {home}/release has no JAVA_VERSION")
    return jdk


def check_buildable(jdk: Jdk, origin: str) -> Jdk:
    """`jdk` if it is 17+ and can jlink; otherwise an LwjvmError saying why not."""
    if jdk.feature < MIN_FEATURE:
        raise LwjvmError(
            f"{origin}: {jdk.describe()} is Java {jdk.version}: "
            f"lwjvm needs JDK {MIN_FEATURE} or later"
        )
    if not jdk.java.is_file() or not jdk.libjvm.is_file():
        raise LwjvmError(f"{origin}: {jdk.home} has no bin/java or lib/server/libjvm.so")
    if "jdk.jlink" not in jdk.modules and not jdk.tool("jlink").exists():
        raise LwjvmError(
            f"{origin}: {jdk.describe()} has no jlink (a JRE?): point it at a full JDK"
        )
    if not jdk.has_jmods and jdk.feature < 24:
        raise LwjvmError(
            f"{origin}: {jdk.describe()} has no jmods/ directory, and before JDK 24 jlink can only "
            "link from jmods/: install the JDK's jmods (Debian: openjdk-N-jdk) or use JDK 24+"
        )
    return jdk


def find_jdk(manifest_home: Path | None = None, where: str = "jvm.home") -> Jdk:
    """The JDK to build with: `manifest_home`, else JAVA_HOME, else `java` on PATH."""
    if manifest_home is not None:
        return check_buildable(open_jdk(manifest_home, where), where)
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        origin = f"JAVA_HOME={java_home}"
        return check_buildable(open_jdk(Path(java_home), origin), origin)
    java = shutil.which("java")
    if java:
        home = Path(java).resolve().parent.parent
        origin = f"java on PATH ({java})"
        return check_buildable(open_jdk(home, origin), origin)
    raise LwjvmError(
        "no JDK found: set jvm.home in the manifest, set JAVA_HOME, or put java on PATH "
        f"(JDK {MIN_FEATURE} or later)"
    )
