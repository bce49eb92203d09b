"""The application manifest (`app.yaml`): parsing, validation and the resolved `Manifest`.

The JSON Schema in manifests/schema/lwjvm-manifest.schema.json is the single source of truth for
the format; this module adds what a schema cannot say (files exist, paths stay inside the
manifest's directory, sizes parse) and turns every failure into one `LwjvmError` that names the
file, the line and the field and says what was expected.
"""

from __future__ import annotations

import difflib
import hashlib
import ipaddress
import json
import os
import stat
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from lwjvm.descriptor import (
    DEFAULT_HEALTH_INTERVAL,
    DEFAULT_HEALTH_TIMEOUT,
    DEFAULT_START_PERIOD,
    Health,
    RestartPolicy,
    Tap,
    Volume,
)
from lwjvm.errors import LwjvmError
from lwjvm.network import NETWORK_NONE, NETWORK_TAP, NETWORK_USER, PortMap, parse_port
from lwjvm.sizes import format_size, parse_size

# Package data: in the source tree a link to manifests/schema/lwjvm-manifest.schema.json.
SCHEMA_PATH = Path(__file__).resolve().parent / "data" / "lwjvm-manifest.schema.json"

# Path of a value inside the document: mapping keys and sequence indices.
FieldPath = tuple[str | int, ...]

MIN_MEMORY = 64 << 20
DEFAULT_CDS_TIMEOUT = "30s"
DEFAULT_MEMORY = 256 << 20

# Limits a hostile manifest meets before it can cost time or memory (docs/build.md): a manifest is
# a few hundred bytes and a few levels deep; an alias bomb ("billion laughs") expands a few
# hundred bytes into billions of values, which the value count stops.
MAX_MANIFEST_BYTES = 1 << 20
MAX_DEPTH = 32
MAX_ALIASES = 64
MAX_VALUES = 20_000
MAX_CPUS = 16  # the kernel's limit (kernel/arch/x86_64/percpu.h)


@lru_cache(maxsize=1)
def schema() -> dict[str, Any]:
    """The manifest JSON Schema, loaded once."""
    try:
        return json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except OSError as e:
        raise LwjvmError(f"cannot read the manifest schema {SCHEMA_PATH}: {e.strerror}") from e


