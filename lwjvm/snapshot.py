"""Warm snapshots (vm.snapshot; docs/snapshots.md): a VM saved at build time once its app has
answered its warm-up requests, and restored by run and deploy instead of a boot.

Taking one: the image boots with its RAM backed by a file mapped shared (so the file is the RAM),
the app is sent the training requests, the kernel is asked to freeze (every CPU held, so no program
code runs between a restore and the clock being set again), and QEMU saves the device state with
x-ignore-shared: the stream skips the RAM and the root image, both already in files.

Restoring one: QEMU starts with `-incoming defer`, the RAM file mapped private (copy on write: the
pages the app does not write stay shared with every other copy, in the page cache) and the root
image private too (not shared, so QEMU does not look for it at its old bus address: nothing of it
is in the stream anyway), loads the device state through QMP and continues; the host then sends
`lwjvm:thaw rt=NS` and the kernel sets its wall clock and lets the CPUs go.

A snapshot is used only when the boot matches it (memory, CPUs, accelerator, machine, the balloon
device, QEMU's version); otherwise, or when QEMU refuses it, the VM boots cold and says why.
"""

from __future__ import annotations

import contextlib
import dataclasses
import functools
import io
import os
import shlex
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

from lwjvm import accel, guestrun, network, qemu, vm
from lwjvm.descriptor import ImageDescriptor, Snapshot
from lwjvm.errors import LwjvmError

RAM = "snapshot.ram"
STATE = "snapshot.state"
CAPABILITIES = [{"capability": "x-ignore-shared", "state": True}]
WARM_ROUNDS = 20  # each warm-up path is asked this many times before the VM is saved
TAKE_TIMEOUT_S = 600.0
FREEZE_TIMEOUT_S = 10.0
SAVE_TIMEOUT_S = 120.0
RESTORE_TIMEOUT_S = 60.0
KERNEL_ARGS = ("lwjvm.quiet=1",)  # a snapshot's kernel command line


@functools.lru_cache(maxsize=1)
def qemu_version() -> str:
    """The first line of `qemu-system-x86_64 --version` (a snapshot restores only on the QEMU
    that saved it)."""
    try:
        out = subprocess.run(
            [qemu.find_qemu(), "--version"], capture_output=True, text=True, timeout=30
        ).stdout
    except (OSError, subprocess.SubprocessError) as e:
        raise LwjvmError(f"cannot run {qemu.QEMU} --version: {e}") from None
    return out.splitlines()[0].strip() if out else "unknown"


def remove(image_dir: Path) -> None:
    """Deletes a snapshot's files from an image directory (a build without vm.snapshot)."""
    for name in (RAM, STATE):
        (image_dir / name).unlink(missing_ok=True)


def connect_qmp(path: Path, proc: subprocess.Popen[bytes], limit: float) -> Any:
    """A QMP client on QEMU's socket, once QEMU listens, with the migration capabilities of a
    snapshot set (LwjvmError if QEMU ends first or does not answer by `limit`)."""
    from qemu.qmp.legacy import QEMUMonitorProtocol

    while True:
        try:
            client = QEMUMonitorProtocol(str(path))
            client.connect(negotiate=True)
            break
        except Exception as e:  # noqa: BLE001 (not listening yet)
            if proc.poll() is not None or time.monotonic() > limit:
                raise LwjvmError(f"QEMU's QMP socket did not answer: {e}") from None
            time.sleep(0.01)
    try:
        client.cmd("migrate-set-capabilities", capabilities=CAPABILITIES)
    except Exception as e:  # noqa: BLE001 (QEMU went away)
        close_qmp(client)
        raise LwjvmError(f"QEMU refused the snapshot's migration capabilities: {e}") from None
    return client


def close_qmp(client: Any) -> None:
    with contextlib.suppress(Exception):
        client.close()


def wait_migration(client: Any, proc: subprocess.Popen[bytes], limit: float) -> str | None:
    """Waits for the running migration (out or in); None when it completed, else what went
    wrong."""
    while time.monotonic() < limit:
        if proc.poll() is not None:
            return "QEMU ended during the migration"
        info = client.cmd("query-migrate")
        status = info.get("status") if isinstance(info, dict) else None
        if status == "completed":
            return None
        if status in ("failed", "cancelled"):
            return f"QEMU's migration {status}: {info.get('error-desc', 'no reason given')}"
        time.sleep(0.005)
    return "QEMU's migration did not finish in time"


