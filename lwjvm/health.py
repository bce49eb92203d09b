"""Health checks of a deployed app, run by its supervisor (docs/deploy.md).

- `health.http: /path`: GET over the host end of the forward of `health.port` (default: the
  first TCP forward); healthy on a 2xx answer.
- `health.tcp: PORT`: a connection to the forward of guest port PORT that QEMU's user network
  keeps open. (slirp accepts on the host side at once and closes the connection when the guest
  refuses it, so an accepted connection alone proves nothing: the check waits a moment for that
  close.)
- Neither: the app has run `health.start_period` with no fatal line in its output.
With `vm.network: tap` the checks go straight to the guest's address (http on `health.port`).
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable
from dataclasses import dataclass

import requests

from lwjvm.descriptor import Health
from lwjvm.errors import LwjvmError
from lwjvm.network import PortMap

# Lines in the app's output that say it is failing, whatever it does next.
FATAL_MARKS = (
    b'Exception in thread "main"',
    b"A fatal error has been detected by the Java Runtime Environment",
    b"Error: Could not find or load main class",
    b"Error occurred during initialization of VM",
    b"java.lang.OutOfMemoryError",
)
TCP_SETTLE_S = 0.5  # how long an accepted connection must stay open to count


def fatal_line(text: bytes) -> bool:
    """True if a line of the app's output is one of the FATAL_MARKS."""
    return any(mark in text for mark in FATAL_MARKS)


@dataclass(frozen=True)
class Check:
    """A resolved check: what to probe on which host port (or the start period alone)."""

    kind: str  # http, tcp or start
    host: str = "127.0.0.1"
    port: int = 0  # host port
    path: str = "/"

    def describe(self) -> str:
        if self.kind == "http":
            return f"GET http://{self.host}:{self.port}{self.path}"
        if self.kind == "tcp":
            return f"TCP {self.host}:{self.port}"
        return "running with no fatal line"


def resolve(health: Health, ports: list[PortMap], guest_ip: str | None = None) -> Check:
    """The check `health` asks for over `ports`, or straight at `guest_ip` (vm.network: tap);
    LwjvmError if the port it needs is not forwarded (the message names the manifest field)."""
    if guest_ip is not None:
        if health.http is not None:
            if health.port is None:
                raise LwjvmError(
                    "health.http with vm.network: tap needs health.port: the guest port to GET"
                )
            return Check("http", guest_ip, health.port, health.http)
        if health.tcp is not None:
            return Check("tcp", guest_ip, health.tcp)
        return Check("start")
    tcp = [p for p in ports if p.proto == "tcp"]
    if health.http is not None:
        if not tcp:
            raise LwjvmError(
                "health.http needs a forwarded port: add one to vm.ports or give -p HOST:GUEST"
            )
        want = health.port if health.port is not None else tcp[0].guest
        fwd = next((p for p in tcp if p.guest == want), None)
        if fwd is None:
            raise LwjvmError(f"health.port {want} is not forwarded: add -p HOST:{want}")
        return Check("http", fwd.url_host(), fwd.host, health.http)
    if health.tcp is not None:
        fwd = next((p for p in tcp if p.guest == health.tcp), None)
        if fwd is None:
            raise LwjvmError(f"health.tcp {health.tcp} is not forwarded: add -p HOST:{health.tcp}")
        return Check("tcp", fwd.url_host(), fwd.host)
    return Check("start")


def probe(
    check: Check, timeout: float, usernet: Callable[[], str | None] | None = None
) -> tuple[bool, str]:
    """(healthy, what was seen) for one http or tcp probe. `usernet` gives QEMU's `info usernet`
    table (through QMP): with it, a TCP probe is open only once the guest end of the connection
    is ESTABLISHED, not merely accepted by QEMU on the host side."""
    if check.kind == "http":
        url = f"http://{check.host}:{check.port}{check.path}"
        try:
            r = requests.get(url, timeout=timeout, allow_redirects=False)
        except requests.RequestException as e:
            return False, f"GET {check.path}: {_short(e)}"
        ok = 200 <= r.status_code < 300
        return ok, f"GET {check.path}: HTTP {r.status_code}"
    if check.kind == "tcp":
        return _probe_tcp(check.host.strip("[]"), check.port, timeout, usernet)
    raise ValueError(check.kind)


def _probe_tcp(
    host: str, port: int, timeout: float, usernet: Callable[[], str | None] | None
) -> tuple[bool, str]:
    try:
        s = socket.create_connection((host, port), timeout=timeout)
    except OSError as e:
        return False, f"TCP {port}: {e.strerror or e}"
    with s:
        s.settimeout(min(TCP_SETTLE_S, timeout))
        try:
            data = s.recv(1, socket.MSG_PEEK)
        except TimeoutError:
            data = None
        except OSError as e:
            return False, f"TCP {port}: {e.strerror or e}"
        if data == b"":
            return False, f"TCP {port}: closed at once (nothing listens in the guest)"
        if usernet is None or data:
            return True, f"TCP {port}: open"
        deadline = time.monotonic() + timeout
        state = None
        while True:
            state = usernet_state(usernet() or "", port)
            if state == "ESTABLISHED":
                return True, f"TCP {port}: open"
            if state is None or time.monotonic() >= deadline:
                break
            time.sleep(0.1)
        if state is None:
            return False, f"TCP {port}: closed (nothing listens in the guest)"
        return False, f"TCP {port}: the guest did not answer the connection ({state})"


# States of a forwarded connection whose guest end has not answered yet.
_OPENING = ("SYN_SENT", "SYN_RECEIVED")


def usernet_state(table: str, host_port: int) -> str | None:
    """The state of the connections QEMU's user network forwards from host port `host_port`,
    from the `info usernet` table (`TCP[ESTABLISHED] FD SRC-ADDR PORT DST-ADDR PORT ...`).

    QEMU shows a forwarded connection with the forward's own address and port as its source
    (the accepted socket's name), not the client's port, so the probe's connection cannot be told
    from others of the same forward: a connection still opening (SYN_SENT: the guest has not
    answered) is reported first, then ESTABLISHED if one is; None if there is no connection (the
    listener's HOST_FORWARD line aside) or only closing ones."""
    states = set()
    for line in table.splitlines():
        words = line.split()
        if len(words) >= 4 and words[0].startswith("TCP[") and words[3] == str(host_port):
            state = words[0][4:].rstrip("]")
            if state != "HOST_FORWARD":
                states.add(state)
    for state in (*_OPENING, "ESTABLISHED"):
        if state in states:
            return state
    return None


def _short(e: Exception) -> str:
    """A one-line account of a requests failure."""
    text = str(e)
    for marker in ("Connection refused", "Read timed out", "RemoteDisconnected",
                   "Connection reset", "Connection aborted"):  # fmt: skip
        if marker in text:
            return marker.lower() if marker[0].isupper() and " " in marker else marker
    return type(e).__name__
