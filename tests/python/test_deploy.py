"""`lwjvm deploy` and the VM lifecycle: real VMs under supervisors, driven through the CLI.

The unit tests at the top need no guest (log format and rotation, --since, health probes against
servers on the host, the restart policy); the rest deploy Java apps in real VMs (TCG) with a state
directory of their own.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lwjvm import applog, deploy, health, supervisor
from lwjvm import state as st
from lwjvm.descriptor import Health, RestartPolicy
from lwjvm.errors import LwjvmError
from lwjvm.network import parse_port
from lwjvm.testing import GUEST_TIMEOUT_S, guest_unavailable, lwjvm_command

SERVICE = {
    "Service.java": """
public class Service {
    public static void main(String[] args) throws Exception {
        String mode = args.length > 0 ? args[0] : "serve";
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            System.out.println("shutdown hook ran");
            if (mode.equals("stubborn")) {
                try { Thread.sleep(1000000); } catch (InterruptedException e) { }
            }
        }));
        if (mode.equals("fail")) {
            System.err.println("failing on purpose");
            System.exit(1);
        }
        if (mode.equals("crash")) {
            throw new IllegalStateException("boom");
        }
        if (mode.equals("ask")) {  // fail while the host's counter at 10.0.2.2:PORT is below 2
            int attempt;
            try (java.net.Socket s = new java.net.Socket("10.0.2.2", Integer.parseInt(args[1]));
                 java.io.BufferedReader in = new java.io.BufferedReader(
                     new java.io.InputStreamReader(s.getInputStream()))) {
                attempt = Integer.parseInt(in.readLine().trim());
            }
            if (attempt < 2) {
                System.err.println("attempt " + attempt + " fails");
                System.exit(1);
            }
            System.out.println("attempt " + attempt + " runs");
        }
        System.out.println("ready");
        for (long i = 0;; i++) {
            Thread.sleep(500);
            System.err.println("tick " + i);
        }
    }
}
""",
}

# A small HTTP server on a blocking ServerSocket (the guest has TCP sockets; no epoll needed). Its
# answer names $GREETING; a connection closed without a request (a TCP health probe) is skipped.
WEB = {
    "Web.java": """
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public class Web {
    public static void main(String[] args) throws Exception {
        int port = Integer.parseInt(args[0]);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> System.out.println("web stopping")));
        try (ServerSocket server = new ServerSocket(port)) {
            System.out.println("listening on " + port);
            while (true) {
                try (Socket s = server.accept()) {
                    BufferedReader in = new BufferedReader(
                        new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
                    String request = in.readLine();
                    if (request == null) {
                        continue;
                    }
                    String line;
                    while ((line = in.readLine()) != null && !line.isEmpty()) { }
                    String path = request.split(" ")[1];
                    String body = path.equals("/health") ? "ok\\n"
                        : "hello from the guest, " + System.getenv("GREETING") + "\\n";
                    String status = path.equals("/missing") ? "404 Not Found" : "200 OK";
                    OutputStream out = s.getOutputStream();
                    out.write(("HTTP/1.1 " + status + "\\r\\nContent-Length: " + body.length()
                        + "\\r\\nConnection: close\\r\\n\\r\\n" + body)
                        .getBytes(StandardCharsets.US_ASCII));
                    out.flush();
                } catch (IOException e) {
                    System.err.println("connection: " + e);
                }
            }
        }
    }
}
""",
}

# --------------------------------------------------------------------------------------------
# Without a guest


def test_log_lines_keep_stream_and_time_and_rotate(tmp_path: Path) -> None:
    log = applog.AppLog(tmp_path / "app.log", max_bytes=200)
    out, err = log.stream(applog.STDOUT), log.stream(applog.STDERR)
    out.write(b"hello\nwor")
    err.write(b"oops\n")
    out.write(b"ld\n")
    out.write(b"no newline")
    out.close()
    lines = applog.read_lines(tmp_path / "app.log")
    assert [(ln.stream, ln.text) for ln in lines] == [
        ("o", b"hello"), ("e", b"oops"), ("o", b"world"), ("o", b"no newline"),
    ]  # fmt: skip
    assert abs(lines[0].epoch - time.time()) < 60
    for i in range(20):
        log.write_line("o", f"line {i}".encode())
    log.close()
    kept = applog.read_lines(tmp_path / "app.log")
    assert (tmp_path / "app.log.1").exists() and (tmp_path / "app.log.2").exists()
    assert not (tmp_path / "app.log.3").exists()
    assert kept[-1].text == b"line 19"
    assert [ln.text for ln in kept] == sorted(
        (ln.text for ln in kept), key=lambda t: kept.index(next(k for k in kept if k.text == t))
    )
    assert sum((tmp_path / n).stat().st_size for n in ("app.log", "app.log.1", "app.log.2")) < 800


def test_follow_reads_across_a_rotation(tmp_path: Path) -> None:
    path = tmp_path / "app.log"
    log = applog.AppLog(path, max_bytes=120)
    done = threading.Event()
    seen: list[bytes] = []

    def reader() -> None:
        for line in applog.follow(path, lambda: not done.is_set(), poll=0.01):
            seen.append(line.text)

    t = threading.Thread(target=reader)
    t.start()
    time.sleep(0.1)
    for i in range(12):
        log.write_line("o", f"n{i}".encode())
        time.sleep(0.03)
    time.sleep(0.1)
    done.set()
    t.join(5)
    assert seen == [f"n{i}".encode() for i in range(12)]


def test_since_takes_durations_and_times() -> None:
    assert abs(deploy.parse_since("10m") - (time.time() - 600)) < 2
    assert deploy.parse_since("2026-12-06T03:59:17Z") == 1796529557.0
    with pytest.raises(LwjvmError, match="bad --since 'yesterday'"):
        deploy.parse_since("yesterday")


def test_restart_policy_and_its_limit(tmp_path: Path) -> None:
    assert RestartPolicy.parse("on-failure:3") == RestartPolicy("on-failure", 3)
    with pytest.raises(ValueError):
        RestartPolicy.parse("always:2")
    sup = object.__new__(supervisor.Supervisor)
    sup.st = st.VmState()
    sup.policy = RestartPolicy.parse("on-failure:2")
    assert sup._should_restart(st.EXITED, 1) and not sup._should_restart(st.EXITED, 0)
    assert sup._should_restart(st.KILLED, 122) and sup._should_restart(st.OOM, 137)
    sup.st.restarts = 2
    assert not sup._should_restart(st.EXITED, 1)
    sup.policy = RestartPolicy.parse("always")
    assert sup._should_restart(st.EXITED, 0)
    sup.policy = RestartPolicy.parse("no")
    assert not sup._should_restart(st.PANIC, 123)


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 (the http.server API)
        self.send_response(200 if self.path == "/health" else 503)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def http_server() -> Iterator[int]:
    server = http.server.HTTPServer(("127.0.0.1", 0), _Handler)
    t = threading.Thread(target=server.serve_forever, daemon=True)
    t.start()
    yield server.server_address[1]
    server.shutdown()


def test_http_probe_wants_a_2xx(http_server: int) -> None:
    ports = [parse_port(f"{http_server}:8080")]
    check = health.resolve(Health(http="/health"), ports)
    assert check == health.Check("http", "127.0.0.1", http_server, "/health")
    assert health.probe(check, 5) == (True, "GET /health: HTTP 200")
    bad = health.resolve(Health(http="/ready"), ports)
    assert health.probe(bad, 5) == (False, "GET /ready: HTTP 503")


def test_tcp_probe_wants_a_connection_that_stays_open() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        check = health.Check("tcp", "127.0.0.1", port)
        assert health.probe(check, 5) == (True, f"TCP {port}: open")
        listener.accept()[0].close()  # that probe's connection, from the backlog

        def close_at_once() -> None:  # what QEMU's slirp does when nothing listens in the guest
            conn, _ = listener.accept()
            conn.close()

        t = threading.Thread(target=close_at_once)
        t.start()
        ok, seen = health.probe(check, 5)
        t.join()
        assert not ok and "closed at once" in seen
    ok, seen = health.probe(check, 5)
    assert not ok and "refused" in seen


# `info usernet` of QEMU 7.2 with samples of a forward from host port 51223 to the guest's 8080:
# the listener alone, then with a connection the guest accepted, then one it has not answered.
USERNET = """Hub -1 (net0):
  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
  TCP[HOST_FORWARD]  15       127.0.0.1 51223       10.0.2.15  8080     0     0
