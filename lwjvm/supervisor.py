"""The supervisor of one deployed VM: `python -m lwjvm.supervisor STATE_ROOT NAME --lock-fd N`.

`lwjvm deploy` starts it in a session of its own, handing it the name's lock (lwjvm/state.py), and
exits; the supervisor outlives it. It owns QEMU (which dies with it: PR_SET_PDEATHSIG), the
consoles (through `vm.run_vm`, as `lwjvm run` does), the log (lwjvm/applog.py), QEMU's QMP socket
(through the `qemu.qmp` library: status, quit, and the balloon's figures of the guest's memory)
and the health checks (lwjvm/health.py). It writes what happens to state.json, the memory
figures included, so `lwjvm ps` reads files and never asks QEMU; the CLI only reads that and
sends it signals:
- SIGTERM (or SIGINT): stop. The app is sent SIGTERM over the control channel, its shutdown hooks
  run; if it has not exited within the timeout in stop.json (default: the deploy's), QEMU is ended
  through QMP `quit`, then killed. A second SIGTERM ends QEMU at once. No restart follows a stop.
- When the app stops by itself, the restart policy decides: `no`, `on-failure[:N]` (a non-zero
  exit, a kill, a panic or out of memory; at most N restarts) or `always`, after a back-off of
  1 s doubling to 60 s, reset once a boot has run 60 s.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import queue
import signal
import sys
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from lwjvm import applog, health, network, protocol, qemu, snapshot, vm
from lwjvm import state as st
from lwjvm.descriptor import Health, ImageDescriptor, RestartPolicy
from lwjvm.errors import LwjvmError
from lwjvm.state import VmDir, VmSpec, VmState

BACKOFF_FIRST_S = 1.0
BACKOFF_MAX_S = 60.0
BACKOFF_RESET_S = 60.0  # a boot that ran this long starts the back-off again from the first
UNHEALTHY_AFTER = 3  # failed checks in a row that make a healthy app unhealthy
QMP_POLL_S = 5.0
# QEMU asks the guest's balloon driver for fresh figures this often (its
# guest-stats-polling-interval, whole seconds); the supervisor reads them every QMP_POLL_S.
STATS_POLL_S = 5
UNSET_STAT = (1 << 64) - 1  # QEMU's value of a figure the guest does not send
PROBE_TIMEOUT_S = 5.0
SILENT_GRACE_S = 30.0  # an app with no output: healthy after its start period and this


class Qmp:
    """QEMU's QMP socket through `qemu.qmp`, used from one thread of its own (its event loop's).

    `call` returns the command's result, or None if QMP is not (yet, or any more) reachable.
    """

    def __init__(self, path: Path, connect_for: float = 15.0) -> None:
        self.path = path
        self.connect_for = connect_for
        self.requests: queue.Queue[tuple[str, dict[str, Any], list[Any], threading.Event] | None]
        self.requests = queue.Queue()
        self.thread = threading.Thread(target=self._run, name="qmp", daemon=True)
        self.thread.start()

    def call(self, command: str, timeout: float = 5.0, **args: Any) -> Any:
        done = threading.Event()
        box: list[Any] = []
        self.requests.put((command, args, box, done))
        done.wait(timeout)
        return box[0] if box else None

    def close(self) -> None:
        self.requests.put(None)

    def _run(self) -> None:
        from qemu.qmp.legacy import QEMUMonitorProtocol

        client = None
        deadline = time.monotonic() + self.connect_for
        while client is None and time.monotonic() < deadline:
            try:
                c = QEMUMonitorProtocol(str(self.path))
                c.connect(negotiate=True)
                client = c
            except Exception:  # noqa: BLE001 (not listening yet: try again)
                time.sleep(0.1)
        while True:
            item = self.requests.get()
            if item is None:
                break
            command, args, box, done = item
            if client is not None:
                try:
                    box.append(client.cmd(command, **args))
                except Exception:  # noqa: BLE001 (QEMU is gone or refused: no answer)
                    pass
            done.set()
        if client is not None:
            with contextlib.suppress(Exception):
                client.close()


class Supervisor:
    """Boots the VM of `spec`, again as its restart policy says, until stopped."""

    def __init__(self, d: VmDir, spec: VmSpec) -> None:
        self.d = d
        self.spec = spec
        self.st = d.state()
        self.st.supervisor_pid = os.getpid()
        self.lock = threading.Lock()
        max_bytes = int(os.environ.get("LWJVM_LOG_MAX_BYTES", applog.MAX_BYTES))
        self.log = applog.AppLog(d.log, max_bytes)
        self.log.on_line = self._on_line
        self.tail: deque[bytes] = deque(maxlen=200)
        self.fatal: bytes | None = None
        self.app_started: float | None = None  # the kernel's boot record of this boot
        self.first_output: float | None = None  # the app's first line of this boot
        self.stopping = False
        self.stop_timeout = spec.stop_timeout  # of the stop asked for, once one is
        self.stop_requests = 0
        self.wake = threading.Event()
        self.control: vm.VmControl | None = None
        self.qmp: Qmp | None = None
        self.stats_polling = False  # this boot's QEMU was told STATS_POLL_S
        self.ports = [network.parse_port(p, "ports") for p in spec.ports]
        self.health = Health(**spec.health)
        self.check = health.resolve(self.health, self.ports, spec.guest_ip)
        self.policy = RestartPolicy.parse(spec.restart)
        self._stop_r, self._stop_w = os.pipe2(os.O_CLOEXEC)

    # -- state ------------------------------------------------------------------------------

    def update(self, event: str | None = None, detail: dict[str, Any] | None = None,
               **changes: Any) -> None:  # fmt: skip
        """Changes fields of the state, adds a history event, and writes state.json."""
        with self.lock:
            for k, v in changes.items():
                setattr(self.st, k, v)
            if event is not None:
                self.st.event(event, **(detail or {}))
            self.d.write_state(self.st)

    def _on_line(self, stream: str, text: bytes) -> None:
        if stream in (applog.STDOUT, applog.STDERR):
            if self.first_output is None:
                self.first_output = time.monotonic()
            self.tail.append(text + b"\n")
            if self.fatal is None and health.fatal_line(text):
                self.fatal = text

    # -- stop requests ----------------------------------------------------------------------

    def _on_signal(self, _signum: int, _frame: object) -> None:
        """Only wakes the stopper thread: a handler must not take locks the main thread holds."""
        os.write(self._stop_w, b"s")

    def _stopper(self) -> None:
        while os.read(self._stop_r, 1):
            self.stop_requests += 1
            req = st.read_json(self.d.stop_request)
            timeout = self.spec.stop_timeout
            if isinstance(req, dict) and isinstance(req.get("timeout"), int | float):
                timeout = float(req["timeout"])
            self.stopping = True
            self.stop_timeout = timeout
            ctl = self.control
            if self.stop_requests > 1 or timeout <= 0:
                self.log.note("stop: ending the VM now")
                if ctl is not None:
                    ctl.kill()
            else:
                self.log.note(f"stop: sent SIGTERM to the app; it has {timeout:g} s to exit")
                if ctl is not None:
                    ctl.signal(signal.SIGTERM, timeout)
            self.update("stop requested", {"timeout": timeout}, state=st.STOPPING)
            self.wake.set()

    # -- the boots --------------------------------------------------------------------------

    def run(self) -> int:
        for s in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(s, self._on_signal)
        threading.Thread(target=self._stopper, name="stopper", daemon=True).start()
        self.update("supervisor started", {"pid": os.getpid()})
        backoff = BACKOFF_FIRST_S
        try:
            while True:
                if self.stopping:
                    break
                began = time.monotonic()
                outcome = self._boot_once()
                ran = time.monotonic() - began
                state, code, cause = outcome
                if self.stopping or not self._should_restart(state, code):
                    self._finish(state, code, cause)
                    break
                if ran >= BACKOFF_RESET_S:
                    backoff = BACKOFF_FIRST_S
                self.log.note(f"{cause or describe(state, code)}; restarting in {backoff:g} s")
                self.update(
                    "restart scheduled",
                    {"in": backoff, "after": describe(state, code)},
                    state=st.RESTARTING,
                    exit_code=code,
                    cause=cause,
                    restarts=self.st.restarts + 1,
                    next_restart_at=time.time() + backoff,
                    qemu_pid=None,
                )
                self.wake.wait(backoff)
                self.wake.clear()
                backoff = min(backoff * 2, BACKOFF_MAX_S)
                if self.stopping:
                    self._finish(state, code, cause)
                    break
        finally:
            self.log.close()
        return 0

    def _should_restart(self, state: str, code: int) -> bool:
        if self.policy.mode == "always":
            return True
        if self.policy.mode != "on-failure" or (state == st.EXITED and code == 0):
            return False
        return self.policy.max_restarts is None or self.st.restarts < self.policy.max_restarts

    def _finish(self, state: str, code: int, cause: str | None) -> None:
        self.log.note(f"the VM ended: {cause or describe(state, code)}")
        self.update(
            "ended", {"state": describe(state, code)},
            state=state, exit_code=code, cause=cause, qemu_pid=None, next_restart_at=None,
            ended_at=time.time(),
        )  # fmt: skip

    def _boot_once(self) -> tuple[str, int, str | None]:
        """Boots the VM once and waits for it: (final state, lwjvm's exit code, cause)."""
        spec = self.spec
        image = self.d.image
        self.fatal = None
        self.first_output = None
        self.tail.clear()
        ctl = vm.VmControl()
        ctl.on_start = self._started
        ctl.on_record = self._record
        ctl.quit = self._quit
        self.app_started: float | None = None
        self.d.qmp.unlink(missing_ok=True)
        net = None
        if spec.network != network.NETWORK_NONE:
            net = network.NetConfig(spec.network, tuple(self.ports), spec.mac, spec.tap)
        cfg = qemu.VmConfig(
            kernel=image / "kernel.elf",
            initrd=image / "root.img",
            memory_mib=spec.memory_mib,
            accel=spec.accel,
            append=["lwjvm.quiet=1", *spec.kernel_args],
            stop_timeout=spec.stop_timeout,
            net=net,
            qmp=self.d.qmp,
            disks=[Path(p) for p in spec.disks],
            cpus=spec.cpus,
            balloon=True,
        )
        cfg = self._warm(cfg)
        out, err = self.log.stream(applog.STDOUT), self.log.stream(applog.STDERR)
        done = threading.Event()
        self.control = ctl
        if self.stopping:  # a stop that came while no VM ran
            self.control = None
            ctl.close()
            return st.EXITED, 0, "stopped before it started"
        self.update("boot", {"attempt": self.st.restarts + 1}, state=st.STARTING, cause=None,
                    health=None, exit_code=None, next_restart_at=None,
                    guest_memory={})  # fmt: skip
        watcher = threading.Thread(target=self._watch, args=(done,), name="health", daemon=True)
        try:
            network.check_free(self.ports)
            watcher.start()
            result = vm.run_vm(cfg, out, err, control=ctl)  # type: ignore[arg-type]
        except LwjvmError as e:
            return st.KILLED, 125, str(e)
        finally:
            done.set()
            out.close()
            err.close()
            self.control = None
            ctl.close()
            if watcher.is_alive():
                watcher.join(PROBE_TIMEOUT_S + 1)
            if self.qmp is not None:
                self.qmp.close()
                self.qmp = None
        code, cause = protocol.explain(
            result, b"".join(self.tail), spec.memory_mib, None, self.stop_timeout
        )
        if result.outcome == protocol.OUTCOME_NO_RECORD and result.qemu_status is not None:
            if result.qemu_status < 0:
                sig = signal.Signals(-result.qemu_status).name
                cause = f"QEMU was killed ({sig}) without an exit record"
        return classify(result, code), code, cause

    def _warm(self, cfg: qemu.VmConfig) -> qemu.VmConfig:
        """`cfg` as the restore of the image's warm snapshot if it has one this boot fits; the
        state history says which way the VM started."""
        try:
            desc = ImageDescriptor.read(self.d.image)
        except LwjvmError:
            return cfg
        snap, why_not = snapshot.choose(self.d.image, desc, cfg)
        if snap is not None:
            self.update("warm start", {"snapshot": snap.served})
            return snapshot.restore_config(cfg, self.d.image, snap)
        if why_not:
            self.update("cold start", {"why": f"the warm snapshot does not fit: {why_not}"})
        return cfg

    def _started(self, proc: Any) -> None:
        self.qmp = Qmp(self.d.qmp)
        self.stats_polling = False
        self.update("qemu started", {"pid": proc.pid}, qemu_pid=proc.pid, started_at=time.time())

    def _record(self, kind: str, fields: dict[str, str]) -> None:
        """Kernel records: `boot` is the JVM's start, the start period counts from it."""
        if kind == "boot":
            self.app_started = time.monotonic()
            ns = fields.get("entry_to_user_ns", "")
            took = f"{int(ns) / 1e6:.0f} ms" if ns.isdigit() else "?"
            self.update("app started", {"kernel_boot": took})
        elif kind in ("fatal", "oom", "panic"):
            self.update(kind, dict(fields))

    def _quit(self) -> bool:
        """Ends QEMU through QMP `quit`; False if QMP did not answer."""
        q = self.qmp
        return q is not None and q.call("quit", timeout=2.0) is not None

    # -- health -----------------------------------------------------------------------------

    def _watch(self, done: threading.Event) -> None:
        """Checks health every interval until the boot ends; polls QMP every QMP_POLL_S."""
        hc, check = self.health, self.check
        t0 = time.monotonic()
        deadline = t0 + hc.timeout
        healthy = False
        late_reported = False
        fails = 0
        next_qmp = t0 + 1.0
        while not done.wait(hc.interval):
            now = time.monotonic()
            if now >= next_qmp:
                self._poll_qmp()
                next_qmp = now + QMP_POLL_S
            if self.stopping:
                continue
            if check.kind == "start":
                # From the app's first line: a JVM takes seconds to reach main under TCG, and
                # nothing tells the host when it does. An app that prints nothing gets
                # SILENT_GRACE_S more from its start.
                if self.fatal is not None:
                    ok, seen = False, "fatal line: " + self.fatal.decode(errors="replace")[:200]
                elif self.first_output is not None:
                    up = now - self.first_output
                    ok, seen = up >= hc.start_period, f"running {up:.0f} s, no fatal line"
                elif self.app_started is not None:
                    up = now - self.app_started
                    ok = up >= hc.start_period + SILENT_GRACE_S
                    seen = f"running {up:.0f} s, no output"
                else:
                    ok, seen = False, "the kernel has not started the app yet"
                if not ok and self.fatal is None and now < deadline:
                    continue
            else:
                limit = min(PROBE_TIMEOUT_S, max(hc.interval, 1.0))
                usernet = self._usernet if self.spec.network == network.NETWORK_USER else None
                ok, seen = health.probe(check, limit, usernet)
            if done.is_set() or self.stopping:
                break
            if ok:
                fails = 0
                if self.st.state != st.HEALTHY:
                    self.update("healthy", {"check": seen}, state=st.HEALTHY, health=seen,
                                cause=None)  # fmt: skip
                healthy = True
                continue
            if check.kind == "start" and self.fatal is not None and not late_reported:
                late_reported = True
                self.update("unhealthy", {"check": seen}, state=st.UNHEALTHY, health=seen,
                            cause=seen)  # fmt: skip
            elif healthy:
                fails += 1
                if fails >= UNHEALTHY_AFTER and self.st.state != st.UNHEALTHY:
                    why = f"{fails} health checks failed in a row: {seen}"
                    self.update("unhealthy", {"check": seen}, state=st.UNHEALTHY, health=seen,
                                cause=why)  # fmt: skip
            elif now >= deadline and not late_reported:
                late_reported = True
                why = f"not healthy within {hc.timeout:g} s ({check.describe()}): {seen}"
                self.update("unhealthy", {"check": seen}, state=st.UNHEALTHY, health=seen,
                            cause=why)  # fmt: skip
            else:
                with self.lock:
                    self.st.health = seen

    def _usernet(self) -> str | None:
        """QEMU's user-network connection table (`info usernet`, through QMP)."""
        q = self.qmp
        if q is None:
            return None
        out = q.call("human-monitor-command", **{"command-line": "info usernet"})
        return out if isinstance(out, str) else None

    def _poll_qmp(self) -> None:
        """QEMU's status and the guest's memory through QMP, into state.json."""
        q = self.qmp
        if q is None:
            return
        if not self.stats_polling:
            said = q.call("qom-set", path=qemu.BALLOON_QOM,
                          property="guest-stats-polling-interval", value=STATS_POLL_S)  # fmt: skip
            self.stats_polling = said is not None
        status = q.call("query-status")
        mem = q.call("query-memory-size-summary")
        info: dict[str, Any] = {"at": st.now_iso()}
        if isinstance(status, dict):
            info["status"] = status.get("status")
        if isinstance(mem, dict):
            info["memory"] = mem.get("base-memory")
        stats = q.call("qom-get", path=qemu.BALLOON_QOM, property="guest-stats")
        guest = guest_memory(stats, q.call("query-balloon"), self.spec.memory_mib)
        self.update(qemu=info, **({"guest_memory": guest} if guest else {}))


def guest_memory(stats: Any, balloon: Any, memory_mib: int) -> dict[str, Any]:
    """The guest's memory as its kernel's balloon driver last reported it (QEMU's guest-stats:
    kernel/drivers/virtio_balloon.c) and what the balloon holds (query-balloon), in KiB, with
    the time of the report; {} before the guest's first report (or without a balloon)."""
    if not isinstance(stats, dict) or not isinstance(stats.get("stats"), dict):
        return {}
    last = stats.get("last-update")
    if not isinstance(last, int) or last <= 0:
        return {}
    figures = stats["stats"]

    def figure(name: str) -> int | None:
        v = figures.get(name)
        return v if isinstance(v, int) and 0 <= v < UNSET_STAT else None

    out: dict[str, Any] = {"at": st.now_iso(last)}
    for key, name in (("total_kib", "stat-total-memory"), ("free_kib", "stat-free-memory"),
                      ("available_kib", "stat-available-memory")):  # fmt: skip
        v = figure(name)
        if v is not None:
            out[key] = v // 1024
    faults = figure("stat-minor-faults")
    if faults is not None:
        out["page_faults"] = faults
    if isinstance(balloon, dict) and isinstance(balloon.get("actual"), int):
        out["balloon_kib"] = max(0, memory_mib * 1024 - balloon["actual"] // 1024)
    return out


def classify(result: vm.VmResult, code: int) -> str:
    """The state a boot ended in: exited, killed, out of memory or kernel panic."""
    if result.outcome == protocol.OUTCOME_PANIC:
        return st.PANIC
    if result.log is not None and result.log.out_of_memory is not None:
        return st.OOM
    if result.outcome in (protocol.OUTCOME_EXIT,):
        return st.EXITED
    return st.KILLED


def describe(state: str, code: int) -> str:
    """`exited 3`, `killed`..."""
    return f"exited {code}" if state == st.EXITED else state


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m lwjvm.supervisor")
    p.add_argument("root", type=Path)
    p.add_argument("name")
    p.add_argument("--lock-fd", type=int, required=True)
    a = p.parse_args(argv)
    d = VmDir(a.root, a.name)
    try:
        spec = d.spec()
        return Supervisor(d, spec).run()
    except Exception as e:
        with contextlib.suppress(Exception):
            s: VmState = d.state()
            s.state, s.cause, s.qemu_pid = st.KILLED, f"the supervisor failed: {e}", None
            s.event("supervisor failed", error=str(e))
            d.write_state(s)
        raise
    finally:
        os.close(a.lock_fd)


if __name__ == "__main__":
    sys.exit(main())
