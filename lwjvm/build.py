"""`lwjvm build`: manifest -> trimmed runtime, app, glibc, CDS archive -> root image, descriptor.

The image's layout (all owned by root, timestamps fixed by lwjvm/image.py):
  /opt/java/...              the jlinked runtime (jvm-port/profile.json `runtime_dir`)
  /app/JAR, /app/lib/...     the application class path
  /app/app.jsa               the application's CDS archive (when jvm.cds is on)
  /lib64/ld-linux..., /usr/lib/x86_64-linux-gnu/...  the host's glibc files the runtime needs,
                             at their host paths with the host's symlinks
  /etc/passwd, group, nsswitch.conf, hosts, hostname, resolv.conf   what the JVM and glibc read
  /etc/lwjvm/boot.conf       exec=/opt/java/bin/java and the full JVM command line
  /proc /sys /dev /tmp       empty mount points
The output directory holds root.img, kernel.elf and image.json (what `lwjvm inspect` shows:
class path digests, the runtime's cache key, the JVM command line, sizes; docs/build.md). It holds
no times and no output paths, so two builds of the same inputs give the same bytes in all three.
"""

from __future__ import annotations

import dataclasses
import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from lwjvm import __version__, bootconf, elfinfo, guestrun, image, jvmflags, network, springboot
from lwjvm import descriptor as desc_mod
from lwjvm import modules as modules_mod
from lwjvm import snapshot as snapshot_mod
from lwjvm.errors import LwjvmError
from lwjvm.jdk import Jdk, find_jdk
from lwjvm.jvmtools import JavaTools, Mode
from lwjvm.manifest import Manifest
from lwjvm.runtime import Runtime, assemble, cache_root, check_modules, jlink_options, profile

DESCRIPTOR = desc_mod.FILE
ROOT_IMAGE = desc_mod.ROOT_IMAGE
KERNEL = desc_mod.KERNEL
CLASSLIST = "/tmp/lwjvm-classes.lst"  # written by the training run in the guest
STAGED_CLASSLIST = "/lwjvm-classes.lst"  # the class list in the dump's image (not in the final one)
DUMPED_ARCHIVE = "/tmp/lwjvm-app.jsa"  # written by the dump in the guest
CDS_MEMORY_MIB = 512  # guest memory for the CDS boots: the JVM's flags, not the VM, size its heap

ETC_FILES = {
    "/etc/passwd": (
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/sh\n"
    ),
    "/etc/group": "root:x:0:\nnogroup:x:65534:\n",
}  # and network.etc_files(): hosts, hostname, nsswitch.conf, resolv.conf
MOUNT_POINTS = ["/proc", "/sys", "/dev", "/tmp", "/root"]
DEFAULT_ENV = {"LANG": "C.UTF-8"}
C_UTF8_LOCALE = "/usr/lib/locale/C.utf8"


@dataclass(frozen=True)
class Extra:
    """What a command adds to the manifest's image: variables (`--env`), JVM options and
    modules (`--debug`). Part of the image's inputs (uptodate.image_inputs)."""

    env: tuple[tuple[str, str], ...] = ()
    jvm_options: tuple[str, ...] = ()
    modules: tuple[str, ...] = ()

    def record(self) -> dict[str, Any] | None:
        """The JSON form for run-inputs.json, None when it adds nothing."""
        if not (self.env or self.jvm_options or self.modules):
            return None
        return {
            "env": [list(e) for e in self.env],
            "jvm_options": list(self.jvm_options),
            "modules": list(self.modules),
        }


JDWP_MODULE = "jdk.jdwp.agent"


def debug_extra(port: int) -> Extra:
    """The JDWP agent listening on `port` in the guest, not suspending the JVM (`--debug`)."""
    option = f"-agentlib:jdwp=transport=dt_socket,server=y,suspend=n,address=*:{port}"
    return Extra(jvm_options=(option,), modules=(JDWP_MODULE,))


JMX_MODULE = "jdk.management.agent"


