"""`lwjvm exec -p HOST:GUEST` gives the guest a network device with a forward from 127.0.0.1, on
both machine types lwjvm boots: microvm (the default; PCIe through ECAM, BARs assigned by the
kernel) and q35 (PCI through the 0xcf8 ports, BARs from SeaBIOS, as libvirt and KubeVirt run
it). A C echo server in the guest serves a client on the host."""

from __future__ import annotations

import contextlib
import os
import socket
import struct
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


# Answers each request (a line) in two writes, as the JDK's HttpServer writes headers and body.
ANSWER_SERVER = r"""
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
int main(void) {
    int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(8080)};
    if (bind(s, (void *)&a, sizeof a) || listen(s, 4)) { perror("listen"); return 1; }
    int c = accept(s, 0, 0);
    if (c < 0) { perror("accept"); return 1; }
    char req[256], head[100], body[50];
    memset(head, 'h', sizeof head);
    memset(body, 'b', sizeof body);
    int n = 0;
    while (read(c, req, sizeof req) > 0) {
        if (write(c, head, sizeof head) != sizeof head)
            return 2;
        if (write(c, body, sizeof body) != sizeof body)
            return 2;
        n++;
    }
    printf("answered %d\n", n);
    return 0;
}
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def answer_server(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("answer")
    (d / "answer.c").write_text(ANSWER_SERVER)
    subprocess.run(["gcc", "-O2", "-o", str(d / "answer"), str(d / "answer.c")], check=True)
    return d / "answer"


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


def tcp_segments(pcap: Path, port: int) -> list[tuple[str, int, int, int, int]]:
    """(direction, seq, ack, window, payload length) of the IPv4 TCP frames to or from the
    guest's `port` in a pcap file (QEMU's filter-dump: little-endian, microseconds)."""
    data = pcap.read_bytes()
    assert struct.unpack("<I", data[:4])[0] == 0xA1B2C3D4, "not a pcap file"
    out, off = [], 24
    while off + 16 <= len(data):
        incl = struct.unpack("<I", data[off + 8 : off + 12])[0]
        frame = data[off + 16 : off + 16 + incl]
        off += 16 + incl
        if len(frame) < 54 or frame[12:14] != b"\x08\x00" or frame[23] != 6:
            continue
        ihl = (frame[14] & 15) * 4
        total = struct.unpack(">H", frame[16:18])[0]
        tcp = frame[14 + ihl :]
        sport, dport, seq, ack = struct.unpack(">HHII", tcp[:12])
        if port not in (sport, dport):
            continue
        window = struct.unpack(">H", tcp[14:16])[0]
        out.append(("out" if sport == port else "in", seq, ack, window,
                    total - ihl - (tcp[12] >> 4) * 4))  # fmt: skip
    return out


def test_small_requests_are_acknowledged_before_the_answer(
    answer_server: Path, tmp_path: Path
) -> None:
    """The guest acknowledges a request before it answers it, and announces an unchanged window,
    so QEMU's user network (slirp) acknowledges each answer segment at once: slirp takes its fast
    path, and acknowledges without its delayed-ACK timer, only for a data segment that
    acknowledges nothing new and keeps the window. Nagle holds an answer's second write until
    that ACK (docs/network.md, "TCP"). Checked on the frames themselves (LWJVM_NET_DUMP)."""
    port, pcap = free_port(), tmp_path / "net.pcap"
    proc = subprocess.Popen(
        [*lwjvm_command(), "exec", "--accel", "tcg", "--timeout", "300", "-p", f"{port}:8080",
         str(answer_server)],
        cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env={**os.environ, "LWJVM_NET_DUMP": str(pcap)},
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 240
        while True:  # QEMU may accept before the guest listens: retry until it answers
            first = b""
            with contextlib.suppress(OSError):
                c = socket.create_connection(("127.0.0.1", port), timeout=60)
                with contextlib.suppress(OSError):
                    c.sendall(b"GET / HTTP/1.1\r\nHost: guest\r\n\r\n\n")
                    first = c.recv(150)
                if first:
                    break
                c.close()
            assert time.monotonic() < deadline and proc.poll() is None, "no answer"
            time.sleep(0.3)
        got = len(first)
        for i in range(30):
            while got < 150 * (i + 1):
                chunk = c.recv(4096)
                assert chunk, "the guest closed the connection"
                got += len(chunk)
            c.sendall(b"GET / HTTP/1.1\r\nHost: guest\r\n\r\n\n")
        while got < 150 * 31:
            got += len(c.recv(4096))
        c.close()
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, err.decode()
    assert out.decode() == "answered 31\n"
    segs = tcp_segments(pcap, 8080)
    answers = [(i, s) for i, s in enumerate(segs) if s[0] == "out" and s[4] > 0]
    assert len(answers) >= 31, segs
    full = max(s[3] for s in segs if s[0] == "out")
    for i, (_, _, ack, window, _) in answers:
        earlier = [s for s in segs[:i] if s[0] == "out"]
        assert earlier and ack == earlier[-1][2], f"answer segment {i} acknowledges new data"
        assert window == full, f"answer segment {i} announces {window}, not {full}"
