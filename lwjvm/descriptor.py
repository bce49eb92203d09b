"""The image descriptor, image.json: what `lwjvm build` made and how the image is to be booted.

Written once by lwjvm/build.py, read by run, deploy and its supervisor, inspect and the benches:
all of them go through `ImageDescriptor`, never through the JSON by key. Reading checks the
format version and every field's type, so an image from another lwjvm version, or a damaged
file, is one LwjvmError ("rebuild it") rather than a KeyError somewhere later. docs/build.md
describes the fields. This module imports nothing heavy: `lwjvm ps` and the supervisor read it.
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from lwjvm.errors import LwjvmError

FILE = "image.json"
ROOT_IMAGE = "root.img"
KERNEL = "kernel.elf"
FORMAT = 2  # 2: health and restart typed; cds, spring_boot typed

DEFAULT_HEALTH_TIMEOUT = 60.0
DEFAULT_HEALTH_INTERVAL = 1.0
DEFAULT_START_PERIOD = 5.0


@dataclass(frozen=True)
class Health:
    """When a deployed app counts as healthy (manifest `health:`; docs/deploy.md)."""

    http: str | None = None  # GET this path over the forward of `port`: 2xx is healthy
    tcp: int | None = None  # a guest port that accepts and keeps a connection
    port: int | None = None  # the guest port `http` is checked on (default: the first forward)
    timeout: float = DEFAULT_HEALTH_TIMEOUT  # how long deploy waits for healthy
    interval: float = DEFAULT_HEALTH_INTERVAL
    start_period: float = DEFAULT_START_PERIOD  # with no http/tcp: running this long is healthy


@dataclass(frozen=True)
class RestartPolicy:
    """`restart:` of the manifest: no, on-failure[:N] or always."""

    mode: str = "no"
    max_restarts: int | None = None  # on-failure:N

    @classmethod
    def parse(cls, text: str) -> RestartPolicy:
        """The policy spelt `text`; ValueError if it is not one."""
        mode, _, n = text.partition(":")
        if mode not in ("no", "always", "on-failure") or (n and mode != "on-failure"):
            raise ValueError(text)
        if n and (not n.isdigit() or int(n) < 1):
            raise ValueError(text)
        return cls(mode, int(n) if n else None)

    def __str__(self) -> str:
        return self.mode + (f":{self.max_restarts}" if self.max_restarts else "")


@dataclass(frozen=True)
class ClassPathEntry:
    path: str  # in the guest
    sha256: str  # of the host jar or directory (build._tree_digest)
    source: str  # the host file's name


@dataclass(frozen=True)
class FileEntry:
    source: str  # relative to the manifest's directory
    path: str  # in the guest


@dataclass(frozen=True)
class SpringBoot:
    """An executable jar extracted at build time (lwjvm/springboot.py)."""

    jar: str
    sha256: str
    start_class: str
    spring_boot: str | None
    libraries: int


@dataclass(frozen=True)
class App:
    main: str
    args: list[str]
    classpath: list[ClassPathEntry]
    files: list[FileEntry]
    spring_boot: SpringBoot | None = None


@dataclass(frozen=True)
class JdkInfo:
    home: str
    version: str
    implementor: str
    release_sha256: str


@dataclass(frozen=True)
class RuntimeInfo:
    path: str  # in the guest
    key: str  # the runtime cache's key
    modules: list[str]
    module_reasons: dict[str, str]
    jlink_options: list[str]
    size: int


@dataclass(frozen=True)
class Library:
    path: str  # in the guest
    real: str  # the host file


@dataclass(frozen=True)
class Cds:
    """The application class-data archive and how it was made."""

    archive: str  # in the guest
    key: str
    dump_flags: list[str]
    training: str
    classlist_sorted: bool
    classes: int
    size: int


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes (lwjvm/jvmflags.py's plan for vm.memory)."""

    vm: int
    cpus: int
    heap: int
    metaspace: int
    code_cache: int
    direct: int
    thread_stacks: int
    kernel_reserve: int


@dataclass(frozen=True)
class JvmCommand:
    """What boot.conf says: the program, its arguments, environment and directory."""

    exec: str
    argv: list[str]
    env: list[str]
    cwd: str


@dataclass(frozen=True)
class Volume:
    name: str
    size: int  # bytes
    mount: str  # in the guest


@dataclass(frozen=True)
class Tap:
    """`vm.tap`: the host's tap device and the guest's static address on it."""

    device: str
    address: str  # A.B.C.D/LEN
    gateway: str | None = None
    dns: str | None = None

    @property
    def ip(self) -> str:
        return self.address.split("/")[0]


