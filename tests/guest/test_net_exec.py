"""`lwjvm exec -p HOST:GUEST` gives the guest a network device with a forward from 127.0.0.1, on
both machine types lwjvm boots: microvm (the default; PCIe through ECAM, BARs assigned by the
kernel) and q35 (PCI through the 0xcf8 ports, BARs from SeaBIOS, as libvirt and KubeVirt run
it). A C echo server in the guest serves a client on the host."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lwjvm.testing import guest_unavailable, lwjvm_command

ECHO_SERVER = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
    if (bind(s, (void *)&a, sizeof a) || listen(s, 4)) { perror("listen"); return 1; }
    printf("listening\n");
    fflush(stdout);
    struct sockaddr_in p;
    socklen_t pl = sizeof p;
    int c = accept(s, (void *)&p, &pl);
    if (c < 0) { perror("accept"); return 1; }
    printf("peer %s\n", inet_ntoa(p.sin_addr));
    static char buf[65536];
    long r, total = 0;
    while ((r = read(c, buf, sizeof buf)) > 0) {
        for (long off = 0; off < r;) {
            long w = write(c, buf + off, r - off);
            if (w <= 0) return 2;
            off += w;
        }
        total += r;
    }
    printf("echoed %ld\n", total);
    close(c);
    return 0;
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def echo_server(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("echo")
    (d / "echo.c").write_text(ECHO_SERVER)
    subprocess.run(["gcc", "-O2", "-o", str(d / "echo"), str(d / "echo.c")], check=True)
    return d / "echo"


def exchange(port: int, data: bytes, deadline: float) -> bytes:
    while True:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=60)
            break
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
    got = bytearray()
    failed = []

    def reader() -> None:
        try:
            while chunk := c.recv(1 << 16):
                got.extend(chunk)
        except OSError as e:  # reset: nothing listened in the guest yet
            failed.append(e)

    t = threading.Thread(target=reader)
    t.start()
    try:
        c.sendall(data)
        c.shutdown(socket.SHUT_WR)
    except OSError as e:
        failed.append(e)
    t.join(timeout=120)
    c.close()
    return b"" if failed else bytes(got)


@pytest.mark.parametrize("machine", ["microvm", "q35"])
def test_a_published_port_reaches_a_server_in_the_guest(
    machine: str, echo_server: Path, tmp_path: Path
) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "300", "--machine", machine,
         "-p", f"{port}:8080", str(echo_server)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        # A connection may be accepted by QEMU before the guest listens: the client retries
        # until the server in the guest answers (the data comes back).
        data = bytes((i * 31) & 0xFF for i in range(1_500_000))
        got = b""
        deadline = time.monotonic() + 240
        while not got and time.monotonic() < deadline and proc.poll() is None:
            got = exchange(port, data, deadline)
            if not got:
                time.sleep(0.5)
        assert got == data
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert out.decode() == f"listening\npeer 10.0.2.2\nechoed {len(data)}\n"


def test_a_port_in_use_is_refused_before_boot(echo_server: Path, tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(1)
        port = s.getsockname()[1]
        r = subprocess.run(
            [*lwjvm_command(), "exec", "-p", f"{port}:8080", str(echo_server)],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
    assert r.returncode == 125
    assert r.stderr.strip().endswith(f"host port {port} (127.0.0.1) is already in use: "
                                     "choose another with -p HOST:8080")  # fmt: skip