"""
ACCEPTED = "  TCP[ESTABLISHED]   36       127.0.0.1 51223       10.0.2.15  8080     0     0\n"
OPENING = "  TCP[SYN_SENT]      37       127.0.0.1 51223       10.0.2.15  8080     0     0\n"


def test_a_forwarded_connection_counts_once_the_guest_has_answered_it() -> None:
    assert health.usernet_state(USERNET, 51223) is None
    assert health.usernet_state(USERNET + ACCEPTED, 51223) == "ESTABLISHED"
    assert health.usernet_state(USERNET + ACCEPTED + OPENING, 51223) == "SYN_SENT"
    assert health.usernet_state(USERNET + ACCEPTED, 8080) is None


def test_a_check_needs_its_port_forwarded() -> None:
    with pytest.raises(LwjvmError, match="health.http needs a forwarded port"):
        health.resolve(Health(http="/health"), [])
    with pytest.raises(LwjvmError, match="health.tcp 9000 is not forwarded"):
        health.resolve(Health(tcp=9000), [parse_port("8080:8080")])
    assert health.resolve(Health(), []).kind == "start"


def test_with_a_tap_network_checks_go_to_the_guest_address() -> None:
    check = health.resolve(Health(http="/health", port=8080), [], "192.168.100.2")
    assert check.describe() == "GET http://192.168.100.2:8080/health"
    assert health.resolve(Health(tcp=5432), [], "192.168.100.2").describe() == (
        "TCP 192.168.100.2:5432"
    )
    with pytest.raises(LwjvmError, match="needs health.port"):
        health.resolve(Health(http="/health"), [], "192.168.100.2")


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish"])
def test_completion_scripts_and_an_empty_ps(shell: str, tmp_path: Path) -> None:
    env = dict(os.environ, LWJVM_STATE_DIR=str(tmp_path / "state"))
    run = subprocess.run(
        [*lwjvm_command(), "completion", shell], capture_output=True, text=True, env=env
    )
    assert run.returncode == 0 and "_LWJVM_COMPLETE" in run.stdout
    ps = subprocess.run([*lwjvm_command(), "ps", "--json"], capture_output=True, text=True, env=env)
    assert (ps.returncode, json.loads(ps.stdout)) == (0, [])
    gone = subprocess.run(
        [*lwjvm_command(), "stop", "nope"], capture_output=True, text=True, env=env
    )
    assert (gone.returncode, gone.stderr) == (
        125,
        "lwjvm: error: no VM named nope (see lwjvm ps -a)\n",
    )


def test_state_dir_flag_then_env_then_xdg_state_home(tmp_path: Path) -> None:
    """--state-dir over $LWJVM_STATE_DIR over $XDG_STATE_HOME/lwjvm (a volume shows where)."""
    env = {k: v for k, v in os.environ.items() if k != "LWJVM_STATE_DIR"}
    env["XDG_STATE_HOME"] = str(tmp_path / "xdg")

    def run(*args: str, **extra: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*lwjvm_command(), *args], capture_output=True, text=True, env={**env, **extra}
        )

    assert run("volume", "create", "a", "--size", "1M").returncode == 0
    assert run("volume", "create", "b", "--size", "1M",
               LWJVM_STATE_DIR=str(tmp_path / "env")).returncode == 0  # fmt: skip
    flag = run("--state-dir", str(tmp_path / "flag"), "volume", "create", "c", "--size", "1M",
               LWJVM_STATE_DIR=str(tmp_path / "env"))  # fmt: skip
    assert flag.returncode == 0, flag.stderr
    assert (tmp_path / "xdg" / "lwjvm" / "volumes" / "a.vol").is_file()
    assert [p.name for p in (tmp_path / "env" / "volumes").iterdir()] == ["b.vol"]
    assert [p.name for p in (tmp_path / "flag" / "volumes").iterdir()] == ["c.vol"]
    ps = run("--state-dir", str(tmp_path / "flag"), "ps", "-a", "--json")
    assert (ps.returncode, json.loads(ps.stdout)) == (0, [])


def _ended(outcome: str, code: int, oom: str | None = None) -> Any:
    from lwjvm import protocol, vm

    log = protocol.KernelLog(lambda _: None, live=False)
    log.out_of_memory = oom
    return vm.VmResult(outcome, code, None, None, None, None, None, 1.0, "", log)


def test_how_a_boot_ended_is_the_state_ps_shows() -> None:
    from lwjvm import protocol

    assert supervisor.classify(_ended(protocol.OUTCOME_EXIT, 3), 3) == st.EXITED
    assert supervisor.describe(st.EXITED, 3) == "exited 3"
    assert supervisor.classify(_ended(protocol.OUTCOME_PANIC, 123), 123) == st.PANIC
    oom = _ended(protocol.OUTCOME_EXIT, 137, "lwjvm: out of memory")
    assert supervisor.classify(oom, 137) == st.OOM
    for outcome in (protocol.OUTCOME_NO_RECORD, protocol.OUTCOME_STOP_TIMEOUT):
        assert supervisor.classify(_ended(outcome, 121), 121) == st.KILLED
    assert (st.PANIC, st.OOM, st.KILLED) == ("kernel panic", "out of memory", "killed")


def test_fatal_lines() -> None:
    assert health.fatal_line(b'Exception in thread "main" java.lang.IllegalStateException: boom')
    assert not health.fatal_line(b"tick 3")


# --------------------------------------------------------------------------------------------
# Real VMs

needs_guest = pytest.mark.skipif(guest_unavailable() is not None, reason="no guest")
BOOT_TIMEOUT = "240s"  # health.timeout: a TCG boot on a loaded 2-CPU machine, with headroom


@pytest.fixture(scope="module")
def service_jar(java_program: Any) -> Path:
    return java_program("service", SERVICE, main="Service")


@pytest.fixture
def lw(tmp_path: Path) -> Iterator[Any]:
    """`lw(*args, check=None)`: the lwjvm CLI with a state directory of this test's own.
    Everything still running at the end is removed (rm -f)."""
    state = tmp_path / "state"
    env = dict(os.environ, LWJVM_STATE_DIR=str(state))

    def run(*args: str, timeout: float = GUEST_TIMEOUT_S + 60) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*lwjvm_command(), *args], capture_output=True, text=True, env=env, timeout=timeout
        )

    run.state = state  # type: ignore[attr-defined]
    yield run
    for d in st.list_vms(state):
        if d.alive():
            run("rm", "-f", d.name, timeout=60)


def _manifest(tmp_path: Path, jar: Path, name: str, args: list[str], **extra: Any) -> Path:
    if not (tmp_path / jar.name).exists():  # inside the manifest's directory
        shutil.copyfile(jar, tmp_path / jar.name)
    doc: dict[str, Any] = {
        "name": name,
        "app": {"jar": jar.name, "main": "Service", "args": args},
        "jvm": {"cds": False},
        "vm": {"memory": "192M"},
        "health": {"start_period": "2s", "timeout": BOOT_TIMEOUT, "interval": "500ms"},
    }
    doc.update(extra)
    path = tmp_path / f"{name}.yaml"
    path.write_text(json.dumps(doc))
    return path


def _ps(lw: Any) -> dict[str, dict[str, Any]]:
    proc = lw("ps", "-a", "--json")
    assert proc.returncode == 0, proc.stderr
    return {r["name"]: r for r in json.loads(proc.stdout)}


def test_guest_memory_reads_the_balloons_statistics_and_size() -> None:
    unset = (1 << 64) - 1
    stats = {
        "last-update": 1796562768,
        "stats": {
            "stat-total-memory": 265695232, "stat-free-memory": 150 * 1024 * 1024,
            "stat-available-memory": 150 * 1024 * 1024, "stat-minor-faults": 4242,
            "stat-swap-in": unset, "stat-major-faults": unset, "stat-disk-caches": unset,
        },
    }  # fmt: skip
    g = supervisor.guest_memory(stats, {"actual": 192 * 1024 * 1024}, 256)
    assert g == {
        "at": st.now_iso(1796562768), "total_kib": 259468, "free_kib": 153600,
        "available_kib": 153600, "page_faults": 4242, "balloon_kib": 64 * 1024,
    }  # fmt: skip
    row = deploy.guest_memory(g)
    assert row["guest_used_kib"] == 259468 - 153600 - 64 * 1024
    assert row["balloon_kib"] == 64 * 1024 and row["guest_at"] == g["at"]
    # Before the guest's first report QEMU says last-update 0; no balloon device: no answer.
    assert supervisor.guest_memory({**stats, "last-update": 0}, None, 256) == {}
    assert supervisor.guest_memory(None, None, 256) == {}
    assert deploy.guest_memory({}) == {}


def _wait_for(pred: Any, what: str, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


@needs_guest
def test_deploy_ps_logs_stop_and_rm(service_jar: Path, tmp_path: Path, lw: Any) -> None:
    """Two apps at once; the supervisor outlives the CLI; stop runs the shutdown hook."""
    m = _manifest(tmp_path, service_jar, "svc", ["serve"])
    out = tmp_path / "image"
    first = lw("deploy", "-q", "--accel", "tcg", "-o", str(out), str(m))
    assert first.returncode == 0, first.stderr
    assert "svc: healthy in" in first.stderr
    second = lw("deploy", "-q", "--accel", "tcg", "-o", str(out), "--name", "svc-2", str(m))
    assert second.returncode == 0, second.stderr

    rows = _ps(lw)
    assert set(rows) == {"svc", "svc-2"}
    for row in rows.values():
        assert row["state"] == "healthy" and row["image"] == "svc"
        # The deploy CLI has exited; its supervisor and QEMU run on.
        assert st.pid_is(row["supervisor_pid"], "lwjvm.supervisor")
        assert st.pid_is(row["qemu_pid"], "qemu-system")
        assert row["memory"]["qemu_rss_kib"] > 0 and row["memory"]["vm_mib"] == 192
    # The guest kernel's own figures: its balloon driver's statistics, which the supervisor reads
    # through QMP every 5 s and keeps in state.json.
    _wait_for(lambda: "guest_used_kib" in _ps(lw)["svc"]["memory"], "the guest's memory figure")
    mem = _ps(lw)["svc"]["memory"]
    assert 0 < mem["guest_used_kib"] < mem["guest_total_kib"] <= 192 * 1024
    assert mem["guest_total_kib"] > 160 * 1024  # 192 MiB less the kernel image and its tables
    assert mem["guest_used_kib"] == mem["guest_total_kib"] - mem["guest_free_kib"]
    assert mem["guest_available_kib"] == mem["guest_free_kib"] and mem["balloon_kib"] == 0
    assert mem["guest_page_faults"] > 100  # a JVM cannot start without touching memory
    first_at = mem["guest_at"]
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$", first_at)
    # Fresh figures keep coming: QEMU asks the guest again every 5 s.
    _wait_for(lambda: _ps(lw)["svc"]["memory"]["guest_at"] != first_at, "newer guest figures")
    info = json.loads(lw("inspect", "--json", "svc").stdout)
    assert info["memory"]["guest_total_kib"] == mem["guest_total_kib"]
    line = next(x for x in lw("inspect", "svc").stdout.splitlines() if x.startswith("memory:"))
    assert re.search(r"QEMU RSS \d+ MiB, guest \d+ of \d+ MiB in use, \d+ free", line), line
    table = lw("ps").stdout.splitlines()
    assert table[0].split() == ["NAME", "IMAGE", "STATE", "PORTS", "UPTIME", "MEMORY"]
    assert "M guest / 192M" in next(line for line in table if line.startswith("svc "))
    # Both VMs boot the same root.img inode: one page cache.
    a, b = (lw.state / "vms" / n / "image" / "root.img" for n in ("svc", "svc-2"))
    assert a.stat().st_ino == b.stat().st_ino

    _wait_for(lambda: "tick 2" in lw("logs", "svc").stderr, "tick 2 in the log")
    logs = lw("logs", "svc")
    assert logs.stdout.splitlines()[0] == "ready"
    assert lw("logs", "--tail", "1", "svc").stderr.count("\n") == 1
    stamped = lw("logs", "-t", "svc").stdout.splitlines()[0]
    assert stamped.endswith("Z ready") and stamped.startswith("20")
    assert lw("logs", "--since", "0s", "svc").stdout == ""
    assert lw("logs", "--since", "1h", "svc").stdout.startswith("ready\n")

    follower = subprocess.Popen(
        [*lwjvm_command(), "logs", "-f", "--tail", "0", "svc"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=dict(os.environ, LWJVM_STATE_DIR=str(lw.state)),
    )
    # The follower shows a new tick before the stop (it starts slowly on a loaded host: a fixed
    # second was not always enough), then everything to the VM's end.
    assert follower.stdout is not None and follower.stderr is not None
    err_lines: list[str] = []
    reader = threading.Thread(target=lambda: err_lines.extend(follower.stderr), daemon=True)
    reader.start()
    _wait_for(lambda: any("tick" in ln for ln in err_lines), "a tick through logs -f")
    stop = lw("stop", "svc")
    assert stop.returncode == 0, stop.stderr
    assert stop.stderr.strip() == "svc: stopped (exited 143)"
    f_out = follower.stdout.read()  # -f ends when the VM has
    follower.wait(timeout=60)
    reader.join(timeout=60)
    f_err = "".join(err_lines)
    assert f_out == "shutdown hook ran\n"
    assert "lwjvm: stop: sent SIGTERM to the app" in f_err

    rows = _ps(lw)
    assert rows["svc"]["state"] == "exited" and rows["svc"]["exit_code"] == 143
    assert rows["svc-2"]["state"] == "healthy"
    assert [ln.split()[0] for ln in lw("ps").stdout.splitlines()[1:]] == ["svc-2"]
    info = json.loads(lw("inspect", "--json", "svc").stdout)
    events = [e["event"] for e in info["state"]["history"]]
    assert events[:2] == ["supervisor started", "boot"]
    assert "healthy" in events and "stop requested" in events and events[-1] == "ended"
    assert "exited 143" in lw("inspect", "svc").stdout

    busy = lw("rm", "svc-2")
    assert busy.returncode == 125
    assert busy.stderr.strip() == "lwjvm: error: svc-2 is running: lwjvm stop svc-2 first, or rm -f"
    assert lw("rm", "svc").stdout == "svc\n"
    assert lw("rm", "-f", "svc-2").returncode == 0
    assert _ps(lw) == {}
    gone = lw("logs", "svc")
    assert gone.returncode == 125 and "no VM named svc" in gone.stderr


@needs_guest
def test_a_stop_that_runs_out_of_time_ends_qemu(service_jar: Path, tmp_path: Path, lw: Any) -> None:
    """A shutdown hook that never ends: after -t seconds QEMU is ended (QMP quit)."""
    m = _manifest(tmp_path, service_jar, "stubborn", ["stubborn"])
    assert lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "i"), str(m)).returncode == 0
    _wait_for(lambda: "tick 0" in lw("logs", "stubborn").stderr, "the app to run", 120)
    proc = lw("stop", "-t", "2", "stubborn")
    assert proc.stderr.strip() == "stubborn: stopped (killed)"
    row = _ps(lw)["stubborn"]
    assert row["exit_code"] == 121
    assert row["cause"] == "the app did not stop within 2 s of the signal; the VM was killed"
    assert "shutdown hook ran" in lw("logs", "stubborn").stdout


@needs_guest
def test_deploy_of_samples_hello(tmp_path: Path, lw: Any) -> None:
    """The no-port case: healthy after its start period, or run to a clean exit before it."""
    root = Path(__file__).resolve().parents[2]
    sample = root / "samples" / "hello"
    if not (sample / "target" / "hello.jar").is_file():
        subprocess.run([str(sample / "build.sh")], check=True, capture_output=True)
    proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "img"),
              str(sample / "app.yaml"))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "hello: " in proc.stderr
    _wait_for(lambda: _ps(lw)["hello"]["state"] == "exited", "hello to exit", 120)
    assert _ps(lw)["hello"]["exit_code"] == 0
    out = lw("logs", "hello").stdout
    assert out.startswith("Hello, lwjvm user, from Java on lwjvm!\n")
    assert out.endswith("Goodbye.\n")


@needs_guest
def test_a_deploy_that_never_becomes_healthy_is_stopped(
    service_jar: Path, tmp_path: Path, lw: Any
) -> None:
    """A TCP check on a port nothing in the guest listens on (QEMU accepts, then closes)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = _manifest(
        tmp_path, service_jar, "deaf", ["serve"],
        vm={"memory": "192M", "ports": [f"{port}:8080"]},
        health={"tcp": 8080, "timeout": "20s", "interval": "1s"},
    )  # fmt: skip
    proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "i"), str(m))
    assert proc.returncode == 1
    lines = proc.stderr.splitlines()
    first = next(ln for ln in lines if ln.startswith("deaf: not healthy"))
    assert f"not healthy within 20 s (TCP 127.0.0.1:{port})" in first
    assert first.endswith("stopped (exited 143)")
    # The tail of the app's log follows (how many ticks it holds depends on the
    # machine's speed, so only its frame is checked): the stop is the last thing in it.
    head = next(i for i, ln in enumerate(lines) if ln.startswith("the last "))
    assert lines[head].endswith(" lines of lwjvm logs deaf:")
    tail = lines[head + 1 :]
    assert tail and all(ln.startswith("  ") for ln in tail)
    assert tail[-1] == "  lwjvm: the VM ended: exited 143"
    row = _ps(lw)["deaf"]
    assert row["state"] == "exited"


