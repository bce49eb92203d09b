"""Finding the JDK an image is built from, and checking it can build one.

Order: the manifest's `jvm.home`, then `JAVA_HOME`, then `java` on `PATH` (symlinks followed to the
JDK). The JDK must be 17 or later and able to jlink: either it ships `jmods/`, or it is JDK 24+
linking from its own run-time image (JEP 493; Temurin 25 ships no jmods/).

The JDK is code that runs on the host while an image is built (its jlink, jdeps and jar, as
executables or in-process through its libjvm.so), and a manifest may come from someone else, so
a manifest's `jvm.home` must name a JDK installed on this host (`check_installed`): a real JDK
(release file, ELF bin/java and tools, lib/modules, lib/server/libjvm.so), outside the manifest's
directory, and owned by root or by the user running lwjvm with nothing on its path writable by
anyone else. JAVA_HOME and PATH are the user's own choice and are not held to that.
docs/build.md, "The JDK".
"""

from __future__ import annotations

import hashlib
import os
import shutil
import stat
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


# The JDK's programs lwjvm runs on the host while it builds (lwjvm/jvmtools.py), and the files
# that must be the JDK's own for that: what it executes or loads, and what says it is a JDK.
HOST_TOOLS = ("jlink", "jdeps", "jar")
_ELF = b"\x7fELF"
_JIMAGE = b"\xda\xda\xfe\xca"  # lib/modules: the jimage magic 0xCAFEDADA, little-endian


def _owner_ok(st: os.stat_result) -> bool:
    return st.st_uid in (0, os.geteuid())


def _trusted(path: Path, what: str, origin: str, home: Path) -> os.stat_result:
    """lstat of `path`, which must be owned by root or us and writable by nobody else; a
    directory writable by others passes only with the sticky bit (others cannot replace what
    they do not own in it, as in /tmp)."""
    try:
        st = path.lstat()
    except OSError as e:
        raise LwjvmError(f"{origin}: {home} is not a JDK: no {what} ({e.strerror})") from e
    if not _owner_ok(st):
        raise LwjvmError(
            f"{origin}: {path} belongs to uid {st.st_uid}, not to root or to you: lwjvm runs "
            "this JDK's tools on the host, so only a JDK installed by root or by you is used"
        )
    if stat.S_ISLNK(st.st_mode):
        # A link's own mode means nothing; whoever may change its directory may replace it, and
        # that was checked. What it points to must be trusted, and the way there.
        try:
            target = path.resolve()
        except (OSError, RuntimeError) as e:
            raise LwjvmError(f"{origin}: {home} is not a JDK: {path} is a link loop") from e
        # A dangling link (Debian's optional libatk-wrapper.so) loads nothing; but nobody else
        # may be able to create its target, so the way there is checked as far as it exists.
        for d in [*reversed(target.parents), target]:
            if not os.path.lexists(d):
                break
            st = _trusted(d, what, origin, home)
        return st
    sticky_dir = stat.S_ISDIR(st.st_mode) and st.st_mode & stat.S_ISVTX
    if st.st_mode & (stat.S_IWGRP | stat.S_IWOTH) and not sticky_dir:
        raise LwjvmError(
            f"{origin}: {path} is writable by other users ({stat.filemode(st.st_mode)}): anyone "
            "could replace the JDK lwjvm runs on the host"
        )
    return st


def check_installed(jdk: Jdk, project: Path, origin: str) -> Jdk:
    """`jdk` if it is fit to run on the host for a manifest in `project`: a real JDK installed
    outside the project, by root or by us, that nobody else can change; else an LwjvmError."""
    home = jdk.home  # resolved: symlinks followed
    root = project.resolve()
    if home == root or root in home.parents:
        raise LwjvmError(
            f"{origin}: {home} is inside the manifest's directory {root}: lwjvm runs that JDK's "
            "jlink and jdeps on this host while it builds, so jvm.home must name a JDK installed "
            "outside the project (or leave jvm.home out and set JAVA_HOME)"
        )
    # Every directory from / down to the JDK, then the JDK's own directories and files.
    for d in [*reversed(home.parents), home]:
        _trusted(d, "such directory", origin, home)
    for sub in ("bin", "lib", "lib/server"):
        if not stat.S_ISDIR(_trusted(home / sub, f"{sub}/ directory", origin, home).st_mode):
            raise LwjvmError(f"{origin}: {home} is not a JDK: {sub} is not a directory")
    files: list[tuple[str, bytes | None]] = [
        ("release", None), ("lib/modules", _JIMAGE), ("bin/java", _ELF),
    ]  # fmt: skip
    files += [(f"bin/{t}", _ELF) for t in HOST_TOOLS if (home / "bin" / t).exists()]
    # The libraries libjvm.so loads from the JDK (libjava.so, libjimage.so...) are code too.
    files += [(str(p.relative_to(home)), _ELF) for d in ("lib", "lib/server")
              for p in sorted((home / d).glob("*.so"))]  # fmt: skip
    for rel, magic in files:
        st = _trusted(home / rel, rel, origin, home)
        if rel.endswith(".so") and rel != "lib/server/libjvm.so" and not (home / rel).exists():
            continue  # a dangling link: nothing to load
        if not stat.S_ISREG(st.st_mode):
            raise LwjvmError(f"{origin}: {home} is not a JDK: {rel} is not a regular file")
        if magic is not None:
            with open(home / rel, "rb") as f:
                head = f.read(len(magic))
            if head != magic:
                kind = "the JDK's module image" if rel == "lib/modules" else "an ELF program"
                raise LwjvmError(f"{origin}: {home} is not a JDK: {rel} is not {kind}")
    return jdk


def find_jdk(
    manifest_home: Path | None = None, where: str = "jvm.home", project: Path | None = None
) -> Jdk:
    """The JDK to build with: `manifest_home`, else JAVA_HOME, else `java` on PATH. With
    `project` (the manifest's directory), `manifest_home` must also pass `check_installed`."""
    if manifest_home is not None:
        jdk = check_buildable(open_jdk(manifest_home, where), where)
        return check_installed(jdk, project, where) if project is not None else jdk
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
