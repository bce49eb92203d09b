"""Spring Boot executable jars: recognised and extracted before an image is built.

An executable jar (`spring-boot-maven-plugin repackage`, Gradle's `bootJar`) nests its libraries
in BOOT-INF/lib and starts through Spring Boot's launcher, whose class loader CDS cannot archive.
lwjvm unpacks it into the layout of Spring Boot's own `java -Djarmode=tools -jar app.jar extract`
(the application jar beside lib/ holding every library, unchanged), the layout Spring Boot
recommends for CDS, and runs Start-Class directly with the jars on the class path: the class-data
archive then covers the application's dependencies. The extraction is deterministic (entries in
the source's order, fixed times) and cached by the executable jar's SHA-256.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

from lwjvm.descriptor import SpringBoot
from lwjvm.errors import LwjvmError

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: entries carry no host time
LIB_DIR = "BOOT-INF/lib/"
CLASSES_DIR = "BOOT-INF/classes/"
CLASSPATH_INDEX = "BOOT-INF/classpath.idx"
LOADER_PREFIX = "org/springframework/boot/loader/"
# Spring Boot's jarmode tools (the `extract` command itself): not a runtime library.
JARMODE_PREFIX = "spring-boot-jarmode-"
# The training run of a Spring application stops once its context is refreshed, before the web
# server starts: Spring's documented way to train a CDS archive (-Dspring.context.exit=onRefresh).
TRAINING_OPTIONS = ["-Dspring.context.exit=onRefresh"]
DONE = "extracted.json"


@dataclass(frozen=True)
class Extracted:
    """An executable jar unpacked: the application jar, then its libraries in class path order."""

    source: Path
    source_sha256: str
    jar: Path
    libs: list[Path]
    start_class: str
    boot_version: str | None

    def describe(self) -> SpringBoot:
        """What image.json records about it."""
        return SpringBoot(
            jar=self.source.name,
            sha256=self.source_sha256,
            start_class=self.start_class,
            spring_boot=self.boot_version,
            libraries=len(self.libs),
        )


def _manifest(zf: zipfile.ZipFile) -> dict[str, str]:
    try:
        text = zf.read("META-INF/MANIFEST.MF").decode("utf-8", "replace")
    except KeyError:
        return {}
    attrs: dict[str, str] = {}
    key = None
    for line in text.replace("\r\n", "\n").split("\n"):
        if line.startswith(" ") and key:
            attrs[key] += line[1:]
        elif ":" in line:
            key, _, value = line.partition(":")
            attrs[key] = value.strip()
    return attrs


def start_class(jar: Path) -> str | None:
    """The Start-Class of `jar` when it is a Spring Boot executable jar, else None."""
    try:
        with zipfile.ZipFile(jar) as zf:
            attrs = _manifest(zf)
            if "Start-Class" in attrs and any(n.startswith(CLASSES_DIR) for n in zf.namelist()):
                return attrs["Start-Class"]
    except (OSError, zipfile.BadZipFile):
        return None
    return None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _entry(name: str) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(name, ZIP_EPOCH)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = (0o755 if name.endswith("/") else 0o644) << 16
    return info


def _lib_order(zf: zipfile.ZipFile) -> list[str]:
    """BOOT-INF/lib entries in Spring Boot's class path order (classpath.idx), then any others."""
    libs = [n for n in zf.namelist() if n.startswith(LIB_DIR) and n.endswith(".jar")]
    order: list[str] = []
    try:
        for line in zf.read(CLASSPATH_INDEX).decode("utf-8").splitlines():
            name = line.strip().removeprefix("- ").strip('"')
            if name in libs and name not in order:
                order.append(name)
    except KeyError:
        pass
    order += sorted(n for n in libs if n not in order)
    return [n for n in order if not Path(n).name.startswith(JARMODE_PREFIX)]


