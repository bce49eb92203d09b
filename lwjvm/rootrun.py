"""Running a program inside a root filesystem tree on the host, as the guest would see it.

`unshare` gives the program a private mount namespace, mounts /proc inside the tree (the JVM and
ld.so read /proc/self/exe), changes root to the tree and the working directory to `cwd`. Nothing
outside the tree is visible, so a run proves the tree holds everything the program needs. As root
this is a plain chroot; another user needs unprivileged user namespaces. lwjvm uses it for the
CDS training run at build time and the tests use it to check images.
"""

from __future__ import annotations

import os
import platform
import shutil
import signal
import subprocess
from dataclasses import dataclass
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

    As root, unshare mounts /proc and changes root, then execs the program, so the program keeps
    the command's process id and can be stopped with a signal; as another user it forks the
    program into a new PID namespace and forwards SIGTERM. `fixed_addresses` turns address-space
    randomization off (setarch -R), so what the program lays out in memory, and writes out from
    there, is the same on every run.
    """
    unshare = shutil.which("unshare") or "/usr/bin/unshare"
    if not Path(unshare).exists():
        raise LwjvmError("unshare not found: install util-linux")
    (root / "proc").mkdir(exist_ok=True)
    cmd = [unshare, "--mount", "--mount-proc=/proc"]
    if fixed_addresses:
        setarch = shutil.which("setarch")
        if setarch is None:
            raise LwjvmError("setarch not found: install util-linux")
        cmd = [setarch, platform.machine(), "-R", *cmd]
    if os.geteuid() != 0:
        # A user namespace may mount /proc only for a PID namespace it owns; unshare then forks,
        # and passes a SIGTERM it gets on to the program as it dies.
        cmd += ["--map-root-user", "--pid", "--fork", "--kill-child=SIGTERM"]
    return [*cmd, f"--root={root}", f"--wd={cwd}", *argv]


@dataclass(frozen=True)
class RootRun:
    """How a program run in a root tree ended; `stopped`: it was stopped after `stop_after`."""

    returncode: int
    stdout: bytes
    stderr: bytes
    stopped: bool = False


STOP_GRACE_S = 10.0


def run_in_root(
    root: Path,
    argv: list[str],
    env: dict[str, str],
    cwd: str = "/",
    stop_after: float | None = None,
    fixed_addresses: bool = False,
) -> RootRun:
    """Run `argv` inside `root` with exactly `env`; its exit status and output.

    A program still running after `stop_after` seconds gets SIGTERM (the JVM runs its shutdown
    hooks and exits) and, STOP_GRACE_S later, SIGKILL.
    """
    cmd = root_command(root, argv, cwd, fixed_addresses)
    try:
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    except OSError as e:
        raise LwjvmError(f"cannot run {cmd[0]}: {e.strerror}") from e
    try:
        out, err = proc.communicate(timeout=stop_after)
        return RootRun(proc.returncode, out, err)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        try:
            out, err = proc.communicate(timeout=STOP_GRACE_S)
        except subprocess.TimeoutExpired:
            proc.kill()
            out, err = proc.communicate()
        return RootRun(proc.returncode, out, err, stopped=True)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