def field_name(path: FieldPath) -> str:
    """Dotted form of a field path: `files[0].src`, `vm.memory`; `(top level)` for ()."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else part
    return out or "(top level)"


def parse_duration(text: str) -> float:
    """Seconds in a duration such as `500ms`, `30s` or `2m`; ValueError if malformed."""
    for suffix, scale in (("ms", 0.001), ("s", 1.0), ("m", 60.0)):
        if text.endswith(suffix) and text[: -len(suffix)].isdigit():
            return int(text[: -len(suffix)]) * scale
    raise ValueError(text)


@dataclass
class Located:
    """A YAML document converted to plain values, with the line of every value and key."""

    data: Any
    value_lines: dict[FieldPath, int] = field(default_factory=dict)
    key_lines: dict[FieldPath, int] = field(default_factory=dict)

    def line(self, path: FieldPath) -> int:
        """The 1-based line of the field at `path` (its key's line if it has one), else of its
        nearest parent."""
        p = tuple(path)
        while True:
            if p in self.key_lines:
                return self.key_lines[p]
            if p in self.value_lines:
                return self.value_lines[p]
            if not p:
                return 1
            p = p[:-1]


class _BoundedLoader(yaml.SafeLoader):
    """PyYAML's safe loader with limits on nesting depth and aliases while composing."""

    def __init__(self, text: str, filename: str) -> None:
        super().__init__(text)
        self.filename = filename
        self.depth = 0
        self.aliases = 0

    def compose_node(self, parent: yaml.Node | None, index: object) -> yaml.Node:
        event = self.peek_event()
        line = event.start_mark.line + 1 if event.start_mark else 1
        if isinstance(event, yaml.AliasEvent):
            self.aliases += 1
            if self.aliases > MAX_ALIASES:
                raise LwjvmError(
                    f"{self.filename}:{line}: more than {MAX_ALIASES} YAML aliases: a manifest "
                    "needs few (an alias bomb?)"
                )
        self.depth += 1
        try:
            if self.depth > MAX_DEPTH:
                raise LwjvmError(
                    f"{self.filename}:{line}: nested more than {MAX_DEPTH} levels deep"
                )
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


def _one_line(text: str) -> str:
    return " ".join(text.split())


def load_yaml(text: str, filename: str) -> Located:
    """Parse one YAML document keeping node lines; LwjvmError on bad YAML, duplicate keys, or a
    document beyond the limits (MAX_DEPTH levels, MAX_ALIASES aliases, MAX_VALUES values)."""
    loader: _BoundedLoader | None = None
    try:
        loader = _BoundedLoader(text, filename)  # the reader refuses control characters here
        node = loader.get_single_node()
        if node is None:
            raise LwjvmError(f"{filename}:1: the manifest is empty")
        located = Located(None)
        located.data = _convert(loader, node, (), located, filename)
        return located
    except yaml.MarkedYAMLError as e:
        mark = e.problem_mark or e.context_mark
        line = mark.line + 1 if mark else 1
        why = _one_line(str(e.problem or e.context))
        raise LwjvmError(f"{filename}:{line}: invalid YAML: {why}") from e
    except yaml.reader.ReaderError as e:
        line = text[: e.position].count("\n") + 1
        char = f"#x{e.character:04x}" if isinstance(e.character, int) else repr(e.character)
        raise LwjvmError(
            f"{filename}:{line}: invalid YAML: character {char} is not allowed "
            "(write it escaped in a double-quoted string)"
        ) from e
    except yaml.YAMLError as e:
        raise LwjvmError(f"{filename}: invalid YAML: {_one_line(str(e))}") from e
    except RecursionError as e:  # a cycle the limits above did not catch (merge keys)
        raise LwjvmError(f"{filename}: invalid YAML: aliases refer to themselves") from e
    finally:
        if loader is not None:
            loader.dispose()


def _convert(
    loader: _BoundedLoader, node: yaml.Node, path: FieldPath, out: Located, filename: str
) -> Any:
    line = node.start_mark.line + 1
    if len(path) > MAX_DEPTH:
        raise LwjvmError(
            f"{filename}:{line}: nested more than {MAX_DEPTH} levels deep (aliases that refer to "
            "themselves?)"
        )
    if len(out.value_lines) >= MAX_VALUES:
        raise LwjvmError(
            f"{filename}:{line}: more than {MAX_VALUES} values once aliases are expanded "
            "(an alias bomb?)"
        )
    out.value_lines[path] = line
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)
        result: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                raise LwjvmError(
                    f"{filename}:{key_node.start_mark.line + 1}: {field_name(path)}: a key must "
                    "be a plain value, not a list or mapping"
                )
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, str):
                key = str(key)
            if "\0" in key:
                raise LwjvmError(
                    f"{filename}:{key_node.start_mark.line + 1}: {field_name(path)}: a key "
                    "contains a NUL byte, which cannot be passed to the guest"
                )
            if not _utf8(key):
                raise LwjvmError(
                    f"{filename}:{key_node.start_mark.line + 1}: {field_name(path)}: a key "
                    f"{NOT_UTF8}"
                )
            if key in result:
                line = key_node.start_mark.line + 1
                first = out.key_lines[path + (key,)]
                raise LwjvmError(
                    f"{filename}:{line}: {field_name(path + (key,))}: duplicate key "
                    f"(first on line {first})"
                )
            out.key_lines[path + (key,)] = key_node.start_mark.line + 1
            result[key] = _convert(loader, value_node, path + (key,), out, filename)
        return result
    if isinstance(node, yaml.SequenceNode):
        return [
            _convert(loader, item, path + (i,), out, filename) for i, item in enumerate(node.value)
        ]
    value = loader.construct_object(node, deep=True)
    if isinstance(value, str) and "\0" in value:
        raise LwjvmError(
            f"{filename}:{line}: {field_name(path)}: contains a NUL byte, which cannot be passed "
            "to the guest"
        )
    if isinstance(value, str) and not _utf8(value):
        raise LwjvmError(f"{filename}:{line}: {field_name(path)}: {NOT_UTF8}")
    return value


NOT_UTF8 = (
    "contains an escaped lone surrogate (such as \"\\ud800\"), which is not text: it has no "
    "UTF-8 form to pass to the guest or to name a file"
)


def _utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"a boolean ({'true' if value else 'false'})"
    if isinstance(value, int | float):
        return f"a number ({value})"
    if isinstance(value, str):
        return f"a string ({value!r})"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


_TYPE_WORDS = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "a boolean (true or false)",
    "array": "a list",
    "object": "a mapping",
    "null": "null",
}


