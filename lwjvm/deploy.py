"""`lwjvm deploy`, `ps`, `logs`, `stop`, `rm`, `restart` and `inspect NAME`: the CLI side of
deployed VMs. The CLI is a client of the state directory (lwjvm/state.py); each VM's supervisor
(lwjvm/supervisor.py) does the work. docs/deploy.md describes the whole.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from lwjvm import applog, network
from lwjvm import state as st
from lwjvm.errors import LwjvmError
from lwjvm.state import VmDir, VmSpec, VmState

# ps, logs, stop and rm import only what they use: `lwjvm ps` should take well under 200 ms, and
# the manifest, build and health modules (jsonschema, requests) take longer than that to import.
STOP_TIMEOUT_S = 10.0  # vm.STOP_TIMEOUT_S, without importing lwjvm.vm
EXIT_DEPLOY_FAILED = 1  # the app did not become healthy (the cause is on stderr)
STOP_GRACE_S = 15.0  # beyond the stop timeout, how long stop waits for the supervisor to end
LOG_LINES_ON_FAILURE = 20


@dataclass
class DeployRequest:
    """Everything `lwjvm deploy` was asked to do."""

    manifest: Path
    name: str | None = None
    ports: list[str] = field(default_factory=list)
    env: list[str] = field(default_factory=list)
    memory: str | None = None
    output: Path | None = None
    accel: str | None = None
    stop_timeout: float = STOP_TIMEOUT_S
    kernel_args: list[str] = field(default_factory=list)
    wait: bool = True
    quiet: bool = False
    debug: int | None = None  # --debug[=PORT]: the JDWP agent on PORT, forwarded from 127.0.0.1
    jmx: int | None = None  # --jmx[=PORT]: the JMX agent on PORT, forwarded from 127.0.0.1
    # --allow-outside PATH: files the manifest may name outside its directory
    allow_outside: list[Path] = field(default_factory=list)


def _env_pairs(items: list[str]) -> dict[str, str]:
    out: dict[str, str] = {}
    for item in items:
        name, eq, value = item.partition("=")
        if not eq or not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            raise LwjvmError(f"bad --env {item!r}: expected NAME=VALUE")
        out[name] = value
    return out


def deploy(req: DeployRequest, root: Path, note: Callable[[str], None]) -> int:
    """Builds the image if stale, starts the VM under a supervisor, waits until it is healthy.

    Returns the exit code: 0 once healthy (or, with no check but the start period, once the app
    ran to a clean exit), EXIT_DEPLOY_FAILED when it did not become healthy (the VM is stopped).
    """
    from lwjvm import accel, health, qemu, uptodate, vm, volume
    from lwjvm import build as build_mod
    from lwjvm import manifest as manifest_mod
    from lwjvm.descriptor import ImageDescriptor, RestartPolicy

    m = manifest_mod.load(req.manifest, req.allow_outside)
    name = st.check_name(req.name or m.name)
    env = _env_pairs(req.env)
    memory_mib = vm.parse_memory(req.memory) if req.memory is not None else None
    if req.stop_timeout < 0:
        raise LwjvmError(f"bad --stop-timeout {req.stop_timeout:g}: must not be negative")
    extra = [network.parse_port(p) for p in req.ports]
    agents = uptodate.agent_extras(req.debug, req.jmx, extra)
    image_extra = build_mod.merge_extras(build_mod.Extra(env=tuple(sorted(env.items()))), agents)
    if m.network == network.NETWORK_NONE and extra:
        raise LwjvmError(
            "-p, --debug and --jmx need a network, and the manifest says vm.network: none"
        )
    if m.tap is not None and extra:
        raise LwjvmError(
            "-p, --debug and --jmx forward ports of QEMU's user network; with vm.network: tap "
            f"the guest is reached at its own address, {m.tap.ip}"
        )
    # A check on a port that is not forwarded: said before anything is built.
    health.resolve(m.health, network.merge_ports(m.ports, extra), m.tap.ip if m.tap else None)
    kernel = vm.find_kernel()
    qemu.find_qemu()
    d = VmDir(root, name)
    lock = d.try_lock()
    if lock is None:
        raise LwjvmError(
            f"a VM named {name} is already running or being deployed (lwjvm stop {name}, "
            "or deploy with --name)"
        )
    started = False
    try:
        if d.exists():
            note(f"replacing the stopped VM {name}")
        shutil.rmtree(d.path, ignore_errors=True)
        out_dir = (req.output or build_mod.default_output(m)).absolute()
        d.path.mkdir(parents=True)
        err = sys.stderr.buffer
        with uptodate.up_to_date_image(m, out_dir, None, kernel, req.quiet, err, image_extra):
            pin_image(out_dir, d.image)
        # From here on the image's descriptor says how to boot it, as for lwjvm run.
        plan = ImageDescriptor.read(d.image).vm
        ports = network.merge_ports([network.parse_port(p) for p in plan.ports], extra)
        network.check_free(ports)
        chosen = accel.choose(d.image / build_mod.KERNEL, req.accel)
        disks, volume_words = volume.attach(root, plan.volumes)
        spec = VmSpec(
            name=name,
            manifest=str(Path(req.manifest).absolute()),
            build_dir=str(out_dir),
            image_name=m.name,
            memory_mib=memory_mib or plan.memory_mib,
            accel=chosen,
            network=plan.network,
            ports=[p.to_json() for p in ports],
            mac=network.mac_for(name),
            health=asdict(plan.health),
            restart=str(RestartPolicy.parse(plan.restart)),
            stop_timeout=req.stop_timeout,
            env=env,
            debug=req.debug,
            jmx=req.jmx,
            kernel_args=[*req.kernel_args, *volume_words],
            disks=[str(p) for p in disks],
            cpus=plan.cpus,
            tap=plan.tap.device if plan.tap else None,
            guest_ip=plan.tap.ip if plan.tap else None,
            created=time.time(),
        )
        st.write_json(d.config, asdict(spec))
        d.write_state(VmState(state=st.STARTING, history=[]))
        proc = start_supervisor(d, lock)
        started = True
    finally:
        if not started:
            shutil.rmtree(d.path, ignore_errors=True)
        os.close(lock)  # the supervisor holds the lock now (or nobody, on an error)
    if not req.wait:
        note(f"{name}: starting (lwjvm ps, lwjvm logs {name})")
        return 0
    return wait_healthy(d, spec, proc, note)


def pin_image(build_dir: Path, dest: Path) -> None:
    """The VM's own copy of the image: root.img and a warm snapshot's files hard-linked (shared
    pages, no copy; a rebuild replaces the build's files, not these), kernel.elf and image.json
    copied."""
    from lwjvm import build as build_mod
    from lwjvm import snapshot

    dest.mkdir(parents=True, exist_ok=True)
    for name in (build_mod.KERNEL, build_mod.DESCRIPTOR):
        shutil.copyfile(build_dir / name, dest / name)
    names = [build_mod.ROOT_IMAGE, snapshot.RAM, snapshot.STATE]
    for name in names:
        target = dest / name
        target.unlink(missing_ok=True)
        if not (build_dir / name).exists() and name != build_mod.ROOT_IMAGE:
            continue  # no warm snapshot (vm.snapshot)
        try:
            os.link(build_dir / name, target)
        except OSError:
            shutil.copyfile(build_dir / name, target)  # another filesystem


def start_supervisor(d: VmDir, lock_fd: int) -> subprocess.Popen[bytes]:
    """Starts the supervisor of `d` in a session of its own, handing it the name's lock."""
    log = open(d.supervisor_log, "ab")  # noqa: SIM115 (handed to the child)
    try:
        return subprocess.Popen(
            [sys.executable, "-m", "lwjvm.supervisor", str(d.root), d.name,
             "--lock-fd", str(lock_fd)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            pass_fds=[lock_fd],
            start_new_session=True,  # no terminal: the CLI's Ctrl-C and hang-up do not reach it
            cwd="/",
        )  # fmt: skip
    except OSError as e:
        raise LwjvmError(f"cannot start the supervisor: {e.strerror}") from None
    finally:
        log.close()


def urls(spec: VmSpec) -> list[str]:
    """Where the app can be reached: one URL per TCP forward, or the guest's own address."""
    out = []
    if spec.guest_ip is not None:
        out.append(f"the guest at {spec.guest_ip} (tap device {spec.tap})")
    for text in spec.ports:
        p = network.parse_port(text)
        if p.proto == "tcp":
            if p.guest == spec.debug:
                out.append(f"jdwp {p.url_host()}:{p.host} (debugger: jdb -attach {p.host})")
            elif p.guest == spec.jmx:
                out.append(f"service:jmx:rmi:///jndi/rmi://{p.url_host()}:{p.host}/jmxrmi")
            else:
                out.append(f"http://{p.url_host()}:{p.host}/ (guest port {p.guest})")
    return out


def wait_healthy(
    d: VmDir, spec: VmSpec, proc: subprocess.Popen[bytes] | None, note: Callable[[str], None]
) -> int:
    """Waits until the VM is healthy (0), or failed (EXIT_DEPLOY_FAILED, after stopping it)."""
    from lwjvm import health
    from lwjvm.descriptor import Health

    hc = Health(**spec.health)
    began = time.monotonic()
    limit = hc.timeout + 120.0  # the supervisor says unhealthy first; this is a backstop
    while True:
        if proc is not None:
            proc.poll()  # reap it if it ended
        s = d.state()
        alive = d.alive()
        if s.state == st.HEALTHY:
            took = time.monotonic() - began
            note(f"{spec.name}: healthy in {took:.1f} s ({s.health})")
            for u in urls(spec):
                note(f"  {u}")
            return 0
        if not alive or s.state not in (st.STARTING, st.RESTARTING):
            break
        if time.monotonic() - began > limit:
            break
        time.sleep(0.2)
    s = d.state()
    check = health.resolve(hc, [network.parse_port(p) for p in spec.ports], spec.guest_ip)
    if s.state == st.EXITED and s.exit_code == 0 and check.kind == "start":
        note(f"{spec.name}: ran and exited 0 before its start period was over (lwjvm logs "
             f"{spec.name})")  # fmt: skip
        return 0
    why = s.cause if s.state in (st.UNHEALTHY, st.STARTING) else None
    if d.alive():
        stop(d, spec.stop_timeout, lambda _: None)
        s = d.state()
    if why:
        note(f"{spec.name}: not healthy: {why}; stopped ({s.describe()})")
    else:
        note(f"{spec.name}: ended before it was healthy: {s.cause or s.describe()}")
    lines = applog.read_lines(d.log)[-LOG_LINES_ON_FAILURE:]
    if lines:
        note(f"the last {len(lines)} lines of lwjvm logs {spec.name}:")
        for line in lines:
            note("  " + _render(line, timestamps=False))
    return EXIT_DEPLOY_FAILED


# -----------------------------------------------------------------------------------------------
# ps


def refresh(d: VmDir) -> VmState:
    """The VM's state, corrected when its supervisor died without saying so (killed -9): then
    the state says so, and a QEMU left behind is killed."""
    s = d.state()
    if s.state not in st.LIVE:
        return s
    lock = d.try_lock()
    if lock is None:
        return s  # alive
    try:
        s = d.state()  # read again under the lock
        if s.state in st.LIVE:
            if s.qemu_pid and st.pid_is(s.qemu_pid, "qemu", str(d.path)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(s.qemu_pid, signal.SIGKILL)
            s.event("supervisor lost", pid=s.supervisor_pid)
            s.state = st.KILLED
            s.cause = "the supervisor died (killed?); the VM went with it"
            s.qemu_pid = None
            s.ended_at = time.time()
            d.write_state(s)
    finally:
        os.close(lock)
    return s


def _ago(seconds: float) -> str:
    s = int(max(0, seconds))
    if s < 120:
        return f"{s}s"
    if s < 7200:
        return f"{s // 60}m"
    if s < 172800:
        return f"{s // 3600}h"
    return f"{s // 86400}d"


def ps_rows(root: Path, all_: bool) -> list[dict[str, Any]]:
    """One dict per VM (running ones, or all with `all_`), as `ps --json` prints them."""
    rows = []
    now = time.time()
    for d in st.list_vms(root):
        try:
            spec = d.spec()
        except LwjvmError:
            continue
        s = refresh(d)
        live = s.state in st.LIVE
        if not live and not all_:
            continue
        rows.append(
            {
                "name": spec.name,
                "image": spec.image_name,
                "state": s.state,
                "status": s.describe(),
                "exit_code": s.exit_code,
                "cause": s.cause,
                "health": s.health,
                "ports": spec.ports,
                "restarts": s.restarts,
                "uptime_s": round(now - s.started_at, 1) if live and s.started_at else None,
                "ended_s_ago": round(now - s.ended_at, 1) if not live and s.ended_at else None,
                "memory": memory(spec, s, live),
                "supervisor_pid": s.supervisor_pid if live else None,
                "qemu_pid": s.qemu_pid if live else None,
            }
        )
    return rows


def memory(spec: VmSpec, s: VmState, live: bool) -> dict[str, Any]:
    """The VM's memory as ps and inspect --json show it: its size (the deploy's), QEMU's RSS
    (the host's /proc/PID/status) and, while it runs, the guest's own figures (guest_memory)."""
    return {
        "vm_mib": spec.memory_mib,
        "qemu_rss_kib": st.rss_kib(s.qemu_pid) if live else None,
        **(guest_memory(s.guest_memory) if live else {}),
    }


def guest_memory(g: dict[str, Any]) -> dict[str, Any]:
    """The guest kernel's own figures (state.json's guest_memory, from its balloon driver's
    statistics through QMP) as ps shows them, in KiB: used is what the kernel and the app hold,
    total less free less what the balloon holds (its pages count as the guest's, not free)."""
    if not isinstance(g.get("total_kib"), int) or not isinstance(g.get("free_kib"), int):
        return {}
    balloon = g.get("balloon_kib") if isinstance(g.get("balloon_kib"), int) else 0
    return {
        "guest_used_kib": max(0, g["total_kib"] - g["free_kib"] - balloon),
        "guest_total_kib": g["total_kib"],
        "guest_free_kib": g["free_kib"],
        "guest_available_kib": g.get("available_kib"),
        "guest_page_faults": g.get("page_faults"),
        "balloon_kib": balloon,
        "guest_at": g.get("at"),
    }


def ps_table(rows: list[dict[str, Any]]) -> str:
    """The rows as a table."""
    head = ["NAME", "IMAGE", "STATE", "PORTS", "UPTIME", "MEMORY"]
    table = [head]
    for r in rows:
        ports = ",".join(str(network.parse_port(p)) for p in r["ports"]) or "-"
        status = r["status"]
        if r["ended_s_ago"] is not None:
            status += f" ({_ago(r['ended_s_ago'])} ago)"
        if r["restarts"]:
            status += f", {r['restarts']} restart{'s' if r['restarts'] > 1 else ''}"
        up = _ago(r["uptime_s"]) if r["uptime_s"] is not None else "-"
        rss = r["memory"]["qemu_rss_kib"]
        used = r["memory"].get("guest_used_kib")
        mem = f"{r['memory']['vm_mib']}M"
        if used is not None:
            mem = f"{used // 1024}M guest / {mem}"
            if r["memory"]["balloon_kib"]:
                mem += f" ({r['memory']['balloon_kib'] // 1024}M ballooned)"
        if rss is not None:
            mem = f"{rss // 1024}M rss, {mem}"
        table.append([r["name"], r["image"], status, ports, up, mem])
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in table]  # fmt: skip
    return "\n".join(lines)


# -----------------------------------------------------------------------------------------------
# stop, rm, restart


def stop(d: VmDir, timeout: float | None, note: Callable[[str], None]) -> VmState:
    """Stops the VM: SIGTERM to the app (shutdown hooks run), killed after `timeout` seconds
    (None: the deploy's --stop-timeout). Returns the final state. A VM that is not running is
    left as it is."""
    spec = d.spec()
    s = refresh(d)
    if not d.alive():
        note(f"{d.name}: not running ({s.describe()})")
        return s
    t = spec.stop_timeout if timeout is None else timeout
    st.write_json(d.stop_request, {"timeout": t, "at": st.now_iso()})
    pid = s.supervisor_pid
    if not st.pid_is(pid, "lwjvm.supervisor", d.name):
        # Being deployed, no supervisor yet: wait a moment for it.
        for _ in range(50):
            time.sleep(0.1)
            s = d.state()
            pid = s.supervisor_pid
            if st.pid_is(pid, "lwjvm.supervisor", d.name) or not d.alive():
                break
    if pid is not None and st.pid_is(pid, "lwjvm.supervisor", d.name):
        os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + t + STOP_GRACE_S
    while d.alive() and time.monotonic() < deadline:
        time.sleep(0.1)
    if d.alive():
        # The supervisor does not answer: end it and its QEMU by force.
        s = d.state()
        for p, words in ((s.supervisor_pid, "lwjvm.supervisor"), (s.qemu_pid, "qemu")):
            if st.pid_is(p, words, d.name if words != "qemu" else str(d.path)):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(p, signal.SIGKILL)  # type: ignore[arg-type]
        for _ in range(50):
            if not d.alive():
                break
            time.sleep(0.1)
    s = refresh(d)
    d.stop_request.unlink(missing_ok=True)
    note(f"{d.name}: stopped ({s.describe()})")
    return s


def remove(d: VmDir, force: bool, note: Callable[[str], None]) -> None:
    """Removes the VM's record, logs and pinned image; a running VM only with `force` (it is
    killed, not stopped gracefully)."""
    if not d.path.exists():
        raise LwjvmError(f"no VM named {d.name} (see lwjvm ps -a)")
    if d.alive():
        if not force:
            raise LwjvmError(f"{d.name} is running: lwjvm stop {d.name} first, or rm -f")
        stop(d, 0.0, lambda _: None)
    lock = d.try_lock()
    if lock is None:
        raise LwjvmError(f"{d.name} was deployed again meanwhile; not removed")
    try:
        shutil.rmtree(d.path)
    finally:
        os.close(lock)
    note(d.name)


def restart(d: VmDir, timeout: float | None, wait: bool, note: Callable[[str], None]) -> int:
    """Stops the VM if it runs and starts it again from its pinned image; waits for health."""
    spec = d.spec()
    if d.alive():
        stop(d, timeout, lambda _: None)
    lock = d.try_lock()
    if lock is None:
        raise LwjvmError(f"{d.name} was started by someone else meanwhile")
    try:
        network.check_free([network.parse_port(p) for p in spec.ports])
        s = d.state()
        s.state, s.cause, s.exit_code, s.qemu_pid = st.STARTING, None, None, None
        s.event("restart requested")
        d.write_state(s)
        d.stop_request.unlink(missing_ok=True)
        proc = start_supervisor(d, lock)
    finally:
        os.close(lock)
    if not wait:
        note(f"{spec.name}: starting")
        return 0
    return wait_healthy(d, spec, proc, note)


# -----------------------------------------------------------------------------------------------
# logs


def parse_since(text: str) -> float:
    """An epoch time from `10m`, `30s`, `2h` (ago) or an ISO time; LwjvmError if neither."""
    m = re.match(r"^(\d+(?:\.\d+)?)(ms|s|m|h|d)$", text.strip())
    if m:
        scale = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}[m.group(2)]
        return time.time() - float(m.group(1)) * scale
    try:
        return applog.Line(text if "." in text else text.rstrip("Z") + ".0Z", "o", b"").epoch
    except ValueError:
        raise LwjvmError(
            f"bad --since {text!r}: expected a duration such as 10m or 30s, or a time such as "
            "2026-12-06T03:59:17Z"
        ) from None


def _render(line: applog.Line, timestamps: bool) -> str:
    text = line.text.decode(errors="replace")
    if line.stream == applog.LWJVM:
        text = "lwjvm: " + text
    return f"{line.at} {text}" if timestamps else text


def logs(
    d: VmDir,
    follow: bool,
    tail: int | None,
    since: str | None,
    timestamps: bool,
    out: BinaryIO,
    err: BinaryIO,
) -> None:
    """Writes the VM's log: stdout lines to `out`, stderr and lwjvm's lines to `err`."""
    d.spec()
    t_since = parse_since(since) if since is not None else None
    lines = applog.read_lines(d.log)
    if t_since is not None:
        lines = [ln for ln in lines if ln.epoch >= t_since]
    if tail is not None:
        lines = lines[-tail:] if tail > 0 else []

    def emit(line: applog.Line) -> None:
        stream = out if line.stream == applog.STDOUT else err
        stream.write(_render(line, timestamps).encode() + b"\n")
        stream.flush()

    for line in lines:
        emit(line)
    if follow:
        for line in applog.follow(d.log, d.alive):
            emit(line)


# -----------------------------------------------------------------------------------------------
# inspect


def inspect_vm(d: VmDir) -> dict[str, Any]:
    """The VM's config, state (with history and exit causes) and what its image holds."""
    spec = d.spec()
    s = refresh(d)
    from lwjvm.descriptor import ImageDescriptor

    try:
        desc: ImageDescriptor | None = ImageDescriptor.read(d.image)
    except LwjvmError:
        desc = None  # an image of an older lwjvm, or gone: the rest is still worth showing
    live = s.state in st.LIVE
    return {
        "name": spec.name,
        "config": asdict(spec),
        "state": {**asdict(s), "status": s.describe(),
                  "qemu_rss_kib": st.rss_kib(s.qemu_pid) if live else None},
        "memory": memory(spec, s, live),
        "image": {
            "dir": str(d.image),
            "root.img": asdict(desc.root_img) if desc else None,
            "jvm": asdict(desc.jvm) if desc else None,
            "cpus": desc.vm.cpus if desc else None,
            "snapshot": asdict(desc.snapshot) if desc and desc.snapshot else None,
        },
        "paths": {"log": str(d.log), "state": str(d.state_file), "qmp": str(d.qmp)},
        "urls": urls(spec),
    }  # fmt: skip


def _memory_line(g: dict[str, Any]) -> str:
    """inspect's memory line from `memory` (the guest's figures only while the VM runs)."""
    parts = []
    if g.get("qemu_rss_kib") is not None:
        parts.append(f"QEMU RSS {g['qemu_rss_kib'] // 1024} MiB")
    if "guest_used_kib" in g:
        parts.append(
            f"guest {g['guest_used_kib'] // 1024} of {g['guest_total_kib'] // 1024} MiB in use, "
            f"{g['guest_free_kib'] // 1024} free (its kernel, through the balloon, at "
            f"{g['guest_at']})"
        )
        if g["balloon_kib"]:
            parts.append(f"balloon {g['balloon_kib'] // 1024} MiB")
    return ", ".join(parts) or "-"


def _snapshot_line(snap: dict[str, Any] | None) -> str:
    if not snap:
        return "- (boots cold; vm.snapshot: true saves a warmed VM at build time)"
    taken = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(snap["taken"]))
    return (
        f"warm, taken {taken} after {snap['served']}; {snap['ram_bytes'] >> 20} MiB of RAM, "
        f"{snap['state_bytes'] >> 10} KiB of device state"
    )


