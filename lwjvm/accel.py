"""Choosing the accelerator: KVM only where a probe shows it really runs our kernel, else TCG.

Some hosts offer a /dev/kvm that does not run a normal guest kernel: the kvm-pvm module emulates
ring 0 and rejects instructions our kernel uses. So KVM is used only when /dev/kvm can be opened,
kvm-pvm is not loaded, and the kernel's probe (`lwjvm.probe=1`, docs/protocol.md section 6) exits
with code 0 under KVM within PROBE_TIMEOUT_S. The answer is cached per kernel build and host boot.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
from pathlib import Path

from lwjvm import protocol, qemu, vm
from lwjvm.errors import LwjvmError

ACCELS = ("kvm", "tcg")
PROBE_TIMEOUT_S = 3.0
KVM_DEVICE = Path("/dev/kvm")
KVM_PVM_MODULE = Path("/sys/module/kvm_pvm")


def state_dir() -> Path:
    """$XDG_STATE_HOME/lwjvm (default ~/.local/state/lwjvm)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "lwjvm"


def kvm_usable() -> str | None:
    """None if /dev/kvm can be used, else why not (a few words for the notice)."""
    if KVM_PVM_MODULE.exists():
        return "kvm-pvm"
    try:
        fd = os.open(KVM_DEVICE, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return "no /dev/kvm"
    except OSError as e:
        return f"/dev/kvm: {e.strerror}"
    os.close(fd)
    return None


def _boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except OSError:
        return "unknown"


def _cache_key(kernel: Path) -> str:
    h = hashlib.sha256(kernel.read_bytes()).hexdigest()[:16]
    return f"{h}-{_boot_id()}"


def _cache_file() -> Path:
    return state_dir() / "kvm-probe.json"


def _read_cache(key: str) -> bool | None:
    try:
        data = json.loads(_cache_file().read_text())
    except (OSError, ValueError):
        return None
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, bool) else None


def _write_cache(key: str, ok: bool) -> None:
    path = _cache_file()
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f"{path.name}.{os.getpid()}")
        tmp.write_text(json.dumps({key: ok}) + "\n")
        tmp.replace(path)
    except OSError:
        pass  # the cache only saves time


def probe_kvm(kernel: Path) -> bool:
    """Boots the kernel's probe under KVM; True if it exits with code 0 in time."""
    cfg = qemu.VmConfig(
        kernel=kernel, accel="kvm", memory_mib=64, append=["lwjvm.probe=1"], timeout=PROBE_TIMEOUT_S
    )
    sink = open(os.devnull, "wb")
    try:
        result = vm.run_vm(cfg, stdout=sink, stderr=sink)
    except LwjvmError:
        return False
    finally:
        sink.close()
    return result.outcome == protocol.OUTCOME_EXIT and result.program_code == 0


def choose(kernel: Path, forced: str | None = None, quiet: bool = False) -> str:
    """'kvm' or 'tcg' for this host; `forced` wins. Prints one line when falling back to TCG."""
    if forced is not None:
        if forced not in ACCELS:
            raise LwjvmError(f"unknown accelerator {forced!r}: expected kvm or tcg")
        if forced == "kvm":
            why = kvm_usable()
            if why is not None and why != "kvm-pvm":
                raise LwjvmError(f"--accel kvm: KVM is not available ({why})")
        return forced
    why = kvm_usable()
    if why is None:
        key = _cache_key(kernel)
        ok = _read_cache(key)
        if ok is None:
            ok = probe_kvm(kernel)
            _write_cache(key, ok)
        if ok:
            return "kvm"
        why = "the probe failed"
    if not quiet:
        print(f"lwjvm: KVM unusable here ({why}); using TCG", file=sys.stderr, flush=True)
    return "tcg"
