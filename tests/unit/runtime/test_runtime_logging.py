"""What the runtime logs (INFO, under ``opto.runtime``): a sandboxed call that failed, a call
stopped by an in-process guard, code the static check refused."""

from __future__ import annotations

import logging

import pytest

from opto.runtime import (
    InProcessPolicy,
    StaticCheckPolicy,
    TimeLimitExceeded,
    TransferError,
    UnsafeCodeError,
)


@pytest.fixture
def runtime_log(caplog):
    caplog.set_level(logging.INFO, logger="opto.runtime")
    return lambda: [(r.name, r.getMessage()) for r in caplog.records]


def test_a_failed_sandboxed_call_is_logged(sandbox, runtime_log):
    function = sandbox.load("def f():\n    return lambda: 1\n", "f")
    with pytest.raises(TransferError):
        function()
    [(name, message)] = runtime_log()
    assert name == "opto.runtime.sandbox"
    assert message.startswith("sandboxed call of f failed: TransferError: The function returned")


def test_the_codes_own_exception_is_not_a_sandbox_failure(sandbox, runtime_log):
    function = sandbox.load("def f(x):\n    return 1 / x\n", "f")
    with pytest.raises(ZeroDivisionError):
        function(0)
    assert runtime_log() == []


def test_a_call_stopped_by_the_time_limit_is_logged(runtime_log):
    function = InProcessPolicy(timeout=0.1).load(
        "def spin():\n    while True:\n        pass\n", "spin"
    )
    with pytest.raises(TimeLimitExceeded):
        function()
    [(name, message)] = runtime_log()
    assert name == "opto.runtime.guards"
    assert message.startswith("guard stopped a call of <generated code")
    assert "wall-clock time limit of 0.1 s" in message


def test_code_refused_by_the_static_check_is_logged(runtime_log):
    with pytest.raises(UnsafeCodeError) as refused:
        StaticCheckPolicy().load("import os\ndef f():\n    return os.getcwd()\n", "f")
    count = len(refused.value.violations)
    expected = f"static check refused f: {count} violation(s)"
    assert runtime_log() == [("opto.runtime.static_check", expected)]


def test_successful_calls_log_nothing(runtime_log):
    assert InProcessPolicy(timeout=5).load("def f():\n    return 1\n", "f")() == 1
    assert runtime_log() == []
