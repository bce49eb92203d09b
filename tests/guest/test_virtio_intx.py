"""virtio-pci devices without MSI-X (QEMU's vectors=0, as $LWJVM_VIRTIO_VECTORS=0 asks for every
virtio device of the boot) interrupt through their INTx lines, on both machines lwjvm boots: the
kernel finds the line's I/O APIC input from the machine's wiring (microvm's PCIe host bridge, q35's
ICH9), routes it level-triggered, and acknowledges through each device's ISR. The disk is placed in
slot 6 so that it shares the network device's line (slot 2) on both machines: a C program in the
guest echoes what a host client sends and writes the same stream to /dev/vda while it does, so
both devices interrupt on one line at once. The host compares the echo and the disk file with
what it sent. One more boot gives the devices a single MSI-X vector for all their queues."""

from __future__ import annotations

import io
import re
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lwjvm import qemu
from lwjvm.program import ExecRequest, exec_program
from lwjvm.testing import GUEST_TIMEOUT_S, guest_unavailable

ECHO_TO_DISK = r"""
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#define CHUNK (64 << 10)
int main(int argc, char **argv) {
    int disk = argc > 1 ? open(argv[1], O_RDWR) : -1;
    if (argc > 1 && disk < 0) { perror("open disk"); return 1; }
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
    size_t cap = 4 << 20, total = 0;
    unsigned char *all = malloc(cap), *back = malloc(cap);
    static unsigned char buf[65536];
    long r;
    size_t written = 0;
    while ((r = read(c, buf, sizeof buf)) > 0) {
        for (long off = 0; off < r;) {
            long w = write(c, buf + off, r - off);
            if (w <= 0) return 2;
            off += w;
        }
        if (total + r > cap) return 3;
        memcpy(all + total, buf, r);
        total += r;
        /* The stream goes to the disk in whole chunks while the echo goes on. */
        for (; disk >= 0 && total - written >= CHUNK; written += CHUNK)
            if (pwrite(disk, all + written, CHUNK, written) != CHUNK) return 4;
    }
    printf("echoed %zu\n", total);
    if (disk >= 0) {
        size_t rest = (total - written + 511) & ~(size_t)511;
        memset(all + total, 0, rest - (total - written));
        if (rest && pwrite(disk, all + written, rest, written) != (long)rest) {
            perror("pwrite");
            return 4;
        }
        if (fsync(disk)) { perror("fsync"); return 5; }
        if (pread(disk, back, written + rest, 0) != (long)(written + rest)) {
            perror("pread");
            return 6;
        }
        printf("disk %s\n", memcmp(back, all, total) ? "differs" : "holds the stream");
    }
    close(c);
    return 0;
}
"""

DATA = bytes((i * 31 + (i >> 10)) & 0xFF for i in range(1_500_000))


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("intx")
    (d / "echo_disk.c").write_text(ECHO_TO_DISK)
    subprocess.run(["gcc", "-O2", "-o", str(d / "echo_disk"), str(d / "echo_disk.c")], check=True)
    return d / "echo_disk"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def client(port: int, result: dict[str, bytes]) -> None:
    """Connects (retrying until the guest listens), sends DATA, keeps what comes back."""
    deadline = time.monotonic() + GUEST_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=120)
        except OSError:
            time.sleep(0.3)
            continue
        got = bytearray()

        def reader(sock: socket.socket = c, sink: bytearray = got) -> None:
            try:
                while chunk := sock.recv(1 << 16):
                    sink.extend(chunk)
            except OSError:
                pass

        t = threading.Thread(target=reader)
        t.start()
        try:
            c.sendall(DATA)
            c.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        t.join(timeout=GUEST_TIMEOUT_S)
        c.close()
        if got:  # nothing back: QEMU took the connection before the guest listened
            result["echo"] = bytes(got)
            return
        time.sleep(0.5)


def run_echo(
    tmp_path: Path, program: Path, machine: str, disk: Path | None
) -> tuple[int, str, str, dict[str, bytes], list[str]]:
    port = free_port()
    result: dict[str, bytes] = {}
    t = threading.Thread(target=client, args=(port, result), daemon=True)
    t.start()
    out, err = io.BytesIO(), io.BytesIO()
    req = ExecRequest(
        program=str(program), args=["/dev/vda"] if disk else [], ports=[f"{port}:8080"],
        machine=machine, disks=[str(disk)] if disk else [], accel="tcg", verbose=True,
        kernel_args=["lwjvm.stats=1"], timeout=GUEST_TIMEOUT_S, workdir="/",
        memory="256M",
    )  # fmt: skip
    r = exec_program(req, out, err)
    t.join(timeout=60)
    return r.exit_code, out.getvalue().decode(), err.getvalue().decode(), result, r.vm.command


def disk_in_slot_6(monkeypatch: pytest.MonkeyPatch) -> None:
    """Puts the virtio-blk device in PCI slot 6, on the same INTx line as the network device in
    slot 2 on both machines (the lines are taken by slot modulo 4)."""
    real = qemu.qemu_command

    def command(binary: str, cfg: qemu.VmConfig, fds: list[int]) -> list[str]:
        return [a + ",addr=0x6" if a.startswith("virtio-blk-pci,") else a
                for a in real(binary, cfg, fds)]  # fmt: skip

    monkeypatch.setattr(qemu, "qemu_command", command)


# (machine, the I/O APIC input of slots 2 and 6): microvm's host bridge lines A-D are GSI 16-19
# and slot 2's pin A is line C; q35's slot 2 pin A is PIRQ G, GSI 22.
LINES = {"microvm": 18, "q35": 22}


@pytest.mark.parametrize("machine", ["microvm", "q35"])
def test_devices_without_msix_share_an_intx_line(
    machine: str, program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(qemu.VIRTIO_VECTORS_ENV, "0")
    disk_in_slot_6(monkeypatch)
    disk = tmp_path / "disk.img"
    disk.write_bytes(b"\xee" * (8 << 20))
    code, out, err, result, command = run_echo(tmp_path, program, machine, disk)
    assert code == 0, err
    devices = [a for a in command if a.startswith("virtio-")]
    assert len(devices) == 5 and all(",vectors=0" in a for a in devices), devices
    gsi = LINES[machine]
    assert f"virtio net at 00:02.0: no MSI-X: interrupts through INTx, GSI {gsi}" in err, err
    assert f"virtio blk at 00:06.0: no MSI-X: interrupts through INTx, GSI {gsi}" in err, err
    # Both devices raised interrupts on the line, and each handler answered for its own.
    line = re.search(rf"intx: GSI {gsi}: \d+ interrupts, \d+ claimed by no device, "
                     r"00:02\.0 (\d+), 00:06\.0 (\d+)\n", err)  # fmt: skip
    assert line is not None and int(line[1]) > 0 and int(line[2]) > 0, err
    assert out == f"listening\npeer 10.0.2.2\nechoed {len(DATA)}\ndisk holds the stream\n"
    assert result.get("echo") == DATA
    assert disk.read_bytes()[: len(DATA)] == DATA


def test_one_msix_vector_serves_every_queue(
    program: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(qemu.VIRTIO_VECTORS_ENV, "1")
    code, out, err, result, _ = run_echo(tmp_path, program, "microvm", None)
    assert code == 0, err
    assert "virtio net at 00:02.0: 1 MSI-X entries for 2 queues: one vector for all" in err, err
    assert out == f"listening\npeer 10.0.2.2\nechoed {len(DATA)}\n"
    assert result.get("echo") == DATA
