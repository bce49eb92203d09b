"""lwjvm installs as a package: `pip install .` into a fresh venv outside the repo, then `lwjvm run`
and `lwjvm deploy` of samples/hello from a directory outside the repo, with the schema, the JVM
port profile and the kernel taken from the installed package's data.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lwjvm.testing import GUEST_TIMEOUT_S, guest_unavailable

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.skipif(guest_unavailable() is not None, reason="no guest")
def test_the_wheel_installs_and_runs_and_deploys_samples_hello(tmp_path: Path) -> None:
    sample = ROOT / "samples" / "hello"
    if not (sample / "target" / "hello.jar").is_file():
        subprocess.run([str(sample / "build.sh")], check=True, capture_output=True)
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    pip = subprocess.run(
        [str(venv / "bin" / "pip"), "install", "-q", "--disable-pip-version-check", str(ROOT)],
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert pip.returncode == 0, pip.stderr
    site = next((venv / "lib").glob("python3*/site-packages"))
    data = site / "lwjvm" / "data"
    for name in ("lwjvm-manifest.schema.json", "jvm-port-profile.json", "kernel.elf"):
        assert (data / name).is_file() and not (data / name).is_symlink(), name

    app = tmp_path / "app"
    (app / "target").mkdir(parents=True)
    shutil.copy(sample / "app.yaml", app / "app.yaml")
    shutil.copy(sample / "target" / "hello.jar", app / "target" / "hello.jar")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("LWJVM_", "PYTHON"))}
    env["LWJVM_STATE_DIR"] = str(tmp_path / "state")
    env["PATH"] = f"{venv / 'bin'}:{env.get('PATH', '')}"
    lwjvm = str(venv / "bin" / "lwjvm")

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [lwjvm, *args], cwd=app, env=env, capture_output=True, text=True,
            timeout=GUEST_TIMEOUT_S,
        )  # fmt: skip

    where = subprocess.run(
        [str(venv / "bin" / "python"), "-c", "import lwjvm; print(lwjvm.__file__)"],
        cwd=app, env=env, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert where.startswith(str(site)), where

    proc = run("run", "-q", "--accel", "tcg", "app.yaml")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("Hello, lwjvm user, from Java on lwjvm!\n")
    assert (app / "build" / "hello" / "root.img").is_file()

    proc = run("deploy", "-q", "--accel", "tcg", "--name", "wheel-hello", "app.yaml")
    assert proc.returncode == 0, proc.stderr
    proc = run("stop", "wheel-hello")
    assert proc.returncode == 0, proc.stderr
    assert "Hello, lwjvm user" in run("logs", "wheel-hello").stdout
    assert run("rm", "wheel-hello").returncode == 0
