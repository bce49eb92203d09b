"""Running a program inside a root filesystem tree on the host, as the guest would see it.

`unshare` gives the program private mount and PID namespaces, mounts a fresh /proc inside the tree
(the JVM and ld.so read /proc/self/exe), changes root to the tree and the working directory to
`cwd`. Nothing outside the tree is visible, so a run proves the tree holds everything the program
needs. As root this is a plain chroot; another user needs unprivileged user namespaces.
lwjvm uses it for the CDS training run at build time and the tests use it to check images.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from pathlib import Path

from lwjvm.errors import LwjvmError


def unavailable() -> str | None:
    """None if this process can run programs in a root tree, else why not."""
    if shutil.which("unshare") is None:
        return "unshare not found: install util-linux"
    if os.geteuid() == 0:
        return None
    probe = subprocess.run(
        ["unshare", "--user", "--map-root-user", "true"], capture_output=True, check=False
    )
    if probe.returncode != 0:
        return "running a program in the image's root tree needs root or user namespaces"
    return None


def root_command(
    root: Path, argv: list[str], cwd: str = "/", fixed_addresses: bool = False
) -> list[str]:
    """The host command line that runs `argv` with `root` as `/` and `cwd` as working directory.

    `fixed_addresses` turns address-space randomization off for the program (setarch -R), so
    that what it lays out in memory, and writes out from there, is the same on every run.
    """
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    if not Path(unshare).exists():
        raise LwjvmError("unshare not found: install util-linux")
    (root / "proc").mkdir(exist_ok=True)
    cmd = [unshare, "--mount", "--pid", "--fork", "--kill-child", "--mount-proc=/proc"]
    if fixed_addresses:
        setarch = shutil.which("setarch")
        if setarch is None:
            raise LwjvmError("setarch not found: install util-linux")
        cmd = [setarch, platform.machine(), "-R", *cmd]
    if os.geteuid() != 0:
        cmd.append("--map-root-user")
    return [*cmd, f"--root={root}", f"--wd={cwd}", *argv]


def run_in_root(
    root: Path,
    argv: list[str],
    env: dict[str, str],
    cwd: str = "/",
    timeout: float | None = None,
    fixed_addresses: bool = False,
) -> subprocess.CompletedProcess[bytes]:
    """Run `argv` inside `root` with exactly `env`; its output captured as bytes.

    Raises subprocess.TimeoutExpired (the program killed) if it runs longer than `timeout`.
    """
    cmd = root_command(root, argv, cwd, fixed_addresses)
    try:
        return subprocess.run(cmd, env=env, capture_output=True, timeout=timeout, check=False)
    except OSError as e:
        raise LwjvmError(f"cannot run {cmd[0]}: {e.strerror}") from e