# The launcher's attributes: the extracted jar starts Start-Class directly, its libraries named on
# the command line's class path.
LAUNCHER_ATTRIBUTES = {
    "Main-Class", "Start-Class", "Spring-Boot-Classes", "Spring-Boot-Lib",
    "Spring-Boot-Classpath-Index", "Spring-Boot-Layers-Index", "Class-Path",
}  # fmt: skip


def _render_manifest(attrs: dict[str, str], start: str) -> bytes:
    """The application jar's manifest: the original's attributes, Main-Class set to Start-Class."""
    lines = ["Manifest-Version: 1.0", f"Main-Class: {start}"]
    lines += [
        f"{k}: {v}"
        for k, v in attrs.items()
        if k and k not in LAUNCHER_ATTRIBUTES and k != "Manifest-Version"
    ]
    out = []
    for line in lines:  # the jar format's 72-byte lines, continued with a leading space
        raw = line.encode()
        out.append(raw[:72])
        out += [b" " + raw[i : i + 71] for i in range(72, len(raw), 71)]
    return b"\r\n".join(out) + b"\r\n\r\n"


def _write(source: Path, dest: Path, start: str) -> tuple[list[str], str | None]:
    """Unpack `source` into `dest`: dest/NAME (the application) and dest/lib/*.jar."""
    (dest / "lib").mkdir(parents=True)
    with zipfile.ZipFile(source) as zf:
        attrs = _manifest(zf)
        libs = _lib_order(zf)
        names: list[str] = []
        for name in libs:
            base = Path(name).name
            with zf.open(name) as src, open(dest / "lib" / base, "wb") as dst:
                shutil.copyfileobj(src, dst)
            os.utime(dest / "lib" / base, (0, 0))
            names.append(base)
        manifest = _render_manifest(attrs, start)
        with zipfile.ZipFile(dest / source.name, "w", zipfile.ZIP_DEFLATED) as out:
            out.writestr(_entry("META-INF/MANIFEST.MF"), manifest)
            seen = {"META-INF/MANIFEST.MF"}
            for info in zf.infolist():
                name = info.filename
                if name.startswith(CLASSES_DIR):
                    name = name[len(CLASSES_DIR) :]
                elif not name.startswith("META-INF/") or name.startswith(LOADER_PREFIX):
                    continue  # the launcher, the nested libraries, BOOT-INF's indexes
                if not name or name in seen:
                    continue
                seen.add(name)
                out.writestr(_entry(name), b"" if name.endswith("/") else zf.read(info))
        os.utime(dest / source.name, (0, 0))
    return names, attrs.get("Spring-Boot-Version")


def extract(source: Path, cache: Path) -> Extracted:
    """The extraction of the executable jar `source`, from `cache`/springboot or made now."""
    start = start_class(source)
    if start is None:
        raise LwjvmError(f"{source}: not a Spring Boot executable jar (no Start-Class)")
    digest = _sha256(source)
    # The jar's name is part of the key: the extracted application jar keeps it.
    key = hashlib.sha256(f"{digest}/{source.name}".encode()).hexdigest()
    final = cache / "springboot" / key
    done = final / DONE
    if not done.is_file():
        final.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=f".{key}.", dir=final.parent))
        try:
            libs, version = _write(source, work / "x", start)
            (work / "x" / DONE).write_text(
                json.dumps({"libs": libs, "start_class": start, "spring_boot": version}),
                encoding="utf-8",
            )
            try:
                os.rename(work / "x", final)
            except OSError:
                if not done.is_file():  # not a concurrent build that finished first
                    raise
        except (OSError, zipfile.BadZipFile, KeyError) as e:
            raise LwjvmError(f"{source}: cannot extract the Spring Boot jar: {e}") from e
        finally:
            shutil.rmtree(work, ignore_errors=True)
    info = json.loads(done.read_text(encoding="utf-8"))
    return Extracted(
        source=source,
        source_sha256=digest,
        jar=final / source.name,
        libs=[final / "lib" / n for n in info["libs"]],
        start_class=info["start_class"],
        boot_version=info["spring_boot"],
    )