def _expected_types(types: str | list[str]) -> str:
    names = [types] if isinstance(types, str) else list(types)
    return " or ".join(_TYPE_WORDS.get(t, t) for t in names)


def _schema_error(err: jsonschema.ValidationError, doc: Located, filename: str) -> tuple[int, str]:
    """(line, message) for one schema violation."""
    path: FieldPath = tuple(err.absolute_path)
    sch = err.schema if isinstance(err.schema, dict) else {}
    expected = sch.get("x-expected")
    kind = err.validator
    if kind == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(sch.get("properties", {}))
        unknown = sorted(k for k in err.instance if k not in allowed)
        key = unknown[0]
        line = doc.line(path + (key,))
        msg = f"unknown key '{key}'"
        close = difflib.get_close_matches(key, allowed, n=1, cutoff=0.6)
        others = _all_keys(schema())
        elsewhere = difflib.get_close_matches(key, list(others), n=1, cutoff=0.75)
        if close:
            msg += f" (did you mean '{close[0]}'?)"
        elif elsewhere:
            msg += f" (did you mean '{others[elsewhere[0]]}'?)"
        else:
            msg += f"; expected one of: {', '.join(allowed)}"
        return line, f"{field_name(path + (key,))}: {msg}"
    line = doc.line(path)
    where = field_name(path) + ": " if path else ""
    if kind == "anyOf" and all(set(s) == {"required"} for s in err.validator_value):
        keys = " or ".join(f"'{k}'" for s in err.validator_value for k in s["required"])
        return line, f"{where}missing {keys}"
    if kind == "anyOf":
        # A branch whose type matched but whose content did not says more than the x-expected
        # summary: report the deepest error from such a branch.
        inner = [
            e
            for e in err.context or []
            if e.relative_path or e.validator not in ("type", "const", "enum")
        ]
        if inner:
            best = max(inner, key=lambda e: len(e.absolute_path))
            return _schema_error(best, doc, filename)
    if kind == "required":
        missing = err.message.split("'")[1] if "'" in err.message else str(err.validator_value)
        return line, f"{where}missing required key '{missing}'"
    if kind == "type":
        want = expected or _expected_types(err.validator_value)
        return line, f"{where}expected {want}, got {_describe(err.instance)}"
    if kind == "propertyNames":
        return line, f"{where}bad key {err.instance!r}: expected {expected or 'a valid name'}"
    if kind in ("minimum", "maximum"):
        return line, f"{where}{err.instance} is out of range: expected {_range(sch)}"
    if kind == "minLength":
        return line, f"{where}must not be empty"
    if kind == "minItems":
        return line, f"{where}must not be an empty list"
    if expected:
        return line, f"{where}expected {expected}, got {_describe(err.instance)}"
    return line, f"{where}{err.message}"


def _range(sch: dict[str, Any]) -> str:
    lo, hi = sch.get("minimum"), sch.get("maximum")
    if lo is not None and hi is not None:
        return f"a number from {lo} to {hi}"
    return f"at least {lo}" if lo is not None else f"at most {hi}"


def _all_keys(sch: dict[str, Any], prefix: str = "") -> dict[str, str]:
    """Every key the schema defines, mapped to its dotted path (for "did you mean")."""
    out: dict[str, str] = {}
    for name, sub in sch.get("properties", {}).items():
        path = f"{prefix}.{name}" if prefix else name
        out.setdefault(name, path)
        if isinstance(sub, dict):
            inner = sub.get("items", sub)
            if isinstance(inner, dict):
                for k, v in _all_keys(inner, path).items():
                    out.setdefault(k, v)
    return out


def validate_document(doc: Located, filename: str) -> None:
    """Check `doc` against the schema; LwjvmError naming the first violation (by line)."""
    validator = jsonschema.Draft202012Validator(schema())
    errors = list(validator.iter_errors(doc.data))
    if not errors:
        return
    # Prefer the most specific error: for an anyOf failure jsonschema also reports the inner
    # errors as context, but the anyOf's own x-expected text is the clearer message.
    found = sorted((_schema_error(e, doc, filename) for e in errors), key=lambda t: t[0])
    line, msg = found[0]
    more = (
        f" (and {len(found) - 1} more error{'s' if len(found) > 2 else ''})"
        if len(found) > 1
        else ""
    )
    raise LwjvmError(f"{filename}:{line}: {msg}{more}")