def jmx_extra(port: int) -> Extra:
    """The JMX agent on `port` in the guest (`--jmx`): RMI registry and server on the one port,
    stubs naming 127.0.0.1 (the host end of the forward), no authentication and no TLS: reach
    it only through the forward on the host's loopback."""
    options = (
        f"-Dcom.sun.management.jmxremote.port={port}",
        f"-Dcom.sun.management.jmxremote.rmi.port={port}",
        "-Dcom.sun.management.jmxremote.authenticate=false",
        "-Dcom.sun.management.jmxremote.ssl=false",
        "-Dcom.sun.management.jmxremote.local.only=false",
        "-Djava.rmi.server.hostname=127.0.0.1",
    )
    return Extra(jvm_options=options, modules=(JMX_MODULE,))


def merge_extras(*extras: Extra | None) -> Extra:
    """One Extra with everything of `extras`, in order."""
    out = Extra()
    for e in extras:
        if e is not None:
            out = Extra(
                out.env + e.env,
                out.jvm_options + e.jvm_options,
                out.modules + tuple(m for m in e.modules if m not in out.modules),
            )
    return out


class Progress:
    """One line per slow step on `stream`; a live elapsed-time spinner when it is a terminal."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True) -> None:
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.live = enabled and self.stream.isatty()

    @contextmanager
    def step(self, what: str) -> Iterator[None]:
        start = time.monotonic()
        stop = threading.Event()
        spinner: threading.Thread | None = None
        if self.live:

            def spin() -> None:
                frames = "|/-\\"
                i = 0
                while not stop.wait(0.1):
                    elapsed = time.monotonic() - start
                    self.stream.write(f"\r{frames[i % 4]} {what} {elapsed:.1f}s")
                    self.stream.flush()
                    i += 1

            spinner = threading.Thread(target=spin, daemon=True)
            spinner.start()
        ok = False
        try:
            yield
            ok = True
        finally:
            stop.set()
            if spinner:
                spinner.join()
            if self.enabled:
                elapsed = time.monotonic() - start
                mark = "ok" if ok else "failed"
                prefix = "\r\x1b[K" if self.live else ""
                self.stream.write(f"{prefix}  {what}: {mark} ({elapsed:.1f}s)\n")
                self.stream.flush()

    def note(self, text: str) -> None:
        if self.enabled:
            self.stream.write(f"  {text}\n")
            self.stream.flush()


@dataclass
class BuildResult:
    """What a build wrote and how long its steps took (timings are not part of the image)."""

    out_dir: Path
    descriptor: desc_mod.ImageDescriptor
    runtime: Runtime
    tools_mode: str
    cds_cache_hit: bool | None
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def root_image(self) -> Path:
        return self.out_dir / ROOT_IMAGE


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _tree_digest(path: Path) -> str:
    """SHA-256 over a file or a directory tree's relative names and contents."""
    if path.is_file():
        return sha256_file(path)
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(path):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            h.update(p.relative_to(path).as_posix().encode() + b"\0")
            h.update(sha256_file(p).encode())
    return h.hexdigest()


# Where else a jar may hold its classes: multi-release versions, Spring Boot and war layouts.
CLASS_PREFIXES = ("META-INF/versions/", "BOOT-INF/classes/", "WEB-INF/classes/")


def has_class(classpath: list[Path], name: str) -> bool:
    """Whether the class `name` (a.b.C, or a.b.C$D) is in a jar or directory of `classpath`."""
    entry = name.replace(".", "/") + ".class"
    for p in classpath:
        if p.is_dir():
            if (p / entry).is_file():
                return True
            continue
        try:
            with zipfile.ZipFile(p) as zf:
                names = set(zf.namelist())
        except (OSError, zipfile.BadZipFile) as e:
            raise LwjvmError(f"{p}: not a readable jar: {e}") from e
        if entry in names or any(
            n.endswith("/" + entry) and n.startswith(CLASS_PREFIXES) for n in names
        ):
            return True
    return False


def count_classes(classpath: list[Path]) -> int:
    """The number of .class files in the jars and directories of `classpath`."""
    n = 0
    for entry in classpath:
        if entry.is_dir():
            n += sum(1 for p in entry.rglob("*.class"))
            continue
        try:
            with zipfile.ZipFile(entry) as zf:
                n += sum(1 for name in zf.namelist() if name.endswith(".class"))
        except (OSError, zipfile.BadZipFile) as e:
            raise LwjvmError(f"{entry}: not a readable jar: {e}") from e
    return n