@needs_guest
def test_an_app_that_crashes_at_start_fails_the_deploy(
    service_jar: Path, tmp_path: Path, lw: Any
) -> None:
    m = _manifest(tmp_path, service_jar, "crash", ["crash"])
    proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "i"), str(m))
    assert proc.returncode == 1
    assert "crash: " in proc.stderr
    assert 'Exception in thread "main" java.lang.IllegalStateException: boom' in proc.stderr


@needs_guest
def test_restart_on_failure_backs_off_and_gives_up_after_n(
    service_jar: Path, tmp_path: Path, lw: Any
) -> None:
    m = _manifest(tmp_path, service_jar, "flaky", ["fail"], restart="on-failure:2")
    proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "i"), str(m))
    assert proc.returncode == 1
    row = _ps(lw)["flaky"]
    assert (row["state"], row["exit_code"], row["restarts"]) == ("exited", 1, 2)
    history = json.loads(lw("inspect", "--json", "flaky").stdout)["state"]["history"]
    scheduled = [e["in"] for e in history if e["event"] == "restart scheduled"]
    assert scheduled == [1.0, 2.0]
    assert [e["attempt"] for e in history if e["event"] == "boot"] == [1, 2, 3]
    assert lw("logs", "flaky").stderr.count("failing on purpose") == 3


