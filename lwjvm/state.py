"""The state directory of deployed VMs: one folder per VM, one lock per name (docs/deploy.md).

    STATE/                      $XDG_STATE_HOME/lwjvm, or --state-dir / $LWJVM_STATE_DIR
      locks/NAME.lock           flock'ed exclusively by whoever owns NAME: a deploy while it
                                claims the name, then the VM's supervisor for as long as it lives
      vms/NAME/config.json      what was deployed (VmSpec), written once by deploy
      vms/NAME/state.json       what is happening (VmState), written by the supervisor
      vms/NAME/image/           the image it boots: root.img hard-linked to the build's (a
                                rebuild replaces the build's file, so the VM keeps its own)
      vms/NAME/app.log[.1|.2]   the app's output with timestamps (lwjvm/applog.py)
      vms/NAME/supervisor.log   the supervisor's own stderr (its tracebacks, if any)
      vms/NAME/stop.json        a stop request: how long the app gets before it is killed

The lock is what tells a live VM from a dead one: a supervisor killed with -9 releases it, so
`ps`, `stop` and `rm` see that at once and say what happened (state `killed`, cause "the
supervisor died"). Every write is a rename of a whole file, so readers never see half of one.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from lwjvm.errors import LwjvmError

STATE_FORMAT = 1
NAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")

# The states of a VM (VmState.state). LIVE ones have a supervisor.
STARTING = "starting"
HEALTHY = "healthy"
UNHEALTHY = "unhealthy"
RESTARTING = "restarting"
STOPPING = "stopping"
EXITED = "exited"
KILLED = "killed"
OOM = "out of memory"
PANIC = "kernel panic"
LIVE = (STARTING, HEALTHY, UNHEALTHY, RESTARTING, STOPPING)


def default_root() -> Path:
    """$LWJVM_STATE_DIR, else $XDG_STATE_HOME/lwjvm (default ~/.local/state/lwjvm)."""
    env = os.environ.get("LWJVM_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "lwjvm"


def check_name(name: str) -> str:
    """`name` if it is a valid VM name; LwjvmError otherwise."""
    if not NAME_RE.match(name):
        raise LwjvmError(
            f"bad VM name {name!r}: expected lower-case letters, digits, '.', '_' or '-' "
            "(at most 63), starting with a letter or digit"
        )
    return name


def now_iso(t: float | None = None) -> str:
    """A UTC timestamp with microseconds: 2026-12-06T03:59:17.123456Z."""
    t = time.time() if t is None else t
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + f".{int(t % 1 * 1e6):06d}Z"


def write_json(path: Path, data: Any) -> None:
    """Writes `data` to `path` atomically (a temporary file renamed over it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_json(path: Path) -> Any:
    """The JSON in `path`, or None if it is missing or unreadable."""
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


@dataclass
class VmSpec:
    """What was deployed: everything the supervisor needs to boot the VM again."""

    name: str
    manifest: str  # absolute path
    build_dir: str  # where the image was built (absolute)
    image_name: str  # the manifest's name
    memory_mib: int
    accel: str
    network: str
    ports: list[str]  # PortMap.to_json() spellings
    mac: str
    health: dict[str, Any]  # descriptor.Health as a dict
    restart: str
    stop_timeout: float
    env: dict[str, str] = field(default_factory=dict)
    debug: int | None = None  # the JDWP port (--debug)
    jmx: int | None = None  # the JMX port (--jmx)
    kernel_args: list[str] = field(default_factory=list)
    disks: list[str] = field(default_factory=list)  # volume files attached (lwjvm/volume.py)
    cpus: int = 1  # the image's vm.cpus
    tap: str | None = None  # vm.tap.device, with network tap
    guest_ip: str | None = None  # vm.tap.address's address, with network tap
    created: float = 0.0
    format: int = STATE_FORMAT

    @classmethod
    def from_json(cls, data: Any) -> VmSpec:
        if not isinstance(data, dict) or data.get("format") != STATE_FORMAT:
            raise LwjvmError("the VM's config.json is missing or of another lwjvm version")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class VmState:
    """What is happening to a VM; the supervisor rewrites it on every change."""

    state: str = STARTING
    supervisor_pid: int | None = None
    qemu_pid: int | None = None
    started_at: float | None = None  # QEMU start of the current (or last) boot
    ended_at: float | None = None
    exit_code: int | None = None  # lwjvm's code for the last boot (protocol section 5)
    cause: str | None = None  # one line: why it is unhealthy, or how the last boot ended
    health: str | None = None  # the last health check's result
    restarts: int = 0
    next_restart_at: float | None = None
    qemu: dict[str, Any] = field(default_factory=dict)  # from QMP: status, memory
    # The guest kernel's own figures, from its balloon driver through QMP (supervisor.guest_memory):
    # total_kib, free_kib, available_kib, page_faults, balloon_kib, at (when the guest sent them).
    guest_memory: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def from_json(cls, data: Any) -> VmState:
        if not isinstance(data, dict):
            return cls(state=KILLED, cause="no state was recorded")
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})

    def event(self, what: str, **detail: Any) -> None:
        """Adds a line to the history (the last 100 are kept)."""
        self.history.append({"at": now_iso(), "event": what, **detail})
        del self.history[:-100]

    def describe(self) -> str:
        """The state as `ps` shows it: `exited 0`, `out of memory`, `restarting in 4s`..."""
        if self.state == EXITED:
            return f"exited {self.exit_code}"
        if self.state == RESTARTING and self.next_restart_at is not None:
            return f"restarting in {max(0.0, self.next_restart_at - time.time()):.0f}s"
        return self.state