def guest_classpath(m: Manifest) -> list[tuple[Path, str]]:
    """(host path, guest path) of every class path entry: the jar in /app, the rest in /app/lib.

    A class directory becomes a jar (NAME.jar, see `jar_directory`): CDS archives classes from
    jars only (a dump with a non-empty directory on the class path fails).
    """
    app_dir = profile()["app_dir"]
    out: list[tuple[Path, str]] = []
    used: set[str] = set()
    for i, host in enumerate(m.full_classpath()):
        folder = app_dir if (i == 0 and m.jar is not None) else f"{app_dir}/lib"
        name = f"{host.name}.jar" if host.is_dir() else host.name
        guest = f"{folder}/{name}"
        if guest in used:
            guest = f"{folder}/{i}-{name}"
        used.add(guest)
        out.append((host, guest))
    return out


JAR_ENTRY_TIME = (1980, 1, 1, 0, 0, 0)  # the zip format's earliest date: entries carry no host time


def jar_directory(directory: Path, jar: Path) -> None:
    """Pack a class directory into `jar`: entries sorted, fixed times and modes, so the same
    directory gives the same bytes."""
    jar.parent.mkdir(parents=True, exist_ok=True)
    files = sorted(p for p in directory.rglob("*") if p.is_file())
    with zipfile.ZipFile(jar, "w", zipfile.ZIP_DEFLATED) as zf:
        for p in files:
            info = zipfile.ZipInfo(p.relative_to(directory).as_posix(), JAR_ENTRY_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.external_attr = 0o644 << 16
            zf.writestr(info, p.read_bytes())


@dataclass(frozen=True)
class Libraries:
    """The host files the runtime loads, and the libraries of optional parts the host lacks."""

    files: list[elfinfo.HostFile]
    missing: dict[str, list[str]]  # library name -> runtime files (relative) that want it


NESTED_LIB_DIRS = ("BOOT-INF/lib/", "WEB-INF/lib/", "lib/")


def nested_jars(classpath: list[Path], work: Path) -> list[Path]:
    """The jars inside class path jars (Spring Boot's BOOT-INF/lib, a war's WEB-INF/lib, a
    one-jar's lib/), copied out under `work` so jdeps can read them: jdeps reads a jar's own
    classes wherever they sit (BOOT-INF/classes too) but not the jars nested in it."""
    out: list[Path] = []
    for i, entry in enumerate(classpath):
        if not entry.is_file() or not zipfile.is_zipfile(entry):
            continue
        with zipfile.ZipFile(entry) as zf:
            for name in sorted(zf.namelist()):
                if name.startswith(NESTED_LIB_DIRS) and name.endswith(".jar"):
                    dest = work / str(i) / name
                    dest.parent.mkdir(parents=True, exist_ok=True)
                    with zf.open(name) as src, open(dest, "wb") as dst:
                        shutil.copyfileobj(src, dst)
                    out.append(dest)
    return out


def runtime_libraries(runtime: Path) -> Libraries:
    """The host files (interpreter and shared libraries) the runtime's ELF files load.

    A library the host does not have (say libX11 for java.desktop's libawt_xawt.so on a server)
    is reported in `missing`, not an error: the JDK loads such parts only when they are used, and
    they would fail the same way on the host.
    """
    elves: list[Path] = []
    lib_dirs: set[Path] = set()
    for dirpath, dirnames, filenames in os.walk(runtime):
        dirnames.sort()
        for name in sorted(filenames):
            p = Path(dirpath) / name
            if p.is_symlink() or not p.is_file():
                continue
            with open(p, "rb") as f:
                if f.read(4) != b"\x7fELF":
                    continue
            elves.append(p)
            if name.endswith(".so"):
                lib_dirs.add(p.parent)
    if not elves:
        raise LwjvmError(f"{runtime} holds no ELF files: not a runtime")
    ldd = shutil.which("ldd")
    if ldd is None:
        raise LwjvmError("ldd not found: install libc-bin")
    # The runtime's own libraries find each other through $ORIGIN or an already loaded libjvm;
    # LD_LIBRARY_PATH lets ldd resolve them so only host libraries are left to collect.
    env = dict(os.environ, LD_LIBRARY_PATH=":".join(str(d) for d in sorted(lib_dirs)))
    wanted: list[str] = []
    missing: dict[str, list[str]] = {}
    java = elfinfo.check_program(runtime / "bin" / "java")
    if java.interp:
        wanted.append(java.interp)
    for p in elves:
        proc = subprocess.run([ldd, str(p)], capture_output=True, text=True, env=env)
        if proc.returncode != 0 and "not a dynamic executable" in (proc.stdout + proc.stderr):
            continue
        if proc.returncode != 0:
            raise LwjvmError(f"ldd {p} failed: {(proc.stderr or proc.stdout).strip()}")
        found = []
        for line in proc.stdout.splitlines():
            if "=> not found" in line:
                name = line.split("=>")[0].strip()
                missing.setdefault(name, []).append(str(p.relative_to(runtime)))
            else:
                found.append(line)
        wanted += elfinfo.parse_ldd("\n".join(found))
    root = str(runtime.resolve())
    seen: set[str] = set()
    out: list[elfinfo.HostFile] = []
    for path in wanted:
        if path in seen or os.path.realpath(path).startswith(root + os.sep):
            continue
        seen.add(path)
        out.append(elfinfo.resolve_chain(path))
    if "bin/java" in {f for users in missing.values() for f in users}:
        raise LwjvmError(f"{runtime}/bin/java needs {', '.join(missing)}, not on this host")
    return Libraries(out, missing)


def _set_times(root: Path, epoch: int) -> None:
    """Give every staged file the image's timestamp now (CDS records jar mtimes at dump time)."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            p = Path(dirpath) / name
            os.utime(p, (epoch, epoch), follow_symlinks=False)


def build(
    manifest: Manifest,
    out_dir: Path,
    kernel: Path | None,
    progress: Progress | None = None,
    tools_mode: Mode = "auto",
    cache: Path | None = None,
    args: list[str] | None = None,
    extra: Extra | None = None,
) -> BuildResult:
    """Build the image for `manifest` into `out_dir`.

    `args`, when given, replace the manifest's app.args (`lwjvm run app.yaml -- ARGS`); `extra`
    adds to the manifest what a command asks for (`--env`, `--debug`). `manifest` is not changed.
    """
    progress = progress or Progress(enabled=False)
    timings: dict[str, float] = {}
    t0 = time.monotonic()
    m = dataclasses.replace(
        manifest,
        args=list(manifest.args if args is None else args),
        env=dict(manifest.env),
        jvm_options=list(manifest.jvm_options),
        modules=list(manifest.modules),
    )
    if extra is not None:
        m.env.update(dict(extra.env))
        m.jvm_options += list(extra.jvm_options)
        m.modules += [n for n in extra.modules if n not in m.modules]
    boot: springboot.Extracted | None = None
    if m.jar is not None and springboot.start_class(m.jar) is not None:
        # A Spring Boot executable jar runs extracted: its jar, then lib/ (lwjvm/springboot.py).
        with progress.step("Spring Boot jar (extract or cache)"):
            boot = springboot.extract(m.jar, cache or cache_root())
        m.jar = boot.jar
        m.classpath = [*boot.libs, *m.classpath]
    jdk = find_jdk(
        m.jvm_home, m.where(("jvm", "home")) if m.jvm_home else "jvm.home", m.directory
    )
    tools = JavaTools(jdk, tools_mode)
    if tools.fallback_reason and tools_mode == "auto":
        progress.note(f"running the JDK tools as executables: {tools.fallback_reason}")
    main = m.resolve_main(tools.main_class)
    if not has_class(m.full_classpath(), main):
        field = ("app", "main") if m.main else ("app", "jar")
        raise LwjvmError(
            f"{m.where(field)}: main class {main} is not in the class path "
            f"({', '.join(p.name for p in m.full_classpath())})"
        )
    cp = guest_classpath(m)

    with progress.step("modules (jdeps, descriptors, training run)"):
        t = time.monotonic()
        env = dict(DEFAULT_ENV)
        env.update(m.env)
        module_flags = [*m.jvm_options, *[f"-D{k}={v}" for k, v in m.properties.items()]]
        if boot:  # a Spring application's training runs stop after the context refresh
            module_flags += springboot.TRAINING_OPTIONS
        found_modules = modules_mod.discover(
            m, tools, main, cp, env, module_flags, cache or cache_root(), nested_jars
        )
        modules = set(found_modules.modules)
        missing = check_modules(jdk, sorted(modules))
        if missing:
            raise LwjvmError(
                f"{m.where(('jvm', 'modules'))}: {jdk.describe()} has no module "
                f"{', '.join(missing)}"
            )
        timings["jdeps"] = time.monotonic() - t

    options = jlink_options(jdk, compress=m.cds)
    t = time.monotonic()
    with progress.step("runtime (jlink or cache)"):
        runtime = assemble(tools, sorted(modules), options, cache)
    timings["runtime"] = time.monotonic() - t
    for note in found_modules.notes:
        progress.note(note)
    progress.note(
        f"runtime {'from cache' if runtime.cache_hit else 'linked'}: {', '.join(runtime.modules)}"
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    staging_dir = Path(tempfile.mkdtemp(prefix=".lwjvm-staging-", dir=out_dir))
    try:
        result = _build_image(
            m, jdk, tools, main, cp, runtime, staging_dir, out_dir, kernel, progress, cache,
            timings, found_modules.reasons, boot,
        )  # fmt: skip
    finally:
        shutil.rmtree(staging_dir, ignore_errors=True)
    if m.snapshot:
        _warm_snapshot(m, result, progress, timings)
    else:
        snapshot_mod.remove(out_dir)
    timings["total"] = time.monotonic() - t0
    return result


def _warm_snapshot(
    m: Manifest, result: BuildResult, progress: Progress, timings: dict[str, float]
) -> None:
    """vm.snapshot: boots the finished image, warms it and saves the VM (lwjvm/snapshot.py);
    the descriptor records it."""
    traffic = guestrun.traffic_of(m)
    if traffic is None:  # the manifest's loader refuses this; a last guard
        raise LwjvmError(f"{m.where(('vm', 'snapshot'))}: no requests to warm the app with")
    t = time.monotonic()
    with progress.step("warm snapshot (boot, warm-up requests, save)"):
        snap = snapshot_mod.take(result.out_dir, result.descriptor, traffic)
    timings["snapshot"] = time.monotonic() - t
    result.descriptor = dataclasses.replace(result.descriptor, snapshot=snap)
    result.descriptor.write(result.out_dir)
    progress.note(
        f"warm snapshot: {snap.served}; {snap.ram_bytes >> 20} MiB of RAM and "
        f"{snap.state_bytes >> 10} KiB of device state saved {snap.seconds:.1f} s after QEMU "
        "started"
    )


def _build_image(
    m: Manifest,
    jdk: Jdk,
    tools: JavaTools,
    main: str,
    cp: list[tuple[Path, str]],
    runtime: Runtime,
    staging_dir: Path,
    out_dir: Path,
    kernel: Path | None,
    progress: Progress,
    cache: Path | None,
    timings: dict[str, float],
    module_reasons: dict[str, str] | None = None,
    boot: springboot.Extracted | None = None,
) -> BuildResult:
    prof = profile()
    java_dir = prof["runtime_dir"]
    staging = image.Staging(staging_dir)
    t = time.monotonic()
    with progress.step("staging"):
        staging.stage_tree(runtime.path, java_dir)
        found = runtime_libraries(runtime.path)
        libs = found.files
        for lib in libs:
            staging.stage_host_file(lib.links, lib.real)
        for name, users in sorted(found.missing.items()):
            progress.note(f"not on this host: {name}, wanted by {', '.join(users)} (left out)")
        for host, guest in cp:
            if host.is_dir():
                jar_directory(host, staging.host_path(guest))
            else:
                staging.stage(host, guest)
        for copy in m.files:
            dst = copy.dst
            if copy.src.is_file() and dst.endswith("/"):
                dst += copy.src.name
            staging.stage(copy.src, dst.rstrip("/") or "/")
        etc = dict(ETC_FILES)
        etc.update(network.etc_files(m.name, m.network, m.tap))
        for path, text in etc.items():
            if not staging.host_path(path).exists():
                staging.stage_bytes(text.encode(), path)
        for path in MOUNT_POINTS:
            staging.mkdir(path)
        for v in m.volumes:  # the volume is mounted over it (lwjvm.volume=, docs/protocol.md)
            staging.mkdir(v.mount)
        # LANG=C.UTF-8 (the default) needs glibc's C.utf8 locale files, or the JVM falls back
        # to ASCII for arguments and output.
        env_lang = m.env.get("LANG", DEFAULT_ENV["LANG"])
        if env_lang == "C.UTF-8" and Path(C_UTF8_LOCALE).is_dir():
            staging.stage_tree(Path(C_UTF8_LOCALE), C_UTF8_LOCALE)
    timings["staging"] = time.monotonic() - t

    plan = jvmflags.plan_memory(m.memory, count_classes([host for host, _ in cp]))
    flags = jvmflags.merge(jvmflags.default_flags(plan, m.cpus), m.jvm_options)
    flags += [f"-D{k}={v}" for k, v in m.properties.items()]
    classpath = ":".join(guest for _, guest in cp)
    env = dict(DEFAULT_ENV)
    env.update(m.env)
    java = f"{java_dir}/bin/java"
    app_dir = prof["app_dir"]

    cds: desc_mod.Cds | None = None
    cds_flags: list[str] = []
    cds_hit: bool | None = None
    if m.cds:
        why_not = None if kernel is not None else guestrun.unavailable()
        if why_not:
            raise LwjvmError(
                f"{m.where(('jvm', 'cds'))}: the class-data archive is made by a training run in "
                f"the guest, and {why_not}; or set jvm.cds: false"
            )
        epoch = image.source_date_epoch()
        archive = prof["cds_archive"]
        t = time.monotonic()
        with progress.step("class-data archive (training run + dump)"):
            training_args = m.args if m.cds_args is None else m.cds_args
            training_options = springboot.TRAINING_OPTIONS if boot else []
            cds, cds_hit = _make_cds(
                staging, runtime, cp, flags, classpath, main, m.args, env, archive, epoch, cache,
                training_args, m.cds_timeout, plan.total >> 20, kernel, training_options,
                guestrun.traffic_of(m),
            )  # fmt: skip
        timings["cds"] = time.monotonic() - t
        cds_flags = ["-Xshare:auto", f"-XX:SharedArchiveFile={archive}"]

    argv = [java, *flags, *cds_flags, "-cp", classpath, main, *m.args]
    env_list = [f"{k}={v}" for k, v in env.items()]
    net_keys = network.boot_keys(m.name, m.tap) if m.network != network.NETWORK_NONE else None
    conf = bootconf.BootConfig.make(java, argv, env_list, app_dir, net_keys)
    staging.stage_bytes(conf.render(), bootconf.PATH)

    t = time.monotonic()
    root_img = out_dir / ROOT_IMAGE
    with progress.step("root image (mke2fs)"):
        stats = image.build_image(staging_dir, root_img)
    timings["image"] = time.monotonic() - t

    kernel_info: desc_mod.FileDigest | None = None
    if kernel is not None:
        shutil.copyfile(kernel, out_dir / KERNEL)
        kernel_info = desc_mod.FileDigest(sha256_file(kernel), kernel.stat().st_size)
    else:
        (out_dir / KERNEL).unlink(missing_ok=True)

    descriptor = desc_mod.ImageDescriptor(
        name=m.name,
        app=desc_mod.App(
            main=main,
            args=m.args,
            classpath=[
                desc_mod.ClassPathEntry(guest, _tree_digest(host), host.name) for host, guest in cp
            ],
            files=[
                desc_mod.FileEntry(str(c.src.relative_to(m.directory)), c.dst) for c in m.files
            ],
            spring_boot=boot.describe() if boot else None,
        ),
        jdk=desc_mod.JdkInfo(
            str(jdk.home), jdk.runtime_version, jdk.implementor, jdk.release_sha256
        ),
        runtime=desc_mod.RuntimeInfo(
            path=java_dir,
            key=runtime.key,
            modules=runtime.modules,
            module_reasons=module_reasons or {},
            jlink_options=runtime.jlink_options,
            size=_bytes_under(staging_dir / java_dir.lstrip("/")),
        ),
        libraries=[desc_mod.Library(lib.path, lib.real) for lib in libs],
        libraries_size=sum(Path(lib.real).stat().st_size for lib in libs),
        libraries_missing=found.missing,
        cds=cds,
        memory=desc_mod.MemoryPlan(
            vm=plan.total,
            cpus=m.cpus,
            heap=plan.heap,
            metaspace=plan.metaspace,
            code_cache=plan.code_cache,
            direct=plan.direct,
            thread_stacks=plan.stacks,
            kernel_reserve=plan.kernel,
        ),
        jvm=desc_mod.JvmCommand(exec=java, argv=argv, env=env_list, cwd=app_dir),
        vm=desc_mod.VmPlan(
            memory=plan.total,
            cpus=m.cpus,
            ports=[p.to_json() for p in m.ports],
            network=m.network,
            volumes=list(m.volumes),
            health=m.health,
            restart=str(m.restart),
            tap=m.tap,
        ),
        root_img=desc_mod.FileDigest(
            sha256_file(root_img), root_img.stat().st_size, stats.entries
        ),
        kernel=kernel_info,
        epoch=image.source_date_epoch(),
        lwjvm=__version__,
    )
    descriptor.write(out_dir)
    return BuildResult(out_dir, descriptor, runtime, tools.mode, cds_hit, timings)


def _bytes_under(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def normalize_classlist(text: str) -> tuple[str, bool]:
    """A training run's class list in a canonical order, and whether it could be sorted.

    Threads make the load order, and with it the list, differ between runs. When every class
    came from the built-in loaders (no `super:`/`source:` lines, which refer to classes by the
    `id:` numbers given in load order) the ids are dropped and the lines sorted, so the same
    application gives the same list; JDK 25's dump of the same list is byte-identical (17's is
    not: see jvm-port/README.md). Otherwise the list is kept as it is.
    """
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    if any(" super: " in ln or " source: " in ln for ln in lines):
        return "\n".join(lines) + "\n", False
    classes = sorted({ln.split(" id: ")[0] for ln in lines if not ln.startswith("@")})
    specials = sorted(set(ln for ln in lines if ln.startswith("@")))
    return "\n".join(classes + specials) + "\n", True


def _make_cds(
    staging: image.Staging,
    runtime: Runtime,
    cp: list[tuple[Path, str]],
    flags: list[str],
    classpath: str,
    main: str,
    args: list[str],
    env: dict[str, str],
    archive: str,
    epoch: int,
    cache: Path | None,
    training_args: list[str],
    training_timeout: float,
    memory_mib: int,
    kernel: Path | None,
    training_options: list[str] | None = None,
    traffic: guestrun.Traffic | None = None,
) -> tuple[desc_mod.Cds, bool]:
    """Stage the app's CDS archive at `archive`: from the cache, or a training run and a dump.

    The archive is only valid with the class path, jar times and JVM flags it was dumped with,
    so the training run and the dump boot the staged tree in the guest (lwjvm/guestrun.py: the
    app never runs on the host) with the image's flags, after the staged files got the image's
    timestamp. Dumps are not
    byte-for-byte repeatable (the archived heap differs between runs), so the archive is cached
    by everything it depends on: a rebuild with the same inputs reuses the same bytes.
    `training_options` are JVM options of the training run alone (Spring's exit after refresh);
    `traffic` the requests the training run is sent.
    """
    training_options = training_options or []
    key_desc = {
        "runtime": runtime.key,
        "classpath": [[guest, _tree_digest(host)] for host, guest in cp],
        "flags": flags,
        "main": main,
        "args": args,
        "training_args": training_args,
        "training_timeout": training_timeout,
        "env": sorted(env.items()),
        **({"training_options": training_options} if training_options else {}),
        **({"training_requests": [traffic.port, *traffic.paths]} if traffic else {}),
        "epoch": epoch,
        "archive": archive,
        "made": "in the guest",
    }
    key = hashlib.sha256(json.dumps(key_desc, sort_keys=True).encode()).hexdigest()
    cached = (cache or cache_root()) / "cds" / f"{key}.jsa"
    cached_info = cached.with_suffix(".json")
    cached.parent.mkdir(parents=True, exist_ok=True)
    # One training run and dump per key at a time: a concurrent build of the same inputs waits
    # and then takes the cached archive, so both builds stage the same bytes.
    with open(cached.parent / f".{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cached.is_file() and cached_info.is_file():
            try:
                hit = desc_mod.typed(desc_mod.Cds, json.loads(cached_info.read_text("utf-8")))
            except ValueError:
                hit = None  # an entry of an older lwjvm: made again below
            if hit is not None:
                staging.stage_file(cached, archive)
                return hit, True
        info: dict[str, Any] = {"archive": archive, "key": key, "dump_flags": flags}
        return _train_and_dump(
            staging, flags, classpath, main, env, archive, epoch, training_args,
            training_timeout, cached, info, memory_mib, kernel, training_options, traffic,
        ), False  # fmt: skip


def _train_and_dump(
    staging: image.Staging,
    flags: list[str],
    classpath: str,
    main: str,
    env: dict[str, str],
    archive: str,
    epoch: int,
    training_args: list[str],
    training_timeout: float,
    cached: Path,
    info: dict[str, Any],
    memory_mib: int,
    kernel: Path | None,
    training_options: list[str] | None = None,
    traffic: guestrun.Traffic | None = None,
) -> desc_mod.Cds:
    """The training run and the dump (see _make_cds), two boots of the staged tree in the guest;
    the archive is also stored at `cached`."""
    java = f"{profile()['runtime_dir']}/bin/java"
    cached_info = cached.with_suffix(".json")
    root = staging.root
    _set_times(root, epoch)
    app_dir = profile()["app_dir"]
    # The guest's /tmp is a fresh tmpfs: the runs write there and hand the file back at exit.
    memory = max(memory_mib, CDS_MEMORY_MIB)
    train = [java, *flags, *(training_options or []), f"-XX:DumpLoadedClassList={CLASSLIST}"]
    train += ["-cp", classpath, main]
    train += training_args
    run = guestrun.run_in_guest(
        root, train, env, app_dir, CLASSLIST, memory, stop_after=training_timeout, kernel=kernel,
        traffic=traffic,
    )  # fmt: skip
    info["training"] = run.ended(training_timeout)
    detail = (run.stderr or run.stdout).decode(errors="replace").strip()[-300:]
    if not run.exported:
        raise LwjvmError(
            "the CDS training run in the guest wrote no class list (set jvm.cds: false to build "
            f"without an archive): {detail or info['training']}"
            + (f"; {CLASSLIST}: {run.export_problem}" if run.export_problem else "")
        )
    text, info["classlist_sorted"] = normalize_classlist(run.exported.decode(errors="replace"))
    info["classes"] = sum(1 for line in text.splitlines() if not line.startswith("@"))
    listed = staging.stage_bytes(text.encode(), STAGED_CLASSLIST)
    dump = [
        java,
        *flags,
        # No JIT during the dump: compiler threads racing the dump make the archive's bytes
        # differ from run to run (measured: 2 of 5 dumps differ under load; with -Xint none).
        # The execution mode is not part of what an archive must match at run time.
        "-Xint",
        "-Xshare:dump",
        f"-XX:SharedClassListFile={STAGED_CLASSLIST}",
        f"-XX:SharedArchiveFile={DUMPED_ARCHIVE}",
        "-cp",
        classpath,
    ]
    try:
        proc = guestrun.run_in_guest(
            root, dump, env, app_dir, DUMPED_ARCHIVE, memory, kernel=kernel
        )
    finally:
        listed.unlink()
    if proc.returncode != 0 or not proc.exported:
        text = (proc.stdout + proc.stderr).decode(errors="replace").strip().splitlines()
        why = text[-1] if text else f"exit {proc.returncode}"
        if proc.returncode == 0 and proc.export_problem:
            why = f"{DUMPED_ARCHIVE}: {proc.export_problem}"
        raise LwjvmError(
            f"the CDS dump in the guest failed ({why}); set jvm.cds: false to build without an "
            "archive"
        )
    made = staging.stage_bytes(proc.exported, archive)
    info["size"] = made.stat().st_size
    # The archive first, then its info: a reader that finds the info finds a whole archive.
    for src_bytes, dest in ((proc.exported, cached), (json.dumps(info).encode(), cached_info)):
        tmp = dest.with_name(f".{dest.name}.{os.getpid()}.tmp")
        tmp.write_bytes(src_bytes)
        os.replace(tmp, dest)
    return desc_mod.typed(desc_mod.Cds, info)


def default_output(m: Manifest) -> Path:
    """build/NAME in the current directory, NAME from the manifest."""
    return Path("build") / m.name
