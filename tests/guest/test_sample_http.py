"""samples/http end to end: `lwjvm run -p PORT:8080 samples/http/app.yaml` boots the JDK
HttpServer service in the guest, real requests from the host (the `requests` library) reach it
through QEMU's user network and the hostfwd on 127.0.0.1, and SIGTERM stops it gracefully (its
shutdown hook prints how many requests it served; lwjvm exits 143 as Linux would)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from lwjvm.descriptor import ImageDescriptor
from lwjvm.testing import guest_unavailable, lwjvm_command

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "http"
BOOT_TIMEOUT_S = 600.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def http_app(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[tuple[int, subprocess.Popen[bytes]]]:
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    subprocess.run([str(SAMPLE / "build.sh")], check=True, capture_output=True)
    out = tmp_path_factory.mktemp("sample-http")
    port = free_port()
    proc = subprocess.Popen(
        [*lwjvm_command(), "run", "-o", str(out / "image"), "-p", f"{port}:8080",
         str(SAMPLE / "app.yaml")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.out_dir = out / "image"  # type: ignore[attr-defined]
    deadline = time.monotonic() + BOOT_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"lwjvm run exited {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                break
        except requests.RequestException:
            time.sleep(0.5)
    else:
        proc.kill()
        pytest.fail("samples/http never answered /health")
    yield port, proc
    if proc.poll() is None:
        proc.kill()
        proc.wait()


def check_root(port: int) -> None:
    r = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
    assert r.status_code == 200
    assert r.headers["Content-Type"].startswith("text/plain")
    assert r.text.startswith("Hello from lwjvm: Java ")
    assert "6.1.0-lwjvm" in r.text  # the guest kernel's uname, not the host's
    assert requests.get(f"http://127.0.0.1:{port}/nope", timeout=30).status_code == 404


def check_echo(port: int) -> None:
    body = os.urandom(300_000)
    r = requests.post(
        f"http://127.0.0.1:{port}/echo",
        data=body,
        headers={"Content-Type": "application/x-test"},
        timeout=60,
    )
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "application/x-test"
    assert r.content == body
    assert requests.get(f"http://127.0.0.1:{port}/echo", timeout=30).status_code == 405


def check_many(port: int) -> None:
    with requests.Session() as s:
        for i in range(30):
            r = s.post(f"http://127.0.0.1:{port}/echo", data=f"request {i}", timeout=30)
            assert r.text == f"request {i}"
    for _ in range(10):
        assert requests.get(f"http://127.0.0.1:{port}/health", timeout=30).text == "ok\n"


def test_sample_http_serves_requests_from_the_host_and_stops_on_sigterm(
    http_app: tuple[int, subprocess.Popen[bytes]],
) -> None:
    port, proc = http_app
    check_root(port)
    check_echo(port)
    check_many(port)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    text = out.decode()
    assert "http: listening on port 8080" in text
    assert "http: stopped after" in text


def test_sample_http_training_runs_were_sent_its_requests(
    http_app: tuple[int, subprocess.Popen[bytes]],
) -> None:
    """jvm.cds.requests: the class-data training run (and the module one) GET / and /health in
    the guest and stop once answered, so what serving a request loads is archived and linked."""
    _, proc = http_app
    desc = ImageDescriptor.read(proc.out_dir)  # type: ignore[attr-defined]
    assert desc.cds is not None and desc.cds.training == (
        "stopped after serving 6 requests (/ 200 x3, /health 200 x3)"
    )
    reasons = desc.runtime.module_reasons
    assert "stopped after serving 6 requests" in reasons["java.logging"]