class VmDir:
    """The files of the VM `name` under the state root."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = check_name(name)
        self.path = root / "vms" / name
        self.lock_path = root / "locks" / f"{name}.lock"

    config = property(lambda self: self.path / "config.json")
    state_file = property(lambda self: self.path / "state.json")
    image = property(lambda self: self.path / "image")
    log = property(lambda self: self.path / "app.log")
    supervisor_log = property(lambda self: self.path / "supervisor.log")
    stop_request = property(lambda self: self.path / "stop.json")
    qmp = property(lambda self: self.path / "qmp.sock")

    def exists(self) -> bool:
        return self.config.is_file()

    def spec(self) -> VmSpec:
        if not self.path.is_dir():
            raise LwjvmError(f"no VM named {self.name} (see lwjvm ps -a)")
        return VmSpec.from_json(read_json(self.config))

    def state(self) -> VmState:
        return VmState.from_json(read_json(self.state_file))

    def write_state(self, st: VmState) -> None:
        write_json(self.state_file, asdict(st))

    def try_lock(self) -> int | None:
        """An fd holding the name's lock exclusively, or None if someone else holds it."""
        self.lock_path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return None
        return fd

    def alive(self) -> bool:
        """True while the name's lock is held (a supervisor runs, or a deploy claims it)."""
        fd = self.try_lock()
        if fd is None:
            return True
        os.close(fd)
        return False


def list_vms(root: Path) -> list[VmDir]:
    """The VMs recorded under `root`, by name."""
    base = root / "vms"
    if not base.is_dir():
        return []
    out = []
    for p in sorted(base.iterdir()):
        if NAME_RE.match(p.name) and (p / "config.json").is_file():
            out.append(VmDir(root, p.name))
    return out


def pid_is(pid: int | None, *words: str) -> bool:
    """True if process `pid` runs and its command line contains each of `words`."""
    if not pid:
        return False
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return False
    return all(w in cmdline for w in words)


def rss_kib(pid: int | None) -> int | None:
    """The resident set of process `pid` in KiB (VmRSS), or None if it is gone."""
    if not pid:
        return None
    with contextlib.suppress(OSError, ValueError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return None
