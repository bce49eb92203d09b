"""Warm snapshots (vm.snapshot, lwjvm/snapshot.py, kernel/core/snapshot.c) end to end, on a copy
of samples/http: `lwjvm build` saves the VM after its warm-up requests; `lwjvm run` and `lwjvm
deploy` restore it rather than boot (the app's request count goes on from the warm-up's, which a
cold boot would start from zero), the guest's wall clock is the host's again (the Date header
of a response), two deployed VMs restored from one snapshot at once do not disturb each other
(the RAM file is mapped copy on write), and a snapshot QEMU refuses falls back to a cold boot."""

from __future__ import annotations

import email.utils
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from lwjvm.descriptor import ImageDescriptor
from lwjvm.testing import guest_unavailable, lwjvm_command

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "http"
TIMEOUT_S = 600.0
WARM_UP = 40  # the snapshot's warm-up: / and /health, 20 times each (snapshot.WARM_ROUNDS)


@dataclass
class Built:
    manifest: Path
    image: Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_copy(tmp_path_factory: pytest.TempPathFactory, vm_lines: str) -> Built:
    """samples/http copied with `vm_lines` added under vm:, built."""
    reason = guest_unavailable()
    if reason:
        pytest.skip(reason)
    subprocess.run([str(SAMPLE / "build.sh")], check=True, capture_output=True)
    d = tmp_path_factory.mktemp("snapshot-app")
    (d / "target").mkdir()
    shutil.copyfile(SAMPLE / "target" / "http.jar", d / "target" / "http.jar")
    text = (SAMPLE / "app.yaml").read_text()
    assert "\nvm:\n" in text
    (d / "app.yaml").write_text(text.replace("\nvm:\n", "\nvm:\n" + vm_lines))
    image = d / "image"
    r = subprocess.run(
        [*lwjvm_command(), "build", "-o", str(image), str(d / "app.yaml")],
        capture_output=True, text=True, timeout=TIMEOUT_S,
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    assert "warm snapshot: / 200 x20, /health 200 x20" in r.stderr
    return Built(d / "app.yaml", image)


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build_copy(tmp_path_factory, "  snapshot: true\n")


def wait_healthy(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            pytest.fail(f"lwjvm run exited {proc.returncode}: {proc.stderr.read().decode()}")
        try:
            if requests.get(f"http://127.0.0.1:{port}/health", timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    proc.kill()
    pytest.fail("the app never answered /health")


@pytest.fixture
def run_image(built: Built) -> Iterator[list[subprocess.Popen[bytes]]]:
    procs: list[subprocess.Popen[bytes]] = []
    yield procs
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()


def start(built: Built, image: Path, procs: list[subprocess.Popen[bytes]]) -> int:
    port = free_port()
    proc = subprocess.Popen(
        [*lwjvm_command(), "run", "-o", str(image), "-p", f"{port}:8080", str(built.manifest)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    procs.append(proc)
    wait_healthy(port, proc)
    return port


def stop(proc: subprocess.Popen[bytes]) -> tuple[str, str]:
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 128 + signal.SIGTERM, err.decode()
    return out.decode(), err.decode()


def served(out: str) -> int:
    """The request count the app's shutdown hook printed."""
    line = next(x for x in out.splitlines() if x.startswith("http: stopped after"))
    return int(line.split()[3])


def test_the_build_records_the_snapshot(built: Built) -> None:
    desc = ImageDescriptor.read(built.image)
    snap = desc.snapshot
    assert snap is not None
    assert snap.served == "/ 200 x20, /health 200 x20"
    assert snap.memory_mib == desc.vm.memory_mib and snap.cpus == desc.vm.cpus
    assert (built.image / snap.ram).stat().st_size == desc.vm.memory_mib << 20
    assert 0 < snap.ram_bytes < desc.vm.memory  # only what the guest touched is allocated
    assert (built.image / snap.state).stat().st_size == snap.state_bytes > 0
    for f in (snap.ram, snap.state):  # the app's memory: its owner's alone
        assert (built.image / f).stat().st_mode & 0o777 == 0o600


def test_run_restores_the_warmed_vm_with_the_host_clock(
    built: Built, run_image: list[subprocess.Popen[bytes]]
) -> None:
    taken = ImageDescriptor.read(built.image).snapshot.taken  # type: ignore[union-attr]
    time.sleep(max(0.0, taken + 6 - time.time()))  # a clock left as saved would be 6 s behind
    port = start(built, built.image, run_image)
    r = requests.get(f"http://127.0.0.1:{port}/", timeout=30)
    now = time.time()
    assert r.status_code == 200 and r.text.startswith("Hello from lwjvm: Java ")
    date = email.utils.parsedate_to_datetime(r.headers["Date"]).timestamp()
    assert abs(date - now) < 3, f"guest clock {r.headers['Date']} vs host {time.ctime(now)}"
    out, err = stop(run_image[0])
    assert "restoring the warm snapshot (/ 200 x20, /health 200 x20)" in err
    # The restored app counts the warm-up's requests, then its /health and / here.
    assert served(out) >= WARM_UP + 2, out
    assert "http: listening" not in out  # it was listening before the snapshot


def test_two_deployed_vms_restore_one_snapshot_side_by_side(built: Built, tmp_path: Path) -> None:
    """Two deploys of the image restore the same snapshot at once (each maps the RAM file copy on
    write): each answers its own requests and counts only its own."""
    state = tmp_path / "state"
    base = [*lwjvm_command(), "--state-dir", str(state)]
    names, ports = ["warm-a", "warm-b"], [free_port(), free_port()]
    try:
        for name, port in zip(names, ports, strict=True):
            r = subprocess.run(
                [*base, "deploy", str(built.manifest), "--name", name, "-p", f"{port}:8080"],
                capture_output=True, text=True, timeout=TIMEOUT_S,
            )  # fmt: skip
            assert r.returncode == 0, r.stdout + r.stderr
        for i in range(10):
            for n, port in enumerate(ports):
                body = f"vm {n} request {i}".encode()
                r2 = requests.post(f"http://127.0.0.1:{port}/echo", data=body, timeout=30)
                assert r2.content == body
        for name in names:
            inspect = subprocess.run(
                [*base, "inspect", name], capture_output=True, text=True, timeout=60
            ).stdout
            assert "warm start" in inspect and "snapshot=/ 200 x20" in inspect, inspect
            assert "snapshot:   warm, taken " in inspect, inspect
            subprocess.run([*base, "stop", name], capture_output=True, timeout=120, check=True)
            logs = subprocess.run(
                [*base, "logs", name], capture_output=True, text=True, timeout=60
            ).stdout
            # The warm-up's requests, the deploy's health checks and its own 10 echoes.
            assert WARM_UP + 11 <= served(logs) < WARM_UP + 40, logs
    finally:
        for name in names:
            subprocess.run([*base, "rm", "-f", name], capture_output=True, timeout=120)


def test_a_snapshot_qemu_refuses_falls_back_to_a_cold_boot(
    built: Built, tmp_path: Path, run_image: list[subprocess.Popen[bytes]]
) -> None:
    image = tmp_path / "image"
    image.mkdir()
    for f in built.image.iterdir():  # the big files linked, not copied
        if f.name in ("root.img", "snapshot.ram"):
            (image / f.name).hardlink_to(f)
        elif f.is_file():
            shutil.copy2(f, image / f.name)
    (image / "snapshot.state").write_bytes(b"not a QEMU migration stream\n")
    port = start(built, image, run_image)
    assert requests.get(f"http://127.0.0.1:{port}/", timeout=30).status_code == 200
    out, err = stop(run_image[0])
    assert "warm snapshot not restored (QEMU" in err and "booting cold" in err, err
    assert "http: listening on port 8080" in out  # a boot of its own
    assert 2 <= served(out) < WARM_UP


def test_two_cpus_are_frozen_and_restored(
    tmp_path_factory: pytest.TempPathFactory, run_image: list[subprocess.Popen[bytes]]
) -> None:
    """With vm.cpus: 2 the freeze holds the second CPU too (the freeze IPI), and the restored VM
    runs on both."""
    two = build_copy(tmp_path_factory, "  snapshot: true\n  cpus: 2\n")
    snap = ImageDescriptor.read(two.image).snapshot
    assert snap is not None and snap.cpus == 2
    port = start(two, two.image, run_image)
    for i in range(20):
        body = f"request {i}".encode()
        assert requests.post(f"http://127.0.0.1:{port}/echo", data=body, timeout=30).content == body
    out, err = stop(run_image[0])
    assert "restoring the warm snapshot" in err, err
    assert served(out) >= WARM_UP + 21, out