@dataclass(frozen=True)
class FileCopy:
    """One `files:` entry: a host file or directory and its absolute destination in the image."""

    src: Path
    dst: str


@dataclass
class Manifest:
    """A validated manifest with every path resolved against the manifest's directory."""

    path: Path
    name: str
    jar: Path | None
    classpath: list[Path]
    main: str | None
    args: list[str]
    jvm_home: Path | None
    modules_auto: bool
    modules: list[str]
    jvm_options: list[str]
    properties: dict[str, str]
    cds: bool
    cds_args: list[str] | None
    cds_timeout: float
    cds_requests: list[str] | None  # None: the health check's path, if it has one
    env: dict[str, str]
    files: list[FileCopy]
    memory: int
    cpus: int
    snapshot: bool  # vm.snapshot: a warm snapshot taken at build time (lwjvm/snapshot.py)
    ports: list[PortMap]
    network: str
    tap: Tap | None
    volumes: list[Volume]
    health: Health
    restart: RestartPolicy
    doc: Located = field(repr=False)
    sha256: str = ""  # of the manifest's bytes as read: part of an image's inputs

    @property
    def directory(self) -> Path:
        return self.path.parent

    def where(self, path: FieldPath) -> str:
        """`FILE:LINE: FIELD` prefix for an error about the field at `path`."""
        return f"{self.path}:{self.doc.line(path)}: {field_name(path)}"

    def training_requests(self) -> tuple[int, list[str]] | None:
        """(guest port, paths) the training runs GET from the app (jvm.cds.requests, by default
        the health check's path), or None: no port, no network or no paths."""
        paths = self.cds_requests
        if paths is None:
            paths = [self.health.http] if self.health.http else []
        if not paths or self.network == "none":
            return None
        port = self.health.port or (self.ports[0].guest if self.ports else None)
        return (port, paths) if port else None

    def full_classpath(self) -> list[Path]:
        """The application class path: the jar first, then `classpath` entries."""
        return ([self.jar] if self.jar else []) + self.classpath

    def resolve_main(self, main_class_of: Callable[[Path], str | None]) -> str:
        """The main class: `app.main`, else the jar's Main-Class read by `main_class_of`."""
        if self.main:
            return self.main
        if self.jar is None:
            raise LwjvmError(
                f"{self.where(('app',))}: no 'main': with only a classpath, "
                "name the main class in app.main"
            )
        found = main_class_of(self.jar)
        if not found:
            raise LwjvmError(
                f"{self.where(('app', 'jar'))}: {self.jar.name} has no Main-Class in its manifest: "
                "name the main class in app.main"
            )
        return found


def _scalar_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _inside(path: Path, root: Path) -> bool:
    try:
        path.relative_to(root)
    except ValueError:
        return False
    return True


def load(path: str | Path, allow_outside: Sequence[Path] = ()) -> Manifest:
    """Read, validate and resolve the manifest at `path`.

    `app.jar`, `app.classpath` entries and `files[].src` must resolve (symlinks followed) inside
    the manifest's directory or inside one of `allow_outside` (directories, or files allowed
    one by one: `lwjvm build --allow-outside PATH`).
    """
    allowed = allowed_roots(allow_outside)
    mpath = Path(path).absolute()
    filename = str(path)
    text = _read_manifest_text(mpath, filename)
    doc = load_yaml(text, filename)
    if not isinstance(doc.data, dict):
        got = _describe(doc.data)
        line = doc.line(())
        raise LwjvmError(f"{filename}:{line}: expected a mapping at the top level, got {got}")
    validate_document(doc, filename)
    m = _resolve(doc, mpath, filename, allowed)
    m.sha256 = hashlib.sha256(text.encode()).hexdigest()
    return m


def allowed_roots(paths: Sequence[Path]) -> list[Path]:
    """`--allow-outside` paths resolved (symlinks followed); each must exist."""
    roots = []
    for raw in paths:
        try:
            resolved = Path(raw).resolve(strict=True)
        except FileNotFoundError as e:
            raise LwjvmError(f"--allow-outside {raw}: no such file or directory") from e
        except (OSError, RuntimeError) as e:
            raise LwjvmError(f"--allow-outside {raw}: cannot resolve it: {e}") from e
        roots.append(resolved)
    return roots


