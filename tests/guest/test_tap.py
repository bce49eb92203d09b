"""vm.network: tap end to end: a tap device made on the host with a host address, samples/http
booted on it with a static address (boot.conf's net.* keys), and the host reaching the guest's
HTTP port at that address, with no forward; the device is removed afterwards. Skipped where the
host has no /dev/net/tun or cannot make tap devices (no CAP_NET_ADMIN)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lwjvm import bootconf, inspect
from lwjvm.testing import guest_unavailable, lwjvm_command

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "http"
BOOT_TIMEOUT_S = 600.0


def _ip(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["ip", *args], capture_output=True, text=True)


@pytest.fixture
def tap() -> Iterator[tuple[str, str, str]]:
    """(device, host address, guest address) of a fresh tap device on a /30 of its own."""
    if not Path("/dev/net/tun").exists():
        pytest.skip("no /dev/net/tun: tap networking needs the tun driver")
    if shutil.which("ip") is None:
        pytest.skip("no ip command (iproute2)")
    n = os.getpid() % 16000
    device = f"lwjt{n}"
    # 10.213.0.0/16 cut into /30s by the pid: concurrent test runs get different subnets.
    base = (n % 16000) * 4
    host, guest = f"10.213.{base // 256}.{base % 256 + 1}", f"10.213.{base // 256}.{base % 256 + 2}"
    made = _ip("tuntap", "add", "dev", device, "mode", "tap")
    if made.returncode != 0:
        pytest.skip(f"cannot make a tap device: {made.stderr.strip()}")
    try:
        for args in (("addr", "add", f"{host}/30", "dev", device), ("link", "set", device, "up")):
            r = _ip(*args)
            assert r.returncode == 0, r.stderr
        yield device, host, guest
    finally:
        _ip("link", "del", device)
    assert not Path("/sys/class/net", device).exists()


def test_tap_network_reaches_the_guest_at_its_own_address(
    tap: tuple[str, str, str], tmp_path: Path
) -> None:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    device, host, guest = tap
    subprocess.run([str(SAMPLE / "build.sh")], check=True, capture_output=True)
    manifest = tmp_path / "app.yaml"
    manifest.write_text(json.dumps({
        "name": "http-tap",
        "app": {"jar": str(SAMPLE / "target" / "http.jar"), "args": ["8080"]},
        "vm": {"memory": "256M", "network": "tap",
               "tap": {"device": device, "address": f"{guest}/30", "gateway": host}},
    }))  # fmt: skip
    out = tmp_path / "image"
    proc = subprocess.Popen(
        [*lwjvm_command(), "run", "-q", "--accel", "tcg", "-o", str(out),
         "--allow-outside", str(SAMPLE / "target" / "http.jar"), str(manifest)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + BOOT_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"lwjvm run exited {proc.returncode}: {proc.stderr.read().decode()}")
            assert time.monotonic() < deadline, "samples/http never answered on the tap address"
            try:
                r = requests.get(f"http://{guest}:8080/", timeout=5)
                break
            except requests.RequestException:
                time.sleep(0.5)
        assert r.status_code == 200 and r.text.startswith("Hello from lwjvm: Java ")
        body = os.urandom(200_000)
        echo = requests.post(f"http://{guest}:8080/echo", data=body, timeout=60)
        assert echo.content == body
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 128 + signal.SIGTERM, stderr.decode()
        assert b"http: stopped after" in stdout
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    conf = bootconf.parse(inspect.read_file(out / "root.img", bootconf.PATH))
    assert conf.net[b"net.ipv4"] == f"{guest}/30".encode()
    assert conf.net[b"net.gateway"] == host.encode()
    assert b"net.dns" not in conf.net
