"""Malformed and flooding frames never bring the guest kernel down. The VM's virtio-net is wired to
a UDP socket of this test (QEMU's `dgram` netdev carries raw Ethernet frames), and the test throws
20,000 frames at the guest: valid UDP datagrams for a program listening in the guest, mixed with
truncated, oversized, bit-flipped and random frames of every protocol lwIP parses (ARP, IPv4 and
its fragments, ICMP, UDP, TCP, IPv6, ICMPv6). The program must still receive valid datagrams, then
run a loopback TCP exchange and exit 0."""

from __future__ import annotations

import random
import socket
import struct
import subprocess
import threading
import time
from pathlib import Path

import pytest

from lwjvm import bootconf, elfinfo, network, qemu, vm
from lwjvm.image import Staging, build_image
from lwjvm.testing import guest_unavailable

GUEST_MAC = bytes.fromhex("525400123456")
HOST_MAC = bytes.fromhex("525400abcdef")
GUEST_IP = bytes([10, 0, 2, 15])
HOST_IP = bytes([10, 0, 2, 2])

PROGRAM = r"""
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}
int main(int argc, char **argv) {
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(7)};
    if (bind(u, (void *)&a, sizeof a)) { perror("bind"); return 1; }
    printf("ready\n"); fflush(stdout);
    int valid = 0, other = 0;
    double end = now() + atof(argv[1]);
    while (now() < end) {
        struct pollfd p = {u, POLLIN, 0};
        if (poll(&p, 1, 100) <= 0) continue;
        char buf[2048];
        ssize_t n = recv(u, buf, sizeof buf, 0);
        if (n == 11 && !memcmp(buf, "valid-frame", 11)) valid++; else if (n >= 0) other++;
        if (n == 10 && !memcmp(buf, "flood-over", 10)) break;
    }
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in la = {.sin_family = AF_INET};
    la.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof la;
    bind(l, (void *)&la, sizeof la); listen(l, 1); getsockname(l, (void *)&la, &len);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c, (void *)&la, sizeof la)) { perror("connect"); return 1; }
    int s = accept(l, 0, 0);
    char b[5] = {0};
    if (write(c, "alive", 5) != 5 || read(s, b, 5) != 5 || memcmp(b, "alive", 5)) return 2;
    printf("survived: %s valid datagrams\n", valid > 0 ? "received" : "no");
    return 0;
}
"""


def checksum(data: bytes) -> int:
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack(f"!{len(data) // 2}H", data))
    while s >> 16:
        s = (s & 0xFFFF) + (s >> 16)
    return ~s & 0xFFFF


def ipv4(proto: int, payload: bytes, frag: int = 0, ident: int = 1) -> bytes:
    hdr = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(payload), ident, frag, 64, proto, 0,
                      HOST_IP, GUEST_IP)  # fmt: skip
    hdr = hdr[:10] + struct.pack("!H", checksum(hdr)) + hdr[12:]
    return hdr + payload


def udp(payload: bytes, dport: int = 7) -> bytes:
    seg = struct.pack("!HHHH", 40000, dport, 8 + len(payload), 0) + payload
    pseudo = HOST_IP + GUEST_IP + struct.pack("!BBH", 0, 17, len(seg))
    c = checksum(pseudo + seg) or 0xFFFF
    return seg[:6] + struct.pack("!H", c) + seg[8:]


def ether(ethertype: int, payload: bytes, dst: bytes = GUEST_MAC) -> bytes:
    return dst + HOST_MAC + struct.pack("!H", ethertype) + payload


def valid_frame(payload: bytes = b"valid-frame") -> bytes:
    return ether(0x0800, ipv4(17, udp(payload)))


def hostile_frame(rng: random.Random) -> bytes:
    """One bad frame. Never empty: QEMU's dgram backend takes an empty datagram for the end of the
    connection and stops reading (a property of the test's plumbing, not of the guest)."""
    kind = rng.randrange(12)
    if kind == 0:  # random bytes, any length
        return rng.randbytes(rng.randrange(1, 1600))
    if kind == 1:  # truncated valid frame
        f = valid_frame()
        return f[: rng.randrange(1, len(f))]
    if kind == 2:  # bit flips in a valid frame
        f = bytearray(valid_frame())
        for _ in range(rng.randrange(1, 8)):
            f[rng.randrange(len(f))] ^= 1 << rng.randrange(8)
        return bytes(f)
    if kind == 3:  # IPv4 header claiming more than the frame holds, or options garbage
        body = bytearray(ipv4(17, udp(b"x" * 10)))
        body[0] = 0x40 | rng.randrange(0, 16)
        struct.pack_into("!H", body, 2, rng.randrange(0, 65536))
        return ether(0x0800, bytes(body))
    if kind == 4:  # fragments: overlapping, oversized, never completed
        off = rng.randrange(0, 8192)
        flags = 0x2000 if rng.random() < 0.7 else 0
        return ether(0x0800, ipv4(17, rng.randbytes(rng.randrange(8, 1400)), flags | off,
                                  rng.randrange(65536)))  # fmt: skip
    if kind == 5:  # TCP with random flags, options and data
        seg = struct.pack("!HHIIBBHHH", 40000, rng.choice([80, 8080, 7, 1]),
                          rng.getrandbits(32), rng.getrandbits(32), rng.randrange(256),
                          rng.randrange(256), rng.randrange(65536), 0, 0)  # fmt: skip
        return ether(0x0800, ipv4(6, seg + rng.randbytes(rng.randrange(0, 60))))
    if kind == 6:  # ICMP of any type
        return ether(0x0800, ipv4(1, bytes([rng.randrange(256), rng.randrange(256)])
                                  + rng.randbytes(rng.randrange(0, 200))))  # fmt: skip
    if kind == 7:  # ARP garbage
        return ether(0x0806, rng.randbytes(rng.randrange(0, 60)), b"\xff" * 6)
    if kind == 8:  # IPv6 with random next headers and lengths
        dst6 = bytes.fromhex("fe80000000000000") + rng.randbytes(8)
        hdr = struct.pack("!IHBB16s16s", 0x60000000, rng.randrange(65536), rng.randrange(256),
                          64, rng.randbytes(16), dst6)  # fmt: skip
        mcast = bytes.fromhex("333300000001")
        return ether(0x86DD, hdr + rng.randbytes(rng.randrange(0, 300)), mcast)
    if kind == 9:  # a valid datagram to a closed port (the guest answers ICMP unreachable)
        return ether(0x0800, ipv4(17, udp(b"closed", dport=9999)))
    if kind == 10:  # broadcast junk of an unknown ethertype
        return ether(rng.randrange(65536), rng.randbytes(rng.randrange(0, 1500)), b"\xff" * 6)
    return rng.randbytes(rng.randrange(1500, 9000))  # jumbo: more than the device's buffers