def restore(
    proc: subprocess.Popen[bytes], qmp_path: Path, state: Path, forwards: list[str]
) -> str | None:
    """Loads the device state `state` into the QEMU `proc` started with `-incoming defer`, adds
    the port `forwards` (hostfwd specs) and lets its CPUs run (the kernel still holds them until
    the thaw line). None on success, else why not.

    The forwards are added only now: one on QEMU's command line would accept a connection while
    the state loads and hand the guest a SYN it never answers (the client waits for slirp's
    retransmission); now a client is refused until the VM runs, and retries."""
    limit = time.monotonic() + RESTORE_TIMEOUT_S
    try:
        client = connect_qmp(qmp_path, proc, limit)
    except LwjvmError as e:
        return str(e)
    try:
        client.cmd("migrate-incoming", uri=f"exec:cat {shlex.quote(str(state))}")
        why = wait_migration(client, proc, limit)
        if why is not None:
            return why
        for spec in forwards:
            said = client.cmd(
                "human-monitor-command",
                **{"command-line": f"hostfwd_add {network.NETDEV_ID} {spec}"},
            )
            if said:
                return f"QEMU refused the port forward {spec}: {str(said).strip()}"
        if client.cmd("query-status").get("status") != "running":
            client.cmd("cont")  # it was saved paused
        return None
    except Exception as e:  # noqa: BLE001 (QEMU went away mid-way)
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=2.0)
        if proc.poll() is not None:  # it ended on the state: its stderr says why
            return "QEMU could not load the saved state"
        return f"QMP failed during the restore: {e}"
    finally:
        close_qmp(client)


def thaw_line() -> bytes:
    """The control line that lets a restored (or saved) VM go on, with the host's wall time."""
    return f"lwjvm:thaw rt={time.time_ns()}\n".encode()


def choose(
    image_dir: Path, desc: ImageDescriptor, cfg: qemu.VmConfig
) -> tuple[Snapshot | None, str]:
    """The image's snapshot if the boot `cfg` can restore it, and else why not ("" if the image
    has none)."""
    snap = desc.snapshot
    if snap is None:
        return None, ""
    memory_mib, cpus, accel_name = cfg.memory_mib, cfg.cpus, cfg.accel
    kernel_args, machine = cfg.append, cfg.machine
    why = ""
    if snap.memory_mib != memory_mib:
        why = f"it was taken with {snap.memory_mib} MiB, this boot has {memory_mib}"
    elif snap.cpus != cpus:
        why = f"it was taken with {snap.cpus} CPUs, this boot has {cpus}"
    elif snap.accel != accel_name:
        why = f"it was taken under {snap.accel}, this boot uses {accel_name}"
    elif snap.kernel_args != kernel_args:
        why = f"it booted with kernel arguments {' '.join(snap.kernel_args) or '(none)'}"
    elif snap.machine != machine:
        why = f"it was taken on {snap.machine}, this boot uses {machine}"
    elif snap.balloon != cfg.balloon:
        why = f"it was taken {'with' if snap.balloon else 'without'} the balloon device"
    elif not (image_dir / snap.ram).is_file() or not (image_dir / snap.state).is_file():
        why = "its files are missing"
    elif (image_dir / snap.ram).stat().st_size != memory_mib << 20:
        why = "its RAM file is not the VM's size"
    elif snap.qemu != qemu_version():
        why = f"it was taken by {snap.qemu}, this is {qemu_version()}"
    return (None, why) if why else (snap, "")


def restore_config(cfg: qemu.VmConfig, image_dir: Path, snap: Snapshot) -> qemu.VmConfig:
    """`cfg` turned into the restore of `snap`."""
    return dataclasses.replace(
        cfg, ram_file=image_dir / snap.ram, ram_shared=False, incoming=image_dir / snap.state
    )