@needs_guest
def test_concurrent_deploys_of_one_name(service_jar: Path, tmp_path: Path, lw: Any) -> None:
    m = _manifest(tmp_path, service_jar, "twin", ["serve"])
    out = tmp_path / "i"
    assert lw("deploy", "-q", "--accel", "tcg", "--no-wait", "-o", str(out), str(m)).returncode == 0
    env = dict(os.environ, LWJVM_STATE_DIR=str(lw.state))
    cmd = [*lwjvm_command(), "deploy", "-q", "--accel", "tcg", "-o", str(out), str(m)]
    # The name is held (starting): every other deploy of it is refused at once.
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    for p in procs:
        _, err = p.communicate(timeout=120)
        assert p.returncode == 125
        assert err.strip() == (
            "lwjvm: error: a VM named twin is already running or being deployed "
            "(lwjvm stop twin, or deploy with --name)"
        )
    assert lw("stop", "twin").returncode == 0
    # Two at once on a free name: one wins, the other gets the one-line error.
    lw("rm", "twin")
    procs = [subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True, env=env) for _ in range(2)]
    results = sorted((p.wait(timeout=GUEST_TIMEOUT_S), p.stderr.read()) for p in procs)  # type: ignore[union-attr]
    assert [r[0] for r in results] == [0, 125], results
    assert "already running or being deployed" in results[1][1]


