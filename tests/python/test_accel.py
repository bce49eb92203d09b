"""Choosing KVM or TCG (lwjvm/accel.py) without depending on what this host offers."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lwjvm import accel, miniguest, qemu
from lwjvm.errors import LwjvmError

COM3 = qemu.UARTS[2][0]


@pytest.fixture
def kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    k = tmp_path / "kernel.elf"
    k.write_bytes(b"kernel v1")
    return k


def no_probe(_kernel: Path) -> bool:
    raise AssertionError("the probe must not run")


def test_kvm_pvm_means_tcg_with_one_line_notice(
    kernel: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    (tmp_path / "kvm_pvm").mkdir()
    monkeypatch.setattr(accel, "KVM_PVM_MODULE", tmp_path / "kvm_pvm")
    monkeypatch.setattr(accel, "probe_kvm", no_probe)
    assert accel.choose(kernel) == "tcg"
    assert capsys.readouterr().err == "lwjvm: KVM unusable here (kvm-pvm); using TCG\n"


def test_no_dev_kvm_means_tcg(
    kernel: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(accel, "KVM_PVM_MODULE", tmp_path / "absent")
    monkeypatch.setattr(accel, "KVM_DEVICE", tmp_path / "kvm")
    monkeypatch.setattr(accel, "probe_kvm", no_probe)
    assert accel.choose(kernel) == "tcg"
    assert "(no /dev/kvm)" in capsys.readouterr().err


def test_forced_accelerator_wins(kernel: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(accel, "probe_kvm", no_probe)
    assert accel.choose(kernel, "tcg") == "tcg"
    with pytest.raises(LwjvmError, match="expected kvm or tcg"):
        accel.choose(kernel, "hvf")


def test_probe_result_is_cached_per_kernel(
    kernel: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(accel, "kvm_usable", lambda: None)
    calls: list[Path] = []

    def probe(k: Path) -> bool:
        calls.append(k)
        return False

    monkeypatch.setattr(accel, "probe_kvm", probe)
    assert accel.choose(kernel) == "tcg"
    assert accel.choose(kernel) == "tcg"
    assert len(calls) == 1
    assert "(the probe failed)" in capsys.readouterr().err
    kernel.write_bytes(b"kernel v2")  # a new build is probed again
    monkeypatch.setattr(accel, "probe_kvm", lambda k: True)
    assert accel.choose(kernel) == "kvm"
    assert (tmp_path / "state" / "lwjvm" / "kvm-probe.json").is_file()


@pytest.mark.skipif(not os.access("/dev/kvm", os.R_OK | os.W_OK), reason="no usable /dev/kvm")
def test_probe_passes_only_a_guest_that_exits_0_under_kvm(tmp_path: Path) -> None:
    """The probe boots its guest under KVM; here a generated guest stands in for the kernel's
    `lwjvm.probe=1` run (our kernel's own probe is what fails under kvm-pvm)."""
    exit_0 = miniguest.write(tmp_path / "ok.elf", [(COM3, b"\x1elwjvm:exit code=0\n")])
    exit_1 = miniguest.write(tmp_path / "bad.elf", [(COM3, b"\x1elwjvm:exit code=1\n")])
    silent = miniguest.write(tmp_path / "silent.elf")
    assert accel.probe_kvm(exit_0) is True
    assert accel.probe_kvm(exit_1) is False
    assert accel.probe_kvm(silent) is False
