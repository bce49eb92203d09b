"""No QEMU is left behind: when lwjvm is killed with -9, times out or is interrupted (SIGINT,
SIGTERM, SIGHUP), the QEMU it started goes too (PR_SET_PDEATHSIG in lwjvm/vm.py for the kill, its
own clean-up otherwise), including during `lwjvm build`'s training runs in the guest and the KVM
probe. Deploy: an interrupted `lwjvm deploy` leaves its VM to its supervisor, listed and stoppable
(here); kill -9 of the supervisor, a stop that runs out of time and rm -f end its QEMU
(tests/python/test_deploy.py)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from lwjvm import accel, guestrun, vm

pytestmark = pytest.mark.skipif(guestrun.unavailable() is not None, reason="no kernel or QEMU")

SLEEPER = "#include <unistd.h>\nint main(void) { sleep(600); return 0; }\n"


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        ppid = int(stat[stat.rindex(")") + 2 :].split()[1])
        if ppid == pid and comm.startswith("qemu"):
            out.append(int(entry.name))
    return out


def _wait_for_qemu(proc: subprocess.Popen[bytes], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        found = _children(proc.pid)
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError("lwjvm started no QEMU")


def _gone(pid: int, seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":
            return True
        time.sleep(0.2)
    return False


@pytest.fixture(scope="module")
def sleeper(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("sleeper")
    (d / "s.c").write_text(SLEEPER)
    subprocess.run(["gcc", "-static", "-O2", str(d / "s.c"), "-o", str(d / "sleeper")], check=True)
    return d / "sleeper"


def _exec(sleeper: Path, *extra: str) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "lwjvm", "exec", "--accel", "tcg", *extra, str(sleeper)]
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def test_kill_9_of_lwjvm_exec_takes_its_qemu(sleeper: Path) -> None:
    proc = _exec(sleeper)
    qemus = _wait_for_qemu(proc, 60)
    proc.kill()
    proc.wait()
    assert all(_gone(q) for q in qemus)


def test_timeout_and_interrupt_leave_no_qemu(sleeper: Path) -> None:
    proc = _exec(sleeper, "--timeout", "5")
    qemus = _wait_for_qemu(proc, 60)
    assert proc.wait(timeout=120) == 124
    assert all(_gone(q) for q in qemus)

    proc = _exec(sleeper)
    qemus = _wait_for_qemu(proc, 60)
    proc.send_signal(signal.SIGINT)  # passed to the program; the second stops the VM
    time.sleep(1)
    proc.send_signal(signal.SIGINT)
    proc.wait(timeout=120)
    assert all(_gone(q) for q in qemus)


STOP_SIGNALS = [signal.SIGINT, signal.SIGTERM, signal.SIGHUP]


@pytest.mark.parametrize("sig", STOP_SIGNALS, ids=lambda s: s.name)
def test_one_signal_to_lwjvm_exec_ends_the_program_and_its_qemu(
    sleeper: Path, sig: signal.Signals
) -> None:
    """The first signal goes to the program (which dies of it, as on the host), then the VM ends."""
    proc = _exec(sleeper)
    qemus = _wait_for_qemu(proc, 60)
    time.sleep(1)  # the program is running (its signal handlers are the default ones)
    proc.send_signal(sig)
    assert proc.wait(timeout=120) == 128 + sig
    assert all(_gone(q) for q in qemus)


def test_the_kvm_probe_leaves_no_qemu(monkeypatch: pytest.MonkeyPatch) -> None:
    """The probe boots the kernel under KVM for at most PROBE_TIMEOUT_S: whether KVM runs it,
    fails or hangs (kvm-pvm), the QEMU it started is gone when the probe returns."""
    started: list[int] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: Any, **kwargs: Any) -> Any:
        p = real_popen(*args, **kwargs)
        started.append(p.pid)
        return p

    monkeypatch.setattr(vm.subprocess, "Popen", recording_popen)
    monkeypatch.setattr(accel, "PROBE_TIMEOUT_S", 0.5)
    accel.probe_kvm(vm.find_kernel())
    assert len(started) == 1
    assert _gone(started[0], 1.0)  # reaped already: run_vm waits for QEMU


def test_kill_9_during_the_kvm_probe_takes_its_qemu() -> None:
    code = (
        "from lwjvm import accel, vm\n"
        "accel.PROBE_TIMEOUT_S = 600.0\n"
        "accel.probe_kvm(vm.find_kernel())\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE)
    try:
        qemus = _wait_for_qemu(proc, 60)
    except AssertionError:
        if proc.wait() == 0:
            pytest.skip("QEMU under KVM ended at once here: nothing left to kill")
        raise
    proc.kill()
    proc.wait()
    assert all(_gone(q) for q in qemus)


SERVER = {
    "Serve.java": """