@needs_guest
def test_kill_9_of_the_supervisor_or_of_qemu(service_jar: Path, tmp_path: Path, lw: Any) -> None:
    m = _manifest(tmp_path, service_jar, "victim", ["serve"])
    out = tmp_path / "i"
    for name in ("victim", "victim-q"):
        proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(out), "--name", name, str(m))
        assert proc.returncode == 0, proc.stderr
    rows = _ps(lw)
    sup, qemu = rows["victim"]["supervisor_pid"], rows["victim"]["qemu_pid"]
    os.kill(sup, signal.SIGKILL)
    _wait_for(lambda: not st.pid_is(qemu, "qemu"), "QEMU to die with its supervisor", 30)
    row = _ps(lw)["victim"]
    assert row["state"] == "killed"
    assert row["cause"] == "the supervisor died (killed?); the VM went with it"
    assert lw("stop", "victim").stderr.strip() == "victim: not running (killed)"

    os.kill(rows["victim-q"]["qemu_pid"], signal.SIGKILL)
    _wait_for(lambda: _ps(lw)["victim-q"]["state"] == "killed", "the supervisor to notice", 30)
    row = _ps(lw)["victim-q"]
    assert row["cause"] == "QEMU was killed (SIGKILL) without an exit record"
    assert lw("rm", "victim", "victim-q").returncode == 0
    assert _ps(lw) == {}