def render_inspect(info: dict[str, Any]) -> str:
    """A readable account of `inspect_vm`."""
    c, s = info["config"], info["state"]
    lines = [
        f"name:       {info['name']} (image {c['image_name']}, from {c['manifest']})",
        f"state:      {s['status']}" + (f": {s['cause']}" if s.get("cause") else ""),
        f"health:     {s.get('health') or '-'}",
        f"restart:    {c['restart']} ({s['restarts']} so far)",
        f"vm:         {c['memory_mib']} MiB, {c.get('cpus', 1)} cpu, {c['accel']}, network "
        f"{c['network']}, mac {c['mac']}",
        f"memory:     {_memory_line(info['memory'])}",
        f"ports:      {', '.join(str(network.parse_port(p)) for p in c['ports']) or '-'}",
        f"snapshot:   {_snapshot_line(info['image'].get('snapshot'))}",
        f"pids:       supervisor {s.get('supervisor_pid')}, qemu {s.get('qemu_pid') or '-'}",
        f"log:        {info['paths']['log']}",
        "history:",
    ]
    for e in s["history"][-30:]:
        extra = " ".join(f"{k}={v}" for k, v in e.items() if k not in ("at", "event"))
        lines.append(f"  {e['at']}  {e['event']}" + (f"  {extra}" if extra else ""))
    return "\n".join(lines)
