"""Fixtures for the build-tool plugin tests: the lwjvm command they call and its environment.

The lwjvm cache is the one tests/python uses (`$basetemp/xdg-cache`), so a runtime linked by one
test is reused by the others of the same run.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from lwjvm.testing import guest_unavailable

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def lwjvm_executable() -> Path:
    """The lwjvm script of the Python environment the tests run in (.venv/bin/lwjvm)."""
    exe = Path(sys.executable).parent / "lwjvm"
    if not exe.is_file():
        pytest.fail(f"{exe} missing: run make setup")
    return exe


@pytest.fixture(scope="session")
def plugin_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """The environment for Maven and Gradle runs: the shared lwjvm cache, the run's own lwjvm
    state (deployed VMs), no colour codes."""
    base = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        base = base.parent
    cache = base / "xdg-cache"
    (cache / "lwjvm").mkdir(parents=True, exist_ok=True)
    state = base / "xdg-state"
    state.mkdir(exist_ok=True)
    return dict(
        os.environ,
        XDG_CACHE_HOME=str(cache),
        XDG_STATE_HOME=str(state),
        MAVEN_OPTS="-Dstyle.color=never",
    )


@pytest.fixture(scope="session")
def guest() -> None:
    """Skips when guest runs are impossible here (no kernel, no QEMU)."""
    why = guest_unavailable()
    if why:
        pytest.skip(why)
