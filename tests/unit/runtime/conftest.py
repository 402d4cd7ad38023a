"""Fixtures for the runtime tests: small limits so hostile code is stopped quickly."""

import sys
import tempfile

import psutil
import pytest

from opto.runtime import SubprocessPolicy
from opto.runtime._process import STARTER


@pytest.fixture(scope="session")
def layers_missing_here() -> list[str]:
    """The layers this system cannot apply fully (the default sandbox refuses to run then)."""
    states = SubprocessPolicy().probe()
    return [f"{name}: {state}" for name, state in states.items() if not state.startswith("on")]


@pytest.fixture
def sandbox(layers_missing_here) -> SubprocessPolicy:
    if layers_missing_here:
        pytest.skip(f"the default sandbox refuses to run on this system: {layers_missing_here}")
    return SubprocessPolicy(wall_time=2.0, cpu_time=1.0, memory="256MB", echo_output=False)


@pytest.fixture
def private_tmp(tmp_path, monkeypatch):
    """Sandbox working directories are created here, so the test can see them all."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


def sandbox_processes() -> list[psutil.Process]:
    """Every live process started by this interpreter's sandbox (or forked from one); other
    checkouts running their own tests on the same machine use other interpreters."""
    found = []
    for process in psutil.process_iter(["cmdline"]):
        cmdline = process.info["cmdline"] or []
        if STARTER in cmdline and cmdline[0] == sys.executable:
            found.append(process)
    return found


@pytest.fixture
def no_leftover_processes():
    yield
    survivors = [p for p in sandbox_processes() if p.status() != psutil.STATUS_ZOMBIE]
    assert survivors == []