@needs_guest
def test_deploy_options_tcp_health_requests_and_restart(
    java_program: Any, tmp_path: Path, lw: Any
) -> None:
    """A real server in the guest, deployed with -p, --env and --memory: healthy by health.tcp
    (the connection counted once the guest's end of it is established), served from the host;
    then `lwjvm restart` boots it again from its image, with the same settings. (health.http
    end to end: tests/plugins/test_spring_boot_deploy.py.)"""
    import requests

    jar = java_program("web", WEB, main="Web")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = _manifest(
        tmp_path, jar, "web", ["8080"],
        health={"tcp": 8080, "timeout": BOOT_TIMEOUT, "interval": "1s"},
    )  # fmt: skip
    doc = json.loads(m.read_text())
    doc["app"]["main"] = "Web"
    m.write_text(json.dumps(doc))
    proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "i"), "-p", f"{port}:8080",
              "--env", "GREETING=from-deploy", "--memory", "224M", str(m))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "web: healthy in" in proc.stderr and f"(TCP {port}: open)" in proc.stderr, proc.stderr
    assert f"http://127.0.0.1:{port}/ (guest port 8080)" in proc.stderr

    def served() -> None:
        r = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
        assert (r.status_code, r.text) == (200, "hello from the guest, from-deploy\n")
        assert requests.get(f"http://127.0.0.1:{port}/missing", timeout=30).status_code == 404

    served()
    row = _ps(lw)["web"]
    assert row["health"] == f"TCP {port}: open"
    assert row["ports"] == [f"127.0.0.1:{port}:8080"]
    assert row["memory"]["vm_mib"] == 224
    first_qemu = row["qemu_pid"]

    again = lw("restart", "web")
    assert again.returncode == 0, again.stderr
    assert "web: healthy in" in again.stderr, again.stderr
    served()
    row = _ps(lw)["web"]
    assert row["state"] == "healthy" and row["qemu_pid"] != first_qemu
    assert row["memory"]["vm_mib"] == 224 and row["ports"] == [f"127.0.0.1:{port}:8080"]
    # QEMU's status, polled over QMP (the qemu.qmp library) every 5 s.
    _wait_for(
        lambda: json.loads(lw("inspect", "--json", "web").stdout)["state"]["qemu"].get("status")
        == "running",
        "QEMU's status over QMP",
    )
    history = json.loads(lw("inspect", "--json", "web").stdout)["state"]["history"]
    events = [e["event"] for e in history]
    assert "restart requested" in events and events.count("healthy") == 2, events
    assert lw("stop", "web").stderr.strip() == "web: stopped (exited 143)"
    # The first boot's shutdown hook ran on the restart's stop, the second's on lwjvm stop.
    assert lw("logs", "web").stdout == (
        "listening on 8080\nweb stopping\nlistening on 8080\nweb stopping\n"
    )