@pytest.fixture(scope="module")
def program(tmp_path_factory: pytest.TempPathFactory) -> Path:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    d = tmp_path_factory.mktemp("frames")
    (d / "frames.c").write_text(PROGRAM)
    subprocess.run(["gcc", "-O2", "-static", "-o", str(d / "frames"), str(d / "frames.c")],
                   check=True)  # fmt: skip
    return d / "frames"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_malformed_and_flooding_frames_do_not_stop_the_guest(
    program: Path, tmp_path: Path
) -> None:
    staging = Staging(tmp_path / "root")
    prog = elfinfo.check_program(program)
    staging.stage_file(prog.path, "/bin/frames")
    conf = bootconf.BootConfig.make("/bin/frames", ["frames", "60"], net=network.boot_keys("f"))
    staging.stage_bytes(conf.render(), bootconf.PATH)
    image = tmp_path / "root.img"
    build_image(staging.root, image)

    host = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    host.bind(("127.0.0.1", 0))
    host_port = host.getsockname()[1]
    qemu_port = free_udp_port()
    out, log = tmp_path / "stdout", tmp_path / "klog"
    cmd = [
        qemu.find_qemu(), "-M", "microvm,pcie=on", "-nodefaults", "-no-user-config",
        "-nographic", "-display", "none", "-no-reboot", "-smp", "1", "-m", "256M",
        *qemu.accel_args("tcg"), "-kernel", str(vm.find_kernel()),
        "-object", f"memory-backend-file,id=rootimg,mem-path={image},"
        f"size={image.stat().st_size},share=on,readonly=on",
        "-device", "ivshmem-plain,memdev=rootimg",
        "-netdev", f"dgram,id=n0,local.type=inet,local.host=127.0.0.1,local.port={qemu_port},"
        f"remote.type=inet,remote.host=127.0.0.1,remote.port={host_port}",
        "-device", f"virtio-net-pci,netdev=n0,mac={GUEST_MAC.hex(':')}",
        "-append", "lwjvm.quiet=1",
        "-device", "isa-debug-exit,iobase=0xf4,iosize=4",
        "-chardev", f"file,id=com1,path={out}",
        "-device", "isa-serial,chardev=com1,iobase=0x3f8,irq=4",
        "-chardev", "null,id=com2", "-device", "isa-serial,chardev=com2,iobase=0x2f8,irq=3",
        "-chardev", f"file,id=com3,path={log}",
        "-device", "isa-serial,chardev=com3,iobase=0x3e8,irq=5",
    ]  # fmt: skip
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    replies = []

    def drain() -> None:  # what the guest sends back (ARP, ICMP errors): read and counted
        host.settimeout(0.5)
        while proc.poll() is None:
            try:
                replies.append(len(host.recv(65536)))
            except OSError:
                pass

    drainer = threading.Thread(target=drain, daemon=True)
    drainer.start()
    try:
        deadline = time.monotonic() + 240
        while not (out.exists() and b"ready" in out.read_bytes()):
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline, "the guest program never started"
            time.sleep(0.2)
        rng = random.Random(1234)
        dest = ("127.0.0.1", qemu_port)
        for i in range(20_000):
            host.sendto(valid_frame() if i % 50 == 0 else hostile_frame(rng), dest)
            if i % 500 == 0:
                time.sleep(0.01)  # let QEMU's socket buffer drain a little
        for _ in range(50):  # and some that arrive once the flood is over
            host.sendto(valid_frame(), dest)
            time.sleep(0.01)
        while proc.poll() is None and time.monotonic() < deadline + 240:
            host.sendto(valid_frame(b"flood-over"), dest)  # the program stops at this one
            time.sleep(0.2)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        host.close()
    klog = log.read_bytes().decode(errors="replace")
    assert "lwjvm:panic" not in klog, klog
    assert "\x1elwjvm:exit code=0" in klog, klog
    assert out.read_bytes().decode().splitlines()[-1] == "survived: received valid datagrams"