def take(image_dir: Path, desc: ImageDescriptor, traffic: guestrun.Traffic) -> Snapshot:
    """Boots the image in `image_dir`, warms its app with `traffic` and saves the VM into the
    directory; the descriptor's record of it is returned (not written). LwjvmError, with the
    app's last output, if the app never answers or QEMU cannot save it."""
    kernel = image_dir / "kernel.elf"
    if not kernel.is_file():
        raise LwjvmError("vm.snapshot needs the kernel in the image (build with one)")
    chosen = accel.choose(kernel, quiet=True)
    ram_tmp, state_tmp = image_dir / f".{RAM}.tmp", image_dir / f".{STATE}.tmp"
    for f in (ram_tmp, state_tmp):
        f.unlink(missing_ok=True)
    host_port = network.free_port()
    qmp_path = image_dir / f".snapshot-qmp.{os.getpid()}"
    qmp_path.unlink(missing_ok=True)
    cfg = qemu.VmConfig(
        kernel=kernel,
        initrd=image_dir / "root.img",
        memory_mib=desc.vm.memory_mib,
        accel=chosen,
        append=list(KERNEL_ARGS),
        timeout=TAKE_TIMEOUT_S,
        net=network.NetConfig(ports=(network.PortMap(host_port, traffic.port),)),
        qmp=qmp_path,
        cpus=desc.vm.cpus,
        ram_file=ram_tmp,
        ram_shared=True,
        balloon=True,  # as run and deploy boot it: QEMU restores only the devices it saved
    )
    control = vm.VmControl()
    frozen = threading.Event()
    outcome: dict[str, str] = {}
    answered: list[str] = []
    threads: list[threading.Thread] = []
    t0 = time.monotonic()

    def on_record(kind: str, fields: dict[str, str]) -> None:
        if kind == "frozen":
            outcome["frozen"] = fields.get("ok", "0")
            frozen.set()

    def drive(proc: subprocess.Popen[bytes]) -> None:
        """Warms the app, then freezes and saves the VM; QEMU is killed either way."""
        done = threading.Event()
        guestrun.send_traffic(
            traffic, host_port, t0 + TAKE_TIMEOUT_S - SAVE_TIMEOUT_S, done, answered, WARM_ROUNDS
        )
        if len(answered) != WARM_ROUNDS * len(traffic.paths):
            outcome["error"] = f"the app did not answer {traffic.describe()}"
        else:
            outcome["error"] = _save(control, frozen, outcome, qmp_path, proc, state_tmp) or ""
            outcome["seconds"] = f"{time.monotonic() - t0:.3f}"
        control.kill()

    def started(proc: subprocess.Popen[bytes]) -> None:
        threads.append(threading.Thread(target=drive, args=(proc,), name="snapshot", daemon=True))
        threads[0].start()

    control.on_record = on_record
    control.on_start = started
    out, err = io.BytesIO(), io.BytesIO()
    try:
        result = vm.run_vm(cfg, out, err, control=control)
    finally:
        for t in threads:
            t.join(SAVE_TIMEOUT_S)
        control.close()
        qmp_path.unlink(missing_ok=True)
    error = outcome.get("error", "the VM ended before it was saved")
    if error or not state_tmp.is_file():
        for f in (ram_tmp, state_tmp):
            f.unlink(missing_ok=True)
        tail = (out.getvalue() + err.getvalue()).decode(errors="replace").strip().splitlines()
        last = "; ".join(tail[-5:]) if tail else f"no output ({result.outcome})"
        raise LwjvmError(f"warm snapshot not taken: {error or 'no state saved'}: {last}")
    seconds = float(outcome.get("seconds", "0"))
    for f in (ram_tmp, state_tmp):  # QEMU wrote them; they outlive this host's next crash
        os.chmod(f, 0o600)  # the app's memory: its secrets too, as the root user's alone
        with open(f, "rb") as fd:
            os.fsync(fd.fileno())
    os.replace(ram_tmp, image_dir / RAM)
    os.replace(state_tmp, image_dir / STATE)
    return Snapshot(
        ram=RAM,
        state=STATE,
        memory_mib=desc.vm.memory_mib,
        cpus=desc.vm.cpus,
        accel=chosen,
        machine=cfg.machine,
        qemu=qemu_version(),
        taken=time.time(),
        served=guestrun.summarize_answers(answered),
        ram_bytes=(image_dir / RAM).stat().st_blocks * 512,
        state_bytes=(image_dir / STATE).stat().st_size,
        seconds=seconds or time.monotonic() - t0,
        kernel_args=list(cfg.append),
        balloon=cfg.balloon,
    )


def _save(control: vm.VmControl, frozen: threading.Event, outcome: dict[str, str],
          qmp_path: Path, proc: subprocess.Popen[bytes], state: Path) -> str | None:  # fmt: skip
    """Freezes the guest and has QEMU write its device state to `state`; None, or what failed."""
    control.send(b"lwjvm:freeze\n")
    if not frozen.wait(FREEZE_TIMEOUT_S):
        return "the kernel did not answer the freeze"
    if outcome.get("frozen") != "1":
        return "the kernel could not stop its CPUs"
    limit = time.monotonic() + SAVE_TIMEOUT_S
    try:
        client = connect_qmp(qmp_path, proc, limit)
    except LwjvmError as e:
        return str(e)
    try:
        client.cmd("stop")
        client.cmd("migrate", uri=f"exec:cat > {shlex.quote(str(state))}")
        return wait_migration(client, proc, limit)
    except Exception as e:  # noqa: BLE001 (QEMU went away mid-way)
        return f"QMP failed while saving: {e}"
    finally:
        close_qmp(client)