def _jdwp_version(port: int) -> str:
    """The JDWP handshake and a VirtualMachine.Version command: the agent's description."""
    import struct

    def read(s: socket.socket, n: int) -> bytes:
        got = b""
        while len(got) < n:
            data = s.recv(n - len(got))
            assert data, "the debugger connection closed"
            got += data
        return got

    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(b"JDWP-Handshake")
        assert read(s, 14) == b"JDWP-Handshake"
        s.sendall(struct.pack(">IIBBB", 11, 1, 0, 1, 1))  # length, id, flags, set 1, command 1
        length, _id, flags, error = struct.unpack(">IIBH", read(s, 11))
        assert (flags, error) == (0x80, 0)
        body = read(s, length - 11)
        n = struct.unpack(">I", body[:4])[0]
        return body[4 : 4 + n].decode()


@needs_guest
def test_deploy_debug_serves_jdwp_on_the_forwarded_port(
    service_jar: Path, tmp_path: Path, lw: Any
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    m = _manifest(tmp_path, service_jar, "dbg", ["serve"])
    proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "i"), f"--debug={port}",
              str(m))  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert f"jdwp 127.0.0.1:{port} (debugger: jdb -attach {port})" in proc.stderr
    _wait_for(lambda: "ready" in lw("logs", "dbg").stdout, "the app to run", 120)
    description = _jdwp_version(port)
    assert description.startswith("Java Debug Wire Protocol (Reference Implementation)")
    assert "JVM version 17" in description or "JVM version" in description
    assert lw("stop", "dbg").returncode == 0
    assert f"Listening for transport dt_socket at address: {port}" in lw("logs", "dbg").stdout


