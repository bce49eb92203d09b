"""The JDK's tools (jdeps, jlink, jar, javac) run in-process through JPype, one JVM per process.

JPype starts at most one JVM per process and cannot restart it, so the first `JavaTools` (or
`start_jvm`) of a process decides which JDK the in-process JVM is: lwjvm starts the JDK it builds
from, because jlink must come from the JDK whose modules it links. A `JavaTools` for another JDK,
or one made where JPype cannot start a JVM, runs the tools' executables instead (`mode == "exec"`)
and says why in `fallback_reason`. Both modes take the same arguments and give the same results.
"""

from __future__ import annotations

import subprocess
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from lwjvm.errors import LwjvmError
from lwjvm.jdk import HOST_TOOLS, Jdk

Mode = Literal["auto", "jpype", "exec"]

_jvm_home: Path | None = None  # java.home of the JVM this process started, once started
_jvm_error: str | None = None  # why the JVM could not start, once tried


def start_jvm(jdk: Jdk) -> str | None:
    """Start this process's JVM from `jdk` if none runs yet; None if it is `jdk`'s, else why not."""
    global _jvm_home, _jvm_error
    try:
        import jpype
    except ImportError as e:  # pragma: no cover - jpype1 is a dependency
        return f"JPype is not installed ({e})"
    if jpype.isJVMStarted():
        home = _jvm_home or Path(str(jpype.JClass("java.lang.System").getProperty("java.home")))
        if home.resolve() == jdk.home.resolve():
            return None
        return f"this process's JVM is already {home} (JPype cannot start a second JVM)"
    if _jvm_error is not None:
        return _jvm_error
    # -Xrs: the JVM leaves SIGTERM, SIGINT and SIGHUP to Python (its handlers exit the whole
    # process at once, past every `finally`: QEMU left running, temporary directories left).
    options = ["-Xshare:auto", "-XX:-UsePerfData", "-Djava.awt.headless=true", "-Xrs"]
    if jdk.feature >= 22:
        options.append("--enable-native-access=ALL-UNNAMED")
    try:
        jpype.startJVM(str(jdk.libjvm), *options, convertStrings=False, interrupt=False)
    except Exception as e:  # JPype raises plain OSError/RuntimeError/SystemError here
        _jvm_error = f"JPype could not start {jdk.libjvm}: {e}"
        return _jvm_error
    import jpype.imports  # noqa: F401  (enables `import java...` for callers)

    _jvm_home = jdk.home.resolve()
    return None


@dataclass(frozen=True)
class ToolResult:
    """What a tool printed and its exit status."""

    rc: int
    out: str
    err: str