@dataclass(frozen=True)
class VmPlan:
    """How the image is booted unless a command says otherwise."""

    memory: int  # bytes
    cpus: int
    ports: list[str]  # network.PortMap.to_json() spellings
    network: str  # network.NETWORKS
    volumes: list[Volume]
    health: Health
    restart: str  # RestartPolicy's spelling
    tap: Tap | None = None  # with network: tap

    @property
    def memory_mib(self) -> int:
        return self.memory >> 20


@dataclass(frozen=True)
class Snapshot:
    """A warm snapshot of the image's VM (vm.snapshot, lwjvm/snapshot.py): its RAM file and
    QEMU's device state, in the image directory, and what a restore must match."""

    ram: str  # file name in the image directory
    state: str  # file name in the image directory
    memory_mib: int
    cpus: int
    accel: str
    machine: str
    qemu: str  # `qemu-system-x86_64 --version`'s first line
    taken: float  # Unix time
    served: str  # the warm-up requests answered, in a few words
    ram_bytes: int  # of the RAM file, allocated (the guest memory the app had touched)
    state_bytes: int
    seconds: float  # from QEMU's start to the saved VM
    kernel_args: list[str]  # the kernel command line it booted with
    balloon: bool = False  # it had the virtio-balloon device (lwjvm before it: none)


@dataclass(frozen=True)
class FileDigest:
    sha256: str
    size: int
    entries: int | None = None  # files and directories in a root image


@dataclass(frozen=True)
class ImageDescriptor:
    """image.json; `format` is FORMAT."""

    name: str
    app: App
    jdk: JdkInfo
    runtime: RuntimeInfo
    libraries: list[Library]
    libraries_size: int
    libraries_missing: dict[str, list[str]]
    cds: Cds | None
    memory: MemoryPlan
    jvm: JvmCommand
    vm: VmPlan
    root_img: FileDigest
    kernel: FileDigest | None
    epoch: int
    lwjvm: str
    format: int = FORMAT
    snapshot: Snapshot | None = None  # vm.snapshot's, once taken

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def write(self, directory: Path) -> None:
        """Writes `directory`/image.json (whole, by rename)."""
        text = json.dumps(self.to_json(), indent=2) + "\n"
        tmp = directory / f".{FILE}.{os.getpid()}.tmp"
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, directory / FILE)

    @classmethod
    def from_json(cls, data: Any, where: str = FILE) -> ImageDescriptor:
        """The descriptor in `data`; LwjvmError naming `where` if it is of another format or a
        field is missing or of the wrong type."""
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            got = data.get("format") if isinstance(data, dict) else None
            raise LwjvmError(
                f"{where}: image format {got}, this lwjvm reads {FORMAT}: rebuild the image "
                "(lwjvm build)"
            )
        try:
            return _convert(cls, data, "")
        except _Mismatch as e:
            raise LwjvmError(f"{where}: {e}: rebuild the image (lwjvm build)") from None

    @classmethod
    def read(cls, directory: Path) -> ImageDescriptor:
        """The descriptor of the image in `directory`; LwjvmError if it is missing or bad."""
        path = directory / FILE
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise LwjvmError(f"{directory}: not an lwjvm image (no {FILE})") from None
        except (OSError, ValueError) as e:
            raise LwjvmError(f"{path}: unreadable: {e}") from None
        return cls.from_json(data, str(path))


class _Mismatch(ValueError):
    """A field of the JSON that does not fit the descriptor's types."""


T = TypeVar("T")


def typed(tp: type[T], data: Any) -> T:
    """`data` (parsed JSON) as the dataclass `tp`; ValueError naming the field that does not fit
    (for records of the same shape kept elsewhere, such as the CDS cache's)."""
    result: T = _convert(tp, data, "")
    return result


def _convert(tp: Any, value: Any, path: str) -> Any:
    """`value` (parsed JSON) as type `tp`: dataclasses field by field, lists, dicts, optionals
    and the scalar types; _Mismatch naming the field at `path` otherwise."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(tp)
        if value is None and type(None) in options:
            return None
        inner = [o for o in options if o is not type(None)]
        return _convert(inner[0], value, path)
    if origin is list:
        if not isinstance(value, list):
            raise _bad(path, "a list", value)
        (item,) = typing.get_args(tp)
        return [_convert(item, v, f"{path}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise _bad(path, "a mapping", value)
        _, item = typing.get_args(tp)
        return {str(k): _convert(item, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise _bad(path, "a mapping", value)
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            sub = f"{path}.{f.name}" if path else f.name
            if f.name in value:
                kwargs[f.name] = _convert(hints[f.name], value[f.name], sub)
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise _Mismatch(f"{sub} missing")
        return tp(**kwargs)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _bad(path, "a number", value)
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise _bad(path, tp.__name__, value)
    return value


def _bad(path: str, expected: str, value: Any) -> _Mismatch:
    return _Mismatch(f"{path or '(top level)'}: expected {expected}, got {type(value).__name__}")
