"""Interrupt modes of the virtio-pci transport by hand (docs/network.md, "Interrupts"): boots
bench/intx/echo.c with `lwjvm exec` on a machine, with QEMU's default MSI-X vectors or
$LWJVM_VIRTIO_VECTORS=N, and from the host makes 2,000 round trips of 64 bytes, then echoes 20 MiB
(sent and received at once). Prints the rates, the QEMU process's CPU time for each part, and with
INTx the kernel's ISR read count and mean time (lwjvm.stats=1).

    gcc -O2 -o /tmp/echo bench/intx/echo.c
    python3 bench/intx/run.py /tmp/echo microvm|q35 default|0|1
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import threading
import time

ROUND_TRIPS = 2000
ECHO_BYTES = 20 << 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def qemu_cpu_s(port: int) -> float:
    """User + system CPU seconds of the QEMU forwarding `port`."""
    pids = subprocess.run(["pgrep", "-f", f"hostfwd=tcp:127.0.0.1:{port}-"],
                          capture_output=True, text=True).stdout.split()  # fmt: skip
    fields = open(f"/proc/{pids[0]}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def exchange(c: socket.socket, n: int) -> None:
    c.sendall(b"y" * n)
    got = 0
    while got < n:
        chunk = c.recv(n - got)
        if not chunk:
            raise OSError("closed")
        got += len(chunk)


def main() -> None:
    echo, machine, vectors = sys.argv[1:4]
    port = free_port()
    env = dict(os.environ)
    if vectors != "default":
        env["LWJVM_VIRTIO_VECTORS"] = vectors
    p = subprocess.Popen(
        ["lwjvm", "--verbose", "exec", "--kernel-arg", "lwjvm.stats=1", "--accel", "tcg",
         "--timeout", "600", "--machine", machine, "-p", f"{port}:8080", echo],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    while True:  # QEMU accepts before the guest listens: retry until an echo comes back
        try:
            c = socket.create_connection(("127.0.0.1", port), timeout=60)
            c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            exchange(c, 64)
            break
        except OSError:
            time.sleep(0.3)
    cpu0 = qemu_cpu_s(port)
    t0 = time.monotonic()
    for _ in range(ROUND_TRIPS):
        exchange(c, 64)
    rate = ROUND_TRIPS / (time.monotonic() - t0)
    cpu1 = qemu_cpu_s(port)
    data = os.urandom(1 << 20) * (ECHO_BYTES >> 20)
    got = bytearray()
    done = threading.Event()

    def reader() -> None:
        while len(got) < len(data) and (chunk := c.recv(1 << 16)):
            got.extend(chunk)
        done.set()

    threading.Thread(target=reader, daemon=True).start()
    t0 = time.monotonic()
    c.sendall(data)
    done.wait()
    mbs = len(data) / (time.monotonic() - t0) / 1e6
    cpu2 = qemu_cpu_s(port)
    c.shutdown(socket.SHUT_WR)
    err = p.communicate()[1].decode()
    if bytes(got) != data or p.returncode != 0:
        sys.exit(f"the echo went wrong (exit {p.returncode}):\n{err[-2000:]}")
    isr = [line.split("lwjvm: ", 1)[1] for line in err.splitlines() if "ISR reads" in line]
    print(f"{machine} vectors={vectors}: {rate:.0f} round trips/s "
          f"({(cpu1 - cpu0) / ROUND_TRIPS * 1e6:.0f} us QEMU CPU each), echo {mbs:.1f} MB/s "
          f"each way ({cpu2 - cpu1:.2f} s QEMU CPU for 20 MiB){' ' + isr[0] if isr else ''}")


if __name__ == "__main__":
    main()
