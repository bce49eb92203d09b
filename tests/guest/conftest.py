"""Fixtures for the guest program tests; the machinery lives in guest_harness.py."""

from __future__ import annotations

from pathlib import Path

import pytest
from guest_harness import GuestRunner, build_corpus, probe_guest


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The directory holding the built C corpus."""
    return build_corpus()


@pytest.fixture(scope="session")
def guest() -> GuestRunner:
    """The guest runner; skips the test when `lwjvm exec` or the kernel is not there yet."""
    runner = probe_guest()
    if isinstance(runner, str):
        pytest.skip(runner)
    return runner