class JavaTools:
    """jdeps, jlink, jar and javac of one JDK, in-process when possible."""

    def __init__(self, jdk: Jdk, mode: Mode = "auto") -> None:
        self.jdk = jdk
        self.fallback_reason: str | None = None
        if mode == "exec":
            self.mode: Literal["jpype", "exec"] = "exec"
            self.fallback_reason = "executables requested"
            return
        reason = start_jvm(jdk)
        if reason is None:
            self.mode = "jpype"
        elif mode == "jpype":
            raise LwjvmError(f"cannot run the JDK tools in-process: {reason}")
        else:
            self.mode = "exec"
            self.fallback_reason = reason

    def run(self, tool: str, args: list[str]) -> ToolResult:
        """Run `tool` with `args` and return its status and output."""
        if tool not in HOST_TOOLS:
            # Nothing else of a JDK runs on the host while lwjvm builds (lwjvm/jdk.py).
            raise LwjvmError(f"lwjvm runs only {', '.join(HOST_TOOLS)} of a JDK, not {tool!r}")
        if self.mode == "jpype":
            return self._run_in_process(tool, args)
        exe = self.jdk.tool(tool)
        try:
            proc = subprocess.run(
                [str(exe), *args], capture_output=True, text=True, errors="replace", check=False
            )
        except OSError as e:
            raise LwjvmError(f"cannot run {exe}: {e.strerror}") from e
        return ToolResult(proc.returncode, proc.stdout, proc.stderr)

    def _run_in_process(self, tool: str, args: list[str]) -> ToolResult:
        import jpype

        provider_cls = jpype.JClass("java.util.spi.ToolProvider")
        found = provider_cls.findFirst(tool)
        if not found.isPresent():
            raise LwjvmError(f"{self.jdk.describe()} has no '{tool}' tool")
        string_writer = jpype.JClass("java.io.StringWriter")
        print_writer = jpype.JClass("java.io.PrintWriter")
        out, err = string_writer(), string_writer()
        jargs = jpype.JArray(jpype.JString)([str(a) for a in args])
        try:
            rc = found.get().run(print_writer(out, True), print_writer(err, True), jargs)
        except jpype.JException as e:
            # A tool may throw instead of returning a status (jdeps' FindException for a module
            # descriptor that requires a module not on the class path): as its executable would,
            # that is a failure with the exception's message.
            return ToolResult(1, str(out.toString()), f"{e.getClass().getName()}: {e.getMessage()}")
        return ToolResult(int(rc), str(out.toString()), str(err.toString()))

    def check(self, tool: str, args: list[str], what: str) -> str:
        """Run `tool`; its stdout, or an LwjvmError naming `what` failed with the tool's message."""
        result = self.run(tool, args)
        if result.rc != 0:
            detail = (result.err.strip() or result.out.strip()).splitlines()
            first = detail[0] if detail else f"exit status {result.rc}"
            raise LwjvmError(f"{what} failed: {tool}: {first}")
        return result.out

    def jdeps_modules(self, classpath: list[Path]) -> list[str]:
        """The JDK modules the application on `classpath` needs, sorted, found by jdeps."""
        if not classpath:
            return ["java.base"]
        args = [
            "--print-module-deps",
            "--ignore-missing-deps",
            "--multi-release",
            str(self.jdk.feature),
            *[str(p) for p in classpath],
        ]
        out = self.check("jdeps", args, "finding the modules the application needs (jdeps)")
        modules = {m.strip() for line in out.splitlines() for m in line.split(",") if m.strip()}
        return sorted(modules | {"java.base"})

    def main_class(self, jar: Path) -> str | None:
        """The Main-Class attribute of `jar`'s manifest, or None if it has none."""
        if self.mode == "jpype":
            return _main_class_in_process(jar)
        return main_class_from_zip(jar)


def _main_class_in_process(jar: Path) -> str | None:
    import jpype

    jar_file_cls = jpype.JClass("java.util.jar.JarFile")
    try:
        jar_file: Any = jar_file_cls(str(jar))
    except jpype.JException as e:
        raise LwjvmError(f"{jar}: not a readable jar: {e.getMessage()}") from e
    try:
        manifest = jar_file.getManifest()
        if manifest is None:
            return None
        value = manifest.getMainAttributes().getValue("Main-Class")
        return str(value).strip() or None if value is not None else None
    finally:
        jar_file.close()


def main_class_from_zip(jar: Path) -> str | None:
    """Main-Class read from META-INF/MANIFEST.MF with Python's zipfile (no JVM needed)."""
    try:
        with zipfile.ZipFile(jar) as zf:
            try:
                raw = zf.read("META-INF/MANIFEST.MF")
            except KeyError:
                return None
    except (OSError, zipfile.BadZipFile) as e:
        raise LwjvmError(f"{jar}: not a readable jar: {e}") from e
    # Manifest lines wrap at 72 bytes; a continuation line starts with one space.
    lines: list[str] = []
    for line in raw.decode("utf-8", "replace").splitlines():
        if line.startswith(" ") and lines:
            lines[-1] += line[1:]
        else:
            lines.append(line)
    for line in lines:
        if not line.strip():
            break  # end of the main section
        key, sep, value = line.partition(":")
        if sep and key.strip().lower() == "main-class":
            return value.strip() or None
    return None
