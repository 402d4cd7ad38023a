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
def private_tmp(tmp_path, monkeypatch):
    """Sandbox working directories are created here, so the test can see them all."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    return tmp_path


@pytest.fixture(params=["cold", "warm"])
def sandbox(request, layers_missing_here, private_tmp) -> SubprocessPolicy:
    """Small limits; every test using it runs twice: each call in a child started for it
    (cold), and in a child of a warm pool started, confined and waiting before the call."""
    if layers_missing_here:
        pytest.skip(f"the default sandbox refuses to run on this system: {layers_missing_here}")
    warm = 1 if request.param == "warm" else 0
    policy = SubprocessPolicy(
        wall_time=2.0, cpu_time=1.0, memory="256MB", echo_output=False, warm_workers=warm
    )
    assert policy.warm_up()
    yield policy
    policy.close()


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