public class Serve {
    public static void main(String[] args) throws Exception {
        System.out.println("serving");
        Thread.sleep(3_600_000);
    }
}
""",
}


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGINT, signal.SIGTERM],
                         ids=lambda s: s.name)  # fmt: skip
def test_lwjvm_build_killed_or_interrupted_during_a_training_run_takes_its_qemu(
    java_program: Any, java_jdk: Any, tmp_path: Path, sig: signal.Signals
) -> None:
    jar = java_program("serve", SERVER, main="Serve")
    src = tmp_path / "src"
    src.mkdir()
    (src / "serve.jar").write_bytes(jar.read_bytes())
    (src / "app.yaml").write_text(
        f"name: serve\napp:\n  jar: serve.jar\njvm:\n  home: {java_jdk.home}\n"
        "  cds: {timeout: 600s}\n"
    )
    scratch = tmp_path / "tmp"  # TMPDIR: what a SIGKILL leaves behind stays in tmp_path
    scratch.mkdir()
    env = {**os.environ, "XDG_CACHE_HOME": str(tmp_path / "cache"), "TMPDIR": str(scratch)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "lwjvm", "build", "-q", "-o", str(tmp_path / "out"), "app.yaml"],
        cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    qemus = _wait_for_qemu(proc, 600)  # the module training run boots first
    proc.send_signal(sig)
    code = proc.wait(timeout=120)
    assert all(_gone(q) for q in qemus)
    if sig != signal.SIGKILL:  # Ctrl-C or kill of a build: stopped, with its exit code, no
        err = proc.stderr.read().decode() if proc.stderr else ""  # traceback, no JVM crash
        assert code == 128 + sig and "Traceback" not in err and "hs_err" not in err, err
        assert not list(scratch.iterdir())  # and its temporary directories are gone


def test_an_interrupted_deploy_leaves_its_vm_to_ps_and_stop(
    java_program: Any, java_jdk: Any, tmp_path: Path
) -> None:
    """Ctrl-C of `lwjvm deploy` while it waits for health ends the wait, not the deployment: the
    VM runs on under its supervisor, `lwjvm ps` lists it with its QEMU, and `lwjvm stop` ends that
    QEMU (as kill -9 of the supervisor does: tests/python/test_deploy.py). No QEMU that nothing
    accounts for."""
    import json

    jar = java_program("serve", SERVER, main="Serve")
    src = tmp_path / "src"
    src.mkdir()
    (src / "serve.jar").write_bytes(jar.read_bytes())
    (src / "app.yaml").write_text(
        f"name: serve-int\napp:\n  jar: serve.jar\njvm:\n  home: {java_jdk.home}\n"
        "  cds: false\nvm: {memory: 192M}\nhealth: {start_period: 3600s, timeout: 3600s}\n"
    )
    env = {**os.environ, "LWJVM_STATE_DIR": str(tmp_path / "state")}

    def lw(*args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "lwjvm", *args]
        return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=600)

    def qemu_pid() -> int | None:
        rows = json.loads(lw("ps", "-a", "--json").stdout or "[]")
        return rows[0].get("qemu_pid") if rows else None

    proc = subprocess.Popen(
        [sys.executable, "-m", "lwjvm", "deploy", "-q", "--accel", "tcg", "-o",
         str(tmp_path / "img"), "app.yaml"],
        cwd=src, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 600
        while (pid := qemu_pid()) is None:
            assert proc.poll() is None and time.monotonic() < deadline, "no VM started"
            time.sleep(1)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=60) == 130
        assert not _gone(pid, 2.0)  # still the supervisor's, and listed
        assert json.loads(lw("ps", "--json").stdout)[0]["name"] == "serve-int"
        assert lw("stop", "-t", "5", "serve-int").returncode == 0
        assert _gone(pid)
    finally:
        proc.kill()
        lw("rm", "-f", "serve-int")