def _read_manifest_text(mpath: Path, filename: str) -> str:
    """The manifest's text: a regular file of at most MAX_MANIFEST_BYTES, in UTF-8."""
    try:
        # O_NONBLOCK: opening a FIFO must not wait for a writer (it is refused just below).
        fd = os.open(mpath, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except FileNotFoundError as e:
        raise LwjvmError(f"{filename}: manifest not found") from e
    except OSError as e:
        raise LwjvmError(f"{filename}: cannot read the manifest: {e.strerror}") from e
    with os.fdopen(fd, "rb") as f:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise LwjvmError(f"{filename}: the manifest is not a regular file")
        data = f.read(MAX_MANIFEST_BYTES + 1)
    if len(data) > MAX_MANIFEST_BYTES:
        raise LwjvmError(
            f"{filename}: the manifest is larger than {format_size(MAX_MANIFEST_BYTES)}"
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise LwjvmError(f"{filename}:{line}: the manifest is not UTF-8 text") from e


def _check_file_type(resolved: Path, where: str) -> None:
    """A class path entry or `files:` source is a regular file or a directory of regular files,
    directories and symlinks: a FIFO, device or socket would hang or leak the build."""
    try:
        st = resolved.stat()
    except OSError as e:
        raise LwjvmError(f"{where}: cannot read {resolved}: {e.strerror}") from e
    if stat.S_ISREG(st.st_mode):
        return
    if not stat.S_ISDIR(st.st_mode):
        raise LwjvmError(f"{where}: {resolved} is {_special_kind(st.st_mode)}: expected a file")
    for dirpath, _dirs, names in os.walk(resolved):
        for name in names:
            p = Path(dirpath) / name
            try:
                mode = p.lstat().st_mode
            except OSError as e:
                raise LwjvmError(f"{where}: cannot read {p}: {e.strerror}") from e
            if not (stat.S_ISREG(mode) or stat.S_ISLNK(mode)):
                raise LwjvmError(f"{where}: {p} is {_special_kind(mode)}: expected a file")


def _special_kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _tap(vm: dict[str, Any], network: str, where: Callable[[FieldPath], str]) -> Tap | None:
    """`vm.tap`, which `vm.network: tap` needs and nothing else takes; its addresses checked."""
    raw = vm.get("tap")
    if network != NETWORK_TAP:
        if raw is not None:
            raise LwjvmError(f"{where(('vm', 'tap'))}: only with vm.network: tap")
        return None
    if raw is None:
        raise LwjvmError(
            f"{where(('vm', 'network'))}: tap needs vm.tap: {{device: NAME, address: A.B.C.D/LEN}}"
        )
    for key in ("address", "gateway", "dns"):
        if key not in raw:
            continue
        try:
            if key == "address":
                iface = ipaddress.IPv4Interface(raw[key])
                if iface.network.prefixlen > 30 or iface.ip in (
                    iface.network.network_address,
                    iface.network.broadcast_address,
                ):
                    raise ValueError(raw[key])
            else:
                ipaddress.IPv4Address(raw[key])
        except ValueError:
            raise LwjvmError(
                f"{where(('vm', 'tap', key))}: {raw[key]!r} is not a usable IPv4 "
                + ("address with its prefix length (/1 to /30)" if key == "address" else "address")
            ) from None
    return Tap(raw["device"], raw["address"], raw.get("gateway"), raw.get("dns"))


def _resolve(doc: Located, mpath: Path, filename: str, allowed: Sequence[Path]) -> Manifest:
    data: dict[str, Any] = doc.data
    base = mpath.parent.resolve()

    def where(p: FieldPath) -> str:
        return f"{filename}:{doc.line(p)}: {field_name(p)}"

    def existing(p: FieldPath, raw: str, what: str) -> Path:
        """`raw` resolved: inside the manifest's directory or an allowed path (checked before
        anything looks at the file, so a manifest cannot probe or walk the host), existing, and
        of a kind the build can read."""
        try:
            resolved = (base / raw).resolve()
        except (OSError, RuntimeError) as e:  # a symlink loop, a name too long
            raise LwjvmError(f"{where(p)}: cannot resolve {raw!r}: {e}") from e
        if not _inside(resolved, base) and not any(_inside(resolved, a) for a in allowed):
            raise LwjvmError(
                f"{where(p)}: {raw!r} is outside the manifest's directory {base}: expected a "
                "path inside it (or allow it with --allow-outside PATH)"
            )
        try:
            found = resolved.exists()
        except OSError as e:
            raise LwjvmError(f"{where(p)}: cannot resolve {raw!r}: {e}") from e
        if not found:
            raise LwjvmError(f"{where(p)}: {what} not found: {resolved}")
        _check_file_type(resolved, where(p))
        return resolved

    app = data["app"]
    jar = existing(("app", "jar"), app["jar"], "jar") if "jar" in app else None
    if jar is not None and not jar.is_file():
        raise LwjvmError(f"{where(('app', 'jar'))}: not a file: {jar}")
    classpath = [
        existing(("app", "classpath", i), raw, "class path entry")
        for i, raw in enumerate(app.get("classpath", []))
    ]

    jvm = data.get("jvm", {})
    home = (base / jvm["home"]).resolve() if "home" in jvm else None
    raw_modules = jvm.get("modules", "auto")
    if raw_modules == "auto":
        modules_auto, modules = True, []
    else:
        modules_auto = "auto" in raw_modules
        modules = [m for m in raw_modules if m != "auto"]

    files = []
    for i, entry in enumerate(data.get("files", [])):
        src = existing(("files", i, "src"), entry["src"], "file")
        files.append(FileCopy(src, entry["dst"]))

    vm = data.get("vm", {})
    memory = parse_size(vm["memory"]) if "memory" in vm else DEFAULT_MEMORY
    if memory < MIN_MEMORY:
        raise LwjvmError(
            f"{where(('vm', 'memory'))}: {vm['memory']} is too small: expected at least "
            f"{format_size(MIN_MEMORY)}"
        )
    ports = [parse_port(p, where(("vm", "ports", i))) for i, p in enumerate(vm.get("ports", []))]
    network = vm.get("network", NETWORK_USER)
    if network == NETWORK_NONE and ports:
        raise LwjvmError(
            f"{where(('vm', 'ports'))}: port forwards need a network: remove them or "
            "vm.network: none"
        )
    tap = _tap(vm, network, where)
    if tap is not None and ports:
        raise LwjvmError(
            f"{where(('vm', 'ports'))}: with vm.network: tap the guest is reached at its own "
            f"address ({tap.ip}): remove the port forwards"
        )

    if int(vm.get("cpus", 1)) > MAX_CPUS:
        raise LwjvmError(
            f"{where(('vm', 'cpus'))}: {vm['cpus']} CPUs: the kernel runs at most {MAX_CPUS}: "
            f"expected 1 to {MAX_CPUS}"
        )
    if len(data.get("volumes", [])) > 1:
        raise LwjvmError(
            f"{where(('volumes', 1))}: the guest kernel attaches one volume for now: expected one"
        )
    volumes = [
        Volume(v["name"], parse_size(v["size"]), v["mount"]) for v in data.get("volumes", [])
    ]
    health = data.get("health", {})
    if "http" in health and "tcp" in health:
        raise LwjvmError(f"{where(('health', 'tcp'))}: give health.http or health.tcp, not both")
    cds_raw = jvm.get("cds", True)
    m = Manifest(
        path=mpath,
        name=data["name"],
        jar=jar,
        classpath=classpath,
        main=app.get("main"),
        args=list(app.get("args", [])),
        jvm_home=home,
        modules_auto=modules_auto,
        modules=modules,
        jvm_options=list(jvm.get("options", [])),
        properties={k: _scalar_text(v) for k, v in jvm.get("properties", {}).items()},
        cds=bool(cds_raw) if isinstance(cds_raw, bool) else True,
        cds_args=list(cds_raw["args"]) if isinstance(cds_raw, dict) and "args" in cds_raw else None,
        cds_timeout=parse_duration(
            cds_raw.get("timeout", DEFAULT_CDS_TIMEOUT)
            if isinstance(cds_raw, dict)
            else DEFAULT_CDS_TIMEOUT
        ),
        cds_requests=(
            list(cds_raw["requests"])
            if isinstance(cds_raw, dict) and "requests" in cds_raw
            else None
        ),
        env={k: _scalar_text(v) for k, v in data.get("env", {}).items()},
        files=files,
        memory=memory,
        cpus=int(vm.get("cpus", 1)),
        snapshot=bool(vm.get("snapshot", False)),
        ports=ports,
        network=network,
        tap=tap,
        volumes=volumes,
        health=Health(
            http=health.get("http"),
            tcp=health.get("tcp"),
            port=health.get("port"),
            timeout=parse_duration(health.get("timeout", f"{DEFAULT_HEALTH_TIMEOUT:g}s")),
            interval=parse_duration(health.get("interval", f"{DEFAULT_HEALTH_INTERVAL:g}s")),
            start_period=parse_duration(health.get("start_period", f"{DEFAULT_START_PERIOD:g}s")),
        ),
        restart=RestartPolicy.parse(data.get("restart", "no")),
        doc=doc,
    )
    if m.snapshot:
        _check_snapshot(m, where)
    return m


def _check_snapshot(m: Manifest, where: Callable[[FieldPath], str]) -> None:
    """vm.snapshot's conditions: requests to warm the app with, and nothing the saved VM would
    hold on the host's behalf (a volume's open state, a tap device's address)."""
    at = where(("vm", "snapshot"))
    if m.volumes:
        raise LwjvmError(
            f"{at}: a warm snapshot cannot hold a volume's state (a restore would roll the "
            "volume back): remove vm.snapshot or the volumes"
        )
    if m.network != NETWORK_USER:
        raise LwjvmError(
            f"{at}: a warm snapshot needs vm.network: user (restored copies would share one "
            "address on a tap device, and with none there is nothing to warm it with)"
        )
    if m.training_requests() is None:
        raise LwjvmError(
            f"{at}: a warm snapshot is taken after the app answers requests: give health.http "
            "(or jvm.cds.requests) and a port (vm.ports or health.port)"
        )


INIT_TEMPLATE = """\
# lwjvm manifest for {jar_name}; the format is manifests/schema/lwjvm-manifest.schema.json.
# Build the image with: {build_command}
name: {name}
app:
  jar: {jar}
{main_line}
  # args: ["--port", "8080"]
jvm:
  # home: /usr/lib/jvm/java-17-openjdk-amd64   # default: JAVA_HOME, then java on PATH
  modules: auto            # found with jdeps; or a list, which may include auto
  # options: ["-XX:+UseSerialGC"]   # added after lwjvm's defaults
  # properties: {{app.mode: prod}}
  # cds: true              # class-data sharing archive built at image time
# env: {{GREETING: hello}}
# files: [{{src: config/, dst: /app/config/}}]
vm:
  memory: 256M
  cpus: 1
  # ports: ["8080:8080"]
"""


def init_text(jar: Path, manifest_path: Path, main_class: str | None) -> str:
    """A commented starting manifest for `jar`, to be written at `manifest_path`."""
    name = "".join(c if c.isalnum() or c in "._-" else "-" for c in jar.stem.lower()).strip("-._")
    rel = Path(_relpath(jar, manifest_path.parent))
    if main_class:
        main_line = f"  main: {main_class}   # from the jar's Main-Class"
    else:
        main_line = (
            "  # main: com.example.Main   # the jar has no Main-Class: name its main class here"
        )
    return INIT_TEMPLATE.format(
        jar_name=jar.name,
        build_command=init_build_command(jar, manifest_path),
        name=name or "app",
        jar=json.dumps(str(rel)) if any(c in str(rel) for c in ":#{}[],&*!|>'\"%@`") else rel,
        main_line=main_line,
    )


def init_build_command(jar: Path, manifest_path: Path) -> str:
    """`lwjvm build MANIFEST`, allowing the jar's directory when it is outside the manifest's."""
    jar_dir = jar.resolve().parent
    if _inside(jar.resolve(), manifest_path.parent.resolve()):
        return f"lwjvm build {manifest_path.name}"
    return f"lwjvm build --allow-outside {jar_dir} {manifest_path.name}"


def _relpath(target: Path, start: Path) -> str:
    return os.path.relpath(target.resolve(), start.resolve())


def init_manifest(jar: Path, output: Path, force: bool = False) -> str:
    """Write a starting manifest for `jar` at `output`; the main class read from the jar."""
    from lwjvm.jdk import find_jdk
    from lwjvm.jvmtools import JavaTools, main_class_from_zip

    if not jar.is_file():
        raise LwjvmError(f"{jar}: no such jar")
    if output.exists() and not force:
        raise LwjvmError(f"{output} already exists (use --force to overwrite it)")
    try:
        main_class = JavaTools(find_jdk()).main_class(jar)
    except LwjvmError:
        # No usable JDK here (yet): init only needs the jar's manifest, which zipfile reads.
        main_class = main_class_from_zip(jar)
    text = init_text(jar, output, main_class)
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as e:
        raise LwjvmError(f"cannot write {output}: {e.strerror}") from e
    return text