@needs_guest
def test_jmx_reads_threads_heap_and_gc_of_the_guest_jvm(
    service_jar: Path, tmp_path: Path, guest_jmx: Any
) -> None:
    """The JPype harness's remote half: the host JVM reads the guest JVM's MXBeans."""
    m = _manifest(tmp_path, service_jar, "managed", ["serve"])
    session = guest_jmx(m, "managed", ready="ready")
    names = session.thread_names()
    assert "main" in names and "Reference Handler" in names
    assert session.thread_count() == len(names) or session.thread_count() >= len(names) - 2
    heap = session.heap()
    assert 0 < heap["used"] <= heap["committed"] <= heap["max"]
    before = session.gc()
    assert before, "no garbage collector MXBean"
    session.invoke_gc()
    after = session.gc()
    assert sum(n for n, _ in after.values()) > sum(n for n, _ in before.values())


@needs_guest
def test_restart_on_failure_of_an_app_that_exits_1_twice_then_runs(
    service_jar: Path, tmp_path: Path, lw: Any
) -> None:
    """The app asks a counter on the host (10.0.2.2, through QEMU's user network) which boot
    this is: boots 0 and 1 exit 1, boot 2 runs; deploy waits through the restarts."""
    count = 0
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]

        def counter() -> None:
            nonlocal count
            while True:
                try:
                    conn, _ = server.accept()
                except OSError:
                    return
                with conn:
                    conn.sendall(f"{count}\n".encode())
                    count += 1

        threading.Thread(target=counter, daemon=True).start()
        m = _manifest(tmp_path, service_jar, "phoenix", ["ask", str(port)], restart="on-failure")
        proc = lw("deploy", "-q", "--accel", "tcg", "-o", str(tmp_path / "i"), str(m))
        assert proc.returncode == 0, proc.stderr
        row = _ps(lw)["phoenix"]
        assert (row["state"], row["restarts"]) == ("healthy", 2)
        out, err = lw("logs", "phoenix").stdout, lw("logs", "phoenix").stderr
        assert "attempt 0 fails" in err and "attempt 1 fails" in err
        assert out.startswith("shutdown hook ran\nshutdown hook ran\nattempt 2 runs\nready\n")
        history = json.loads(lw("inspect", "--json", "phoenix").stdout)["state"]["history"]
        assert [e["in"] for e in history if e["event"] == "restart scheduled"] == [1.0, 2.0]
        assert lw("stop", "phoenix").returncode == 0
        assert count == 3
